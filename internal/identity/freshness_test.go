package identity_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// lossyStore is the SQLite store as a replica of a shared store sees it: announcements
// can be lost (mute), the store can be deaf (an odd epoch), ChangeAll can be announced,
// and token reads are counted.
type lossyStore struct {
	*sqlite.DB
	mute     atomic.Bool
	epoch    atomic.Uint64
	reads    atomic.Int64
	mu       sync.Mutex
	watchers []func(catalog.Change)
}

func (s *lossyStore) CacheEpoch() uint64 { return s.epoch.Load() }

func (s *lossyStore) Watch(fn func(catalog.Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
	s.DB.Watch(func(c catalog.Change) {
		if !s.mute.Load() {
			fn(c)
		}
	})
}

func (s *lossyStore) announce(c catalog.Change) {
	s.mu.Lock()
	ws := append([]func(catalog.Change){}, s.watchers...)
	s.mu.Unlock()
	for _, fn := range ws {
		fn(c)
	}
}

func (s *lossyStore) GetTokenByHash(ctx context.Context, hash []byte) (*catalog.Token, error) {
	s.reads.Add(1)
	return s.DB.GetTokenByHash(ctx, hash)
}

var _ freshness.Epocher = (*lossyStore)(nil)

// TestIdentityCacheWindow: a token deleted with its announcement lost is refused once
// the cached identity is older than the TTL, at once while the store is deaf or after
// it was, and on ChangeAll; within the TTL a request costs no store read.
func TestIdentityCacheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		bite func(s *lossyStore, now *time.Time)
	}{
		{"ttl", func(s *lossyStore, now *time.Time) { *now = now.Add(time.Millisecond) }},
		{"deaf", func(s *lossyStore, now *time.Time) { s.epoch.Add(1) }},
		{"heard again after deaf", func(s *lossyStore, now *time.Time) { s.epoch.Add(2) }},
		{"change all", func(s *lossyStore, now *time.Time) { s.announce(catalog.Change{Kind: catalog.ChangeAll}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := &lossyStore{DB: st}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			u := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice", Active: true}
			if err := st.CreatePrincipal(ctx, u); err != nil {
				t.Fatal(err)
			}
			v := identity.NewTokenValue()
			tok := &catalog.Token{ID: catalog.NewID(), PrincipalID: u.ID, Hash: identity.HashToken(v), CreatedAt: now}
			if err := st.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			a := identity.NewAuthenticator(s, func() time.Time { return now }, slog.New(slog.DiscardHandler))
			if _, err := a.Authenticate(ctx, v); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			now = now.Add(freshness.TTL - time.Millisecond)
			reads := s.reads.Load()
			if _, err := a.Authenticate(ctx, v); err != nil || s.reads.Load() != reads {
				t.Fatalf("within the TTL: %v, %d store reads (want %d)", err, s.reads.Load(), reads)
			}
			s.mute.Store(true) // the delete's announcement is lost
			if err := st.DeleteToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Authenticate(ctx, v); err != nil {
				t.Fatalf("the cache was dropped without a reason (the test proves nothing): %v", err)
			}
			tc.bite(s, &now)
			if _, err := a.Authenticate(ctx, v); catalog.CodeOf(err) != catalog.Unauthenticated {
				t.Errorf("Authenticate of the deleted token (%s) = %v, want UNAUTHENTICATED", tc.name, err)
			}
		})
	}
}
