package mcp

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"}}`,
		`[{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"delete"}},{"jsonrpc":"2.0","method":"n"}]`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"x","Method":"tools/call"}`,
		`[]`, `{`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	allow, _ := ParseAllowList("read,safe_*")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			return
		}
		v := Judge(req, allow, "c")
		fwd := v.ForwardBody()
		// Whatever is forwarded re-parses to only allowed tools/calls.
		if fwd == nil {
			return
		}
		again, err := ParseRequest(fwd)
		if err != nil {
			t.Fatalf("forward body %q does not re-parse: %v", fwd, err)
		}
		for _, m := range again.Messages {
			if len(m.ID) > MaxIDBytes {
				t.Fatalf("id of %d bytes accepted", len(m.ID))
			}
			if m.Method == "tools/call" && m.Kind == KindRequest && !allow.Allowed(m.Tool) {
				t.Fatalf("disallowed tool %q forwarded in %q", m.Tool, fwd)
			}
		}
		if v.AllAllowed() && !bytes.Equal(fwd, body) && !req.Batch {
			t.Fatalf("all allowed but single body changed")
		}
	})
}

// disallowedCanary is a tool name no fuzz allow-list admits; it must never survive.
const disallowedCanary = "zz_forbidden_tool"

// FuzzFilterToolsList checks that a disallowed tool never survives the filter (read back
// the way a client would), and that a body without a tools member is returned unchanged.
func FuzzFilterToolsList(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"},{"name":"zz_forbidden_tool"}]}}`,
		`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"zz_forbidden_tool"}]}}]`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","name":"zz_forbidden_tool"}]}}`,
	} {
		f.Add([]byte(s))
	}
	allow, _ := ParseAllowList("read,safe_*")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := FilterToolsList(body, allow)
		if err != nil {
			return
		}
		if !bytes.Contains(body, []byte("tools")) && !bytes.Equal(out, body) {
			t.Fatalf("body without tools changed:\n%q\n%q", body, out)
		}
		for _, name := range clientToolNames(out) {
			if !allow.Allowed(name) {
				t.Fatalf("disallowed tool %q survived in %q", name, out)
			}
		}
	})
}

// clientToolNames reads tool names the way a lenient Go client would (encoding/json:
// last duplicate wins, case-insensitive members).
func clientToolNames(body []byte) []string {
	type tool struct {
		Name string `json:"name"`
	}
	type resp struct {
		Result *struct {
			Tools []tool `json:"tools"`
		} `json:"result"`
	}
	var names []string
	var one resp
	if json.Unmarshal(body, &one) == nil && one.Result != nil {
		for _, t := range one.Result.Tools {
			names = append(names, t.Name)
		}
	}
	var many []resp
	if json.Unmarshal(body, &many) == nil {
		for _, r := range many {
			if r.Result != nil {
				for _, t := range r.Result.Tools {
					names = append(names, t.Name)
				}
			}
		}
	}
	return names
}
