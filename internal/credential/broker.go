// Package credential is the broker between a connection and the upstream: for a
// (connection, caller) pair it answers with the one header to inject. The proxy asks it
// and knows nothing of credential types. For OAuth connections it fetches, caches and
// refreshes tokens (one refresh at a time per credential, however many callers wait on
// however many replicas: single-flight in the process, then the store's credential
// lock), persists rotated refresh tokens before the new access token is used, keeps the
// credential's state, and runs the authorization code login of user-to-machine types.
package credential

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// Store is what the broker reads and writes.
type Store interface {
	catalog.CredentialStore
	GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error)
	GetConnection(ctx context.Context, name string) (*catalog.Connection, error)
	// SetConnectionOption sets one non-secret option while the options in expect
	// hold their values ("" = unset), and reports whether it did; it stores the
	// exchange method a first login found.
	SetConnectionOption(ctx context.Context, id, key, value string, expect map[string]string) (bool, error)
	Watch(fn func(catalog.Change))
}

// Recorder records audit events.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// Options configure the broker.
type Options struct {
	// PublicURL is where browsers reach Gatehouse; login URLs and the redirect URI
	// derive from it.
	PublicURL string
	// ExpiringWindow: a credential whose refresh token (or, without one, access token)
	// ends within it is EXPIRING. Default 7 days.
	ExpiringWindow time.Duration
	// LoginTTL bounds how long a started login may take. Default 10 minutes.
	LoginTTL time.Duration
	Now      func() time.Time
	Log      *slog.Logger
	Audit    Recorder

	// PendingLogins keeps started logins: the server gives a StorePendingLogins (shared
	// by every replica); nil is a MemoryPendingLogins of this process holding at most
	// MaxPendingLogins (zero: DefaultMaxPendingLogins).
	PendingLogins    PendingLogins
	MaxPendingLogins int
}

// Broker produces the credential header for calls through connections.
type Broker struct {
	keyring *seal.Keyring
	store   Store
	oauth   *oauth.Client
	opts    Options

	mu      sync.Mutex
	cache   map[credKey]*cached
	flights map[credKey]*flight
	gen     uint64
	touched map[string]time.Time
	// fresh bounds how long a cached token is served without a store read (scale-out):
	// freshness.TTL, and never while or after the store was deaf to other replicas.
	fresh *freshness.Clock

	// logins has its own lock (never b.mu): starting and finishing logins must not
	// slow the proxy path, which takes b.mu on every call.
	logins PendingLogins
}

type credKey struct{ conn, principal string }

// cached is an opened access token kept in memory, so a call costs no store read and
// no decryption; any change to the credential's row (on any replica, through Watch)
// drops it.
type cached struct {
	access    string
	expiry    time.Time // zero: unknown (treated as valid until the upstream says no)
	refreshAt time.Time // when to refresh ahead of expiry
	// retryAt and attempts pace retries after transient failures (DEGRADED).
	retryAt  time.Time
	attempts int
	lastErr  error
	tag      string // destinationTag of a retry-pacing entry (kept across connection changes)
	stamp    freshness.Stamp
}

type flight struct {
	done   chan struct{}
	header string
	err    error
	tag    string // destinationTag of the connection it fetches for
}

