package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoed is what the echo upstream received.
type echoed struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawPath  string              `json:"raw_path"`
	RawQuery string              `json:"raw_query"`
	Host     string              `json:"host"`
	Header   map[string][]string `json:"header"`
	Body     string              `json:"body"`
}

// upstream is a TLS server on loopback that counts requests and, by default, echoes
// what it received as JSON.
type upstream struct {
	*httptest.Server
	hits   atomic.Int64
	caFile string
	mu     sync.Mutex
	last   *echoed
}

// authHash is how the echo upstream shows a credential header it received.
func authHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(h[:])
}

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			// The credential is echoed as a hash, so that the canary scans of the
			// caller's responses stay meaningful.
			h := r.Header.Clone()
			for k, vs := range h {
				if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "X-Api-Key") {
					for i := range vs {
						vs[i] = authHash(vs[i])
					}
				}
			}
			e := &echoed{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Host: r.Host, Header: h, Body: string(b)}
			u.mu.Lock()
			u.last = e
			u.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Upstream", "yes")
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			w.WriteHeader(http.StatusTeapot)
			_ = json.NewEncoder(w).Encode(e)
		}
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	u.StartTLS()
	t.Cleanup(u.Close)
	u.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.Certificate().Raw})
	if err := os.WriteFile(u.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return u
}

// proxyWorld is a Gatehouse with one bearer connection "echo" to an upstream, a user
// alice who holds USE_CONNECTION on it, and helpers to call through it.
type proxyWorld struct {
	ts      *testServer
	up      *upstream
	alice   string
	aliceID string
	canary  string
	caFiles []string
}

func newProxyWorld(t testing.TB, up *upstream, args ...string) *proxyWorld {
	t.Helper()
	if up == nil {
		up = newUpstream(t, nil)
	}
	w := &proxyWorld{up: up, canary: "CANARY-bearer-" + fmt.Sprint(time.Now().UnixNano())}
	w.ts = startServer(t, "", nil, append([]string{"--upstream-ca-file", up.caFile}, args...)...)
	w.aliceID, w.alice = w.ts.mkUser("alice@example.com")
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "echo", "options": map[string]string{
		"host": up.URL, "base_path": "/base", "bearer_token": w.canary}}, nil)
	w.ts.grant("connection", "echo", "alice@example.com", "USE_CONNECTION")
	return w
}

// call sends a request through the transparent proxy as alice (or the given token).
func (w *proxyWorld) call(token, method, path string, header http.Header, body string) (*http.Response, []byte) {
	w.ts.t.Helper()
	req, err := http.NewRequest(method, w.ts.URL+"/api/2.0/unity-catalog/connections/echo/proxy"+path, strings.NewReader(body))
	if err != nil {
		w.ts.t.Fatal(err)
	}
	// Opaque keeps the path exactly as written, escapes and dots included.
	req.URL.Opaque = "//" + req.URL.Host + "/api/2.0/unity-catalog/connections/echo/proxy" + path
	if i := strings.IndexByte(req.URL.Opaque, '?'); i >= 0 {
		req.URL.RawQuery = req.URL.Opaque[i+1:]
		req.URL.Opaque = req.URL.Opaque[:i]
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		w.ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w.ts.responses.Write(b)
	for k, vs := range resp.Header {
		w.ts.responses.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
	}
	return resp, b
}

func (w *proxyWorld) lastEcho(t *testing.T, b []byte) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("upstream echo: %v in %s", err, b)
	}
	return e
}

