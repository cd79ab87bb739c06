package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP proxy, end to end: an MCP server built with the official Go SDK behind a
// bearer check on loopback HTTPS, the SDK's Streamable HTTP client in front of
// Gatehouse's /api/2.0/mcp/external/{name}.

// mcpWorld is a Gatehouse with an MCP connection "tools" (bearer credential) to an SDK
// server, a non-MCP connection "plain" to the same upstream, a user alice who holds
// USE_CONNECTION on both and a user bob who holds nothing.
type mcpWorld struct {
	ts     *testServer
	up     *upstream
	canary string
	alice  string
	bob    string
	// aliceID is alice's SCIM id.
	aliceID string
	// handler serves the upstream; swapping it forgets every session (an expiry).
	handler atomic.Pointer[http.Handler]
	mu      sync.Mutex
	seen    []*http.Request // every request the upstream received (header, method, path)
	// stateless builds the SDK handler in stateless mode.
	stateless bool
	// getDone, when set, receives once for every upstream GET whose context ended.
	getDone atomic.Pointer[chan struct{}]
}

// newMCPServer builds the SDK server with its tools: echo (returns its text) and
// progress (three progress notifications, then a result).
func newMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "upstream", Version: "1.0.0"}, nil)
	type echoIn struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "echoes its text"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo:" + in.Text}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "progress", Description: "reports progress"}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		for i := 1; i <= 3; i++ {
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: 3, Message: fmt.Sprint("step ", i)}); err != nil {
				return nil, nil, err
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	})
	return s
}

// extra are more server flags (issue 10: --http2-cleartext).
func newMCPWorld(t *testing.T, stateless bool, extra ...string) *mcpWorld {
	t.Helper()
	w := &mcpWorld{canary: "CANARY-mcp-" + fmt.Sprint(time.Now().UnixNano()), stateless: stateless}
	w.reset()
	w.up = newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, &http.Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()})
		w.mu.Unlock()
		if r.Method == http.MethodGet {
			if ch := w.getDone.Load(); ch != nil {
				ctx := r.Context()
				go func() { <-ctx.Done(); *ch <- struct{}{} }()
			}
		}
		// Headers the test upstream sends back, to see them pass the other way.
		rw.Header().Set("Mcp-Method", "echo-"+r.Header.Get("Mcp-Method"))
		rw.Header().Set("Mcp-Name", "echo-"+r.Header.Get("Mcp-Name"))
		if r.Header.Get("Authorization") != "Bearer "+w.canary {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		(*w.handler.Load()).ServeHTTP(rw, r)
	})
	w.ts = startServer(t, "", nil, append([]string{"--upstream-ca-file", w.up.caFile}, extra...)...)
	w.aliceID, w.alice = w.ts.mkUser("alice@example.com")
	_, w.bob = w.ts.mkUser("bob@example.com")
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "tools", "options": map[string]string{
		"host": w.up.URL, "base_path": "/mcp", "bearer_token": w.canary, "is_mcp_connection": "true"}}, nil)
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "plain", "options": map[string]string{
		"host": w.up.URL, "base_path": "/mcp", "bearer_token": w.canary}}, nil)
	w.ts.grant("connection", "tools", "alice@example.com", "USE_CONNECTION")
	w.ts.grant("connection", "plain", "alice@example.com", "USE_CONNECTION")
	return w
}

// reset installs a fresh SDK handler: every session the old one knew is gone.
func (w *mcpWorld) reset() {
	srv := newMCPServer()
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: w.stateless})
	w.handler.Store(&h)
}

// requests returns a copy of what the upstream received so far.
func (w *mcpWorld) requests() []*http.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*http.Request(nil), w.seen...)
}

func (w *mcpWorld) endpoint(name string) string { return w.ts.URL + "/api/2.0/mcp/external/" + name }

// bearer adds the caller's Gatehouse token to every request of the SDK client.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connect opens an SDK client session to the connection through Gatehouse.
func (w *mcpWorld) connect(t *testing.T, ctx context.Context, token, name string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, opts)
	tr := &mcp.StreamableClientTransport{Endpoint: w.endpoint(name), MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: token, base: &http.Transport{}}}}
	return c.Connect(ctx, tr, nil)
}

func callText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError || len(res.Content) != 1 {
		t.Fatalf("tool result: %+v", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("tool result content: %T", res.Content[0])
	}
	return tc.Text
}

