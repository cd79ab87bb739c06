package browsertests

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// attacker is another site on loopback that serves whatever page the test sets:
// at URL (127.0.0.1, another port: same site as Gatehouse, another origin, so the
// browser sends Gatehouse's SameSite cookies along) and at CrossSite (localhost:
// another site altogether). It sets no CSP.
type attacker struct {
	URL, CrossSite string
	mu             sync.Mutex
	page           string
}

func newAttacker(t *testing.T) *attacker {
	t.Helper()
	a := &attacker{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(a.page))
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	u, _ := url.Parse(srv.URL)
	a.CrossSite = "http://localhost:" + u.Port()
	return a
}

// attackForm is a page with a form, posted by the button #attack, to action with the
// fields (in order).
var attackForm = template.Must(template.New("attack").Parse(`<!doctype html><title>attacker</title>
<form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">{{end}}
<button type="submit" id="attack">Win a prize</button></form><a id="attack-link" href="{{.Action}}">a link</a>`))

// setForm makes the attacker's page a form to action.
func (a *attacker) setForm(t *testing.T, action string, fields [][2]string) {
	t.Helper()
	var b strings.Builder
	if err := attackForm.Execute(&b, map[string]any{"Action": action, "Fields": fields}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.page = b.String()
	a.mu.Unlock()
}

// noScriptRan checks that the page ran none of the markup the test injected: the
// variable it would set is undefined, and the page holds no script or image element.
func (p *page) noScriptRan() {
	p.t.Helper()
	if got := eval[string](p, `typeof window.__x`); got != "undefined" {
		p.t.Errorf("injected markup ran on %s: window.__x is %s", p.location(), got)
	}
	if n := eval[int](p, `document.querySelectorAll('script, img, [onerror]').length`); n != 0 {
		p.t.Errorf("%s holds %d script or image elements:\n%s", p.location(), n, p.html())
	}
}

// injectScripts adds an inline script and an image with an inline error handler to
// the current page, as an injection that got past escaping would, and reports what
// ran: "undefined" when the page's CSP stopped both, else the value they set.
func (p *page) injectScripts() string {
	p.t.Helper()
	// DevTools evaluates this whatever the CSP; the elements it adds are the page's, and
	// the page's CSP decides whether they run. The image's error event fires either way
	// (a blocked load is an error), after its inline handler would have run.
	const js = `new Promise(resolve => {
		const s = document.createElement('script');
		s.textContent = 'window.__x = "script"';
		document.body.appendChild(s);
		const i = document.createElement('img');
		i.setAttribute('onerror', 'window.__x = (window.__x || "") + "+handler"');
		i.addEventListener('error', () => resolve(String(window.__x)));
		i.src = '/no-such-image.png';
		document.body.appendChild(i);
	})`
	return eval[string](p, js, chromedp.EvalAwaitPromise)
}

// pagesRunNoInjectedScript: on the browser's Gatehouse pages the CSP stops injected
// script (the same injection runs on the attacker's page, which has no CSP: the
// control), and a Gatehouse error page that shows an injected connection name shows
// it as text and runs nothing. The browser is signed in.
func pagesRunNoInjectedScript(t *testing.T, p *page, base string, a *attacker) {
	t.Helper()
	a.setForm(t, base+"/logout", nil)
	p.open(a.URL)
	if got := p.injectScripts(); got != "script+handler" {
		t.Fatalf("control: the injection on a page without CSP ran %q, want script+handler", got)
	}
	p.open(base + "/login")
	if got := p.injectScripts(); got != "undefined" {
		t.Errorf("the sign-in page's CSP let injected script run: window.__x = %s", got)
	}

	evil := `<img src=x onerror="window.__x=1"><script>window.__x=2</script>`
	resp := p.open(base + "/connections/" + url.PathEscape(evil) + "/login")
	if resp.Status/100 != 4 || !strings.Contains(header(resp, "Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("login to an injected connection name = %d, CSP %q", resp.Status, header(resp, "Content-Security-Policy"))
	}
	if got := p.text("error-heading"); got != "Cannot log in to "+evil {
		t.Errorf("error heading %q, want the name shown as text", got)
	}
	p.noScriptRan()
}

// crossSiteForms: forms posted to Gatehouse from another site are refused, even with
// the CSRF token copied into them and the browser's SameSite cookies sent along (the
// same-site attacker on another port): Sign out does not sign out, Allow on a copied
// consent form delivers no code to the client; and a link from another site to a
// connection login shows the confirmation page instead of going to the provider.
func crossSiteForms(t *testing.T, w *world) {
	a := newAttacker(t)
	c := newMCPClient(t, w, "tools") // consentFlow created the MCP connections
	w.perUserConnection(t, "peruser-csrf")
	p := newPage(t, w.gh.URL)
	p.ssoSignIn(w, "alice@example.com")
	p.open(w.gh.URL + "/login") // its sign-out form holds the session's CSRF token
	csrf := eval[string](p, `document.querySelector('#sign-out-form input[name=csrf]').value`)
	p.open(c.authorizeURL("state-csrf"))
	consent := eval[[][2]string](p, `[...document.querySelectorAll('#consent-form input')].map(i => [i.name, i.value])`)
	consent = append(consent, [2]string{"decision", "allow"})

	// The same-site attacker's posts carry the session cookie (SameSite=Lax) and are
	// refused for their origin (403); the other site's carry none (401: no session).
	for _, origin := range []struct {
		name, url  string
		wantStatus int64
	}{{"same site, other port", a.URL, http.StatusForbidden}, {"other site", a.CrossSite, http.StatusUnauthorized}} {
		t.Run(origin.name, func(t *testing.T) {
			a.setForm(t, w.gh.URL+"/logout", [][2]string{{"csrf", csrf}})
			p.open(origin.url)
			if resp := p.click("attack"); resp.Status != http.StatusForbidden || p.text("error-heading") != "This form cannot be accepted" {
				t.Errorf("cross-site sign-out = %d at %s, want 403 (a refused form):\n%s", resp.Status, resp.URL, p.html())
			}
			p.open(w.gh.URL + "/login")
			if !p.has("signed-in-user") {
				t.Fatalf("a cross-site sign-out ended the session")
			}

			a.setForm(t, w.gh.URL+"/oidc/v1/authorize", consent)
			p.open(origin.url)
			if resp := p.click("attack"); resp.Status != origin.wantStatus || !strings.HasPrefix(resp.URL, w.gh.URL+"/") || !p.has("error-heading") {
				t.Errorf("cross-site consent = %d at %s, want %d from Gatehouse", resp.Status, resp.URL, origin.wantStatus)
			}
			c.noAnswer()

			a.setForm(t, w.gh.URL+"/connections/peruser-csrf/login", nil)
			p.open(origin.url)
			p.click("attack-link")
			if loc := p.location(); !strings.HasPrefix(loc, w.gh.URL+"/") || !p.has("confirm-login") {
				t.Errorf("a link from another site to a login went to %s, not the confirmation page", loc)
			}
		})
	}
	// Continue on the confirmation page goes on to the provider (by way of the
	// continue page: a redirect of the form itself would break the page's CSP).
	p.click("confirm-login")
	p.waitFor("idp-heading")
	if loc := p.location(); !strings.HasPrefix(loc, w.as.AuthorizeURL+"?") {
		t.Errorf("Continue on the confirmation page went to %s, not the provider", loc)
	}
	// The same form from Gatehouse's own consent page is accepted: the refusals above
	// are the origin's doing.
	p.open(c.authorizeURL("state-csrf"))
	p.click("consent-approve")
	if q := c.answer(); q.Get("state") != "state-csrf" || q.Get("code") == "" {
		t.Errorf("the consent page's own Allow: the client received %v", q)
	}
}
