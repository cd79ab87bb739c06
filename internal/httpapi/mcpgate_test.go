package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mcp"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// The MCP proxy's pin gate and tools/call outcomes through the real server: a SQLite
// store, the credential broker, the proxy, and an MCP upstream on loopback, with a fake
// catalog.MCPToolGate injected (Deps.MCPTools) — cmd/gatehouse wires the real one.

// fakeToolGate hides and refuses the tools in hidden (with their reason); failing makes
// every call fail. It records what it was shown and asked.
type fakeToolGate struct {
	mu       sync.Mutex
	hidden   map[string]string
	failing  bool
	observed []string // "conn principal: name name ..."
	asked    []string
}

func (g *fakeToolGate) ObserveTools(_ context.Context, conn *catalog.Connection, principal string, tools []mcp.ToolDefinition) (map[string]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var names []string
	for _, d := range tools {
		names = append(names, d.Name)
	}
	g.observed = append(g.observed, conn.Name+" "+principal+": "+strings.Join(names, " "))
	if g.failing {
		return nil, errors.New("pin store unavailable")
	}
	return g.hidden, nil
}

func (g *fakeToolGate) ToolCallable(_ context.Context, conn *catalog.Connection, tool string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, tool)
	if g.failing {
		return "", errors.New("pin store unavailable")
	}
	return g.hidden[tool], nil
}

func (g *fakeToolGate) set(hidden map[string]string, failing bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hidden, g.failing, g.observed, g.asked = hidden, failing, nil, nil
}

// waitRecorder keeps audit events and signals each one.
type waitRecorder struct {
	mu      sync.Mutex
	events  []*catalog.AuditEvent
	changed chan struct{}
}

func (r *waitRecorder) Record(_ context.Context, e *catalog.AuditEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// toolCalls waits (bounded) until n mcpToolCall events were recorded since from and
// returns them.
func (r *waitRecorder) toolCalls(t *testing.T, from, n int) []*catalog.AuditEvent {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		var out []*catalog.AuditEvent
		for _, e := range r.events[from:] {
			if e.ActionName == catalog.ActionMCPToolCall {
				out = append(out, e)
			}
		}
		r.mu.Unlock()
		if len(out) >= n {
			return out
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("%d mcpToolCall events, want %d", len(out), n)
		}
	}
}

func (r *waitRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// mcpUpstream is a small MCP server on loopback: tools/list lists echo, changed, fresh
// and delete; tools/call of echo answers a result, failing a result with isError,
// broken a JSON-RPC error whose message holds upstreamCanary, silent nothing. It
// answers as JSON or, with sse set, as an event stream, and records every body.
type mcpUpstream struct {
	srv    *httptest.Server
	sse    atomic.Bool
	mu     sync.Mutex
	bodies []string
	auth   []string
}

const upstreamCanary = "UPSTREAM-ERROR-MESSAGE-CANARY"

func newMCPUpstream(t testing.TB) *mcpUpstream {
	u := &mcpUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, string(body))
		u.auth = append(u.auth, r.Header.Get("Authorization"))
		u.mu.Unlock()
		var msgs []json.RawMessage
		batch := bytes.HasPrefix(bytes.TrimSpace(body), []byte("["))
		if batch {
			_ = json.Unmarshal(body, &msgs)
		} else {
			msgs = []json.RawMessage{body}
		}
		var answers []string
		for _, raw := range msgs {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params struct {
					Name string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(raw, &m) != nil || m.ID == nil {
				continue
			}
			switch {
			case m.Method == "tools/list":
				answers = append(answers, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"tools":[{"name":"echo","description":"echoes","inputSchema":{"type":"object"}},{"name":"changed","description":"now does something else"},{"name":"fresh"},{"name":"delete"}]}}`, m.ID))
			case m.Method == "tools/call" && m.Params.Name == "failing":
				answers = append(answers, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"it failed"}],"isError":true}}`, m.ID))
			case m.Method == "tools/call" && m.Params.Name == "broken":
				answers = append(answers, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32602,"message":"%s"}}`, m.ID, upstreamCanary))
			case m.Method == "tools/call" && m.Params.Name == "silent":
			default:
				answers = append(answers, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"done"}]}}`, m.ID))
			}
		}
		if u.sse.Load() {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			for _, a := range answers {
				fmt.Fprintf(w, "event: message\ndata: %s\n\n", a)
			}
			return
		}
		if len(answers) == 0 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if batch {
			fmt.Fprintf(w, "[%s]", strings.Join(answers, ","))
			return
		}
		io.WriteString(w, answers[0])
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *mcpUpstream) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.bodies...)
}

