package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// More of the MCP proxy's acceptance, end to end with the official Go SDK on both
// sides: shared OAUTH_U2M connections, a token refresh in the middle of a session (on
// POSTs and on the GET stream's reconnect), GET stream resumption with Last-Event-ID
// through an upstream that cuts the stream, the 2026-07-28 protocol forced explicitly,
// and the canary scan over everything these tests produced.

// errStreamCut is what a cut stream's writer answers once the upstream has ended it.
var errStreamCut = errors.New("the upstream cut this stream")

// upstreamGET is one GET stream that reached the SDK handler behind a streamTap.
type upstreamGET struct {
	// Header is the request's header as the upstream received it.
	Header http.Header
	// cut ends the stream from the upstream's side.
	cut context.CancelFunc
	// ended is closed once the upstream's handler has returned (the response is over).
	ended chan struct{}
}

// streamTap serves an SDK handler and hands every GET stream to the test, which can
// cut it; with cutAfter > 0 it cuts the first GET itself once that many events
// carrying data have been written.
type streamTap struct {
	h        http.Handler
	cutAfter int
	gets     chan *upstreamGET
	served   atomic.Int64 // GET streams so far
}

func newStreamTap(h http.Handler, cutAfter int) *streamTap {
	return &streamTap{h: h, cutAfter: cutAfter, gets: make(chan *upstreamGET, 16)}
}

func (s *streamTap) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.h.ServeHTTP(rw, r)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	g := &upstreamGET{Header: r.Header.Clone(), cut: cancel, ended: make(chan struct{})}
	defer close(g.ended)
	select {
	case s.gets <- g:
	default: // more streams than any test waits for
	}
	after := 0
	if s.served.Add(1) == 1 {
		after = s.cutAfter
	}
	s.h.ServeHTTP(&cutWriter{ResponseWriter: rw, after: after, cut: cancel}, r.WithContext(ctx))
}

// cutWriter counts the SSE events with data written through it and, past after,
// ends the stream: it cancels the handler's context and refuses further writes.
type cutWriter struct {
	http.ResponseWriter
	mu     sync.Mutex
	after  int
	events int
	done   bool
	cut    context.CancelFunc
}

func (c *cutWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return 0, errStreamCut
	}
	n, err := c.ResponseWriter.Write(p)
	c.events += strings.Count(string(p), "\ndata: ")
	if bytes.HasPrefix(p, []byte("data: ")) {
		c.events++
	}
	if c.after > 0 && c.events >= c.after {
		_ = http.NewResponseController(c.ResponseWriter).Flush()
		c.done = true
		c.cut()
	}
	return n, err
}

func (c *cutWriter) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		_ = http.NewResponseController(c.ResponseWriter).Flush()
	}
}

// mcpCapture is an SDK client's HTTP transport: it adds the caller's Gatehouse token,
// keeps every response the client read (headers and body, for the canary scan) and
// the Last-Event-ID values the client sent.
type mcpCapture struct {
	token string
	base  http.RoundTripper
	sink  *syncBuffer

	mu           sync.Mutex
	lastEventIDs []string
}

func (c *mcpCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+c.token)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		c.mu.Lock()
		c.lastEventIDs = append(c.lastEventIDs, v)
		c.mu.Unlock()
	}
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	for k, vs := range resp.Header {
		c.sink.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(resp.Body, c.sink), resp.Body}
	return resp, nil
}

func (c *mcpCapture) sentLastEventIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lastEventIDs...)
}

// mcpSDKClient is how a test opens an SDK session through Gatehouse.
type mcpSDKClient struct {
	token      string
	opts       *mcp.ClientOptions
	version    string // ClientSessionOptions.ProtocolVersion; "" for the SDK's choice
	maxRetries int    // StreamableClientTransport.MaxRetries (0: the SDK's 5)
	sink       *syncBuffer
}

// open connects the client to endpoint and returns the session and its transport.
func (c mcpSDKClient) open(ctx context.Context, endpoint string) (*mcp.ClientSession, *mcpCapture, error) {
	tr := &mcpCapture{token: c.token, base: &http.Transport{}, sink: c.sink}
	cl := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, c.opts)
	var so *mcp.ClientSessionOptions
	if c.version != "" {
		so = &mcp.ClientSessionOptions{ProtocolVersion: c.version}
	}
	cs, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: c.maxRetries, HTTPClient: &http.Client{Transport: tr}}, so)
	return cs, tr, err
}

