package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// SSOCallbackPath is the path of the single sign-on redirect URI: the redirect URI to
// register at the identity provider is exactly PublicURL + SSOCallbackPath.
const SSOCallbackPath = "/login/oidc/callback"

// ssoStartPath is where the sign-in page's "Sign in with ..." form posts.
const ssoStartPath = "/login/oidc"

// DefaultSSOStateTTL is how long a started single sign-on stays valid when
// SSOConfig.StateTTL is zero.
const DefaultSSOStateTTL = 10 * time.Minute

// DefaultSSOMaxPending bounds the started single sign-ons held at once when
// SSOConfig.MaxPending is zero.
const DefaultSSOMaxPending = 10000

// ssoPendingID marks the pending-login rows of single sign-on in the store: their
// ConnectionID and PrincipalID (no connection and no principal exist yet). No
// connection or principal id has this shape (they are UUIDs), so the broker's OAuth
// callback never mistakes one for a connection login, nor this one a broker's row.
const ssoPendingID = "sso:oidc"

// ssoPendingMarker fills SealedVerifier, which the store requires: the PKCE verifier and
// the nonce of a single sign-on are not stored at all but derived from the browser's
// binding cookie and the state (ssoDerive), so a copy of the store cannot finish one.
var ssoPendingMarker = []byte("sso-v1: verifier and nonce derived from the browser binding")

// maxUsernameBytes bounds the user name a provider's claim may carry.
const maxUsernameBytes = 256

// UserDirectory finds and creates users for single sign-on; catalog.Store is one.
type UserDirectory interface {
	GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error)
	CreatePrincipal(ctx context.Context, p *catalog.Principal) error
}

// Recorder records audit events; *audit.Recorder is one.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// SSOConfig turns on single sign-on with an OpenID Connect provider (docs/configuration.md,
// --oidc-*): authorization code with PKCE S256, state and nonce, the ID token verified
// by go-oidc (signature by the provider's keys, issuer, audience, expiry, algorithm).
type SSOConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is
	// Issuer + "/.well-known/openid-configuration".
	Issuer   string
	ClientID string
	// ClientSecret is the client's secret (from --oidc-client-secret-file). It is sent
	// only to the token endpoint and never logged.
	ClientSecret string
	// UsernameClaim is the ID-token claim that names the SCIM user; "" means "email".
	// With "email", an ID token saying email_verified: false is refused.
	UsernameClaim string
	// AutoCreateUsers creates an unknown user (active, in users only) instead of
	// refusing the sign-in.
	AutoCreateUsers bool
	// HTTPClient fetches discovery and keys and calls the token endpoint: the OAuth
	// client's (the network policy's dialer, no redirects). nil means
	// http.DefaultClient (tests only).
	HTTPClient *http.Client
	// Users finds (and with AutoCreateUsers creates) the signed-in user.
	Users UserDirectory
	// Pending keeps started sign-ins (their state, single-use, bound to the browser):
	// the catalog store, so that any replica can finish a sign-in another started.
	Pending catalog.PendingLoginStore
	// StateTTL is how long a started sign-in stays valid; zero: DefaultSSOStateTTL.
	StateTTL time.Duration
	// MaxPending bounds the started sign-ins held; zero: DefaultSSOMaxPending. Sign-ins
	// evict only sign-ins up to half of it (they share the store's table with the
	// connections' logins and its total bound).
	MaxPending int
}

// sso is the running single sign-on of a UI.
type sso struct {
	cfg         SSOConfig
	claim       string
	host        string // the issuer's host, for the button
	redirectURI string
	cookie      string // the browser-binding cookie's name

	now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider // found by discovery on first use, then kept
	verifier *oidc.IDTokenVerifier
}

func newSSO(cfg SSOConfig, publicURL string, secure bool, now func() time.Time) *sso {
	s := &sso{cfg: cfg, claim: cfg.UsernameClaim, redirectURI: publicURL + SSOCallbackPath, cookie: "gatehouse_sso", now: now}
	if s.claim == "" {
		s.claim = "email"
	}
	if s.cfg.StateTTL <= 0 {
		s.cfg.StateTTL = DefaultSSOStateTTL
	}
	if s.cfg.MaxPending <= 0 {
		s.cfg.MaxPending = DefaultSSOMaxPending
	}
	if s.cfg.HTTPClient == nil {
		s.cfg.HTTPClient = http.DefaultClient
	}
	if u, err := url.Parse(cfg.Issuer); err == nil {
		s.host = u.Host
	}
	if secure {
		// As the CSRF cookie: the browser keeps it only Secure, host-only, Path=/.
		s.cookie = "__Host-gatehouse_sso"
	}
	return s
}