func TestProxyRules(t *testing.T) {
	w := newProxyWorld(t, nil)
	other := newUpstream(t, nil)
	t.Run("credential injected, caller's Authorization never passed", func(t *testing.T) {
		for _, hdr := range []http.Header{
			{},
			{"Connection": {"Authorization"}},
			{"Connection": {"X-Other, Authorization"}, "X-Other": {"x"}},
		} {
			resp, b := w.call(w.alice, "GET", "/repos/o/r", hdr, "")
			if resp.StatusCode != http.StatusTeapot {
				t.Fatalf("status %d %s", resp.StatusCode, b)
			}
			e := w.lastEcho(t, b)
			if got := e.Header["Authorization"]; len(got) != 1 || got[0] != authHash("Bearer "+w.canary) {
				t.Errorf("upstream Authorization = %v, want the connection's bearer token (headers %v)", len(got), hdr)
			}
			if strings.Contains(strings.Join(e.Header["Authorization"], ","), authHash("Bearer "+w.alice)) {
				t.Errorf("the caller's token reached the upstream")
			}
		}
	})
	t.Run("path lands under base_path with query preserved", func(t *testing.T) {
		_, b := w.call(w.alice, "GET", "/search/issues?q=a%20b&x=1&x=2", nil, "")
		e := w.lastEcho(t, b)
		if e.Path != "/base/search/issues" || e.RawQuery != "q=a%20b&x=1&x=2" {
			t.Errorf("upstream got %s ? %s", e.Path, e.RawQuery)
		}
	})
	t.Run("client Host, Cookie, X-Forwarded-*, Forwarded and X-Gatehouse-* not passed", func(t *testing.T) {
		hdr := http.Header{"Cookie": {"s=1"}, "X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Host": {"evil"}, "Forwarded": {"for=1.2.3.4"},
			"X-Gatehouse-Principal": {"admin"}, "Proxy-Authorization": {"Basic eA=="}, "X-Keep": {"kept"}}
		req := hdr.Clone()
		_, b := w.call(w.alice, "POST", "/x", req, "hello")
		e := w.lastEcho(t, b)
		for _, h := range []string{"Cookie", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Gatehouse-Principal", "Proxy-Authorization"} {
			if _, ok := e.Header[h]; ok {
				t.Errorf("upstream received %s", h)
			}
		}
		if e.Header["X-Keep"][0] != "kept" || e.Body != "hello" || e.Method != "POST" {
			t.Errorf("upstream got %+v", e)
		}
		if e.Host != strings.TrimPrefix(w.up.URL, "https://") {
			t.Errorf("upstream Host = %q, want %q", e.Host, strings.TrimPrefix(w.up.URL, "https://"))
		}
	})
	// Permanent table: headers that would let an upstream (or its framework) route by
	// another URL or method than the request line's never pass, on either surface.
	for _, tt := range []struct {
		name   string
		header map[string]string
		absent []string
	}{
		{"X-Original-URL", map[string]string{"X-Original-URL": "/admin"}, []string{"X-Original-Url"}},
		{"X-Rewrite-URL", map[string]string{"X-Rewrite-URL": "/admin"}, []string{"X-Rewrite-Url"}},
		{"X-HTTP-Method-Override", map[string]string{"X-HTTP-Method-Override": "DELETE"}, []string{"X-Http-Method-Override"}},
		{"X-HTTP-Method", map[string]string{"X-HTTP-Method": "DELETE"}, []string{"X-Http-Method"}},
		{"X-Method-Override", map[string]string{"X-Method-Override": "DELETE"}, []string{"X-Method-Override"}},
		{"X-Original-URI (nginx)", map[string]string{"X-Original-URI": "/admin"}, []string{"X-Original-Uri"}},
		{"X-Original-Method (nginx)", map[string]string{"X-Original-Method": "DELETE"}, []string{"X-Original-Method"}},
		{"underscore spelling", map[string]string{"X_Original_URL": "/admin", "X_HTTP_Method_Override": "DELETE"},
			[]string{"X_original_url", "X_Original_URL", "X_http_method_override", "X_HTTP_Method_Override"}},
		{"named in Connection", map[string]string{"Connection": "X-Original-URL, X-HTTP-Method-Override", "X-Original-URL": "/admin", "X-HTTP-Method-Override": "DELETE"},
			[]string{"X-Original-Url", "X-Http-Method-Override", "Connection"}},
	} {
		t.Run("override header not passed: "+tt.name, func(t *testing.T) {
			hdr := http.Header{}
			for k, v := range tt.header {
				hdr[k] = []string{v} // as written: the underscore spellings stay uncanonical
			}
			check := func(surface string, status int, b []byte) {
				t.Helper()
				if status != http.StatusTeapot {
					t.Fatalf("%s = %d %s", surface, status, b)
				}
				e := w.lastEcho(t, b)
				if e.Method != "GET" || e.Path != "/base/public" {
					t.Errorf("%s: upstream got %s %s, want GET /base/public", surface, e.Method, e.Path)
				}
				for _, h := range tt.absent {
					if v, ok := e.Header[h]; ok {
						t.Errorf("%s: upstream received %s: %q", surface, h, v)
					}
				}
				for k, vv := range e.Header {
					for _, v := range vv {
						if v == "/admin" || v == "DELETE" {
							t.Errorf("%s: upstream received the override in %s: %q", surface, k, v)
						}
					}
				}
			}
			resp, b := w.call(w.alice, "GET", "/public", hdr, "")
			check("proxy", resp.StatusCode, b)
			hj, _ := json.Marshal(tt.header)
			status, b := w.ts.do("POST", "/api/2.0/external-function", w.alice, map[string]any{
				"connection_name": "echo", "method": "GET", "path": "/public", "headers": string(hj)})
			check("external-function", status, b)
		})
	}
	t.Run("status, headers and body come back unchanged", func(t *testing.T) {
		resp, b := w.call(w.alice, "GET", "/y", nil, "")
		if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Upstream") != "yes" || strings.Join(resp.Header.Values("X-Multi"), ",") != "a,b" {
			t.Errorf("response %d %v", resp.StatusCode, resp.Header)
		}
		if e := w.lastEcho(t, b); e.Path != "/base/y" {
			t.Errorf("body %s", b)
		}
		if resp.Header.Get("X-Gatehouse-Request-Id") == "" {
			t.Errorf("no request id")
		}
	})
	t.Run("path escapes refused before the upstream", func(t *testing.T) {
		for _, p := range []string{"/../x", "/a/../../x", "/%2e%2e/x", "/.%2E/x", "/%2E%2e/admin", "/a/%2f/b", "/a%2Fb", "//evil.com/x", `/a\b`, "/a%5cb", "/a/./b", "/a//b", "/%00"} {
			before := w.up.hits.Load()
			resp, b := w.call(w.alice, "GET", p, nil, "")
			if resp.StatusCode != 400 {
				t.Errorf("path %q = %d %s, want 400", p, resp.StatusCode, b)
				continue
			}
			decodeErr(t, b)
			if w.up.hits.Load() != before {
				t.Errorf("path %q reached the upstream", p)
			}
		}
	})
	t.Run("redirect to another host returned, never followed", func(t *testing.T) {
		redir := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, other.URL+"/steal", http.StatusFound)
		})
		w2 := newProxyWorld(t, redir)
		resp, _ := w2.call(w2.alice, "GET", "/go", nil, "")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != other.URL+"/steal" {
			t.Errorf("redirect answer = %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if other.hits.Load() != 0 {
			t.Errorf("the other host received %d requests", other.hits.Load())
		}
	})
	t.Run("external-function carries the same rules", func(t *testing.T) {
		status, b := w.ts.do("POST", "/api/2.0/external-function", w.alice, map[string]any{
			"connection_name": "echo", "method": "POST", "path": "/issues",
			"headers": `{"Authorization": "Bearer stolen", "X-Keep": "k"}`, "params": map[string]string{"state": "open"},
			"json": map[string]any{"title": "t"}})
		if status != http.StatusTeapot {
			t.Fatalf("external-function = %d %s", status, b)
		}
		e := w.lastEcho(t, b)
		if e.Path != "/base/issues" || e.RawQuery != "state=open" || e.Header["Authorization"][0] != authHash("Bearer "+w.canary) || e.Header["X-Keep"][0] != "k" || !strings.Contains(e.Body, `"title"`) {
			t.Errorf("upstream got %+v", e)
		}
		status, b = w.ts.do("POST", "/api/2.0/external-function", w.alice, map[string]any{
			"connection_name": "echo", "method": "GET", "path": "/../admin"})
		if status != 400 {
			t.Errorf("external-function escape = %d %s", status, b)
		}
		status, b = w.ts.do("POST", "/api/2.0/external-function", w.alice, map[string]any{
			"connection_name": "echo", "method": "PUT", "path": "/raw", "body": base64.StdEncoding.EncodeToString([]byte("raw bytes"))})
		if status != http.StatusTeapot || w.lastEcho(t, b).Body != "raw bytes" {
			t.Errorf("external-function base64 body = %d %s", status, b)
		}
	})
}

