package oidcprovider_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatehouseBin is the gatehouse binary TestMain builds once for every test.
var gatehouseBin string

// nodeDir is this folder: server.js, package.json and node_modules.
var nodeDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv("GATEHOUSE_TEST_SKIP_NODE") == "1" {
		fmt.Println("GATEHOUSE_TEST_SKIP_NODE=1: skipping the oidc-provider interoperability tests")
		return 0
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	nodeDir = wd
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "oidc-provider", "package.json")); err != nil {
		// A fresh clone: install the pinned dependencies (package-lock.json) from the npm
		// registry, so that the README's one test command works on a new machine.
		install := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		install.Dir, install.Stdout, install.Stderr = nodeDir, os.Stderr, os.Stderr
		if err := install.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "oidc-provider is not installed in %s and `npm ci --no-audit --no-fund` there failed "+
				"(set GATEHOUSE_TEST_SKIP_NODE=1 to skip these tests on a machine without Node and npm): %v\n", nodeDir, err)
			return 1
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintf(os.Stderr, "node is not on PATH (needed by the oidc-provider tests; set GATEHOUSE_TEST_SKIP_NODE=1 to skip them): %v\n", err)
		return 1
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			fmt.Fprintln(os.Stderr, "no go.mod above", wd)
			return 1
		}
		root = parent
	}
	tmp, err := os.MkdirTemp("", "gatehouse-oidc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	gatehouseBin = filepath.Join(tmp, "gatehouse")
	args := []string{"build", "-o", gatehouseBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/gatehouse")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/gatehouse: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testCA is a certificate authority made for one test, with one leaf certificate
// for 127.0.0.1 that the provider and the upstream both serve.
type testCA struct {
	CAFile   string // PEM of the CA, given to Gatehouse as --upstream-ca-file
	CertFile string // leaf certificate PEM
	KeyFile  string // leaf key PEM
	Pool     *x509.CertPool
	Leaf     tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse oidc test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "leaf.pem"), KeyFile: filepath.Join(dir, "leaf.key"),
		Pool: x509.NewCertPool(),
	}
	ca.Pool.AddCert(caCert)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	for f, b := range map[string][]byte{
		ca.CAFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), ca.CertFile: certPEM, ca.KeyFile: keyPEM,
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if ca.Leaf, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return ca
}

// client is a client registered at the provider.
type client struct {
	ID, Secret, AuthMethod string
}

var (
	basicClient = client{"gh-basic", "CANARY-oidc-basic-secret-7731", "client_secret_basic"}
	postClient  = client{"gh-post", "CANARY-oidc-post-secret-2294", "client_secret_post"}
	// rsClient is the upstream's own client, for introspection.
	rsClient = client{"upstream-rs", "CANARY-oidc-rs-secret-5518", "client_secret_basic"}
)

// provider is a running server.js.
type provider struct {
	URL        string // issuer, https://127.0.0.1:PORT
	adminToken string
	http       *http.Client
	cmd        *exec.Cmd
	stderr     *lockedBuffer
}

type providerOptions struct {
	AccessTokenTTL int      // seconds
	Resources      []string // accepted resource indicators; the first is the default
	RedirectURI    string
	// ClientAuthMethods, when set, replaces oidc-provider's list of client
	// authentication methods (and so what its metadata publishes).
	ClientAuthMethods []string
}

