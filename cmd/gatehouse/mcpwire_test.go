package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP proxy's inspection: a connection with mcp_allowed_tools, end to end with the
// SDK on both sides and raw JSON-RPC for batches and malformed bodies.

// addLimited creates the MCP connection "limited" (allow-list "ech*": echo passes,
// progress does not) and grants alice USE_CONNECTION on it.
func (w *mcpWorld) addLimited(t *testing.T) {
	t.Helper()
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "limited", "options": map[string]string{
		"host": w.up.URL, "base_path": "/mcp", "bearer_token": w.canary, "is_mcp_connection": "true", "mcp_allowed_tools": "ech*"}}, nil)
	w.ts.grant("connection", "limited", "alice@example.com", "USE_CONNECTION")
}

// useSDKHandler installs a fresh SDK handler answering POSTs as JSON (jsonResponse) or
// as event streams (the SDK's default).
func (w *mcpWorld) useSDKHandler(jsonResponse bool) {
	srv := newMCPServer()
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: w.stateless, JSONResponse: jsonResponse})
	w.handler.Store(&h)
}

// TestMCPWireAllowList: with mcp_allowed_tools "ech*", tools/list shows echo only —
// whether the upstream answers as JSON or as an event stream — a tools/call of echo
// works, and a tools/call of progress is answered by Gatehouse with -32003 without the
// upstream receiving anything. Each tools/call is one mcpToolCall audit event, ok or
// refused (allow_list), that never carries the call's arguments. Without the option nothing is
// hidden.
func TestMCPWireAllowList(t *testing.T) {
	w := newMCPWorld(t, false)
	w.addLimited(t)
	for _, tc := range []struct {
		name         string
		jsonResponse bool
	}{
		{name: "event stream answers", jsonResponse: false},
		{name: "json answers", jsonResponse: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.useSDKHandler(tc.jsonResponse)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			open, err := w.connect(t, ctx, w.alice, "tools", nil)
			if err != nil {
				t.Fatalf("connect tools: %v", err)
			}
			defer open.Close()
			if got := toolNames(t, ctx, open); !slices.Equal(got, []string{"echo", "progress"}) {
				t.Errorf("tools/list without an allow-list = %v, want echo and progress", got)
			}

			cs, err := w.connect(t, ctx, w.alice, "limited", nil)
			if err != nil {
				t.Fatalf("connect limited: %v", err)
			}
			defer cs.Close()
			if got := toolNames(t, ctx, cs); !slices.Equal(got, []string{"echo"}) {
				t.Errorf("tools/list through the allow-list = %v, want [echo]", got)
			}
			argCanary := "ARG-CANARY-" + strings.ReplaceAll(tc.name, " ", "-")
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": argCanary}})
			if err != nil {
				t.Fatalf("call echo: %v", err)
			}
			if got := callText(t, res); got != "echo:"+argCanary {
				t.Errorf("echo = %q", got)
			}
			before := len(w.requests())
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{"text": argCanary}})
			// The Go SDK reads code -32003 as its own ErrClientClosing and reports it as
			// "connection closed: ..." with the server's message; the raw test checks the code.
			if err == nil || !strings.Contains(err.Error(), "Tool not allowed by connection limited") {
				t.Errorf("call progress: err = %v, want JSON-RPC -32003 Tool not allowed by connection limited", err)
			}
			if after := len(w.requests()); after != before {
				t.Errorf("the refused tools/call reached the upstream (%d requests, then %d)", before, after)
			}
			// The session goes on after the refusal.
			if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "again"}}); err != nil {
				t.Errorf("call echo after the refusal: %v", err)
			} else if got := callText(t, res); got != "echo:again" {
				t.Errorf("echo after the refusal = %q", got)
			}

			// The audit: echo answered, progress refused, neither with its arguments.
			want := map[string]string{"echo": "ok", "progress": "refused"}
			deadline := time.Now().Add(5 * time.Second)
			for {
				l := auditList{}
				w.ts.must("GET", "/api/2.0/gatehouse/audit?order=desc&max_results=1000&action=mcpToolCall", w.ts.Admin, nil, &l)
				got := map[string]string{}
				for _, e := range l.Events {
					raw, _ := json.Marshal(e)
					if strings.Contains(string(raw), argCanary) {
						t.Fatalf("an mcpToolCall event holds the call's arguments: %s", raw)
					}
					if e.Connection != "limited" || e.Principal != "alice@example.com" || e.RequestParams["duration_ms"] == "" {
						continue
					}
					got[e.RequestParams["tool"]] = e.RequestParams["outcome"]
					if e.RequestParams["outcome"] == "refused" && (e.Decision != "DENY" || e.RequestParams["jsonrpc_error"] != "-32003" || e.RequestParams["reason"] != "allow_list") {
						t.Errorf("refused event: decision %s, params %v", e.Decision, e.RequestParams)
					}
				}
				if got["echo"] == want["echo"] && got["progress"] == want["progress"] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("mcpToolCall events for limited = %v, want %v", got, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func toolNames(t *testing.T, ctx context.Context, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// rpcAnswer is one JSON-RPC response as a test reads it.
type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestMCPWireRaw: raw JSON-RPC on the allow-listed connection. A malformed body is
// answered by Gatehouse (-32700, -32600) and never forwarded; a batch is judged element
// by element: a batch of refused calls only is answered by Gatehouse alone, and a batch
// that mixes an allowed request with a refused call forwards the allowed one and merges
// the upstream's answer with Gatehouse's -32003 — into its JSON batch, or as an event
// appended to its event stream — with the tools/list in it filtered.
func TestMCPWireRaw(t *testing.T) {
	w := newMCPWorld(t, true)
	w.addLimited(t)
	for _, jsonResponse := range []bool{true, false} {
		w.useSDKHandler(jsonResponse)
		name := "event stream answers"
		if jsonResponse {
			name = "json answers"
		}
		t.Run(name, func(t *testing.T) { testMCPWireRaw(t, w) })
	}
}

func testMCPWireRaw(t *testing.T, w *mcpWorld) {
	const path = "/api/2.0/mcp/external/limited"
	call := func(id int, tool string) string {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": map[string]any{}}})
		return string(b)
	}
	for _, tc := range []struct {
		name      string
		body      string
		status    int
		forwarded bool
		// want maps each answered id to the JSON-RPC error code expected (0: a result).
		want map[string]int
	}{
		{name: "not json", body: `{"jsonrpc":`, status: http.StatusBadRequest, want: map[string]int{"null": -32700}},
		{name: "not json-rpc", body: `{"jsonrpc":"1.0","id":1,"method":"tools/call"}`, status: http.StatusBadRequest, want: map[string]int{"null": -32600}},
		{name: "duplicate method key", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"progress"}}`, status: http.StatusBadRequest, want: map[string]int{"null": -32600}},
		{name: "refused single call", body: call(7, "progress"), status: http.StatusOK, want: map[string]int{"7": -32003}},
		{name: "batch of refused calls", body: "[" + call(8, "progress") + "," + call(9, "prog") + "]", status: http.StatusOK, want: map[string]int{"8": -32003, "9": -32003}},
		{name: "refused notification", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"progress"}}`, status: http.StatusAccepted, want: map[string]int{}},
		{name: "batch mixing allowed and refused", body: "[" + `{"jsonrpc":"2.0","id":10,"method":"tools/list"}` + "," + call(11, "progress") + "]", status: http.StatusOK, forwarded: true,
			want: map[string]int{"11": -32003}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.requests())
			resp, b := w.raw(t, "POST", path, w.alice, tc.body, mcpPostHeader)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if forwarded := len(w.requests()) != before; forwarded != tc.forwarded {
				t.Errorf("forwarded = %v, want %v", forwarded, tc.forwarded)
			}
			var answers []rpcAnswer
			trimmed := strings.TrimSpace(string(b))
			switch {
			case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
				// One JSON-RPC message per event's data line.
				for _, line := range strings.Split(string(b), "\n") {
					data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: ")
					if !ok || strings.TrimSpace(data) == "" {
						continue
					}
					var a rpcAnswer
					if err := json.Unmarshal([]byte(data), &a); err != nil {
						t.Fatalf("event data %s: %v", data, err)
					}
					answers = append(answers, a)
				}
			case trimmed == "":
			case trimmed[0] == '[':
				if err := json.Unmarshal(b, &answers); err != nil {
					t.Fatalf("batch answer %s: %v", b, err)
				}
			default:
				var a rpcAnswer
				if err := json.Unmarshal(b, &a); err != nil {
					t.Fatalf("answer %s: %v", b, err)
				}
				answers = []rpcAnswer{a}
			}
			got := map[string]int{}
			for _, a := range answers {
				code := 0
				if a.Error != nil {
					code = a.Error.Code
					if code == -32003 && a.Error.Message != "Tool not allowed by connection limited" {
						t.Errorf("-32003 message %q", a.Error.Message)
					}
				}
				got[string(a.ID)] = code
			}
			for id, code := range tc.want {
				if c, ok := got[id]; !ok || c != code {
					t.Errorf("answer for id %s: code %d (present %v), want %d; body %s", id, c, ok, code, b)
				}
			}
			if tc.forwarded {
				// The upstream answered the forwarded element, and the tools it listed
				// passed the allow-list.
				if _, ok := got["10"]; !ok {
					t.Errorf("no answer for the forwarded element: %s", b)
				}
				if strings.Contains(string(b), `"progress"`) {
					t.Errorf("the merged answer lists a tool off the allow-list: %s", b)
				}
			} else if len(answers) != len(tc.want) {
				t.Errorf("%d answers, want %d: %s", len(answers), len(tc.want), b)
			}
		})
	}
}

