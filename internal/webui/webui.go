// Package webui serves Gatehouse's browser pages: sign-in with a server-side session, and
// the two ends of OAuth user-to-machine login (docs/api.md, "OAuth login") —
// the start, which sends the browser to the provider, and the redirect URI, which shows
// the outcome and explains the provider's errors. The OAuth work itself (state, PKCE,
// redeeming the code, storing the token) belongs to the credential broker behind
// LoginService; this package only carries the browser there and back.
//
// Pages are html/template (so every value is escaped for its context), embedded, with no
// scripts and no external assets, and every response forbids caching, framing and
// referrers: the redirect URI's query carries an authorization code.
package webui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// CallbackPath is the path of the OAuth redirect URI; the redirect URI is exactly
// PublicURL + CallbackPath (docs/providers.md).
const CallbackPath = "/login/oauth/http.html"

// SessionCookie names the cookie that holds the browser session id.
const SessionCookie = "gatehouse_session"

// RequestIDHeader is the response header that carries the request id (the same header
// the API sets; repeated here so that webui does not depend on httpapi).
const RequestIDHeader = "X-Gatehouse-Request-Id"

// DefaultSessionTTL is the session lifetime when Deps.SessionTTL is zero.
const DefaultSessionTTL = 12 * time.Hour

// LoginService starts and finishes OAuth user-to-machine logins. The credential broker
// implements it; webui only calls it.
type LoginService interface {
	// StartLogin checks that the principal may authorize the connection (per-user: any
	// grantee with USE_CONNECTION; shared U2M: owner or MANAGE) and returns the provider
	// URL to send the browser to. It records state (single-use, bound to sessionID,
	// short-lived) and the PKCE verifier itself. Errors are *catalog.Error (404 no such
	// connection, 403 not allowed, 400 not an OAuth U2M connection).
	StartLogin(ctx context.Context, p *catalog.Principal, sessionID, connection string) (redirectURL string, err error)
	// FinishLogin handles the redirect URI's query (state, code, iss, error,
	// error_description). It checks state against sessionID before redeeming the code,
	// redeems it, stores the token, and reports the outcome.
	FinishLogin(ctx context.Context, p *catalog.Principal, sessionID string, query url.Values) (*LoginResult, error)
}

// LoginResult is the outcome of a completed login.
type LoginResult struct {
	Connection string
	// Shared is true for a shared U2M credential (it serves every grantee), false for
	// the user's own.
	Shared bool
	// Warning, when set, is shown prominently: e.g. that the provider returned no
	// refresh token and the credential stops working within the hour.
	Warning string
}

// ProviderError is returned by FinishLogin for an error the provider sent back
// (?error=...), so that the page can explain it.
type ProviderError struct {
	Code        string // the provider's error code, e.g. redirect_uri_mismatch
	Description string // the provider's error_description, if any
	RedirectURI string // the redirect URI that was sent to the provider
	Connection  string
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("login to connection %s: provider returned error %q", e.Connection, e.Code)
}

// Authenticator checks a Gatehouse personal access token; *identity.Authenticator is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*identity.Identity, error)
	// Recheck says whether an identity Authenticate returned still holds (its token
	// not deleted or expired, its principal active). Every request through a browser
	// session re-checks the identity it signed in with, so the session ends with its
	// token.
	Recheck(ctx context.Context, id *identity.Identity) error
}

// PrincipalGetter reads a principal by id; catalog.Store is one.
type PrincipalGetter interface {
	GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error)
}

// Deps are the UI's collaborators, built by cmd/gatehouse.
type Deps struct {
	Auth       Authenticator
	Principals PrincipalGetter
	Logins     LoginService
	// PublicURL is the externally visible base URL, e.g. https://gatehouse.example.com
	// (no trailing slash). Cookies are Secure when it is https.
	PublicURL string
	// Log receives one line per sign-in, login and failure; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionTTL is the lifetime of a browser session; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// Sessions keeps the browser sessions: the catalog store, so that every replica
	// knows every session (one indexed read a request, no cache: a sign-out on one
	// replica bites on the next request on all). nil keeps them in this process's
	// memory (tests).
	Sessions catalog.BrowserSessionStore
	// FormTimeout bounds how long a posted form (sign-in, sign-out, a login's
	// confirmation, the consent page) may take to arrive; zero means DefaultFormTimeout.
	FormTimeout time.Duration
	// SSO, when set, makes /login a single sign-on with an OpenID Connect provider
	// (issue 12); token sign-in stays behind a link on the same page.
	SSO *SSOConfig
	// Audit records single sign-ons and the users they create; nil records nothing.
	Audit Recorder
	// Authorize, when set, serves /oidc/v1/authorize: the consent page of MCP clients
	// signing in with OAuth (issue 12).
	Authorize Authorizer
}