// New returns a broker.
func New(kr *seal.Keyring, st Store, oc *oauth.Client, opts Options) *Broker {
	fresh := freshness.New(st, opts.Now, 0) // nil Now: the coarse clock, cheaper than time.Now
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ExpiringWindow == 0 {
		opts.ExpiringWindow = 7 * 24 * time.Hour
	}
	if opts.LoginTTL == 0 {
		opts.LoginTTL = 10 * time.Minute
	}
	if opts.PendingLogins == nil {
		opts.PendingLogins = NewMemoryPendingLogins(PendingOptions{MaxTotal: opts.MaxPendingLogins, Now: opts.Now, Log: opts.Log})
	}
	b := &Broker{keyring: kr, store: st, oauth: oc, opts: opts, cache: map[credKey]*cached{}, flights: map[credKey]*flight{}, logins: opts.PendingLogins, touched: map[string]time.Time{}}
	b.fresh = fresh
	if st != nil {
		st.Watch(func(c catalog.Change) {
			switch c.Kind {
			case catalog.ChangeCredential, catalog.ChangeConnection:
				b.mu.Lock()
				for k, v := range b.cache {
					// Keep the pacing of retries; drop the token.
					if k.conn == c.ID && v.retryAt.IsZero() {
						delete(b.cache, k)
					}
				}
				b.gen++
				b.mu.Unlock()
			case catalog.ChangeAll:
				// Anything may have changed on another replica: drop every token,
				// keep the pacing of retries.
				b.mu.Lock()
				for k, v := range b.cache {
					if v.retryAt.IsZero() {
						delete(b.cache, k)
					}
				}
				b.gen++
				b.mu.Unlock()
			case catalog.ChangePrincipal:
				// A shared credential's authorizer may have been deactivated.
				b.mu.Lock()
				b.cache = map[credKey]*cached{}
				b.gen++
				b.mu.Unlock()
			}
		})
	}
	return b
}

// RedirectURI is the OAuth redirect URI of this deployment.
func (b *Broker) RedirectURI() string { return b.opts.PublicURL + "/login/oauth/http.html" }

// LoginURL is where a user logs in to a connection.
func (b *Broker) LoginURL(connection string) string {
	return b.opts.PublicURL + "/connections/" + url.PathEscape(connection) + "/login"
}

// authHeader returns the header name and prefix of the connection.
func authHeader(c *catalog.Connection) (name, prefix string) {
	name = c.Options[catalog.OptAuthHeaderName]
	if name == "" {
		name = catalog.DefaultAuthHeaderName
	}
	prefix, set := c.Options[catalog.OptAuthHeaderPrefix]
	if !set {
		prefix = catalog.DefaultAuthHeaderPrefix
	}
	return name, prefix
}

// Header returns the header name and value to inject for the caller's call through c.
// The value is a secret: callers must not log it or put it in an error.
func (b *Broker) Header(ctx context.Context, c *catalog.Connection, caller *catalog.Principal) (name, value string, err error) {
	name, prefix := authHeader(c)
	switch c.CredentialType {
	case catalog.BearerToken:
		tok, err := b.openShared(c, catalog.OptBearerToken)
		if err != nil {
			return "", "", err
		}
		return name, prefix + tok, nil
	case catalog.OAuthM2M, catalog.OAuthU2M, catalog.OAuthU2MPerUser:
		key := credKey{conn: c.ID}
		if c.CredentialType == catalog.OAuthU2MPerUser {
			key.principal = caller.ID
		}
		tok, err := b.accessToken(ctx, c, key, caller)
		if err != nil {
			return "", "", err
		}
		b.touch(key)
		return name, prefix + tok, nil
	}
	return "", "", fmt.Errorf("connection %s: unknown credential type %s", c.ID, c.CredentialType)
}

func (b *Broker) touch(k credKey) {
	b.mu.Lock()
	b.touched[k.conn+"/"+k.principal] = b.opts.Now()
	b.mu.Unlock()
}

// FlushUsage writes the recorded last-used times of credentials.
func (b *Broker) FlushUsage(ctx context.Context) error {
	b.mu.Lock()
	batch := b.touched
	b.touched = map[string]time.Time{}
	b.mu.Unlock()
	if len(batch) == 0 || b.store == nil {
		return nil
	}
	return b.store.TouchCredentials(ctx, batch)
}

// openShared unseals one shared secret option of the connection.
func (b *Broker) openShared(c *catalog.Connection, field string) (string, error) {
	ct, ok := c.Secrets[field]
	if !ok {
		return "", fmt.Errorf("connection %s has no sealed %s", c.ID, field)
	}
	pt, err := b.keyring.Open(ct, seal.AAD{SecurableID: c.ID, Field: field})
	if err != nil {
		// The wrapped error names the failure, never the plaintext.
		return "", fmt.Errorf("open %s of connection %s: %w", field, c.ID, err)
	}
	return string(pt), nil
}

