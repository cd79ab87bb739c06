package httpapi

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// lossyConnStore is the SQLite store as a replica of a shared store sees it:
// announcements can be lost (mute), the store can be deaf (an odd epoch), ChangeAll can
// be announced, and connection reads are counted.
type lossyConnStore struct {
	*sqlite.DB
	mute     atomic.Bool
	epoch    atomic.Uint64
	reads    atomic.Int64
	mu       sync.Mutex
	watchers []func(catalog.Change)
}

func (s *lossyConnStore) CacheEpoch() uint64 { return s.epoch.Load() }

func (s *lossyConnStore) Watch(fn func(catalog.Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
	s.DB.Watch(func(c catalog.Change) {
		if !s.mute.Load() {
			fn(c)
		}
	})
}

func (s *lossyConnStore) announce(c catalog.Change) {
	s.mu.Lock()
	ws := append([]func(catalog.Change){}, s.watchers...)
	s.mu.Unlock()
	for _, fn := range ws {
		fn(c)
	}
}

func (s *lossyConnStore) GetConnection(ctx context.Context, name string) (*catalog.Connection, error) {
	s.reads.Add(1)
	return s.DB.GetConnection(ctx, name)
}

// TestConnCacheWindow: a connection disabled with its announcement lost is seen
// disabled once the entry is older than the TTL, at once while the store is deaf or
// after it was, and on ChangeAll; within the TTL a call costs no store read.
func TestConnCacheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		bite func(s *lossyConnStore, now *time.Time)
	}{
		{"ttl", func(s *lossyConnStore, now *time.Time) { *now = now.Add(time.Millisecond) }},
		{"deaf", func(s *lossyConnStore, now *time.Time) { s.epoch.Add(1) }},
		{"heard again after deaf", func(s *lossyConnStore, now *time.Time) { s.epoch.Add(2) }},
		{"change all", func(s *lossyConnStore, now *time.Time) { s.announce(catalog.Change{Kind: catalog.ChangeAll}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := &lossyConnStore{DB: st}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			owner := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "owner", Active: true}
			if err := st.CreatePrincipal(ctx, owner); err != nil {
				t.Fatal(err)
			}
			conn := &catalog.Connection{ID: catalog.NewID(), Name: "github", ConnectionType: "HTTP", CredentialType: catalog.BearerToken,
				OwnerID: owner.ID, Enabled: true, Options: map[string]string{catalog.OptHost: "https://api.example.com"},
				Secrets: map[string][]byte{catalog.OptBearerToken: []byte("sealed")}}
			if err := st.CreateConnection(ctx, conn); err != nil {
				t.Fatal(err)
			}
			c := newConnCacheClock(s, func() time.Time { return now })
			get := func() *catalog.Connection {
				t.Helper()
				got, err := c.get(ctx, s, "github")
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			get()
			now = now.Add(freshness.TTL - time.Millisecond)
			reads := s.reads.Load()
			if !get().Enabled || s.reads.Load() != reads {
				t.Fatalf("within the TTL the cache read the store (%d reads, want %d)", s.reads.Load(), reads)
			}
			s.mute.Store(true) // the disable's announcement is lost
			disabled := *conn
			disabled.Enabled = false
			if err := st.UpdateConnection(ctx, &disabled); err != nil {
				t.Fatal(err)
			}
			if !get().Enabled {
				t.Fatal("the cache was dropped without a reason: the test proves nothing")
			}
			tc.bite(s, &now)
			if get().Enabled {
				t.Errorf("the connection disabled with a lost announcement is still served enabled (%s)", tc.name)
			}
		})
	}
}