// DefaultFormTimeout is the form timeout when Deps.FormTimeout is zero.
const DefaultFormTimeout = reqbody.DefaultTimeout

// UI is the http.Handler of the browser pages. Mount it for each of Routes().
type UI struct {
	d           Deps
	log         *slog.Logger
	mux         *http.ServeMux
	routes      []string
	sessions    catalog.BrowserSessionStore
	secure      bool
	csrfCookie  string
	publicURL   string
	redirectURI string
	origin      *http.CrossOriginProtection
	sso         *sso // nil: no single sign-on
}

// New returns the UI handler.
func New(d Deps) *UI {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = DefaultSessionTTL
	}
	if d.FormTimeout <= 0 {
		d.FormTimeout = DefaultFormTimeout
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	public := strings.TrimRight(d.PublicURL, "/")
	u := &UI{
		d:           d,
		log:         log,
		mux:         http.NewServeMux(),
		sessions:    d.Sessions,
		publicURL:   public,
		redirectURI: public + CallbackPath,
		origin:      http.NewCrossOriginProtection(),
	}
	if u.sessions == nil {
		u.sessions = newMemorySessions()
	}
	pu, err := url.Parse(public)
	if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		log.Warn("webui: PublicURL is not an absolute http(s) URL; the OAuth redirect URI will be wrong", "public_url", d.PublicURL)
	}
	if err == nil && pu.Scheme == "https" {
		u.secure = true
	}
	// The __Host- prefix makes the browser refuse the cookie unless it is Secure,
	// host-only and Path=/, so a sibling subdomain cannot plant a CSRF token. Browsers
	// ignore it on plain http, hence the other name there.
	u.csrfCookie = "gatehouse_csrf"
	if u.secure {
		u.csrfCookie = "__Host-gatehouse_csrf"
	}
	if err == nil && pu.Host != "" {
		// Behind a reverse proxy the Host header may not be the public host; the
		// browser's Origin is.
		_ = u.origin.AddTrustedOrigin(pu.Scheme + "://" + pu.Host)
	}
	type route struct {
		pattern string
		h       http.HandlerFunc
	}
	routes := []route{
		{"GET /login", u.signInPage},
		{"POST /login", u.signIn},
		{"POST /logout", u.signOut},
		{"GET /connections/{name}/login", u.startLogin},
		{"POST /connections/{name}/login", u.confirmLogin},
		{"GET " + CallbackPath, u.callback},
	}
	if d.SSO != nil { // issue 12: single sign-on
		u.sso = newSSO(*d.SSO, public, u.secure, d.Now)
		routes = append(routes, route{"POST " + ssoStartPath, u.ssoStart}, route{"GET " + SSOCallbackPath, u.ssoCallback})
	}
	if d.Authorize != nil { // issue 12: MCP client sign-in
		routes = append(routes, route{"GET " + AuthorizePath, u.authorizePage}, route{"POST " + AuthorizePath, u.authorizeDecide})
	}
	for _, r := range routes {
		u.mux.Handle(r.pattern, r.h)
		u.routes = append(u.routes, r.pattern)
	}
	return u
}

// Routes returns the patterns the UI serves, for the caller to mount on its mux.
func (u *UI) Routes() []string { return append([]string(nil), u.routes...) }

// RedirectURI is the exact OAuth redirect URI to register with providers.
func (u *UI) RedirectURI() string { return u.redirectURI }

// contentSecurityPolicy allows the page's own inline style and nothing else: no
// scripts, no external loads, forms only to Gatehouse, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

// formActionCSP is contentSecurityPolicy with form-action allowing the origins too:
// the browser checks form-action against every redirect of a form's submission, so a
// form whose answer redirects to another site (the SSO button to the identity
// provider) needs that site's origin here, or the browser stops it.
func formActionCSP(origins ...string) string {
	if len(origins) == 0 {
		return contentSecurityPolicy
	}
	return strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1)
}

// ServeHTTP sets the security headers of every page and dispatches to the routes.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages show who is signed in and the redirect URI carries a code: never cache
	// them, never frame them (clickjacking the sign-in form), and never send the URL
	// on as a Referer to whatever the page links to.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