// oauthConfig builds the client configuration of an OAuth connection.
func (b *Broker) oauthConfig(c *catalog.Connection) (oauth.Config, error) {
	secret, err := b.openShared(c, catalog.OptClientSecret)
	if err != nil {
		return oauth.Config{}, err
	}
	return oauth.Config{
		ClientID: c.Options[catalog.OptClientID], ClientSecret: secret,
		AuthURL: c.Options[catalog.OptAuthorizationEndpoint], TokenURL: c.Options[catalog.OptTokenEndpoint],
		Scope: c.Options[catalog.OptOAuthScope], Resource: catalog.OAuthResource(c.Options),
		Method: oauth.ExchangeMethod(c.Options[catalog.OptCredentialExchange]),
	}, nil
}

// accessToken returns a valid access token for the credential, from memory when it has
// one, else through one fetch or refresh shared by every caller waiting for it.
func (b *Broker) accessToken(ctx context.Context, c *catalog.Connection, key credKey, caller *catalog.Principal) (string, error) {
	now := b.opts.Now()
	b.mu.Lock()
	if e, ok := b.cache[key]; ok && e.access != "" && (e.refreshAt.IsZero() || now.Before(e.refreshAt)) && b.fresh.Fresh(e.stamp) {
		b.mu.Unlock()
		return e.access, nil
	}
	if f, ok := b.flights[key]; ok {
		b.mu.Unlock()
		select {
		case <-f.done:
			if f.tag != destinationTag(c) {
				// Fetched for the destination before a change: not for this call.
				return b.accessToken(ctx, c, key, caller)
			}
			return f.header, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{}), tag: destinationTag(c)}
	b.flights[key] = f
	b.mu.Unlock()

	// The refresh runs on its own context: a caller that gives up must not cancel the
	// refresh the others are waiting for (and a rotated refresh token must be saved).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	f.header, f.err = b.obtain(rctx, c, key, caller)
	cancel()
	b.mu.Lock()
	delete(b.flights, key)
	b.mu.Unlock()
	close(f.done)
	return f.header, f.err
}

// refreshAhead is when to refresh a token obtained at from that expires at exp: 20% of
// its life before the end, at most 60 s before.
func refreshAhead(from, exp time.Time) time.Time {
	if exp.IsZero() {
		return time.Time{}
	}
	ahead := exp.Sub(from) / 5
	if ahead > 60*time.Second {
		ahead = 60 * time.Second
	}
	if ahead < 0 {
		ahead = 0
	}
	return exp.Add(-ahead)
}

// obtain is the slow path of accessToken: read the stored credential and use it, or
// refresh it, or fetch a new one, and keep the state up to date. A refresh (or
// machine-to-machine fetch) happens under the credential's store lock, which every
// replica takes: in-process single-flight (accessToken) keeps one caller per replica
// here, the lock keeps one replica at a time in renew, and each decides again on what
// is stored once it holds the lock, so a credential is renewed once per expiry however
// many replicas need it.
func (b *Broker) obtain(ctx context.Context, c *catalog.Connection, key credKey, caller *catalog.Principal) (string, error) {
	b.mu.Lock()
	prev := b.cache[key]
	gen := b.gen
	b.mu.Unlock()
	if prev != nil && prev.tag != "" && prev.tag != destinationTag(c) {
		prev = nil // retry pacing (and its token) of the destination before a change
	}

	stored, err := b.store.GetCredential(ctx, key.conn, key.principal)
	switch {
	case catalog.IsNotFound(err):
		stored = nil
	case err != nil:
		return "", err
	}
	cred, err := b.usableCredential(ctx, c, key, caller, stored)
	if err != nil {
		return "", err
	}
	// A stored access token still good beyond its refresh point serves as it is, with
	// no lock: that is every replica's cold cache after another one renewed.
	if tok, ok, err := b.useStored(c, key, gen, cred, nil); ok || err != nil {
		return tok, err
	}
	// While a transient failure is being retried, a still-valid token keeps serving.
	if prev != nil && !prev.retryAt.IsZero() && b.opts.Now().Before(prev.retryAt) {
		if prev.access != "" && (prev.expiry.IsZero() || b.opts.Now().Before(prev.expiry)) {
			return prev.access, nil
		}
		return "", b.unavailable(c, prev.lastErr)
	}

	seen := stored
	if seen == nil {
		seen = &catalog.OAuthCredential{} // nothing stored: anything stored since is new
	}
	var tok string
	var obtainErr error
	ran := false
	err = b.store.LockCredential(ctx, key.conn, key.principal, func(ctx context.Context, cur *catalog.OAuthCredential) error {
		ran = true
		cred, err := b.usableCredential(ctx, c, key, caller, cur)
		if err != nil {
			obtainErr = err
			return nil
		}
		// Another replica (or a login) may have renewed it while this one waited.
		var ok bool
		if tok, ok, obtainErr = b.useStored(c, key, gen, cred, seen); ok || obtainErr != nil {
			return nil
		}
		tok, obtainErr = b.renew(ctx, c, key, cred, prev, gen, caller, false)
		return nil
	})
	if !ran {
		return "", fmt.Errorf("lock the credential of connection %s: %w", c.ID, err)
	}
	if err != nil {
		return "", err
	}
	return tok, obtainErr
}

