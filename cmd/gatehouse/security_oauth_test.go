package main

import (
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
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// The permanent security tables of issue 8, points 3 and 4: a provider that echoes
// what Gatehouse sent it never gets a secret shown to anyone, and discovery metadata
// never sends a secret to another host.

// secCA is a CA and a server certificate for 127.0.0.1 and localhost, so that an
// "attacker" reached under either name completes TLS: a refusal must come from
// Gatehouse's rule, not from a certificate error.
type secCA struct {
	file string
	pool *x509.CertPool
	cert tls.Certificate
}

func newSecCA(t *testing.T) *secCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "security test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageCertSign,
		BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &secCA{file: filepath.Join(t.TempDir(), "ca.pem"), pool: x509.NewCertPool(), cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
	ca.pool.AddCert(caCert)
	if err := os.WriteFile(ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// serve starts an HTTPS server on 127.0.0.1 with the CA's certificate.
func (ca *secCA) serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.cert}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// seenRequest is one request a test server received.
type seenRequest struct {
	Host, Method, Path string
	Header             http.Header
	Body               string
}

// requestLog records requests.
type requestLog struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (l *requestLog) add(r *http.Request) seenRequest {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s := seenRequest{Host: r.Host, Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: string(body)}
	l.mu.Lock()
	l.reqs = append(l.reqs, s)
	l.mu.Unlock()
	return s
}

func (l *requestLog) all() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]seenRequest(nil), l.reqs...)
}

// text is every recorded request as one text to scan.
func (s seenRequest) text() string {
	h, _ := json.Marshal(s.Header)
	return s.Method + " " + s.Host + s.Path + "\n" + string(h) + "\n" + s.Body
}

// echoDump is what a provider that quotes the request says: the Authorization header
// and the raw body first (the message keeps 300 characters), then the decoded form and
// every header as JSON.
func echoDump(s seenRequest) string {
	form, _ := url.ParseQuery(s.Body)
	h, _ := json.Marshal(s.Header)
	f, _ := json.Marshal(form)
	return "Authorization: " + s.Header.Get("Authorization") + " body: " + s.Body + " form: " + string(f) + " headers: " + string(h)
}

// echoProvider is an OAuth server on loopback TLS: an authorization endpoint that
// redirects straight back with a code, a token endpoint that issues canary tokens (or,
// once echo is set, answers every grant but authorization_code with an error quoting
// the whole request), a recording revocation endpoint, metadata per path prefix, and
// an upstream API that answers 200 to anything else.
type echoProvider struct {
	srv    *httptest.Server
	log    requestLog
	echo   atomic.Bool
	expiry string // expires_in of issued access tokens

	mu         sync.Mutex
	n          int
	issued     []string
	revocation map[string]string // path prefix → revocation_endpoint in its metadata; "{host}" is replaced
}

func newEchoProvider(t *testing.T, ca *secCA, expiresIn string) *echoProvider {
	p := &echoProvider{expiry: expiresIn, revocation: map[string]string{}}
	p.srv = ca.serve(t, http.HandlerFunc(p.serveHTTP))
	return p
}

func (p *echoProvider) token(prefix string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	tok := fmt.Sprintf("CANARY-%s-%d-%s", prefix, p.n, strings.Repeat("x", 12))
	p.issued = append(p.issued, tok)
	return tok
}

func (p *echoProvider) tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.issued...)
}

