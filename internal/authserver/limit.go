package authserver

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// maxSources bounds the limiter's table. Past it, new sources share one overflow
// bucket until idle sources (whose buckets have filled up again) are forgotten: a flood
// of addresses can neither grow the table nor win back full buckets for everyone, the
// flooder included.
const maxSources = 10000

// sweepEvery is how often a full table may be swept for idle sources, so that a flood
// of new addresses costs one pass over the table per interval, not one per request.
const sweepEvery = time.Second

// limiter is a token bucket per source (catalog.SourceKey: an IPv4 address or an IPv6
// /64, the unit the audit log's limit counts too).
type limiter struct {
	rate  float64
	burst float64

	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow *bucket
	swept    time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

func (l *limiter) allow(source string, now time.Time) bool {
	key := catalog.SourceKey(source)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxSources && now.Sub(l.swept) >= sweepEvery {
			l.sweep(now)
		}
		switch {
		case len(l.buckets) < maxSources:
			b = &bucket{tokens: l.burst, at: now}
			l.buckets[key] = b
		case l.overflow != nil:
			b = l.overflow
		default:
			l.overflow = &bucket{tokens: l.burst, at: now}
			b = l.overflow
		}
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the sources whose buckets are full again by now: forgetting them
// changes nothing for them, since a new bucket starts full.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
