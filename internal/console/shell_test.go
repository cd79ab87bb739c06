package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// fakeSessions signs in the request that carries the cookie "s=ok"; its CSRF token is
// fixed, and FormOK compares the posted field with it (the real check is webui's).
type fakeSessions struct{ p *catalog.Principal }

const fakeCSRF = "csrf-token-of-the-fake-session"

func (f fakeSessions) Viewer(r *http.Request) (*catalog.Principal, string, bool) {
	if c, err := r.Cookie("s"); err == nil && c.Value == "ok" {
		return f.p, fakeCSRF, true
	}
	return nil, "", false
}

func (f fakeSessions) FormOK(r *http.Request, csrf string) bool {
	return r.PostFormValue("csrf") == csrf
}

func TestShell(t *testing.T) {
	ran := 0
	addRoutesForTest(t, route{"POST /test-shell-form", func(c *Console, w http.ResponseWriter, r *http.Request, v *viewer) {
		ran++
		w.WriteHeader(http.StatusNoContent)
	}})
	c := New(Deps{Sessions: fakeSessions{p: &catalog.Principal{Name: "alice@example.com"}}})
	do := func(method, target string, signedIn bool, form url.Values) *httptest.ResponseRecorder {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if signedIn {
			req.AddCookie(&http.Cookie{Name: "s", Value: "ok"})
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name     string
		method   string
		target   string
		signedIn bool
		form     url.Values
		status   int
		location string
		ran      int
		contains string
	}{
		{name: "home signed out goes to sign-in", method: "GET", target: "/", status: 303, location: "/login?next=%2F"},
		{name: "next keeps the query", method: "GET", target: "/?a=b", status: 303, location: "/login?next=%2F%3Fa%3Db"},
		{name: "home signed in", method: "GET", target: "/", signedIn: true, status: 200, contains: `id="nav-connections"`},
		{name: "viewer named with sign-out", method: "GET", target: "/", signedIn: true, status: 200, contains: `name="csrf" value="` + fakeCSRF + `"`},
		{name: "post signed out", method: "POST", target: "/test-shell-form", form: url.Values{"csrf": {fakeCSRF}}, status: 303, location: "/login?next=%2Ftest-shell-form"},
		{name: "post without csrf refused", method: "POST", target: "/test-shell-form", signedIn: true, form: url.Values{"x": {"1"}}, status: 403, contains: "Form refused"},
		{name: "post with wrong csrf refused", method: "POST", target: "/test-shell-form", signedIn: true, form: url.Values{"csrf": {"nope"}}, status: 403},
		{name: "post with csrf runs", method: "POST", target: "/test-shell-form", signedIn: true, form: url.Values{"csrf": {fakeCSRF}}, status: 204, ran: 1},
		{name: "asset css", method: "GET", target: "/console/assets/console.css", status: 200, contains: ".badge"},
		{name: "asset missing", method: "GET", target: "/console/assets/nope.js", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = 0
			w := do(tt.method, tt.target, tt.signedIn, tt.form)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if ran != tt.ran {
				t.Errorf("handler ran %d times, want %d", ran, tt.ran)
			}
			if !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("body lacks %q:\n%s", tt.contains, w.Body)
			}
			for h, v := range map[string]string{"Content-Security-Policy": ContentSecurityPolicy, "Cache-Control": "no-store",
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if tt.status != 404 && !strings.HasPrefix(tt.target, AssetPrefix) && w.Header().Get(h) != v {
					t.Errorf("%s = %q, want %q", h, w.Header().Get(h), v)
				}
			}
			if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), " style=") {
				t.Errorf("inline script or style in the page:\n%s", w.Body)
			}
		})
	}
}

// addRoutesForTest adds routes for one test and removes them after it.
func addRoutesForTest(t *testing.T, rs ...route) {
	n, np := len(routeTable), len(Patterns)
	addRoutes(rs...)
	t.Cleanup(func() { routeTable, Patterns = routeTable[:n], Patterns[:np] })
}
