package httpapi

import (
	"net/url"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

// parseLogWindow reads what every event-log query shares: since and until (epoch ms or
// RFC 3339), max_results and page_token; a bad value is a 400 naming the parameter.
// governance checks the window and the token.
func parseLogWindow(q url.Values) (governance.LogWindow, error) {
	var lw governance.LogWindow
	var err error
	if lw.Since, err = parseAuditTime("since", q.Get("since")); err != nil {
		return lw, err
	}
	if lw.Until, err = parseAuditTime("until", q.Get("until")); err != nil {
		return lw, err
	}
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lw, catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
		}
		lw.MaxResults = n
	}
	lw.PageToken = q.Get("page_token")
	return lw, nil
}