func TestProxyDecisions(t *testing.T) {
	w := newProxyWorld(t, nil)
	_, bobTok := w.ts.mkUser("bob@example.com")
	tests := []struct {
		name   string
		token  string
		path   string
		status int
		msg    string
	}{
		{"no token", "", "/api/2.0/unity-catalog/connections/echo/proxy/x", 401, "no access token"},
		{"garbage token", "gth_garbage", "/api/2.0/unity-catalog/connections/echo/proxy/x", 401, "invalid access token"},
		{"missing connection", w.alice, "/api/2.0/unity-catalog/connections/nope/proxy/x", 404, "Connection 'nope' does not exist"},
		{"no grant", bobTok, "/api/2.0/unity-catalog/connections/echo/proxy/x", 403, "User bob@example.com does not have USE_CONNECTION on connection echo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.up.hits.Load()
			status, b := w.ts.do("GET", tc.path, tc.token, nil)
			if status != tc.status || !strings.Contains(decodeErr(t, b).Message, tc.msg) {
				t.Errorf("= %d %s, want %d with %q", status, b, tc.status, tc.msg)
			}
			if w.up.hits.Load() != before {
				t.Errorf("the upstream was called")
			}
		})
	}
}

// TestRotationAndRevocation: a PATCH of the token is used by the very next call; a
// revoke, a disable and a deactivation each refuse the very next call, and the upstream
// sees nothing more.
func TestRotationAndRevocation(t *testing.T) {
	w := newProxyWorld(t, nil)
	ts := w.ts
	callOK := func(wantToken string) {
		t.Helper()
		resp, b := w.call(w.alice, "GET", "/x", nil, "")
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("call = %d %s", resp.StatusCode, b)
		}
		if got := w.lastEcho(t, b).Header["Authorization"][0]; got != authHash("Bearer "+wantToken) {
			t.Fatalf("upstream did not get the expected token")
		}
	}
	refused := func(what string, status int) {
		t.Helper()
		before := w.up.hits.Load()
		for i := 0; i < 3; i++ {
			resp, b := w.call(w.alice, "GET", "/x", nil, "")
			if resp.StatusCode != status {
				t.Fatalf("after %s: call = %d %s, want %d", what, resp.StatusCode, b, status)
			}
		}
		if w.up.hits.Load() != before {
			t.Fatalf("after %s the upstream saw %d more requests", what, w.up.hits.Load()-before)
		}
	}
	for i := 0; i < 5; i++ {
		callOK(w.canary)
	}
	rotated := "CANARY-rotated-" + fmt.Sprint(time.Now().UnixNano())
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/echo", ts.Admin, map[string]any{"options": map[string]string{"host": w.up.URL, "base_path": "/base", "bearer_token": rotated}}, nil)
	callOK(rotated)

	// Revoke.
	ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/echo", ts.Admin, map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "remove": []string{"USE_CONNECTION"}}}}, nil)
	refused("revoke", 403)
	ts.grant("connection", "echo", "alice@example.com", "USE_CONNECTION")
	callOK(rotated)

	// Disable.
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/echo", ts.Admin, map[string]any{"enabled": false}, nil)
	refused("disable", 403)
	_, b := w.call(w.alice, "GET", "/x", nil, "")
	if !strings.Contains(string(b), "connection echo is disabled") {
		t.Errorf("disabled message = %s", b)
	}
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/echo", ts.Admin, map[string]any{"enabled": true}, nil)
	callOK(rotated)

	// Deactivate alice.
	ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+w.aliceID, ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
	refused("deactivation", 401)
}

