package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/google/go-cmp/cmp"
)

// TestForwardRequestHeaders is the permanent table of request header rules: the
// credential arrives, and nothing of the caller's credentials, Gatehouse's internal
// headers or forwarding claims does.
func TestForwardRequestHeaders(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{}, up)

	tests := []struct {
		name       string
		authHeader string // "" with inject=false means no credential
		noInject   bool
		header     http.Header
		want       http.Header // exact values that must arrive
		absent     []string    // names (any spelling) that must not arrive
	}{
		{
			name:   "credential injected, caller's Authorization dropped",
			header: http.Header{"Authorization": {"Bearer caller-gatehouse-token"}},
			want:   http.Header{"Authorization": {credential}},
			absent: []string{"User-Agent"},
		},
		{
			name:   "Connection: Authorization cannot remove the credential",
			header: http.Header{"Connection": {"Authorization"}, "Authorization": {"Bearer caller"}},
			want:   http.Header{"Authorization": {credential}},
			absent: []string{"Connection"},
		},
		{
			name:   "Connection listing with spaces and case",
			header: http.Header{"Connection": {"keep-alive, authorization ,X-Foo"}, "X-Foo": {"1"}},
			want:   http.Header{"Authorization": {credential}},
			absent: []string{"X-Foo", "Connection"},
		},
		{
			name:       "custom header: caller's own copy replaced, Authorization dropped",
			authHeader: "X-Api-Key",
			header:     http.Header{"X-Api-Key": {"caller-key"}, "Authorization": {"Bearer caller"}},
			want:       http.Header{"X-Api-Key": {credential}},
			absent:     []string{"Authorization"},
		},
		{
			name:       "custom header: other spellings of the caller's copy dropped",
			authHeader: "X-Api-Key",
			header:     http.Header{"x-api-key": {"caller-key"}, "X_Api_Key": {"caller-key"}},
			want:       http.Header{"X-Api-Key": {credential}},
			absent:     []string{"X_Api_Key"},
		},
		{
			name:       "Connection: X-Api-Key cannot remove the custom credential",
			authHeader: "X-Api-Key",
			header:     http.Header{"Connection": {"X-Api-Key"}, "X-Api-Key": {"caller-key"}},
			want:       http.Header{"X-Api-Key": {credential}},
		},
		{
			name:     "no auth header: nothing injected, caller's Authorization still dropped",
			noInject: true,
			header:   http.Header{"Authorization": {"Bearer caller"}, "Accept": {"*/*"}},
			want:     http.Header{"Accept": {"*/*"}},
			absent:   []string{"Authorization"},
		},
		{
			name: "caller credentials, internal headers and forwarding claims dropped",
			header: http.Header{
				"Cookie":                 {"session=caller"},
				"Proxy-Authorization":    {"Basic Y2FsbGVy"},
				"X-Gatehouse-Request-Id": {"spoof"},
				"X-Gatehouse-Principal":  {"admin"},
				"X-Gatehouse":            {"x"},
				"X_gatehouse_principal":  {"admin"},
				"Forwarded":              {"for=10.0.0.1;host=evil.example"},
				"X-Forwarded-For":        {"10.0.0.1"},
				"X-Forwarded-Host":       {"evil.example"},
				"X-Forwarded-Proto":      {"http"},
				"X_Forwarded_For":        {"10.0.0.2"},
				"X-Real-Ip":              {"10.0.0.3"},
			},
			want: http.Header{"Authorization": {credential}},
			absent: []string{"Cookie", "Proxy-Authorization", "X-Gatehouse-Request-Id", "X-Gatehouse-Principal",
				"X-Gatehouse", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"},
		},
		{
			// An upstream (or its framework) that honours these would route by the URL
			// or method they name, out of the base path or to another method.
			name: "URL and method override headers dropped, in any spelling",
			header: http.Header{
				"X-Original-Url":         {"/admin-spoof"},
				"X-Rewrite-Url":          {"/admin-spoof"},
				"X-Http-Method-Override": {"DELETE-spoof"},
				"X-Http-Method":          {"DELETE-spoof"},
				"X-Method-Override":      {"DELETE-spoof"},
				"x-original-url":         {"/lower-spoof"},
				"X_Rewrite_Url":          {"/underscore-spoof"},
				"X_HTTP_Method_Override": {"PUT-spoof"},
				"X-Original-Uri":         {"/admin-spoof"},
				"X-Original-Method":      {"DELETE-spoof"},
			},
			want: http.Header{"Authorization": {credential}},
			absent: []string{"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
				"X_Rewrite_Url", "X_HTTP_Method_Override", "X-Original-Uri", "X-Original-Method"},
		},
		{
			name: "override headers named in Connection dropped too",
			header: http.Header{
				"Connection":             {"X-Original-URL, x-http-method-override"},
				"X-Original-Url":         {"/admin-spoof"},
				"X-Http-Method-Override": {"DELETE-spoof"},
			},
			want:   http.Header{"Authorization": {credential}},
			absent: []string{"Connection", "X-Original-Url", "X-Http-Method-Override"},
		},
		{
			name: "hop-by-hop headers and headers listed in Connection dropped",
			header: http.Header{
				"Connection":        {"X-Trace-Me"},
				"X-Trace-Me":        {"1"},
				"Keep-Alive":        {"timeout=5"},
				"Proxy-Connection":  {"keep-alive"},
				"Te":                {"trailers"},
				"Trailer":           {"X-Foo"},
				"Upgrade":           {"websocket"},
				"Transfer-Encoding": {"chunked"},
			},
			absent: []string{"Connection", "X-Trace-Me", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Transfer-Encoding"},
		},
		{
			name: "end-to-end headers kept as sent",
			header: http.Header{
				"Content-Type":    {"application/json"},
				"Accept":          {"application/vnd.github+json"},
				"User-Agent":      {"octokit/1.0"},
				"Accept-Encoding": {"gzip"},
				"X-Custom":        {"one", "two"},
				"If-None-Match":   {`"etag"`},
			},
			want: http.Header{
				"Content-Type":    {"application/json"},
				"Accept":          {"application/vnd.github+json"},
				"User-Agent":      {"octokit/1.0"},
				"Accept-Encoding": {"gzip"},
				"X-Custom":        {"one", "two"},
				"If-None-Match":   {`"etag"`},
			},
		},
		{
			name:   "caller's Host ignored, no X-Forwarded-For added",
			header: http.Header{"Host": {"evil.example"}},
			absent: []string{"X-Forwarded-For", "Forwarded", "Via"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt := up.target()
			if tt.authHeader != "" {
				tgt.AuthHeader = tt.authHeader
			}
			if tt.noInject {
				tgt.AuthHeader, tgt.AuthValue = "", ""
			}
			rec := newRecorder()
			_, err := p.Forward(context.Background(), rec, tgt, Call{Method: "GET", Path: "/h", Header: tt.header.Clone(), ContentLength: 0})
			if err != nil {
				t.Fatalf("Forward: %v", err)
			}
			got := decodeEcho(t, rec.Body.Bytes())
			if got.Host != up.addr() {
				t.Errorf("upstream Host = %q, want the target's %q", got.Host, up.addr())
			}
			for k, want := range tt.want {
				if diff := cmp.Diff(want, got.Header[k]); diff != "" {
					t.Errorf("upstream header %s (-want +got):\n%s", k, diff)
				}
			}
			for _, name := range tt.absent {
				for k, v := range got.Header {
					if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
						t.Errorf("upstream received %s: %q, want it dropped", k, v)
					}
				}
			}
			for k, vv := range got.Header {
				for _, v := range vv {
					if strings.Contains(v, "caller") || strings.Contains(v, "spoof") || strings.Contains(v, "10.0.0.") {
						t.Errorf("upstream received caller's %s: %q", k, v)
					}
				}
			}
			if tt.noInject {
				if _, ok := got.Header["Authorization"]; ok {
					t.Errorf("upstream received Authorization with no credential configured")
				}
			}
		})
	}
}

