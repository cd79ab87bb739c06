// Package identity answers "who is calling": it mints personal access tokens, checks a
// presented token against the stored hash, refuses expired tokens and deactivated
// principals, and creates the first admin on an empty store.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
)

// TokenPrefix starts every Gatehouse token, so that secret scanners and people can tell
// one when they see it.
const TokenPrefix = "gth_"

// tokenEncoding is lower-case base32 without padding: URL- and header-safe.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewTokenValue returns a fresh token: the prefix and 256 random bits.
func NewTokenValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // since Go 1.24 crypto/rand.Read never returns an error
	return TokenPrefix + tokenEncoding.EncodeToString(b[:])
}

// HashToken is the stored form of a token. Tokens carry 256 random bits, so a plain
// SHA-256 is enough: there is nothing to brute-force that a slow hash would protect.
func HashToken(value string) []byte {
	h := sha256.Sum256([]byte(value))
	return h[:]
}

// Identity is an authenticated caller.
type Identity struct {
	Principal *catalog.Principal
	TokenID   string
	// ExpiresAt is when the token it was authenticated with expires; zero: never. What
	// stays open on this identity (a stream, a tunnel) ends then.
	ExpiresAt time.Time
	// Audience is the one resource the token was issued for (catalog.Token.Audience);
	// "" for a personal access token, good for every API.
	Audience string
	// tokenHash is the stored form of the token, for Recheck; never the token itself.
	tokenHash []byte
}

// Expired is the error for an identity whose token has expired, as Authenticate words
// it.
func (id *Identity) Expired() error {
	return catalog.Errorf(catalog.Unauthenticated, "access token %s expired at %s", id.TokenID, id.ExpiresAt.UTC().Format(time.RFC3339))
}

// TokenHash returns the stored form of the identity's token (the SHA-256 the tokens
// table keeps), never the token itself: a browser session kept in the shared store
// records it so that any replica can Recheck the session.
func (id *Identity) TokenHash() []byte { return append([]byte(nil), id.tokenHash...) }

// Resume rebuilds an identity from what a stored browser session recorded of it (its
// principal, freshly read, and its token's id, stored hash and expiry). It proves
// nothing by itself: the caller must Recheck it before it trusts it.
func Resume(p *catalog.Principal, tokenID string, tokenHash []byte, expiresAt time.Time) *Identity {
	return &Identity{Principal: p, TokenID: tokenID, ExpiresAt: expiresAt, tokenHash: append([]byte(nil), tokenHash...)}
}

// Store is what the authenticator reads and writes.
type Store interface {
	GetTokenByHash(ctx context.Context, hash []byte) (*catalog.Token, error)
	GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error)
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error
	Watch(fn func(catalog.Change))
}

// maxCached bounds the token cache; past it the cache starts over.
const maxCached = 100000

type cachedIdentity struct {
	token     *catalog.Token
	principal *catalog.Principal
	stamp     freshness.Stamp // taken before the read
}

// Authenticator checks bearer tokens. It records last-used times in memory and writes
// them in one batch from time to time, so a request costs no write.
type Authenticator struct {
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	touched map[string]time.Time

	// cache maps a token hash to its token and principal, so that a request costs no
	// store read. Every token or principal change the store announces empties it (they
	// are rare), so a revoked token or a deactivated principal is refused on the very
	// next request; gen keeps a read that raced a change from refilling it stale.
	cmu   sync.RWMutex
	cache map[string]cachedIdentity
	gen   uint64
	// fresh bounds how long an entry is served (scale-out): freshness.TTL, and never
	// while or after the store was deaf to other replicas' changes.
	fresh *freshness.Clock
}

// NewAuthenticator returns an authenticator; now may be nil for time.Now.
func NewAuthenticator(s Store, now func() time.Time, log *slog.Logger) *Authenticator {
	fresh := freshness.New(s, now, 0) // nil now: the coarse clock, cheaper than time.Now
	if now == nil {
		now = time.Now
	}
	a := &Authenticator{store: s, now: now, log: log, touched: map[string]time.Time{}, cache: map[string]cachedIdentity{},
		fresh: fresh}
	s.Watch(func(c catalog.Change) {
		if c.Kind == catalog.ChangeToken || c.Kind == catalog.ChangePrincipal || c.Kind == catalog.ChangeAll {
			a.cmu.Lock()
			a.cache = map[string]cachedIdentity{}
			a.gen++
			a.cmu.Unlock()
		}
	})
	return a
}

