package browsertests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// perUserConnection creates an OAuth U2M per-user connection to the world's API,
// authorized at its authorization server, usable by alice.
func (w *world) perUserConnection(t *testing.T, name string) {
	t.Helper()
	w.gh.MakeConnection(name, "OAUTH_U2M_PER_USER", map[string]string{"host": w.api.URL, "client_id": asClientID, "client_secret": asClientSecret,
		"token_endpoint": w.as.TokenURL, "authorization_endpoint": w.as.AuthorizeURL, "oauth_scope": "offline_access"})
	w.gh.Grant("connection", name, "alice@example.com", "USE_CONNECTION")
}

// connectionLogin: alice's call through a per-user OAuth connection she has not
// logged in to answers OAUTH_LOGIN_REQUIRED with a login_url; her SSO-signed-in
// browser opens it, goes through the authorization server's sign-in page, comes back
// to the redirect URI /login/oauth/http.html and sees the success page; her next call
// (with her personal access token) goes through with her own provider identity.
func connectionLogin(t *testing.T, w *world, alice string, secrets map[string]string) {
	w.perUserConnection(t, "peruser")
	call := func() (int, []byte) {
		return w.gh.Do("GET", "/api/2.0/unity-catalog/connections/peruser/proxy/whoami", alice, nil)
	}
	status, body := call()
	var e struct {
		ErrorCode string `json:"error_code"`
		LoginURL  string `json:"login_url"`
	}
	if status != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.ErrorCode != "OAUTH_LOGIN_REQUIRED" || e.LoginURL == "" {
		t.Fatalf("call before the login = %d %s, want 401 OAUTH_LOGIN_REQUIRED with a login_url", status, body)
	}
	if e.LoginURL != w.gh.URL+"/connections/peruser/login" {
		t.Errorf("login_url = %q", e.LoginURL)
	}

	p := newPage(t, w.gh.URL)
	p.ssoSignIn(w, "alice@example.com")
	p.open(e.LoginURL)
	if loc := p.location(); !strings.HasPrefix(loc, w.as.AuthorizeURL+"?") || p.text("idp-heading") == "" {
		t.Fatalf("the login went to %s, not the authorization server's sign-in page", loc)
	}
	p.typeIn("idp-username", "alice-at-provider")
	resp := p.click("idp-sign-in")
	if !strings.HasPrefix(resp.URL, w.gh.URL+"/login/oauth/http.html?") || resp.Status != http.StatusOK {
		t.Fatalf("back from the provider at %s with %d, want the redirect URI with 200", resp.URL, resp.Status)
	}
	if got := p.text("login-result"); !strings.Contains(got, "peruser") {
		t.Errorf("the result page says %q", got)
	}
	status, body = call()
	var who struct {
		Sub string `json:"sub"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &who) != nil || who.Sub != "alice-at-provider" {
		t.Fatalf("call after the login = %d %s, want 200 as alice-at-provider", status, body)
	}
	canaryScan(t, "a page", p.seen.String(), w.secrets(secrets))
	canaryScan(t, "the server log", w.gh.Log(), w.secrets(secrets))
}

// connectionLoginAfterTokenSignIn: a browser that is not signed in opens a login
// start; the sign-in page (token form, behind its disclosure) leads on to it, and the
// provider's page, and the login completes (connectionLogin made the connection).
func connectionLoginAfterTokenSignIn(t *testing.T, w *world, alice string, secrets map[string]string) {
	p := newPage(t, w.gh.URL)
	p.open(w.gh.URL + "/connections/peruser/login")
	if loc := p.location(); !strings.HasPrefix(loc, w.gh.URL+"/login?next=") {
		t.Fatalf("a login start without a session went to %s, want the sign-in page", loc)
	}
	p.press("token-sign-in-link")
	p.typeIn("token-field", alice)
	p.click("token-sign-in")
	p.waitFor("idp-heading")
	if loc := p.location(); !strings.HasPrefix(loc, w.as.AuthorizeURL+"?") {
		t.Fatalf("after the token sign-in the browser is at %s, want the provider", loc)
	}
	p.typeIn("idp-username", "alice-again")
	if resp := p.click("idp-sign-in"); !strings.HasPrefix(resp.URL, w.gh.URL+"/login/oauth/http.html?") || resp.Status != http.StatusOK {
		t.Fatalf("back from the provider at %s with %d", resp.URL, resp.Status)
	}
	status, body := w.gh.Do("GET", "/api/2.0/unity-catalog/connections/peruser/proxy/whoami", alice, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"sub":"alice-again"`) {
		t.Fatalf("call after the second login = %d %s, want 200 as alice-again", status, body)
	}
	canaryScan(t, "a page", p.seen.String(), w.secrets(secrets))
}
