package credential

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// epochStore is memStore as a replica of a shared store sees it: the store can be deaf
// (an odd epoch), ChangeAll can be announced, and credential reads are counted. Its
// writes announce nothing, as if their announcements were lost.
type epochStore struct {
	*memStore
	epoch    atomic.Uint64
	reads    atomic.Int64
	mu       sync.Mutex
	watchers []func(catalog.Change)
}

func (s *epochStore) CacheEpoch() uint64 { return s.epoch.Load() }

func (s *epochStore) Watch(fn func(catalog.Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
}

func (s *epochStore) announce(c catalog.Change) {
	s.mu.Lock()
	ws := append([]func(catalog.Change){}, s.watchers...)
	s.mu.Unlock()
	for _, fn := range ws {
		fn(c)
	}
}

func (s *epochStore) GetCredential(ctx context.Context, conn, principal string) (*catalog.OAuthCredential, error) {
	s.reads.Add(1)
	return s.memStore.GetCredential(ctx, conn, principal)
}

var _ freshness.Epocher = (*epochStore)(nil)

// TestTokenCacheWindow: an access token replaced on another replica with the
// announcement lost is used once the cached one is older than the TTL, at once while
// the store is deaf or after it was, and on ChangeAll; within the TTL a call costs no
// store read.
func TestTokenCacheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		bite func(s *epochStore, clock *fakeClock)
	}{
		{"ttl", func(s *epochStore, clock *fakeClock) { clock.Advance(time.Millisecond) }},
		{"deaf", func(s *epochStore, clock *fakeClock) { s.epoch.Add(1) }},
		{"heard again after deaf", func(s *epochStore, clock *fakeClock) { s.epoch.Add(2) }},
		{"change all", func(s *epochStore, clock *fakeClock) { s.announce(catalog.Change{Kind: catalog.ChangeAll}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoginFixture(t, 1)
			st := &epochStore{memStore: f.st}
			b := New(f.b.keyring, st, nil, Options{PublicURL: "https://gatehouse.example", Now: f.clock.Now, LoginTTL: testTTL})
			ctx := context.Background()
			header := func() string {
				t.Helper()
				_, v, err := b.Header(ctx, f.conn, f.alice)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if v := header(); v != "Bearer "+aliceToken {
				t.Fatalf("Header = %q", v)
			}
			f.clock.Advance(freshness.TTL - time.Millisecond)
			reads := st.reads.Load()
			if v := header(); v != "Bearer "+aliceToken || st.reads.Load() != reads {
				t.Fatalf("within the TTL: %q, %d store reads (want %d)", v, st.reads.Load(), reads)
			}
			// Another replica stores a new token; its announcement is lost.
			at, err := f.b.keyring.Seal([]byte("rotated-token"), seal.AAD{SecurableID: f.conn.ID, Field: catalog.FieldAccessToken, Principal: f.alice.ID})
			if err != nil {
				t.Fatal(err)
			}
			st.memStore.mu.Lock()
			st.memStore.creds[credKey{f.conn.ID, f.alice.ID}].AccessToken = at
			st.memStore.mu.Unlock()
			if v := header(); v != "Bearer "+aliceToken {
				t.Fatalf("the cache was dropped without a reason (the test proves nothing): %q", v)
			}
			tc.bite(st, f.clock)
			if v := header(); v != "Bearer rotated-token" {
				t.Errorf("Header after the lost change (%s) = %q, want the rotated token", tc.name, v)
			}
		})
	}
}
