package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// StorePendingLogins is the PendingLogins of a server: the logins live in the catalog
// store, so that a login started on one replica finishes on any other, and a replica
// may die between the two. The store makes each state single-use across replicas
// (Take is atomic there), never returns an expired login, and keeps the same bounds as
// MemoryPendingLogins. Neither secret reaches the store as it is: the state is kept as
// its SHA-256, and the PKCE verifier sealed with the keyring under additional data that
// binds it to its state and principal, so a verifier copied to another row does not
// open.
type StorePendingLogins struct {
	store catalog.PendingLoginStore
	kr    *seal.Keyring
	lim   catalog.PendingLoginLimits
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	warnedAt time.Time
	evicted  uint64
}

var _ PendingLogins = (*StorePendingLogins)(nil)

// NewStorePendingLogins returns the PendingLogins kept in st, sealed with kr.
func NewStorePendingLogins(st catalog.PendingLoginStore, kr *seal.Keyring, opts PendingOptions) *StorePendingLogins {
	opts = opts.withDefaults()
	lim := catalog.PendingLoginLimits{MaxTotal: opts.MaxTotal, MaxPerSession: opts.MaxPerSession, MaxPerPrincipal: opts.MaxPerPrincipal}
	return &StorePendingLogins{store: st, kr: kr, lim: lim, now: opts.Now, log: opts.Log}
}

// verifierAAD binds a sealed verifier to its state and principal.
func verifierAAD(stateHash [sha256.Size]byte, principalID string) seal.AAD {
	return seal.AAD{SecurableID: "pending-login:" + hex.EncodeToString(stateHash[:]), Field: "pkce_verifier", Principal: principalID}
}

// Put seals the verifier and records the login.
func (s *StorePendingLogins) Put(ctx context.Context, state string, l PendingLogin) error {
	key := sha256.Sum256([]byte(state))
	sealed, err := s.kr.Seal([]byte(l.Verifier), verifierAAD(key, l.PrincipalID))
	if err != nil {
		return fmt.Errorf("seal the PKCE verifier: %w", err)
	}
	now := s.now()
	n, err := s.store.PutPendingLogin(ctx, &catalog.PendingLogin{StateHash: key, SessionHash: l.SessionHash, PrincipalID: l.PrincipalID,
		ConnectionID: l.ConnectionID, Connection: l.Connection, TokenURL: l.TokenURL, SealedVerifier: sealed,
		CreatedAt: now, ExpiresAt: l.Expires}, s.lim)
	if err != nil {
		return err
	}
	if n > 0 {
		s.mu.Lock()
		s.evicted += uint64(n)
		warn := now.Sub(s.warnedAt) >= time.Minute || now.Before(s.warnedAt)
		if warn {
			s.warnedAt = now
		}
		total := s.evicted
		s.mu.Unlock()
		if warn {
			s.log.Warn("pending OAuth logins at the limit: evicting the oldest; logins started long ago fail and must be started again",
				"limit", s.lim.MaxTotal, "evicted_total", total)
		}
	}
	return nil
}

// Take removes the login of the state from the store and opens its verifier.
func (s *StorePendingLogins) Take(ctx context.Context, state string) (PendingLogin, bool, error) {
	key := sha256.Sum256([]byte(state))
	r, err := s.store.TakePendingLogin(ctx, key, s.now())
	if catalog.IsNotFound(err) {
		return PendingLogin{}, false, nil
	}
	if err != nil {
		return PendingLogin{}, false, err
	}
	v, err := s.kr.Open(r.SealedVerifier, verifierAAD(key, r.PrincipalID))
	if err != nil {
		return PendingLogin{}, false, fmt.Errorf("open the PKCE verifier of a pending login: %w", err)
	}
	return PendingLogin{SessionHash: r.SessionHash, ConnectionID: r.ConnectionID, Connection: r.Connection, PrincipalID: r.PrincipalID,
		Verifier: string(v), Expires: r.ExpiresAt, TokenURL: r.TokenURL}, true, nil
}