// TestRevocationUnderLoad: calls run in a loop from several goroutines; once the revoke
// returns, no call that starts afterwards reaches the upstream.
func TestRevocationUnderLoad(t *testing.T) {
	w := newProxyWorld(t, nil)
	var revokedAt atomic.Int64 // upstream hit count when the revoke returned; 0 = not yet
	var lateAllowed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				started := revokedAt.Load() != 0
				req, _ := http.NewRequest("GET", w.ts.URL+"/api/2.0/unity-catalog/connections/echo/proxy/x", nil)
				req.Header.Set("Authorization", "Bearer "+w.alice)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if started && resp.StatusCode != 403 {
					lateAllowed.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if w.up.hits.Load() == 0 {
		t.Fatal("no call reached the upstream before the revoke")
	}
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/echo", w.ts.Admin, map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "remove": []string{"USE_CONNECTION"}}}}, nil)
	revokedAt.Store(w.up.hits.Load())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := lateAllowed.Load(); n != 0 {
		t.Errorf("%d calls started after the revoke were allowed", n)
	}
	// Calls in flight when the revoke committed may still land; none may start after.
	if extra := w.up.hits.Load() - revokedAt.Load(); extra > 4 {
		t.Errorf("the upstream saw %d requests after the revoke (at most the 4 in flight allowed)", extra)
	}
}

func TestSSEStreamsEventByEvent(t *testing.T) {
	sent := make(chan time.Time, 10)
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/event-stream")
		rw.WriteHeader(200)
		fl := rw.(http.Flusher)
		fl.Flush()
		for i := 0; i < 4; i++ {
			time.Sleep(500 * time.Millisecond)
			fmt.Fprintf(rw, "id: %d\ndata: event %d\n\n", i, i)
			fl.Flush()
			sent <- time.Now()
		}
	})
	w := newProxyWorld(t, up)
	req, _ := http.NewRequest("GET", w.ts.URL+"/api/2.0/unity-catalog/connections/echo/proxy/events", nil)
	req.Header.Set("Authorization", "Bearer "+w.alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := 0; i < 4; i++ {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if strings.HasPrefix(line, "data:") {
				break
			}
		}
		got := time.Now()
		lag := got.Sub(<-sent)
		if lag > 100*time.Millisecond {
			t.Errorf("event %d arrived %v after it was sent, want under 100ms", i, lag)
		}
	}
}