// usableCredential checks a stored credential (nil: none) before it is used or
// renewed: it returns the credential to renew from (a new one for machine-to-machine
// when there is none usable), or the error to answer with (a login is needed, the
// credential is disabled).
func (b *Broker) usableCredential(ctx context.Context, c *catalog.Connection, key credKey, caller *catalog.Principal, cred *catalog.OAuthCredential) (*catalog.OAuthCredential, error) {
	now := b.opts.Now()
	if cred != nil && !b.boundTo(c, cred) {
		// Obtained for the destination before a change (it raced the change): never
		// used for this one. Machine-to-machine fetches anew over it.
		if c.CredentialType != catalog.OAuthM2M {
			return nil, b.loginRequired(c, caller, "")
		}
		cred = &catalog.OAuthCredential{ConnectionID: c.ID, PrincipalID: key.principal, Version: cred.Version, CreatedAt: now}
	}
	if cred == nil {
		if c.CredentialType != catalog.OAuthM2M {
			return nil, b.loginRequired(c, caller, "")
		}
		cred = &catalog.OAuthCredential{ConnectionID: c.ID, CreatedAt: now}
	}
	// A shared user-to-machine credential is only as good as its authorizer.
	if c.CredentialType == catalog.OAuthU2M && cred.AuthorizedBy != "" && cred.State != catalog.StateReauthRequired {
		if p, err := b.store.GetPrincipal(ctx, cred.AuthorizedBy); catalog.IsNotFound(err) || (err == nil && !p.Active) {
			who := cred.AuthorizedBy
			if err == nil {
				who = p.Name + " (deactivated)"
			} else {
				who += " (deleted)"
			}
			b.setState(ctx, c, cred, catalog.StateReauthRequired, "authorized by "+who+"; the owner or a MANAGE holder must log in again")
			return nil, b.loginRequired(c, caller, cred.Reason)
		}
	}
	switch cred.State {
	case catalog.StateReauthRequired:
		return nil, b.loginRequired(c, caller, cred.Reason)
	case catalog.StateDisabled:
		return nil, catalog.Errorf(catalog.PermissionDenied, "the credential of connection %s is disabled", c.Name)
	}
	return cred, nil
}

// useStored returns the stored access token of cred when it may serve without a
// renewal: it is good beyond its refresh point, or (seen not nil) it was renewed
// since seen was read and has not expired, which is another replica's renewal even
// when this replica's clock already puts it past its refresh point.
func (b *Broker) useStored(c *catalog.Connection, key credKey, gen uint64, cred, seen *catalog.OAuthCredential) (string, bool, error) {
	if len(cred.AccessToken) == 0 {
		return "", false, nil
	}
	now := b.opts.Now()
	refreshAt := refreshAhead(cred.LastRefreshedAt, cred.AccessExpiresAt)
	fresh := cred.AccessExpiresAt.IsZero() || now.Before(refreshAt)
	renewedSince := seen != nil && cred.Version != seen.Version && cred.LastRefreshedAt.After(seen.LastRefreshedAt) &&
		now.Before(cred.AccessExpiresAt)
	if !fresh && !renewedSince {
		return "", false, nil
	}
	tok, err := b.openCred(c, cred, catalog.FieldAccessToken, cred.AccessToken)
	if err != nil {
		return "", false, err
	}
	if !fresh {
		refreshAt = cred.AccessExpiresAt // use it until it ends rather than renew again now
	}
	b.remember(key, gen, &cached{access: tok, expiry: cred.AccessExpiresAt, refreshAt: refreshAt})
	return tok, true, nil
}

