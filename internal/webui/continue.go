package webui

import (
	"net/http"
	"net/url"
)

// continueTo answers a form whose next step leaves Gatehouse (the confirmation page's
// Continue to the provider, a sign-in that goes on to a connection login) with a page
// that goes there by itself (a meta refresh) and links there. A 303 would not do: the
// browser checks the submitting page's CSP form-action against every redirect of the
// form's submission, and Gatehouse's pages allow forms to reach only Gatehouse itself;
// a refresh is a new navigation, not the form's. to is an absolute http(s) URL or a
// local path, checked by the caller.
func (u *UI) continueTo(w http.ResponseWriter, r *http.Request, user, to, heading string) {
	where := "Gatehouse"
	if pu, err := url.Parse(to); err == nil && pu.Host != "" {
		where = pu.Host
	}
	u.render(w, r, http.StatusOK, pageContinue, &view{Title: heading, User: user, Heading: heading, Refresh: to,
		Message: "Your browser continues to " + where + " by itself; if it does not, use the link."})
}
