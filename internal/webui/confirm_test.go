package webui

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const testPublic = "https://gatehouse.example.com"

// doWith sends one request with extra headers (and the browser's cookies).
func (b *browser) doWith(method, target string, form url.Values, hdr map[string]string) *httptest.ResponseRecorder {
	b.t.Helper()
	saved := b.header
	b.header = http.Header{}
	for k, v := range hdr {
		b.header.Set(k, v)
	}
	defer func() { b.header = saved }()
	return b.do(method, target, form)
}

// sessionCSRF returns the CSRF token of the browser's session.
func (b *browser) sessionCSRF() string {
	b.t.Helper()
	_, s, ok, err := b.e.ui.sessionOf(httptestRequestWithCookie(SessionCookie, b.jar[SessionCookie]))
	if err != nil || !ok {
		b.t.Fatal("browser has no session")
	}
	return s.csrf
}

func httptestRequestWithCookie(name, value string) *http.Request {
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	return req
}

// assertConfirmPage checks that rec is the confirmation page for github with the
// session's CSRF token, and that no login was started.
func assertConfirmPage(t *testing.T, e *env, rec *httptest.ResponseRecorder, csrf string) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200 (confirmation page); Location %q", rec.Code, rec.Header().Get("Location"))
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("confirmation page redirects to %q", loc)
	}
	body := rec.Body.String()
	for _, want := range []string{`<form method="post" action="/connections/github/login">`, `name="csrf" value="` + html.EscapeString(csrf) + `"`, "Another site sent you here"} {
		if !strings.Contains(body, want) {
			t.Errorf("confirmation page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("confirmation page has a script")
	}
	if starts, _ := e.logins.calls(); len(starts) != 0 {
		t.Errorf("StartLogin called %d times before confirmation, want none", len(starts))
	}
}

// TestCrossSiteLoginStart is the permanent table of how a GET of a login start is
// treated by where the navigation came from.
func TestCrossSiteLoginStart(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		hdr     map[string]string
		confirm bool
	}{
		{"Sec-Fetch-Site cross-site", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"Sec-Fetch-Site same-site (sibling subdomain)", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"Sec-Fetch-Site unknown value", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "Same-Origin"}, true},
		{"Sec-Fetch-Site cross-site beats an own Referer", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": testPublic + "/login"}, true},
		{"no Fetch Metadata, foreign Referer", "/connections/github/login", map[string]string{"Referer": "https://evil.example/page"}, true},
		{"no Fetch Metadata, sibling subdomain Referer", "/connections/github/login", map[string]string{"Referer": "https://evil.gatehouse.example.com/"}, true},
		{"no Fetch Metadata, own host over http", "/connections/github/login", map[string]string{"Referer": "http://gatehouse.example.com/"}, true},
		{"no Fetch Metadata, own host on another port", "/connections/github/login", map[string]string{"Referer": "https://gatehouse.example.com:8443/"}, true},
		{"no Fetch Metadata, Referer with user info", "/connections/github/login", map[string]string{"Referer": "https://gatehouse.example.com@evil.example/"}, true},
		{"no Fetch Metadata, unparsable Referer", "/connections/github/login", map[string]string{"Referer": "::not a url"}, true},
		{"same-origin with confirm asked", "/connections/github/login?confirm=1", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"Sec-Fetch-Site same-origin", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"Sec-Fetch-Site none (typed, bookmark)", "/connections/github/login", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"no Fetch Metadata, own Referer", "/connections/github/login", map[string]string{"Referer": testPublic + "/login?next=x"}, false},
		{"no Fetch Metadata, own Referer spelled with case and default port", "/connections/github/login", map[string]string{"Referer": "HTTPS://Gatehouse.Example.COM:443/"}, false},
		{"no Fetch Metadata, no Referer", "/connections/github/login", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testPublic)
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			rec := b.doWith("GET", tt.target, nil, tt.hdr)
			if tt.confirm {
				assertConfirmPage(t, e, rec, b.sessionCSRF())
				return
			}
			if rec.Code != http.StatusFound || rec.Header().Get("Location") != providerAt {
				t.Fatalf("GET = %d to %q, want 302 to the provider; body:\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
			if starts, _ := e.logins.calls(); len(starts) != 1 {
				t.Errorf("StartLogin called %d times, want once", len(starts))
			}
		})
	}
}