// TestForwardEndToEnd sends a real request through a front server: method, query, body
// and headers arrive as they should, and the outcome is reported.
func TestForwardEndToEnd(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("upstream http2=%v", h2), func(t *testing.T) {
			up := startUpstream(t, echoHandler, h2)
			p := newTestProxy(t, Config{}, up)
			tgt := up.target()
			tgt.BasePath = "/v1"
			f := startFront(t, p, tgt, false, nil)

			body := make([]byte, 100<<10)
			_, _ = rand.Read(body)
			const query = "q=a+b&x=%2F%3F&x=2&empty=&flag&sort=-created_at&filter=%7B%22a%22%3A1%7D"
			for _, chunked := range []bool{false, true} {
				var rd io.Reader = bytes.NewReader(body)
				if chunked {
					rd = io.MultiReader(rd) // hides the length: sent chunked
				}
				req, err := http.NewRequest("POST", f.URL+"/proxy/repos/o/r/issues?"+query, rd)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "evil.example"
				req.Header.Set("Authorization", "Bearer caller-gatehouse-token")
				req.Header.Set("Cookie", "gatehouse_session=caller")
				req.Header.Set("Connection", "Authorization")
				req.Header.Set("X-Forwarded-For", "10.9.9.9")
				req.Header.Set("X-Gatehouse-Principal", "admin")
				req.Header.Set("Content-Type", "application/octet-stream")
				res, err := f.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("status %d, read error %v: %s", res.StatusCode, err, raw)
				}
				if got := res.Header.Values("X-Gatehouse-Request-Id"); !cmp.Equal(got, []string{"req-123"}) {
					t.Errorf("X-Gatehouse-Request-Id = %q, want [req-123]", got)
				}
				got := decodeEcho(t, raw)
				if got.Method != "POST" || got.Host != up.addr() || got.RequestURI != "/v1/repos/o/r/issues?"+query || got.RawQuery != query {
					t.Errorf("upstream saw %s %s (host %s, query %q), want POST /v1/repos/o/r/issues?%s at %s",
						got.Method, got.RequestURI, got.Host, got.RawQuery, query, up.addr())
				}
				if !bytes.Equal(got.Body, body) {
					t.Errorf("upstream body: %d bytes, differs from the %d sent (chunked=%v)", len(got.Body), len(body), chunked)
				}
				if got.Header.Get("Authorization") != credential {
					t.Errorf("upstream Authorization = %q, want the injected credential", got.Header.Get("Authorization"))
				}
				for _, k := range []string{"Cookie", "X-Forwarded-For", "X-Gatehouse-Principal", "Connection"} {
					if v := got.Header.Values(k); v != nil {
						t.Errorf("upstream received %s: %q", k, v)
					}
				}
				r := f.result(t)
				if r.err != nil {
					t.Fatalf("Forward: %v", r.err)
				}
				want := Outcome{Status: 200, UpstreamHost: up.addr(), Path: "/v1/repos/o/r/issues", BytesIn: int64(len(body)), BytesOut: int64(len(raw))}
				if diff := cmp.Diff(want, r.out, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Duration" }, cmp.Ignore())); diff != "" {
					t.Errorf("Outcome (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// badPaths is the permanent table of path escapes: each one is refused before the
// upstream is contacted.
var badPaths = []struct{ name, path string }{
	{"dot-dot", "/../x"},
	{"encoded dot-dot", "/%2e%2e/x"},
	{"encoded dot-dot upper case", "/%2E%2E/x"},
	{"half-encoded dot-dot", "/.%2E/x"},
	{"half-encoded dot-dot other half", "/%2e./x"},
	{"dot-dot at the end", "/a/.."},
	{"dot-dot in the middle", "/a/../../admin"},
	{"dot-dot with a path parameter", "/a/..;/admin"},
	{"encoded dot-dot with encoded semicolon", "/a/%2e%2e%3bx/admin"},
	{"dot segment", "/a/./b"},
	{"encoded dot segment", "/a/%2e/b"},
	{"encoded slash in a segment", "/a/%2f/b"},
	{"encoded slash upper case", "/a%2Fb"},
	{"empty segment", "/a//b"},
	{"protocol-relative host", "//evil.com/x"},
	{"empty segments at the end", "/a/b//"},
	{"backslash", `/a\b`},
	{"backslash host", `/\evil.com/x`},
	{"encoded backslash", "/a%5cb"},
	{"encoded backslash upper case", "/a%5Cb"},
	{"encoded NUL", "/%00"},
	{"raw NUL", "/a\x00b"},
	{"encoded CRLF", "/a%0d%0aX-Injected:%201"},
	{"raw CRLF", "/a\r\nX-Injected: 1"},
	{"encoded tab", "/a%09b"},
	{"encoded DEL", "/a%7f"},
	{"raw DEL", "/a\x7f"},
	{"invalid escape", "/%zz"},
	{"truncated escape", "/a%2"},
	{"lone percent", "/a%"},
	{"overlong UTF-8 dots", "/%c0%ae%c0%ae/x"},
	{"no leading slash", "a/b"},
	{"absolute URL", "https://evil.com/x"},
	{"authority form", "evil.com:443"},
}

// goodPaths are paths that work, with the escaped form CleanPath returns.
var goodPaths = []struct{ name, path, want string }{
	{"empty", "", ""},
	{"root", "/", "/"},
	{"repository", "/repos/o/r", "/repos/o/r"},
	{"encoded space kept", "/a%20b", "/a%20b"},
	{"search", "/search/issues", "/search/issues"},
	{"trailing slash kept", "/items/", "/items/"},
	{"encoded UTF-8 kept", "/%C3%BC", "/%C3%BC"},
	{"raw UTF-8 encoded", "/ü", "/%C3%BC"},
	{"raw space encoded", "/a b", "/a%20b"},
	{"raw ? and # encoded", "/a?b#c", "/a%3Fb%23c"},
	{"sub-delims, colon and at kept", "/a@b:c;d=e,f+g!h$i&j'k(l)m*n~o", "/a@b:c;d=e,f+g!h$i&j'k(l)m*n~o"},
	{"dots inside names", "/v1.2/.well-known/a..b/...", "/v1.2/.well-known/a..b/..."},
	{"lower-case escapes kept", "/a%2dz", "/a%2dz"},
	{"at sign segment", "/@evil.com", "/@evil.com"},
	{"encoded percent", "/100%25", "/100%25"},
}

func TestCleanPath(t *testing.T) {
	for _, tt := range badPaths {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			got, err := CleanPath(tt.path)
			if err == nil {
				t.Fatalf("CleanPath(%q) = %q, want an error", tt.path, got)
			}
			if code := catalog.CodeOf(err); code != catalog.InvalidParameterValue {
				t.Errorf("CleanPath(%q) error code = %s, want INVALID_PARAMETER_VALUE", tt.path, code)
			}
		})
	}
	for _, tt := range goodPaths {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			got, err := CleanPath(tt.path)
			if err != nil || got != tt.want {
				t.Errorf("CleanPath(%q) = %q, %v, want %q", tt.path, got, err, tt.want)
			}
		})
	}
}