// discover returns the provider and its ID-token verifier, running discovery the first
// time (and again after a failure). go-oidc checks that the document's issuer is
// exactly Issuer. The keys are fetched when a token names one not yet seen, through the
// same client (go-oidc keeps it, without this request's cancellation).
func (s *sso) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, s.verifier, nil
	}
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), s.cfg.HTTPClient)
	dctx, cancel := context.WithTimeout(pctx, 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, s.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discover the OpenID provider %s: %w", s.cfg.Issuer, err)
	}
	ep := p.Endpoint()
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, nil, fmt.Errorf("read the discovery document of %s: %w", s.cfg.Issuer, err)
	}
	// The token endpoint receives the client secret and the code, the keys decide what
	// is believed: both must be https like the issuer (http only where the issuer is).
	for field, v := range map[string]string{"token_endpoint": ep.TokenURL, "jwks_uri": meta.JWKS, "authorization_endpoint": ep.AuthURL} {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(s.cfg.Issuer, "http://"))) {
			return nil, nil, fmt.Errorf("the discovery document of %s: %s %q is not an https URL", s.cfg.Issuer, field, v)
		}
	}
	// Audience is ClientID, expiry by the UI's clock, algorithms those the document
	// lists that go-oidc supports (never none, never an HMAC).
	s.provider, s.verifier = p, p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID, Now: s.now})
	return s.provider, s.verifier, nil
}

// formOrigin is the origin the sign-in page's SSO form may be redirected to: the
// issuer's. The page does not run discovery (the token form must show while the
// provider is down), so an authorization endpoint on another origin is reached through
// the continue page instead (ssoStart).
func (s *sso) formOrigin() (string, bool) { return originOf(s.cfg.Issuer) }

// oauth2Config is the authorization-code client of the provider.
func (s *sso) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.redirectURI, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// ssoDerive derives a started sign-in's PKCE verifier and nonce from the browser's
// binding secret and the state: HMAC-SHA256 keyed with the binding, which only that
// browser's cookie holds. Nothing of either is stored.
func ssoDerive(binding, state string) (verifier, nonce string) {
	f := func(label string) string {
		m := hmac.New(sha256.New, []byte(binding))
		m.Write([]byte("gatehouse sso " + label + " v1\x00" + state))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return f("pkce"), f("nonce")
}

// ssoStart begins a single sign-on: it binds the browser (a cookie with a fresh secret,
// or the one it has), records the state, and sends the browser to the provider.
func (u *UI) ssoStart(w http.ResponseWriter, r *http.Request) {
	if !u.readForm(w, r, "sign in") {
		return
	}
	_, old, hadSession, err := u.sessionOf(r)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("single sign-on: %w", err))
		return
	}
	if !u.csrfOK(r, old, hadSession) {
		u.csrfFailed(w, r)
		return
	}
	s := u.sso
	p, _, err := s.discover(r.Context())
	if err != nil {
		u.ssoUnavailable(w, r, err)
		return
	}
	binding := ""
	if c, err := r.Cookie(s.cookie); err == nil && validSecret(c.Value) {
		binding = c.Value
	} else {
		binding = newSecret()
	}
	state := newSecret()
	now := u.d.Now()
	row := &catalog.PendingLogin{StateHash: sha256.Sum256([]byte(state)), SessionHash: sha256.Sum256([]byte(binding)),
		PrincipalID: ssoPendingID, ConnectionID: ssoPendingID,
		// Connection holds where the browser goes after signing in (a checked local path).
		Connection:     safeNext(r.PostFormValue("next")),
		SealedVerifier: ssoPendingMarker, CreatedAt: now, ExpiresAt: now.Add(s.cfg.StateTTL)}
	lim := catalog.PendingLoginLimits{MaxTotal: s.cfg.MaxPending, MaxPerSession: 8, MaxPerPrincipal: max(1, s.cfg.MaxPending/2)}
	if _, err := s.cfg.Pending.PutPendingLogin(r.Context(), row, lim); err != nil {
		u.serverError(w, r, fmt.Errorf("single sign-on: record the state: %w", err))
		return
	}
	verifier, nonce := ssoDerive(binding, state)
	to := s.oauth2Config(p).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	// SameSite=Lax: the provider's redirect back is a top-level GET from another site.
	http.SetCookie(w, u.cookie(s.cookie, binding, s.cfg.StateTTL, http.SameSiteLaxMode))
	u.log.Info("single sign-on started", "issuer", s.cfg.Issuer)
	if o, ok := originOf(to); ok {
		if allowed, _ := s.formOrigin(); o != allowed {
			// Not an origin the page's form-action names: a 303 would be stopped.
			u.continueTo(w, r, "", to, "Sign in with "+s.host)
			return
		}
	}
	redirect(w, to, http.StatusSeeOther)
}

