package browsertests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/internal/gatehousetest"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

const canary = "canary-bearer-4b1d7e0c"

// TestConsoleConnectionFlow: an admin signs in, creates a bearer connection through
// the wizard, grants it to a user, the user's call through it shows on the audit page,
// the admin disables it and the next call is refused; then the admin signs out and the
// user, signed in, sees only the connection granted to them. No page and no log line
// holds the secret.
func TestConsoleConnectionFlow(t *testing.T) {
	var seen atomic.Value
	seen.Store("")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"forecast":"sunny"}`)
	}))
	t.Cleanup(up.Close)
	srv := gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--insecure-http-upstreams"}})
	_, bobToken := srv.MakeUser("bob@example.com")
	srv.MakeConnection("private", "", map[string]string{"host": up.URL, "bearer_token": "other-" + canary})
	var pages []string
	b := newBrowser(t, srv)
	keep := func() { pages = append(pages, b.html()) }

	b.signIn(srv.Admin, "/")
	if got := b.text("page-title"); got != "Home" {
		t.Fatalf("landed on %q", got)
	}

	// The wizard: choose the method, then only its fields.
	b.open("/connections")
	b.submit("new-connection")
	b.shot("wizard-methods", 1280)
	b.submit("method-BEARER_TOKEN")
	if b.exists("field-client_id") || b.exists("redirect-uri") {
		t.Error("the bearer form asks for OAuth fields")
	}
	b.fill("field-name", "weather")
	b.fill("field-host", up.URL)
	b.fill("field-base_path", "/v1")
	b.fill("field-bearer_token", canary)
	b.submit("wizard-save")
	if loc := b.location(); loc != srv.URL+"/connections/weather?done=created" {
		t.Fatalf("after create at %s", loc)
	}
	keep()

	// Grant it to bob.
	b.fill("grant-principal", "bob@example.com")
	b.submit("grant-add")
	if got := b.text("grants-table"); !strings.Contains(got, "bob@example.com") || !strings.Contains(got, "USE_CONNECTION") {
		t.Fatalf("grants after adding bob: %q", got)
	}
	keep()

	// bob calls through it with the API; the call shows on the audit page.
	if status, body := srv.Do("GET", "/api/2.0/unity-catalog/connections/weather/proxy/forecast", bobToken, nil); status != 200 || !strings.Contains(string(body), "sunny") {
		t.Fatalf("bob's call: %d %s", status, body)
	}
	if got := seen.Load().(string); got != "Bearer "+canary {
		t.Errorf("the upstream got Authorization %q", got)
	}
	waitFor(t, "the call on the audit page", func() bool {
		b.open("/audit?connection=weather&action=useConnection")
		return strings.Contains(b.text("audit-records"), "bob@example.com")
	})
	keep()

	// Disable: the next call is refused.
	b.open("/connections/weather")
	b.submit("disable-button")
	if got := b.text("conn-enabled"); !strings.HasPrefix(got, "no") {
		t.Fatalf("enabled after disable: %q", got)
	}
	if status, body := srv.Do("GET", "/api/2.0/unity-catalog/connections/weather/proxy/forecast", bobToken, nil); status == 200 {
		t.Fatalf("bob's call through the disabled connection: %d %s", status, body)
	}
	keep()
	b.shot("connection-detail", 1280)
	b.open("/connections/weather/delete")
	b.shot("connection-delete", 1280)
	b.open("/connections")
	keep()
	b.shot("connections", 1280)
	b.shot("connections-phone", 390)
	b.open("/new-connection?method=OAUTH_U2M_PER_USER")
	b.shot("wizard-per-user", 1280)
	b.open("/")
	keep()
	b.shot("home", 1280)

	// Sign out from the console's header; bob signs in and sees only his connection.
	b.submit("sign-out")
	b.open("/connections")
	if loc := b.location(); !strings.Contains(loc, "/login?next=") {
		t.Fatalf("after sign-out /connections is at %s", loc)
	}
	b.signIn(bobToken, "/connections")
	if !b.exists("conn-row-weather") || b.exists("conn-row-private") {
		t.Errorf("bob's list: %q", b.text("content"))
	}
	keep()
	b.open("/connections/private")
	if got := b.text("page-error"); !strings.Contains(got, "does not have any privilege") {
		t.Errorf("bob at another connection: %q", got)
	}
	if b.exists("disable-button") {
		t.Error("bob sees the manage forms")
	}
	b.open("/connections/weather")
	if b.exists("disable-button") || b.exists("grant-add") || b.exists("rotate-submit") {
		t.Error("a grantee sees the manage forms")
	}
	keep()

	for i, p := range pages {
		if strings.Contains(p, canary) {
			t.Errorf("page %d shows the secret", i)
		}
	}
	if strings.Contains(srv.Log(), canary) || strings.Contains(srv.Log(), bobToken) {
		t.Error("the server log holds a secret")
	}
}

// TestConsolePerUserSignIn: an admin creates a per-user OAuth connection through the
// wizard (provider check and its evidence before saving); a user granted it finds it
// needs their sign-in, follows the page's sign-in button through the test provider's
// sign-in page and back, and the page shows their credential active.
func TestConsolePerUserSignIn(t *testing.T) {
	as := oauthtest.New(t, oauthtest.Options{SignInPage: true, Clients: []oauthtest.Client{{ID: "gatehouse", Secret: canary}}})
	srv := gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--upstream-ca-file", as.CAFile}})
	as.RegisterRedirectURI(srv.URL + "/login/oauth/http.html")
	_, aliceToken := srv.MakeUser("alice@example.com")

	// The admin creates it through the wizard: the provider check first, its
	// evidence shown, then the secret entered again to save.
	b := newBrowser(t, srv)
	b.signIn(srv.Admin, "/new-connection?method=OAUTH_U2M_PER_USER")
	if got := b.text("redirect-uri"); got != srv.URL+"/login/oauth/http.html" {
		t.Errorf("redirect URI %q", got)
	}
	for id, v := range map[string]string{"field-name": "calendar", "field-host": as.URL, "field-client_id": "gatehouse", "field-client_secret": canary,
		"field-authorization_endpoint": as.AuthorizeURL, "field-token_endpoint": as.TokenURL, "field-oauth_scope": "openid offline_access"} {
		b.fill(id, v)
	}
	b.submit("wizard-check")
	if got := b.text("check-results"); !strings.Contains(got, "pass") {
		t.Errorf("provider check: %q", got)
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("field-client_secret"))); v != "" || strings.Contains(b.html(), canary) {
		t.Error("the check's page sent the secret back")
	}
	b.shot("wizard-check", 1280)
	b.fill("field-client_secret", canary)
	b.submit("wizard-save")
	if loc := b.location(); loc != srv.URL+"/connections/calendar?done=created" {
		t.Fatalf("after save at %s (%s)", loc, b.text("content"))
	}
	srv.Grant("connection", "calendar", "alice@example.com", "USE_CONNECTION")
	b.submit("sign-out")

	b.signIn(aliceToken, "/connections/calendar")
	if got := b.text("conn-state"); got != "NEEDS_LOGIN" {
		t.Fatalf("state before sign-in: %q", got)
	}
	b.shot("connection-per-user", 1280)
	b.submit("sign-in-button")
	b.do(chromedp.WaitVisible(chromedp.ID("idp-username")), chromedp.SendKeys(chromedp.ID("idp-username"), "alice"))
	b.submit("idp-sign-in")
	if got := b.text("login-result"); !strings.Contains(got, "calendar") {
		t.Errorf("login result: %q", got)
	}
	b.open("/connections/calendar")
	if got := b.text("conn-state"); got != "ACTIVE" {
		t.Errorf("state after sign-in: %q (%s)", got, b.text("content"))
	}
	if strings.Contains(b.html(), canary) || strings.Contains(srv.Log(), canary) {
		t.Error("the client secret is on the page or in the log")
	}
}

// TestConsoleCSRFAndCSP: a form posted to the console from a page of another loopback
// origin is refused even with the session's own CSRF token (the browser sends the
// session cookie: same site), and changes nothing; the console's pages carry the CSP,
// run their own script and no inline one.
func TestConsoleCSRFAndCSP(t *testing.T) {
	srv := gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--insecure-http-upstreams"}})
	// The console owns / and its own pages; every other path keeps the API's JSON 404.
	if status, body := srv.Do("GET", "/no-such-page", "", nil); status != 404 || !strings.Contains(string(body), `"error_code":"RESOURCE_DOES_NOT_EXIST"`) {
		t.Errorf("GET /no-such-page = %d %s", status, body)
	}
	srv.MakeConnection("target", "", map[string]string{"host": "http://127.0.0.1:9", "bearer_token": canary})
	b := newBrowser(t, srv)
	b.signIn(srv.Admin, "/connections/target")
	csrf, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('input[name=csrf]').value`))
	if err != nil || csrf == "" {
		t.Fatalf("csrf field: %q %v", csrf, err)
	}

	// The other origin: the same host, another port; its page posts the form at once.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/connections/target/disable"><input type="hidden" name="csrf" value="%s"></form><script>document.getElementById("f").submit()</script>`, srv.URL, csrf)
	}))
	t.Cleanup(evil.Close)
	b.do(chromedp.Navigate(evil.URL))
	waitFor(t, "the refusal page", func() bool { return b.location() == srv.URL+"/connections/target/disable" && b.exists("page-title") })
	if got := b.text("page-title"); got != "Form refused" {
		t.Errorf("the cross-origin post answered %q", got)
	}
	var conn struct {
		Enabled bool `json:"enabled"`
	}
	srv.Must("GET", "/api/2.1/unity-catalog/connections/target", srv.Admin, nil, &conn)
	if !conn.Enabled {
		t.Fatal("the cross-origin post disabled the connection")
	}
	// The same form from the console's own page works: the refusal was the origin.
	b.open("/connections/target")
	b.submit("disable-button")
	srv.Must("GET", "/api/2.1/unity-catalog/connections/target", srv.Admin, nil, &conn)
	if conn.Enabled {
		t.Fatal("the console's own disable form did not work")
	}

	// CSP: the header, the console's script runs (the copy button shows), an inline
	// script does not, and a value injected in the query stays text.
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(srv.URL+"/new-connection?method=OAUTH_U2M"))
	if err != nil {
		t.Fatal(err)
	}
	if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	b.do(chromedp.WaitVisible(chromedp.ID("copy-redirect-uri")))
	ran, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { const s = document.createElement("script"); s.textContent = "window.__inline = 1"; document.body.appendChild(s); return window.__inline === 1 })()`))
	if err != nil || ran {
		t.Errorf("an inline script ran: %v %v", ran, err)
	}
	b.open("/connections?q=" + q(`"><script>window.__x=1</script>`))
	x, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](`typeof window.__x`))
	if err != nil || string(x) != `"undefined"` {
		t.Errorf("the injected script ran: %s %v", x, err)
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("conn-search"))); v != `"><script>window.__x=1</script>` {
		t.Errorf("the search field holds %q", v)
	}
}
