package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPAuthMetadata: a running Gatehouse publishes its authorization server metadata
// (RFC 8414) without authentication, issuer and endpoints under its public URL, naming
// the grant types its token endpoint really answers.
func TestMCPAuthMetadata(t *testing.T) {
	ts := startServer(t, "", nil)
	code, body := ts.do(http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if code != http.StatusOK {
		t.Fatalf("metadata: %d %s", code, body)
	}
	var md struct {
		Issuer        string   `json:"issuer"`
		Authorize     string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		Grants        []string `json:"grant_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		CIMDSupported bool     `json:"client_id_metadata_document_supported"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != ts.URL || md.Authorize != ts.URL+"/oidc/v1/authorize" || md.Token != ts.URL+"/oidc/v1/token" {
		t.Errorf("issuer %q, authorize %q, token %q; want them under %q", md.Issuer, md.Authorize, md.Token, ts.URL)
	}
	if len(md.PKCE) != 1 || md.PKCE[0] != "S256" || !md.CIMDSupported {
		t.Errorf("PKCE methods %v, CIMD supported %v", md.PKCE, md.CIMDSupported)
	}
	found := false
	for _, g := range md.Grants {
		found = found || g == "urn:ietf:params:oauth:grant-type:token-exchange"
	}
	if !found {
		t.Errorf("grant_types_supported %v does not name token exchange", md.Grants)
	}
}

// mcpOAuthClient is an MCP client written to the MCP authorization spec: a client ID
// metadata document, PKCE S256, resource indicators, a loopback redirect URI.
type mcpOAuthClient struct {
	id, redirect, verifier, state string
}

func (c mcpOAuthClient) challenge() string {
	s := sha256.Sum256([]byte(c.verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// TestMCPAuthEndToEnd: an MCP client whose client ID metadata document is served on
// loopback HTTPS signs a token-signed-in browser user in: discovery, authorize (sign-in
// first), consent, code, token, a call through the MCP connection with the token, and
// refresh rotation with reuse detection.
func TestMCPAuthEndToEnd(t *testing.T) { mcpAuthEndToEnd(t, nil) }

// TestMCPAuthEndToEndPostgres is the same on the PostgreSQL store: codes and refresh
// families live in its pending logins.
func TestMCPAuthEndToEndPostgres(t *testing.T) {
	dsn := withPassword(t, pgtest.Shared(t).NewDatabase(t))
	mcpAuthEndToEnd(t, map[string]string{"GATEHOUSE_MASTER_KEY": newMasterKey(t)}, "--store", dsn)
}

func mcpAuthEndToEnd(t *testing.T, env map[string]string, args ...string) {
	const canary = "CANARY-mcpauth-upstream"
	srv := newMCPServer()
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	var client mcpOAuthClient
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/client.json" {
			rw.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(rw).Encode(map[string]any{"client_id": client.id, "client_name": "Spec Client",
				"redirect_uris": []string{"http://127.0.0.1/callback"}})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+canary {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		sdk.ServeHTTP(rw, r)
	})
	client = mcpOAuthClient{id: up.URL + "/client.json", redirect: "http://127.0.0.1:9/callback",
		verifier: "verifier-" + strings.Repeat("v", 50), state: "state-123"}
	ts := startServer(t, "", env, append([]string{"--upstream-ca-file", up.caFile}, args...)...)
	if env["GATEHOUSE_MASTER_KEY"] != "" && !strings.Contains(ts.Stdout.String(), "Store: postgres://") {
		t.Fatalf("not on the PostgreSQL store:\n%s", ts.Stdout.String())
	}
	_, alice := ts.mkUser("alice@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "tools", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "bearer_token": canary, "is_mcp_connection": "true"}}, nil)
	ts.grant("connection", "tools", "alice@example.com", "USE_CONNECTION")
	resource := ts.URL + "/api/2.0/mcp/external/tools"

	// Discovery, as the MCP authorization spec has a client do it: the MCP proxy's 401
	// names the protected-resource metadata, which names the authorization server, whose
	// metadata names the endpoints.
	unauth, err := http.Post(resource, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize"}`))
	if err != nil {
		t.Fatal(err)
	}
	unauth.Body.Close()
	challenge := unauth.Header.Get("WWW-Authenticate")
	_, prmURL, ok := strings.Cut(challenge, `resource_metadata="`)
	prmURL, _, _ = strings.Cut(prmURL, `"`)
	if unauth.StatusCode != http.StatusUnauthorized || !ok || !strings.HasPrefix(prmURL, ts.URL+"/") {
		t.Fatalf("MCP proxy without a token: %d, WWW-Authenticate %q", unauth.StatusCode, challenge)
	}
	var prm struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
	}
	ts.must("GET", strings.TrimPrefix(prmURL, ts.URL), "", nil, &prm)
	if prm.Resource != resource || len(prm.Servers) != 1 || prm.Servers[0] != ts.URL {
		t.Fatalf("protected-resource metadata: %+v", prm)
	}
	var md struct {
		Issuer    string `json:"issuer"`
		Authorize string `json:"authorization_endpoint"`
		Token     string `json:"token_endpoint"`
	}
	ts.must("GET", "/.well-known/oauth-authorization-server", "", nil, &md)
	if md.Issuer != prm.Servers[0] {
		t.Fatalf("authorization server metadata issuer %q, want %q", md.Issuer, prm.Servers[0])
	}
	q := url.Values{"response_type": {"code"}, "client_id": {client.id}, "redirect_uri": {client.redirect}, "state": {client.state},
		"code_challenge": {client.challenge()}, "code_challenge_method": {"S256"}, "resource": {resource}}
	authURL := md.Authorize + "?" + q.Encode()

	// Not signed in: to the sign-in page and back.
	b := newBrowser(nil)
	resp, _ := b.get(t, authURL)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("authorize without session: %d %q", resp.StatusCode, loc)
	}
	if next, _ := url.ParseQuery(strings.TrimPrefix(loc, "/login?")); ts.URL+next.Get("next") != authURL {
		t.Errorf("next %q does not lead back to %q", next.Get("next"), authURL)
	}
	b.signIn(t, ts.URL, alice)

	// Consent.
	resp, page := b.get(t, authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Spec Client") || !strings.Contains(page, "tools") {
		t.Fatalf("consent page: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
		t.Errorf("consent CSP %q does not allow the redirect's origin", csp)
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no csrf on the consent page")
	}
	form := url.Values{"csrf": {m[1] + m[2]}, "decision": {"allow"}}
	for k, v := range q {
		form[k] = v
	}
	// Without the CSRF token nothing is issued.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("csrf", strings.Repeat("A", len(m[1]+m[2])))
	if r2, err := b.c.PostForm(md.Authorize, bad); err != nil || r2.StatusCode != http.StatusForbidden {
		t.Fatalf("consent without the CSRF token: %v %v", r2, err)
	} else {
		r2.Body.Close()
	}
	r3, err := b.c.PostForm(md.Authorize, form)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	back, err := url.Parse(r3.Header.Get("Location"))
	if r3.StatusCode != http.StatusSeeOther || err != nil || back.Host != "127.0.0.1:9" || back.Path != "/callback" {
		t.Fatalf("approve: %d %q", r3.StatusCode, r3.Header.Get("Location"))
	}
	if back.Query().Get("state") != client.state || back.Query().Get("iss") != ts.URL || back.Query().Get("code") == "" {
		t.Fatalf("callback %q", back)
	}

	// Code for tokens.
	token := func(form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, md.Token, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		code, body := send(t, req)
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		return code, out
	}
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "client_id": {client.id},
		"redirect_uri": {client.redirect}, "code_verifier": {client.verifier}, "resource": {resource}}
	code, tok := token(codeForm)
	if code != http.StatusOK || tok["access_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("code exchange: %d %v", code, tok)
	}
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)

	// The token calls the MCP connection as alice.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callTools := func(tokenValue string) error {
		c := mcp.NewClient(&mcp.Implementation{Name: "spec-client", Version: "1.0.0"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{token: tokenValue, base: &http.Transport{}}}}, nil)
		if err != nil {
			return err
		}
		defer cs.Close()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
		if err != nil {
			return err
		}
		if got := callText(t, res); got != "echo:hi" {
			return fmt.Errorf("echo answered %q", got)
		}
		return nil
	}
	if err := callTools(access); err != nil {
		t.Fatalf("call with the issued token: %v", err)
	}
	// The token is bound to its connection: refused at another MCP connection alice may
	// use, and at the REST API.
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "other", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "bearer_token": canary, "is_mcp_connection": "true"}}, nil)
	ts.grant("connection", "other", "alice@example.com", "USE_CONNECTION")
	if status, body := ts.do("POST", "/api/2.0/mcp/external/other", access, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}); status != http.StatusUnauthorized {
		t.Errorf("the token at another MCP connection: %d %s, want 401", status, body)
	}
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", access, nil); status != http.StatusUnauthorized {
		t.Errorf("the token at the REST API: %d, want 401", status)
	}

	// Refresh: rotation; the replaced access token stops working.
	refreshForm := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client.id}}
	}
	code, tok2 := token(refreshForm(refresh))
	if code != http.StatusOK || tok2["refresh_token"] == refresh || tok2["access_token"] == access {
		t.Fatalf("refresh: %d %v", code, tok2)
	}
	if err := callTools(tok2["access_token"].(string)); err != nil {
		t.Fatalf("call with the refreshed token: %v", err)
	}
	if err := callTools(access); err == nil {
		t.Error("the access token replaced by a refresh still calls")
	}
	// Reuse of the first refresh token revokes the family.
	if code, out := token(refreshForm(refresh)); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("refresh reuse: %d %v", code, out)
	}
	if err := callTools(tok2["access_token"].(string)); err == nil {
		t.Error("after refresh-token reuse the family's access token still calls")
	}
	if code, out := token(refreshForm(tok2["refresh_token"].(string))); code != http.StatusBadRequest {
		t.Errorf("the family's newest refresh token after reuse: %d %v", code, out)
	}
	// The code again: refused.
	if code, out := token(codeForm); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("code replay: %d %v", code, out)
	}

	// Audited tokenCreate of alice, naming the grant, client and resource; neither the
	// audit nor the server log holds a token, refresh token or code.
	l := ts.waitAudit("action=tokenCreate&principal=alice@example.com", 2)
	grants := map[string]bool{}
	for _, e := range l.Events {
		if e.Decision == "ALLOW" {
			grants[e.RequestParams["grant_type"]] = true
			if e.RequestParams["resource"] != resource || e.RequestParams["client_id"] != client.id || e.RequestParams["token_id"] == "" {
				t.Errorf("tokenCreate params %v", e.RequestParams)
			}
		}
	}
	if !grants["authorization_code"] || !grants["refresh_token"] {
		t.Errorf("allowed tokenCreate grants %v, want authorization_code and refresh_token", grants)
	}
	_, raw := ts.do("GET", "/api/2.0/gatehouse/audit?action=tokenCreate", ts.Admin, nil)
	for name, secret := range map[string]string{"access token": access, "refresh token": refresh, "code": back.Query().Get("code"),
		"rotated access token": tok2["access_token"].(string), "rotated refresh token": tok2["refresh_token"].(string)} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the audit log contains the %s", name)
		}
		if strings.Contains(ts.Stderr.String()+ts.Stdout.String(), secret) {
			t.Errorf("the server log contains the %s", name)
		}
	}
}