// renew refreshes (or, for machine-to-machine, fetches) the access token and stores
// the result before anyone uses it. It runs under the credential's store lock
// (obtain). retried is set on the second attempt after a lost race (renewFailed).
func (b *Broker) renew(ctx context.Context, c *catalog.Connection, key credKey, cred *catalog.OAuthCredential, prev *cached, gen uint64, caller *catalog.Principal, retried bool) (string, error) {
	now := b.opts.Now()
	cfg, err := b.oauthConfig(c)
	if err != nil {
		return "", err
	}
	var tok *oauth.Token
	var sent string // the refresh token sent
	action := "fetch"
	if c.CredentialType == catalog.OAuthM2M {
		tok, err = b.oauth.ClientCredentials(ctx, cfg)
	} else {
		if len(cred.RefreshToken) == 0 {
			// No refresh token (no offline_access): the access token is all there is.
			if len(cred.AccessToken) > 0 && (cred.AccessExpiresAt.IsZero() || now.Before(cred.AccessExpiresAt)) {
				t, err := b.openCred(c, cred, catalog.FieldAccessToken, cred.AccessToken)
				if err != nil {
					return "", err
				}
				b.remember(key, gen, &cached{access: t, expiry: cred.AccessExpiresAt, refreshAt: cred.AccessExpiresAt})
				return t, nil
			}
			reason := "the access token expired and there is no refresh token (offline_access was not granted); log in again"
			b.setState(ctx, c, cred, catalog.StateReauthRequired, reason)
			return "", b.loginRequired(c, caller, reason)
		}
		rt, err2 := b.openCred(c, cred, catalog.FieldRefreshToken, cred.RefreshToken)
		if err2 != nil {
			return "", err2
		}
		action, sent = "refresh", rt
		tok, err = b.oauth.Refresh(ctx, cfg, rt)
	}
	if err != nil {
		return b.renewFailed(ctx, c, key, cred, prev, gen, caller, sent, retried, err)
	}
	// Persist first: a rotated refresh token that is not saved is a lost credential.
	// PutCredential has committed when it returns, before the token goes to anyone.
	if err := b.storeToken(ctx, c, cred, key.principal, tok, cred.AuthorizedBy); err != nil {
		if catalog.IsAlreadyExists(err) {
			// A writer that does not take the lock (a login finishing) stored a
			// credential meanwhile; use theirs.
			return b.obtainAfterConflict(ctx, c, key, caller)
		}
		return "", err
	}
	b.remember(key, gen, &cached{access: tok.AccessToken, expiry: tok.Expiry, refreshAt: refreshAhead(now, tok.Expiry)})
	b.record(ctx, catalog.ActionOAuthRefresh, c, key.principal, catalog.DecisionAllow, map[string]string{"grant": action})
	return tok.AccessToken, nil
}

func (b *Broker) obtainAfterConflict(ctx context.Context, c *catalog.Connection, key credKey, caller *catalog.Principal) (string, error) {
	cred, err := b.store.GetCredential(ctx, key.conn, key.principal)
	if err != nil {
		return "", err
	}
	if len(cred.AccessToken) == 0 || (!cred.AccessExpiresAt.IsZero() && !b.opts.Now().Before(cred.AccessExpiresAt)) {
		return "", b.loginRequired(c, caller, cred.Reason)
	}
	return b.openCred(c, cred, catalog.FieldAccessToken, cred.AccessToken)
}

