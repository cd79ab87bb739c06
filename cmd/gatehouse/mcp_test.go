package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	// handler serves the upstream; swapping it forgets every session (an expiry).
	handler atomic.Pointer[http.Handler]
	mu      sync.Mutex
	seen    []*http.Request // every request the upstream received (header, method, path)
	// progressGate, when not nil, is waited on by the "slow" tool.
	stateless bool
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

func newMCPWorld(t *testing.T, stateless bool) *mcpWorld {
	t.Helper()
	w := &mcpWorld{canary: "CANARY-mcp-" + fmt.Sprint(time.Now().UnixNano()), stateless: stateless}
	w.reset()
	w.up = newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, &http.Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()})
		w.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+w.canary {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		(*w.handler.Load()).ServeHTTP(rw, r)
	})
	w.ts = startServer(t, "", nil, "--upstream-ca-file", w.up.caFile)
	_, w.alice = w.ts.mkUser("alice@example.com")
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

// assertNoCallerToken checks that no upstream request carried the caller's Gatehouse
// token in any header, plainly or encoded, and that every one carried the credential.
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
	if strings.Contains(w.ts.Stdout.String()+w.ts.Stderr.String(), w.canary) {
		t.Error("the credential appears in the server's log")
	}
}
