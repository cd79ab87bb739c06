package console

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(route{"GET /audit", (*Console).auditLog})
}

// auditPageSize is how many records one audit page shows.
const auditPageSize = 50

// formTime is the format of an <input type="datetime-local">, read as UTC.
const formTime = "2006-01-02T15:04"

// auditFilters are the audit page's filters, as the query string carries them.
type auditFilters struct {
	Since, Until, Principal, Connection, Action, Decision string
}

type auditRow struct {
	E      *catalog.AuditEvent
	Time   string
	Params []param
}

type param struct{ K, V string }

type auditData struct {
	F          auditFilters
	Actions    []string
	Decisions  []string
	Rows       []auditRow
	NextURL    string
	FirstURL   string
	Paged      bool
	Verify     *governance.AuditVerification
	VerifyErr  string
	VerifyHead string
}

// auditLog shows the audit log, newest first, a page at a time, with filters (time,
// principal, connection, action, decision) and, on request, the result of verifying
// the hash chain (it reads the whole log, so it is not run on every view). Admins only,
// as in the API.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	d := &auditData{Actions: catalog.AuditActions(), Decisions: governance.AuditDecisions(),
		F: auditFilters{Since: q.Get("since"), Until: q.Get("until"), Principal: q.Get("principal"), Connection: q.Get("connection"),
			Action: q.Get("action"), Decision: q.Get("decision")}}
	sort.Strings(d.Actions)
	aq := governance.AuditQuery{LogWindow: governance.LogWindow{MaxResults: auditPageSize, PageToken: q.Get("page_token")},
		Principal: strings.TrimSpace(d.F.Principal), Connection: strings.TrimSpace(d.F.Connection), Action: d.F.Action, Decision: d.F.Decision,
		Order: governance.AuditOrderDesc}
	var err error
	if aq.Since, err = parseFormTime("From", d.F.Since); err == nil {
		aq.Until, err = parseFormTime("To", d.F.Until)
	}
	p := &page{Title: "Audit log", Nav: "audit", Data: d}
	if err == nil {
		var res governance.AuditPage
		res, err = c.d.Gov.ListAudit(r.Context(), v.P, aq)
		if err == nil {
			for _, e := range res.Events {
				d.Rows = append(d.Rows, auditRow{E: e, Time: e.EventTime.UTC().Format("2006-01-02 15:04:05 UTC"), Params: sortedParams(e.Params)})
			}
			base := d.F.query()
			if res.NextPageToken != "" {
				base.Set("page_token", res.NextPageToken)
				d.NextURL = "/audit?" + base.Encode()
			}
			if q.Get("page_token") != "" {
				d.Paged, d.FirstURL = true, "/audit?"+d.F.query().Encode()
			}
		}
	}
	if err != nil {
		var ce *catalog.Error
		if errors.As(err, &ce) && ce.Code == catalog.PermissionDenied {
			c.fail(w, r, v, err)
			return
		}
		p.Error = c.errMessage(r, err)
	}
	if q.Get("verify") != "" {
		d.VerifyHead = strings.TrimSpace(q.Get("head"))
		res, err := c.d.Gov.VerifyAudit(r.Context(), v.P, d.VerifyHead)
		if err != nil {
			d.VerifyErr = c.errMessage(r, err)
		} else {
			d.Verify = &res
		}
	}
	c.render(w, r, http.StatusOK, v, "audit.html", p)
}

// query is the filters as a query string (empty ones left out).
func (f auditFilters) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"since": f.Since, "until": f.Until, "principal": f.Principal, "connection": f.Connection,
		"action": f.Action, "decision": f.Decision} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// parseFormTime reads a datetime-local value as UTC; "" is no bound.
func parseFormTime(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{formTime, formTime + ":05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, catalog.Errorf(catalog.InvalidParameterValue, "%s must be a date and time such as 2026-03-14T15:09 (UTC)", field)
}

func sortedParams(m map[string]string) []param {
	out := make([]param, 0, len(m))
	for k, v := range m {
		out = append(out, param{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}
