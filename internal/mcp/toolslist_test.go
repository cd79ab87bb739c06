package mcp

import (
	"strings"
	"testing"
)

func TestFilterToolsList(t *testing.T) {
	allow, err := ParseAllowList("read,list_*")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		want    string // "" = unchanged
		wantErr bool
	}{
		{name: "removes disallowed, keeps bytes",
			body: `{"jsonrpc":"2.0", "id":1,"result":{ "tools" : [{"name":"read","x":1}, {"name":"delete"},{"name":"list_a"}], "nextCursor":"c" },"z":[1, 2]}`,
			want: `{"jsonrpc":"2.0", "id":1,"result":{ "tools" : [{"name":"read","x":1},{"name":"list_a"}], "nextCursor":"c" },"z":[1, 2]}`},
		{name: "nothing to remove is unchanged", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[ {"name":"read"} ]}}`},
		{name: "all removed", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`},
		{name: "nameless tool removed", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"title":"read"},5,{"name":7},{"name":"read"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"}]}}`},
		{name: "duplicate name in tool removed", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read","name":"delete"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`},
		{name: "escaped name judged decoded", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"d\u0065lete"},{"name":"r\u0065ad"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"r\u0065ad"}]}}`},
		{name: "batch of responses", body: `[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}]}},{"jsonrpc":"2.0","id":2,"result":{}}]`,
			want: `[{"jsonrpc":"2.0","id":1,"result":{"tools":[]}},{"jsonrpc":"2.0","id":2,"result":{}}]`},
		{name: "error response unchanged", body: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}`},
		{name: "tools not a list unchanged", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"x"}}}`},
		{name: "duplicate tools member", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"x"}]}}`, wantErr: true},
		{name: "duplicate result member", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"x"}]}}`, wantErr: true},
		{name: "case variant tools", body: `{"jsonrpc":"2.0","id":1,"result":{"Tools":[{"name":"x"}]}}`, wantErr: true},
		{name: "not json", body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[`, wantErr: true},
		{name: "invalid utf8", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read\xff\"}]}}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FilterToolsList([]byte(tt.body), Policy{Allow: allow}, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("FilterToolsList() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			want := tt.want
			if want == "" {
				want = tt.body
			}
			if string(got) != want {
				t.Errorf("FilterToolsList() =\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("unrestricted list changes nothing", func(t *testing.T) {
		body := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}]}}`
		got, err := FilterToolsList([]byte(body), Policy{}, nil)
		if err != nil || string(got) != body {
			t.Errorf("FilterToolsList(all) = %s, %v; want the body unchanged", got, err)
		}
	})
}

func TestFilterSSEEvent(t *testing.T) {
	allow, _ := ParseAllowList("read")
	ids := IDSet{}
	ids.Add([]byte(`7`))
	ids.Add([]byte(`"q"`))
	list := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":[{"name":"read"},{"name":"delete"}]}}`
	}
	filtered := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":[{"name":"read"}]}}`
	}
	tests := []struct {
		name, data, want string
		wantErr          bool
	}{
		{name: "known number id", data: list("7"), want: filtered("7")},
		{name: "same number other spelling", data: list("7.0"), want: filtered("7.0")},
		{name: "known string id", data: list(`"q"`), want: filtered(`"q"`)},
		{name: "string is not number", data: list(`"7"`), want: list(`"7"`)},
		{name: "unknown id passes", data: list("8"), want: list("8")},
		{name: "not json passes", data: "hello\nworld", want: "hello\nworld"},
		{name: "escaped tools member filtered", data: `{"jsonrpc":"2.0","id":7,"result":{"\u0074ools":[{"name":"delete"}]}}`, want: `{"jsonrpc":"2.0","id":7,"result":{"\u0074ools":[]}}`},
		{name: "ambiguous event with upper-case tools refused", data: `{"jsonrpc":"2.0","id":7,"id":7,"result":{"TOOLS":[{"name":"delete"}]}}`, wantErr: true},
		{name: "notification passes", data: `{"jsonrpc":"2.0","method":"notifications/progress","params":{}}`, want: `{"jsonrpc":"2.0","method":"notifications/progress","params":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FilterSSEEvent([]byte(tt.data), Policy{Allow: allow}, ids)
			if (err != nil) != tt.wantErr {
				t.Fatalf("FilterSSEEvent() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if string(got) != tt.want {
				t.Errorf("FilterSSEEvent() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestToolsListIDs(t *testing.T) {
	req, err := ParseRequest([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}},{"jsonrpc":"2.0","id":"a","method":"tools/list"}]`))
	if err != nil {
		t.Fatal(err)
	}
	ids := ToolsListIDs(req)
	for _, tt := range []struct {
		id   string
		want bool
	}{{"1", true}, {`"a"`, true}, {"2", false}, {`"1"`, false}, {"null", false}} {
		if got := ids.Has([]byte(tt.id)); got != tt.want {
			t.Errorf("Has(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if strings.Contains(idKey([]byte(`"x"`)), `"`) {
		t.Errorf("idKey keeps quotes")
	}
}

func TestMayHoldTools(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{`{"result":{"tools":[]}}`, true},
		{`{"result":{"TOOLS":[]}}`, true},
		{`{"result":{"ToOlſ":[]}}`, true},
		{`{"result":{"\u0074ools":[]}}`, true},
		{`{"method":"notifications/progress","params":{"progress":1}}`, false},
		{`{"a":"\\"}`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := mayHoldTools([]byte(tt.data)); got != tt.want {
			t.Errorf("mayHoldTools(%s) = %v, want %v", tt.data, got, tt.want)
		}
	}
}
