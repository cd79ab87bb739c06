package webui

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// confirmParam, in the query of a login start, asks for the confirmation page whatever
// the request's headers say. Sign-in adds it to a next that another site chose.
const confirmParam = "confirm"

// crossSite reports whether the request is a navigation another site started, and so
// must not start an OAuth login by itself: another site could otherwise send a
// signed-in owner through the provider (which may not ask again) and bind a shared
// credential to whatever account the provider has signed in.
//
// Sec-Fetch-Site is set by the browser and cannot be forged by a page: same-origin and
// none (typed, bookmarked, opened from another application) go straight on; cross-site,
// same-site (a sibling subdomain is another party) and any value unknown today need a
// confirmation. A browser that sends no Fetch Metadata is judged by its Referer: another
// origin's needs a confirmation; none at all (Gatehouse's own pages send none) goes on.
func (u *UI) crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
		ref := r.Header.Get("Referer")
		if ref == "" {
			return false
		}
		own, ok := originOf(u.publicURL)
		got, gotOK := originOf(ref)
		return !ok || !gotOK || got != own
	default:
		return true
	}
}

// maxOriginInput bounds what originOf parses; a Referer is at most a URL.
const maxOriginInput = 8 << 10

// originOf returns the origin of an absolute http(s) URL, normalized as browsers
// compare origins: scheme and host lower-case, the scheme's default port dropped. A URL
// without a host, with user info, of another scheme or unparsable has no origin here.
func originOf(raw string) (string, bool) {
	if raw == "" || len(raw) > maxOriginInput {
		return "", false
	}
	pu, err := url.Parse(raw)
	if err != nil || pu.Host == "" || pu.User != nil || pu.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(pu.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(pu.Hostname()), pu.Port()
	if host == "" {
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host, true
	}
	return scheme + "://" + host + ":" + port, true
}

// leadsToLogin reports whether a sign-in next may land on a login start. It is
// generous on purpose (any path under /connections/, cleaned and decoded as the router
// will see it), since its only effect is one more confirmation.
func leadsToLogin(next string) bool {
	pu, err := url.Parse(next)
	if err != nil {
		return true
	}
	p := path.Clean("/" + pu.Path)
	return strings.HasPrefix(p, "/connections/")
}

// startsLogin reports whether next is a connection's login start as the router matches
// it (`/connections/{name}/login`, on the cleaned escaped path: an escaped slash stays in
// the name, so `/connections/a%2Flogin` is the console's page of connection "a/login").
// A sign-in that goes on to a login start answers with the continue page, since the
// start redirects to the provider; to any other page, with a plain redirect. An
// unparsable next counts as a login start (the continue page works for any target).
func startsLogin(next string) bool {
	pu, err := url.Parse(next)
	if err != nil {
		return true
	}
	segs := strings.Split(path.Clean("/"+pu.EscapedPath()), "/")
	return len(segs) == 4 && segs[1] == "connections" && segs[2] != "" && segs[3] == "login"
}

// withConfirm adds the confirmation request to a next path.
func withConfirm(next string) string {
	pu, err := url.Parse(next)
	if err != nil {
		return ""
	}
	q := pu.Query()
	q.Set(confirmParam, "1")
	pu.RawQuery, pu.Fragment, pu.RawFragment = q.Encode(), "", ""
	return safeNext(pu.String())
}

// signInNext is the next of a sign-in page: when another site sent the browser to sign
// in on the way to a login, the login asks for confirmation afterwards, because signing
// in (or the page's Continue link) is a same-origin navigation that would otherwise
// start it straight away.
func (u *UI) signInNext(r *http.Request, next string) string {
	if next != "" && u.crossSite(r) && leadsToLogin(next) {
		return withConfirm(next)
	}
	return next
}

// loginPath is the path of a connection's login start.
func loginPath(name string) string { return "/connections/" + url.PathEscape(name) + "/login" }

// confirmPage asks a signed-in user whether to start the login another site sent
// them to. Its button posts the session's CSRF token back to the same path.
func (u *UI) confirmPage(w http.ResponseWriter, r *http.Request, cur *current, name string) {
	u.log.Info("oauth login start from another site: asking for confirmation", "connection", truncate(name, 256), "principal", cur.principal.Name)
	http.SetCookie(w, u.cookie(u.csrfCookie, cur.sess.csrf, u.d.SessionTTL, http.SameSiteStrictMode))
	u.render(w, r, http.StatusOK, pageConfirm, &view{
		Title:      "Confirm login",
		User:       cur.principal.Name,
		Connection: truncate(name, 256),
		Action:     loginPath(name),
		CSRF:       cur.sess.csrf,
	})
}

// confirmLogin is the confirmation page's button: with the session and its CSRF token
// it starts the login.
func (u *UI) confirmLogin(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	// The session is checked on the headers, before the body is read.
	cur, notice, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if cur == nil {
		reqbody.RefuseUnread(w, r) // refused on its headers: the body is never read
		next := withConfirm(loginPath(name))
		if notice != "" {
			v := &view{Title: "Sign in", Notice: notice, Next: next}
			u.fillSignIn(w, r, nil, v)
			u.render(w, r, http.StatusUnauthorized, pageSignIn, v)
			return
		}
		redirect(w, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	if err := u.parseForm(w, r); err != nil {
		u.errorPage(w, r, catalog.Errorf(catalog.InvalidParameterValue, "the login form could not be read"), "Cannot log in to "+truncate(name, 256), withUser(cur))
		return
	}
	if !u.csrfOK(r, cur.sess, true) {
		u.csrfFailed(w, r)
		return
	}
	u.beginLogin(w, r, cur, name, true)
}
