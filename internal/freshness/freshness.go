// Package freshness decides how long a cache over the catalog store may serve what it
// holds. Two things bound it: a short TTL (entries older than it are read again, in
// case a change announcement was lost without anyone noticing), and the store's cache
// epoch, which a shared store (internal/store/postgres) moves when it stops and starts
// hearing the other replicas' changes. While it is deaf no cache serves anything, and
// nothing loaded before it listened again is served after.
//
// A check costs two atomic loads (the store's epoch and a coarse clock that a
// goroutine moves every Resolution), no clock read: it is on the path of every request,
// and reading the clock is not cheap on every machine.
package freshness

import (
	"sync"
	"sync/atomic"
	"time"
)

// Resolution is how often the coarse clock moves: entries live TTL give or take it.
const Resolution = 100 * time.Millisecond

var (
	coarse     atomic.Int64 // Unix nanoseconds, moved every Resolution
	coarseOnce sync.Once
)

// coarseNanos reads the coarse clock.
func coarseNanos() int64 { return coarse.Load() }

// startCoarse starts the goroutine that moves the coarse clock (once per process; it
// runs for the life of the process).
func startCoarse() {
	coarseOnce.Do(func() {
		coarse.Store(time.Now().UnixNano())
		go func() {
			for t := range time.Tick(Resolution) {
				coarse.Store(t.UnixNano())
			}
		}()
	})
}

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
	at    int64 // Unix nanoseconds
	epoch uint64
}

// Clock takes stamps and judges them. The zero value is not usable; see New.
type Clock struct {
	nanos func() int64
	epoch func() uint64
	ttl   int64
}

// New returns a clock over the store s (see EpochOf) with the TTL; now nil is the
// coarse clock (the time give or take Resolution), ttl <= 0 is TTL. Callers whose own
// clock is injected only in tests pass it only then.
func New(s any, now func() time.Time, ttl time.Duration) *Clock {
	nanos := coarseNanos
	if now != nil {
		nanos = func() int64 { return now().UnixNano() }
	} else {
		startCoarse()
	}
	if ttl <= 0 {
		ttl = TTL
	}
	return &Clock{nanos: nanos, epoch: EpochOf(s), ttl: int64(ttl)}
}

// Stamp returns the stamp of a read that starts now.
func (c *Clock) Stamp() Stamp { return Stamp{at: c.nanos(), epoch: c.epoch()} }

// Fresh reports whether an entry stamped s may be served: the store is not deaf, has not
// been deaf since s, and s is younger than the TTL.
func (c *Clock) Fresh(s Stamp) bool {
	e := c.epoch()
	return e&1 == 0 && e == s.epoch && c.nanos()-s.at < c.ttl
}