func (p *echoProvider) serveHTTP(w http.ResponseWriter, r *http.Request) {
	seen := p.log.add(r)
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/.well-known/oauth-authorization-server/"):
		prefix := strings.TrimPrefix(path, "/.well-known/oauth-authorization-server/")
		p.mu.Lock()
		rev, ok := p.revocation[prefix]
		p.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		base := "https://" + r.Host + "/" + prefix
		writeJSON(200, map[string]any{"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"revocation_endpoint": strings.ReplaceAll(rev, "{host}", r.Host), "grant_types_supported": []string{"authorization_code", "refresh_token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"}})
	case strings.HasSuffix(path, "/authorize"):
		back, err := url.Parse(r.URL.Query().Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", 400)
			return
		}
		q := back.Query()
		q.Set("code", p.token("CODE"))
		q.Set("state", r.URL.Query().Get("state"))
		back.RawQuery = q.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	case strings.HasSuffix(path, "/token"):
		form, _ := url.ParseQuery(seen.Body)
		grant := form.Get("grant_type")
		if p.echo.Load() && grant != "authorization_code" {
			code := "invalid_grant"
			if grant == "client_credentials" {
				code = "invalid_client"
			}
			writeJSON(400, map[string]string{"error": code, "error_description": echoDump(seen)})
			return
		}
		ans := map[string]any{"access_token": p.token("AT"), "token_type": "Bearer", "expires_in": json.Number(p.expiry)}
		if grant != "client_credentials" {
			ans["refresh_token"] = p.token("RT")
		}
		writeJSON(200, ans)
	case strings.HasSuffix(path, "/revoke"):
		w.WriteHeader(200)
	default:
		writeJSON(200, map[string]string{"ok": "upstream"})
	}
}

// secCanaryForms lists the forms a secret can be quoted in: plain, form and path
// escapes, JSON escapes (HTML-escaped or not, ASCII-only in both cases of hex) and,
// with a client ID, both HTTP Basic forms in the four base64 alphabets.
func secCanaryForms(clientID, secret string) map[string]string {
	js := func(escapeHTML bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		_ = enc.Encode(secret)
		return strings.TrimSuffix(strings.TrimSuffix(b.String(), "\n")[1:], `"`)
	}
	ascii := func(format string) string {
		var b strings.Builder
		for _, r := range js(false) {
			switch {
			case r < 0x80:
				b.WriteRune(r)
			case r > 0xFFFF:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, format+format, r1, r2)
			default:
				fmt.Fprintf(&b, format, r)
			}
		}
		return b.String()
	}
	out := map[string]string{"plain": secret, "form-encoded": url.QueryEscape(secret), "path-escaped": url.PathEscape(secret),
		"json": js(true), "json without html": js(false), "json ascii": ascii(`\u%04x`), "json ascii upper": ascii(`\u%04X`)}
	if clientID != "" {
		for name, userpass := range map[string]string{"basic": clientID + ":" + secret, "basic form-encoded": url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)} {
			for alpha, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding, "url": base64.URLEncoding, "raw url": base64.RawURLEncoding} {
				out[name+" "+alpha] = enc.EncodeToString([]byte(userpass))
			}
		}
	}
	return out
}

var secBase64Run = regexp.MustCompile(`[A-Za-z0-9+/_=-]{12,}`)

// secLeak names the first form of a secret in text ("" for none); besides the listed
// forms it decodes every base64-looking run and looks for the plain and form-encoded
// secret inside.
func secLeak(text, clientID string, secrets ...string) string {
	for _, s := range secrets {
		for name, f := range secCanaryForms(clientID, s) {
			if strings.Contains(text, f) {
				return name + " form of a " + fmt.Sprint(len(s)) + "-byte secret"
			}
		}
		for _, run := range secBase64Run.FindAllString(text, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				for _, cand := range []string{run, strings.TrimRight(run, "=")} {
					d, err := enc.DecodeString(cand)
					if err == nil && (bytes.Contains(d, []byte(s)) || bytes.Contains(d, []byte(url.QueryEscape(s)))) {
						return "base64 of a secret in " + run
					}
				}
			}
		}
	}
	return ""
}

// The client secret has every character whose encodings differ.
const (
	echoClientID = "echo-client"
	echoSecret   = `CANARY-sec"ret\<&+/=ü€-9f3a`
)

