package main

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/gatehouse/gatehouse/internal/webui/ssotest"
)

// ssoSignIn signs the browser in by single sign-on as the provider's user and returns
// the callback's answer.
func (b *browser) ssoSignIn(t *testing.T, base string, idp *ssotest.Provider, user string) *http.Response {
	t.Helper()
	_, page := b.get(t, base+"/login")
	if !strings.Contains(page, `id="sso-sign-in"`) {
		t.Fatalf("the sign-in page offers no single sign-on:\n%s", page)
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the sign-in page:\n%s", page)
	}
	resp, err := b.c.PostForm(base+"/login/oidc", url.Values{"csrf": {m[1] + m[2]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login/oidc = %d, want 303", resp.StatusCode)
	}
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(to.String(), idp.URL+"/authorize?") {
		t.Fatalf("sign-in went to %q, not the provider", resp.Header.Get("Location"))
	}
	back := b.authorize(t, to, user)
	if back.Path != "/login/oidc/callback" {
		t.Fatalf("the provider sent the browser to %s", back)
	}
	resp, _ = b.get(t, back.String())
	return resp
}

// TestSSOEndToEnd runs the server with --oidc-* against a real OpenID provider
// (fosite's, on loopback TLS, reached through the network policy's dialer): a user
// signs in by SSO, and from that browser session logs in to a per-user OAuth
// connection (fosite again) and calls through it; an unknown user is auto-created.
func TestSSOEndToEnd(t *testing.T) {
	idp := ssotest.New(t)
	idp.SetUser("alice", map[string]any{"preferred_username": "alice", "email": "alice@example.com", "email_verified": true})
	idp.SetUser("dave", map[string]any{"preferred_username": "dave", "name": "Dave"})
	as := oauthtest.New(t, oauthtest.Options{Clients: []oauthtest.Client{basicClient}})
	up := httptest.NewUnstartedServer(as.UpstreamHandler())
	up.StartTLS()
	t.Cleanup(up.Close)
	asPEM, err := os.ReadFile(as.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caPEM := append(append(asPEM, pemOf(up)...), idp.CertPEM()...)
	caFile, secretFile := filepath.Join(dir, "cas.pem"), filepath.Join(dir, "oidc-secret")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(ssotest.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", nil, "--upstream-ca-file", caFile, "--oidc-issuer", idp.URL, "--oidc-client-id", ssotest.ClientID,
		"--oidc-client-secret-file", secretFile, "--oidc-username-claim", "preferred_username", "--oidc-auto-create-users")
	idp.RegisterRedirectURI(ts.URL + "/login/oidc/callback")
	as.RegisterRedirectURI(ts.URL + "/login/oauth/http.html")
	_, aliceToken := ts.mkUser("alice")
	w := &oauthWorld{t: t, ts: ts, as: as, up: up, users: map[string]string{"alice": aliceToken}}
	opts := map[string]string{"host": up.URL, "client_id": basicClient.ID, "client_secret": basicClient.Secret,
		"token_endpoint": as.URL + "/token", "authorization_endpoint": as.URL + "/authorize", "oauth_scope": "offline_access"}
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "peruser", "credential_type": "OAUTH_U2M_PER_USER", "options": opts}, nil)
	ts.grant("connection", "peruser", "alice", "USE_CONNECTION")

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	b := newBrowser(pool)
	if resp := b.ssoSignIn(t, ts.URL, idp, "alice"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("SSO callback = %d, want 303", resp.StatusCode)
	}
	if _, page := b.get(t, ts.URL+"/login"); !strings.Contains(page, `id="signed-in-user">alice<`) {
		t.Fatalf("not signed in as alice after SSO:\n%s", page)
	}
	// The per-user connection login from the SSO session, end to end.
	back := b.authorize(t, b.startLogin(t, ts.URL, "peruser"), "alice")
	if resp, page := b.get(t, back.String()); resp.StatusCode != http.StatusOK || !strings.Contains(page, "peruser") {
		t.Fatalf("connection login from the SSO session = %d:\n%s", resp.StatusCode, page)
	}
	if status, sub, body := w.call(aliceToken, "peruser"); status != http.StatusOK || sub != "alice" {
		t.Fatalf("alice through peruser = %d %q %s", status, sub, body)
	}

	// An unknown user is created (--oidc-auto-create-users), active.
	b2 := newBrowser(pool)
	if resp := b2.ssoSignIn(t, ts.URL, idp, "dave"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("SSO callback for dave = %d, want 303", resp.StatusCode)
	}
	var users struct {
		Resources []struct {
			UserName string `json:"userName"`
			Active   bool   `json:"active"`
		} `json:"Resources"`
	}
	ts.must("GET", "/api/2.0/preview/scim/v2/Users", ts.Admin, nil, &users)
	var dave bool
	for _, u := range users.Resources {
		dave = dave || (u.UserName == "dave" && u.Active)
	}
	if !dave {
		t.Fatalf("dave was not created active: %+v", users)
	}

	// Audit: a signIn per sign-in, a principalChange for dave.
	for _, tc := range []struct{ action, principal string }{{"signIn", "alice"}, {"signIn", "dave"}, {"principalChange", "dave"}} {
		var ev struct {
			Events []struct {
				Principal string `json:"principal"`
			} `json:"events"`
		}
		// The recorder writes in batches: wait for the event, with a bound.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ts.must("GET", "/api/2.0/gatehouse/audit?action="+tc.action+"&principal="+tc.principal, ts.Admin, nil, &ev)
			if len(ev.Events) > 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(ev.Events) == 0 {
			t.Errorf("no %s audit event for %s", tc.action, tc.principal)
		}
	}
	// Canary: nothing the provider issued, nor the client secret, in the log, the
	// responses the test saw, or the audit log.
	_, auditAll := ts.do("GET", "/api/2.0/gatehouse/audit?limit=1000", ts.Admin, nil)
	hay := ts.Stderr.String() + ts.Stdout.String() + ts.responses.String() + string(auditAll)
	for _, s := range idp.Secrets() {
		if s != "" && strings.Contains(hay, s) {
			t.Errorf("a secret of the SSO (%.10s…) appears in the log, a response or the audit log", s)
		}
	}
	var anyEvents map[string]any
	if err := json.Unmarshal(auditAll, &anyEvents); err != nil {
		t.Fatalf("audit list: %v", err)
	}
}
