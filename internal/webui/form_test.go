package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// watchedBody records whether anything read it.
type watchedBody struct {
	r    io.Reader
	read bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read = true
	return b.r.Read(p)
}

func (b *watchedBody) Close() error { return nil }

// TestFormsReadOnlyAfterHeaderChecks: the sign-in and sign-out forms have no token
// header, so what the header can tell (same origin, a CSRF cookie) is checked before a
// byte of the body is read; a refusal closes the connection, and a form past
// maxFormBytes is refused without reaching the authenticator.
func TestFormsReadOnlyAfterHeaderChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string
		cookie   bool   // send the page's CSRF cookie
		origin   string // Origin header, if any
		size     int    // body size; the body is a valid form padded to this size
		wantCode int
		wantRead bool
	}{
		{"sign-in without CSRF cookie", "/login", false, "", 1 << 20, http.StatusForbidden, false},
		{"sign-in from a foreign origin", "/login", true, "https://evil.example", 1 << 20, http.StatusForbidden, false},
		{"sign-out without CSRF cookie", "/logout", false, "", 1 << 20, http.StatusForbidden, false},
		{"sign-in form over the limit", "/login", true, "", maxFormBytes + 1, http.StatusBadRequest, true},
		{"sign-out form over the limit", "/logout", true, "", maxFormBytes + 1, http.StatusBadRequest, true},
		{"sign-in form within the limit", "/login", true, "", 1024, http.StatusSeeOther, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			b := e.browser(t)
			b.do("GET", "/login", nil)
			csrf := b.jar["gatehouse_csrf"]
			form := url.Values{"token": {aliceToken}, "csrf": {csrf}}.Encode() + "&pad="
			form += strings.Repeat("a", max(0, tc.size-len(form)))
			body := &watchedBody{r: strings.NewReader(form)}
			req := httptest.NewRequest("POST", tc.path, nil)
			req.Body, req.ContentLength = body, int64(len(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.cookie {
				req.AddCookie(&http.Cookie{Name: "gatehouse_csrf", Value: csrf})
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			calls := e.auth.count()
			rec := httptest.NewRecorder()
			e.ui.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("POST %s = %d, want %d; body:\n%s", tc.path, rec.Code, tc.wantCode, rec.Body)
			}
			if body.read != tc.wantRead {
				t.Errorf("body read = %v, want %v", body.read, tc.wantRead)
			}
			if tc.wantCode != http.StatusSeeOther {
				if got := rec.Header().Get("Connection"); got != "close" {
					t.Errorf("refusal has Connection %q, want close", got)
				}
				if e.auth.count() != calls {
					t.Error("a refused form reached the authenticator")
				}
			}
		})
	}
}