// SessionPrincipal returns the principal of the request's browser session and the
// session id that LoginService receives, if the request has a live session whose
// principal is still active. A session whose principal was deactivated is deleted.
func (u *UI) SessionPrincipal(r *http.Request) (*catalog.Principal, string, bool) {
	cur, _, err := u.resolve(nil, r)
	if err != nil {
		u.log.Error("read session principal", "err", err)
		return nil, "", false
	}
	if cur == nil {
		return nil, "", false
	}
	return cur.principal, cur.id(), true
}

// current is a request's live session and its freshly read principal.
type current struct {
	key       sessionKey
	sess      session
	principal *catalog.Principal
}

// id is the session id given to LoginService: the hex SHA-256 of the cookie value, so
// that what the broker stores next to OAuth state cannot be replayed as a cookie.
func (c *current) id() string { return hex.EncodeToString(c.key[:]) }

// resolve finds the request's session and re-reads its principal, so that a deactivated
// user's browser session stops working on the very next request, like their tokens. It
// returns nil without error when there is no live session; notice then says why a
// session just ended, if one did. w may be nil (then no cookie is cleared).
func (u *UI) resolve(w http.ResponseWriter, r *http.Request) (*current, string, error) {
	key, s, ok, err := u.sessionOf(r)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", nil
	}
	p, err := u.d.Principals.GetPrincipal(r.Context(), s.principalID)
	if err != nil && !catalog.IsNotFound(err) {
		return nil, "", fmt.Errorf("read session principal: %w", err)
	}
	if err != nil || !p.Active || p.Kind == catalog.KindGroup {
		u.endSession(r.Context(), key)
		if w != nil {
			http.SetCookie(w, u.cookie(SessionCookie, "", -1, http.SameSiteLaxMode))
		}
		notice := "Your session has ended: the principal it belonged to no longer exists. Sign in again."
		name := ""
		if err == nil {
			name = p.Name
			notice = fmt.Sprintf("Your session has ended: principal %s is deactivated.", p.Name)
		}
		u.log.Info("session ended: principal inactive or gone", "principal", name, "principal_id", s.principalID)
		return nil, notice, nil
	}
	if s.tokenID == catalog.SSOSessionTokenID {
		// Signed in by single sign-on: no token to re-check; the principal, just read
		// and found active, is what holds the session.
		return &current{key: key, sess: s, principal: p}, "", nil
	}
	var ce *catalog.Error
	switch err := u.d.Auth.Recheck(r.Context(), identity.Resume(p, s.tokenID, s.tokenHash, s.tokenExpires)); {
	case errors.As(err, &ce):
		u.endSession(r.Context(), key)
		if w != nil {
			http.SetCookie(w, u.cookie(SessionCookie, "", -1, http.SameSiteLaxMode))
		}
		u.log.Info("session ended: its token no longer holds", "principal", p.Name, "token_id", s.tokenID, "reason", ce.Message)
		return nil, "Your session has ended: " + ce.Message + ". Sign in again.", nil
	case err != nil:
		return nil, "", fmt.Errorf("recheck session token: %w", err)
	}
	return &current{key: key, sess: s, principal: p}, "", nil
}

// signInPage shows the sign-in form, or who is signed in with a sign-out button.
func (u *UI) signInPage(w http.ResponseWriter, r *http.Request) {
	cur, notice, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	v := &view{Title: "Sign in", Notice: notice, Next: u.signInNext(r, safeNext(r.URL.Query().Get("next")))}
	u.fillSignIn(w, r, cur, v)
	u.render(w, r, http.StatusOK, pageSignIn, v)
}

// fillSignIn sets what every rendering of the sign-in page needs: the CSRF token (also
// (re)set as a cookie) and the signed-in user.
func (u *UI) fillSignIn(w http.ResponseWriter, r *http.Request, cur *current, v *view) {
	var tok string
	switch {
	case cur != nil:
		tok = cur.sess.csrf
		v.User = cur.principal.Name
		if v.Title == "Sign in" {
			v.Title = "Signed in"
		}
	default:
		if c, err := r.Cookie(u.csrfCookie); err == nil && validSecret(c.Value) {
			tok = c.Value
		} else {
			tok = newSecret()
		}
	}
	http.SetCookie(w, u.cookie(u.csrfCookie, tok, u.d.SessionTTL, http.SameSiteStrictMode))
	v.CSRF = tok
	if u.sso != nil {
		v.SSOHost = u.sso.host
		v.SSOAction = ssoStartPath
		// The SSO form's answer redirects to the provider (issue 12).
		if o, ok := u.sso.formOrigin(); ok {
			w.Header().Set("Content-Security-Policy", formActionCSP(o))
		}
	}
}