// oauthLogin runs a browser login of the user (token) to conn against an
// authorization endpoint that redirects straight back.
func oauthLogin(t *testing.T, ts *testServer, roots *x509.CertPool, token, conn string) {
	t.Helper()
	b := newBrowser(roots)
	b.signIn(t, ts.URL, token)
	provider := b.startLogin(t, ts.URL, conn)
	resp, body := b.get(t, provider.String())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize = %d %s", resp.StatusCode, body)
	}
	resp, page := b.get(t, resp.Header.Get("Location"))
	if resp.StatusCode != 200 {
		t.Fatalf("login %s = %d %s", conn, resp.StatusCode, page)
	}
}

// TestProviderEchoNeverShowsSecrets: a token endpoint that quotes the whole request
// (Authorization header, body, decoded form, all headers) in its error_description,
// for each exchange method, for an M2M creation, a failed M2M renewal, a failed
// refresh and `connections check`. The client secret, the refresh tokens, the access
// tokens and the authorization codes appear in no API response, credential reason,
// audit record, server log line, CLI output or database file, in any encoding; the
// echo was seen (each sink shows [redacted]).
func TestProviderEchoNeverShowsSecrets(t *testing.T) {
	ca := newSecCA(t)
	p := newEchoProvider(t, ca, "0.001") // access tokens expire at once: every call renews
	ts := startServer(t, "", nil, "--upstream-ca-file", ca.file)
	_, alice := ts.mkUser("alice")
	methods := []string{"header_and_body", "body_only", "header_only"}
	create := func(name, typ, method string) (int, []byte) {
		opts := map[string]string{"host": p.srv.URL, "client_id": echoClientID, "client_secret": echoSecret,
			"token_endpoint": p.srv.URL + "/" + name + "/token", "oauth_credential_exchange_method": method, "oauth_scope": "offline_access"}
		if typ != "OAUTH_M2M" {
			opts["authorization_endpoint"] = p.srv.URL + "/" + name + "/authorize"
		}
		return ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": name, "credential_type": typ, "options": opts})
	}
	// While the provider behaves: an M2M connection and a per-user login per method.
	for _, m := range methods {
		if status, b := create("m2m-"+m, "OAUTH_M2M", m); status != 200 {
			t.Fatalf("create m2m-%s = %d %s", m, status, b)
		}
		if status, b := create("user-"+m, "OAUTH_U2M_PER_USER", m); status != 200 {
			t.Fatalf("create user-%s = %d %s", m, status, b)
		}
		ts.grant("connection", "m2m-"+m, "alice", "USE_CONNECTION")
		ts.grant("connection", "user-"+m, "alice", "USE_CONNECTION")
		oauthLogin(t, ts, ca.pool, alice, "user-"+m)
	}
	p.echo.Store(true)
	cliOut := map[string]string{}
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			// M2M creation: the first token request is refused with the echo.
			status, b := create("m2m-new-"+m, "OAUTH_M2M", m)
			if status != 400 || !strings.Contains(decodeErr(t, b).Message, "[redacted]") {
				t.Errorf("M2M creation against an echoing endpoint = %d %s, want 400 with [redacted]", status, b)
			}
			// A failed M2M renewal and a failed refresh, as the caller sees them.
			if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/m2m-"+m+"/proxy/x", alice, nil); status == 200 || !strings.Contains(string(b), "[redacted]") {
				t.Errorf("call m2m-%s = %d %s, want an error with [redacted]", m, status, b)
			}
			if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/user-"+m+"/proxy/x", alice, nil); status != 401 || !strings.Contains(string(b), "[redacted]") {
				t.Errorf("call user-%s = %d %s, want 401 with [redacted]", m, status, b)
			}
			var uc struct {
				CredentialStatus struct{ State, Reason string } `json:"credential_status"`
			}
			ts.must("GET", "/api/2.1/unity-catalog/connections/user-"+m+"/user-credentials/alice", alice, nil, &uc)
			if uc.CredentialStatus.State != "REAUTH_REQUIRED" || !strings.Contains(uc.CredentialStatus.Reason, "[redacted]") {
				t.Errorf("credential_status = %+v, want REAUTH_REQUIRED with the redacted echo", uc.CredentialStatus)
			}
			if l := secLeak(uc.CredentialStatus.Reason, echoClientID, append(p.tokens(), echoSecret)...); l != "" {
				t.Errorf("credential_status.reason holds the %s", l)
			}
			for _, c := range []string{"m2m-" + m, "user-" + m} {
				out, err := ts.cli(ts.Admin, "", "connections", "check", c)
				if err != nil {
					t.Errorf("connections check %s: %v\n%s", c, err, out)
				}
				cliOut[c] = out
				ts.do("GET", "/api/2.0/gatehouse/connections/"+c+"/check", ts.Admin, nil)
			}
			if !strings.Contains(cliOut["m2m-"+m], "[redacted]") {
				t.Errorf("connections check m2m-%s does not show the redacted echo:\n%s", m, cliOut["m2m-"+m])
			}
		})
	}
	ts.do("GET", "/api/2.0/gatehouse/inventory", ts.Admin, nil)
	audit, _ := json.Marshal(ts.waitAudit("max_results=1000", 1))
	if !strings.Contains(string(audit), "[redacted]") {
		t.Errorf("no credential state change in the audit log shows the redacted echo")
	}
	ts.Stop()
	// The provider did get every secret (the scan below would prove nothing otherwise).
	var sent strings.Builder
	for _, r := range p.log.all() {
		sent.WriteString(r.text())
	}
	if secLeak(sent.String(), echoClientID, echoSecret) == "" {
		t.Fatal("the provider never received the client secret; the scan proves nothing")
	}
	secrets := append(p.tokens(), echoSecret)
	if len(secrets) < 10 {
		t.Fatalf("only %d canaries issued", len(secrets))
	}
	scan := map[string]string{"API responses and CLI output": ts.responses.String(), "server log": ts.Stderr.String() + ts.Stdout.String(), "audit": string(audit)}
	for c, out := range cliOut {
		scan["connections check "+c] = out
	}
	files, _ := filepath.Glob(filepath.Join(ts.DataDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		scan[filepath.Base(f)] = string(b)
	}
	for where, text := range scan {
		if l := secLeak(text, echoClientID, secrets...); l != "" {
			t.Errorf("%s holds the %s", where, l)
		}
	}
}

