package browsertests

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpClient is an MCP client written to the MCP authorization spec: it discovers the
// authorization server from the MCP endpoint's 401 (RFC 9728, RFC 8414), identifies
// itself by a client ID metadata document, sends the user's browser to the
// authorization endpoint with PKCE S256, state and the resource (RFC 8707), and
// receives the answer on a loopback redirect URI (RFC 8252).
type mcpClient struct {
	t                   *testing.T
	resource            string
	clientID            string
	verifier            string
	authorize, tokenURL string
	callback            *httptest.Server
	redirect            string          // callback's /callback
	answers             chan url.Values // what the redirect URI received
}

// newMCPClient discovers Gatehouse's authorization server from the MCP endpoint of
// connection, and listens on its loopback redirect URI.
func newMCPClient(t *testing.T, w *world, connection string) *mcpClient {
	t.Helper()
	c := &mcpClient{t: t, resource: w.gh.URL + "/api/2.0/mcp/external/" + connection, clientID: w.clientID,
		verifier: randomString(t), answers: make(chan url.Values, 4)}
	c.callback = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(rw, r)
			return
		}
		c.answers <- r.URL.Query()
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(rw, `<!doctype html><title>client</title><p id="client-done">You can close this window.</p>`)
	}))
	t.Cleanup(c.callback.Close)
	c.redirect = c.callback.URL + "/callback"

	resp, err := http.Post(c.resource, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, prm, ok := strings.Cut(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`)
	prm, _, _ = strings.Cut(prm, `"`)
	if resp.StatusCode != http.StatusUnauthorized || !ok {
		t.Fatalf("MCP endpoint without a token: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	var meta struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
	}
	getJSON(t, prm, &meta)
	if meta.Resource != c.resource || len(meta.Servers) != 1 {
		t.Fatalf("protected-resource metadata %+v", meta)
	}
	var as struct {
		Issuer    string   `json:"issuer"`
		Authorize string   `json:"authorization_endpoint"`
		Token     string   `json:"token_endpoint"`
		PKCE      []string `json:"code_challenge_methods_supported"`
		CIMD      bool     `json:"client_id_metadata_document_supported"`
	}
	getJSON(t, meta.Servers[0]+"/.well-known/oauth-authorization-server", &as)
	if as.Issuer != meta.Servers[0] || as.Authorize == "" || as.Token == "" || !as.CIMD || len(as.PKCE) == 0 || as.PKCE[0] != "S256" {
		t.Fatalf("authorization server metadata %+v", as)
	}
	c.authorize, c.tokenURL = as.Authorize, as.Token
	return c
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, out) != nil {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, b)
	}
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorizeURL is where the client sends the user's browser.
func (c *mcpClient) authorizeURL(state string) string {
	sum := sha256.Sum256([]byte(c.verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {c.clientID}, "redirect_uri": {c.redirect}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "resource": {c.resource}}
	return c.authorize + "?" + q.Encode()
}

// answer is what the redirect URI received; the browser has already been there, so
// it waits only for the handler to hand it over.
func (c *mcpClient) answer() url.Values {
	c.t.Helper()
	select {
	case q := <-c.answers:
		return q
	case <-time.After(10 * time.Second):
		c.t.Fatal("the client's redirect URI received nothing")
		return nil
	}
}

// noAnswer fails the test if the redirect URI received anything.
func (c *mcpClient) noAnswer() {
	c.t.Helper()
	select {
	case q := <-c.answers:
		c.t.Errorf("the client's redirect URI received %v", q)
	default:
	}
}

// exchange redeems a code at the token endpoint.
func (c *mcpClient) exchange(code string) (access, refresh string) {
	c.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {c.clientID},
		"redirect_uri": {c.redirect}, "code_verifier": {c.verifier}, "resource": {c.resource}}
	resp, err := http.PostForm(c.tokenURL, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		Type    string `json:"token_type"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.Access == "" || !strings.EqualFold(tok.Type, "bearer") {
		c.t.Fatalf("code exchange = %d %s", resp.StatusCode, b)
	}
	return tok.Access, tok.Refresh
}

// callEcho calls the echo tool through endpoint with the token, as an MCP SDK client.
func callEcho(endpoint, token string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := mcp.NewClient(&mcp.Implementation{Name: "browser-spec-client", Version: "1.0.0"}, nil)
	cs, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}}}, nil)
	if err != nil {
		return "", err
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("tool result %+v", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("tool result content %T", res.Content[0])
	}
	return tc.Text, nil
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// mcpConnections creates the MCP connections "tools" and "other" to the MCP server,
// both usable by alice.
func (w *world) mcpConnections(t *testing.T) {
	t.Helper()
	for _, name := range []string{"tools", "other"} {
		w.gh.MakeConnection(name, "", map[string]string{"host": w.mcp.URL, "base_path": "/mcp", "bearer_token": mcpUpstreamToken, "is_mcp_connection": "true"})
		w.gh.Grant("connection", name, "alice@example.com", "USE_CONNECTION")
	}
}

// consentFlow: an MCP client sends a browser that is not signed in to Gatehouse's
// authorization endpoint; the browser signs in by SSO on the way, sees the consent
// page naming the client, the connection and the user, denies once (the client gets
// access_denied with its state), then approves (the client gets a code on its
// loopback redirect URI, the form's redirect allowed by the page's CSP). The client
// redeems the code with its PKCE verifier, calls a tool through the connection with
// the token, and the same token is refused at another MCP connection alice may use.
func consentFlow(t *testing.T, w *world, secrets map[string]string) {
	w.mcpConnections(t)
	c := newMCPClient(t, w, "tools")
	p := newPage(t, w.gh.URL)

	// Not signed in: the sign-in page, which leads on to the consent page.
	p.open(c.authorizeURL("state-deny"))
	if loc := p.location(); !strings.HasPrefix(loc, w.gh.URL+"/login?next=") {
		t.Fatalf("authorize without a session went to %s, want the sign-in page", loc)
	}
	if landed, status := p.ssoFromSignInPage("alice@example.com"); !strings.HasPrefix(landed, c.authorize+"?") || status != http.StatusOK {
		t.Fatalf("after SSO the browser is at %s (%d), want the consent page", landed, status)
	}
	for id, want := range map[string]string{"consent-client": clientName, "consent-client-id": c.clientID,
		"consent-connection": "tools", "consent-user": "alice@example.com", "consent-redirect-uri": c.redirect} {
		if got := p.text(id); got != want {
			t.Errorf("consent page #%s = %q, want %q", id, got, want)
		}
	}
	p.click("consent-deny")
	if q := c.answer(); q.Get("error") != "access_denied" || q.Get("state") != "state-deny" || q.Has("code") {
		t.Fatalf("after Deny the client received %v", q)
	}

	// Signed in now: straight to the consent page; Allow.
	resp := p.open(c.authorizeURL("state-allow"))
	if csp := header(resp, "Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+c.callback.URL+";") || strings.Contains(csp, "script-src") {
		t.Errorf("consent page CSP = %q, want the form's redirect allowed to the client's origin only", csp)
	}
	p.click("consent-approve")
	if loc := p.location(); !strings.HasPrefix(loc, c.redirect+"?") || p.text("client-done") == "" {
		t.Fatalf("after Allow the browser is at %s, want the client's redirect URI", loc)
	}
	q := c.answer()
	code := q.Get("code")
	if code == "" || q.Get("state") != "state-allow" || q.Get("iss") != w.gh.URL {
		t.Fatalf("after Allow the client received %v", q)
	}
	access, refresh := c.exchange(code)
	if got, err := callEcho(c.resource, access); err != nil || got != "echo:hi" {
		t.Fatalf("tool call with the issued token = %q, %v", got, err)
	}
	// The audience: the token is for "tools" only.
	status, body := w.gh.Do("POST", "/api/2.0/mcp/external/other", access, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if status != http.StatusUnauthorized || !strings.Contains(string(body), "another resource") {
		t.Errorf("the token at another connection = %d %s, want 401 for another resource", status, body)
	}
	if _, err := callEcho(w.gh.URL+"/api/2.0/mcp/external/other", access); err == nil {
		t.Errorf("an MCP client reached another connection with the token")
	}
	more := map[string]string{"the access token": access, "the refresh token": refresh, "the code": code, "the PKCE verifier": c.verifier}
	for k, v := range secrets {
		more[k] = v
	}
	canaryScan(t, "a page", p.seen.String(), w.secrets(more))
	canaryScan(t, "the server log", w.gh.Log(), w.secrets(more))
}