// mcpSeenReq is one request an upstream received.
type mcpSeenReq struct {
	Method, Path string
	Header       http.Header
	Body         string
	Token        string // the bearer token
}

// oauthMCP is a Gatehouse with two OAuth MCP connections to one SDK server with an
// event store (resumable streams) behind a real authorization server: "shared"
// (OAUTH_U2M, which the admin authorizes; bob and carol may use it) and "peruser"
// (OAUTH_U2M_PER_USER; alice may use it). The upstream takes only the authorization
// server's active access tokens, issued to the admin for /shared and to alice for
// /peruser.
type oauthMCP struct {
	ts    *testServer
	as    *oauthtest.Server
	srv   *mcp.Server
	tap   *streamTap
	users map[string]string // name → Gatehouse token

	mu      sync.Mutex
	seen    []mcpSeenReq
	refused []string // method and path of each request the upstream refused
}

// oauthMCPSubject is whose access token each connection's base path must carry.
var oauthMCPSubject = map[string]string{"/shared": "admin", "/peruser": "alice"}

func newOAuthMCP(t *testing.T, lifespan time.Duration) *oauthMCP {
	t.Helper()
	w := &oauthMCP{users: map[string]string{}, srv: newMCPServer()}
	w.as = oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: lifespan, Clients: []oauthtest.Client{postClient}})
	w.tap = newStreamTap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return w.srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)}), 0)
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		active, sub := w.as.Introspect(tok)
		w.mu.Lock()
		w.seen = append(w.seen, mcpSeenReq{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body), Token: tok})
		ok := active && sub == oauthMCPSubject[r.URL.Path]
		if !ok {
			w.refused = append(w.refused, r.Method+" "+r.URL.Path)
		}
		w.mu.Unlock()
		if !ok {
			http.Error(rw, "invalid_token", http.StatusUnauthorized)
			return
		}
		w.tap.ServeHTTP(rw, r)
	})
	w.ts = startServer(t, "", nil, "--upstream-ca-file", joinCAFiles(t, w.as.CAFile, up.caFile))
	w.as.RegisterRedirectURI(w.ts.URL + "/login/oauth/http.html")
	for _, u := range []string{"alice", "bob", "carol"} {
		_, w.users[u] = w.ts.mkUser(u)
	}
	for name, typ := range map[string]string{"shared": "OAUTH_U2M", "peruser": "OAUTH_U2M_PER_USER"} {
		w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": name, "credential_type": typ, "options": map[string]string{
			"host": up.URL, "base_path": "/" + name, "is_mcp_connection": "true", "client_id": postClient.ID, "client_secret": postClient.Secret,
			"token_endpoint": w.as.URL + "/token", "authorization_endpoint": w.as.URL + "/authorize", "oauth_scope": "offline_access"}}, nil)
	}
	w.ts.grant("connection", "shared", "bob", "USE_CONNECTION")
	w.ts.grant("connection", "shared", "carol", "USE_CONNECTION")
	w.ts.grant("connection", "peruser", "alice", "USE_CONNECTION")
	return w
}

// login runs the browser login of the Gatehouse token's holder to conn, as asUser at
// the authorization server.
func (w *oauthMCP) login(t *testing.T, token, asUser, conn string) {
	t.Helper()
	b := newBrowser(w.as.RootCAs())
	b.signIn(t, w.ts.URL, token)
	back := b.authorize(t, b.startLogin(t, w.ts.URL, conn), asUser)
	if resp, page := b.get(t, back.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("login of %s to %s = %d %s", asUser, conn, resp.StatusCode, page)
	}
}

func (w *oauthMCP) requests() []mcpSeenReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]mcpSeenReq(nil), w.seen...)
}

func (w *oauthMCP) refusals() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.refused...)
}

func (w *oauthMCP) endpoint(name string) string { return w.ts.URL + "/api/2.0/mcp/external/" + name }

