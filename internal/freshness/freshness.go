// Package freshness decides how long a cache over the catalog store may serve what it
// holds. Two things bound it: a short TTL (entries older than it are read again, in
// case a change announcement was lost without anyone noticing), and the store's cache
// epoch, which a shared store (internal/store/postgres) moves when it stops and starts
// hearing the other replicas' changes. While it is deaf no cache serves anything, and
// nothing loaded before it listened again is served after.
//
// A check costs one clock read and one atomic load: it is on the path of every request.
package freshness

import (
	"sync"
	"time"
)

// TTL is how long a cached entry is served at most without being read again.
const TTL = 5 * time.Second

// Epocher is implemented by stores whose change announcements can be interrupted. An
// odd epoch means the store is deaf (changes made elsewhere may go unannounced); the
// epoch moves to the next even number once it hears again, before it announces
// catalog.ChangeAll. Stores that see every change (SQLite) do not implement it.
type Epocher interface {
	CacheEpoch() uint64
}

// EpochOf returns the CacheEpoch of s, or a function that is always 0 when s does not
// implement Epocher.
func EpochOf(s any) func() uint64 {
	if e, ok := s.(Epocher); ok {
		return e.CacheEpoch
	}
	return func() uint64 { return 0 }
}

// Stamp is when an entry was read: take it before the read.
type Stamp struct {
	at    time.Time
	epoch uint64
}

// Clock takes stamps and judges them. The zero value is not usable; see New.
type Clock struct {
	now   func() time.Time
	epoch func() uint64
	ttl   time.Duration
}

// New returns a clock over the store s (see EpochOf) with the TTL; now nil is
// time.Now, ttl <= 0 is TTL.
func New(s any, now func() time.Time, ttl time.Duration) *Clock {
	if now == nil {
		now = time.Now
	}
	if ttl <= 0 {
		ttl = TTL
	}
	return &Clock{now: now, epoch: EpochOf(s), ttl: ttl}
}

// Stamp returns the stamp of a read that starts now.
func (c *Clock) Stamp() Stamp { return Stamp{at: c.now(), epoch: c.epoch()} }

// Fresh reports whether an entry stamped s may be served: the store is not deaf, has not
// been deaf since s, and s is younger than the TTL.
func (c *Clock) Fresh(s Stamp) bool {
	e := c.epoch()
	return e&1 == 0 && e == s.epoch && c.now().Sub(s.at) < c.ttl
}

// Window is a validity window for a cache that is dropped whole (rather than entry by
// entry): the owner checks Valid under its lock and, when it is false, drops
// everything and calls Restart. It is safe for concurrent use.
type Window struct {
	c     *Clock
	mu    sync.Mutex
	start Stamp
}

// NewWindow returns a window that starts now.
func NewWindow(c *Clock) *Window { return &Window{c: c, start: c.Stamp()} }

// Valid reports whether what the cache holds may still be served.
func (w *Window) Valid() bool {
	w.mu.Lock()
	s := w.start
	w.mu.Unlock()
	return w.c.Fresh(s)
}

// Restart starts a new window now: call it after dropping everything.
func (w *Window) Restart() {
	s := w.c.Stamp()
	w.mu.Lock()
	w.start = s
	w.mu.Unlock()
}
