package httpapi

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Page sizes of the event-log reads (audit events, network events).
const (
	logDefaultPage = 100
	logMaxPage     = 1000
)

// logWindow is what every event-log query shares: a time window, a page size and the
// seq to continue after.
type logWindow struct {
	since, until time.Time
	afterSeq     int64
	limit        int // the page size the caller asked for
}

// parseLogWindow reads since and until (epoch ms or RFC 3339), max_results and
// page_token; a bad value is a 400 naming the parameter.
func parseLogWindow(q url.Values) (logWindow, error) {
	var lw logWindow
	var err error
	if lw.since, err = parseAuditTime("since", q.Get("since")); err != nil {
		return lw, err
	}
	if lw.until, err = parseAuditTime("until", q.Get("until")); err != nil {
		return lw, err
	}
	if !lw.since.IsZero() && !lw.until.IsZero() && !lw.until.After(lw.since) {
		return lw, catalog.Errorf(catalog.InvalidParameterValue, "until must be later than since")
	}
	lw.limit = logDefaultPage
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lw, catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
		}
		if n > 0 {
			lw.limit = min(n, logMaxPage)
		}
	}
	if v := q.Get("page_token"); v != "" {
		if lw.afterSeq, err = decodeAuditPageToken(v); err != nil {
			return lw, err
		}
	}
	return lw, nil
}

// storeLimit is the limit to ask the store for: one more than the page tells whether
// another page follows.
func (lw logWindow) storeLimit() int { return lw.limit + 1 }

// pageOf cuts events to the page and returns the token of the next page, if any. At the
// store's cap (1000) one more cannot be fetched, so a full page then always carries a
// token and the next page may come back empty.
func pageOf[T any](lw logWindow, events []T, seq func(T) int64) ([]T, string) {
	if len(events) > lw.limit || (len(events) == lw.limit && lw.storeLimit() > logMaxPage) {
		events = events[:lw.limit]
		return events, encodeAuditPageToken(seq(events[len(events)-1]))
	}
	return events, ""
}