// TestForwardPaths proves that refused paths never reach the upstream and that good ones
// land under the base path, escaped as checked.
func TestForwardPaths(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{}, up)
	tgt := up.target()
	tgt.BasePath = "/v1"

	for _, tt := range badPaths {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			before := up.hits.Load()
			rec := newRecorder()
			out, err := p.Forward(context.Background(), rec, tgt, Call{Method: "GET", Path: tt.path, ContentLength: 0})
			wantError(t, err, catalog.InvalidParameterValue, http.StatusBadRequest)
			assertUntouched(t, rec)
			if out.Status != 0 {
				t.Errorf("Outcome.Status = %d, want 0", out.Status)
			}
			if n := up.hits.Load() - before; n != 0 {
				t.Errorf("upstream received %d requests, want none", n)
			}
		})
	}
	for _, tt := range goodPaths {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			rec := newRecorder()
			out, err := p.Forward(context.Background(), rec, tgt, Call{Method: "GET", Path: tt.path, RawQuery: "a=1", ContentLength: 0})
			if err != nil {
				t.Fatalf("Forward(%q): %v", tt.path, err)
			}
			got := decodeEcho(t, rec.Body.Bytes())
			if want := "/v1" + tt.want + "?a=1"; got.RequestURI != want {
				t.Errorf("upstream request URI = %q, want %q", got.RequestURI, want)
			}
			if out.Path != "/v1"+tt.want {
				t.Errorf("Outcome.Path = %q, want %q", out.Path, "/v1"+tt.want)
			}
		})
	}
	t.Run("empty path without a base path is /", func(t *testing.T) {
		rec := newRecorder()
		if _, err := p.Forward(context.Background(), rec, up.target(), Call{Method: "GET"}); err != nil {
			t.Fatal(err)
		}
		if got := decodeEcho(t, rec.Body.Bytes()).RequestURI; got != "/" {
			t.Errorf("upstream request URI = %q, want /", got)
		}
	})
}