// TestConfirmLoginPost is the table of the confirmation page's POST.
func TestConfirmLoginPost(t *testing.T) {
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}
	tests := []struct {
		name string
		// form builds the posted form from the posting browser and alice's session token.
		post   func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder
		status int
		start  bool
	}{
		{"right CSRF token", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			return alice.doWith("POST", "/connections/github/login", url.Values{"csrf": {alice.sessionCSRF()}}, sameOrigin)
		}, http.StatusOK, true},
		{"right CSRF token, no Fetch Metadata", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			return alice.doWith("POST", "/connections/github/login", url.Values{"csrf": {alice.sessionCSRF()}}, nil)
		}, http.StatusOK, true},
		{"no CSRF token", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			return alice.doWith("POST", "/connections/github/login", url.Values{}, sameOrigin)
		}, http.StatusForbidden, false},
		{"wrong CSRF token", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			return alice.doWith("POST", "/connections/github/login", url.Values{"csrf": {newSecret()}}, sameOrigin)
		}, http.StatusForbidden, false},
		{"another session's CSRF token and cookie", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			bob := e.browser(t)
			bob.mustSignIn(bobToken)
			tok := bob.sessionCSRF()
			alice.jar[alice.csrfName()] = tok
			return alice.doWith("POST", "/connections/github/login", url.Values{"csrf": {tok}}, sameOrigin)
		}, http.StatusForbidden, false},
		{"right CSRF token posted cross-site", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			return alice.doWith("POST", "/connections/github/login", url.Values{"csrf": {alice.sessionCSRF()}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		}, http.StatusForbidden, false},
		{"no session", func(t *testing.T, e *env, alice *browser) *httptest.ResponseRecorder {
			anon := e.browser(t)
			anon.do("GET", "/login", nil)
			return anon.doWith("POST", "/connections/github/login", url.Values{"csrf": {anon.jar[anon.csrfName()]}}, sameOrigin)
		}, http.StatusSeeOther, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testPublic)
			alice := e.browser(t)
			alice.mustSignIn(aliceToken)
			rec := tt.post(t, e, alice)
			if rec.Code != tt.status {
				t.Fatalf("POST = %d, want %d; body:\n%s", rec.Code, tt.status, rec.Body)
			}
			starts, _ := e.logins.calls()
			loc := rec.Header().Get("Location")
			switch {
			case tt.start:
				// The provider is reached through the continue page: a 303 would be a
				// redirect of the form, which the page's CSP form-action stops.
				_, sid, _ := e.ui.SessionPrincipal(httptestRequestWithCookie(SessionCookie, alice.jar[SessionCookie]))
				if to := continueTarget(t, rec); len(starts) != 1 || starts[0] != (startCall{"alice@example.com", sid, "github"}) || to != providerAt {
					t.Errorf("StartLogin calls %v, continues to %q; want one for alice's session and the provider", starts, to)
				}
			default:
				if len(starts) != 0 {
					t.Errorf("StartLogin called: %v", starts)
				}
				if loc != "" && !strings.HasPrefix(loc, "/login?") {
					t.Errorf("Location = %q, want none or the sign-in page", loc)
				}
			}
		})
	}
}