// mcpSeenText is what an upstream received (method, path, headers, bodies) as one text,
// for the canary scan.
func mcpSeenText(reqs []mcpSeenReq) string {
	var b strings.Builder
	for _, r := range reqs {
		b.WriteString(r.Method + " " + r.Path + "\n")
		for k, vs := range r.Header {
			b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		b.WriteString(r.Body + "\n")
	}
	return b.String()
}

// waitInactive waits, bounded, until the authorization server no longer takes tok:
// the access token has expired.
func waitInactive(t *testing.T, as *oauthtest.Server, tok string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if active, _ := as.Introspect(tok); !active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the access token is still active 10s later")
		}
	}
}

// nextGET waits, bounded, for the next GET stream to reach the upstream.
func nextGET(t *testing.T, tap *streamTap, what string) *upstreamGET {
	t.Helper()
	select {
	case g := <-tap.gets:
		return g
	case <-time.After(15 * time.Second):
		t.Fatalf("no GET stream reached the upstream (%s)", what)
		return nil
	}
}

func waitEnded(t *testing.T, g *upstreamGET) {
	t.Helper()
	select {
	case <-g.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream's GET stream did not end after the cut")
	}
}

func mcpEcho(t *testing.T, ctx context.Context, cs *mcp.ClientSession, text string) {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		t.Fatalf("tools/call echo %s: %v", text, err)
	}
	if got := callText(t, res); got != "echo:"+text {
		t.Errorf("echo = %q, want echo:%s", got, text)
	}
}

// mcpScan runs the canary scan: no secret, in any encoding secLeak knows, in any
// of the sinks.
func mcpScan(t *testing.T, sinks map[string]string, clientID string, secrets []string) {
	t.Helper()
	for what, text := range sinks {
		if text == "" {
			t.Errorf("the %s is empty: the scan would prove nothing", what)
			continue
		}
		if leak := secLeak(text, clientID, secrets...); leak != "" {
			t.Errorf("%s: %s", what, leak)
		}
	}
}

// mcpServerRecords is the server's log and its whole audit trail, for the canary scan.
func mcpServerRecords(t *testing.T, ts *testServer) map[string]string {
	t.Helper()
	status, audit := ts.do("GET", "/api/2.0/gatehouse/audit?max_results=1000", ts.Admin, nil)
	if status != http.StatusOK {
		t.Fatalf("audit = %d %s", status, audit)
	}
	// The first run prints the admin token once, on purpose; it must be nowhere else.
	out := ts.Stdout.String()
	if i := strings.Index(out, "Admin token (shown once"); i >= 0 {
		out = out[:i] + strings.Replace(out[i:], ts.Admin, "[the first run's admin token]", 1)
	}
	return map[string]string{"server log": out + ts.Stderr.String(), "audit records": string(audit)}
}

// oauthSecrets splits what the authorization server issued: every token, and the
// ones the upstream must never see either (refresh tokens; fosite prefixes them).
func oauthSecrets(t *testing.T, as *oauthtest.Server) (all, refresh []string) {
	t.Helper()
	all = as.IssuedTokens()
	for _, tok := range all {
		if strings.HasPrefix(tok, "ory_rt_") {
			refresh = append(refresh, tok)
		}
	}
	if len(refresh) == 0 || len(refresh) == len(all) {
		t.Fatalf("%d tokens issued, %d of them refresh tokens: the scan would prove little", len(all), len(refresh))
	}
	return all, refresh
}

