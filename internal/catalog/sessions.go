package catalog

import (
	"context"
	"crypto/sha256"
	"time"
)

// BrowserSession is one signed-in browser of the web pages (internal/webui) as the store
// keeps it, so that every replica knows it. The session id itself (the cookie value) is
// never stored: Key is its SHA-256, so a dump of the table gives nothing a cookie could
// be made from. The CSRF token is not stored either: the web pages derive it from the
// session id.
type BrowserSession struct {
	// Key is the SHA-256 of the session id.
	Key [sha256.Size]byte
	// PrincipalID is who signed in.
	PrincipalID string
	// TokenID and TokenHash name the personal access token the browser signed in with:
	// its id and its stored form (the SHA-256 the tokens table keeps), never its value.
	// Every request re-checks that token (identity.Authenticator.Recheck).
	TokenID   string
	TokenHash []byte
	// A session signed in by single sign-on has no token: its TokenID is
	// SSOSessionTokenID and its TokenHash the SHA-256 of the provider's issuer and
	// subject (SSOSessionSubject), naming the outside identity it signed in as.
	// TokenExpiresAt is when that token expires; zero: never.
	TokenExpiresAt time.Time
	CreatedAt      time.Time
	// ExpiresAt is when the session ends; it is not returned from then on.
	ExpiresAt time.Time
}

// SSOSessionTokenID is the TokenID of a browser session signed in by single sign-on
// (OpenID Connect). No token id has this shape (they are UUIDs), so the web pages know
// the session has no token to re-check; they re-check its principal on every request.
const SSOSessionTokenID = "sso:oidc"

// SSOSessionSubject is the TokenHash of a single sign-on session: the SHA-256 of the
// provider's issuer and the ID token's subject.
func SSOSessionSubject(issuer, subject string) []byte {
	h := sha256.Sum256([]byte("gatehouse sso session v1\x00" + issuer + "\x00" + subject))
	return h[:]
}

// BrowserSessionStore keeps the browser sessions of the web pages.
type BrowserSessionStore interface {
	// CreateBrowserSession stores s. Past maxPerPrincipal live sessions of
	// s.PrincipalID (counting s), the principal's oldest sessions end. It also drops a
	// bounded number of expired sessions (as of s.CreatedAt). A taken key is
	// RESOURCE_ALREADY_EXISTS.
	CreateBrowserSession(ctx context.Context, s *BrowserSession, maxPerPrincipal int) error
	// GetBrowserSession returns the session with the key if it is live at now (now is
	// before its ExpiresAt); otherwise RESOURCE_DOES_NOT_EXIST.
	GetBrowserSession(ctx context.Context, key [sha256.Size]byte, now time.Time) (*BrowserSession, error)
	// DeleteBrowserSession ends the session with the key; an unknown key is not an
	// error (signing out twice is fine).
	DeleteBrowserSession(ctx context.Context, key [sha256.Size]byte) error
}

// PendingLogin is a started OAuth authorization code login as the store keeps it, found
// again by its state when the provider sends the browser back (internal/credential).
// Neither the state nor the PKCE verifier is stored as it is: StateHash is the state's
// SHA-256, and SealedVerifier is the verifier sealed with the keyring, bound to the state.
type PendingLogin struct {
	StateHash [sha256.Size]byte
	// SessionHash is the SHA-256 of the browser session id the login was started in.
	SessionHash    [sha256.Size]byte
	PrincipalID    string
	ConnectionID   string
	Connection     string
	TokenURL       string
	SealedVerifier []byte
	CreatedAt      time.Time
	// ExpiresAt is when the state stops working: it is not returned after it.
	ExpiresAt time.Time
}

// PendingLoginLimits bound the pending logins a store holds; each must be positive.
type PendingLoginLimits struct {
	MaxTotal        int
	MaxPerSession   int
	MaxPerPrincipal int
}

// PendingLoginStore keeps started OAuth logins. A state is single-use across every
// replica (TakePendingLogin removes what it returns, atomically) and short-lived.
type PendingLoginStore interface {
	// PutPendingLogin stores l, replacing a login under the same state. First it drops
	// a bounded number of expired logins (as of l.CreatedAt), then, past a bound, the
	// oldest logins of l's browser session, of l's principal, and of all, so that l
	// fits. It returns how many logins the total bound evicted.
	PutPendingLogin(ctx context.Context, l *PendingLogin, lim PendingLoginLimits) (evicted int, err error)
	// TakePendingLogin removes the login of the state and returns it when it has not
	// expired at now (now is not after its ExpiresAt). An unknown, taken, evicted or
	// expired state is RESOURCE_DOES_NOT_EXIST; of several concurrent calls for one
	// state, on any replicas, at most one returns the login.
	TakePendingLogin(ctx context.Context, stateHash [sha256.Size]byte, now time.Time) (*PendingLogin, error)
}

// ExpiredSweep is how many expired rows one write of a session or pending login drops
// at most: the purge is bounded work, and sign-ins and logins outpace the rows that
// expire.
const ExpiredSweep = 64