// TestMCPWireAllowListValidated: an invalid mcp_allowed_tools is a 400 at create and at
// update, and the stored connection is unchanged.
func TestMCPWireAllowListValidated(t *testing.T) {
	w := newMCPWorld(t, false)
	w.addLimited(t)
	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
	}{
		{name: "create with an inner star", method: "POST", path: "/api/2.1/unity-catalog/connections",
			body: map[string]any{"name": "bad", "options": map[string]string{"host": w.up.URL, "bearer_token": "t", "is_mcp_connection": "true", "mcp_allowed_tools": "a*b"}}},
		{name: "update with an empty entry", method: "PATCH", path: "/api/2.1/unity-catalog/connections/limited",
			body: map[string]any{"options": map[string]string{"mcp_allowed_tools": "echo,,x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := w.ts.do(tc.method, tc.path, w.ts.Admin, tc.body)
			if status != http.StatusBadRequest || !strings.Contains(string(b), "mcp_allowed_tools") {
				t.Errorf("status %d, want 400 naming mcp_allowed_tools: %s", status, b)
			}
		})
	}
	var got struct {
		Options map[string]string `json:"options"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/limited", w.ts.Admin, nil, &got)
	if got.Options["mcp_allowed_tools"] != "ech*" {
		t.Errorf("stored mcp_allowed_tools = %q, want ech*", got.Options["mcp_allowed_tools"])
	}
}

// TestMCPWirePerUserLogin: on a per-user OAuth MCP connection alice has not logged in
// to, a JSON-RPC POST gets the MCP-shaped login error (HTTP 200): -32042 with a URL
// elicitation when the initialize declares elicitation.url, otherwise the JSON-RPC error
// carrying data.login_url; a GET stream gets the 401 OAUTH_LOGIN_REQUIRED envelope, and
// nothing reaches the upstream. After alice logs in, the very next session works.
func TestMCPWirePerUserLogin(t *testing.T) {
	as := oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{postClient}})
	srv := newMCPServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	var reached atomic.Int64
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if active, _ := as.Introspect(tok); !active {
			http.Error(rw, "invalid_token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(rw, r)
	})
	caFile := joinCAFiles(t, as.CAFile, up.caFile)
	w := &mcpWorld{up: up}
	w.ts = startServer(t, "", nil, "--upstream-ca-file", caFile)
	as.RegisterRedirectURI(w.ts.URL + "/login/oauth/http.html")
	_, w.alice = w.ts.mkUser("alice")
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "mine", "credential_type": "OAUTH_U2M_PER_USER", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "is_mcp_connection": "true", "client_id": postClient.ID, "client_secret": postClient.Secret,
		"token_endpoint": as.URL + "/token", "authorization_endpoint": as.URL + "/authorize", "oauth_scope": "offline_access"}}, nil)
	w.ts.grant("connection", "mine", "alice", "USE_CONNECTION")
	const path = "/api/2.0/mcp/external/mine"
	const initElicit = `{"jsonrpc":"2.0","id":"i1","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"raw","version":"1"}}}`

	for _, tc := range []struct {
		name     string
		method   string
		body     string
		status   int
		wantCode int    // JSON-RPC error code; 0 for the HTTP envelope
		wantID   string // the id the error answers
	}{
		{name: "initialize without elicitation.url", method: "POST", body: mcpInitialize, status: http.StatusOK, wantCode: -32010, wantID: "1"},
		{name: "initialize declaring elicitation.url", method: "POST", body: initElicit, status: http.StatusOK, wantCode: -32042, wantID: `"i1"`},
		{name: "tools/list", method: "POST", body: mcpToolsList, status: http.StatusOK, wantCode: -32010, wantID: "2"},
		{name: "GET stream", method: "GET", status: http.StatusUnauthorized},
		{name: "DELETE", method: "DELETE", status: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := w.raw(t, tc.method, path, w.alice, tc.body, mcpPostHeader)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if strings.Contains(string(b), postClient.Secret) || strings.Contains(string(b), w.alice) {
				t.Fatalf("the login error holds a secret: %s", b)
			}
			if tc.wantCode == 0 {
				if !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") || !strings.Contains(string(b), "login_url") {
					t.Errorf("envelope %s: want OAUTH_LOGIN_REQUIRED with login_url", b)
				}
				return
			}
			var a struct {
				ID    json.RawMessage `json:"id"`
				Error struct {
					Code int `json:"code"`
					Data struct {
						LoginURL     string `json:"login_url"`
						Elicitations []struct {
							Mode string `json:"mode"`
							URL  string `json:"url"`
						} `json:"elicitations"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("answer %s: %v", b, err)
			}
			if a.Error.Code != tc.wantCode || string(a.ID) != tc.wantID {
				t.Errorf("error code %d id %s, want %d id %s: %s", a.Error.Code, a.ID, tc.wantCode, tc.wantID, b)
			}
			if !strings.HasPrefix(a.Error.Data.LoginURL, w.ts.URL+"/") || !strings.Contains(a.Error.Data.LoginURL, "mine") {
				t.Errorf("login_url %q: want Gatehouse's login page for mine", a.Error.Data.LoginURL)
			}
			if tc.wantCode == -32042 && (len(a.Error.Data.Elicitations) != 1 || a.Error.Data.Elicitations[0].Mode != "url" || a.Error.Data.Elicitations[0].URL != a.Error.Data.LoginURL) {
				t.Errorf("elicitations %+v: want one url elicitation to the login page", a.Error.Data.Elicitations)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the upstream received %d requests before alice logged in", n)
	}

	ow := &oauthWorld{t: t, ts: w.ts, as: as, users: map[string]string{"alice": w.alice}}
	if status, page := ow.login("alice", "mine"); status != http.StatusOK {
		t.Fatalf("login = %d: %s", status, page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := w.connect(t, ctx, w.alice, "mine", nil)
	if err != nil {
		t.Fatalf("initialize after login: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "in"}})
	if err != nil {
		t.Fatalf("tools/call after login: %v", err)
	}
	if got := callText(t, res); got != "echo:in" {
		t.Errorf("echo = %q", got)
	}
}

// TestMCPWireRoutingHeaders is the permanent security table of the 2026-07-28 routing
// headers: an upstream (or a front end) that routes on Mcp-Method or Mcp-Name must
// execute what Gatehouse judged, so a POST whose header says other than its body — or
// a batch carrying one — is answered by Gatehouse with HTTP 400 and JSON-RPC -32600
// naming the header, and the upstream receives nothing. Headers that agree pass.
func TestMCPWireRoutingHeaders(t *testing.T) {
	w := newMCPWorld(t, true)
	w.addLimited(t)
	const path = "/api/2.0/mcp/external/limited"
	echo := `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"routed"}}}`
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
		// named is the header the refusal names; "" for a request that must pass.
		named string
	}{
		{name: "tool name header names a tool off the allow-list", body: echo,
			header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"progress"}}, named: "Mcp-Name"},
		{name: "method header names another method", body: mcpToolsList,
			header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"progress"}}, named: "Mcp-Method"},
		{name: "name header on a method without a name", body: mcpToolsList, header: http.Header{"Mcp-Name": {"progress"}}, named: "Mcp-Name"},
		{name: "name header twice", body: echo, header: http.Header{"Mcp-Name": {"echo", "progress"}}, named: "Mcp-Name"},
		{name: "name header in underscore spelling", body: echo, header: http.Header{"Mcp_name": {"progress"}}, named: "Mcp-Name"},
		{name: "name header differing in case", body: echo, header: http.Header{"Mcp-Name": {"Echo"}}, named: "Mcp-Name"},
		{name: "method header on a batch", body: "[" + echo + "]", header: http.Header{"Mcp-Method": {"tools/call"}}, named: "Mcp-Method"},
		{name: "method header on a client response", body: `{"jsonrpc":"2.0","id":"s1","result":{}}`, header: http.Header{"Mcp-Method": {"tools/call"}}, named: "Mcp-Method"},
		{name: "agreeing headers pass (2026-07-28)",
			body: `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"routed"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
				`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}`,
			header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"echo"}, "Mcp-Protocol-Version": {"2026-07-28"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.requests())
			req, err := http.NewRequest("POST", w.ts.URL+path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range mcpPostHeader {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", "Bearer "+w.alice)
			for k, vv := range tc.header {
				req.Header[k] = vv
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := w.requests()[before:]
			if tc.named == "" {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "echo:routed") || len(got) != 1 {
					t.Fatalf("agreeing headers: %d %s (upstream received %d requests)", resp.StatusCode, b, len(got))
				}
				if h := got[0].Header.Get("Mcp-Name"); h != "echo" {
					t.Errorf("upstream got Mcp-Name %q, want echo", h)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("the upstream received %d requests, want none", len(got))
			}
			var a rpcAnswer
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("answer %s: %v", b, err)
			}
			if resp.StatusCode != http.StatusBadRequest || a.Error == nil || a.Error.Code != -32600 || !strings.Contains(a.Error.Message, tc.named) {
				t.Errorf("%d %s: want 400 with JSON-RPC -32600 naming %s", resp.StatusCode, b, tc.named)
			}
		})
	}
	// The refused tools/call is audited as refused, for its headers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := auditList{}
		w.ts.must("GET", "/api/2.0/gatehouse/audit?order=desc&max_results=1000&action=mcpToolCall", w.ts.Admin, nil, &l)
		n := 0
		for _, e := range l.Events {
			if e.Connection == "limited" && e.RequestParams["outcome"] == "refused" && e.RequestParams["reason"] == "headers" && e.RequestParams["jsonrpc_error"] == "-32600" {
				n++
			}
		}
		// The tools/calls refused above: the mismatched name, the name twice, the
		// underscore spelling, the case variant, and the one in the batch.
		if n > 5 {
			t.Fatalf("%d mcpToolCall events refused for headers, want 5: one per refused call", n)
		}
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mcpToolCall events refused for headers, want 5", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMCPWireEveryPostJudged: a connection without mcp_allowed_tools is inspected too.
// A malformed body is answered by Gatehouse and never forwarded, and each tools/call —
// answered as JSON or as an event stream with progress notifications — is one
// mcpToolCall event with outcome ok, never with its arguments.
func TestMCPWireEveryPostJudged(t *testing.T) {
	w := newMCPWorld(t, false)
	for _, tc := range []struct {
		name string
		body string
		code int
	}{
		{name: "not json", body: `{"jsonrpc":`, code: -32700},
		{name: "duplicate method key", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"echo"}}`, code: -32600},
		{name: "empty body", body: ``, code: -32700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.requests())
			resp, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, tc.body, mcpPostHeader)
			var a rpcAnswer
			if err := json.Unmarshal(b, &a); err != nil || resp.StatusCode != http.StatusBadRequest || a.Error == nil || a.Error.Code != tc.code {
				t.Errorf("%d %s: want 400 with JSON-RPC %d", resp.StatusCode, b, tc.code)
			}
			if after := len(w.requests()); after != before {
				t.Errorf("the malformed body reached the upstream")
			}
		})
	}
	for _, jsonResponse := range []bool{true, false} {
		w.useSDKHandler(jsonResponse)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cs, err := w.connect(t, ctx, w.alice, "tools", nil)
		if err != nil {
			cancel()
			t.Fatalf("connect: %v", err)
		}
		argCanary := fmt.Sprintf("ARG-CANARY-%v", jsonResponse)
		if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": argCanary}}); err != nil || callText(t, res) != "echo:"+argCanary {
			t.Errorf("echo: %v", err)
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}); err != nil {
			t.Errorf("progress: %v", err)
		}
		cs.Close()
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			l := auditList{}
			w.ts.must("GET", "/api/2.0/gatehouse/audit?order=desc&max_results=1000&action=mcpToolCall", w.ts.Admin, nil, &l)
			got := map[string]int{}
			for _, e := range l.Events {
				raw, _ := json.Marshal(e)
				if strings.Contains(string(raw), argCanary) {
					t.Fatalf("an mcpToolCall event holds the call's arguments: %s", raw)
				}
				if e.Connection == "tools" && e.RequestParams["outcome"] == "ok" && e.Decision == "ALLOW" {
					got[e.RequestParams["tool"]]++
				}
			}
			want := 1
			if !jsonResponse {
				want = 2 // the JSON round went first
			}
			if got["echo"] == want && got["progress"] == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ok events on tools = %v, want %d each of echo and progress", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