// TestMCPMoreSharedU2M: a shared OAUTH_U2M MCP connection end to end. The admin logs
// in once; bob and carol (USE_CONNECTION only) each initialize, list and call through
// it. The upstream takes only active access tokens the authorization server issued
// for the admin's login; it never receives a Gatehouse token, a refresh token or the
// client secret; neither caller ever receives a token, and neither does the log or
// the audit trail.
func TestMCPMoreSharedU2M(t *testing.T) {
	w := newOAuthMCP(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Before the login the callers get Gatehouse's login error, and nothing reaches
	// the upstream.
	if _, _, err := (mcpSDKClient{token: w.users["bob"], maxRetries: -1, sink: &syncBuffer{}}).open(ctx, w.endpoint("shared")); err == nil || !strings.Contains(err.Error(), "/connections/shared/login") {
		t.Fatalf("initialize on shared before any login: %v, want the login error naming the login page", err)
	}
	if n := len(w.requests()); n != 0 {
		t.Fatalf("%d requests reached the upstream before the login", n)
	}
	w.login(t, w.ts.Admin, "admin", "shared")

	sinks := map[string]*syncBuffer{}
	for _, caller := range []string{"bob", "carol"} {
		t.Run(caller, func(t *testing.T) {
			sinks[caller] = &syncBuffer{}
			cs, _, err := (mcpSDKClient{token: w.users[caller], maxRetries: -1, sink: sinks[caller]}).open(ctx, w.endpoint("shared"))
			if err != nil {
				t.Fatalf("initialize: %v", err)
			}
			defer cs.Close()
			if got := toolNames(t, ctx, cs); !slices.Equal(got, []string{"echo", "progress"}) {
				t.Errorf("tools/list = %v", got)
			}
			mcpEcho(t, ctx, cs, "from-"+caller)
		})
	}
	// Alice holds nothing on shared: refused by Gatehouse, whoever logged in.
	before := len(w.requests())
	if _, _, err := (mcpSDKClient{token: w.users["alice"], maxRetries: -1, sink: &syncBuffer{}}).open(ctx, w.endpoint("shared")); err == nil {
		t.Error("alice (no grant) initialized on shared")
	}
	if n := len(w.requests()) - before; n != 0 {
		t.Errorf("alice's refused initialize reached the upstream (%d requests)", n)
	}

	reqs := w.requests()
	if len(reqs) < 6 {
		t.Fatalf("the upstream received %d requests, want both sessions' (>= 6)", len(reqs))
	}
	if r := w.refusals(); len(r) != 0 {
		t.Errorf("the upstream refused %v: a request without an active token of the admin's", r)
	}
	for _, r := range reqs {
		if active, sub := w.as.Introspect(r.Token); r.Path != "/shared" || !active || sub != "admin" {
			t.Errorf("%s %s carried a token of %q (active %v), want the admin's", r.Method, r.Path, sub, active)
		}
	}
	all, refresh := oauthSecrets(t, w.as)
	gatehouse := []string{w.ts.Admin, w.users["alice"], w.users["bob"], w.users["carol"]}
	mcpScan(t, map[string]string{"upstream's requests": mcpSeenText(reqs)}, postClient.ID, append(append([]string{postClient.Secret}, refresh...), gatehouse...))
	got := mcpServerRecords(t, w.ts)
	got["bob's MCP responses"] = sinks["bob"].String()
	got["carol's MCP responses"] = sinks["carol"].String()
	mcpScan(t, got, postClient.ID, append(append([]string{postClient.Secret}, all...), gatehouse...))
	// The API's answers hold Gatehouse tokens (mkUser creates them), never an OAuth one.
	mcpScan(t, map[string]string{"API responses": w.ts.responses.String()}, postClient.ID, append([]string{postClient.Secret}, all...))
}

// TestMCPMoreRefreshMidSession: with access tokens that live 2 s, one SDK session per
// caller outlives its access token, on a per-user and on a shared U2M connection.
// Each session keeps its Mcp-Session-Id; the upstream (which refuses any token that
// is not active) saw a new token on the POSTs after the refresh and on the GET
// stream's reconnect after the upstream cut it; nothing was refused.
func TestMCPMoreRefreshMidSession(t *testing.T) {
	w := newOAuthMCP(t, 2*time.Second)
	mcpSink := &syncBuffer{} // what every caller's SDK client received
	w.login(t, w.ts.Admin, "admin", "shared")
	w.login(t, w.users["alice"], "alice", "peruser")
	for _, tc := range []struct {
		name, conn string
		callers    []string
	}{
		{name: "per-user", conn: "peruser", callers: []string{"alice"}},
		{name: "shared", conn: "shared", callers: []string{"bob", "carol"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type session struct {
				cs  *mcp.ClientSession
				sid string
				get *upstreamGET
			}
			var sessions []session
			from := len(w.requests())
			for _, caller := range tc.callers {
				cs, _, err := (mcpSDKClient{token: w.users[caller], version: "2025-11-25", sink: mcpSink}).open(ctx, w.endpoint(tc.conn))
				if err != nil {
					t.Fatalf("%s: initialize: %v", caller, err)
				}
				defer cs.Close()
				g := nextGET(t, w.tap, caller+"'s standalone stream")
				if g.Header.Get("Mcp-Session-Id") != cs.ID() {
					t.Fatalf("the GET stream has session %q, want %q", g.Header.Get("Mcp-Session-Id"), cs.ID())
				}
				mcpEcho(t, ctx, cs, caller+"-before")
				sessions = append(sessions, session{cs: cs, sid: cs.ID(), get: g})
			}
			// The tokens the upstream saw so far; wait until each has expired.
			before := map[string]bool{}
			for _, r := range w.requests()[from:] {
				before[r.Token] = true
			}
			for tok := range before {
				waitInactive(t, w.as, tok)
			}
			refreshes := w.as.TokenRequests("refresh_token")
			mark := len(w.requests())
			for i, s := range sessions {
				mcpEcho(t, ctx, s.cs, tc.callers[i]+"-after")
				// The upstream cuts the GET stream; the client reconnects through
				// Gatehouse, which sends the current token.
				s.get.cut()
				waitEnded(t, s.get)
				g := nextGET(t, w.tap, tc.callers[i]+"'s reconnect")
				tok, _ := strings.CutPrefix(g.Header.Get("Authorization"), "Bearer ")
				if before[tok] || g.Header.Get("Mcp-Session-Id") != s.sid {
					t.Errorf("%s's reconnected GET: an old token %v, session %q (want %q)", tc.callers[i], before[tok], g.Header.Get("Mcp-Session-Id"), s.sid)
				}
				if s.cs.ID() != s.sid {
					t.Errorf("%s's session id changed from %q to %q", tc.callers[i], s.sid, s.cs.ID())
				}
				mcpEcho(t, ctx, s.cs, tc.callers[i]+"-reconnected")
			}
			if n := w.as.TokenRequests("refresh_token") - refreshes; n < 1 {
				t.Error("no refresh across the expiry")
			}
			after := w.requests()[mark:]
			var posts, gets int
			for _, r := range after {
				if before[r.Token] {
					t.Errorf("%s %s after the expiry carried an expired token", r.Method, r.Path)
				}
				sidOK := slices.ContainsFunc(sessions, func(s session) bool { return r.Header.Get("Mcp-Session-Id") == s.sid })
				if r.Path != "/"+tc.conn || !sidOK {
					t.Errorf("%s %s (session %q) after the expiry: want one of this test's sessions", r.Method, r.Path, r.Header.Get("Mcp-Session-Id"))
				}
				switch r.Method {
				case http.MethodPost:
					posts++
				case http.MethodGet:
					gets++
				}
			}
			if posts < 2*len(sessions) || gets < len(sessions) {
				t.Errorf("after the expiry the upstream saw %d POSTs and %d GETs, want >= %d and >= %d", posts, gets, 2*len(sessions), len(sessions))
			}
		})
	}
	if r := w.refusals(); len(r) != 0 {
		t.Errorf("the upstream refused %v: a request carried a token that was not active", r)
	}
	all, refresh := oauthSecrets(t, w.as)
	gatehouse := []string{w.ts.Admin, w.users["alice"], w.users["bob"], w.users["carol"]}
	mcpScan(t, map[string]string{"upstream's requests": mcpSeenText(w.requests())}, postClient.ID, append(append([]string{postClient.Secret}, refresh...), gatehouse...))
	sinks := mcpServerRecords(t, w.ts)
	sinks["the callers' MCP responses"] = mcpSink.String()
	mcpScan(t, sinks, postClient.ID, append(append([]string{postClient.Secret}, all...), gatehouse...))
	mcpScan(t, map[string]string{"API responses": w.ts.responses.String()}, postClient.ID, append([]string{postClient.Secret}, all...))
}

// TestMCPMoreResumeGETStream: an SDK server with an event store behind an upstream
// that cuts the standalone GET stream after three events. Three server-initiated
// notifications are sent before the cut, three while no stream is open and one after
// the client's reconnect: the client, reconnecting through Gatehouse with
// Last-Event-ID, receives all seven exactly once; the upstream received the
// Last-Event-ID the client sent, and every upstream request, the reconnect included,
// carried the connection's credential and no Gatehouse token.
func TestMCPMoreResumeGETStream(t *testing.T) {
	w := newMCPWorld(t, false)
	srv := newMCPServer()
	tap := newStreamTap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)}), 3)
	var h http.Handler = tap
	w.handler.Store(&h)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make(chan string, 32)
	opts := &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		got <- req.Params.Message
	}}
	sink := &syncBuffer{}
	cs, tr, err := (mcpSDKClient{token: w.alice, opts: opts, version: "2025-11-25", sink: sink}).open(ctx, w.endpoint("tools"))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	first := nextGET(t, tap, "the standalone stream")
	var ss *mcp.ServerSession
	for s := range srv.Sessions() {
		if s.ID() == cs.ID() {
			ss = s
		}
	}
	if ss == nil {
		t.Fatalf("the server has no session %q", cs.ID())
	}
	notify := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if err := ss.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: "resume", Progress: float64(i), Message: fmt.Sprint("m", i)}); err != nil {
				t.Fatalf("notification %d: %v", i, err)
			}
		}
	}
	notify(1, 3)
	waitEnded(t, first) // the upstream cut the stream after the third event
	notify(4, 6)        // stored while no stream is open
	second := nextGET(t, tap, "the reconnect")
	notify(7, 7)

	seen := map[string]int{}
	for deadline := time.After(15 * time.Second); len(seen) < 7; {
		select {
		case m := <-got:
			seen[m]++
		case <-deadline:
			t.Fatalf("the client received %v, want m1 … m7", seen)
		}
	}
	for i := 1; i <= 7; i++ {
		if n := seen[fmt.Sprint("m", i)]; n != 1 {
			t.Errorf("m%d received %d times, want once", i, n)
		}
	}
	mcpEcho(t, ctx, cs, "after-resume")

	sent := tr.sentLastEventIDs()
	if first.Header.Get("Last-Event-ID") != "" || len(sent) != 1 || second.Header.Get("Last-Event-ID") != sent[0] {
		t.Errorf("Last-Event-ID: first GET %q, the client sent %v, the reconnect reached the upstream with %q",
			first.Header.Get("Last-Event-ID"), sent, second.Header.Get("Last-Event-ID"))
	}
	if second.Header.Get("Mcp-Session-Id") != cs.ID() {
		t.Errorf("the reconnect has session %q, want %q", second.Header.Get("Mcp-Session-Id"), cs.ID())
	}
	var gets int
	for _, r := range w.requests() {
		if r.Method == http.MethodGet {
			gets++
		}
	}
	if gets < 2 {
		t.Errorf("the upstream saw %d GETs, want the stream and its reconnect", gets)
	}
	w.assertUpstreamHeaders(t, w.alice, w.bob, w.ts.Admin)
	sinks := mcpServerRecords(t, w.ts)
	sinks["alice's MCP responses"] = sink.String()
	mcpScan(t, sinks, "", []string{w.canary, w.alice, w.bob, w.ts.Admin})
	mcpScan(t, map[string]string{"API responses": w.ts.responses.String()}, "", []string{w.canary})
}

