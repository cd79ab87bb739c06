package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mcp"
)

// FuzzMCPResponse feeds the MCP proxy's response rewriter arbitrary upstream answers,
// JSON or event stream, written in two chunks: it never panics or blocks, and whatever
// it sends the caller as JSON lists no tool off the allow-list ("ech*") in a response
// to the pending tools/list (id 1).
func FuzzMCPResponse(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"}]}}`), 10, false, false)
	f.Add([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\n\n"), 20, true, false)
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]}}]`), 3, false, true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"sec\u0072et"}]}}`), 0, false, false)
	f.Add([]byte("data: not json\r\n\r\n"), 5, true, true)
	allow, err := mcp.ParseAllowList("ech*")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, split int, sse, batch bool) {
		ids := mcp.IDSet{}
		ids.Add(json.RawMessage("1"))
		var own []json.RawMessage
		if batch {
			own = []json.RawMessage{mcp.ErrorResponse(json.RawMessage("9"), mcp.CodeToolNotAllowed, "Tool not allowed by connection c", nil)}
		}
		rec := httptest.NewRecorder()
		r := &mcpResponse{w: rec, policy: mcp.Policy{Allow: allow}, lists: ids, own: own, batch: batch}
		ct := "application/json"
		if sse {
			ct = "text/event-stream"
		}
		r.Header().Set("Content-Type", ct)
		r.WriteHeader(http.StatusOK)
		split = min(max(split, 0), len(body))
		_, _ = r.Write(body[:split])
		_, _ = r.Write(body[split:])
		if err := r.finish(nil); err != nil {
			t.Fatalf("finish: %v", err)
		}
		if sse {
			return // mcp's own fuzz targets check the SSE filter's output event by event
		}
		out := rec.Body.Bytes()
		var msgs []struct {
			ID     json.RawMessage `json:"id"`
			Result struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
			} `json:"result"`
		}
		trimmed := strings.TrimSpace(string(out))
		if strings.HasPrefix(trimmed, "[") {
			if json.Unmarshal(out, &msgs) != nil {
				return
			}
		} else {
			msgs = msgs[:0:0]
			var one struct {
				ID     json.RawMessage `json:"id"`
				Result struct {
					Tools []struct {
						Name string `json:"name"`
					} `json:"tools"`
				} `json:"result"`
			}
			if json.Unmarshal(out, &one) != nil {
				return
			}
			msgs = append(msgs, one)
		}
		for _, m := range msgs {
			if string(m.ID) != "1" {
				continue
			}
			for _, tool := range m.Result.Tools {
				if !allow.Allowed(tool.Name) {
					t.Fatalf("tool %q off the allow-list reached the caller: %s", tool.Name, out)
				}
			}
		}
	})
}
