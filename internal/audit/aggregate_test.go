package audit_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// fakeClock is a clock that moves only when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// unauth is a failed authentication from ip.
func unauth(ip string, i int) *catalog.AuditEvent {
	return &catalog.AuditEvent{ActionName: catalog.ActionUseConnection, SourceIP: ip, RequestID: fmt.Sprintf("req-%d", i),
		Connection: "github", StatusCode: 401, ErrorCode: string(catalog.Unauthenticated), Decision: catalog.DecisionDeny,
		Params: map[string]string{"method": "GET"}}
}

// tally splits a log into events stored one by one and summaries, and sums the counts
// of the summaries per source.
func tally(t *testing.T, all []*catalog.AuditEvent) (single map[string]int, suppressed map[string]int, summaries int) {
	t.Helper()
	single, suppressed = map[string]int{}, map[string]int{}
	for _, e := range all {
		if e.Params[audit.SummaryParam] == "" {
			single[e.SourceIP]++
			continue
		}
		summaries++
		n, err := strconv.Atoi(e.Params["suppressed"])
		if err != nil || n <= 0 {
			t.Errorf("summary %+v has no positive count", e.Params)
		}
		suppressed[e.Params["source_ip"]] += n
		if e.Principal != "" || e.ActionName != catalog.ActionUseConnection || e.StatusCode != 401 ||
			e.ErrorCode != string(catalog.Unauthenticated) || e.Decision != catalog.DecisionDeny {
			t.Errorf("summary %+v does not describe the events it stands for", e)
		}
		if e.Params["window_start"] == "" || e.Params["window_end"] < e.Params["window_start"] {
			t.Errorf("summary window %q..%q", e.Params["window_start"], e.Params["window_end"])
		}
	}
	return single, suppressed, summaries
}

// TestAggregateUnauthenticatedBurst: events from one source without a principal past the
// burst are counted, not written; once the window is over one summary carries the
// exact count, so written + suppressed is what was recorded, and the chain holds.
func TestAggregateUnauthenticatedBurst(t *testing.T) {
	tests := []struct {
		name           string
		rate           float64
		burst, n       int
		wantSingle     int
		wantSuppressed int
	}{
		{"under the burst", 10, 20, 15, 15, 0},
		{"exactly the burst", 10, 20, 20, 20, 0},
		{"past the burst", 10, 20, 100, 20, 80},
		{"default burst is twice the rate", 5, 0, 50, 10, 40},
		{"thousands", 10, 20, 5000, 20, 4980},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			clock := newFakeClock()
			r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: tt.rate, UnauthenticatedBurst: tt.burst,
				UnauthenticatedWindow: time.Minute, SweepInterval: time.Hour})
			for i := range tt.n {
				r.Record(t.Context(), unauth("198.51.100.7", i))
			}
			flush(t, r)
			// The window is still open: nothing of the suppressed events is written yet.
			if single, _, sums := tally(t, listAll(t, db)); single["198.51.100.7"] != tt.wantSingle || sums != 0 {
				t.Errorf("before the window ends: %d written, %d summaries; want %d, 0", single["198.51.100.7"], sums, tt.wantSingle)
			}
			clock.Advance(time.Minute)
			flush(t, r)
			wantSums := 0
			if tt.wantSuppressed > 0 {
				wantSums = 1
			}
			all := wantIntact(t, db, tt.wantSingle+wantSums)
			single, suppressed, sums := tally(t, all)
			if single["198.51.100.7"] != tt.wantSingle || suppressed["198.51.100.7"] != tt.wantSuppressed || sums != wantSums {
				t.Errorf("%d events: %d written, %d suppressed in %d summaries; want %d, %d in %d",
					tt.n, single["198.51.100.7"], suppressed["198.51.100.7"], sums, tt.wantSingle, tt.wantSuppressed, wantSums)
			}
			if got := r.Stats().Suppressed; got != int64(tt.wantSuppressed) {
				t.Errorf("Stats().Suppressed = %d, want %d", got, tt.wantSuppressed)
			}
		})
	}
}

// TestAggregateRefills: the bucket refills at the rate, so a source that slows down to
// the rate has every event written.
func TestAggregateRefills(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 10, UnauthenticatedBurst: 5, SweepInterval: time.Hour})
	for i := range 5 {
		r.Record(t.Context(), unauth("198.51.100.7", i))
	}
	for i := range 30 { // at the rate: one every 100 ms
		clock.Advance(100 * time.Millisecond)
		r.Record(t.Context(), unauth("198.51.100.7", 5+i))
	}
	flush(t, r)
	wantIntact(t, db, 35)
	if got := r.Stats().Suppressed; got != 0 {
		t.Errorf("Suppressed = %d, want 0", got)
	}
}

// TestAggregateSourcesIndependent: one source past its rate does not cost another its
// events; an IPv6 /64 is one source.
func TestAggregateSourcesIndependent(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 1, UnauthenticatedBurst: 3, SweepInterval: time.Hour})
	for i := range 50 {
		r.Record(t.Context(), unauth("198.51.100.7", i))
		// Each event from its own address of one /64.
		r.Record(t.Context(), unauth(fmt.Sprintf("2001:db8:1:2::%x", i+1), i))
	}
	r.Record(t.Context(), unauth("203.0.113.9", 0))
	r.Record(t.Context(), unauth("203.0.113.9", 1))
	clock.Advance(time.Minute)
	flush(t, r)
	single, suppressed, sums := tally(t, wantIntact(t, db, 3+3+2+2))
	if single["198.51.100.7"] != 3 || suppressed["198.51.100.7"] != 47 {
		t.Errorf("198.51.100.7: %d written, %d suppressed; want 3, 47", single["198.51.100.7"], suppressed["198.51.100.7"])
	}
	v6 := 0
	for ip, n := range single {
		if len(ip) > 10 && ip[:10] == "2001:db8:1" {
			v6 += n
		}
	}
	if v6 != 3 || suppressed["2001:db8:1:2::/64"] != 47 {
		t.Errorf("2001:db8:1:2::/64: %d written, %d suppressed; want 3, 47 (summaries %v)", v6, suppressed["2001:db8:1:2::/64"], suppressed)
	}
	if single["203.0.113.9"] != 2 || suppressed["203.0.113.9"] != 0 || sums != 2 {
		t.Errorf("203.0.113.9: %d written, %d suppressed, %d summaries in all; want 2, 0, 2", single["203.0.113.9"], suppressed["203.0.113.9"], sums)
	}
}