// maxFormBytes bounds every form of these pages (parseForm): a token, a CSRF token and a
// next path fit with room to spare.
const maxFormBytes = 4 << 10

// readForm reads a posted form only after what the header alone can check passed: the
// request is not cross-origin and carries a well-formed CSRF cookie (csrfOK checks
// the rest once the form is read). The form has no token header to authenticate it by,
// so its read is bounded hard instead (parseForm). A refusal closes the connection
// rather than wait for a body that may never come. It answers and returns false on
// failure.
func (u *UI) readForm(w http.ResponseWriter, r *http.Request, what string) bool {
	if !u.csrfHeaderOK(r) {
		reqbody.RefuseUnread(w, r)
		u.csrfFailed(w, r)
		return false
	}
	if err := u.parseForm(w, r); err != nil {
		u.errorPage(w, r, catalog.Errorf(catalog.InvalidParameterValue, "the %s form could not be read", what), "Cannot "+what)
		return false
	}
	return true
}

// parseForm reads a posted form within the pages' bounds: maxFormBytes, and FormTimeout
// as the read deadline of the connection (reqbody.ReadForm). A form that fails to read
// ends its connection; the caller answers.
func (u *UI) parseForm(w http.ResponseWriter, r *http.Request) error {
	return reqbody.ReadForm(w, r, maxFormBytes, u.d.FormTimeout)
}

// signIn checks the form's CSRF token, authenticates the pasted token and starts a
// session.
func (u *UI) signIn(w http.ResponseWriter, r *http.Request) {
	if !u.readForm(w, r, "sign in") {
		return
	}
	oldKey, old, hadSession, err := u.sessionOf(r)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("sign in: %w", err))
		return
	}
	if !u.csrfOK(r, old, hadSession) {
		u.csrfFailed(w, r)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	retry := func(status int, msg string) {
		// The form is shown again with the message; the token field stays empty, so
		// the token is never echoed back.
		v := &view{Title: "Sign in", Error: msg, Next: next}
		u.fillSignIn(w, r, nil, v)
		u.render(w, r, status, pageSignIn, v)
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		retry(http.StatusBadRequest, "Paste a Gatehouse personal access token to sign in.")
		return
	}
	who, err := u.d.Auth.Authenticate(r.Context(), token)
	if err != nil {
		var ce *catalog.Error
		if !errors.As(err, &ce) {
			u.serverError(w, r, fmt.Errorf("sign in: %w", err))
			return
		}
		u.log.Info("sign-in refused", "reason", ce.Message)
		retry(ce.HTTPStatus(), "Sign-in failed: "+ce.Message+".")
		return
	}
	// A fresh session id on every sign-in, and the previous session of this browser
	// ends: whatever id a browser held before signing in is worth nothing after.
	if hadSession {
		if err := u.sessions.DeleteBrowserSession(r.Context(), oldKey); err != nil {
			u.serverError(w, r, fmt.Errorf("sign in: end the previous session: %w", err))
			return
		}
	}
	raw, s, err := u.createSession(r.Context(), who, u.d.SessionTTL)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("sign in: %w", err))
		return
	}
	http.SetCookie(w, u.cookie(SessionCookie, raw, u.d.SessionTTL, http.SameSiteLaxMode))
	// The CSRF token is rotated with the session and bound to it.
	http.SetCookie(w, u.cookie(u.csrfCookie, s.csrf, u.d.SessionTTL, http.SameSiteStrictMode))
	u.log.Info("signed in", "principal", who.Principal.Name, "token_id", who.TokenID)
	next = landing(next)
	if startsLogin(next) {
		// The login start redirects to the provider: not as a redirect of this form.
		u.continueTo(w, r, who.Principal.Name, next, "Signed in")
		return
	}
	redirect(w, next, http.StatusSeeOther)
}