func TestProxyLimits(t *testing.T) {
	slow := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	w := newProxyWorld(t, slow, "--proxy-max-body-bytes", "1024", "--upstream-header-timeout", "300ms")
	t.Run("oversized request body", func(t *testing.T) {
		before := slow.hits.Load()
		resp, b := w.call(w.alice, "POST", "/upload", nil, strings.Repeat("x", 2048))
		if resp.StatusCode != 413 {
			t.Fatalf("= %d %s, want 413", resp.StatusCode, b)
		}
		decodeErr(t, b)
		if slow.hits.Load() != before {
			t.Errorf("the upstream received the oversized body")
		}
	})
	t.Run("oversized chunked body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < 4; i++ {
				pw.Write([]byte(strings.Repeat("y", 512)))
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", w.ts.URL+"/api/2.0/unity-catalog/connections/echo/proxy/upload", pr)
		req.Header.Set("Authorization", "Bearer "+w.alice)
		resp, b := send(t, req)
		if resp != 413 {
			t.Fatalf("= %d %s, want 413", resp, b)
		}
	})
	t.Run("slow upstream", func(t *testing.T) {
		start := time.Now()
		resp, b := w.call(w.alice, "GET", "/slow", nil, "")
		if resp.StatusCode != 504 || decodeErr(t, b).ErrorCode != "UPSTREAM_TIMEOUT" {
			t.Fatalf("= %d %s, want 504 UPSTREAM_TIMEOUT", resp.StatusCode, b)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v, want about the 300ms header timeout", d)
		}
	})
	t.Run("unreachable upstream", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "dead", "options": map[string]string{"host": "https://" + addr, "bearer_token": "t"}}, nil)
		status, b := w.ts.do("GET", "/api/2.0/unity-catalog/connections/dead/proxy/x", w.ts.Admin, nil)
		if status != 502 || decodeErr(t, b).ErrorCode != "UPSTREAM_ERROR" {
			t.Fatalf("= %d %s, want 502 UPSTREAM_ERROR", status, b)
		}
	})
}

// TestProxyResponseIsolation: upstream content reaches the caller on Gatehouse's own
// origin, so every proxied answer carries Content-Security-Policy: sandbox (beside the
// upstream's own policy) and X-Content-Type-Options: nosniff, on the transparent proxy
// and on external-function alike.
func TestProxyResponseIsolation(t *testing.T) {
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		switch r.URL.Path {
		case "/base/html":
			h.Set("Content-Type", "text/html")
			_, _ = io.WriteString(rw, "<script>fetch('/api/2.0/token/create')</script>")
		case "/base/csp":
			h.Set("Content-Type", "text/html")
			h.Set("Content-Security-Policy", "default-src 'none'")
			_, _ = io.WriteString(rw, "<p>x</p>")
		case "/base/nosniff":
			h.Set("Content-Type", "application/json")
			h.Set("X-Content-Type-Options", "nosniff")
			_, _ = io.WriteString(rw, "{}")
		case "/base/sse":
			h.Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(rw, "data: x\n\n")
		default:
			http.NotFound(rw, r)
		}
	})
	w := newProxyWorld(t, up)
	for _, tt := range []struct {
		path    string
		wantCSP string
	}{
		{"/html", "sandbox"},
		{"/csp", "default-src 'none',sandbox"},
		{"/nosniff", "sandbox"},
		{"/sse", "sandbox"},
		{"/missing", "sandbox"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			check := func(surface string, h http.Header) {
				t.Helper()
				if got := strings.Join(h.Values("Content-Security-Policy"), ","); got != tt.wantCSP {
					t.Errorf("%s: Content-Security-Policy = %q, want %q", surface, got, tt.wantCSP)
				}
				if got := strings.Join(h.Values("X-Content-Type-Options"), ","); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options = %q, want nosniff", surface, got)
				}
			}
			resp, _ := w.call(w.alice, "GET", tt.path, nil, "")
			check("proxy", resp.Header)

			body, _ := json.Marshal(map[string]any{"connection_name": "echo", "method": "GET", "path": tt.path})
			req, _ := http.NewRequest("POST", w.ts.URL+"/api/2.0/external-function", strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+w.alice)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			check("external-function", res.Header)
		})
	}
}
