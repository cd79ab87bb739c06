package mcp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequest(t *testing.T) {
	type msg struct {
		Kind   Kind
		ID     string
		Method string
		Tool   string
	}
	tests := []struct {
		name  string
		body  string
		batch bool
		want  []msg
		code  int // expected error code, 0 for success
	}{
		{name: "tools/call", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"a":1}}}`, want: []msg{{KindRequest, "1", "tools/call", "read"}}},
		{name: "string id", body: `{"jsonrpc":"2.0","id":"abc","method":"tools/list"}`, want: []msg{{KindRequest, `"abc"`, "tools/list", ""}}},
		{name: "escaped method", body: `{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"w\u0072ite"}}`, want: []msg{{KindRequest, "1", "tools/call", "write"}}},
		{name: "tools/call notification", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}`, want: []msg{{KindNotification, "", "tools/call", "x"}}},
		{name: "tools/call notification without name", body: `{"jsonrpc":"2.0","method":"tools/call"}`, code: CodeInvalidRequest},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, want: []msg{{KindNotification, "", "notifications/initialized", ""}}},
		{name: "response to server", body: `{"jsonrpc":"2.0","id":7,"result":{}}`, want: []msg{{KindResponse, "7", "", ""}}},
		{name: "error response null id", body: `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}`, want: []msg{{KindResponse, "null", "", ""}}},
		{name: "batch", body: ` [{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"result":1}]`, batch: true,
			want: []msg{{KindRequest, "1", "tools/call", "a"}, {KindNotification, "", "n", ""}, {KindResponse, "2", "", ""}}},
		{name: "not json", body: `{"jsonrpc":`, code: CodeParseError},
		{name: "invalid utf8", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"r\xffd\"}}", code: CodeParseError},
		{name: "empty batch", body: `[]`, code: CodeInvalidRequest},
		{name: "not an object", body: `"hello"`, code: CodeInvalidRequest},
		{name: "wrong version", body: `{"jsonrpc":"1.0","id":1,"method":"x"}`, code: CodeInvalidRequest},
		{name: "no version", body: `{"id":1,"method":"x"}`, code: CodeInvalidRequest},
		{name: "duplicate method", body: `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"x"}}`, code: CodeInvalidRequest},
		{name: "case variant method", body: `{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call"}`, code: CodeInvalidRequest},
		{name: "duplicate tool name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","name":"bad"}}`, code: CodeInvalidRequest},
		{name: "case variant tool name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","NAME":"bad"}}`, code: CodeInvalidRequest},
		{name: "tools/call without name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, code: CodeInvalidRequest},
		{name: "tools/call without params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, code: CodeInvalidRequest},
		{name: "tools/call name not string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["a"]}}`, code: CodeInvalidRequest},
		{name: "object id", body: `{"jsonrpc":"2.0","id":{"a":1},"method":"x"}`, code: CodeInvalidRequest},
		{name: "huge id", body: `{"jsonrpc":"2.0","id":"` + strings.Repeat("a", MaxIDBytes) + `","method":"x"}`, code: CodeInvalidRequest},
		{name: "method and result", body: `{"jsonrpc":"2.0","id":1,"method":"x","result":1}`, code: CodeInvalidRequest},
		{name: "result and error", body: `{"jsonrpc":"2.0","id":1,"result":1,"error":{}}`, code: CodeInvalidRequest},
		{name: "neither method nor id", body: `{"jsonrpc":"2.0"}`, code: CodeInvalidRequest},
		{name: "bad batch element", body: `[{"jsonrpc":"2.0","id":1,"method":"x"},5]`, code: CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(tt.body))
			if tt.code != 0 {
				var je *Error
				if !errors.As(err, &je) || je.Code != tt.code {
					t.Fatalf("ParseRequest() error = %v, want code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest() error = %v", err)
			}
			if req.Batch != tt.batch {
				t.Errorf("Batch = %v, want %v", req.Batch, tt.batch)
			}
			var got []msg
			for _, m := range req.Messages {
				got = append(got, msg{m.Kind, string(m.ID), m.Method, m.Tool})
				if !json.Valid(m.Raw) {
					t.Errorf("Raw %q is not valid JSON", m.Raw)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("messages (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		allowed []string
		denied  []string
		wantErr bool
	}{
		{name: "unset allows all", in: "", allowed: []string{"anything", ""}},
		{name: "blank allows all", in: "  ", allowed: []string{"x"}},
		{name: "exact", in: "read, write", allowed: []string{"read", "write"}, denied: []string{"Read", "reads", "rea", "delete"}},
		{name: "prefix", in: "github_*", allowed: []string{"github_", "github_issues"}, denied: []string{"github", "gitlab_x", "xgithub_"}},
		{name: "star alone", in: "*", allowed: []string{"a", ""}},
		{name: "empty entry", in: "a,,b", wantErr: true},
		{name: "trailing comma", in: "a,", wantErr: true},
		{name: "inner space", in: "a b", wantErr: true},
		{name: "control char", in: "a\x00b", wantErr: true},
		{name: "star in middle", in: "a*b", wantErr: true},
		{name: "two stars", in: "a**", wantErr: true},
		{name: "leading star", in: "*a", wantErr: true},
		{name: "invalid utf8", in: "a\xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAllowList(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAllowList(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			for _, n := range tt.allowed {
				if !a.Allowed(n) {
					t.Errorf("Allowed(%q) = false, want true", n)
				}
			}
			for _, n := range tt.denied {
				if a.Allowed(n) {
					t.Errorf("Allowed(%q) = true, want false", n)
				}
			}
		})
	}
}

func TestJudge(t *testing.T) {
	allow, err := ParseAllowList("read,list_*")
	if err != nil {
		t.Fatal(err)
	}
	call := func(id, tool string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + tool + `"}}`
	}
	refused := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32003,"message":"Tool not allowed by connection gh"}}`
	}
	tests := []struct {
		name     string
		body     string
		all      bool
		forward  string
		ownBody  string
		upstream string
		merged   string
	}{
		{name: "allowed call", body: call("1", "read"), all: true, forward: call("1", "read")},
		{name: "refused call", body: call(`"x"`, "delete"), forward: "", ownBody: refused(`"x"`)},
		{name: "other methods pass", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, all: true, forward: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
		{name: "batch mixed", body: "[" + call("1", "read") + "," + call("2", "delete") + "," + call("3", "list_x") + "]",
			forward:  "[" + call("1", "read") + "," + call("3", "list_x") + "]",
			upstream: `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":3,"result":{}}]`,
			merged:   `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":3,"result":{}},` + refused("2") + "]"},
		{name: "batch all refused", body: "[" + call("1", "x") + "," + call("2", "y") + "]", ownBody: "[" + refused("1") + "," + refused("2") + "]"},
		{name: "tools/call notification refused silently", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete"}}`, forward: ""},
		{name: "tools/call notification allowed", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"read"}}`, all: true, forward: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"read"}}`},
		{name: "batch with refused notification", body: "[" + call("1", "read") + `,{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete"}}]`,
			forward: "[" + call("1", "read") + "]", upstream: `[{"jsonrpc":"2.0","id":1,"result":{}}]`, merged: `[{"jsonrpc":"2.0","id":1,"result":{}}]`},
		{name: "batch refused with notification", body: "[" + call("1", "x") + `,{"jsonrpc":"2.0","method":"n"}]`,
			forward: `[{"jsonrpc":"2.0","method":"n"}]`, upstream: "", merged: "[" + refused("1") + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			v := Judge(req, Policy{Connection: "gh", Allow: allow})
			if v.AllAllowed() != tt.all {
				t.Errorf("AllAllowed() = %v, want %v", v.AllAllowed(), tt.all)
			}
			if got := string(v.ForwardBody()); got != tt.forward {
				t.Errorf("ForwardBody() = %s, want %s", got, tt.forward)
			}
			if tt.forward == "" && tt.ownBody == "" && v.OwnBody() != nil {
				t.Errorf("OwnBody() = %s, want nil (only notifications refused)", v.OwnBody())
			}
			if tt.ownBody != "" {
				if got := string(v.OwnBody()); got != tt.ownBody {
					t.Errorf("OwnBody() = %s, want %s", got, tt.ownBody)
				}
			}
			if tt.merged != "" {
				got, err := MergeBatch([]byte(tt.upstream), v.OwnErrors())
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.merged {
					t.Errorf("MergeBatch() = %s, want %s", got, tt.merged)
				}
			}
		})
	}
}

func TestMergeBatchRejectsBadUpstream(t *testing.T) {
	for _, up := range []string{`nope`, `[1,`, `{"a":`} {
		if _, err := MergeBatch([]byte(up), nil); err == nil {
			t.Errorf("MergeBatch(%q) error = nil, want an error", up)
		}
	}
}
