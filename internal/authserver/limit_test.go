package authserver

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterSourcesAndFlood: one IPv6 /64 is one source, so changing the low bits does
// not win a new bucket; and a flood of distinct addresses past the table's bound shares
// one overflow bucket instead of emptying the table (which would give the flooder, and
// every source it shares the table with, a full bucket again).
func TestLimiterSourcesAndFlood(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(1, 2) // 1 request/s, burst 2

	// One /64: the burst, then refused, whatever the low 64 bits.
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
		if got, want := l.allow(ip, now), i < 2; got != want {
			t.Fatalf("request %d from %s: allowed %v, want %v", i, ip, got, want)
		}
	}

	// A victim spends its burst; then distinct IPv4 addresses fill the table (the /64
	// and the victim hold two places).
	l.allow("198.51.100.1", now)
	l.allow("198.51.100.1", now)
	for i := range maxSources - 2 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
	}
	// The table is full and nobody is idle: the victim keeps its empty bucket (the
	// flood did not reset it), and new addresses share one bucket of burst 2.
	if l.allow("198.51.100.1", now) {
		t.Error("the victim's spent bucket was refilled by a flood of other addresses")
	}
	allowed := 0
	for i := range 10 {
		if l.allow(fmt.Sprintf("203.0.113.%d", i), now) {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("new addresses past the bound: %d of 10 allowed, want 2 (one shared overflow bucket)", allowed)
	}
	if n := len(l.buckets); n > maxSources {
		t.Errorf("the table grew to %d sources, past its bound %d", n, maxSources)
	}

	// Once sources are idle (their buckets full again), a sweep forgets them and new
	// sources get buckets of their own.
	later := now.Add(10 * time.Second)
	if !l.allow("192.0.2.1", later) || !l.allow("192.0.2.1", later) {
		t.Error("a new source after the idle sources were swept did not get its own burst")
	}
	if l.allow("192.0.2.1", later) {
		t.Error("past its burst, the new source was still allowed")
	}
}