// lookup finds the token and its principal, from the cache or the store.
func (a *Authenticator) lookup(ctx context.Context, hash []byte) (*catalog.Token, *catalog.Principal, error) {
	a.cmu.RLock()
	c, ok := a.cache[string(hash)]
	gen := a.gen
	a.cmu.RUnlock()
	if ok && a.fresh.Fresh(c.stamp) {
		return c.token, c.principal, nil
	}
	stamp := a.fresh.Stamp()
	t, err := a.store.GetTokenByHash(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	p, err := a.store.GetPrincipal(ctx, t.PrincipalID)
	if err != nil {
		return nil, nil, err
	}
	a.cmu.Lock()
	if a.gen == gen {
		if len(a.cache) >= maxCached {
			a.cache = map[string]cachedIdentity{}
		}
		a.cache[string(hash)] = cachedIdentity{token: t, principal: p, stamp: stamp}
	}
	a.cmu.Unlock()
	return t, p, nil
}

var errBadToken = catalog.Errorf(catalog.Unauthenticated, "invalid access token")

// ErrWrongAudience refuses a token issued for one resource (an MCP connection's URL)
// where another resource or any other API is called. Callers tell it with errors.Is to
// answer with WWW-Authenticate error="invalid_token" (RFC 6750).
var ErrWrongAudience = catalog.Errorf(catalog.Unauthenticated, "invalid access token: it was issued for another resource")

// Authenticate resolves a presented token to its principal. Every failure is the same
// 401 from the caller's side (which token exists is not revealed), except that an
// expired token and a deactivated principal say so, since only the token's holder can
// present it.
//
// A token with an audience (issued to an MCP client for one connection) is refused
// here with ErrWrongAudience: only AuthenticateResource, for that very resource,
// accepts it. Every surface that calls Authenticate is thus closed to such tokens.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Identity, error) {
	return a.AuthenticateResource(ctx, token, "")
}

// AuthenticateResource is Authenticate for a call to resource (RFC 8707: the MCP
// proxy's URL of one connection, {public_url}/api/2.0/mcp/external/{name}): a token
// without an audience is accepted as by Authenticate, a token with one only if it is
// exactly resource. resource "" accepts only tokens without an audience. The audience
// is checked last, after expiry and the principal, so a refusal for it says no more
// than the holder already knows.
func (a *Authenticator) AuthenticateResource(ctx context.Context, token, resource string) (*Identity, error) {
	if token == "" {
		return nil, catalog.Errorf(catalog.Unauthenticated, "no access token: send Authorization: Bearer <token>")
	}
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return nil, errBadToken
	}
	hash := HashToken(token)
	t, p, err := a.lookup(ctx, hash)
	if catalog.IsNotFound(err) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	now := a.now()
	if t.Expired(now) {
		return nil, catalog.Errorf(catalog.Unauthenticated, "access token %s expired at %s", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !p.Active || p.Kind == catalog.KindGroup {
		return nil, catalog.Errorf(catalog.Unauthenticated, "principal %s is deactivated", p.Name)
	}
	if t.Audience != "" && t.Audience != resource {
		return nil, ErrWrongAudience
	}
	a.mu.Lock()
	a.touched[t.ID] = now
	a.mu.Unlock()
	return &Identity{Principal: p, TokenID: t.ID, ExpiresAt: t.ExpiresAt, Audience: t.Audience, tokenHash: hash}, nil
}

// Recheck says whether an identity that Authenticate returned earlier still holds: its
// token still exists and has not expired, and its principal is still active. It reads
// through the same cache as Authenticate (which every token or principal change
// empties), so it costs no store read while nothing changed, and it records no use.
// Something kept open on the identity (a stream, a tunnel, a browser session) calls it
// to end when the access it was opened with is taken back.
func (a *Authenticator) Recheck(ctx context.Context, id *Identity) error {
	if id == nil || id.Principal == nil || len(id.tokenHash) == 0 {
		return catalog.Errorf(catalog.Unauthenticated, "the identity carries no token to check")
	}
	t, p, err := a.lookup(ctx, id.tokenHash)
	if catalog.IsNotFound(err) {
		return catalog.Errorf(catalog.Unauthenticated, "access token %s was deleted", id.TokenID)
	}
	if err != nil {
		return fmt.Errorf("recheck token: %w", err)
	}
	if t.ID != id.TokenID || p.ID != id.Principal.ID {
		return errBadToken
	}
	if t.Expired(a.now()) {
		return catalog.Errorf(catalog.Unauthenticated, "access token %s expired at %s", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !p.Active || p.Kind == catalog.KindGroup {
		return catalog.Errorf(catalog.Unauthenticated, "principal %s is deactivated", p.Name)
	}
	return nil
}

// Flush writes the recorded last-used times.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.mu.Lock()
	batch := a.touched
	a.touched = map[string]time.Time{}
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return a.store.TouchTokens(ctx, batch)
}

// RunFlusher flushes last-used times every interval until ctx ends, then once more.
func (a *Authenticator) RunFlusher(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.Flush(context.WithoutCancel(ctx)); err != nil {
				a.log.Error("flush token last-used times", "err", err)
			}
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.log.Error("flush token last-used times", "err", err)
			}
		}
	}
}

