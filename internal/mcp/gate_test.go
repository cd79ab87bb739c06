package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// fakeGate is a tool-pin gate for tests: hidden tools are hidden from lists and
// refused at calls with their reason; failing fails every call of the gate.
type fakeGate struct {
	hidden  map[string]string
	failing bool
	// seen records each list's definitions, and calls each tool asked about.
	seen  [][]ToolDefinition
	calls []string
}

var errGate = errors.New("pin store unavailable")

func (g *fakeGate) policy(allow AllowList) Policy {
	return Policy{Connection: "gh", Allow: allow,
		ListGate: func(tools []ToolDefinition) (map[string]string, error) {
			g.seen = append(g.seen, tools)
			if g.failing {
				return nil, errGate
			}
			return g.hidden, nil
		},
		CallGate: func(tool string) (string, error) {
			g.calls = append(g.calls, tool)
			if g.failing {
				return "", errGate
			}
			return g.hidden[tool], nil
		}}
}

func TestJudgeGate(t *testing.T) {
	allow, _ := ParseAllowList("read,list_*,changed")
	call := func(id, tool string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + tool + `"}}`
	}
	notAllowed := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32003,"message":"Tool not allowed by connection gh"}}`
	}
	pinned := func(id, reason string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32003,"message":"Tool not allowed by connection gh","data":{"reason":"` + reason + `"}}}`
	}
	tests := []struct {
		name      string
		body      string
		failing   bool
		forward   string
		own       string
		reasons   []string // per message: "" allowed
		gateAsked []string
	}{
		{name: "callable tool forwarded", body: call("1", "read"), forward: call("1", "read"), reasons: []string{""}, gateAsked: []string{"read"}},
		{name: "changed tool refused with its reason", body: call("2", "changed"), own: pinned("2", "definition changed since approval"),
			reasons: []string{ReasonPin}, gateAsked: []string{"changed"}},
		{name: "allow-list first, gate not asked", body: call("3", "delete"), own: notAllowed("3"), reasons: []string{ReasonAllowList}},
		{name: "gate error fails closed", body: call("4", "read"), failing: true, own: pinned("4", PinsUncheckable),
			reasons: []string{ReasonPin}, gateAsked: []string{"read"}},
		{name: "notification refused by the gate is dropped", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"changed"}}`,
			reasons: []string{ReasonPin}, gateAsked: []string{"changed"}},
		{name: "batch element by element", body: "[" + call("5", "read") + "," + call("6", "changed") + "," + call("7", "delete") + `,{"jsonrpc":"2.0","id":8,"method":"tools/list"}]`,
			forward: "[" + call("5", "read") + `,{"jsonrpc":"2.0","id":8,"method":"tools/list"}]`,
			own:     "[" + pinned("6", "definition changed since approval") + "," + notAllowed("7") + "]",
			reasons: []string{"", ReasonPin, ReasonAllowList, ""}, gateAsked: []string{"read", "changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGate{hidden: map[string]string{"changed": "definition changed since approval"}, failing: tt.failing}
			req, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			v := Judge(req, g.policy(allow))
			if got := string(v.ForwardBody()); got != tt.forward {
				t.Errorf("ForwardBody() = %s, want %s", got, tt.forward)
			}
			if got := string(v.OwnBody()); got != tt.own {
				t.Errorf("OwnBody() = %s, want %s", got, tt.own)
			}
			var reasons []string
			for _, d := range v.Decisions {
				reasons = append(reasons, d.Reason)
				if d.Allowed != (d.Reason == "") {
					t.Errorf("decision %+v: allowed and reason disagree", d)
				}
			}
			if !slices.Equal(reasons, tt.reasons) {
				t.Errorf("reasons = %q, want %q", reasons, tt.reasons)
			}
			if !slices.Equal(g.calls, tt.gateAsked) {
				t.Errorf("gate asked about %q, want %q", g.calls, tt.gateAsked)
			}
		})
	}
}

func TestFilterToolsListGate(t *testing.T) {
	all, _ := ParseAllowList("")
	limited, _ := ParseAllowList("read,changed,fresh")
	ids := IDSet{}
	ids.Add([]byte("1"))
	const tools = `[{"name":"read","description":"reads","inputSchema":{"type":"object"}},{"name":"changed","description":"now evil"},{"name":"fresh"},{"name":"delete"}]`
	list := func(id, tools string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":` + tools + `}}`
	}
	tests := []struct {
		name    string
		allow   AllowList
		body    string
		failing bool
		want    string
		seen    []string // the names the gate was shown, per list
	}{
		{name: "hidden tools vanish", allow: all, body: list("1", tools),
			want: list("1", `[{"name":"read","description":"reads","inputSchema":{"type":"object"}},{"name":"delete"}]`),
			seen: []string{"read changed fresh delete"}},
		{name: "gate sees tools off the allow-list too", allow: limited, body: list("1", tools),
			want: list("1", `[{"name":"read","description":"reads","inputSchema":{"type":"object"}}]`),
			seen: []string{"read changed fresh delete"}},
		{name: "gate error replaces the answer", allow: all, body: list("1", tools), failing: true,
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the tool pins could not be checked"}}`,
			seen: []string{"read changed fresh delete"}},
		{name: "gate error in a batch replaces that element only", allow: all, body: "[" + list("1", tools) + `,{"jsonrpc":"2.0","id":2,"result":{}}]`, failing: true,
			want: `[{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the tool pins could not be checked"}},{"jsonrpc":"2.0","id":2,"result":{}}]`,
			seen: []string{"read changed fresh delete"}},
		{name: "another id is not a tools/list answer", allow: all, body: list("2", tools)},
		{name: "ambiguous definitions removed, not shown", allow: all,
			body: list("1", `[{"name":"read","Description":"hidden from a case-sensitive client"},{"name":"x","inputSchema":{},"inputschema":{"a":1}},{"name":"ok"}]`),
			want: list("1", `[{"name":"ok"}]`), seen: []string{"ok"}},
		{name: "empty list shown too", allow: all, body: list("1", `[]`), seen: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGate{hidden: map[string]string{"changed": "changed", "fresh": "not yet approved"}, failing: tt.failing}
			got, err := FilterToolsList([]byte(tt.body), g.policy(tt.allow), ids)
			if err != nil {
				t.Fatalf("FilterToolsList() error = %v", err)
			}
			want := tt.want
			if want == "" {
				want = tt.body
			}
			if string(got) != want {
				t.Errorf("FilterToolsList() =\n%s\nwant\n%s", got, want)
			}
			var seen []string
			for _, defs := range g.seen {
				var names []string
				for _, d := range defs {
					names = append(names, d.Name)
					if !strings.HasPrefix(d.Hash, "sha256:") {
						t.Errorf("definition of %s has hash %q", d.Name, d.Hash)
					}
				}
				seen = append(seen, strings.Join(names, " "))
			}
			if !slices.Equal(seen, tt.seen) {
				t.Errorf("gate shown %q, want %q", seen, tt.seen)
			}
		})
	}
}