// lostRace re-reads the credential after an invalid_grant for the refresh token sent,
// and returns it when its refresh token is no longer that one: someone else (a login,
// a replica that renewed without the lock) replaced it meanwhile, and the answer was
// about a token already rotated away, not a revoked consent. It returns nil when the
// stored refresh token is still the one sent.
func (b *Broker) lostRace(ctx context.Context, c *catalog.Connection, key credKey, sent string) *catalog.OAuthCredential {
	cur, err := b.store.GetCredential(ctx, key.conn, key.principal)
	if err != nil || len(cur.RefreshToken) == 0 {
		return nil
	}
	rt, err := b.openCred(c, cur, catalog.FieldRefreshToken, cur.RefreshToken)
	if err != nil || subtle.ConstantTimeCompare([]byte(rt), []byte(sent)) == 1 {
		return nil
	}
	return cur
}

// renewFailed classifies a token endpoint failure: invalid_grant for the stored
// refresh token needs a new login (for one already replaced, the stored state is
// used instead), a configuration error needs an admin, a transient failure is retried
// with backoff while a still-valid access token keeps serving.
func (b *Broker) renewFailed(ctx context.Context, c *catalog.Connection, key credKey, cred *catalog.OAuthCredential, prev *cached, gen uint64, caller *catalog.Principal, sent string, retried bool, err error) (string, error) {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		return "", err
	}
	now := b.opts.Now()
	switch oe.State() {
	case catalog.StateReauthRequired:
		// A lost race is not a revoked consent: re-read once.
		if sent != "" && !retried {
			if cur := b.lostRace(ctx, c, key, sent); cur != nil {
				b.opts.Log.Info("refresh token replaced while it was being used; using the stored one", "connection", c.Name, "principal_id", key.principal)
				cur, err := b.usableCredential(ctx, c, key, caller, cur)
				if err != nil {
					return "", err
				}
				if tok, ok, err := b.useStored(c, key, gen, cur, cred); ok || err != nil {
					return tok, err
				}
				return b.renew(ctx, c, key, cur, prev, gen, caller, true)
			}
		}
		b.setState(ctx, c, cred, catalog.StateReauthRequired, oe.Error())
		b.forget(key)
		return "", b.loginRequired(c, caller, oe.Error())
	case catalog.StateMisconfigured:
		b.setState(ctx, c, cred, catalog.StateMisconfigured, oe.Error())
		b.forget(key)
		return "", catalog.Errorf(catalog.UpstreamError, "connection %s is misconfigured: %s", c.Name, oe.Error())
	}
	// DEGRADED: pace the retries; serve the old token while it lasts.
	attempts := 1
	var access string
	var expiry time.Time
	if prev != nil {
		attempts = prev.attempts + 1
		access, expiry = prev.access, prev.expiry
	}
	if access == "" && len(cred.AccessToken) > 0 {
		if t, err := b.openCred(c, cred, catalog.FieldAccessToken, cred.AccessToken); err == nil {
			access, expiry = t, cred.AccessExpiresAt
		}
	}
	if cred.State != catalog.StateDegraded && cred.ConnectionID != "" && cred.Version > 0 {
		b.setState(ctx, c, cred, catalog.StateDegraded, oe.Error())
	}
	b.mu.Lock()
	b.cache[key] = &cached{access: access, expiry: expiry, refreshAt: now, retryAt: now.Add(oauth.Backoff(attempts)), attempts: attempts, lastErr: oe, tag: destinationTag(c)}
	b.mu.Unlock()
	if access != "" && (expiry.IsZero() || now.Before(expiry)) {
		return access, nil
	}
	return "", b.unavailable(c, oe)
}

func (b *Broker) unavailable(c *catalog.Connection, err error) error {
	msg := "the token endpoint is not answering"
	if err != nil {
		msg = err.Error()
	}
	return catalog.Errorf(catalog.TemporarilyUnavailable, "connection %s: no valid access token and it cannot be renewed now (%s); retrying with backoff", c.Name, msg)
}

func (b *Broker) remember(key credKey, gen uint64, e *cached) {
	// Stamped now, after the read: a change announced since the read moved gen.
	e.stamp = b.fresh.Stamp()
	b.mu.Lock()
	if b.gen == gen {
		b.cache[key] = e
	}
	b.mu.Unlock()
}