// assertUpstreamHeaders checks that every upstream request went to the base path with
// the connection's credential, and that none carried any of the tokens (the callers'
// Gatehouse tokens) in a header or the query, plainly or encoded.
func (w *mcpWorld) assertUpstreamHeaders(t *testing.T, tokens ...string) {
	t.Helper()
	reqs := w.requests()
	if len(reqs) == 0 {
		t.Fatal("the upstream received nothing")
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+w.canary {
			t.Errorf("%s %s reached the upstream with Authorization %q, want the connection's credential", r.Method, r.URL.Path, got)
		}
		if r.URL.Path != "/mcp" {
			t.Errorf("upstream path %q, want the base path /mcp", r.URL.Path)
		}
		var all strings.Builder
		for k, vs := range r.Header {
			all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		for _, tok := range tokens {
			for _, form := range []string{tok, base64.StdEncoding.EncodeToString([]byte(tok)), base64.RawURLEncoding.EncodeToString([]byte(tok)), url.QueryEscape(tok)} {
				if strings.Contains(all.String(), form) || strings.Contains(r.URL.RawQuery, form) {
					t.Errorf("%s %s: the upstream saw the caller's Gatehouse token", r.Method, r.URL.Path)
				}
			}
		}
	}
}

// TestMCPProxySDK: initialize, tools/list, tools/call and a tool that streams progress
// over SSE, with the SDK on both sides; the session headers pass both ways, every
// upstream request carries the connection's credential and never alice's token, and
// closing the session sends DELETE upstream.
func TestMCPProxySDK(t *testing.T) {
	w := newMCPWorld(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var progress atomic.Int64
	cs, err := w.connect(t, ctx, w.alice, "tools", &mcp.ClientOptions{ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
		progress.Add(1)
	}})
	if err != nil {
		t.Fatalf("initialize through Gatehouse: %v", err)
	}
	if cs.ID() == "" {
		t.Error("no Mcp-Session-Id reached the client")
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "echo,progress" {
		t.Errorf("tools/list = %v, want echo,progress", names)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil {
		t.Fatalf("tools/call echo: %v", err)
	}
	if got := callText(t, res); got != "echo:hi" {
		t.Errorf("echo = %q", got)
	}
	params := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}
	params.SetProgressToken("p1")
	res, err = cs.CallTool(ctx, params)
	if err != nil {
		t.Fatalf("tools/call progress: %v", err)
	}
	if got := callText(t, res); got != "done" {
		t.Errorf("progress = %q", got)
	}
	// Notifications are delivered before the response on the same stream, but handled
	// asynchronously by the client: wait for them, bounded.
	for deadline := time.Now().Add(5 * time.Second); progress.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := progress.Load(); n != 3 {
		t.Errorf("client saw %d progress notifications, want 3", n)
	}
	sid := cs.ID()
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	var sawSession, sawVersion, sawDelete bool
	for _, r := range w.requests() {
		if r.Header.Get("Mcp-Session-Id") == sid {
			sawSession = true
		}
		if r.Header.Get("Mcp-Protocol-Version") != "" {
			sawVersion = true
		}
		if r.Method == http.MethodDelete && r.Header.Get("Mcp-Session-Id") == sid {
			sawDelete = true
		}
	}
	if !sawSession || !sawVersion || !sawDelete {
		t.Errorf("upstream saw session id %v, protocol version %v, DELETE %v; want all", sawSession, sawVersion, sawDelete)
	}
	w.assertUpstreamHeaders(t, w.alice, w.ts.Admin)
	// Every request was one useConnection event of alice's on "tools" (recorded
	// asynchronously: poll, bounded). The GET stream ends with the session, so every
	// request has ended by now.
	want := len(w.requests())
	uses := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var l auditList
		w.ts.must("GET", "/api/2.0/gatehouse/audit?max_results=1000&action=useConnection&connection=tools", w.ts.Admin, nil, &l)
		uses = 0
		for _, e := range l.Events {
			if e.Principal == "alice@example.com" && e.RequestParams["path"] == "/mcp" {
				uses++
			}
		}
		if uses >= want || time.Now().After(deadline) {
			break
		}
	}
	if uses != want {
		t.Errorf("%d useConnection events of alice on tools, want %d (one per request)", uses, want)
	}
	// The canary scan: neither the credential nor alice's token is in the log or the
	// audit records, in plain or base64.
	_, auditJSON := w.ts.do("GET", "/api/2.0/gatehouse/audit?max_results=1000", w.ts.Admin, nil)
	for what, text := range map[string]string{"log": w.ts.Stdout.String() + w.ts.Stderr.String(), "audit": string(auditJSON)} {
		for _, secret := range []string{w.canary, w.alice} {
			for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret))} {
				if strings.Contains(text, form) {
					t.Errorf("a secret appears in the %s", what)
				}
			}
		}
	}
}