// ssoRefusal is a sign-in the provider's answer does not allow: shown on a clear page,
// logged and audited with the reason, never with the code or the token.
type ssoRefusal struct {
	status  int
	code    catalog.ErrorCode
	heading string
	message string
	reason  string // for the log
	user    string // the user name the token claimed, when known
}

// ssoCallback is the single sign-on redirect URI: it checks state against the browser,
// redeems the code, verifies the ID token and its nonce, maps the claim to a user and
// starts a session.
func (u *UI) ssoCallback(w http.ResponseWriter, r *http.Request) {
	s := u.sso
	ref, p, next, err := u.ssoFinish(r)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("single sign-on: %w", err))
		return
	}
	if ref != nil {
		u.log.Info("single sign-on refused", "issuer", s.cfg.Issuer, "reason", ref.reason, "user", ref.user)
		u.auditSignIn(r, ref.user, ref.status, ref.code)
		v := &view{Title: "Sign-in refused", Heading: ref.heading, Message: ref.message, Status: ref.status,
			Hints: []string{"Start again from " + u.publicURL + "/login in this browser."}}
		u.render(w, r, ref.status, pageError, v)
		return
	}
	// A fresh session id, and the browser's previous session ends, as with a token.
	if oldKey, _, had, err := u.sessionOf(r); err != nil {
		u.serverError(w, r, fmt.Errorf("single sign-on: %w", err))
		return
	} else if had {
		if err := u.sessions.DeleteBrowserSession(r.Context(), oldKey); err != nil {
			u.serverError(w, r, fmt.Errorf("single sign-on: end the previous session: %w", err))
			return
		}
	}
	raw, sess, err := u.createSession(r.Context(), u.ssoIdentity(p), u.d.SessionTTL)
	if err != nil {
		u.serverError(w, r, fmt.Errorf("single sign-on: %w", err))
		return
	}
	http.SetCookie(w, u.cookie(s.cookie, "", -1, http.SameSiteLaxMode))
	http.SetCookie(w, u.cookie(SessionCookie, raw, u.d.SessionTTL, http.SameSiteLaxMode))
	http.SetCookie(w, u.cookie(u.csrfCookie, sess.csrf, u.d.SessionTTL, http.SameSiteStrictMode))
	u.log.Info("signed in", "principal", p.principal.Name, "method", "oidc", "issuer", s.cfg.Issuer)
	u.auditSignIn(r, p.principal.Name, http.StatusOK, "")
	redirect(w, landing(next), http.StatusSeeOther)
}

// ssoPrincipal is who a verified ID token signed in as.
type ssoPrincipal struct {
	principal *catalog.Principal
	subject   string
}

