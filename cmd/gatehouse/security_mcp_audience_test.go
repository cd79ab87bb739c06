package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// audienceWorld is a Gatehouse with an egress proxy, two MCP connections "tools" and
// "other" and a plain connection "plain" to one upstream, all of which alice may use,
// and tokens minted directly in the store: alice's and the admin's bound to the MCP
// URL of "tools" (as Gatehouse's authorization server mints them for an MCP client).
type audienceWorld struct {
	ts                 *testServer
	up                 *upstream
	canary             string
	alice              string // alice's personal access token, no audience
	aliceTools         string // alice's token for {public_url}/api/2.0/mcp/external/tools
	adminTools         string // the admin's token for the same resource
	egress             string
	toolsURL, otherURL string
}

func newAudienceWorld(t *testing.T) *audienceWorld {
	t.Helper()
	w := &audienceWorld{canary: "CANARY-aud-" + identity.NewTokenValue()[4:20]}
	w.up = newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if r.Header.Get("Authorization") != "Bearer "+w.canary {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		io.WriteString(rw, `{"jsonrpc":"2.0","id":1,"result":{"upstream":"reached"}}`)
	})
	w.ts = startServer(t, "", nil, "--upstream-ca-file", w.up.caFile, "--egress-listen", "127.0.0.1:0")
	w.egress = egressAddrOf(t, w.ts)
	aliceID, alice := w.ts.mkUser("alice@example.com")
	w.alice = alice
	for _, c := range []struct{ name, mcp string }{{"tools", "true"}, {"other", "true"}, {"plain", "false"}} {
		w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": c.name, "options": map[string]string{
			"host": w.up.URL, "base_path": "/mcp", "bearer_token": w.canary, "is_mcp_connection": c.mcp}}, nil)
		w.ts.grant("connection", c.name, "alice@example.com", "USE_CONNECTION")
	}
	w.toolsURL = w.ts.URL + "/api/2.0/mcp/external/tools"
	w.otherURL = w.ts.URL + "/api/2.0/mcp/external/other"
	var me struct {
		ID string `json:"id"`
	}
	w.ts.must("GET", "/api/2.0/preview/scim/v2/Me", w.ts.Admin, nil, &me)
	// The server shares its store: a second handle on the same database file mints the
	// tokens the authorization server would.
	st, err := sqlite.Open(t.Context(), filepath.Join(w.ts.DataDir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mint := func(principalID, aud string) string {
		v := identity.NewTokenValue()
		tok := &catalog.Token{ID: catalog.NewID(), PrincipalID: principalID, Hash: identity.HashToken(v), Comment: "mcp client", CreatedBy: principalID,
			CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Audience: aud}
		if err := st.CreateToken(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		return v
	}
	w.aliceTools = mint(aliceID, w.toolsURL)
	w.adminTools = mint(me.ID, w.toolsURL)
	return w
}

// send sends a request to Gatehouse and returns the response (body read and closed)
// and its body; both go to the canary scan.
func (w *audienceWorld) send(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, w.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range mcpPostHeader {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	w.ts.responses.Write(b)
	for k, vs := range resp.Header {
		w.ts.responses.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
	}
	return resp, b
}

// TestSecurityMCPAudience is the permanent table of where a token bound to one MCP
// connection's URL is good: on the MCP proxy of exactly that connection, and nowhere
// else — not another connection, not the REST API (not even to mint itself a token
// without an audience, not for an admin), not the connection proxy, the external
// function, the egress proxy or the browser sign-in. Every refusal is the ordinary 401
// envelope with WWW-Authenticate error="invalid_token", and the upstream is never
// reached by a refused call.
func TestSecurityMCPAudience(t *testing.T) {
	w := newAudienceWorld(t)
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	metaOf := func(name string) string {
		return `resource_metadata="` + w.ts.URL + "/.well-known/oauth-protected-resource/api/2.0/mcp/external/" + name + `"`
	}
	tests := []struct {
		name         string
		method, path string
		token        string
		body         string
		ok           bool   // accepted: the upstream answers through Gatehouse
		challenge    string // refused: the WWW-Authenticate it must carry
	}{
		{"bound token on its MCP connection", "POST", "/api/2.0/mcp/external/tools", w.aliceTools, ping, true, ""},
		{"bound token on its MCP connection, name in capitals", "POST", "/api/2.0/mcp/external/TOOLS", w.aliceTools, ping, true, ""},
		{"bound token opens a stream on its connection", "GET", "/api/2.0/mcp/external/tools", w.aliceTools, "", true, ""},
		{"personal token on the MCP proxy", "POST", "/api/2.0/mcp/external/other", w.alice, ping, true, ""},
		{"bound token on another MCP connection", "POST", "/api/2.0/mcp/external/other", w.aliceTools, ping, false, `Bearer ` + metaOf("other") + `, error="invalid_token"`},
		{"bound token deletes a session of another connection", "DELETE", "/api/2.0/mcp/external/other", w.aliceTools, "", false, `Bearer ` + metaOf("other") + `, error="invalid_token"`},
		{"bound token on the MCP proxy of a plain connection", "POST", "/api/2.0/mcp/external/plain", w.aliceTools, ping, false, `Bearer ` + metaOf("plain") + `, error="invalid_token"`},
		{"bound token on the connection proxy of its connection", "POST", "/api/2.0/unity-catalog/connections/tools/proxy/x", w.aliceTools, ping, false, `Bearer error="invalid_token"`},
		{"bound token on the connection proxy of a plain connection", "GET", "/api/2.0/unity-catalog/connections/plain/proxy/", w.aliceTools, "", false, `Bearer error="invalid_token"`},
		{"bound token on the external function", "POST", "/api/2.0/external-function", w.aliceTools, `{"connection_name":"plain","method":"GET","path":"/"}`, false, `Bearer error="invalid_token"`},
		{"bound token reads who it is", "GET", "/api/2.0/preview/scim/v2/Me", w.aliceTools, "", false, `Bearer error="invalid_token"`},
		{"bound token mints itself a personal token", "POST", "/api/2.0/token/create", w.aliceTools, `{"comment":"escape"}`, false, `Bearer error="invalid_token"`},
		{"bound token reads its connection", "GET", "/api/2.1/unity-catalog/connections/tools", w.aliceTools, "", false, `Bearer error="invalid_token"`},
		{"bound token lists the tools of its connection", "GET", "/api/2.0/gatehouse/connections/tools/mcp-tools", w.aliceTools, "", false, `Bearer error="invalid_token"`},
		{"admin's bound token creates a user", "POST", "/api/2.0/preview/scim/v2/Users", w.adminTools, `{"userName":"mallory@example.com"}`, false, `Bearer error="invalid_token"`},
		{"admin's bound token reads the audit log", "GET", "/api/2.0/gatehouse/audit", w.adminTools, "", false, `Bearer error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.up.hits.Load()
			resp, b := w.send(t, tc.method, tc.path, tc.token, tc.body)
			if tc.ok {
				if resp.StatusCode != http.StatusOK || (tc.method == "POST" && !strings.Contains(string(b), `"upstream":"reached"`)) {
					t.Fatalf("%s %s = %d %s, want the upstream's answer", tc.method, tc.path, resp.StatusCode, b)
				}
				if w.up.hits.Load() == before {
					t.Fatalf("the upstream was not reached")
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s %s = %d %s, want 401", tc.method, tc.path, resp.StatusCode, b)
			}
			if e := decodeErr(t, b); e.ErrorCode != "UNAUTHENTICATED" || e.RequestID == "" || !strings.Contains(e.Message, "another resource") {
				t.Errorf("envelope = %+v, want UNAUTHENTICATED for another resource", e)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if w.up.hits.Load() != before {
				t.Errorf("a refused call reached the upstream")
			}
		})
	}
	t.Run("egress proxy refuses the bound token", func(t *testing.T) {
		before := w.up.hits.Load()
		if status, body := egressConnect(t, w.egress, strings.TrimPrefix(w.up.URL, "https://"), w.aliceTools); status != http.StatusProxyAuthRequired || !strings.Contains(body, "another resource") {
			t.Errorf("CONNECT with the bound token = %d %s, want 407 for another resource", status, body)
		}
		if status, _ := egressConnect(t, w.egress, strings.TrimPrefix(w.up.URL, "https://"), w.alice); status != http.StatusOK {
			t.Errorf("CONNECT with alice's personal token = %d, want 200 (the control)", status)
		}
		if w.up.hits.Load() != before {
			t.Errorf("the upstream was reached through a tunnel no request used")
		}
	})
	t.Run("browser sign-in refuses the bound token", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		signIn := func(token string) (int, string) {
			resp, err := c.Get(w.ts.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := csrfRE.FindStringSubmatch(string(page))
			if m == nil {
				t.Fatalf("no csrf field on the sign-in page:\n%s", page)
			}
			resp, err = c.PostForm(w.ts.URL+"/login", url.Values{"token": {token}, "csrf": {m[1] + m[2]}, "next": {"/"}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			w.ts.responses.Write(b)
			return resp.StatusCode, string(b)
		}
		if status, page := signIn(w.aliceTools); status != http.StatusUnauthorized || !strings.Contains(page, "another resource") {
			t.Errorf("sign-in with the bound token = %d, want 401 for another resource:\n%s", status, page)
		}
		if status, _ := signIn(w.alice); status != http.StatusSeeOther {
			t.Errorf("sign-in with alice's personal token = %d, want 303 (the control)", status)
		}
	})
	t.Run("canary scan", func(t *testing.T) {
		scan := map[string]string{"responses": w.ts.responses.String(), "server log": w.ts.Stderr.String() + w.ts.Stdout.String()}
		for where, text := range scan {
			for what, secret := range map[string]string{"upstream credential": w.canary, "alice's bound token": w.aliceTools, "admin's bound token": w.adminTools} {
				if strings.Contains(text, secret) {
					t.Errorf("%s carry %s", where, what)
				}
			}
		}
	})
}

// TestMCPResourceChallenge: a 401 of the MCP proxy for a missing or bad token names
// the connection's protected-resource metadata (RFC 9728 §5.1), with no error for a
// missing token (RFC 6750 §3.1); other APIs answer a missing token as before.
func TestMCPResourceChallenge(t *testing.T) {
	w := newAudienceWorld(t)
	meta := w.ts.URL + "/.well-known/oauth-protected-resource/api/2.0/mcp/external/tools"
	tests := []struct {
		name         string
		method, path string
		token        string
		want         string
	}{
		{"no token, POST", "POST", "/api/2.0/mcp/external/tools", "", `Bearer resource_metadata="` + meta + `"`},
		{"no token, GET", "GET", "/api/2.0/mcp/external/tools", "", `Bearer resource_metadata="` + meta + `"`},
		{"bad token", "POST", "/api/2.0/mcp/external/tools", identity.NewTokenValue(), `Bearer resource_metadata="` + meta + `"`},
		{"not a Gatehouse token", "POST", "/api/2.0/mcp/external/tools", "abc", `Bearer resource_metadata="` + meta + `"`},
		{"unknown connection, no token", "POST", "/api/2.0/mcp/external/nosuch", "", `Bearer resource_metadata="` + w.ts.URL + `/.well-known/oauth-protected-resource/api/2.0/mcp/external/nosuch"`},
		{"REST API, no token", "GET", "/api/2.0/preview/scim/v2/Me", "", ""},
		{"connection proxy, no token", "GET", "/api/2.0/unity-catalog/connections/tools/proxy/", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := w.send(t, tc.method, tc.path, tc.token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
			if resp.StatusCode != http.StatusUnauthorized || decodeErr(t, b).ErrorCode != "UNAUTHENTICATED" {
				t.Fatalf("%s %s = %d %s, want 401 UNAUTHENTICATED", tc.method, tc.path, resp.StatusCode, b)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestProtectedResourceMetadata: the RFC 9728 document of an MCP connection URL,
// served without authentication, and the same for a name with no MCP connection behind
// it, so that it tells nobody which connections exist; a malformed name gets 404.
func TestProtectedResourceMetadata(t *testing.T) {
	w := newAudienceWorld(t)
	const prefix = "/.well-known/oauth-protected-resource/api/2.0/mcp/external/"
	doc := func(name string) map[string]any {
		return map[string]any{"resource": w.ts.URL + "/api/2.0/mcp/external/" + name, "authorization_servers": []any{w.ts.URL},
			"bearer_methods_supported": []any{"header"}, "scopes_supported": []any{}}
	}
	tests := []struct {
		name   string
		path   string
		token  string
		status int
		want   map[string]any
	}{
		{"MCP connection", prefix + "tools", "", 200, doc("tools")},
		{"name folded as connection names are", prefix + "Tools", "", 200, doc("tools")},
		{"with a token, the same", prefix + "tools", w.alice, 200, doc("tools")},
		{"unknown name, the same shape", prefix + "nosuch", "", 200, doc("nosuch")},
		{"plain connection, the same shape", prefix + "plain", "", 200, doc("plain")},
		{"malformed name", prefix + "-bad", "", 404, nil},
		{"no name", prefix, "", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := w.send(t, "GET", tc.path, tc.token, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, resp.StatusCode, b, tc.status)
			}
			if tc.want == nil {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Errorf("document = %s, want %s", gj, wj)
			}
		})
	}
	if w.up.hits.Load() != 0 {
		t.Errorf("the metadata reached the upstream")
	}
}
