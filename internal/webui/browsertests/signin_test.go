package browsertests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
	"github.com/gatehouse/gatehouse/internal/webui"
)

// tokenSignIn signs the browser in through the token form of /login; without a next
// path the browser lands on the console's home page.
func (p *page) tokenSignIn(base, token string) {
	p.t.Helper()
	p.open(base + "/login")
	p.typeIn("token-field", token)
	if resp := p.click("token-sign-in"); resp.Status != http.StatusOK || resp.URL != base+"/" {
		p.t.Fatalf("token sign-in landed on %s with %d, want %s/ (the console home) with 200", resp.URL, resp.Status, base)
	}
}

// signOutEndsSession clicks Sign out on the signed-in page and checks, from the
// browser, that the session is over: the page offers sign-in again, and the session
// cookie the browser held before, put back, signs nobody in.
func (p *page) signOutEndsSession(base string) {
	p.t.Helper()
	p.open(base + "/login")
	old := p.cookie(base, webui.SessionCookie)
	if old == "" {
		p.t.Fatalf("signed in, but the browser holds no %s cookie", webui.SessionCookie)
	}
	p.click("sign-out")
	if p.has("signed-in-user") || !p.has("sign-in-heading") {
		p.t.Fatalf("after sign-out the page still shows a signed-in user:\n%s", p.html())
	}
	if c := p.cookie(base, webui.SessionCookie); c != "" {
		p.t.Errorf("after sign-out the browser still holds a session cookie")
	}
	p.setCookie(base, webui.SessionCookie, old)
	p.open(base + "/login")
	if p.has("signed-in-user") || !p.has("sign-in-heading") {
		p.t.Fatalf("the session cookie from before the sign-out still signs in:\n%s", p.html())
	}
}

// TestBrowserTokenSignIn: without single sign-on, a person pastes a personal access
// token into /login in Chromium and lands on the console home signed in as its owner
// (the sign-in page, opened again, says so too); Sign out ends the
// session so that the old cookie, put back into the browser, no longer works. The
// token is in neither the pages nor the server log.
func TestBrowserTokenSignIn(t *testing.T) {
	t.Parallel()
	gh := gatehousetest.Start(t, gatehousetest.Options{})
	_, alice := gh.MakeUser("alice@example.com")
	p := newPage(t, gh.URL)

	resp := p.open(gh.URL + "/login")
	if p.has("sso-sign-in") || !p.has("token-sign-in") {
		t.Fatalf("without SSO the sign-in page must offer the token form only:\n%s", p.html())
	}
	if got := eval[string](p, `document.getElementById('token-field').type`); got != "password" {
		t.Errorf("the token field is of type %q, want password", got)
	}
	if csp := header(resp, "Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("sign-in page CSP = %q, want default-src 'none' and no script source", csp)
	}
	p.tokenSignIn(gh.URL, alice)
	if got := p.text("viewer-name"); got != "alice@example.com" {
		t.Fatalf("the console home shows %q signed in, want alice@example.com", got)
	}
	p.open(gh.URL + "/login")
	if got := p.text("signed-in-user"); got != "alice@example.com" {
		t.Fatalf("signed in as %q, want alice@example.com", got)
	}
	if strings.Contains(p.location(), alice) {
		t.Errorf("the token is in the address %s", p.location())
	}
	pagesRunNoInjectedScript(t, p, gh.URL, newAttacker(t))
	p.signOutEndsSession(gh.URL)

	// A wrong token: the form again, with the reason, and not signed in.
	p.open(gh.URL + "/login")
	p.typeIn("token-field", "gth_not-a-real-token")
	if resp := p.click("token-sign-in"); resp.Status != http.StatusUnauthorized {
		t.Errorf("a wrong token answered %d, want 401", resp.Status)
	}
	if p.has("signed-in-user") || !p.has("sign-in-error") {
		t.Errorf("a wrong token: no error shown, or signed in:\n%s", p.html())
	}
	canaryScan(t, "a page", p.seen.String(), map[string]string{"alice's token": alice, "the admin token": gh.Admin})
	canaryScan(t, "the server log", gh.Log(), map[string]string{"alice's token": alice, "the admin token": gh.Admin})
}
