package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/google/go-cmp/cmp"
)

// externalCall is a Call with its body read, for comparison.
type externalCall struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
	HasBody                bool
	ContentLength          int64
}

func readCall(t *testing.T, c Call) externalCall {
	t.Helper()
	out := externalCall{Method: c.Method, Path: c.Path, RawQuery: c.RawQuery, Header: c.Header, ContentLength: c.ContentLength}
	if c.Body != nil {
		b, err := io.ReadAll(c.Body)
		if err != nil {
			t.Fatal(err)
		}
		out.Body, out.HasBody = string(b), true
	}
	return out
}

// externalCases are valid external-function bodies and the calls they make.
var externalCases = []struct {
	name string
	body string
	want externalCall
}{
	{
		name: "minimal GET, method upper-cased",
		body: `{"connection_name":"github","method":"get","path":"/repos/o/r"}`,
		want: externalCall{Method: "GET", Path: "/repos/o/r", Header: http.Header{}},
	},
	{
		name: "headers and params as objects, params sorted",
		body: `{"connection_name":"github","method":"GET","path":"/search/issues",
				"headers":{"accept":"application/json","X-Custom":"v"},"params":{"q":"is:open label:bug","a":"x&y","empty":""}}`,
		want: externalCall{Method: "GET", Path: "/search/issues", RawQuery: "a=x%26y&empty=&q=is%3Aopen+label%3Abug",
			Header: http.Header{"Accept": {"application/json"}, "X-Custom": {"v"}}},
	},
	{
		name: "headers and params as JSON-encoded strings",
		body: `{"connection_name":"c","method":"GET","path":"/x","headers":"{\"Accept\":\"text/plain\"}","params":" {\"b\":\"2\",\"a\":\"1\"} "}`,
		want: externalCall{Method: "GET", Path: "/x", RawQuery: "a=1&b=2", Header: http.Header{"Accept": {"text/plain"}}},
	},
	{
		name: "null and empty-string headers and params are absent",
		body: `{"connection_name":"c","method":"GET","path":"/x","headers":null,"params":"","json":null}`,
		want: externalCall{Method: "GET", Path: "/x", Header: http.Header{}},
	},
	{
		name: "json object sent with application/json",
		body: `{"connection_name":"c","method":"post","path":"/items","json":{"name":"a","n":[1,2]}}`,
		want: externalCall{Method: "POST", Path: "/items", Header: http.Header{"Content-Type": {"application/json"}},
			Body: `{"name":"a","n":[1,2]}`, HasBody: true, ContentLength: 22},
	},
	{
		name: "json as a JSON-encoded string",
		body: `{"connection_name":"c","method":"POST","path":"/items","json":"{\"name\":\"a\"}"}`,
		want: externalCall{Method: "POST", Path: "/items", Header: http.Header{"Content-Type": {"application/json"}},
			Body: `{"name":"a"}`, HasBody: true, ContentLength: 12},
	},
	{
		name: "json plain string sent as a JSON string",
		body: `{"connection_name":"c","method":"POST","path":"/items","json":"hello"}`,
		want: externalCall{Method: "POST", Path: "/items", Header: http.Header{"Content-Type": {"application/json"}},
			Body: `"hello"`, HasBody: true, ContentLength: 7},
	},
	{
		name: "json number",
		body: `{"connection_name":"c","method":"PUT","path":"/n","json":42}`,
		want: externalCall{Method: "PUT", Path: "/n", Header: http.Header{"Content-Type": {"application/json"}},
			Body: `42`, HasBody: true, ContentLength: 2},
	},
	{
		name: "json keeps the caller's content type",
		body: `{"connection_name":"c","method":"PATCH","path":"/n","headers":{"content-type":"application/merge-patch+json"},"json":{"a":null}}`,
		want: externalCall{Method: "PATCH", Path: "/n", Header: http.Header{"Content-Type": {"application/merge-patch+json"}},
			Body: `{"a":null}`, HasBody: true, ContentLength: 10},
	},
	{
		name: "base64 body, no content type added",
		body: `{"connection_name":"c","method":"POST","path":"/raw","body":"aGVsbG8gd29ybGQ="}`,
		want: externalCall{Method: "POST", Path: "/raw", Header: http.Header{}, Body: "hello world", HasBody: true, ContentLength: 11},
	},
	{
		name: "empty body with json is not a conflict",
		body: `{"connection_name":"c","method":"POST","path":"/raw","body":"","json":[1]}`,
		want: externalCall{Method: "POST", Path: "/raw", Header: http.Header{"Content-Type": {"application/json"}},
			Body: `[1]`, HasBody: true, ContentLength: 3},
	},
	{
		name: "path escaped as needed",
		body: `{"connection_name":"c","method":"DELETE","path":"/files/a b/ü"}`,
		want: externalCall{Method: "DELETE", Path: "/files/a%20b/%C3%BC", Header: http.Header{}},
	},
	{
		name: "HEAD and OPTIONS",
		body: `{"connection_name":"c","method":"Options","path":"/"}`,
		want: externalCall{Method: "OPTIONS", Path: "/", Header: http.Header{}},
	},
}