func TestSSEFilterGate(t *testing.T) {
	ids := IDSet{}
	ids.Add([]byte("1"))
	list := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"},{"name":"changed"}]}}`
	kept := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"}]}}`
	progress := `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`
	callAnswer := `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"done"}],"isError":true}}`
	failed := `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the tool pins could not be checked"}}`
	bigText := strings.Repeat("x", 200)
	bigAnswer := `{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"` + bigText + `"}]}}`
	tests := []struct {
		name    string
		in      string
		ids     IDSet
		max     int
		failing bool
		want    string // "" = unchanged
		answers []string
	}{
		{name: "hidden tool vanishes", in: "data: " + list + "\n\n", want: "data: " + kept + "\n\n", answers: []string{"1:ok"}},
		{name: "gate error replaces the event", in: "event: message\r\ndata: " + list + "\r\n\r\n", failing: true,
			want: "event: message\r\ndata: " + failed + "\r\n\r\n", answers: []string{"1:error:-32603"}},
		{name: "answers reported event by event", in: "data: " + progress + "\n\ndata: " + callAnswer + "\n\n", ids: IDSet{},
			answers: []string{":", "2:tool_error"}},
		{name: "answer split over data lines", in: "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":4,\"error\":{\"code\":-32601,\"message\":\"m\"}}\n\n", ids: IDSet{},
			answers: []string{"4:error:-32601"}},
		{name: "oversized answer reported as it passes", max: 64, ids: IDSet{},
			in:      "id: 9\r\ndata: " + bigAnswer[:100] + "\r\ndata\r\ndata:" + bigAnswer[100:] + "\r\n\r\ndata: " + callAnswer + "\n\n",
			answers: []string{"3:ok", "2:tool_error"}},
		{name: "oversized event while a tools/list is pending is not reported", max: 64,
			in:   "data: " + bigAnswer + "\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"Gatehouse could not inspect the tools/list response: the event is too large\"}}\n\n"},
	}
	readers := map[string]func(r *strings.Reader) interface{ Read([]byte) (int, error) }{
		"whole":    func(r *strings.Reader) interface{ Read([]byte) (int, error) } { return r },
		"one byte": func(r *strings.Reader) interface{ Read([]byte) (int, error) } { return iotest.OneByteReader(r) },
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				g := &fakeGate{hidden: map[string]string{"changed": "changed"}, failing: tt.failing}
				var answers []string
				f := &SSEFilter{Policy: g.policy(AllowList{}), IDs: ids, MaxEventBytes: tt.max,
					OnAnswer: func(a Answer) { answers = append(answers, answerString(a)) }}
				if tt.ids != nil {
					f.IDs = tt.ids
				}
				var out bytes.Buffer
				if err := f.Copy(&out, wrap(strings.NewReader(tt.in))); err != nil {
					t.Fatalf("Copy() error = %v", err)
				}
				want := tt.want
				if want == "" {
					want = tt.in
				}
				if out.String() != want {
					t.Errorf("Copy() =\n%q\nwant\n%q", out.String(), want)
				}
				if !slices.Equal(answers, tt.answers) {
					t.Errorf("answers = %q, want %q", answers, tt.answers)
				}
			})
		}
	}
}

