package browsertests

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/gatehouse/gatehouse/internal/webui/ssotest"
)

// Secrets the providers and upstreams hold; none may appear in a page or the log.
const (
	mcpUpstreamToken = "CANARY-browser-mcp-upstream-5d1f"
	asClientSecret   = "CANARY-browser-as-secret-90c2"
	asClientID       = "browser-client"
	clientName       = "Browser Spec Client"
)

// world is a Gatehouse with single sign-on, and everything its browser flows reach on
// loopback: the OpenID provider, an OAuth authorization server with an API behind it
// for a per-user connection, an MCP server for MCP connections, and the host of an
// MCP client's client ID metadata document.
type world struct {
	gh        *gatehousetest.Server
	idp       *ssotest.Provider
	as        *oauthtest.Server
	api       *httptest.Server // accepts the authorization server's access tokens
	mcp       *httptest.Server // an MCP server (go-sdk) that wants mcpUpstreamToken
	clientDoc *httptest.Server // serves /client.json
	clientID  string           // clientDoc.URL + "/client.json"
}

// newWorld starts the world; autoCreate starts Gatehouse with --oidc-auto-create-users.
func newWorld(t *testing.T, autoCreate bool) *world {
	t.Helper()
	w := &world{idp: ssotest.New(t)}
	w.as = oauthtest.New(t, oauthtest.Options{SignInPage: true, Clients: []oauthtest.Client{{ID: asClientID, Secret: asClientSecret}}})
	w.api = httptest.NewTLSServer(w.as.UpstreamHandler())
	t.Cleanup(w.api.Close)
	srv := mcp.NewServer(&mcp.Implementation{Name: "browser-upstream", Version: "1.0.0"}, nil)
	type echoIn struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes its text"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo:" + in.Text}}}, nil, nil
	})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	w.mcp = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+mcpUpstreamToken {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		sdk.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.mcp.Close)
	w.clientDoc = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/client.json" {
			http.NotFound(rw, r)
			return
		}
		// A loopback redirect URI: any port is allowed (RFC 8252 §7.3).
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"client_id": w.clientID, "client_name": clientName,
			"redirect_uris": []string{"http://127.0.0.1/callback"}})
	}))
	t.Cleanup(w.clientDoc.Close)
	w.clientID = w.clientDoc.URL + "/client.json"

	// Gatehouse trusts the loopback providers' and upstreams' certificates.
	dir := t.TempDir()
	asCA, err := os.ReadFile(w.as.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cas := append(asCA, w.idp.CertPEM()...)
	for _, s := range []*httptest.Server{w.api, w.mcp, w.clientDoc} {
		cas = append(cas, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	caFile, secretFile := filepath.Join(dir, "cas.pem"), filepath.Join(dir, "oidc-secret")
	if err := os.WriteFile(caFile, cas, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(ssotest.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--upstream-ca-file", caFile, "--oidc-issuer", w.idp.URL, "--oidc-client-id", ssotest.ClientID,
		"--oidc-client-secret-file", secretFile}
	if autoCreate {
		args = append(args, "--oidc-auto-create-users")
	}
	w.gh = gatehousetest.Start(t, gatehousetest.Options{Args: args})
	w.idp.RegisterRedirectURI(w.gh.URL + "/login/oidc/callback")
	w.as.RegisterRedirectURI(w.gh.URL + "/login/oauth/http.html")
	return w
}

// idpUser makes a user known to the OpenID provider under its email address, which
// names the Gatehouse user (--oidc-username-claim defaults to email).
func (w *world) idpUser(email string) {
	w.idp.SetUser(email, map[string]any{"email": email, "email_verified": true})
}

// secrets is everything secret the world's parts issued or hold, by name.
func (w *world) secrets(more map[string]string) map[string]string {
	out := map[string]string{"the admin token": w.gh.Admin, "the MCP upstream's token": mcpUpstreamToken,
		"the OAuth client secret": asClientSecret}
	for i, s := range w.idp.Secrets() {
		out[fmt.Sprintf("secret #%d of the OpenID provider", i)] = s
	}
	for i, s := range w.as.IssuedTokens() {
		out[fmt.Sprintf("token #%d of the authorization server", i)] = s
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// ssoSignIn signs the browser in by single sign-on as user: Sign in with the
// provider on /login, the provider's sign-in page, back to Gatehouse. It returns the
// address and status of the page the browser lands on.
func (p *page) ssoSignIn(w *world, user string) (landed string, status int64) {
	p.t.Helper()
	p.open(w.gh.URL + "/login")
	return p.ssoFromSignInPage(user)
}

// ssoFromSignInPage is ssoSignIn from the sign-in page the browser is on.
func (p *page) ssoFromSignInPage(user string) (landed string, status int64) {
	p.t.Helper()
	p.click("sso-sign-in")
	if p.text("idp-heading") == "" {
		p.t.Fatalf("no provider sign-in page at %s", p.location())
	}
	p.typeIn("idp-username", user)
	resp := p.click("idp-sign-in")
	return resp.URL, resp.Status
}