func (b *Broker) forget(key credKey) {
	b.mu.Lock()
	delete(b.cache, key)
	b.mu.Unlock()
}

// loginRequired is the 401 that tells the caller where to log in.
func (b *Broker) loginRequired(c *catalog.Connection, caller *catalog.Principal, reason string) error {
	login := b.LoginURL(c.Name)
	if c.CredentialType == catalog.OAuthU2MPerUser {
		msg := fmt.Sprintf("Credential for user identity('%s') is not found for the connection '%s'. Please login first to the connection by visiting %s", caller.Name, c.Name, login)
		if reason != "" {
			msg = fmt.Sprintf("Credential for user identity('%s') of the connection '%s' must be renewed (%s). Please login again to the connection by visiting %s", caller.Name, c.Name, reason, login)
		}
		return &catalog.Error{Code: catalog.OAuthLoginRequired, Message: msg, LoginURL: login}
	}
	msg := fmt.Sprintf("The shared credential of connection '%s' has not been authorized. Its owner or a MANAGE holder must log in by visiting %s", c.Name, login)
	if reason != "" {
		msg = fmt.Sprintf("The shared credential of connection '%s' must be authorized again (%s). Its owner or a MANAGE holder must log in by visiting %s", c.Name, reason, login)
	}
	return &catalog.Error{Code: catalog.OAuthLoginRequired, Message: msg, LoginURL: login}
}

// storeToken seals and stores a token answer into cred (version-checked). A refresh
// answer without a refresh token keeps the old one.
func (b *Broker) storeToken(ctx context.Context, c *catalog.Connection, cred *catalog.OAuthCredential, principalID string, tok *oauth.Token, authorizedBy string) error {
	now := b.opts.Now()
	next := *cred
	next.ConnectionID, next.PrincipalID = c.ID, principalID
	at, err := b.keyring.Seal([]byte(tok.AccessToken), tokenAAD(c, catalog.FieldAccessToken, principalID))
	if err != nil {
		return err
	}
	next.AccessToken = at
	if tok.RefreshToken != "" {
		rt, err := b.keyring.Seal([]byte(tok.RefreshToken), tokenAAD(c, catalog.FieldRefreshToken, principalID))
		if err != nil {
			return err
		}
		next.RefreshToken = rt
		next.RefreshExpiresAt = tok.RefreshExpiry
	}
	next.AccessExpiresAt = tok.Expiry
	if tok.Scope != "" {
		next.Scope = tok.Scope
	}
	next.LastRefreshedAt = now
	next.AuthorizedBy = authorizedBy
	if next.CreatedAt.IsZero() {
		next.CreatedAt = now
	}
	next.UpdatedAt = now
	oldState := cred.State
	next.State, next.Reason = b.assess(c, &next, now)
	if err := b.store.PutCredential(ctx, &next); err != nil {
		return err
	}
	*cred = next
	if oldState != next.State {
		b.recordState(ctx, c, principalID, oldState, next.State, next.Reason)
	}
	return nil
}

// assess derives the state of a healthy credential from its expirations.
func (b *Broker) assess(c *catalog.Connection, cred *catalog.OAuthCredential, now time.Time) (catalog.CredentialState, string) {
	if c.CredentialType != catalog.OAuthM2M && len(cred.RefreshToken) == 0 {
		left := cred.AccessExpiresAt.Sub(now).Round(time.Minute)
		if cred.AccessExpiresAt.IsZero() {
			return catalog.StateExpiring, "the provider returned no refresh token (offline_access was not granted): the credential cannot be renewed and stops working when its access token expires; add offline_access to oauth_scope and log in again"
		}
		return catalog.StateExpiring, fmt.Sprintf("the provider returned no refresh token (offline_access was not granted): the credential stops working at %s, in %s; add offline_access to oauth_scope and log in again",
			cred.AccessExpiresAt.UTC().Format("15:04 UTC"), left)
	}
	if !cred.RefreshExpiresAt.IsZero() && cred.RefreshExpiresAt.Sub(now) < b.opts.ExpiringWindow {
		return catalog.StateExpiring, fmt.Sprintf("the refresh token expires at %s; log in again before then", cred.RefreshExpiresAt.UTC().Format(time.RFC3339))
	}
	return catalog.StateActive, ""
}