// gateWorld is a Gatehouse whose MCP proxy asks gate, with the MCP connections "pinned"
// (no allow-list) and "limited" (mcp_allowed_tools "echo,changed,failing,broken,silent")
// to the upstream, and alice holding USE_CONNECTION on both.
type gateWorld struct {
	url   string
	h     http.Handler // the server, for benchmarks that skip the network
	st    *sqlite.DB
	alice string
	gate  *fakeToolGate
	audit *waitRecorder
	up    *mcpUpstream
	cred  string
}

func newGateWorld(t testing.TB) *gateWorld {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	adminToken, err := identity.Bootstrap(ctx, st, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	alice := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true}
	if err := st.CreatePrincipal(ctx, alice); err != nil {
		t.Fatal(err)
	}
	aliceToken := identity.NewTokenValue()
	if err := st.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: alice.ID, Hash: identity.HashToken(aliceToken)}); err != nil {
		t.Fatal(err)
	}
	w := &gateWorld{alice: aliceToken, gate: &fakeToolGate{}, audit: &waitRecorder{changed: make(chan struct{}, 1)}, up: newMCPUpstream(t),
		cred: "UPSTREAM-CREDENTIAL-" + catalog.NewID()}
	log := slog.New(slog.DiscardHandler)
	s := NewServer(Deps{
		Store: st, Keyring: kr, Auth: identity.NewAuthenticator(st, nil, log), Access: access.New(st), Log: log,
		Validation: catalog.ValidationPolicy{AllowHTTP: true},
		Broker:     credential.New(kr, st, nil, credential.Options{Log: log}),
		Proxy:      proxy.New(proxy.Config{AllowHTTP: true}),
		Audit:      w.audit,
		MCPTools:   w.gate,
	})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	w.url, w.h, w.st = ts.URL, s, st
	admin := NewClient(ts.URL, adminToken, nil)
	for name, allow := range map[string]string{"pinned": "", "limited": "echo,changed,failing,broken,silent"} {
		opts := map[string]string{"host": w.up.srv.URL, "bearer_token": w.cred, "is_mcp_connection": "true"}
		if allow != "" {
			opts["mcp_allowed_tools"] = allow
		}
		if _, err := admin.CreateConnection(ctx, CreateConnectionRequest{Name: name, ConnectionType: "HTTP", Options: opts}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if _, err := admin.UpdatePermissions(ctx, "connection", name, UpdatePermissions{Changes: []PermissionsChange{{Principal: alice.Name, Add: []string{"USE_CONNECTION"}}}}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	return w
}

// post sends a JSON-RPC body to the connection's MCP endpoint as alice.
func (w *gateWorld) post(t *testing.T, conn, body string, header map[string][]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", w.url+"/api/2.0/mcp/external/"+conn, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.alice)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, vv := range header {
		req.Header[k] = vv
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// rpcAnswers reads the JSON-RPC messages of an answer: a JSON body, a batch, or the
// data of each event of an event stream.
func rpcAnswers(t *testing.T, resp *http.Response, body string) map[string]json.RawMessage {
	t.Helper()
	var raws []json.RawMessage
	switch trimmed := strings.TrimSpace(body); {
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		for _, line := range strings.Split(body, "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				raws = append(raws, json.RawMessage(data))
			}
		}
	case trimmed == "":
	case trimmed[0] == '[':
		if err := json.Unmarshal([]byte(body), &raws); err != nil {
			t.Fatalf("batch answer %s: %v", body, err)
		}
	default:
		raws = []json.RawMessage{json.RawMessage(body)}
	}
	out := map[string]json.RawMessage{}
	for _, raw := range raws {
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("answer %s: %v", raw, err)
		}
		out[string(m.ID)] = raw
	}
	return out
}

func toolCall(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"text":"ARGUMENT-CANARY"}}}`, id, tool)
}

const toolsListBody = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

// TestMCPPinGate is the permanent security table of the pin gate: tools the gate
// hides vanish from JSON and SSE tools/list answers, a call it refuses never reaches
// the upstream and is answered -32003 with data.reason, and a gate that fails fails
// closed — a tools/list answer is replaced with -32603 and a tools/call refused.
func TestMCPPinGate(t *testing.T) {
	w := newGateWorld(t)
	hidden := map[string]string{"changed": "the definition changed since it was approved", "fresh": "not approved yet"}
	type answer struct {
		code   int    // JSON-RPC error code; 0 a result
		reason string // error.data.reason
	}
	for _, tc := range []struct {
		name    string
		conn    string
		sse     bool
		failing bool
		body    string
		// forwarded is what the upstream must receive ("" nothing at all).
		forwarded string
		want      map[string]answer
		// visible and invisible are tool names the caller's answer must and must not list.
		visible, invisible []string
		observed           []string
	}{
		{name: "hidden tools vanish from a JSON tools/list", conn: "pinned", body: toolsListBody, forwarded: toolsListBody,
			want: map[string]answer{"1": {}}, visible: []string{"echo", "delete"}, invisible: []string{"changed", "fresh"},
			observed: []string{"pinned alice@example.com: echo changed fresh delete"}},
		{name: "hidden tools vanish from an SSE tools/list", conn: "pinned", sse: true, body: toolsListBody, forwarded: toolsListBody,
			want: map[string]answer{"1": {}}, visible: []string{"echo", "delete"}, invisible: []string{"changed", "fresh"},
			observed: []string{"pinned alice@example.com: echo changed fresh delete"}},
		{name: "the gate sees tools off the allow-list, the caller neither", conn: "limited", body: toolsListBody, forwarded: toolsListBody,
			want: map[string]answer{"1": {}}, visible: []string{"echo"}, invisible: []string{"changed", "fresh", "delete"},
			observed: []string{"limited alice@example.com: echo changed fresh delete"}},
		{name: "a changed tool's call never reaches the upstream", conn: "pinned", body: toolCall(2, "changed"),
			want: map[string]answer{"2": {code: -32003, reason: hidden["changed"]}}},
		{name: "an unapproved tool's call never reaches the upstream (SSE upstream)", conn: "pinned", sse: true, body: toolCall(3, "fresh"),
			want: map[string]answer{"3": {code: -32003, reason: hidden["fresh"]}}},
		{name: "a callable tool is forwarded", conn: "pinned", body: toolCall(4, "echo"), forwarded: toolCall(4, "echo"),
			want: map[string]answer{"4": {}}},
		{name: "a batch is judged element by element", conn: "pinned", body: "[" + toolCall(5, "echo") + "," + toolCall(6, "changed") + "]",
			forwarded: "[" + toolCall(5, "echo") + "]", want: map[string]answer{"5": {}, "6": {code: -32003, reason: hidden["changed"]}}},
		{name: "a failing gate fails a JSON tools/list closed", conn: "pinned", failing: true, body: toolsListBody, forwarded: toolsListBody,
			want: map[string]answer{"1": {code: -32603}}, invisible: []string{"echo", "changed", "fresh", "delete"},
			observed: []string{"pinned alice@example.com: echo changed fresh delete"}},
		{name: "a failing gate fails an SSE tools/list closed", conn: "pinned", sse: true, failing: true, body: toolsListBody, forwarded: toolsListBody,
			want: map[string]answer{"1": {code: -32603}}, invisible: []string{"echo", "changed", "fresh", "delete"},
			observed: []string{"pinned alice@example.com: echo changed fresh delete"}},
		{name: "a failing gate refuses a tools/call", conn: "pinned", failing: true, body: toolCall(7, "echo"),
			want: map[string]answer{"7": {code: -32003, reason: mcp.PinsUncheckable}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.gate.set(hidden, tc.failing)
			w.up.sse.Store(tc.sse)
			before := len(w.up.received())
			resp, body := w.post(t, tc.conn, tc.body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := w.up.received()[before:]
			switch {
			case tc.forwarded == "" && len(got) != 0:
				t.Errorf("the upstream received %q, want nothing", got)
			case tc.forwarded != "" && (len(got) != 1 || got[0] != tc.forwarded):
				t.Errorf("the upstream received %q, want exactly %s", got, tc.forwarded)
			}
			answers := rpcAnswers(t, resp, body)
			if len(answers) != len(tc.want) {
				t.Errorf("%d answers, want %d: %s", len(answers), len(tc.want), body)
			}
			for id, want := range tc.want {
				var a struct {
					Error *struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
						Data    *struct {
							Reason string `json:"reason"`
						} `json:"data"`
					} `json:"error"`
				}
				if err := json.Unmarshal(answers[id], &a); err != nil {
					t.Fatalf("answer for id %s: %v (%s)", id, err, body)
				}
				code, reason := 0, ""
				if a.Error != nil {
					code = a.Error.Code
					if a.Error.Data != nil {
						reason = a.Error.Data.Reason
					}
					if code == -32003 && a.Error.Message != "Tool not allowed by connection "+tc.conn {
						t.Errorf("-32003 message %q", a.Error.Message)
					}
					if code == -32603 && a.Error.Message != mcp.PinsUncheckable {
						t.Errorf("-32603 message %q", a.Error.Message)
					}
				}
				if code != want.code || reason != want.reason {
					t.Errorf("answer for id %s: code %d reason %q, want %d %q: %s", id, code, reason, want.code, want.reason, body)
				}
			}
			for _, name := range tc.visible {
				if !strings.Contains(body, `"name":"`+name+`"`) {
					t.Errorf("tool %s missing from %s", name, body)
				}
			}
			for _, name := range tc.invisible {
				if strings.Contains(body, `"`+name+`"`) {
					t.Errorf("tool %s reached the caller: %s", name, body)
				}
			}
			w.gate.mu.Lock()
			observed := w.gate.observed
			w.gate.mu.Unlock()
			if !slices.Equal(observed, tc.observed) {
				t.Errorf("the gate observed %q, want %q", observed, tc.observed)
			}
		})
	}
}

// TestMCPToolCallOutcomes: one mcpToolCall event per tools/call with the JSON-RPC
// outcome — ok, tool_error, error with its code, refused with its reason, no_answer
// with the HTTP status — whether the upstream answers as JSON or as an event stream,
// and never the call's arguments nor the upstream's error message.
func TestMCPToolCallOutcomes(t *testing.T) {
	w := newGateWorld(t)
	type event struct{ outcome, code, reason, decision string }
	for _, sse := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			conn string
			body string
			want map[string]event // by tool
		}{
			{name: "ok", conn: "pinned", body: toolCall(1, "echo"), want: map[string]event{"echo": {outcome: "ok", decision: "ALLOW"}}},
			{name: "tool error", conn: "pinned", body: toolCall(2, "failing"), want: map[string]event{"failing": {outcome: "tool_error", decision: "ALLOW"}}},
			{name: "json-rpc error", conn: "pinned", body: toolCall(3, "broken"), want: map[string]event{"broken": {outcome: "error", code: "-32602", decision: "ALLOW"}}},
			{name: "no answer", conn: "pinned", body: toolCall(4, "silent"), want: map[string]event{"silent": {outcome: "no_answer", decision: "ALLOW"}}},
			{name: "refused by the allow-list", conn: "limited", body: toolCall(5, "delete"),
				want: map[string]event{"delete": {outcome: "refused", code: "-32003", reason: "allow_list", decision: "DENY"}}},
			{name: "refused by the pins", conn: "pinned", body: toolCall(6, "changed"),
				want: map[string]event{"changed": {outcome: "refused", code: "-32003", reason: "pin", decision: "DENY"}}},
			{name: "a batch, one event per call", conn: "limited",
				body: "[" + toolCall(7, "echo") + "," + toolCall(8, "broken") + "," + toolCall(9, "delete") + "," + toolCall(10, "silent") + "," + toolsListBody + "]",
				want: map[string]event{"echo": {outcome: "ok", decision: "ALLOW"}, "broken": {outcome: "error", code: "-32602", decision: "ALLOW"},
					"delete": {outcome: "refused", code: "-32003", reason: "allow_list", decision: "DENY"}, "silent": {outcome: "no_answer", decision: "ALLOW"}}},
		} {
			name := tc.name + "/json"
			if sse {
				name = tc.name + "/sse"
			}
			t.Run(name, func(t *testing.T) {
				w.gate.set(map[string]string{"changed": "changed"}, false)
				w.up.sse.Store(sse)
				from := w.audit.len()
				resp, body := w.post(t, tc.conn, tc.body, nil)
				if resp.StatusCode/100 != 2 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				if strings.Contains(body, "-32603") {
					t.Fatalf("unexpected internal error: %s", body)
				}
				events := w.audit.toolCalls(t, from, len(tc.want))
				got := map[string]event{}
				for _, e := range events {
					raw, _ := json.Marshal(e)
					if strings.Contains(string(raw), "ARGUMENT-CANARY") || strings.Contains(string(raw), upstreamCanary) {
						t.Errorf("an mcpToolCall event holds arguments or the upstream's message: %s", raw)
					}
					if e.Connection != tc.conn || e.Principal != "alice@example.com" || e.Params["duration_ms"] == "" {
						t.Errorf("event %s: want connection %s, alice, a duration", raw, tc.conn)
					}
					if e.Params["outcome"] == "no_answer" && e.StatusCode == 0 {
						t.Errorf("no_answer event without the HTTP status: %s", raw)
					}
					if _, dup := got[e.Params["tool"]]; dup {
						t.Errorf("two events for tool %s", e.Params["tool"])
					}
					got[e.Params["tool"]] = event{e.Params["outcome"], e.Params["jsonrpc_error"], e.Params["reason"], e.Decision}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("events = %v, want %v", got, tc.want)
				}
				// No more than one event per call, even once everything settled.
				if extra := w.audit.toolCalls(t, from, 0); len(extra) != len(tc.want) {
					t.Errorf("%d events, want %d", len(extra), len(tc.want))
				}
			})
		}
	}
}