// TestMetadataNeverRedirectsSecrets: a discovery document whose revocation_endpoint
// is on another host (another port, another name for loopback, the same port under
// another name) never gets a request when a user disconnects or the connection is
// deleted; a same-host revocation endpoint is still used; `connections check` (API and
// CLI) names the ignored endpoint, and the server log says so.
func TestMetadataNeverRedirectsSecrets(t *testing.T) {
	ca := newSecCA(t)
	p := newEchoProvider(t, ca, "3600")
	var attackerLog requestLog
	attacker := ca.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attackerLog.add(r); w.WriteHeader(200) }))
	_, pPort, _ := net.SplitHostPort(strings.TrimPrefix(p.srv.URL, "https://"))
	_, aPort, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "https://"))
	ts := startServer(t, "", nil, "--upstream-ca-file", ca.file)
	_, alice := ts.mkUser("alice")
	_, bob := ts.mkUser("bob")
	for i, tc := range []struct {
		name       string
		revocation string
		foreign    bool
	}{
		{"another port", "https://127.0.0.1:" + aPort + "/revoke", true},
		{"another name, another port", "https://localhost:" + aPort + "/revoke", true},
		{"another name, the same port", "https://localhost:" + pPort + "/revoke", true},
		{"another scheme", "http://{host}/revoke", true},
		{"the same host", "https://{host}/c/revoke", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("c%d", i)
			p.mu.Lock()
			p.revocation[prefix] = tc.revocation
			p.mu.Unlock()
			name := "meta" + prefix
			opts := map[string]string{"host": p.srv.URL, "client_id": echoClientID, "client_secret": echoSecret,
				"token_endpoint": p.srv.URL + "/" + prefix + "/token", "authorization_endpoint": p.srv.URL + "/" + prefix + "/authorize", "oauth_scope": "offline_access"}
			ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": name, "credential_type": "OAUTH_U2M_PER_USER", "options": opts}, nil)
			ts.grant("connection", name, "alice", "USE_CONNECTION")
			ts.grant("connection", name, "bob", "USE_CONNECTION")
			before := len(p.tokens())
			oauthLogin(t, ts, ca.pool, alice, name)
			oauthLogin(t, ts, ca.pool, bob, name)
			userTokens := p.tokens()[before:]

			// connections check, API and CLI, says what was ignored and why.
			var res struct {
				Checks []oauth.Check `json:"checks"`
			}
			ts.must("GET", "/api/2.0/gatehouse/connections/"+name+"/check", ts.Admin, nil, &res)
			var line *oauth.Check
			for i := range res.Checks {
				if res.Checks[i].Name == oauth.CheckMetadataEndpoints {
					line = &res.Checks[i]
				}
			}
			out, err := ts.cli(ts.Admin, "", "connections", "check", name)
			if err != nil {
				t.Fatalf("connections check: %v\n%s", err, out)
			}
			shown := strings.ReplaceAll(tc.revocation, "{host}", "127.0.0.1:"+pPort)
			if tc.foreign {
				if line == nil || line.Result != oauth.ResultFail || !strings.Contains(line.Evidence, "revocation_endpoint "+shown) || !strings.Contains(line.Evidence, "https://127.0.0.1:"+pPort) {
					t.Errorf("check = %+v, want a %q fail naming %s and the configured origin", res.Checks, oauth.CheckMetadataEndpoints, shown)
				}
				if !strings.Contains(out, oauth.CheckMetadataEndpoints) || !strings.Contains(out, shown) {
					t.Errorf("CLI check does not name the ignored endpoint:\n%s", out)
				}
			} else if line != nil || strings.Contains(out, oauth.CheckMetadataEndpoints) {
				t.Errorf("a same-host revocation endpoint was reported as ignored: %+v\n%s", line, out)
			}

			revokesBefore := countRevokes(p.log.all(), "127.0.0.1:"+pPort)
			ts.must("DELETE", "/api/2.1/unity-catalog/connections/"+name+"/user-credentials/alice", alice, nil, nil)
			ts.must("DELETE", "/api/2.1/unity-catalog/connections/"+name, ts.Admin, nil, nil)

			// What reached a host that is not the configured one.
			var foreign strings.Builder
			n := 0
			for _, r := range attackerLog.all() {
				foreign.WriteString(r.text())
				n++
			}
			for _, r := range p.log.all() {
				if r.Host != "127.0.0.1:"+pPort {
					foreign.WriteString(r.text())
					n++
				}
			}
			if n != 0 {
				t.Errorf("%d requests reached another host than the configured endpoint's", n)
			}
			if l := secLeak(foreign.String(), echoClientID, append(userTokens, echoSecret)...); l != "" {
				t.Errorf("another host received the %s", l)
			}
			revokes := countRevokes(p.log.all(), "127.0.0.1:"+pPort) - revokesBefore
			if tc.foreign && revokes != 0 {
				t.Errorf("%d revocations with a foreign revocation_endpoint, want 0", revokes)
			}
			if !tc.foreign && revokes != 4 { // alice's and bob's refresh and access tokens
				t.Errorf("%d revocations at the same-host endpoint, want 4 (alice's and bob's two tokens)", revokes)
			}
		})
	}
	if log := ts.Stderr.String(); !strings.Contains(log, "field=revocation_endpoint") || !strings.Contains(log, "ignores it") {
		t.Errorf("the server log does not say a revocation endpoint was ignored:\n%s", log)
	}
}

func countRevokes(reqs []seenRequest, host string) int {
	n := 0
	for _, r := range reqs {
		if r.Host == host && strings.HasSuffix(r.Path, "/revoke") {
			n++
		}
	}
	return n
}