// TestForwardPathsOverTheWire sends escapes in a raw request line to a real front server,
// so that the route prefix handling and r.URL.EscapedPath() are part of the test.
func TestForwardPathsOverTheWire(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{}, up)
	f := startFront(t, p, up.target(), false, nil)

	for _, path := range []string{"/proxy/../x", "/proxy/%2e%2e/x", "/proxy/.%2E/x", "/proxy/a/%2f/b", "/proxy/a%2Fb",
		"/proxy//evil.com/x", `/proxy/a\b`, "/proxy/a%5cb", "/proxy/%00", "/proxy/a/./b", "/proxy/a//b"} {
		t.Run(path, func(t *testing.T) {
			status := rawGet(t, f.Listener.Addr().String(), path)
			if status != http.StatusBadRequest {
				t.Errorf("GET %s: status %d, want 400", path, status)
			}
			if n := up.hits.Load(); n != 0 {
				t.Errorf("upstream received %d requests, want none", n)
			}
		})
	}
}

// rawGet sends a request line as written and returns the status.
func rawGet(t *testing.T, addr, target string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n", target)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestForwardRefusesMethodsAndQueries: TRACE would echo the credential back; a query
// must not be able to break the request line.
func TestForwardRefusesMethodsAndQueries(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{}, up)
	tests := []struct {
		name string
		call Call
	}{
		{"TRACE", Call{Method: "TRACE", Path: "/"}},
		{"lower-case trace", Call{Method: "trace", Path: "/"}},
		{"TRACK", Call{Method: "TRACK", Path: "/"}},
		{"CONNECT", Call{Method: "CONNECT", Path: "/"}},
		{"method with a space", Call{Method: "GET /x", Path: "/"}},
		{"query with a space", Call{Method: "GET", Path: "/", RawQuery: "a=1 HTTP/1.1"}},
		{"query with CRLF", Call{Method: "GET", Path: "/", RawQuery: "a=1\r\nX-Injected: 1"}},
		{"query with a fragment", Call{Method: "GET", Path: "/", RawQuery: "a=1#frag"}},
		{"header value with CRLF", Call{Method: "GET", Path: "/", Header: http.Header{"X-A": {"v\r\nX-Injected: 1"}}}},
		{"header name with a space", Call{Method: "GET", Path: "/", Header: http.Header{"X A": {"v"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			_, err := p.Forward(context.Background(), rec, up.target(), tt.call)
			wantError(t, err, catalog.InvalidParameterValue, http.StatusBadRequest)
			assertUntouched(t, rec)
			if n := up.hits.Load(); n != 0 {
				t.Errorf("upstream received %d requests, want none", n)
			}
		})
	}
}

// TestForwardRedirectsNotFollowed: a redirect to another host comes back as it is, and
// the other host, which would receive the credential if it were followed, sees nothing.
func TestForwardRedirectsNotFollowed(t *testing.T) {
	other := startUpstream(t, echoHandler, false)
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			location := "https://" + other.addr() + "/steal?from=" + strconv.Itoa(status)
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, location, status)
			}, false)
			p := newTestProxy(t, Config{}, up, other)
			rec := newRecorder()
			out, err := p.Forward(context.Background(), rec, up.target(), Call{Method: "POST", Path: "/x", Body: strings.NewReader("payload"), ContentLength: 7})
			if err != nil {
				t.Fatalf("Forward: %v", err)
			}
			if rec.Code != status || out.Status != status {
				t.Errorf("status = %d (outcome %d), want %d", rec.Code, out.Status, status)
			}
			if got := rec.Header().Get("Location"); got != location {
				t.Errorf("Location = %q, want %q", got, location)
			}
			if n := other.hits.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests, want none", n)
			}
		})
	}
}

