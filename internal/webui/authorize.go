package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// MCP client sign-in (issue 12): GET /oidc/v1/authorize shows the signed-in user a
// consent page naming the client and the connection; its CSRF-protected POST approves
// (a code goes back to the client's redirect URI) or denies.

// AuthorizePath is the authorization endpoint's path.
const AuthorizePath = authserver.AuthorizePath

// Authorizer validates authorization requests and issues codes; *authserver.Authorizer is one.
type Authorizer interface {
	Check(ctx context.Context, q url.Values) (*authserver.AuthorizeRequest, error)
	Approve(ctx context.Context, p *catalog.Principal, req *authserver.AuthorizeRequest) (string, error)
}

// authorizeParams are the parameters the consent form carries back.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "resource"}

// hiddenField is one hidden input of a form.
type hiddenField struct{ Name, Value string }

// authorizeRefused shows or redirects a refused authorization request.
func (u *UI) authorizeRefused(w http.ResponseWriter, r *http.Request, cur *current, err error) {
	var ae *authserver.AuthorizeError
	if !errors.As(err, &ae) {
		u.serverError(w, r, err, withUser(cur))
		return
	}
	if loc := ae.Location(); loc != "" {
		redirect(w, loc, http.StatusSeeOther)
		return
	}
	u.log.Info("authorization request refused", "error", ae.Code, "description", ae.Description)
	u.errorPage(w, r, catalog.Errorf(catalog.InvalidParameterValue, "%s", ae.Description), "Cannot sign this application in", withUser(cur))
}

// authorizePage is GET /oidc/v1/authorize.
func (u *UI) authorizePage(w http.ResponseWriter, r *http.Request) {
	cur, _, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if cur == nil {
		next := safeNext(r.URL.RequestURI())
		if next == "" {
			u.errorPage(w, r, catalog.Errorf(catalog.InvalidParameterValue, "the authorization request is too long"), "Cannot sign this application in")
			return
		}
		redirect(w, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	req, err := u.d.Authorize.Check(r.Context(), q)
	if err != nil {
		u.authorizeRefused(w, r, cur, err)
		return
	}
	u.consentPage(w, r, cur, q, req)
}

// consentPage asks the user whether the client may act as them at the connection.
func (u *UI) consentPage(w http.ResponseWriter, r *http.Request, cur *current, q url.Values, req *authserver.AuthorizeRequest) {
	v := &view{Title: "Authorize application", User: cur.principal.Name, Connection: req.Connection, CSRF: cur.sess.csrf,
		Action: AuthorizePath, Client: req.ClientName, ClientID: req.ClientID, RedirectURI: req.RedirectURI, CLI: req.CLI}
	if req.CLI {
		v.Title = "Sign in the Gatehouse CLI"
	}
	if v.Client == "" {
		v.Client = req.ClientID
	}
	for _, k := range authorizeParams {
		if val := q.Get(k); val != "" {
			v.Hidden = append(v.Hidden, hiddenField{k, val})
		}
	}
	http.SetCookie(w, u.cookie(u.csrfCookie, cur.sess.csrf, u.d.SessionTTL, http.SameSiteStrictMode))
	// The answer redirects the form's submission to the client: the browser checks
	// form-action against that redirect too.
	if o, ok := originOf(req.RedirectURI); ok {
		w.Header().Set("Content-Security-Policy", formActionCSP(o))
	}
	u.render(w, r, http.StatusOK, pageAuthorize, v)
}

// authorizeDecide is POST /oidc/v1/authorize: the consent page's Allow or Deny.
func (u *UI) authorizeDecide(w http.ResponseWriter, r *http.Request) {
	cur, _, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if cur == nil {
		reqbody.RefuseUnread(w, r) // refused on its headers: the body is never read
		u.errorPage(w, r, catalog.Errorf(catalog.Unauthenticated, "your session has ended; start the sign-in from the application again"), "Cannot sign this application in")
		return
	}
	if err := u.parseForm(w, r); err != nil {
		u.errorPage(w, r, catalog.Errorf(catalog.InvalidParameterValue, "the form could not be read"), "Cannot sign this application in", withUser(cur))
		return
	}
	if !u.csrfOK(r, cur.sess, true) {
		u.csrfFailed(w, r)
		return
	}
	q := url.Values{}
	for _, k := range authorizeParams {
		if v, ok := r.PostForm[k]; ok {
			q[k] = v
		}
	}
	// Everything is checked again: the form is the browser's, not ours.
	req, err := u.d.Authorize.Check(r.Context(), q)
	if err != nil {
		u.authorizeRefused(w, r, cur, err)
		return
	}
	if r.PostFormValue("decision") != "allow" {
		u.log.Info("authorization denied by the user", "principal", cur.principal.Name, "client_id", truncate(req.ClientID, 256), "connection", req.Connection)
		u.authorizeRefused(w, r, cur, &authserver.AuthorizeError{Code: "access_denied", Description: "the user denied the request", RedirectURI: req.RedirectURI, State: req.State})
		return
	}
	loc, err := u.d.Authorize.Approve(r.Context(), cur.principal, req)
	if err != nil {
		u.authorizeRefused(w, r, cur, err) // a bound reached goes back to the client
		return
	}
	u.log.Info("authorization approved", "principal", cur.principal.Name, "client_id", truncate(req.ClientID, 256), "connection", req.Connection)
	redirect(w, loc, http.StatusSeeOther)
}