func TestParseExternalFunction(t *testing.T) {
	for _, tt := range externalCases {
		t.Run(tt.name, func(t *testing.T) {
			name, c, err := ParseExternalFunction([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseExternalFunction: %v", err)
			}
			if name != "github" && name != "c" {
				t.Errorf("connection = %q", name)
			}
			if diff := cmp.Diff(tt.want, readCall(t, c)); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
		})
	}
}

// externalErrorCases are invalid external-function bodies; SECRET marks values that
// must never appear in a message.
var externalErrorCases = []struct {
	name    string
	body    string
	message string // a part of the message, naming the field
}{
	{"empty body", ``, "empty"},
	{"not JSON", `{"connection_name": SECRET}`, "malformed JSON at byte"},
	{"truncated", `{"connection_name":"c"`, "ends too early"},
	{"array", `[{"connection_name":"c"}]`, "must be a JSON object"},
	{"trailing data", `{"connection_name":"c","method":"GET","path":"/"} {"x":"SECRET"}`, "exactly one JSON object"},
	{"unknown field", `{"connection_name":"c","method":"GET","path":"/","query":"SECRET"}`, `unknown field "query"`},
	{"missing connection_name", `{"method":"GET","path":"/"}`, "connection_name is required"},
	{"missing method", `{"connection_name":"c","path":"/"}`, "method is required"},
	{"missing path", `{"connection_name":"c","method":"GET"}`, "path is required"},
	{"method not allowed", `{"connection_name":"c","method":"TRACE","path":"/"}`, "method must be one of"},
	{"method not a token", `{"connection_name":"c","method":"GET /SECRET","path":"/"}`, "method must be one of"},
	{"method of the wrong type", `{"connection_name":"c","method":1,"path":"/"}`, "field method must be a string"},
	{"connection_name of the wrong type", `{"connection_name":{"a":"SECRET"},"method":"GET","path":"/"}`, "field connection_name must be a string"},
	{"path without a leading slash", `{"connection_name":"c","method":"GET","path":"repos"}`, `path must start with "/"`},
	{"path with a query", `{"connection_name":"c","method":"GET","path":"/a?token=SECRET"}`, "path must not contain '?'"},
	{"path with a fragment", `{"connection_name":"c","method":"GET","path":"/a#SECRET"}`, "path must not contain '?' or '#'"},
	{"path traversal", `{"connection_name":"c","method":"GET","path":"/v1/../admin"}`, "path must not contain"},
	{"path with an encoded slash", `{"connection_name":"c","method":"GET","path":"/a%2Fb"}`, "path must not contain an encoded slash"},
	{"protocol-relative path", `{"connection_name":"c","method":"GET","path":"//evil.com/x"}`, "path must not contain an empty segment"},
	{"headers as an array", `{"connection_name":"c","method":"GET","path":"/","headers":["SECRET"]}`, "headers must be a JSON object"},
	{"headers with a non-string value", `{"connection_name":"c","method":"GET","path":"/","headers":{"X-A":1}}`, "headers: every value must be a string"},
	{"headers string that is not JSON", `{"connection_name":"c","method":"GET","path":"/","headers":"{SECRET"}`, "headers is not valid JSON"},
	{"headers string that is not an object", `{"connection_name":"c","method":"GET","path":"/","headers":"[\"SECRET\"]"}`, "headers must be a JSON object"},
	{"header name not a token", `{"connection_name":"c","method":"GET","path":"/","headers":{"Bad Name":"v"}}`, "headers: a header name"},
	{"header value with CRLF", `{"connection_name":"c","method":"GET","path":"/","headers":{"X-A":"SECRET\r\nX-Injected: 1"}}`, "headers: the value of X-A"},
	{"params with a non-string value", `{"connection_name":"c","method":"GET","path":"/","params":{"a":true}}`, "params: every value must be a string"},
	{"params as a number", `{"connection_name":"c","method":"GET","path":"/","params":5}`, "params must be a JSON object"},
	{"json and body together", `{"connection_name":"c","method":"POST","path":"/","json":{"a":"SECRET"},"body":"U0VDUkVU"}`, "json and body are exclusive"},
	{"bad base64", `{"connection_name":"c","method":"POST","path":"/","body":"SECRET!!"}`, "body must be standard base64"},
	{"body of the wrong type", `{"connection_name":"c","method":"POST","path":"/","body":{"a":"SECRET"}}`, "field body must be a string"},
}

func TestParseExternalFunctionErrors(t *testing.T) {
	for _, tt := range externalErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseExternalFunction([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseExternalFunction(%s) succeeded, want an error", tt.body)
			}
			ce, ok := err.(*catalog.Error)
			if !ok || ce.Code != catalog.InvalidParameterValue || ce.HTTPStatus() != http.StatusBadRequest {
				t.Fatalf("error = %#v, want a *catalog.Error INVALID_PARAMETER_VALUE", err)
			}
			if !strings.Contains(ce.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", ce.Message, tt.message)
			}
			if strings.Contains(ce.Message, "SECRET") {
				t.Errorf("message %q quotes a value", ce.Message)
			}
		})
	}
}