// TestCrossSiteSignInDetour checks that a login another site sent a browser to still
// asks for confirmation when the way there goes through sign-in (whose redirect after
// the form, and whose Continue link, are same-origin navigations).
func TestCrossSiteSignInDetour(t *testing.T) {
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site"}
	wantNext := "/connections/github/login?confirm=1"
	t.Run("login start without a session", func(t *testing.T) {
		e := newEnv(t, testPublic)
		b := e.browser(t)
		rec := b.doWith("GET", "/connections/github/login", nil, crossSite)
		if got, want := rec.Header().Get("Location"), "/login?next="+url.QueryEscape(wantNext); rec.Code != http.StatusSeeOther || got != want {
			t.Fatalf("GET = %d to %q, want 303 to %q", rec.Code, got, want)
		}
	})
	t.Run("crafted sign-in link, then sign-in", func(t *testing.T) {
		e := newEnv(t, testPublic)
		b := e.browser(t)
		page := b.doWith("GET", "/login?next="+url.QueryEscape("/connections/github/login"), nil, crossSite)
		if !strings.Contains(page.Body.String(), `name="next" value="`+html.EscapeString(wantNext)+`"`) {
			t.Fatalf("sign-in form does not carry the confirmation in next:\n%s", page.Body)
		}
		rec := b.doWith("POST", "/login", url.Values{"token": {aliceToken}, "csrf": {b.jar[b.csrfName()]}, "next": {wantNext}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
		if got := continueTarget(t, rec); got != wantNext {
			t.Fatalf("sign-in continues to %q, want %q", got, wantNext)
		}
		assertConfirmPage(t, e, b.doWith("GET", wantNext, nil, map[string]string{"Sec-Fetch-Site": "same-origin"}), b.sessionCSRF())
	})
	t.Run("crafted sign-in link when signed in: the Continue link", func(t *testing.T) {
		e := newEnv(t, testPublic)
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		page := b.doWith("GET", "/login?next="+url.QueryEscape("/%63onnections/./github/login"), nil, map[string]string{"Referer": "https://evil.example/"})
		if !strings.Contains(page.Body.String(), `href="`+html.EscapeString("/%63onnections/./github/login?confirm=1")+`"`) {
			t.Fatalf("Continue link does not ask for confirmation:\n%s", page.Body)
		}
	})
	t.Run("typed sign-in link keeps next as it is", func(t *testing.T) {
		e := newEnv(t, testPublic)
		b := e.browser(t)
		page := b.doWith("GET", "/login?next="+url.QueryEscape("/connections/github/login"), nil, map[string]string{"Sec-Fetch-Site": "none"})
		if !strings.Contains(page.Body.String(), `name="next" value="/connections/github/login"`) {
			t.Fatalf("typed sign-in changed next:\n%s", page.Body)
		}
	})
}

func TestOriginOf(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://gatehouse.example.com", "https://gatehouse.example.com", true},
		{"https://Gatehouse.Example.com:443/path?q#f", "https://gatehouse.example.com", true},
		{"http://127.0.0.1:80/", "http://127.0.0.1", true},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080", true},
		{"https://[::1]:8443/", "https://[::1]:8443", true},
		{"https://[::1]:443/", "https://[::1]", true},
		{"https://user@gatehouse.example.com/", "", false},
		{"ftp://gatehouse.example.com/", "", false},
		{"/relative", "", false},
		{"null", "", false},
		{"", "", false},
		{"https://", "", false},
		{"https://:443", "", false},
	}
	for _, tt := range tests {
		got, ok := originOf(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("originOf(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzOriginOf checks that originOf never fails on odd input, that what it returns is
// an origin (which it returns unchanged), and that a Referer on Gatehouse's own origin
// is never taken for another site's.
func FuzzOriginOf(f *testing.F) {
	for _, s := range []string{"https://gatehouse.example.com/x", "HTTP://A:80", "https://[::1]:443/", "https://a@b/", "//x", "\x00", "https://gatehouse.example.com:443/%zz"} {
		f.Add(s)
	}
	ui := New(Deps{PublicURL: testPublic})
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := originOf(s)
		if !ok {
			if o != "" {
				t.Fatalf("originOf(%q) = %q without ok", s, o)
			}
		} else {
			if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.ToLower(o) != o {
				t.Fatalf("originOf(%q) = %q, not a lower-case http(s) origin", s, o)
			}
			if again, ok2 := originOf(o); !ok2 || again != o {
				t.Fatalf("originOf(originOf(%q)) = %q, %v; want %q", s, again, ok2, o)
			}
		}
		req := httptest.NewRequest("GET", "/connections/x/login", nil)
		req.Header.Set("Referer", s)
		cross := ui.crossSite(req)
		if ok && o == testPublic && cross {
			t.Fatalf("Referer %q on the own origin judged cross-site", s)
		}
		if ok && o != testPublic && !cross {
			t.Fatalf("Referer %q of origin %q judged same-site", s, o)
		}
	})
}