// ssoFinish does the checks of ssoCallback. It returns a refusal to show, or the
// principal and the next path; err is a failure of Gatehouse's own (the store).
func (u *UI) ssoFinish(r *http.Request) (*ssoRefusal, *ssoPrincipal, string, error) {
	s := u.sso
	q := r.URL.Query()
	refuse := func(status int, code catalog.ErrorCode, heading, message, reason string) *ssoRefusal {
		return &ssoRefusal{status: status, code: code, heading: heading, message: message, reason: reason}
	}
	notHere := func(reason string) *ssoRefusal {
		return refuse(http.StatusBadRequest, catalog.InvalidParameterValue, "This sign-in cannot be finished",
			"This answer from the identity provider does not belong to a sign-in started in this browser, or it was already used or has expired.", reason)
	}
	state := q.Get("state")
	if state == "" || len(state) > 512 {
		return notHere("no state"), nil, "", nil
	}
	c, err := r.Cookie(s.cookie)
	if err != nil || !validSecret(c.Value) {
		// No binding cookie: another browser (or one that lost it). The state is not
		// even looked up, so a stolen redirect URL is worth nothing elsewhere.
		return notHere("no browser binding"), nil, "", nil
	}
	row, err := s.cfg.Pending.TakePendingLogin(r.Context(), sha256.Sum256([]byte(state)), u.d.Now())
	if catalog.IsNotFound(err) {
		return notHere("unknown, used or expired state"), nil, "", nil
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("take the state: %w", err)
	}
	bind := sha256.Sum256([]byte(c.Value))
	if row.ConnectionID != ssoPendingID || subtle.ConstantTimeCompare(row.SessionHash[:], bind[:]) != 1 {
		return notHere("state of another browser"), nil, "", nil
	}
	next := safeNext(row.Connection)
	if e := q.Get("error"); e != "" {
		return refuse(http.StatusForbidden, catalog.PermissionDenied, "The identity provider refused the sign-in",
			"The identity provider answered "+truncate(e, 64)+": "+truncate(q.Get("error_description"), maxDescription), "provider error "+truncate(e, 64)), nil, "", nil
	}
	code := q.Get("code")
	if code == "" {
		return notHere("no code"), nil, "", nil
	}
	p, verify, err := s.discover(r.Context())
	if err != nil {
		return refuse(http.StatusBadGateway, catalog.UpstreamError, "The identity provider cannot be reached",
			"Gatehouse could not read the identity provider's configuration. Try again later.", err.Error()), nil, "", nil
	}
	verifier, nonce := ssoDerive(c.Value, state)
	ctx := oidc.ClientContext(r.Context(), s.cfg.HTTPClient)
	tok, err := s.oauth2Config(p).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		// The error can quote the provider's body, never the secret (sent in a header
		// or the form, not echoed by x/oauth2); the code is not in it.
		reason := "token endpoint refused the code"
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			reason += ": " + truncate(re.ErrorCode, 64)
		}
		return refuse(http.StatusBadGateway, catalog.UpstreamError, "The sign-in did not complete",
			"The identity provider did not accept the sign-in's code. Start again.", reason), nil, "", nil
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return refuse(http.StatusBadGateway, catalog.UpstreamError, "The sign-in did not complete",
			"The identity provider returned no ID token.", "no id_token"), nil, "", nil
	}
	idt, err := verify.Verify(ctx, rawID)
	if err != nil {
		return refuse(http.StatusForbidden, catalog.PermissionDenied, "The sign-in was refused",
			"The identity provider's ID token did not pass verification.", "id token: "+idTokenReason(err)), nil, "", nil
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return refuse(http.StatusForbidden, catalog.PermissionDenied, "The sign-in was refused",
			"The identity provider's ID token did not pass verification.", "id token: nonce mismatch"), nil, "", nil
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return refuse(http.StatusBadGateway, catalog.UpstreamError, "The sign-in did not complete",
			"The identity provider's ID token could not be read.", "id token claims unreadable"), nil, "", nil
	}
	name, _ := claims[s.claim].(string)
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxUsernameBytes || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return refuse(http.StatusForbidden, catalog.PermissionDenied, "The sign-in was refused",
			"The identity provider's ID token carries no usable "+s.claim+" claim to name a Gatehouse user by.", "no usable "+s.claim+" claim"), nil, "", nil
	}
	if s.claim == "email" {
		if v, ok := claims["email_verified"].(bool); ok && !v {
			ref := refuse(http.StatusForbidden, catalog.PermissionDenied, "The sign-in was refused",
				"The identity provider says the email address "+name+" is not verified. Verify it there, then sign in again.", "email not verified")
			ref.user = name
			return ref, nil, "", nil
		}
	}
	pr, ref, err := u.ssoUser(r, name, idt.Subject, claims)
	if err != nil || ref != nil {
		return ref, nil, "", err
	}
	return nil, &ssoPrincipal{principal: pr, subject: idt.Subject}, next, nil
}

// idTokenReason names the check an ID token failed, for the log (go-oidc's messages
// do not quote the token).
func idTokenReason(err error) string {
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		return "expired"
	}
	return truncate(err.Error(), 200)
}