// BootstrapStore is what Bootstrap needs.
type BootstrapStore interface {
	ListPrincipals(ctx context.Context, kind catalog.PrincipalKind) ([]*catalog.Principal, error)
	GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error)
	CreatePrincipal(ctx context.Context, p *catalog.Principal) error
	AddMember(ctx context.Context, groupID, memberID string) error
	CreateToken(ctx context.Context, t *catalog.Token) error
}

// Bootstrap makes sure the built-in groups exist and, on an empty store, creates the user
// `admin` in `admins` with a token: bootstrapToken when given (GATEHOUSE_BOOTSTRAP_TOKEN),
// else a fresh one. It returns the token only when it created the admin.
func Bootstrap(ctx context.Context, s BootstrapStore, bootstrapToken string, now time.Time) (string, error) {
	// Replicas that start together on an empty shared store race to create the built-in
	// groups and the admin: the loser's create is RESOURCE_ALREADY_EXISTS, and its next
	// attempt finds the store no longer empty (the winner prints the token).
	for attempt := 0; ; attempt++ {
		token, err := bootstrapOnce(ctx, s, bootstrapToken, now)
		if err == nil || !catalog.IsAlreadyExists(err) || attempt == 2 {
			return token, err
		}
	}
}

func bootstrapOnce(ctx context.Context, s BootstrapStore, bootstrapToken string, now time.Time) (string, error) {
	users, err := s.ListPrincipals(ctx, catalog.KindUser)
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	sps, err := s.ListPrincipals(ctx, catalog.KindServicePrincipal)
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	empty := len(users) == 0 && len(sps) == 0
	var adminsID string
	for _, name := range []string{catalog.AdminsGroup, catalog.UsersGroup} {
		g, err := s.GetPrincipalByName(ctx, name)
		if catalog.IsNotFound(err) {
			g = &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindGroup, Name: name, DisplayName: name, Active: true, CreatedAt: now, UpdatedAt: now}
			err = s.CreatePrincipal(ctx, g)
		}
		if err != nil {
			return "", fmt.Errorf("bootstrap group %s: %w", name, err)
		}
		if g.Kind != catalog.KindGroup {
			return "", fmt.Errorf("bootstrap: the name %q is taken by a %s, but it is reserved for a built-in group", name, g.Kind)
		}
		if name == catalog.AdminsGroup {
			adminsID = g.ID
		}
	}
	if !empty {
		return "", nil
	}
	token := bootstrapToken
	if token == "" {
		token = NewTokenValue()
	} else if !strings.HasPrefix(token, TokenPrefix) || len(token) < len(TokenPrefix)+32 {
		return "", fmt.Errorf("bootstrap: GATEHOUSE_BOOTSTRAP_TOKEN must start with %q and carry at least 32 more characters", TokenPrefix)
	}
	admin := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "admin", DisplayName: "Administrator", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreatePrincipal(ctx, admin); err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	if err := s.AddMember(ctx, adminsID, admin.ID); err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: admin.ID, Hash: HashToken(token), Comment: "bootstrap admin token", CreatedBy: admin.ID, CreatedAt: now}
	if err := s.CreateToken(ctx, t); err != nil {
		return "", fmt.Errorf("bootstrap admin token: %w", err)
	}
	return token, nil
}
