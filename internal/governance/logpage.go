package governance

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Page sizes of the event-log reads (audit events, network events).
const (
	LogDefaultPage = 100
	LogMaxPage     = 1000
)

// LogWindow is what every event-log query shares: a time window (Since inclusive,
// Until exclusive; zero is no bound), a page size (0 means LogDefaultPage; more than
// LogMaxPage is LogMaxPage) and the token of the page to continue from.
type LogWindow struct {
	Since, Until time.Time
	MaxResults   int
	PageToken    string
}

// logWindow is a checked LogWindow.
type logWindow struct {
	since, until time.Time
	afterSeq     int64
	limit        int // the page size the caller asked for
}

func (w LogWindow) check() (logWindow, error) {
	lw := logWindow{since: w.Since, until: w.Until, limit: LogDefaultPage}
	if !lw.since.IsZero() && !lw.until.IsZero() && !lw.until.After(lw.since) {
		return lw, catalog.Errorf(catalog.InvalidParameterValue, "until must be later than since")
	}
	if w.MaxResults < 0 {
		return lw, catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
	}
	if w.MaxResults > 0 {
		lw.limit = min(w.MaxResults, LogMaxPage)
	}
	if w.PageToken != "" {
		var err error
		if lw.afterSeq, err = decodePageToken(w.PageToken); err != nil {
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
	if len(events) > lw.limit || (len(events) == lw.limit && lw.storeLimit() > LogMaxPage) {
		events = events[:lw.limit]
		return events, encodePageToken(seq(events[len(events)-1]))
	}
	return events, ""
}

// The page token is opaque to clients: base64url of the last listed event's seq.
func encodePageToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodePageToken(v string) (int64, error) {
	bad := catalog.Errorf(catalog.InvalidParameterValue, "page_token is not one this server issued")
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) > 20 {
		return 0, bad
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq <= 0 {
		return 0, bad
	}
	return seq, nil
}