// The 2026-07-28 protocol: every request stands alone, with its version, client
// information and capabilities in _meta and its method and name in headers.
const mcp2026 = "2026-07-28"

// rpc2026 is a 2026-07-28 JSON-RPC request body.
func rpc2026(id int, method string, params map[string]any) string {
	p := map[string]any{"_meta": map[string]any{
		"io.modelcontextprotocol/protocolVersion":    mcp2026,
		"io.modelcontextprotocol/clientInfo":         map[string]string{"name": "raw", "version": "1"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
	}}
	for k, v := range params {
		p[k] = v
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": p})
	return string(b)
}

// rpcAnswersOf reads the JSON-RPC answers of a response: a JSON object or batch, or one
// per event of an event stream.
func rpcAnswersOf(t *testing.T, resp *http.Response, b []byte) []rpcAnswer {
	t.Helper()
	var out []rpcAnswer
	trimmed := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		for _, line := range strings.Split(string(b), "\n") {
			data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: ")
			if !ok || strings.TrimSpace(data) == "" {
				continue
			}
			var a rpcAnswer
			if err := json.Unmarshal([]byte(data), &a); err != nil {
				t.Fatalf("event data %s: %v", data, err)
			}
			out = append(out, a)
		}
	case trimmed == "":
	case trimmed[0] == '[':
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("batch answer %s: %v", b, err)
		}
	default:
		var a rpcAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		out = []rpcAnswer{a}
	}
	return out
}