// startProvider runs server.js and waits for the line it prints when it listens.
func startProvider(t *testing.T, ca *testCA, opts providerOptions) *provider {
	t.Helper()
	p := &provider{adminToken: randomHex(16), stderr: &lockedBuffer{},
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}, Timeout: 10 * time.Second}}
	var clients []map[string]any
	for _, c := range []client{basicClient, postClient} {
		clients = append(clients, map[string]any{
			"client_id": c.ID, "client_secret": c.Secret, "token_endpoint_auth_method": c.AuthMethod,
			"redirect_uris":  []string{opts.RedirectURI},
			"grant_types":    []string{"authorization_code", "refresh_token", "client_credentials"},
			"response_types": []string{"code"},
			"scope":          "openid offline_access api.read",
		})
	}
	rsMethod := rsClient.AuthMethod
	if len(opts.ClientAuthMethods) > 0 {
		// oidc-provider takes the secret by header or body from a client registered
		// with either method; it must only be registered with one it publishes.
		rsMethod = opts.ClientAuthMethods[0]
	}
	clients = append(clients, map[string]any{
		"client_id": rsClient.ID, "client_secret": rsClient.Secret, "token_endpoint_auth_method": rsMethod,
		"redirect_uris": []string{}, "grant_types": []string{"client_credentials"}, "response_types": []string{},
	})
	cfg := map[string]any{
		"tlsCert": ca.CertFile, "tlsKey": ca.KeyFile, "accessTokenTTL": opts.AccessTokenTTL,
		"adminToken": p.adminToken, "resources": opts.Resources, "clients": clients,
	}
	if len(opts.ClientAuthMethods) > 0 {
		cfg["clientAuthMethods"] = opts.ClientAuthMethods
	}
	cfgFile := filepath.Join(t.TempDir(), "provider.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("node", filepath.Join(nodeDir, "server.js"), cfgFile)
	p.cmd.Dir = nodeDir
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "NODE_ENV=test")
	p.URL = waitForLine(t, p.cmd, "oidc-provider listening on ", p.stderr)
	t.Cleanup(func() { stopProcess(t, p.cmd, "oidc-provider", p.stderr) })
	return p
}

// events returns what the provider's token endpoint answered, in order.
func (p *provider) events(t *testing.T) []tokenEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", p.URL+"/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	var ev []tokenEvent
	p.doJSON(t, req, &ev)
	return ev
}

// revoke destroys every grant of the account at the provider: consent revoked.
func (p *provider) revoke(t *testing.T, account string) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.URL+"/admin/revoke?account="+url.QueryEscape(account), nil)
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	var out struct {
		Revoked int `json:"revoked"`
	}
	p.doJSON(t, req, &out)
	if out.Revoked == 0 {
		t.Fatalf("provider had no grant of %s to revoke", account)
	}
}

func (p *provider) doJSON(t *testing.T, req *http.Request, out any) {
	t.Helper()
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s = %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v: %s", req.Method, req.URL, err, b)
	}
}

