package webui

import (
	"crypto/subtle"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Viewer returns the signed-in principal of the request's session cookie and the
// session's CSRF token, re-checked as every page of this package re-checks it (the
// session live, its principal active, its token not deleted or expired). ok is false
// when the request has no such session; a store failure is logged and is false too.
// The console (internal/console) calls it for each of its pages.
func (u *UI) Viewer(r *http.Request) (p *catalog.Principal, csrf string, ok bool) {
	cur, _, err := u.resolve(nil, r)
	if err != nil {
		u.log.Error("read console viewer", "err", err)
		return nil, "", false
	}
	if cur == nil {
		return nil, "", false
	}
	return cur.principal, cur.sess.csrf, true
}

// FormOK checks a form posted to the console: the browser did not send it cross-origin
// (Sec-Fetch-Site / Origin, as for this package's own forms), and its csrf field equals
// csrf, the token Viewer gave for the session (constant-time). The caller has read the
// form with its own bounds before.
func (u *UI) FormOK(r *http.Request, csrf string) bool {
	if err := u.origin.Check(r); err != nil {
		return false
	}
	field := r.PostFormValue("csrf")
	if csrf == "" || !validSecret(field) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(csrf), []byte(field)) == 1
}