// TestForwardResponse: status, headers (multiple values included), body and trailers
// come back unchanged, less Set-Cookie, hop-by-hop headers, Alt-Svc and any
// X-Gatehouse-* header the upstream sends; the caller's request id survives.
func TestForwardResponse(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	handler := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/vnd.test+json")
		h.Set("X-Custom", "custom-value")
		h["X-Multi"] = []string{"a", "b"}
		h.Add("Set-Cookie", "session=upstream-shared-identity; Path=/")
		h.Add("Set-Cookie", "other=1")
		h.Set("X-Gatehouse-Foo", "spoof")
		h.Set("X-Gatehouse-Request-Id", "spoofed-id")
		h.Set("Alt-Svc", `h3=":443"`)
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "1")
		h.Set("Trailer", "X-Checksum, X-Gatehouse-Trailer, Set-Cookie")
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = w.Write(body)
		h.Set("X-Checksum", "abc")
		h.Set("X-Gatehouse-Trailer", "spoof")
		h.Set("Set-Cookie", "late=1")
		h.Set(http.TrailerPrefix+"X-Late", "late")
	}
	for _, tt := range []struct {
		name      string
		upstream2 bool
		front2    bool
	}{
		{"HTTP/1.1 throughout", false, false},
		{"HTTP/2 upstream", true, false},
		{"HTTP/2 both sides", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := startUpstream(t, handler, tt.upstream2)
			p := newTestProxy(t, Config{}, up)
			f := startFront(t, p, up.target(), tt.front2, nil)
			res, err := f.Client().Get(f.URL + "/proxy/resource")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if res.StatusCode != http.StatusMultiStatus {
				t.Errorf("status = %d, want 207", res.StatusCode)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("body: %d bytes, differs from the upstream's %d", len(got), len(body))
			}
			want := http.Header{
				"Content-Type":           {"application/vnd.test+json"},
				"X-Custom":               {"custom-value"},
				"X-Multi":                {"a", "b"},
				"X-Gatehouse-Request-Id": {"req-123"},
			}
			for k, v := range want {
				if diff := cmp.Diff(v, res.Header.Values(k)); diff != "" {
					t.Errorf("header %s (-want +got):\n%s", k, diff)
				}
			}
			stripped := []string{"Set-Cookie", "X-Gatehouse-Foo", "Alt-Svc"}
			if !tt.upstream2 {
				// HTTP/2 has no Connection header; the upstream's server drops it.
				stripped = append(stripped, "X-Hop")
			}
			for _, k := range stripped {
				if v := res.Header.Values(k); v != nil {
					t.Errorf("caller received %s: %q, want it stripped", k, v)
				}
			}
			wantTrailer := http.Header{"X-Checksum": {"abc"}, "X-Late": {"late"}}
			if diff := cmp.Diff(wantTrailer, res.Trailer, cmp.Transformer("dropEmpty", func(h http.Header) http.Header {
				out := http.Header{}
				for k, v := range h {
					if len(v) > 0 {
						out[k] = v
					}
				}
				return out
			})); diff != "" {
				t.Errorf("trailers (-want +got):\n%s", diff)
			}
			if r := f.result(t); r.err != nil || r.out.Status != http.StatusMultiStatus || r.out.BytesOut != int64(len(body)) {
				t.Errorf("Forward = %+v, %v", r.out, r.err)
			}
		})
	}
}

