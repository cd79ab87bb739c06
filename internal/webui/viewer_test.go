package webui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestViewerAndFormOK checks what the console relies on: Viewer names the session's
// principal and gives its CSRF token, and ends with the session (signed out,
// deactivated, token deleted); FormOK accepts only a same-origin form carrying that
// token.
func TestViewerAndFormOK(t *testing.T) {
	e := newEnv(t, "http://gatehouse.test")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	req := func(form url.Values, header map[string]string) *http.Request {
		r := httptest.NewRequest("POST", "/connections/x/disable", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			r.Header.Set(k, v)
		}
		for name, value := range b.jar {
			r.AddCookie(&http.Cookie{Name: name, Value: value})
		}
		return r
	}
	p, csrf, ok := e.ui.Viewer(req(nil, nil))
	if !ok || p.Name != "alice@example.com" || csrf != b.jar[b.csrfName()] {
		t.Fatalf("Viewer = %v %q %v; want alice with the session's CSRF token %q", p, csrf, ok, b.jar[b.csrfName()])
	}
	tests := []struct {
		name   string
		form   url.Values
		header map[string]string
		want   bool
	}{
		{"same origin with the token", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"no fetch metadata (not a browser) with the token", url.Values{"csrf": {csrf}}, nil, true},
		{"no token", url.Values{}, map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"another token", url.Values{"csrf": {newSecret()}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"cross-site with the token", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site other origin with the token", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://gatehouse.test:8443"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req(tt.form, tt.header)
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			if got := e.ui.FormOK(r, csrf); got != tt.want {
				t.Errorf("FormOK = %v, want %v", got, tt.want)
			}
		})
	}
	if e.ui.FormOK(req(url.Values{"csrf": {""}}, nil), "") {
		t.Error("FormOK accepted an empty token")
	}

	e.principals.setActive("id-alice", false)
	if _, _, ok := e.ui.Viewer(req(nil, nil)); ok {
		t.Error("Viewer still names a deactivated principal")
	}
	if _, _, ok := e.ui.Viewer(httptest.NewRequest("GET", "/", nil)); ok {
		t.Error("Viewer names someone without a session")
	}
}