// raw sends one request to the MCP proxy with the token (if any) and the headers.
func (w *mcpWorld) raw(t *testing.T, method, path, token, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, w.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp, b
}

const (
	mcpInitialize  = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	mcpInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	mcpToolsList   = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
)

var mcpPostHeader = map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

// initRaw opens a session without the SDK client and returns its id.
func (w *mcpWorld) initRaw(t *testing.T, token string) string {
	t.Helper()
	resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", token, mcpInitialize, mcpPostHeader)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize = %d (session %q): %s", resp.StatusCode, sid, b)
	}
	h := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
	for k, v := range mcpPostHeader {
		h[k] = v
	}
	if resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", token, mcpInitialized, h); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized = %d: %s", resp.StatusCode, b)
	}
	return sid
}

// TestMCPProxyRefusals: each refusal is Gatehouse's, in the decisions' order, and
// nothing reaches the upstream. A connection that is not an MCP connection is refused
// before USE_CONNECTION is looked at, so bob (no grant) gets the flag's 400 on "plain".
func TestMCPProxyRefusals(t *testing.T) {
	w := newMCPWorld(t, false)
	const base = "/api/2.0/mcp/external/"
	for _, tc := range []struct {
		name, method, path, token string
		wantStatus                int
		wantCode, wantMsg         string
	}{
		{name: "no token", method: "POST", path: base + "tools", wantStatus: 401, wantCode: "UNAUTHENTICATED"},
		{name: "bad token", method: "POST", path: base + "tools", token: "dapi-not-a-token", wantStatus: 401, wantCode: "UNAUTHENTICATED"},
		{name: "no such connection", method: "POST", path: base + "nope", token: w.alice, wantStatus: 404, wantCode: "RESOURCE_DOES_NOT_EXIST"},
		{name: "not an MCP connection", method: "POST", path: base + "plain", token: w.alice, wantStatus: 400, wantCode: "INVALID_PARAMETER_VALUE", wantMsg: "is_mcp_connection"},
		{name: "not an MCP connection, no grant", method: "GET", path: base + "plain", token: w.bob, wantStatus: 400, wantCode: "INVALID_PARAMETER_VALUE", wantMsg: "is_mcp_connection"},
		{name: "no grant POST", method: "POST", path: base + "tools", token: w.bob, wantStatus: 403, wantCode: "PERMISSION_DENIED", wantMsg: "USE_CONNECTION"},
		{name: "no grant GET", method: "GET", path: base + "tools", token: w.bob, wantStatus: 403, wantCode: "PERMISSION_DENIED", wantMsg: "USE_CONNECTION"},
		{name: "no grant DELETE", method: "DELETE", path: base + "tools", token: w.bob, wantStatus: 403, wantCode: "PERMISSION_DENIED", wantMsg: "USE_CONNECTION"},
		{name: "sub-path", method: "POST", path: base + "tools/admin", token: w.alice, wantStatus: 404, wantCode: "RESOURCE_DOES_NOT_EXIST"},
		// Like every route, another method is the catch-all's 404.
		{name: "PUT", method: "PUT", path: base + "tools", token: w.alice, wantStatus: 404, wantCode: "RESOURCE_DOES_NOT_EXIST"},
		{name: "PATCH", method: "PATCH", path: base + "tools", token: w.alice, wantStatus: 404, wantCode: "RESOURCE_DOES_NOT_EXIST"},
		{name: "HEAD", method: "HEAD", path: base + "tools", token: w.alice, wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.up.hits.Load()
			resp, b := w.raw(t, tc.method, tc.path, tc.token, mcpInitialize, mcpPostHeader)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantCode != "" {
				e := decodeErr(t, b)
				if e.ErrorCode != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
					t.Errorf("error %+v, want %s naming %q", e, tc.wantCode, tc.wantMsg)
				}
			}
			if n := w.up.hits.Load() - before; n != 0 {
				t.Errorf("%d requests reached the upstream", n)
			}
			if strings.Contains(string(b), w.canary) {
				t.Error("the credential is in the answer")
			}
		})
	}
}