// TestForwardHead: a HEAD answer keeps its Content-Length and has no body.
func TestForwardHead(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		w.WriteHeader(200)
	}, false)
	p := newTestProxy(t, Config{}, up)
	f := startFront(t, p, up.target(), false, nil)
	res, err := f.Client().Head(f.URL + "/proxy/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != 1234 {
		t.Errorf("HEAD: status %d, length %d, want 200 and 1234", res.StatusCode, res.ContentLength)
	}
	if r := f.result(t); r.err != nil {
		t.Errorf("Forward: %v", r.err)
	}
}

// TestForwardServerSentEvents: each event reaches the caller as soon as the upstream
// sent it, not when the stream ends.
func TestForwardServerSentEvents(t *testing.T) {
	const events = 5
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		for i := range events {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "id: %d\ndata: %d\n\n", i, time.Now().UnixNano())
			_ = rc.Flush()
		}
	}
	for _, tt := range []struct {
		name      string
		upstream2 bool
		front2    bool
	}{
		{"HTTP/1.1 throughout", false, false},
		{"HTTP/2 both sides", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := startUpstream(t, handler, tt.upstream2)
			p := newTestProxy(t, Config{}, up)
			f := startFront(t, p, up.target(), tt.front2, nil)
			res, err := f.Client().Get(f.URL + "/proxy/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type = %q", ct)
			}
			sc := bufio.NewScanner(res.Body)
			got := 0
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				sent, err := strconv.ParseInt(data, 10, 64)
				if err != nil {
					t.Fatalf("bad event %q", data)
				}
				if delay := time.Since(time.Unix(0, sent)); delay > 100*time.Millisecond {
					t.Errorf("event %d arrived %v after it was sent, want < 100ms", got, delay)
				}
				got++
			}
			if err := sc.Err(); err != nil {
				t.Fatalf("read stream: %v", err)
			}
			if got != events {
				t.Errorf("received %d events, want %d", got, events)
			}
			if r := f.result(t); r.err != nil {
				t.Errorf("Forward: %v", r.err)
			}
		})
	}
}

