package main

import (
	"crypto/tls"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var nextRE = regexp.MustCompile(`name="next" value="([^"]+)"`)

// authzFront stands in front of the authorization server's /authorize and records every
// authorization request a browser sends; it then hands the browser on to the real one
// as user, like a provider that has the user signed in and asks nothing (the case in
// which a login started by another site re-binds a shared credential silently).
type authzFront struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newAuthzFront(t *testing.T, w *oauthWorld, user string) *authzFront {
	t.Helper()
	f := &authzFront{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.URL.String())
		f.mu.Unlock()
		q := r.URL.Query()
		q.Set("test_user", user)
		http.Redirect(rw, r, w.as.URL+"/authorize?"+q.Encode(), http.StatusFound)
	}))
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *authzFront) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// followingBrowser is a cookie-keeping client that follows redirects like a browser, so
// that a redirect to the provider does reach the provider.
type followingBrowser struct {
	t *testing.T
	c *http.Client
}

func newFollowingBrowser(t *testing.T, w *oauthWorld, front *authzFront) *followingBrowser {
	roots := w.as.RootCAs().Clone()
	roots.AddCert(front.srv.Certificate())
	jar, _ := cookiejar.New(nil)
	return &followingBrowser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
}

// do sends one request with the headers and returns the final response's status, URL
// and body.
func (b *followingBrowser) do(method, u string, form url.Values, hdr map[string]string) (int, *url.URL, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The continue page (a form's step on to a login) sends a browser on by itself:
	// follow its link as the page's refresh would.
	for range 3 {
		m := continueLinkRE.FindStringSubmatch(string(page))
		if resp.StatusCode != http.StatusOK || m == nil {
			break
		}
		next, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
		if err != nil {
			b.t.Fatalf("continue page link %q: %v", m[1], err)
		}
		req, _ := http.NewRequest(http.MethodGet, next.String(), nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if resp, err = b.c.Do(req); err != nil {
			b.t.Fatalf("GET %s: %v", next, err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return resp.StatusCode, resp.Request.URL, string(page)
}

// continueLinkRE finds the continue page's link.
var continueLinkRE = regexp.MustCompile(`id="continue-link" href="([^"]*)"`)

func (b *followingBrowser) signIn(base, token string) {
	b.t.Helper()
	_, _, page := b.do("GET", base+"/login", nil, map[string]string{"Sec-Fetch-Site": "none"})
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no csrf field on the sign-in page:\n%s", page)
	}
	form := url.Values{"token": {token}, "csrf": {m[1] + m[2]}, "next": {"/login"}}
	if code, _, page := b.do("POST", base+"/login", form, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != 200 || !strings.Contains(page, "Signed in") {
		b.t.Fatalf("sign-in = %d:\n%s", code, page)
	}
}

// TestSecurityCrossSiteLoginStart is the permanent table of point 13 (issue 8): a
// login start that another site sends a signed-in MANAGE holder to must not reach the
// provider until the person confirms on Gatehouse's own page.
func TestSecurityCrossSiteLoginStart(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	front := newAuthzFront(t, w, "alice")
	if status, b := w.connection("shared", "OAUTH_U2M", postClient, map[string]string{"authorization_endpoint": front.srv.URL + "/authorize"}); status != 200 {
		t.Fatalf("create shared = %d %s", status, b)
	}
	w.ts.grant("connection", "shared", "alice", "MANAGE")
	alice := newFollowingBrowser(t, w, front)
	alice.signIn(w.ts.URL, w.users["alice"])
	loginURL := w.ts.URL + "/connections/shared/login"

	notBound := func(t *testing.T) {
		t.Helper()
		if status, _, b := w.call(w.users["bob"], "shared"); status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") {
			t.Fatalf("bob through shared = %d %s; want 401 OAUTH_LOGIN_REQUIRED (the credential must still be unbound)", status, b)
		}
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}},
		{"no Fetch Metadata, foreign Referer", map[string]string{"Referer": "https://evil.example/lure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := front.count()
			code, at, page := alice.do("GET", loginURL, nil, tc.hdr)
			if code != 200 || at.String() != loginURL || !strings.Contains(page, `action="/connections/shared/login"`) || csrfRE.FindStringSubmatch(page) == nil {
				t.Fatalf("cross-site GET = %d at %s, want 200 confirmation page with a CSRF form at the login URL:\n%s", code, at, page)
			}
			if n := front.count() - before; n != 0 {
				t.Fatalf("the provider received %d authorization requests before any confirmation", n)
			}
			notBound(t)
		})
	}

	t.Run("by way of sign-in", func(t *testing.T) {
		// Not signed in yet: the sign-in form's redirect afterwards is same-origin, so
		// the confirmation must survive the detour.
		fresh := newFollowingBrowser(t, w, front)
		before := front.count()
		code, at, page := fresh.do("GET", loginURL, nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
		m := csrfRE.FindStringSubmatch(page)
		next := nextRE.FindStringSubmatch(page)
		if code != 200 || at.Path != "/login" || m == nil || next == nil {
			t.Fatalf("cross-site GET without a session = %d at %s, want the sign-in form with next:\n%s", code, at, page)
		}
		form := url.Values{"token": {w.users["alice"]}, "csrf": {m[1] + m[2]}, "next": {html.UnescapeString(next[1])}}
		code, at, page = fresh.do("POST", w.ts.URL+"/login", form, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"})
		if code != 200 || at.Path != "/connections/shared/login" || !strings.Contains(page, `action="/connections/shared/login"`) {
			t.Fatalf("after sign-in = %d at %s, want the confirmation page:\n%s", code, at, page)
		}
		if n := front.count() - before; n != 0 {
			t.Fatalf("the provider received %d authorization requests through the sign-in detour", n)
		}
		notBound(t)
	})

	t.Run("forged POST without the CSRF token", func(t *testing.T) {
		before := front.count()
		code, _, page := alice.do("POST", loginURL, url.Values{"csrf": {"forged"}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if code != http.StatusForbidden {
			t.Fatalf("forged POST = %d, want 403:\n%s", code, page)
		}
		if front.count() != before {
			t.Fatal("a forged POST reached the provider")
		}
		notBound(t)
	})

	t.Run("the confirmation's button", func(t *testing.T) {
		_, _, page := alice.do("GET", loginURL, nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF field on the confirmation page:\n%s", page)
		}
		before := front.count()
		code, at, result := alice.do("POST", loginURL, url.Values{"csrf": {m[1] + m[2]}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"})
		if n := front.count() - before; n != 1 {
			t.Fatalf("the button sent %d authorization requests, want 1", n)
		}
		if code != 200 || at.Path != "/login/oauth/http.html" || !strings.Contains(result, "shared") {
			t.Fatalf("login after confirmation = %d at %s:\n%s", code, at, result)
		}
		if status, sub, b := w.call(w.users["bob"], "shared"); status != 200 || sub != "alice" {
			t.Fatalf("bob through shared = %d %q %s, want alice's identity", status, sub, b)
		}
	})

	t.Run("typed navigation goes straight on", func(t *testing.T) {
		before := front.count()
		code, at, _ := alice.do("GET", loginURL, nil, map[string]string{"Sec-Fetch-Site": "none"})
		if n := front.count() - before; n != 1 || code != 200 || at.Path != "/login/oauth/http.html" {
			t.Fatalf("typed login = %d at %s with %d authorization requests; want straight through the provider (1)", code, at, n)
		}
	})
}

// TestSecurityPendingLoginBounds checks, through the real server, that started logins
// are bounded per browser session (16) and in total (--oauth-max-pending-logins): the
// oldest past a bound stops working, the newest keeps working, and a session's bound
// does not touch another session's logins.
func TestSecurityPendingLoginBounds(t *testing.T) {
	w := newOAuthWorld(t, time.Hour, "--oauth-max-pending-logins", "24")
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", basicClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	finish := func(b *browser, provider *url.URL, user string) int {
		t.Helper()
		resp, page := b.get(t, b.authorize(t, provider, user).String())
		if resp.StatusCode != 200 && resp.StatusCode != 400 {
			t.Fatalf("callback = %d:\n%s", resp.StatusCode, page)
		}
		return resp.StatusCode
	}
	starts := func(b *browser, n int) []*url.URL {
		out := make([]*url.URL, n)
		for i := range out {
			out[i] = b.startLogin(t, w.ts.URL, "peruser")
		}
		return out
	}

	alice := newBrowser(w.as.RootCAs())
	alice.signIn(t, w.ts.URL, w.users["alice"])
	bob := newBrowser(w.as.RootCAs())
	bob.signIn(t, w.ts.URL, w.users["bob"])

	// Per session: bob's first login is one of 17 in his session, so it is evicted;
	// alice's only one is untouched.
	bobs := starts(bob, 17)
	alices := starts(alice, 1)
	if code := finish(bob, bobs[0], "bob"); code != 400 {
		t.Errorf("bob's oldest of 17 logins in one session finished with %d, want 400 (evicted)", code)
	}
	if code := finish(bob, bobs[16], "bob"); code != 200 {
		t.Errorf("bob's newest login finished with %d, want 200", code)
	}
	if code := finish(alice, alices[0], "alice"); code != 200 {
		t.Errorf("alice's login next to bob's 17 finished with %d, want 200", code)
	}

	// In total: bob holds 15 (bobs[1..15]); carol's 10 in two sessions take the total
	// past 24, so bob's oldest go first and carol's all work.
	carol1, carol2 := newBrowser(w.as.RootCAs()), newBrowser(w.as.RootCAs())
	carol1.signIn(t, w.ts.URL, w.users["carol"])
	carol2.signIn(t, w.ts.URL, w.users["carol"])
	carols := append(starts(carol1, 5), starts(carol2, 5)...)
	if code := finish(bob, bobs[1], "bob"); code != 400 {
		t.Errorf("bob's oldest login past the total bound finished with %d, want 400 (evicted)", code)
	}
	if code := finish(carol2, carols[9], "carol"); code != 200 {
		t.Errorf("carol's newest login finished with %d, want 200", code)
	}
	if code := finish(bob, bobs[15], "bob"); code != 200 {
		t.Errorf("bob's newest remaining login finished with %d, want 200", code)
	}
}

func TestOAuthMaxPendingLoginsConfig(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      int
		wantErr   bool
	}{
		{"default", "", 100_000, false},
		{"set", "500", 500, false},
		{"zero", "0", 0, true},
		{"negative", "-1", 0, true},
		{"not a number", "many", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := serverCommand(&env{getenv: func(string) string { return "" }})
			cfg, err := loadServerConfig(cmd.Flags(), mapEnv(map[string]string{"GATEHOUSE_OAUTH_MAX_PENDING_LOGINS": tc.env}))
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "oauth-max-pending-logins") {
					t.Fatalf("loadServerConfig = %v, want an error naming oauth-max-pending-logins", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxPending != tc.want {
				t.Errorf("MaxPending = %d, want %d", cfg.MaxPending, tc.want)
			}
		})
	}
}