// TestMCPProxySessionExpired: the upstream forgets the session; the upstream's 404
// passes through unchanged, the SDK client reports the session missing, and a new
// session works at once.
func TestMCPProxySessionExpired(t *testing.T) {
	w := newMCPWorld(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := w.connect(t, ctx, w.alice, "tools", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	sid := cs.ID()
	w.reset()

	h := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
	for k, v := range mcpPostHeader {
		h[k] = v
	}
	before := w.up.hits.Load()
	resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, mcpToolsList, h)
	if resp.StatusCode != http.StatusNotFound || w.up.hits.Load() != before+1 {
		t.Fatalf("expired session: %d %s (upstream hits +%d), want the upstream's 404", resp.StatusCode, b, w.up.hits.Load()-before)
	}
	if strings.Contains(string(b), "error_code") {
		t.Errorf("the 404 is Gatehouse's, not the upstream's: %s", b)
	}

	if _, err := cs.ListTools(ctx, nil); err == nil {
		t.Fatal("tools/list on an expired session succeeded")
	} else if !errors.Is(err, mcp.ErrSessionMissing) {
		t.Errorf("tools/list on the expired session: %v, want mcp.ErrSessionMissing (the upstream's 404 passed through)", err)
	}
	cs2, err := w.connect(t, ctx, w.alice, "tools", nil)
	if err != nil {
		t.Fatalf("re-initialize: %v", err)
	}
	defer cs2.Close()
	if cs2.ID() == sid {
		t.Error("the new session has the old id")
	}
	res, err := cs2.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "again"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := callText(t, res); got != "echo:again" {
		t.Errorf("echo = %q", got)
	}
}

// TestMCPProxyStateless: an SDK server in stateless mode serves through Gatehouse, and
// its 405 for the GET stream passes through unchanged.
func TestMCPProxyStateless(t *testing.T) {
	w := newMCPWorld(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := w.connect(t, ctx, w.alice, "tools", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "stateless"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := callText(t, res); got != "echo:stateless" {
		t.Errorf("echo = %q", got)
	}
	before := w.up.hits.Load()
	resp, b := w.raw(t, "GET", "/api/2.0/mcp/external/tools", w.alice, "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != http.StatusMethodNotAllowed || w.up.hits.Load() != before+1 {
		t.Errorf("GET on a stateless server: %d %s, want the upstream's 405", resp.StatusCode, b)
	}
	w.assertUpstreamHeaders(t, w.alice, w.ts.Admin)
}

// TestMCPProxyConcurrentClients: 50 SDK clients at once, each with its own session,
// each getting its own answer.
func TestMCPProxyConcurrentClients(t *testing.T) {
	w := newMCPWorld(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 50
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil)
			tr := &mcp.StreamableClientTransport{Endpoint: w.endpoint("tools"), MaxRetries: -1,
				HTTPClient: &http.Client{Transport: bearer{token: w.alice, base: &http.Transport{}}}}
			cs, err := c.Connect(ctx, tr, nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: connect: %w", i, err)
				return
			}
			defer cs.Close()
			text := fmt.Sprint("client-", i)
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
			if err != nil {
				errs <- fmt.Errorf("client %d: call: %w", i, err)
				return
			}
			if len(res.Content) != 1 {
				errs <- fmt.Errorf("client %d: result %+v", i, res)
				return
			}
			if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "echo:"+text {
				errs <- fmt.Errorf("client %d: got %+v, want echo:%s", i, res.Content[0], text)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	w.assertUpstreamHeaders(t, w.alice, w.ts.Admin)
}

// TestMCPProxyRevokeClosesStream: an open GET event stream starts with ": ok" and
// X-Accel-Buffering: no; removing alice's grant, disabling the connection or
// deactivating alice closes it within a second, and her next request is refused.
func TestMCPProxyRevokeClosesStream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		change     func(w *mcpWorld)
		wantStatus int
	}{
		{name: "grant removed", wantStatus: http.StatusForbidden, change: func(w *mcpWorld) {
			w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/tools", w.ts.Admin,
				map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "remove": []string{"USE_CONNECTION"}}}}, nil)
		}},
		{name: "connection disabled", wantStatus: http.StatusForbidden, change: func(w *mcpWorld) {
			w.ts.must("PATCH", "/api/2.1/unity-catalog/connections/tools", w.ts.Admin, map[string]any{"enabled": false}, nil)
		}},
		{name: "user deactivated", wantStatus: http.StatusUnauthorized, change: func(w *mcpWorld) {
			w.ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+w.aliceID, w.ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMCPWorld(t, false)
			sid := w.initRaw(t, w.alice)
			req, err := http.NewRequest("GET", w.endpoint("tools"), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+w.alice)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("MCP-Protocol-Version", "2025-06-18")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := http.DefaultClient.Do(req.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("GET stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if got := resp.Header.Get("X-Accel-Buffering"); got != "no" {
				t.Errorf("X-Accel-Buffering = %q, want no", got)
			}
			rd := bufio.NewReader(resp.Body)
			line, err := rd.ReadString('\n')
			if err != nil || line != ": ok\n" {
				t.Fatalf("first line %q (%v), want the comment \": ok\"", line, err)
			}
			ended := make(chan time.Time, 1)
			go func() {
				_, _ = io.Copy(io.Discard, rd)
				ended <- time.Now()
			}()
			tc.change(w)
			changed := time.Now()
			select {
			case at := <-ended:
				if d := at.Sub(changed); d > time.Second {
					t.Errorf("the stream closed %v after the change, want within 1s", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream is still open 5s after the change")
			}
			before := w.up.hits.Load()
			resp2, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, mcpToolsList, mcpPostHeader)
			if resp2.StatusCode != tc.wantStatus || w.up.hits.Load() != before {
				t.Errorf("after the change: %d %s (upstream hits +%d), want %d from Gatehouse", resp2.StatusCode, b, w.up.hits.Load()-before, tc.wantStatus)
			}
		})
	}
}