// TestTargetDoesNotLeakCredential: printing a Target never shows the credential.
func TestTargetDoesNotLeakCredential(t *testing.T) {
	tgt := Target{Scheme: "https", Host: "api.example.com", BasePath: "/v1", AuthHeader: "Authorization", AuthValue: credential}
	for _, s := range []string{fmt.Sprint(tgt), fmt.Sprintf("%v", tgt), fmt.Sprintf("%+v", tgt), fmt.Sprintf("%#v", tgt), fmt.Sprintf("%s", tgt)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("formatted Target %q shows the credential", s)
		}
	}
}

// TestForwardOriginIsolation is the permanent table of the headers that keep upstream
// content from running as Gatehouse's own page: whatever the upstream answers, the
// caller gets Content-Security-Policy: sandbox as a policy of its own (beside any of
// the upstream's, which still applies) and exactly X-Content-Type-Options: nosniff.
func TestForwardOriginIsolation(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		wantCSP []string
		body    string // "" skips the body check
	}{
		{
			name: "HTML page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "<script>steal(document.cookie)</script>")
			},
			wantCSP: []string{"sandbox"},
			body:    "<script>steal(document.cookie)</script>",
		},
		{
			name: "no content type (sniffable)",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil
				_, _ = io.WriteString(w, "<html><script>x()</script>")
			},
			wantCSP: []string{"sandbox"},
		},
		{
			name: "upstream's own CSP kept, ours added beside it",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'")
				_, _ = io.WriteString(w, "<p>hi</p>")
			},
			wantCSP: []string{"default-src 'self'; script-src 'unsafe-inline'", "sandbox"},
		},
		{
			name: "upstream's several CSP headers kept",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Security-Policy"] = []string{"frame-ancestors 'none'", "sandbox allow-scripts"}
				_, _ = io.WriteString(w, "x")
			},
			wantCSP: []string{"frame-ancestors 'none'", "sandbox allow-scripts", "sandbox"},
		},
		{
			name: "nosniff already sent: not doubled",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				_, _ = io.WriteString(w, `{"a":1}`)
			},
			wantCSP: []string{"sandbox"},
			body:    `{"a":1}`,
		},
		{
			name: "another X-Content-Type-Options value replaced",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["X-Content-Type-Options"] = []string{"sniff-please", "nosniff"}
				_, _ = io.WriteString(w, "x")
			},
			wantCSP: []string{"sandbox"},
		},
		{
			name: "server-sent events",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				_ = http.NewResponseController(w).Flush()
				_, _ = io.WriteString(w, "data: one\n\n")
			},
			wantCSP: []string{"sandbox"},
			body:    "data: one\n\n",
		},
		{
			name:   "HEAD",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Length", "10")
			},
			wantCSP: []string{"sandbox"},
		},
		{
			name: "error status and redirect alike",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "https://elsewhere.example/")
				w.WriteHeader(http.StatusFound)
			},
			wantCSP: []string{"sandbox"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startUpstream(t, tt.handler, false)
			p := newTestProxy(t, Config{}, up)
			f := startFront(t, p, up.target(), false, nil)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, f.URL+"/proxy/page", nil)
			if err != nil {
				t.Fatal(err)
			}
			client := f.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if diff := cmp.Diff(tt.wantCSP, res.Header.Values("Content-Security-Policy")); diff != "" {
				t.Errorf("Content-Security-Policy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"nosniff"}, res.Header.Values("X-Content-Type-Options")); diff != "" {
				t.Errorf("X-Content-Type-Options (-want +got):\n%s", diff)
			}
			if tt.body != "" && string(got) != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if r := f.result(t); r.err != nil {
				t.Errorf("Forward: %v", r.err)
			}
		})
	}
	// The shared values must come out of a second call unchanged.
	if sandboxCSP[0] != "sandbox" || nosniff[0] != "nosniff" || cap(sandboxCSP) != 1 || cap(nosniff) != 1 {
		t.Errorf("shared header values changed: %q %q", sandboxCSP, nosniff)
	}
}

