package access_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// lossyStore is the SQLite store as a replica of a shared store sees it: announcements
// can be lost (mute), the store can be deaf (an odd epoch), ChangeAll can be announced,
// and the grant reads are counted.
type lossyStore struct {
	*sqlite.DB
	mute     atomic.Bool
	epoch    atomic.Uint64
	grants   atomic.Int64
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

func (s *lossyStore) ListGrants(ctx context.Context, t catalog.SecurableType, id string) ([]catalog.Grant, error) {
	s.grants.Add(1)
	return s.DB.ListGrants(ctx, t, id)
}

var _ freshness.Epocher = (*lossyStore)(nil)

// TestCacheWindow: a revoke whose announcement was lost is seen once the cache is
// older than the TTL, at once while the store is deaf or after it was, and on
// ChangeAll; while the window holds, a decision costs no store read.
func TestCacheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		// bite is what must make the cache read the lost revoke.
		bite func(s *lossyStore, clock *time.Time)
	}{
		{"ttl", func(s *lossyStore, clock *time.Time) { *clock = clock.Add(freshness.TTL) }},
		{"deaf", func(s *lossyStore, clock *time.Time) { s.epoch.Add(1) }},
		{"heard again after deaf", func(s *lossyStore, clock *time.Time) { s.epoch.Add(2) }},
		{"change all", func(s *lossyStore, clock *time.Time) { s.announce(catalog.Change{Kind: catalog.ChangeAll}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			s := &lossyStore{DB: w.st}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			w.a = access.New(s)
			access.SetClock(w.a, func() time.Time { return now })
			w.add("alice", catalog.KindUser)
			c := w.conn("github", catalog.AdminsGroup)
			w.grant(c, "alice", catalog.UseConnection)
			if !w.can(t, "alice", c, catalog.UseConnection) {
				t.Fatal("alice cannot use github after the grant")
			}
			reads := s.grants.Load()
			now = now.Add(freshness.TTL - time.Millisecond)
			if !w.can(t, "alice", c, catalog.UseConnection) || s.grants.Load() != reads {
				t.Fatalf("within the TTL the decision read the store (%d reads, want %d)", s.grants.Load(), reads)
			}
			s.mute.Store(true) // the revoke's announcement is lost
			w.revoke(c, "alice", catalog.UseConnection)
			if !w.can(t, "alice", c, catalog.UseConnection) {
				t.Fatal("the cache was dropped without a reason: the test proves nothing")
			}
			tc.bite(s, &now)
			if w.can(t, "alice", c, catalog.UseConnection) {
				t.Errorf("alice can still use github after the lost revoke (%s)", tc.name)
			}
		})
	}
}