// TestMCPProxyHeadersPass: the protocol's headers reach the upstream as sent
// (MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name — the last
// two agreeing with the body, as Gatehouse requires), and the upstream's come back
// (Mcp-Session-Id, Mcp-Method, Mcp-Name).
func TestMCPProxyHeadersPass(t *testing.T) {
	w := newMCPWorld(t, false)
	sid := w.initRaw(t, w.alice)
	sent := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18",
		"Mcp-Method": "tools/call", "Mcp-Name": "echo"}
	h := map[string]string{}
	for k, v := range mcpPostHeader {
		h[k] = v
	}
	for k, v := range sent {
		h[k] = v
	}
	const echoCall = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hdr"}}}`
	resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, echoCall, h)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `echo:hdr`) {
		t.Fatalf("tools/call = %d %s", resp.StatusCode, b)
	}
	reqs := w.requests()
	last := reqs[len(reqs)-1]
	for k, v := range sent {
		if got := last.Header.Get(k); got != v {
			t.Errorf("upstream got %s %q, want %q", k, got, v)
		}
	}
	for k, v := range map[string]string{"Mcp-Method": "echo-tools/call", "Mcp-Name": "echo-echo"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("caller got %s %q, want %q", k, got, v)
		}
	}
	// Last-Event-ID reaches the upstream too: the SDK refuses it on a POST, and its
	// 400 passes through.
	h["Last-Event-ID"] = "ev-17"
	resp2, b2 := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, echoCall, h)
	reqs = w.requests()
	if got := reqs[len(reqs)-1].Header.Get("Last-Event-ID"); got != "ev-17" {
		t.Errorf("upstream got Last-Event-ID %q, want ev-17", got)
	}
	if resp2.StatusCode != http.StatusBadRequest || !strings.Contains(string(b2), "Last-Event-ID") {
		t.Errorf("POST with Last-Event-ID = %d %s, want the upstream's 400", resp2.StatusCode, b2)
	}
	// The upstream's session id comes back on initialize (initRaw checks that it is
	// there); here it must not have been changed on the way.
	if got := resp.Header.Get("Mcp-Session-Id"); got != "" && got != sid {
		t.Errorf("caller got Mcp-Session-Id %q, want %q", got, sid)
	}
}

// TestMCPProxyCallerGoneCancelsUpstream: a caller that drops its open GET stream ends
// the upstream request.
func TestMCPProxyCallerGoneCancelsUpstream(t *testing.T) {
	w := newMCPWorld(t, false)
	sid := w.initRaw(t, w.alice)
	done := make(chan struct{}, 4)
	w.getDone.Store(&done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", w.endpoint("tools"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.alice)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if resp.StatusCode != http.StatusOK || line != ": ok\n" {
		t.Fatalf("GET stream = %d, first line %q (%v)", resp.StatusCode, line, err)
	}
	select {
	case <-done:
		t.Fatal("the upstream GET ended while the caller was still there")
	default:
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream GET is still open 5s after the caller went away")
	}
}