// TestForwardEventStreamHints: with EventStreamHints, an event stream gets
// "X-Accel-Buffering: no" and the comment line ": ok" before the upstream's bytes
// (which Outcome.BytesOut counts alone); other responses, and every response without
// the hints (the transparent proxy), pass byte for byte.
func TestForwardEventStreamHints(t *testing.T) {
	const sse, js = "data: 1\n\n", `{"a":1}`
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, js)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, sse)
	}, false)
	p := newTestProxy(t, Config{}, up)
	for _, tt := range []struct {
		name, path  string
		hints       bool
		wantBody    string
		wantBuffers string
	}{
		{name: "event stream with hints", path: "/sse", hints: true, wantBody: ": ok\n\n" + sse, wantBuffers: "no"},
		{name: "event stream without hints", path: "/sse", wantBody: sse},
		{name: "JSON with hints", path: "/json", hints: true, wantBody: js},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			out, err := p.Forward(context.Background(), rec, up.target(), Call{Method: "GET", Path: tt.path, Header: http.Header{}, EventStreamHints: tt.hints})
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body %q, want %q", got, tt.wantBody)
			}
			if got := rec.Header().Get("X-Accel-Buffering"); got != tt.wantBuffers {
				t.Errorf("X-Accel-Buffering %q, want %q", got, tt.wantBuffers)
			}
			if want := int64(len(strings.TrimPrefix(tt.wantBody, ": ok\n\n"))); out.BytesOut != want {
				t.Errorf("BytesOut %d, want %d", out.BytesOut, want)
			}
		})
	}
}
