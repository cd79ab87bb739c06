package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// oauthWorld is a Gatehouse in front of an introspecting upstream, with a real
// authorization server (fosite) on loopback TLS.
type oauthWorld struct {
	t     *testing.T
	ts    *testServer
	as    *oauthtest.Server
	up    *httptest.Server
	users map[string]string // name → Gatehouse token
}

var (
	basicClient = oauthtest.Client{ID: "basic-client", Secret: "CANARY-basic-secret-4411", AuthMethod: "client_secret_basic"}
	postClient  = oauthtest.Client{ID: "post-client", Secret: "CANARY-post-secret-8832", AuthMethod: "client_secret_post"}
)

func newOAuthWorld(t *testing.T, lifespan time.Duration, args ...string) *oauthWorld {
	t.Helper()
	return newOAuthWorldWith(t, oauthtest.Options{AccessTokenLifespan: lifespan, Clients: []oauthtest.Client{basicClient, postClient}}, args...)
}

func newOAuthWorldWith(t *testing.T, opts oauthtest.Options, args ...string) *oauthWorld {
	t.Helper()
	w := &oauthWorld{t: t, users: map[string]string{}}
	w.as = oauthtest.New(t, opts)
	w.up = httptest.NewUnstartedServer(w.as.UpstreamHandler())
	w.up.StartTLS()
	t.Cleanup(w.up.Close)
	// One CA file for both: the upstream's certificate and the authorization server's.
	asPEM, err := os.ReadFile(w.as.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "cas.pem")
	upPEM := pemOf(w.up)
	if err := os.WriteFile(caFile, append(asPEM, upPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	w.ts = startServer(t, "", nil, append([]string{"--upstream-ca-file", caFile}, args...)...)
	w.as.RegisterRedirectURI(w.ts.URL + "/login/oauth/http.html")
	for _, u := range []string{"alice", "bob", "carol"} {
		_, w.users[u] = w.ts.mkUser(u)
	}
	return w
}

// connection creates an OAuth connection to the upstream and grants alice, bob and
// carol USE_CONNECTION on it.
func (w *oauthWorld) connection(name, credType string, client oauthtest.Client, extra map[string]string) (int, []byte) {
	w.t.Helper()
	opts := map[string]string{"host": w.up.URL, "client_id": client.ID, "client_secret": client.Secret,
		"token_endpoint": w.as.URL + "/token", "oauth_scope": "offline_access"}
	if credType != "OAUTH_M2M" {
		opts["authorization_endpoint"] = w.as.URL + "/authorize"
	}
	for k, v := range extra {
		if v == "" {
			delete(opts, k)
		} else {
			opts[k] = v
		}
	}
	status, b := w.ts.do("POST", "/api/2.1/unity-catalog/connections", w.ts.Admin, map[string]any{"name": name, "credential_type": credType, "options": opts})
	if status == 200 {
		for _, u := range []string{"alice", "bob", "carol"} {
			w.ts.grant("connection", name, u, "USE_CONNECTION")
		}
	}
	return status, b
}

// call calls the upstream through the transparent proxy and returns the status and the
// subject the upstream saw.
func (w *oauthWorld) call(token, conn string) (int, string, []byte) {
	w.t.Helper()
	status, b := w.ts.do("GET", "/api/2.0/unity-catalog/connections/"+conn+"/proxy/whoami", token, nil)
	var v struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &v)
	return status, v.Sub, b
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	c *http.Client
}

func newBrowser(roots *x509.CertPool) *browser {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	return &browser{c: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
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

// signIn signs the browser in to Gatehouse with a token, through the sign-in form.
func (b *browser) signIn(t *testing.T, base, token string) {
	t.Helper()
	_, page := b.get(t, base+"/login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the sign-in page:\n%s", page)
	}
	csrf := m[1] + m[2]
	resp, err := b.c.PostForm(base+"/login", url.Values{"token": {token}, "csrf": {csrf}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", resp.StatusCode)
	}
}

// startLogin opens /connections/{name}/login and returns the provider URL it redirects to.
func (b *browser) startLogin(t *testing.T, base, conn string) *url.URL {
	t.Helper()
	resp, body := b.get(t, base+"/connections/"+conn+"/login")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login start = %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authorize sends the browser to the provider as user and returns the redirect back.
func (b *browser) authorize(t *testing.T, provider *url.URL, user string) *url.URL {
	t.Helper()
	q := provider.Query()
	q.Set("test_user", user)
	provider.RawQuery = q.Encode()
	resp, body := b.get(t, provider.String())
	if resp.StatusCode/100 != 3 {
		t.Fatalf("authorize = %d %s", resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// login runs the whole browser login of user (a Gatehouse user of the same name) to
// conn and returns the result page.
func (w *oauthWorld) login(user, conn string) (int, string) {
	w.t.Helper()
	b := newBrowser(w.as.RootCAs())
	b.signIn(w.t, w.ts.URL, w.users[user])
	back := b.authorize(w.t, b.startLogin(w.t, w.ts.URL, conn), user)
	resp, page := b.get(w.t, back.String())
	return resp.StatusCode, page
}

func pemOf(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

func TestOAuthTypesEndToEnd(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	// Machine to machine: a token at creation, then calls as the client.
	if status, b := w.connection("m2m", "OAUTH_M2M", basicClient, nil); status != 200 {
		t.Fatalf("create m2m = %d %s", status, b)
	}
	if status, sub, b := w.call(w.users["alice"], "m2m"); status != 200 || sub != basicClient.ID {
		t.Fatalf("m2m call = %d %q %s", status, sub, b)
	}
	// Shared user-to-machine: nobody has logged in → 401 with the login URL.
	if status, b := w.connection("shared", "OAUTH_U2M", postClient, nil); status != 200 {
		t.Fatalf("create shared = %d %s", status, b)
	}
	status, _, b := w.call(w.users["bob"], "shared")
	if status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") || !strings.Contains(string(b), "/connections/shared/login") {
		t.Fatalf("shared before login = %d %s", status, b)
	}
	// Only the owner or a MANAGE holder may authorize it.
	bb := newBrowser(w.as.RootCAs())
	bb.signIn(t, w.ts.URL, w.users["bob"])
	if resp, page := bb.get(t, w.ts.URL+"/connections/shared/login"); resp.StatusCode != 403 {
		t.Fatalf("bob (USE only) starting the shared login = %d %s", resp.StatusCode, page)
	}
	w.ts.grant("connection", "shared", "alice", "MANAGE")
	if code, page := w.login("alice", "shared"); code != 200 {
		t.Fatalf("alice authorizing shared = %d %s", code, page)
	}
	for _, u := range []string{"bob", "carol"} {
		if status, sub, b := w.call(w.users[u], "shared"); status != 200 || sub != "alice" {
			t.Fatalf("%s through shared = %d %q %s, want alice's identity", u, status, sub, b)
		}
	}
	var info struct {
		CredentialStatus struct {
			State        string `json:"state"`
			AuthorizedBy string `json:"authorized_by"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/shared", w.ts.Admin, nil, &info)
	if info.CredentialStatus.State != "ACTIVE" || info.CredentialStatus.AuthorizedBy != "alice" {
		t.Errorf("shared status = %+v", info.CredentialStatus)
	}

	// Per user: each user's own identity, through both call surfaces.
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create peruser = %d %s", status, b)
	}
	status, _, b = w.call(w.users["bob"], "peruser")
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
		LoginURL  string `json:"login_url"`
	}
	_ = json.Unmarshal(b, &e)
	wantMsg := fmt.Sprintf("Credential for user identity('bob') is not found for the connection 'peruser'. Please login first to the connection by visiting %s/connections/peruser/login", w.ts.URL)
	if status != 401 || e.ErrorCode != "OAUTH_LOGIN_REQUIRED" || e.Message != wantMsg || e.LoginURL != w.ts.URL+"/connections/peruser/login" {
		t.Fatalf("peruser before login = %d %+v", status, e)
	}
	perUserFrom := len(w.as.IssuedTokens())
	for _, u := range []string{"alice", "bob"} {
		if code, page := w.login(u, "peruser"); code != 200 {
			t.Fatalf("%s login = %d %s", u, code, page)
		}
	}
	for _, u := range []string{"alice", "bob"} {
		if status, sub, b := w.call(w.users[u], "peruser"); status != 200 || sub != u {
			t.Fatalf("%s through peruser = %d %q %s", u, status, sub, b)
		}
		status, b := w.ts.do("POST", "/api/2.0/external-function", w.users[u], map[string]any{"connection_name": "peruser", "method": "GET", "path": "/whoami"})
		if status != 200 || !strings.Contains(string(b), `"sub":"`+u+`"`) {
			t.Fatalf("%s external-function = %d %s", u, status, b)
		}
	}
	// The other two types through external-function as well.
	for conn, want := range map[string]string{"m2m": basicClient.ID, "shared": "alice"} {
		status, b := w.ts.do("POST", "/api/2.0/external-function", w.users["carol"], map[string]any{"connection_name": conn, "method": "GET", "path": "/whoami"})
		if status != 200 || !strings.Contains(string(b), `"sub":"`+want+`"`) {
			t.Fatalf("carol external-function on %s = %d %s, want %s", conn, status, b, want)
		}
	}
	// Revoking the grant blocks at once but keeps the token.
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/peruser", w.ts.Admin, map[string]any{"changes": []map[string]any{{"principal": "bob", "remove": []string{"USE_CONNECTION"}}}}, nil)
	if status, _, _ := w.call(w.users["bob"], "peruser"); status != 403 {
		t.Fatalf("bob after revoke = %d, want 403", status)
	}
	var uc struct {
		CredentialStatus struct {
			State string `json:"state"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/bob", w.users["bob"], nil, &uc)
	if uc.CredentialStatus.State != "ACTIVE" {
		t.Errorf("bob's token after the revoke = %+v, want kept", uc)
	}
	// Disconnect revokes at the provider (RFC 7009): alice's per-user tokens go
	// inactive there (her shared-connection tokens stay).
	var aliceTokens []string
	for _, tok := range w.as.IssuedTokens()[perUserFrom:] {
		if active, sub := w.as.Introspect(tok); active && sub == "alice" {
			aliceTokens = append(aliceTokens, tok)
		}
	}
	if len(aliceTokens) == 0 {
		t.Fatal("no active per-user token of alice at the provider before the disconnect")
	}
	w.ts.must("DELETE", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", w.users["alice"], nil, nil)
	if status, _, _ := w.call(w.users["alice"], "peruser"); status != 401 {
		t.Errorf("alice after disconnect = %d, want 401", status)
	}
	for i, tok := range aliceTokens {
		if active, _ := w.as.Introspect(tok); active {
			t.Errorf("alice's per-user token %d is still active at the provider after the disconnect", i)
		}
	}

	// The inventory lists every credential held.
	var inv struct {
		Credentials []struct {
			Connection string `json:"connection"`
			Holder     string `json:"holder"`
			State      string `json:"state"`
		} `json:"credentials"`
	}
	w.ts.must("GET", "/api/2.0/gatehouse/inventory", w.ts.Admin, nil, &inv)
	got := []string{}
	for _, c := range inv.Credentials {
		got = append(got, c.Connection+"/"+c.Holder+"/"+c.State)
	}
	if strings.Join(got, ",") != "m2m/shared/ACTIVE,peruser/bob/ACTIVE,shared/shared/ACTIVE" {
		t.Errorf("inventory = %v", got)
	}
	if out, err := w.ts.cli(w.ts.Admin, "", "inventory"); err != nil || !strings.Contains(out, "peruser") {
		t.Errorf("gatehouse inventory: %v %s", err, out)
	}

	// Deactivating the shared authorizer: REAUTH_REQUIRED naming her.
	var alice struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	w.ts.must("GET", `/api/2.0/preview/scim/v2/Users?filter=userName%20eq%20%22alice%22`, w.ts.Admin, nil, &alice)
	w.ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+alice.Resources[0].ID, w.ts.Admin, map[string]any{"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
	status, _, b = w.call(w.users["bob"], "shared")
	if status != 401 || !strings.Contains(string(b), "authorized by alice (deactivated)") {
		t.Errorf("shared after alice left = %d %s", status, b)
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/shared", w.ts.Admin, nil, &info)
	if info.CredentialStatus.State != "REAUTH_REQUIRED" {
		t.Errorf("shared state = %+v", info.CredentialStatus)
	}
}

// TestOneRefreshForManyCallers: 50 concurrent calls across an access-token expiry cause
// exactly one refresh at the server and no invalid_grant, ten expiries in a row.
func TestOneRefreshForManyCallers(t *testing.T) {
	w := newOAuthWorld(t, 2*time.Second)
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	if code, page := w.login("alice", "peruser"); code != 200 {
		t.Fatalf("login = %d %s", code, page)
	}
	for round := 0; round < 10; round++ {
		time.Sleep(2100 * time.Millisecond) // past the expiry
		before := w.as.TokenRequests("refresh_token")
		var wg sync.WaitGroup
		errs := make(chan string, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", w.ts.URL+"/api/2.0/unity-catalog/connections/peruser/proxy/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+w.users["alice"])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"sub":"alice"`) {
					errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("round %d: call failed: %s", round, e)
		}
		if n := w.as.TokenRequests("refresh_token") - before; n != 1 {
			t.Fatalf("round %d: %d refreshes for 50 callers, want exactly 1", round, n)
		}
	}
	if n := w.as.InvalidGrants(); n != 0 {
		t.Errorf("%d invalid_grant answers, want none", n)
	}
}

func TestConsentRevokedAndProviderDown(t *testing.T) {
	w := newOAuthWorld(t, 2*time.Second)
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	if code, page := w.login("alice", "peruser"); code != 200 {
		t.Fatalf("login = %d %s", code, page)
	}
	// Consent revoked at the server: the next refresh gets invalid_grant.
	w.as.RevokeUser("alice")
	time.Sleep(2100 * time.Millisecond)
	status, _, b := w.call(w.users["alice"], "peruser")
	if status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") || !strings.Contains(string(b), "login_url") {
		t.Fatalf("after consent revoked = %d %s", status, b)
	}
	var uc struct {
		CredentialStatus struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", w.users["alice"], nil, &uc)
	if uc.CredentialStatus.State != "REAUTH_REQUIRED" || !strings.Contains(uc.CredentialStatus.Reason, "invalid_grant") {
		t.Fatalf("state after consent revoked = %+v", uc.CredentialStatus)
	}
	// A new login recovers.
	if code, page := w.login("alice", "peruser"); code != 200 {
		t.Fatalf("re-login = %d %s", code, page)
	}
	if status, sub, b := w.call(w.users["alice"], "peruser"); status != 200 || sub != "alice" {
		t.Fatalf("after re-login = %d %q %s", status, sub, b)
	}

	// The server stops: calls go on while the cached token is valid...
	w.as.Stop()
	if status, sub, b := w.call(w.users["alice"], "peruser"); status != 200 || sub != "alice" {
		// The upstream introspects at the server too; in these tests it keeps working.
		t.Fatalf("server down, token valid = %d %q %s", status, sub, b)
	}
	time.Sleep(2100 * time.Millisecond)
	// ...then fail with TEMPORARILY_UNAVAILABLE...
	status, _, b = w.call(w.users["alice"], "peruser")
	if status != 503 || !strings.Contains(string(b), "TEMPORARILY_UNAVAILABLE") {
		t.Fatalf("server down, token expired = %d %s", status, b)
	}
	// ...and recover on their own when it is back.
	w.as.Start()
	deadline := time.Now().Add(40 * time.Second)
	for {
		status, sub, _ := w.call(w.users["alice"], "peruser")
		if status == 200 && sub == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the server came back: %d", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestExchangeMethods: each oauth_credential_exchange_method against each client kind,
// on a lenient server (which, like most, takes a secret sent both ways) and on a strict
// one (RFC 6749 §2.3: one method per request).
func TestExchangeMethods(t *testing.T) {
	for _, strict := range []bool{false, true} {
		w := newOAuthWorldWith(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{basicClient, postClient}, StrictClientAuth: strict})
		tests := []struct {
			client oauthtest.Client
			method string
			ok     bool
		}{
			{basicClient, "header_and_body", !strict},
			{basicClient, "header_only", true},
			{basicClient, "body_only", false},
			{postClient, "header_and_body", !strict},
			{postClient, "header_only", false},
			{postClient, "body_only", true},
		}
		for i, tc := range tests {
			name := fmt.Sprintf("m%d", i)
			status, b := w.connection(name, "OAUTH_M2M", tc.client, map[string]string{"oauth_credential_exchange_method": tc.method})
			if tc.ok {
				if status != 200 {
					t.Errorf("strict=%v: %s with %s = %d %s, want success", strict, tc.client.ID, tc.method, status, b)
				}
				continue
			}
			if status != 400 || !strings.Contains(string(b), "oauth_credential_exchange_method") || !strings.Contains(string(b), "invalid_client") {
				t.Errorf("strict=%v: %s with %s = %d %s, want 400 naming the option and the provider's error", strict, tc.client.ID, tc.method, status, b)
			}
		}
		// Unset: the metadata lists both methods, so header_and_body is chosen and shown.
		if status, b := w.connection("auto", "OAUTH_M2M", basicClient, nil); !strict && (status != 200 || !strings.Contains(string(b), `"oauth_credential_exchange_method":"header_and_body"`)) {
			t.Errorf("unset method = %d %s", status, b)
		}
	}
}

var stateRE = regexp.MustCompile(`state=[^&]+`)

// TestLoginStateChecks: a missing, wrong, reused, another session's or expired state is
// a 400 and no token request reaches the server.
func TestLoginStateChecks(t *testing.T) {
	w := newOAuthWorld(t, time.Hour, "--oauth-login-ttl", "1s")
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	alice := newBrowser(w.as.RootCAs())
	alice.signIn(t, w.ts.URL, w.users["alice"])
	callback := func(b *browser, u *url.URL) (int, string) {
		resp, page := b.get(t, u.String())
		return resp.StatusCode, page
	}
	codes := func() int { return w.as.TokenRequests("authorization_code") }
	tests := []struct {
		name string
		run  func() (int, string)
	}{
		{"missing", func() (int, string) {
			back := alice.authorize(t, alice.startLogin(t, w.ts.URL, "peruser"), "alice")
			back.RawQuery = stateRE.ReplaceAllString(back.RawQuery, "")
			return callback(alice, back)
		}},
		{"wrong", func() (int, string) {
			back := alice.authorize(t, alice.startLogin(t, w.ts.URL, "peruser"), "alice")
			back.RawQuery = stateRE.ReplaceAllString(back.RawQuery, "state=forged")
			return callback(alice, back)
		}},
		{"reused", func() (int, string) {
			back := alice.authorize(t, alice.startLogin(t, w.ts.URL, "peruser"), "alice")
			if code, page := callback(alice, back); code != 200 {
				t.Fatalf("first use = %d %s", code, page)
			}
			before := codes()
			code, page := callback(alice, back)
			if codes() != before {
				t.Errorf("reused state reached the token endpoint")
			}
			return code, page
		}},
		{"another session's", func() (int, string) {
			back := alice.authorize(t, alice.startLogin(t, w.ts.URL, "peruser"), "alice")
			other := newBrowser(w.as.RootCAs())
			other.signIn(t, w.ts.URL, w.users["alice"])
			return callback(other, back)
		}},
		{"expired", func() (int, string) {
			back := alice.authorize(t, alice.startLogin(t, w.ts.URL, "peruser"), "alice")
			time.Sleep(1100 * time.Millisecond)
			return callback(alice, back)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := codes()
			code, page := tc.run()
			if code != 400 {
				t.Errorf("callback = %d, want 400:\n%s", code, page)
			}
			if tc.name != "reused" && codes() != before {
				t.Errorf("a token request reached the server")
			}
		})
	}
}

func TestLoginWithoutOfflineAccess(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, map[string]string{"oauth_scope": "read"}); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	code, page := w.login("alice", "peruser")
	if code != 200 || !strings.Contains(page, "offline_access") {
		t.Fatalf("login without offline_access = %d, want success with a warning:\n%s", code, page)
	}
	var info struct {
		CredentialStatus struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/peruser", w.users["alice"], nil, &info)
	if info.CredentialStatus.State != "EXPIRING" || !strings.Contains(info.CredentialStatus.Reason, "no refresh token") || !strings.Contains(info.CredentialStatus.Reason, "in ") {
		t.Errorf("status = %+v, want EXPIRING with the reason and the time left", info.CredentialStatus)
	}
	if out, err := w.ts.cli(w.users["alice"], "", "connections", "get", "peruser"); err != nil || !strings.Contains(out, "EXPIRING") || !strings.Contains(out, "offline_access") {
		t.Errorf("gatehouse connections get: %v\n%s", err, out)
	}
	if status, sub, b := w.call(w.users["alice"], "peruser"); status != 200 || sub != "alice" {
		t.Errorf("call = %d %q %s", status, sub, b)
	}
}

// TestOAuthSecretsNeverLeak: client secrets, access tokens and refresh tokens appear in
// no response, log line, audit record or database file.
func TestOAuthSecretsNeverLeak(t *testing.T) {
	w := newOAuthWorld(t, 2*time.Second)
	for _, tc := range []struct{ name, typ string }{{"m2m", "OAUTH_M2M"}, {"shared", "OAUTH_U2M"}, {"peruser", "OAUTH_U2M_PER_USER"}} {
		if status, b := w.connection(tc.name, tc.typ, basicClient, nil); status != 200 {
			t.Fatalf("create %s = %d %s", tc.name, status, b)
		}
	}
	// A wrong secret, refused at creation, must not be echoed either.
	w.connection("bad", "OAUTH_M2M", oauthtest.Client{ID: basicClient.ID, Secret: "CANARY-wrong-secret-7781"}, nil)
	w.ts.grant("connection", "shared", "alice", "MANAGE")
	for _, l := range [][2]string{{"alice", "shared"}, {"alice", "peruser"}, {"bob", "peruser"}} {
		if code, page := w.login(l[0], l[1]); code != 200 {
			t.Fatalf("login %v = %d %s", l, code, page)
		}
	}
	for i := 0; i < 3; i++ { // across a refresh
		for _, c := range []string{"m2m", "shared", "peruser"} {
			w.call(w.users["alice"], c)
			w.call(w.users["bob"], c)
		}
		w.ts.do("GET", "/api/2.0/gatehouse/inventory", w.ts.Admin, nil)
		w.ts.do("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", w.users["alice"], nil)
		for _, c := range []string{"m2m", "shared", "peruser"} {
			w.ts.do("GET", "/api/2.1/unity-catalog/connections/"+c, w.users["alice"], nil)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	w.ts.cli(w.ts.Admin, "", "connections", "check", "m2m")
	auditJSON, _ := json.Marshal(w.ts.waitAudit("max_results=1000", 1))
	w.ts.Stop()
	issued := w.as.IssuedTokens()
	if len(issued) < 6 {
		t.Fatalf("only %d tokens issued; the scan would prove little", len(issued))
	}
	secrets := append([]string{basicClient.Secret, postClient.Secret, "CANARY-wrong-secret-7781"}, issued...)
	scan := map[string][]byte{"responses": []byte(w.ts.responses.String()), "log": []byte(w.ts.Stderr.String() + w.ts.Stdout.String()), "audit": auditJSON}
	files, _ := filepath.Glob(filepath.Join(w.ts.DataDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		scan[f] = b
	}
	for where, b := range scan {
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("a secret (%d chars) was found in %s", len(s), where)
			}
		}
	}
}

func TestProviderCheckAndLoginCommand(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	if status, b := w.connection("m2m", "OAUTH_M2M", postClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	var res struct {
		RedirectURI string `json:"redirect_uri"`
		Checks      []struct {
			Name, Result, Evidence, Fix string
		} `json:"checks"`
	}
	w.ts.must("GET", "/api/2.0/gatehouse/connections/peruser/check", w.ts.Admin, nil, &res)
	if res.RedirectURI != w.ts.URL+"/login/oauth/http.html" || len(res.Checks) < 6 {
		t.Fatalf("check = %+v", res)
	}
	for _, c := range res.Checks {
		if c.Result == "fail" {
			t.Errorf("check %s failed against a compliant server: %s / %s", c.Name, c.Evidence, c.Fix)
		}
		if c.Evidence == "" {
			t.Errorf("check %s has no evidence", c.Name)
		}
	}
	// For M2M the live client_credentials call is one of the checks, and it passes.
	var m2m struct {
		Checks []struct{ Name, Result, Evidence string } `json:"checks"`
	}
	out, err := w.ts.cli(w.ts.Admin, "", "connections", "check", "m2m", "-o", "json")
	if err != nil || json.Unmarshal([]byte(out), &m2m) != nil {
		t.Fatalf("connections check m2m: %v\n%s", err, out)
	}
	live := false
	for _, c := range m2m.Checks {
		if c.Name == oauth.CheckClientCredentials {
			live = c.Result == "pass" && c.Evidence != ""
		}
	}
	if !live {
		t.Errorf("connections check m2m has no passing live client credentials check: %+v", m2m.Checks)
	}
	if out, err := w.ts.cli(w.ts.Admin, "", "connections", "check", "m2m"); err != nil || !strings.Contains(out, oauth.CheckClientCredentials) {
		t.Errorf("connections check m2m (table): %v\n%s", err, out)
	}
	// Only MANAGE holders may run it.
	if status, _ := w.ts.do("GET", "/api/2.0/gatehouse/connections/peruser/check", w.users["bob"], nil); status != 403 {
		t.Errorf("bob's check = %d, want 403", status)
	}
	out, err = w.ts.cli(w.users["alice"], "", "login", "peruser", "--open=false")
	if err != nil || !strings.Contains(out, w.ts.URL+"/connections/peruser/login") {
		t.Errorf("gatehouse login: %v\n%s", err, out)
	}
}

// TestProviderErrorPage: an error the provider sends back to the redirect URI is
// explained on the page, with the exact redirect URI, and stores nothing.
func TestProviderErrorPage(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, map[string]string{"oauth_scope": "not-a-registered-scope"}); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	b := newBrowser(w.as.RootCAs())
	b.signIn(t, w.ts.URL, w.users["alice"])
	back := b.authorize(t, b.startLogin(t, w.ts.URL, "peruser"), "alice")
	if back.Query().Get("error") != "invalid_scope" {
		t.Fatalf("the provider answered %s, want error=invalid_scope", back.String())
	}
	resp, page := b.get(t, back.String())
	if resp.StatusCode != 400 || !strings.Contains(page, "invalid_scope") || !strings.Contains(page, "oauth_scope") || !strings.Contains(page, w.ts.URL+"/login/oauth/http.html") {
		t.Fatalf("error page = %d:\n%s", resp.StatusCode, page)
	}
	var uc struct {
		CredentialStatus struct {
			State string `json:"state"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", w.users["alice"], nil, &uc)
	if uc.CredentialStatus.State != "NEEDS_LOGIN" {
		t.Errorf("state after a refused login = %s, want NEEDS_LOGIN", uc.CredentialStatus.State)
	}
}