// TestAggregateNeverAuthenticated: events with a principal, however many from one
// source, are each written; so are events of Gatehouse's own work (no source).
func TestAggregateNeverAuthenticated(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 1, UnauthenticatedBurst: 1, SweepInterval: time.Hour})
	for i := range 200 {
		e := unauth("198.51.100.7", i)
		e.Principal = "alice@example.com"
		r.Record(t.Context(), e)
		r.Record(t.Context(), &catalog.AuditEvent{ActionName: catalog.ActionOAuthRefresh, Connection: "github", Decision: catalog.DecisionAllow, StatusCode: 200})
	}
	clock.Advance(time.Hour)
	flush(t, r)
	wantIntact(t, db, 400)
	if got := r.Stats().Suppressed; got != 0 {
		t.Errorf("Suppressed = %d, want 0", got)
	}
}

// TestAggregateCloseFlushes: Close writes the summary of a window still open, so
// nothing counted is lost at shutdown.
func TestAggregateCloseFlushes(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	r, err := audit.New(db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 10, UnauthenticatedBurst: 2, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		r.Record(t.Context(), unauth("198.51.100.7", i))
		r.Record(t.Context(), unauth("198.51.100.8", i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	single, suppressed, sums := tally(t, wantIntact(t, db, 2+2+2))
	for _, ip := range []string{"198.51.100.7", "198.51.100.8"} {
		if single[ip] != 2 || suppressed[ip] != 38 {
			t.Errorf("%s: %d written, %d suppressed; want 2, 38", ip, single[ip], suppressed[ip])
		}
	}
	if sums != 2 || r.Stats().Lost != 0 {
		t.Errorf("%d summaries, %d lost; want 2, 0", sums, r.Stats().Lost)
	}
}

// TestAggregateSweepWritesWithoutFlush: the writer writes summaries of windows that are
// over by itself, on its sweep, with no further event and no Flush.
func TestAggregateSweepWritesWithoutFlush(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 1, UnauthenticatedBurst: 1,
		UnauthenticatedWindow: time.Second, SweepInterval: 5 * time.Millisecond})
	for i := range 10 {
		r.Record(t.Context(), unauth("198.51.100.7", i))
	}
	clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := listAll(t, db)
		if len(all) == 2 {
			if _, suppressed, _ := tally(t, all); suppressed["198.51.100.7"] != 9 {
				t.Errorf("suppressed %v, want 9 for 198.51.100.7", suppressed)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s the log holds %d events, want 2 (one written, one summary)", len(all))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAggregateSourceTableBounded: past MaxSources, new sources share one overflow
// bucket; the counts still add up, and sources that went quiet are forgotten so the
// table makes room again.
func TestAggregateSourceTableBounded(t *testing.T) {
	db, _ := openStore(t)
	clock := newFakeClock()
	const maxSources = 50
	r := newRecorder(t, db, nil, audit.Options{Now: clock.Now, UnauthenticatedRate: 1, UnauthenticatedBurst: 1,
		MaxSources: maxSources, SweepInterval: time.Hour})
	const sources = 1000
	for i := range sources {
		ip := fmt.Sprintf("10.%d.%d.1", i/256, i%256)
		r.Record(t.Context(), unauth(ip, 2*i))
		r.Record(t.Context(), unauth(ip, 2*i+1))
	}
	clock.Advance(time.Minute)
	flush(t, r)
	all := listAll(t, db)
	single, suppressed, _ := tally(t, all)
	written, counted := 0, 0
	for _, n := range single {
		written += n
	}
	for _, n := range suppressed {
		counted += n
	}
	// The first maxSources sources have 1 written and 1 suppressed each; the overflow
	// bucket lets one more event through and counts every other one.
	if written+counted != 2*sources {
		t.Errorf("%d written + %d suppressed = %d, want %d", written, counted, written+counted, 2*sources)
	}
	if written != maxSources+1 || suppressed["overflow"] != 2*(sources-maxSources)-1 {
		t.Errorf("%d written, %d in overflow; want %d, %d", written, suppressed["overflow"], maxSources+1, 2*(sources-maxSources)-1)
	}
	if len(all) > 2*maxSources+2 {
		t.Errorf("log holds %d events for %d sources, want at most %d", len(all), sources, 2*maxSources+2)
	}
	// The table has been swept: a new source has its own bucket again.
	r.Record(t.Context(), unauth("192.0.2.200", 0))
	r.Record(t.Context(), unauth("192.0.2.200", 1))
	clock.Advance(time.Minute)
	flush(t, r)
	single, suppressed, _ = tally(t, listAll(t, db))
	if single["192.0.2.200"] != 1 || suppressed["192.0.2.200"] != 1 {
		t.Errorf("new source after the sweep: %d written, %d suppressed; want 1, 1", single["192.0.2.200"], suppressed["192.0.2.200"])
	}
}
