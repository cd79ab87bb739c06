package authserver

import (
	"sync"
	"time"
)

// maxSources bounds the limiter's table; past it the table starts afresh (every
// address gets a full bucket), which a flood of addresses can only make more lenient
// for a moment, never unbounded in memory.
const maxSources = 10000

// limiter is a token bucket per source address.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

func (l *limiter) allow(source string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[source]
	if b == nil {
		if len(l.buckets) >= maxSources {
			l.buckets = make(map[string]*bucket)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[source] = b
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
