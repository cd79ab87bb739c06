package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const clientAuditPath = "/api/2.0/gatehouse/audit"

// AuditQuery selects audit events; zero fields do not filter. Since is inclusive and
// Until exclusive, both sent as epoch milliseconds. MaxResults 0 and PageToken "" leave
// the choice to the server. Order is AuditOrderAsc (oldest first, "" too) or
// AuditOrderDesc (newest first).
type AuditQuery struct {
	Since, Until time.Time
	Principal    string
	Connection   string
	Action       string
	MaxResults   int
	PageToken    string
	Order        string
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	if !q.Until.IsZero() {
		v.Set("until", strconv.FormatInt(q.Until.UnixMilli(), 10))
	}
	for k, s := range map[string]string{"principal": q.Principal, "connection": q.Connection, "action": q.Action, "page_token": q.PageToken, "order": q.Order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	return v
}

// ListAudit returns one page of audit events, oldest first unless q.Order says
// otherwise (admins only).
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) (*ListAuditResponse, error) {
	var out ListAuditResponse
	if err := c.do(ctx, http.MethodGet, clientAuditPath, q.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllAudit follows next_page_token from q.PageToken on and returns every matching
// event, in q.Order (admins only).
func (c *Client) ListAllAudit(ctx context.Context, q AuditQuery) ([]AuditEventInfo, error) {
	var all []AuditEventInfo
	err := c.EachAuditPage(ctx, q, func(page []AuditEventInfo) error {
		all = append(all, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// EachAuditPage calls fn with each page of matching events, in q.Order, following
// next_page_token from q.PageToken on, until the last page or an error from fn; it
// keeps only one page in memory, for logs too long to hold whole.
func (c *Client) EachAuditPage(ctx context.Context, q AuditQuery, fn func([]AuditEventInfo) error) error {
	seen := map[string]bool{}
	for {
		page, err := c.ListAudit(ctx, q)
		if err != nil {
			return err
		}
		if err := fn(page.Events); err != nil {
			return err
		}
		if page.NextPageToken == "" {
			return nil
		}
		// A server that hands out the same token twice would keep us here forever.
		if seen[page.NextPageToken] {
			return fmt.Errorf("list audit events: server repeated page token")
		}
		seen[page.NextPageToken] = true
		q.PageToken = page.NextPageToken
	}
}

// VerifyAudit asks the server to verify the audit log's keyed hash chain (admins
// only); head, when not "", is a head saved from an earlier answer that the log must
// still contain.
func (c *Client) VerifyAudit(ctx context.Context, head string) (*VerifyAuditResponse, error) {
	q := url.Values{}
	if head != "" {
		q.Set("head", head)
	}
	var out VerifyAuditResponse
	if err := c.do(ctx, http.MethodGet, clientAuditPath+"/verify", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