// setState records a new state of a stored credential (and its audit event).
func (b *Broker) setState(ctx context.Context, c *catalog.Connection, cred *catalog.OAuthCredential, st catalog.CredentialState, reason string) {
	if cred.Version == 0 {
		return // nothing stored to mark
	}
	old := cred.State
	if old == st && cred.Reason == reason {
		return
	}
	next := *cred
	next.State, next.Reason, next.UpdatedAt = st, reason, b.opts.Now()
	if err := b.store.PutCredential(ctx, &next); err != nil {
		if !catalog.IsAlreadyExists(err) {
			b.opts.Log.Error("store credential state", "connection", c.Name, "state", st, "err", err)
		}
		return
	}
	*cred = next
	b.recordState(ctx, c, cred.PrincipalID, old, st, reason)
}

func (b *Broker) recordState(ctx context.Context, c *catalog.Connection, principalID string, from, to catalog.CredentialState, reason string) {
	b.opts.Log.Info("credential state", "connection", c.Name, "principal_id", principalID, "from", from, "to", to)
	b.record(ctx, catalog.ActionCredentialState, c, principalID, catalog.DecisionAllow, map[string]string{"from": string(from), "to": string(to), "reason": reason})
}

func (b *Broker) record(ctx context.Context, action string, c *catalog.Connection, principalID string, decision string, params map[string]string) {
	if b.opts.Audit == nil {
		return
	}
	who := "gatehouse"
	if principalID != "" {
		if p, err := b.store.GetPrincipal(ctx, principalID); err == nil {
			who = p.Name
		}
	}
	b.opts.Audit.Record(context.WithoutCancel(ctx), &catalog.AuditEvent{ActionName: action, Principal: who, Connection: c.Name, Decision: decision, Params: params, StatusCode: 200})
}

// FetchM2M gets a first token for a machine-to-machine connection being created or
// changed, so that a wrong secret is refused at once with the provider's words. The
// caller stores the connection, then calls StoreM2M with the token. With cfg.Method
// "" (the option unset and no provider metadata) it tries the methods of
// oauth.TryOrder and returns the one that worked, for the caller to store; otherwise it
// returns cfg.Method.
func (b *Broker) FetchM2M(ctx context.Context, cfg oauth.Config) (*oauth.Token, oauth.ExchangeMethod, error) {
	var (
		tok *oauth.Token
		err error
	)
	method := cfg.Method
	if method == "" {
		tok, method, err = oauth.TryMethods(cfg, func(cfg oauth.Config) (*oauth.Token, error) { return b.oauth.ClientCredentials(ctx, cfg) })
	} else {
		tok, err = b.oauth.ClientCredentials(ctx, cfg)
	}
	if err != nil {
		return nil, "", m2mFetchError(err)
	}
	return tok, method, nil
}

// StoreM2M stores the token FetchM2M got, replacing the shared credential.
func (b *Broker) StoreM2M(ctx context.Context, c *catalog.Connection, tok *oauth.Token) error {
	cred, err := b.store.GetCredential(ctx, c.ID, "")
	if catalog.IsNotFound(err) {
		cred, err = &catalog.OAuthCredential{ConnectionID: c.ID}, nil
	}
	if err != nil {
		return err
	}
	cred.State, cred.Reason = "", ""
	if err := b.storeToken(ctx, c, cred, "", tok, ""); err != nil {
		return err
	}
	b.remember(credKey{conn: c.ID}, b.currentGen(), &cached{access: tok.AccessToken, expiry: tok.Expiry, refreshAt: refreshAhead(b.opts.Now(), tok.Expiry)})
	return nil
}

func (b *Broker) currentGen() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
}

// Config returns the OAuth client configuration of a connection (for checks).
func (b *Broker) Config(c *catalog.Connection) (oauth.Config, error) { return b.oauthConfig(c) }
