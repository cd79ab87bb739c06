package mcp

import (
	"bytes"
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
