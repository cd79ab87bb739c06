package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// fakeCSRF is the CSRF token of the fake sessions of i13-ops's tests (ops_test.go).
const fakeCSRF = "csrf-token-of-the-fake-session"

// TestShell checks what every console request passes: sign-in first (303 to
// /login?next=), then for a POST the CSRF check before the handler runs, and the
// security headers on every page.
func TestShell(t *testing.T) {
	ran := 0
	addRoutesForTest(t, route{"POST /test-shell-form", func(c *Console, w http.ResponseWriter, r *http.Request, v *viewer) {
		ran++
		w.WriteHeader(http.StatusNoContent)
	}})
	w := newWorld(t)
	tests := []struct {
		name     string
		method   string
		target   string
		who      string
		form     url.Values
		status   int
		location string
		ran      int
		contains string
	}{
		{name: "home signed out goes to sign-in", method: "GET", target: "/", status: 303, location: "/login?next=%2F"},
		{name: "next keeps the query", method: "GET", target: "/connections?q=b", status: 303, location: "/login?next=%2Fconnections%3Fq%3Db"},
		{name: "home signed in", method: "GET", target: "/", who: "mike", status: 200, contains: `id="nav-connections"`},
		{name: "viewer named with sign-out", method: "GET", target: "/", who: "mike", status: 200, contains: `name="csrf" value="` + csrfOf("mike") + `"`},
		{name: "post signed out", method: "POST", target: "/test-shell-form", form: url.Values{"csrf": {csrfOf("mike")}}, status: 303, location: "/login?next=%2F"},
		{name: "post without csrf refused", method: "POST", target: "/test-shell-form", who: "mike", form: url.Values{"x": {"1"}}, status: 403, contains: "Form refused"},
		{name: "post with another session's csrf refused", method: "POST", target: "/test-shell-form", who: "mike", form: url.Values{"csrf": {csrfOf("root")}}, status: 403},
		{name: "post with csrf runs", method: "POST", target: "/test-shell-form", who: "mike", form: url.Values{"csrf": {csrfOf("mike")}}, status: 204, ran: 1},
		{name: "asset css", method: "GET", target: "/console/assets/console.css", status: 200, contains: ".badge"},
		{name: "asset js", method: "GET", target: "/console/assets/console.js", status: 200, contains: "data-copy"},
		{name: "asset missing", method: "GET", target: "/console/assets/nope.js", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = 0
			req := strings.NewReader(tt.form.Encode())
			r := newRequest(tt.method, tt.target, req, tt.form != nil, tt.who)
			rec := serve(w.c, r)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if ran != tt.ran {
				t.Errorf("handler ran %d times, want %d", ran, tt.ran)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q:\n%s", tt.contains, rec.Body)
			}
			for h, v := range map[string]string{"Content-Security-Policy": ContentSecurityPolicy, "Cache-Control": "no-store",
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if !strings.HasPrefix(tt.target, AssetPrefix) && rec.Header().Get(h) != v {
					t.Errorf("%s = %q, want %q", h, rec.Header().Get(h), v)
				}
			}
			if b := rec.Body.String(); strings.Contains(b, "<script>") || strings.Contains(b, " style=") || strings.Contains(b, " onclick=") {
				t.Errorf("inline script or style in the page:\n%s", b)
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
