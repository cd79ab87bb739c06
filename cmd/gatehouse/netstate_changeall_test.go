package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// mutedStore is the SQLite store whose announcements can be lost (mute) and that can
// announce ChangeAll, as a replica of the PostgreSQL store does after its listener
// was lost.
type mutedStore struct {
	*sqlite.DB
	mute     atomic.Bool
	mu       sync.Mutex
	watchers []func(catalog.Change)
}

func (s *mutedStore) Watch(fn func(catalog.Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
	s.DB.Watch(func(c catalog.Change) {
		if !s.mute.Load() {
			fn(c)
		}
	})
}

func (s *mutedStore) announceAll() {
	s.mu.Lock()
	ws := append([]func(catalog.Change){}, s.watchers...)
	s.mu.Unlock()
	for _, fn := range ws {
		fn(catalog.Change{Kind: catalog.ChangeAll})
	}
}

// TestNetStateChangeAll: a policy change whose announcement was lost applies once the
// store announces ChangeAll, and the policy-change hooks run.
func TestNetStateChangeAll(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &mutedStore{DB: st}
	n, err := newNetState(ctx, s, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	var hooks atomic.Int64
	n.OnPolicyChange(func() { hooks.Add(1) })
	s.mute.Store(true)
	p := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.Enforced}
	if err := st.PutNetworkPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := n.Policy(); got.RestrictionMode == catalog.RestrictedAccess {
		t.Fatal("the muted change applied: the test proves nothing")
	}
	s.announceAll()
	if got := n.Policy(); got.RestrictionMode != catalog.RestrictedAccess {
		t.Errorf("after ChangeAll the policy is %+v, want the stored RESTRICTED_ACCESS one", got)
	}
	if hooks.Load() == 0 {
		t.Error("ChangeAll ran no policy-change hook")
	}
}