// TestMCPMore2026Raw: raw 2026-07-28 POSTs (MCP-Protocol-Version, Mcp-Method, Mcp-Name,
// no session, no initialize) to a stateless SDK server, which is replaced by a fresh
// instance before every request: each is answered on its own, with no session header
// either way; the upstream received the protocol headers as sent and the connection's
// credential; the allow-listed connection hides and refuses progress in this mode too,
// without the upstream seeing the refused call.
func TestMCPMore2026Raw(t *testing.T) {
	w := newMCPWorld(t, true)
	w.addLimited(t)
	sink := &syncBuffer{}
	for _, tc := range []struct {
		name, conn, method, tool string
		body                     string
		forwarded                bool
		wantCode                 int    // JSON-RPC error code; 0 for a result
		wantIn, wantOut          string // the result holds wantIn and not wantOut
	}{
		{name: "tools/call first, nothing before it", conn: "tools", method: "tools/call", tool: "echo",
			body: rpc2026(1, "tools/call", map[string]any{"name": "echo", "arguments": map[string]string{"text": "solo"}}), forwarded: true, wantIn: "echo:solo"},
		{name: "tools/list", conn: "tools", method: "tools/list",
			body: rpc2026(2, "tools/list", nil), forwarded: true, wantIn: `"progress"`},
		{name: "tools/list through the allow-list", conn: "limited", method: "tools/list",
			body: rpc2026(3, "tools/list", nil), forwarded: true, wantIn: `"echo"`, wantOut: `"progress"`},
		{name: "allowed tools/call through the allow-list", conn: "limited", method: "tools/call", tool: "echo",
			body: rpc2026(4, "tools/call", map[string]any{"name": "echo", "arguments": map[string]string{"text": "ok"}}), forwarded: true, wantIn: "echo:ok"},
		{name: "refused tools/call", conn: "limited", method: "tools/call", tool: "progress",
			body: rpc2026(5, "tools/call", map[string]any{"name": "progress", "arguments": map[string]string{}}), wantCode: -32003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.reset() // a new server instance: nothing of an earlier request remains
			h := map[string]string{"MCP-Protocol-Version": mcp2026, "Mcp-Method": tc.method}
			if tc.tool != "" {
				h["Mcp-Name"] = tc.tool
			}
			for k, v := range mcpPostHeader {
				h[k] = v
			}
			before := len(w.requests())
			resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/"+tc.conn, w.alice, tc.body, h)
			for k, vs := range resp.Header {
				sink.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
			}
			sink.Write(b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
				t.Errorf("the answer carries Mcp-Session-Id %q", sid)
			}
			reqs := w.requests()[before:]
			if forwarded := len(reqs) > 0; forwarded != tc.forwarded {
				t.Fatalf("forwarded = %v, want %v", forwarded, tc.forwarded)
			}
			if tc.forwarded {
				if len(reqs) != 1 {
					t.Fatalf("%d upstream requests for one POST", len(reqs))
				}
				for k, v := range h {
					if got := reqs[0].Header.Get(k); got != v {
						t.Errorf("upstream got %s %q, want %q", k, got, v)
					}
				}
				if sid := reqs[0].Header.Get("Mcp-Session-Id"); sid != "" {
					t.Errorf("the upstream got Mcp-Session-Id %q", sid)
				}
			}
			answers := rpcAnswersOf(t, resp, b)
			if len(answers) != 1 {
				t.Fatalf("%d answers, want 1: %s", len(answers), b)
			}
			a := answers[0]
			switch {
			case tc.wantCode != 0:
				if a.Error == nil || a.Error.Code != tc.wantCode || a.Error.Message != "Tool not allowed by connection "+tc.conn {
					t.Errorf("answer %s, want error %d", b, tc.wantCode)
				}
			case a.Error != nil:
				t.Errorf("error %d %s", a.Error.Code, a.Error.Message)
			default:
				if !strings.Contains(string(a.Result), tc.wantIn) || (tc.wantOut != "" && strings.Contains(string(a.Result), tc.wantOut)) {
					t.Errorf("result %s: want %s in it and not %q", a.Result, tc.wantIn, tc.wantOut)
				}
			}
		})
	}
	w.assertUpstreamHeaders(t, w.alice, w.bob, w.ts.Admin)
	sinks := mcpServerRecords(t, w.ts)
	sinks["the raw MCP responses"] = sink.String()
	mcpScan(t, sinks, "", []string{w.canary, w.alice, w.bob, w.ts.Admin})
	mcpScan(t, map[string]string{"API responses": w.ts.responses.String()}, "", []string{w.canary})
}