// signOut ends the browser's session.
func (u *UI) signOut(w http.ResponseWriter, r *http.Request) {
	if !u.readForm(w, r, "sign out") {
		return
	}
	key, s, ok, err := u.sessionOf(r)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("sign out: %w", err))
		return
	}
	if !u.csrfOK(r, s, ok) {
		u.csrfFailed(w, r)
		return
	}
	if ok {
		// The sign-out is reported only once the session is gone from the store.
		if err := u.sessions.DeleteBrowserSession(r.Context(), key); err != nil {
			u.serverError(w, r, fmt.Errorf("sign out: %w", err))
			return
		}
		u.log.Info("signed out", "principal_id", s.principalID)
	}
	http.SetCookie(w, u.cookie(SessionCookie, "", -1, http.SameSiteLaxMode))
	http.SetCookie(w, u.cookie(u.csrfCookie, newSecret(), u.d.SessionTTL, http.SameSiteStrictMode))
	redirect(w, "/login", http.StatusSeeOther)
}

// startLogin sends a signed-in browser to the provider's authorization endpoint, or,
// when another site sent it, asks first (confirmPage).
func (u *UI) startLogin(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cur, notice, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	here := r.URL.EscapedPath()
	confirm := u.crossSite(r) || r.URL.Query().Has(confirmParam)
	if confirm {
		here = withConfirm(here)
	}
	if cur == nil {
		if notice != "" {
			v := &view{Title: "Sign in", Notice: notice, Next: safeNext(here)}
			u.fillSignIn(w, r, nil, v)
			u.render(w, r, http.StatusUnauthorized, pageSignIn, v)
			return
		}
		redirect(w, "/login?next="+url.QueryEscape(here), http.StatusSeeOther)
		return
	}
	if confirm {
		u.confirmPage(w, r, cur, name)
		return
	}
	u.beginLogin(w, r, cur, name, false)
}

// beginLogin asks the broker for the provider URL and sends the browser there: a 302
// for the GET, the continue page after the confirmation's form (continueTo).
func (u *UI) beginLogin(w http.ResponseWriter, r *http.Request, cur *current, name string, afterForm bool) {
	to, err := u.d.Logins.StartLogin(r.Context(), cur.principal, cur.id(), name)
	if err != nil {
		var ce *catalog.Error
		if errors.As(err, &ce) {
			u.log.Info("oauth login refused", "connection", name, "principal", cur.principal.Name, "error_code", ce.Code)
		}
		u.errorPage(w, r, err, "Cannot log in to "+name, withUser(cur))
		return
	}
	// Only an absolute http(s) URL is followed: a broker bug must not turn into a
	// javascript: or protocol-relative redirect.
	if pu, perr := url.Parse(to); perr != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") {
		u.serverError(w, r, fmt.Errorf("start login to %s: the broker returned an unusable authorization URL", name))
		return
	}
	u.log.Info("oauth login started", "connection", name, "principal", cur.principal.Name)
	if afterForm {
		u.continueTo(w, r, cur.principal.Name, to, "Log in to "+name)
		return
	}
	redirect(w, to, http.StatusFound)
}

// callback is the redirect URI: it hands the query to the broker and shows the outcome.
func (u *UI) callback(w http.ResponseWriter, r *http.Request) {
	cur, notice, err := u.resolve(w, r)
	if err != nil {
		u.serverError(w, r, err)
		return
	}
	if cur == nil {
		// Without the session that started the login there is no state to check the
		// answer against, so the code is not redeemed at all.
		if notice != "" {
			v := &view{Title: "Sign in", Notice: notice}
			u.fillSignIn(w, r, nil, v)
			u.render(w, r, http.StatusUnauthorized, pageSignIn, v)
			return
		}
		u.log.Warn("oauth callback without a browser session")
		u.render(w, r, http.StatusBadRequest, pageError, &view{
			Title:   "Login not started here",
			Heading: "Start the login from this browser",
			Message: "This browser has no Gatehouse session, so this answer from the provider cannot be matched to a login. A login must be started and finished in the same browser.",
			Hints: []string{
				"Open " + u.publicURL + "/connections/NAME/login in this browser (sign in when asked) and authorize again.",
				"Use Gatehouse at exactly " + u.publicURL + ": the session cookie of another address (say localhost instead of 127.0.0.1) is not sent here.",
			},
			RedirectURI: u.redirectURI,
			Status:      http.StatusBadRequest,
		})
		return
	}
	res, err := u.d.Logins.FinishLogin(r.Context(), cur.principal, cur.id(), r.URL.Query())
	if err != nil {
		var pe *ProviderError
		if errors.As(err, &pe) {
			u.providerError(w, r, cur, pe)
			return
		}
		var ce *catalog.Error
		if errors.As(err, &ce) {
			u.log.Info("oauth login failed", "principal", cur.principal.Name, "error_code", ce.Code)
		}
		u.errorPage(w, r, err, "The login did not complete", withUser(cur), withRedirectURI(u.redirectURI))
		return
	}
	u.log.Info("oauth login completed", "connection", res.Connection, "principal", cur.principal.Name,
		"shared", res.Shared, "warning", res.Warning != "")
	title := "Connected " + res.Connection
	if res.Shared {
		title = "Authorized " + res.Connection
	}
	u.render(w, r, http.StatusOK, pageResult, &view{
		Title:      title,
		User:       cur.principal.Name,
		Connection: res.Connection,
		Shared:     res.Shared,
		Warning:    res.Warning,
	})
}

