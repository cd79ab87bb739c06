package audit

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Defaults of the aggregation of unauthenticated events (Options).
const (
	DefaultUnauthenticatedRate   = 10.0
	DefaultUnauthenticatedWindow = time.Minute
	DefaultMaxSources            = 10000
	DefaultSweepInterval         = time.Second
)

// SummaryParam marks a summary event: its value is "unauthenticated". The other params
// of a summary are "suppressed" (how many events it stands for, in decimal),
// "source_ip" (the source it counts: an IPv4 address, an IPv6 /64 prefix, or
// "overflow" for the sources past the table's bound), "window_start" and
// "window_end" (RFC 3339 with milliseconds, UTC: the first suppressed event and the
// summary's writing). When the suppressed events were not all alike, "mixed" is "true"
// and the status and error code are left empty.
const SummaryParam = "summary"

// overflowKey names the bucket shared by the sources past MaxSources.
const overflowKey = "overflow"

// maxVariants bounds the kinds of events (action, status, error code, decision) counted
// apart for one source; further kinds are counted together as "mixed".
const maxVariants = 8

// variant is what the events one summary stands for have in common.
type variant struct {
	action, errorCode, decision string
	status                      int
	mixed                       bool
}

// source is the rate state of one source address and what it has had suppressed.
type source struct {
	tokens  float64   // events it may still have written at once
	last    time.Time // when tokens was last refilled
	start   time.Time // first suppressed event of the open window; zero if none
	pending map[variant]int64
}

// aggregator decides, per source address, whether an unauthenticated event is written
// or only counted, and turns the counts into summary events. A token bucket per source
// (rate per second, burst) lets a normal client's failures through one by one; past it
// the events are counted, and when the window that began with the first counted event
// has lasted window, one summary per kind of event carries the count. The table of
// sources holds at most maxSources; past that, new sources share one overflow bucket.
// Sources with nothing pending and a full bucket are forgotten at each sweep.
type aggregator struct {
	rate, burst float64
	window      time.Duration
	maxSources  int

	mu       sync.Mutex
	sources  map[string]*source
	overflow *source
	// suppressed counts every event counted instead of written, for Stats.
	suppressed int64
}

func newAggregator(rate float64, burst int, window time.Duration, maxSources int) *aggregator {
	return &aggregator{rate: rate, burst: float64(burst), window: window, maxSources: maxSources,
		sources: make(map[string]*source)}
}

// unauthenticated reports whether e is an event of a caller that no one could identify:
// no principal, but a source address (events of Gatehouse's own work, such as a
// background token refresh, have neither and are never aggregated).
func unauthenticated(e *catalog.AuditEvent) bool {
	return e.Principal == "" && e.SourceIP != ""
}

// admit reports whether e, an unauthenticated event, is to be written; if not, it has
// been counted for a summary.
func (g *aggregator) admit(e *catalog.AuditEvent, now time.Time) bool {
	key := catalog.SourceKey(e.SourceIP)
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[key]
	if s == nil {
		if len(g.sources) < g.maxSources {
			s = &source{tokens: g.burst, last: now}
			g.sources[key] = s
		} else {
			if g.overflow == nil {
				g.overflow = &source{tokens: g.burst, last: now}
			}
			s = g.overflow
		}
	}
	if now.After(s.last) {
		s.tokens = math.Min(g.burst, s.tokens+now.Sub(s.last).Seconds()*g.rate)
		s.last = now
	}
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	if s.start.IsZero() {
		s.start = now
		s.pending = make(map[variant]int64, 1)
	}
	v := variant{action: e.ActionName, errorCode: e.ErrorCode, decision: e.Decision, status: e.StatusCode}
	if _, ok := s.pending[v]; !ok && len(s.pending) >= maxVariants {
		v = variant{action: e.ActionName, decision: e.Decision, mixed: true}
	}
	s.pending[v]++
	g.suppressed++
	return false
}

// sweep returns the summaries of the windows that have lasted the window by now (every
// open window when all is set), and forgets the sources that have nothing pending and
// a full bucket.
func (g *aggregator) sweep(now time.Time, all bool) []*catalog.AuditEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*catalog.AuditEvent
	for key, s := range g.sources {
		out = g.close(out, key, s, now, all)
		if s.start.IsZero() && s.tokens+now.Sub(s.last).Seconds()*g.rate >= g.burst {
			delete(g.sources, key)
		}
	}
	if g.overflow != nil {
		out = g.close(out, overflowKey, g.overflow, now, all)
		if g.overflow.start.IsZero() && g.overflow.tokens+now.Sub(g.overflow.last).Seconds()*g.rate >= g.burst {
			g.overflow = nil
		}
	}
	return out
}

// close appends the summaries of s's window to out if it is over (or all is set) and
// resets it.
func (g *aggregator) close(out []*catalog.AuditEvent, key string, s *source, now time.Time, all bool) []*catalog.AuditEvent {
	if s.start.IsZero() || (!all && now.Sub(s.start) < g.window) {
		return out
	}
	ip := key
	if key == overflowKey {
		ip = ""
	}
	for v, n := range s.pending {
		e := &catalog.AuditEvent{
			EventID: catalog.NewID(), EventTime: now, ActionName: v.action, SourceIP: ip,
			StatusCode: v.status, ErrorCode: v.errorCode, Decision: v.decision,
			Params: map[string]string{
				SummaryParam:   "unauthenticated",
				"suppressed":   strconv.FormatInt(n, 10),
				"source_ip":    key,
				"window_start": s.start.UTC().Format(summaryTime),
				"window_end":   now.UTC().Format(summaryTime),
			},
		}
		if v.mixed {
			e.Params["mixed"] = "true"
		}
		out = append(out, prepare(e))
	}
	s.start, s.pending = time.Time{}, nil
	return out
}

const summaryTime = "2006-01-02T15:04:05.000Z07:00"

func (g *aggregator) suppressedCount() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.suppressed
}
