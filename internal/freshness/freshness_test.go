package freshness

import (
	"sync/atomic"
	"testing"
	"time"
)

type epochs struct{ e atomic.Uint64 }

func (s *epochs) CacheEpoch() uint64 { return s.e.Load() }

func TestFresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name   string
		change func(s *epochs)
		after  time.Duration
		want   bool
	}{
		{"just read", func(*epochs) {}, 0, true},
		{"just within the TTL", func(*epochs) {}, TTL - time.Nanosecond, true},
		{"at the TTL", func(*epochs) {}, TTL, false},
		{"store deaf", func(s *epochs) { s.e.Add(1) }, 0, false},
		{"store heard again since", func(s *epochs) { s.e.Add(2) }, 0, false},
		{"clock moved back", func(*epochs) {}, -time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s := &epochs{}
			s.e.Store(4)
			c := New(s, clock, 0)
			st := c.Stamp()
			tc.change(s)
			now = now.Add(tc.after)
			if got := c.Fresh(st); got != tc.want {
				t.Errorf("Fresh = %v, want %v", got, tc.want)
			}
		})
	}
}

// A stamp taken while the store is deaf is never fresh, not even once it hears again.
func TestStampWhileDeaf(t *testing.T) {
	s := &epochs{}
	s.e.Store(3)
	c := New(s, nil, time.Hour)
	st := c.Stamp()
	if c.Fresh(st) {
		t.Error("a stamp of a deaf store is fresh")
	}
	s.e.Add(1)
	if c.Fresh(st) {
		t.Error("a stamp taken while deaf is fresh after the store hears again")
	}
	if !c.Fresh(c.Stamp()) {
		t.Error("a stamp taken after the store hears again is not fresh")
	}
}

// A store that cannot be deaf (no CacheEpoch) is bounded by the TTL only.
func TestNoEpocher(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(struct{}{}, func() time.Time { return now }, 2*time.Second)
	st := c.Stamp()
	now = now.Add(time.Second)
	if !c.Fresh(st) {
		t.Error("not fresh within the TTL")
	}
	now = now.Add(time.Second)
	if c.Fresh(st) {
		t.Error("fresh at the TTL")
	}
	if New(nil, nil, 0).ttl != int64(TTL) {
		t.Error("the default TTL is not TTL")
	}
}

func BenchmarkFresh(b *testing.B) {
	c := New(&epochs{}, nil, 0)
	st := c.Stamp()
	for b.Loop() {
		if !c.Fresh(st) {
			b.Fatal("not fresh")
		}
	}
}

// The coarse clock (no clock given) moves: an entry it stamped stops being fresh once
// the TTL has passed, give or take Resolution. A coarse clock that stood still would
// serve entries forever.
func TestCoarseClockMoves(t *testing.T) {
	const ttl = 2 * Resolution
	c := New(&epochs{}, nil, ttl)
	st := c.Stamp()
	if !c.Fresh(st) {
		t.Fatal("a stamp just taken is not fresh")
	}
	deadline := time.Now().Add(ttl + 10*Resolution)
	for c.Fresh(st) {
		if time.Now().After(deadline) {
			t.Fatalf("still fresh %v after the stamp, with a TTL of %v: the coarse clock does not move", 10*Resolution+ttl, ttl)
		}
		time.Sleep(Resolution / 4)
	}
	if coarseNanos() <= st.at {
		t.Errorf("coarse clock at %d, not after the stamp's %d", coarseNanos(), st.at)
	}
}