// ssoUser maps the claimed name to an active SCIM user, creating it when allowed.
func (u *UI) ssoUser(r *http.Request, name, subject string, claims map[string]any) (*catalog.Principal, *ssoRefusal, error) {
	s := u.sso
	ctx := r.Context()
	p, err := s.cfg.Users.GetPrincipalByName(ctx, name)
	if catalog.IsNotFound(err) && s.cfg.AutoCreateUsers {
		display, _ := claims["name"].(string)
		now := u.d.Now()
		np := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: name, DisplayName: truncate(display, 200),
			Active: true, CreatedAt: now, UpdatedAt: now}
		err = s.cfg.Users.CreatePrincipal(ctx, np)
		switch {
		case err == nil:
			u.log.Info("single sign-on created user", "principal", name, "issuer", s.cfg.Issuer)
			u.audit(r, &catalog.AuditEvent{ActionName: catalog.ActionPrincipalChange, Principal: name,
				Params:     map[string]string{"method": "oidc", "operation": "auto-create", "user_name": name, "issuer": s.host},
				StatusCode: http.StatusOK, Decision: catalog.DecisionAllow})
			return np, nil, nil
		case catalog.CodeOf(err) == catalog.ResourceAlreadyExists:
			// Created at the same moment by another sign-in: read it as it is.
			p, err = s.cfg.Users.GetPrincipalByName(ctx, name)
		default:
			return nil, nil, fmt.Errorf("create user %s: %w", name, err)
		}
	}
	if catalog.IsNotFound(err) {
		return nil, &ssoRefusal{status: http.StatusForbidden, code: catalog.PermissionDenied, heading: "No Gatehouse user " + name,
			message: "You signed in at the identity provider as " + name + ", but Gatehouse has no user of that name. Ask a Gatehouse admin to add you.",
			reason:  "unknown user", user: name}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read user %s: %w", name, err)
	}
	if p.Kind != catalog.KindUser {
		return nil, &ssoRefusal{status: http.StatusForbidden, code: catalog.PermissionDenied, heading: "No Gatehouse user " + name,
			message: name + " is not a user in Gatehouse, so it cannot sign in to the browser pages.", reason: "not a user", user: name}, nil
	}
	if !p.Active {
		return nil, &ssoRefusal{status: http.StatusForbidden, code: catalog.PermissionDenied, heading: "User " + name + " is deactivated",
			message: "The Gatehouse user " + name + " is deactivated, so it cannot sign in. Ask a Gatehouse admin if this is a mistake.",
			reason:  "user deactivated", user: name}, nil
	}
	return p, nil, nil
}

// ssoIdentity is who a single sign-on signed in as, in the shape createSession takes. It
// has no token: SSOSessionTokenID marks the session, its "token hash" names the
// provider's issuer and subject (SSOSessionSubject), it never expires by a token, and
// its principal is re-checked on every request (resolve).
func (u *UI) ssoIdentity(p *ssoPrincipal) *identity.Identity {
	return identity.Resume(p.principal, catalog.SSOSessionTokenID, catalog.SSOSessionSubject(u.sso.cfg.Issuer, p.subject), time.Time{})
}

// ssoUnavailable answers a sign-in start when the provider's discovery fails.
func (u *UI) ssoUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	u.log.Error("single sign-on unavailable", "issuer", u.sso.cfg.Issuer, "err", err)
	u.render(w, r, http.StatusBadGateway, pageError, &view{Title: "Sign-in unavailable", Heading: "The identity provider cannot be reached",
		Message: "Gatehouse could not read the configuration of " + u.sso.host + ". Try again later.", Status: http.StatusBadGateway})
}

// auditSignIn records a single sign-on's outcome.
func (u *UI) auditSignIn(r *http.Request, principal string, status int, code catalog.ErrorCode) {
	e := &catalog.AuditEvent{ActionName: catalog.ActionSignIn, Principal: principal,
		Params: map[string]string{"method": "oidc", "issuer": u.sso.host}, StatusCode: status, Decision: catalog.DecisionAllow}
	if code != "" {
		e.ErrorCode = string(code)
		e.Decision = catalog.DecisionDeny
	}
	u.audit(r, e)
}

// audit fills the request's source and id (catalog.RequestInfo, as the API server
// set them) into e and records it.
func (u *UI) audit(r *http.Request, e *catalog.AuditEvent) {
	if u.d.Audit == nil {
		return
	}
	info := catalog.RequestInfoFrom(r.Context())
	e.SourceIP, e.RequestID = info.SourceIP, info.RequestID
	u.d.Audit.Record(context.WithoutCancel(r.Context()), e)
}
