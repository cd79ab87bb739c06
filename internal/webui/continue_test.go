package webui

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

var (
	refreshRE      = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=([^"]*)">`)
	continueLinkRE = regexp.MustCompile(`<a class="button" id="continue-link" href="([^"]*)">`)
)

// continueTarget checks that rec is the continue page (continueTo) and returns where
// it sends the browser: its refresh and its link must agree.
func continueTarget(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	body := rec.Body.String()
	r, l := refreshRE.FindStringSubmatch(body), continueLinkRE.FindStringSubmatch(body)
	if rec.Code != http.StatusOK || r == nil || l == nil || r[1] != l[1] {
		t.Fatalf("want the continue page (200, a refresh and a link to the same place), got %d:\n%s", rec.Code, body)
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("the continue page also redirects, to %q", loc)
	}
	return html.UnescapeString(r[1])
}

// TestContinueTo is the table of the continue page's target: a URL or path goes into
// the refresh and the link, a script URL into neither.
func TestContinueTo(t *testing.T) {
	u := New(Deps{PublicURL: "http://127.0.0.1:8080"})
	for _, tc := range []struct{ name, to, want string }{
		{"provider URL", "https://idp.example/authorize?state=a&scope=b+c", "https://idp.example/authorize?state=a&scope=b+c"},
		{"local path", "/connections/github/login?confirm=1", "/connections/github/login?confirm=1"},
		{"javascript URL", "javascript:alert(1)", "#ZgotmplZ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			u.continueTo(rec, httptest.NewRequest("POST", "/login", nil), "alice@example.com", tc.to, "Signed in")
			if got := continueTarget(t, rec); got != tc.want {
				t.Errorf("continue page to %q goes to %q, want %q", tc.to, got, tc.want)
			}
		})
	}
}
