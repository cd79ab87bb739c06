package access

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/freshness"
)

// SetClock makes a's cache window use now (tests of the TTL).
func SetClock(a *Authorizer, now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fresh = freshness.New(a.store, now, 0)
	a.restamp()
}