// maxDescription bounds the provider's error_description on the page. It arrives in
// the query, so it is text of the provider's (or, with a forged link, anyone's).
const maxDescription = 500

// providerError explains an error the provider sent back.
func (u *UI) providerError(w http.ResponseWriter, r *http.Request, cur *current, pe *ProviderError) {
	u.log.Info("oauth login refused by provider", "connection", pe.Connection, "principal", cur.principal.Name, "provider_error", truncate(pe.Code, 64))
	redirectURI := pe.RedirectURI
	if redirectURI == "" {
		redirectURI = u.redirectURI
	}
	v := &view{
		Title:       "Login failed",
		User:        cur.principal.Name,
		Connection:  pe.Connection,
		Code:        truncate(pe.Code, 100),
		Description: truncate(pe.Description, maxDescription),
		RedirectURI: redirectURI,
	}
	if pe.Connection != "" {
		v.RetryPath = "/connections/" + url.PathEscape(pe.Connection) + "/login"
	}
	status := http.StatusBadRequest
	switch pe.Code {
	case "access_denied", "admin_policy_enforced":
		status = http.StatusForbidden
	case "server_error", "temporarily_unavailable":
		status = http.StatusBadGateway
	}
	v.Status = status
	u.render(w, r, status, pageProviderError, v)
}

type errorOption func(*view)

func withUser(cur *current) errorOption {
	return func(v *view) {
		if cur != nil {
			v.User = cur.principal.Name
		}
	}
}

func withRedirectURI(s string) errorOption { return func(v *view) { v.RedirectURI = s } }

// errorPage is the one place that turns an error into a page. Only a *catalog.Error's
// message reaches the browser; anything else is logged with the request id and shown
// as a generic 500.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, err error, heading string, opts ...errorOption) {
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		u.serverError(w, r, err, opts...)
		return
	}
	v := &view{Title: "Error", Heading: heading, Message: ce.Message, Status: ce.HTTPStatus()}
	for _, o := range opts {
		o(v)
	}
	u.render(w, r, ce.HTTPStatus(), pageError, v)
}

// serverError logs err with the request id and shows a generic 500 page.
func (u *UI) serverError(w http.ResponseWriter, r *http.Request, err error, opts ...errorOption) {
	id := w.Header().Get(RequestIDHeader)
	if id == "" {
		id = newRequestID()
		w.Header().Set(RequestIDHeader, id)
	}
	u.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	v := &view{
		Title:     "Error",
		Heading:   "Something went wrong",
		Message:   "Gatehouse could not complete this request because of an internal error.",
		RequestID: id,
		Status:    http.StatusInternalServerError,
	}
	for _, o := range opts {
		o(v)
	}
	u.render(w, r, http.StatusInternalServerError, pageError, v)
}

// csrfFailed answers a form that failed the CSRF check; nothing else happens.
func (u *UI) csrfFailed(w http.ResponseWriter, r *http.Request) {
	u.log.Warn("form refused: CSRF check failed", "path", r.URL.Path)
	u.render(w, r, http.StatusForbidden, pageError, &view{
		Title:   "Form refused",
		Heading: "This form cannot be accepted",
		Message: "The form was not sent from a Gatehouse page in this browser, or it has expired.",
		Hints:   []string{"Go back, reload the page and try again."},
		Status:  http.StatusForbidden,
	})
}

// redirect answers with a bare Location header; unlike http.Redirect it neither
// rewrites the target nor repeats it in a body.
func redirect(w http.ResponseWriter, to string, code int) {
	w.Header().Set("Location", to)
	w.WriteHeader(code)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
