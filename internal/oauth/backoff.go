package oauth

import (
	"math/rand/v2"
	"time"
)

// Backoff bounds for Backoff.
const (
	BackoffBase = 200 * time.Millisecond
	BackoffCap  = 30 * time.Second
)

// Backoff is how long to wait before retry number attempt (0 for the first retry)
// after a ClassDegraded failure: capped exponential backoff with full jitter, a
// uniformly random duration in [0, min(BackoffCap, BackoffBase·2^attempt)), so that
// many replicas retrying one provider spread out instead of arriving together.
func Backoff(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	ceiling := BackoffCap
	if attempt < 16 { // 200ms·2^16 is far past the cap; avoid overflow beyond it
		if d := BackoffBase << attempt; d < BackoffCap {
			ceiling = d
		}
	}
	return rand.N(ceiling)
}