type tokenEvent struct {
	GrantType        string `json:"grant_type"`
	ClientID         string `json:"client_id"`
	Account          string `json:"account"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// newUpstream starts an HTTPS API on loopback that accepts a bearer token only if the
// provider's introspection endpoint says it is active, and echoes its subject and
// client. It counts the calls it served.
// It listens on ln, so that its URL can be known before the provider starts.
func newUpstream(t *testing.T, ca *testCA, ln net.Listener, prov func() *provider) *httptest.Server {
	t.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			http.Error(w, `{"error":"no bearer token"}`, http.StatusUnauthorized)
			return
		}
		p := prov()
		form := url.Values{"token": {tok}}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", p.URL+"/token/introspection", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rsClient.ID, rsClient.Secret)
		resp, err := p.http.Do(req)
		if err != nil {
			http.Error(w, `{"error":"introspection failed"}`, http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var in struct {
			Active   bool   `json:"active"`
			Sub      string `json:"sub"`
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
			Aud      any    `json:"aud"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&in) != nil {
			http.Error(w, `{"error":"introspection refused"}`, http.StatusBadGateway)
			return
		}
		if !in.Active {
			http.Error(w, `{"error":"token not active"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": in.Sub, "client_id": in.ClientID, "scope": in.Scope, "aud": in.Aud, "path": r.URL.Path})
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf}}
	_ = up.Listener.Close()
	up.Listener = ln
	up.StartTLS()
	t.Cleanup(up.Close)
	return up
}

// gatehouse is a running gatehouse server subprocess.
type gatehouse struct {
	t      *testing.T
	URL    string
	Admin  string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	users  map[string]string // name → token
}

// startGatehouse runs the gatehouse binary on 127.0.0.1:0, trusting the test CA, and
// opens loopback in its network policy.
func startGatehouse(t *testing.T, ca *testCA, args ...string) *gatehouse {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	g := &gatehouse{t: t, Admin: "gth_" + randomHex(24), stderr: &lockedBuffer{}, users: map[string]string{}}
	argv := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--upstream-ca-file", ca.CAFile}, args...)
	g.cmd = exec.Command(gatehouseBin, argv...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	g.cmd.Env = append(env, "GATEHOUSE_BOOTSTRAP_TOKEN="+g.Admin, "GATEHOUSE_MASTER_KEY="+base64.StdEncoding.EncodeToString(key))
	g.cmd.Stderr = g.stderr
	g.URL = waitForLine(t, g.cmd, "Gatehouse is listening on ", g.stderr)
	t.Cleanup(func() { stopProcess(t, g.cmd, "gatehouse", g.stderr) })
	g.must("PUT", "/api/2.0/gatehouse/network-policy", g.Admin, map[string]any{
		"restriction_mode": "FULL_ACCESS", "enforcement_mode": "ENFORCED", "allowed_ip_ranges": []string{"127.0.0.0/8"},
	}, nil)
	return g
}

// waitForLine starts cmd and returns what follows prefix on the first stdout line
// that has it; the rest of stdout is drained. It fails the test if the process exits
// first or prints nothing within 30 s.
func waitForLine(t *testing.T, cmd *exec.Cmd, prefix string, stderr *lockedBuffer) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), prefix); ok && !sent {
				found <- strings.TrimSpace(rest)
				sent = true
			}
		}
		close(found)
	}()
	select {
	case v, ok := <-found:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("%s exited before printing %q; stderr:\n%s", cmd.Path, prefix, stderr.String())
		}
		return v
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s printed no %q within 30s; stderr:\n%s", cmd.Path, prefix, stderr.String())
	}
	return ""
}

// stopProcess sends SIGTERM and waits up to 20 s, then kills.
func stopProcess(t *testing.T, cmd *exec.Cmd, name string, stderr *lockedBuffer) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop within 20s", name)
	}
	if t.Failed() {
		t.Logf("%s stderr:\n%s", name, stderr.String())
	}
}

func (g *gatehouse) do(method, path, token string, body any) (int, []byte) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (g *gatehouse) must(method, path, token string, body, out any) {
	g.t.Helper()
	status, b := g.do(method, path, token, body)
	if status/100 != 2 {
		g.t.Fatalf("%s %s = %d %s, want 2xx", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			g.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// mkUser creates a user and keeps a token for it under its name.
func (g *gatehouse) mkUser(name string) {
	g.t.Helper()
	g.must("POST", "/api/2.0/preview/scim/v2/Users", g.Admin, map[string]any{"userName": name}, nil)
	var tok struct {
		TokenValue string `json:"token_value"`
	}
	g.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", g.Admin, map[string]any{"user_name": name, "comment": "oidc test"}, &tok)
	g.users[name] = tok.TokenValue
}

// connection creates a connection with the options and grants every known user
// USE_CONNECTION on it.
func (g *gatehouse) connection(name, credType string, opts map[string]string) (int, []byte) {
	g.t.Helper()
	status, b := g.do("POST", "/api/2.1/unity-catalog/connections", g.Admin, map[string]any{"name": name, "credential_type": credType, "options": opts})
	if status == 200 {
		for u := range g.users {
			g.grant(name, u, "USE_CONNECTION")
		}
	}
	return status, b
}

// grant adds privileges on a connection to a principal.
func (g *gatehouse) grant(conn, principal string, privs ...string) {
	g.t.Helper()
	g.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/"+conn, g.Admin,
		map[string]any{"changes": []map[string]any{{"principal": principal, "add": privs}}}, nil)
}

// echo is what the upstream answered.
type echo struct {
	Sub      string `json:"sub"`
	ClientID string `json:"client_id"`
	Path     string `json:"path"`
	Aud      any    `json:"aud"`
}

// callProxy calls the upstream through the transparent proxy.
func (g *gatehouse) callProxy(token, conn string) (int, echo, []byte) {
	g.t.Helper()
	status, b := g.do("GET", "/api/2.0/unity-catalog/connections/"+conn+"/proxy/whoami", token, nil)
	var e echo
	_ = json.Unmarshal(b, &e)
	return status, e, b
}

// callFunction calls the upstream through /api/2.0/external-function, which answers
// with the upstream's status and body.
func (g *gatehouse) callFunction(token, conn string) (int, echo, []byte) {
	g.t.Helper()
	status, b := g.do("POST", "/api/2.0/external-function", token, map[string]any{"connection_name": conn, "method": "GET", "path": "/whoami"})
	var e echo
	_ = json.Unmarshal(b, &e)
	return status, e, b
}

// browser is a cookie-keeping client that does not follow redirects; on requests to
// the provider it names the account to log in (server.js's headless interaction).
type browser struct {
	c       *http.Client
	account string
}

type accountHeader struct {
	rt      http.RoundTripper
	host    string
	account string
}

func (a *accountHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == a.host {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Account", a.account)
	}
	return a.rt.RoundTrip(r)
}

func newBrowser(ca *testCA, p *provider, account string) *browser {
	jar, _ := cookiejar.New(nil)
	pu, _ := url.Parse(p.URL)
	tr := &accountHeader{rt: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}, host: pu.Host, account: account}
	return &browser{account: account, c: &http.Client{Jar: jar, Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf"`)

// login signs user in to Gatehouse through the token form, opens
// /connections/{conn}/login, follows every redirect through the provider and its
// interaction back to /login/oauth/http.html, and returns that page. It also returns
// the authorization request Gatehouse sent.
func (g *gatehouse) login(ca *testCA, p *provider, user, conn string) (int, string, *url.URL) {
	g.t.Helper()
	t := g.t
	b := newBrowser(ca, p, user)
	_, page := b.get(t, g.URL+"/login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the sign-in page:\n%s", page)
	}
	resp, err := b.c.PostForm(g.URL+"/login", url.Values{"token": {g.users[user]}, "csrf": {m[1] + m[2]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", resp.StatusCode)
	}
	next := g.URL + "/connections/" + conn + "/login"
	var authReq *url.URL
	for i := 0; i < 20; i++ {
		resp, body := b.get(t, next)
		if resp.StatusCode/100 != 3 {
			if !strings.HasPrefix(next, g.URL+"/login/oauth/http.html") {
				t.Fatalf("login stopped at %s = %d %s", next, resp.StatusCode, body)
			}
			return resp.StatusCode, body, authReq
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if authReq == nil && strings.HasPrefix(loc.String(), p.URL+"/auth") {
			authReq = loc
		}
		next = loc.String()
	}
	t.Fatalf("login: more than 20 redirects")
	return 0, "", nil
}

// lockedBuffer is a bytes.Buffer safe for a process writer and a test reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secretForms are the encodings in which a client secret could leak: plain, URL and
// form encoded, base64 of the secret and of the Basic credentials.
func secretForms(c client) []string {
	return []string{
		c.Secret, url.QueryEscape(c.Secret), url.PathEscape(c.Secret),
		base64.StdEncoding.EncodeToString([]byte(c.Secret)), base64.RawURLEncoding.EncodeToString([]byte(c.Secret)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID) + ":" + url.QueryEscape(c.Secret))),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// world is one provider, one upstream and one gatehouse with users alice, bob, carol.
type world struct {
	ca *testCA
	p  *provider
	up *httptest.Server
	g  *gatehouse
}

func newWorld(t *testing.T, opts providerOptions, args ...string) *world {
	t.Helper()
	w := &world{ca: newTestCA(t)}
	w.g = startGatehouse(t, w.ca, args...)
	opts.RedirectURI = w.g.URL + "/login/oauth/http.html"
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = 3600
	}
	// The upstream's address is needed for the provider's accepted resources before
	// the provider exists, and the upstream introspects at the provider: listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upURL := "https://" + ln.Addr().String()
	opts.Resources = append([]string{upURL, upURL + "/"}, opts.Resources...)
	var prov atomic.Pointer[provider]
	w.up = newUpstream(t, w.ca, ln, prov.Load)
	w.p = startProvider(t, w.ca, opts)
	prov.Store(w.p)
	for _, u := range []string{"alice", "bob", "carol"} {
		w.g.mkUser(u)
	}
	return w
}

// oauthOpts are a connection's options against the world's provider.
func (w *world) oauthOpts(c client, credType string, extra map[string]string) map[string]string {
	o := map[string]string{"host": w.up.URL, "client_id": c.ID, "client_secret": c.Secret,
		"token_endpoint": w.p.URL + "/token", "oauth_scope": "openid offline_access api.read"}
	if credType == "OAUTH_M2M" {
		o["oauth_scope"] = "api.read"
	} else {
		o["authorization_endpoint"] = w.p.URL + "/auth"
	}
	for k, v := range extra {
		if v == "" {
			delete(o, k)
		} else {
			o[k] = v
		}
	}
	return o
}
