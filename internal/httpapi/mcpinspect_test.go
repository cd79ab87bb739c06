package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mcp"
)

// FuzzMCPResponse feeds the MCP proxy's response rewriter arbitrary upstream answers,
// JSON or event stream, written in two chunks, to a POST holding a tools/list (id 1)
// and a tools/call (id 2): it never panics or blocks; whatever it sends the caller as
// JSON lists no tool off the allow-list ("ech*") nor one the pins hide (ech_hidden*) in
// a response to the tools/list; and the tools/call is one mcpToolCall event with an
// outcome of an answer (or no_answer) and no member but the audit's own.
func FuzzMCPResponse(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"},{"name":"ech_hidden"}]}}`), 10, false, false)
	f.Add([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\n\n"), 20, true, false)
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]}}]`), 3, false, true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"sec\u0072et"}]}}`), 0, false, false)
	f.Add([]byte("data: not json\r\n\r\n"), 5, true, true)
	f.Add([]byte(`[{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"m"}},{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}]`), 30, false, true)
	f.Add([]byte("data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"isError\":true}}\n\n"), 7, true, false)
	allow, err := mcp.ParseAllowList("ech*")
	if err != nil {
		f.Fatal(err)
	}
	req, err := mcp.ParseRequest([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}]`))
	if err != nil {
		f.Fatal(err)
	}
	policy := mcp.Policy{Connection: "c", Allow: allow, ListGate: func(tools []mcp.ToolDefinition) (map[string]string, error) {
		hidden := map[string]string{}
		for _, d := range tools {
			if strings.HasPrefix(d.Name, "ech_hidden") {
				hidden[d.Name] = "changed"
			}
		}
		return hidden, nil
	}}
	outcomes := map[string]bool{"ok": true, "tool_error": true, "error": true, "no_answer": true}
	f.Fuzz(func(t *testing.T, body []byte, split int, sse, batch bool) {
		audit := &waitRecorder{changed: make(chan struct{}, 1)}
		rec := httptest.NewRecorder()
		c := &call{s: &Server{Deps: Deps{Now: time.Now, Audit: audit}}, w: rec, r: httptest.NewRequest("POST", "/api/2.0/mcp/external/c", nil),
			start: time.Now(), conn: &catalog.Connection{Name: "c"}, who: &identity.Identity{Principal: &catalog.Principal{Name: "p"}}}
		calls := c.newToolCalls(req, mcp.Judge(req, policy))
		ids := mcp.IDSet{}
		ids.Add(json.RawMessage("1"))
		var own []json.RawMessage
		if batch {
			own = []json.RawMessage{mcp.ErrorResponse(json.RawMessage("9"), mcp.CodeToolNotAllowed, "Tool not allowed by connection c", nil)}
		}
		r := &mcpResponse{w: rec, policy: policy, lists: ids, own: own, batch: batch, calls: calls}
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
		calls.finish()
		events := audit.toolCalls(t, 0, 1)
		e := events[0]
		if e.Params["tool"] != "echo" || !outcomes[e.Params["outcome"]] || e.Params["duration_ms"] == "" {
			t.Fatalf("event %+v", e.Params)
		}
		for k, v := range e.Params {
			switch k {
			case "tool", "outcome", "duration_ms":
			case "jsonrpc_error":
				if _, err := strconv.Atoi(v); err != nil || e.Params["outcome"] != "error" {
					t.Fatalf("jsonrpc_error %q with outcome %s", v, e.Params["outcome"])
				}
			default:
				t.Fatalf("event param %s=%q", k, v)
			}
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
				if !allow.Allowed(tool.Name) || strings.HasPrefix(tool.Name, "ech_hidden") {
					t.Fatalf("tool %q off the allow-list reached the caller: %s", tool.Name, out)
				}
			}
		}
	})
}