// TestMCPProxyOAuthM2MRefreshMidSession: an MCP server that takes only the
// authorization server's active access tokens, behind an OAUTH_M2M connection whose
// tokens live 2 s. One SDK session spans a token expiry: every request carries a live
// token (the upstream refuses any other), Gatehouse fetched a new one mid-session, and
// the session goes on.
func TestMCPProxyOAuthM2MRefreshMidSession(t *testing.T) {
	as := oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: 2 * time.Second, Clients: []oauthtest.Client{basicClient}})
	srv := newMCPServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	var mu sync.Mutex
	seen := map[string]bool{}
	var refused atomic.Int64
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if active, _ := as.Introspect(tok); !active {
			refused.Add(1)
			http.Error(rw, "invalid_token", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		seen[tok] = true
		mu.Unlock()
		h.ServeHTTP(rw, r)
	})
	caFile := joinCAFiles(t, as.CAFile, up.caFile)
	w := &mcpWorld{up: up}
	w.ts = startServer(t, "", nil, "--upstream-ca-file", caFile)
	_, w.alice = w.ts.mkUser("alice@example.com")
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "tools", "credential_type": "OAUTH_M2M", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "is_mcp_connection": "true", "client_id": basicClient.ID, "client_secret": basicClient.Secret,
		"token_endpoint": as.URL + "/token"}}, nil)
	w.ts.grant("connection", "tools", "alice@example.com", "USE_CONNECTION")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := w.connect(t, ctx, w.alice, "tools", nil)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	defer cs.Close()
	call := func(text string) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
		if err != nil {
			t.Fatalf("tools/call %s: %v", text, err)
		}
		if got := callText(t, res); got != "echo:"+text {
			t.Errorf("echo = %q", got)
		}
	}
	call("before")
	before := as.TokenRequests("client_credentials")
	time.Sleep(2100 * time.Millisecond) // past the access token's expiry, as the OAuth tests do
	call("after")
	if n := as.TokenRequests("client_credentials") - before; n < 1 {
		t.Errorf("no new token was fetched across the expiry")
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("the upstream refused %d requests for a token that was not active", n)
	}
	mu.Lock()
	distinct := len(seen)
	caller := seen[w.alice]
	mu.Unlock()
	if distinct < 2 || caller {
		t.Errorf("upstream saw %d distinct tokens (want >= 2), the caller's among them: %v", distinct, caller)
	}
}

// TestMCPProxyServerRequestOnGETStream: a request the server sends on its own
// (roots/list, unrelated to any client request) travels down the GET stream through
// Gatehouse, and the client's answer comes back up as a POST.
func TestMCPProxyServerRequestOnGETStream(t *testing.T) {
	sessions := make(chan *mcp.ServerSession, 1)
	srv := mcp.NewServer(&mcp.Implementation{Name: "upstream", Version: "1.0.0"}, &mcp.ServerOptions{
		InitializedHandler: func(_ context.Context, req *mcp.InitializedRequest) {
			select {
			case sessions <- req.Session:
			default:
			}
		}})
	w := newMCPWorld(t, false)
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	w.handler.Store(&h)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	c.AddRoots(&mcp.Root{URI: "file:///work/project", Name: "project"})
	tr := &mcp.StreamableClientTransport{Endpoint: w.endpoint("tools"), MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: w.alice, base: &http.Transport{}}}}
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var ss *mcp.ServerSession
	select {
	case ss = <-sessions:
	case <-ctx.Done():
		t.Fatal("the server never saw notifications/initialized")
	}
	// The standalone GET stream may open just after Connect returns; the server's
	// request waits for it (or is retried by the SDK), bounded by ctx.
	res, err := ss.ListRoots(ctx, nil)
	if err != nil {
		t.Fatalf("roots/list from the server: %v", err)
	}
	if len(res.Roots) != 1 || res.Roots[0].URI != "file:///work/project" {
		t.Errorf("roots = %+v", res.Roots)
	}
	var sawGET bool
	for _, r := range w.requests() {
		if r.Method == http.MethodGet {
			sawGET = true
		}
	}
	if !sawGET {
		t.Error("no GET stream reached the upstream")
	}
	w.assertUpstreamHeaders(t, w.alice, w.ts.Admin)
}

// joinCAFiles writes the PEM certificates of files into one file for --upstream-ca-file.
func joinCAFiles(t *testing.T, files ...string) string {
	t.Helper()
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	out := filepath.Join(t.TempDir(), "cas.pem")
	if err := os.WriteFile(out, all, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
