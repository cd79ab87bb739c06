package mcp

import (
	"fmt"
	"strings"
	"testing"
)

// answerString is an Answer as the tests compare it.
func answerString(a Answer) string {
	s := fmt.Sprintf("%s:%s", a.ID, a.Outcome())
	if a.HasCode {
		s += fmt.Sprintf(":%d", a.Code)
	}
	return s
}

func TestAnswerScanner(t *testing.T) {
	big := strings.Repeat("9", MaxIDBytes+1)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{name: "result", body: `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, want: []string{"1:ok"}},
		{name: "tool error", body: `{"jsonrpc":"2.0","id":"a","result":{"content":[],"isError":true}}`, want: []string{`"a":tool_error`}},
		{name: "isError false", body: `{"jsonrpc":"2.0","id":2,"result":{"isError":false}}`, want: []string{"2:ok"}},
		{name: "json-rpc error", body: `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no such method","data":{"code":7}}}`, want: []string{"3:error:-32601"}},
		{name: "error code not a number", body: `{"jsonrpc":"2.0","id":3,"error":{"code":"x","message":"m"}}`, want: []string{"3:error"}},
		{name: "members in any order", body: `{"result":{"isError":true},"id":4,"jsonrpc":"2.0"}`, want: []string{"4:tool_error"}},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"result":{}}, {"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"m"}},{"jsonrpc":"2.0","method":"n"}]`,
			want: []string{"1:ok", "2:error:-1", ":"}},
		{name: "nested id and isError ignored", body: `{"jsonrpc":"2.0","id":5,"result":{"content":[{"id":9,"isError":true,"result":{"isError":true}}],"structuredContent":{"error":{"code":1}}}}`,
			want: []string{"5:ok"}},
		{name: "strings holding structure", body: `{"jsonrpc":"2.0","id":6,"result":{"content":[{"type":"text","text":"}]\"{\\\"id\\\":7,\\\"error\\\":{}}"}]}}`,
			want: []string{"6:ok"}},
		{name: "escaped member names", body: `{"jsonrpc":"2.0","\u0069d":8,"r\u0065sult":{"\u0069sError":true}}`, want: []string{"8:tool_error"}},
		{name: "case variants are not members", body: `{"jsonrpc":"2.0","ID":9,"Result":{}}`, want: []string{":"}},
		{name: "error null is not an error", body: `{"jsonrpc":"2.0","id":10,"result":{},"error":null}`, want: []string{"10:ok"}},
		{name: "id too long", body: `{"jsonrpc":"2.0","id":` + big + `,"result":{}}`, want: []string{":ok"}},
		{name: "id null", body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m"}}`, want: []string{":error:-32700"}},
		{name: "not json", body: `hello {`, want: nil},
		{name: "deep nesting", body: `{"jsonrpc":"2.0","id":11,"result":{"a":[[[[[[{"id":1}]]]]]]}}`, want: []string{"11:ok"}},
		{name: "two texts", body: `{"id":1,"result":{}}{"id":2,"result":{}}`, want: []string{"1:ok", "2:ok"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("%s/chunk %d", tt.name, chunk), func(t *testing.T) {
				var got []string
				s := &AnswerScanner{On: func(a Answer) { got = append(got, answerString(a)) }}
				b := []byte(tt.body)
				if chunk == 0 {
					_, _ = s.Write(b)
				} else {
					for i := 0; i < len(b); i += chunk {
						_, _ = s.Write(b[i:min(i+chunk, len(b))])
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("answers = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestCalls(t *testing.T) {
	req, err := ParseRequest([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},` +
		`{"jsonrpc":"2.0","id":"1","method":"tools/call","params":{"name":"b"}},` +
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"c"}},` +
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"},` +
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"refused"}},` +
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"note"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	allow, _ := ParseAllowList("a,b,c,note")
	calls := ForwardedCalls(req, Judge(req, Policy{Allow: allow}))
	if calls.Pending() != 3 {
		t.Fatalf("Pending() = %d, want 3 (the refused call, the tools/list and the notification are not waited for)", calls.Pending())
	}
	steps := []struct {
		name  string
		a     Answer
		want  int // -1: not resolved
		still int
	}{
		{name: "a request is no answer", a: Answer{ID: []byte("1")}, want: -1, still: 3},
		{name: "unknown id", a: Answer{ID: []byte("7"), Result: true}, want: -1, still: 3},
		{name: "the tools/list answer", a: Answer{ID: []byte("2"), Result: true}, want: -1, still: 3},
		{name: "first of two with id 1", a: Answer{ID: []byte("1.0"), Result: true}, want: 0, still: 2},
		{name: "string id is another id", a: Answer{ID: []byte(`"1"`), Error: true}, want: 1, still: 1},
		{name: "second with id 1", a: Answer{ID: []byte("1"), Result: true, IsError: true}, want: 2, still: 0},
		{name: "answered twice", a: Answer{ID: []byte("1"), Result: true}, want: -1, still: 0},
	}
	for _, st := range steps {
		i, ok := calls.Resolve(st.a)
		if !ok {
			i = -1
		}
		if i != st.want || calls.Pending() != st.still {
			t.Errorf("%s: Resolve() = %d, Pending() = %d; want %d, %d", st.name, i, calls.Pending(), st.want, st.still)
		}
	}
	if u := calls.Unanswered(); len(u) != 0 {
		t.Errorf("Unanswered() = %v, want none", u)
	}
	again := ForwardedCalls(req, Judge(req, Policy{Allow: allow}))
	again.Resolve(Answer{ID: []byte(`"1"`), Result: true})
	if u := again.Unanswered(); fmt.Sprint(u) != "[0 2]" {
		t.Errorf("Unanswered() = %v, want [0 2] in request order", u)
	}
}