// TestSSEWriterCutStream: a stream that is not closed drops its partial last event.
func TestSSEWriterCutStream(t *testing.T) {
	var out bytes.Buffer
	w := (&SSEFilter{}).NewWriter(&out)
	if _, err := w.Write([]byte("data: a\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "data: a\n\n" {
		t.Errorf("written = %q, want only the complete event", out.String())
	}
}

func TestCheckHeaders(t *testing.T) {
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"}}`
	tests := []struct {
		name          string
		body          string
		method, tname []string
		wantErr       string // the header the error names; "" none
	}{
		{name: "no headers", body: call},
		{name: "both match", body: call, method: []string{"tools/call"}, tname: []string{"read"}},
		{name: "method only", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, method: []string{"tools/list"}},
		{name: "notification method matches", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, method: []string{"notifications/initialized"}},
		{name: "prompt name", body: `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}`, method: []string{"prompts/get"}, tname: []string{"p"}},
		{name: "resource uri", body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}`, tname: []string{"file:///a"}},
		{name: "method mismatch", body: call, method: []string{"tools/list"}, wantErr: HeaderMethod},
		{name: "method case differs", body: call, method: []string{"Tools/Call"}, wantErr: HeaderMethod},
		{name: "empty method header", body: call, method: []string{""}, wantErr: HeaderMethod},
		{name: "method on a response", body: `{"jsonrpc":"2.0","id":1,"result":{}}`, method: []string{""}, wantErr: HeaderMethod},
		{name: "method twice", body: call, method: []string{"tools/call", "tools/call"}, wantErr: HeaderMethod},
		{name: "tool name mismatch", body: call, method: []string{"tools/call"}, tname: []string{"delete"}, wantErr: HeaderName},
		{name: "tool name with space", body: call, tname: []string{"read "}, wantErr: HeaderName},
		{name: "name twice", body: call, tname: []string{"read", "delete"}, wantErr: HeaderName},
		{name: "name on another method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, tname: []string{"read"}, wantErr: HeaderName},
		{name: "prompt name mismatch", body: `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}`, tname: []string{"q"}, wantErr: HeaderName},
		{name: "resource without uri", body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"URI":"file:///a"}}`, tname: []string{"file:///a"}, wantErr: HeaderName},
		{name: "resource uri case variant", body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a","URI":"file:///b"}}`, tname: []string{"file:///a"}, wantErr: HeaderName},
		{name: "batch with method", body: "[" + call + "]", method: []string{"tools/call"}, wantErr: HeaderMethod},
		{name: "batch with name", body: "[" + call + "]", tname: []string{"read"}, wantErr: HeaderName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckHeaders(req, tt.method, tt.tname)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckHeaders() = %v, want nil", err)
				}
				return
			}
			var je *Error
			if !errors.As(err, &je) || je.Code != CodeInvalidRequest || !strings.Contains(je.Reason, tt.wantErr) {
				t.Errorf("CheckHeaders() = %v, want -32600 naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestRefusalData: a pin refusal's data is exactly {"reason": ...}.
func TestRefusalData(t *testing.T) {
	g := &fakeGate{hidden: map[string]string{"x": `quote " and <tag>`}}
	req, _ := ParseRequest([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
	var a struct {
		Error struct {
			Data map[string]string `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(Judge(req, g.policy(AllowList{})).OwnBody(), &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Error.Data) != 1 || a.Error.Data["reason"] != `quote " and <tag>` {
		t.Errorf("data = %v, want only the reason", a.Error.Data)
	}
}