// TestExternalFunctionOverrideHeadersStripped: the headers of an external-function call
// follow the proxy's request header rules, so URL and method override headers named in
// them never reach the upstream.
func TestExternalFunctionOverrideHeadersStripped(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{}, up)
	for _, tt := range []struct {
		name    string
		headers string
		absent  []string
	}{
		{"URL overrides", `{"X-Original-URL":"/admin","X-Rewrite-URL":"/admin","x_original_url":"/admin"}`,
			[]string{"X-Original-Url", "X-Rewrite-Url", "X_original_url"}},
		{"method overrides", `{"X-HTTP-Method-Override":"DELETE","X-HTTP-Method":"DELETE","X-Method-Override":"DELETE"}`,
			[]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}},
		{"named in Connection", `{"Connection":"X-Original-URL","X-Original-URL":"/admin"}`,
			[]string{"Connection", "X-Original-Url"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, c, err := ParseExternalFunction([]byte(`{"connection_name":"c","method":"GET","path":"/public","headers":` + tt.headers + `}`))
			if err != nil {
				t.Fatalf("ParseExternalFunction: %v", err)
			}
			rec := newRecorder()
			if _, err := p.Forward(t.Context(), rec, up.target(), c); err != nil {
				t.Fatalf("Forward: %v", err)
			}
			got := decodeEcho(t, rec.Body.Bytes())
			if got.Method != "GET" || got.RequestURI != "/public" {
				t.Errorf("upstream got %s %s, want GET /public", got.Method, got.RequestURI)
			}
			for _, name := range tt.absent {
				for k, v := range got.Header {
					if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), strings.ReplaceAll(name, "_", "-")) {
						t.Errorf("upstream received %s: %q, want it dropped", k, v)
					}
				}
			}
		})
	}
}