// TestMCPMore2026SDK: the SDK client told to speak 2026-07-28 against a stateless SDK
// server through Gatehouse: it discovers (server/discover), lists and calls; every
// upstream request carried MCP-Protocol-Version 2026-07-28 and Mcp-Method, none a
// session id; through the allow-list only echo is listed and progress is refused.
func TestMCPMore2026SDK(t *testing.T) {
	w := newMCPWorld(t, true)
	w.addLimited(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sink := &syncBuffer{}
	client := mcpSDKClient{token: w.alice, version: mcp2026, maxRetries: -1, sink: sink}

	cs, _, err := client.open(ctx, w.endpoint("tools"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != mcp2026 {
		t.Fatalf("negotiated %q, want %s", v, mcp2026)
	}
	if cs.ID() != "" {
		t.Errorf("a 2026-07-28 session has the id %q", cs.ID())
	}
	if got := toolNames(t, ctx, cs); !slices.Equal(got, []string{"echo", "progress"}) {
		t.Errorf("tools/list = %v", got)
	}
	mcpEcho(t, ctx, cs, "modern")

	lim, _, err := client.open(ctx, w.endpoint("limited"))
	if err != nil {
		t.Fatalf("connect limited: %v", err)
	}
	defer lim.Close()
	if got := toolNames(t, ctx, lim); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("tools/list through the allow-list = %v, want [echo]", got)
	}
	before := len(w.requests())
	if _, err := lim.CallTool(ctx, &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "Tool not allowed by connection limited") {
		t.Errorf("call progress: %v, want -32003 Tool not allowed by connection limited", err)
	}
	if n := len(w.requests()) - before; n != 0 {
		t.Errorf("the refused call reached the upstream (%d requests)", n)
	}
	mcpEcho(t, ctx, lim, "allowed")

	methods := map[string]bool{}
	for _, r := range w.requests() {
		if r.Method != http.MethodPost {
			t.Errorf("a 2026-07-28 client sent %s", r.Method)
			continue
		}
		if v := r.Header.Get("MCP-Protocol-Version"); v != mcp2026 {
			t.Errorf("upstream request with MCP-Protocol-Version %q", v)
		}
		if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
			t.Errorf("upstream request with Mcp-Session-Id %q", sid)
		}
		m := r.Header.Get("Mcp-Method")
		if m == "" {
			t.Error("upstream request without Mcp-Method")
		}
		if m == "tools/call" && r.Header.Get("Mcp-Name") == "" {
			t.Error("tools/call reached the upstream without Mcp-Name")
		}
		methods[m] = true
	}
	for _, m := range []string{"server/discover", "tools/list", "tools/call"} {
		if !methods[m] {
			t.Errorf("the upstream saw no %s (saw %v)", m, methods)
		}
	}
	w.assertUpstreamHeaders(t, w.alice, w.bob, w.ts.Admin)
	sinks := mcpServerRecords(t, w.ts)
	sinks["alice's MCP responses"] = sink.String()
	mcpScan(t, sinks, "", []string{w.canary, w.alice, w.bob, w.ts.Admin})
	mcpScan(t, map[string]string{"API responses": w.ts.responses.String()}, "", []string{w.canary})
}
