package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const (
	clientNetworkPolicyPath = "/api/2.0/gatehouse/network-policy"
	clientNetworkEventsPath = "/api/2.0/gatehouse/network-events"
)

// GetNetworkPolicy returns the network policy (admins only); with none stored, the
// default: FULL_ACCESS, ENFORCED, version 0.
func (c *Client) GetNetworkPolicy(ctx context.Context) (*NetworkPolicyInfo, error) {
	var out NetworkPolicyInfo
	if err := c.do(ctx, http.MethodGet, clientNetworkPolicyPath, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutNetworkPolicy replaces the network policy (admins only) and returns the stored
// one. p.Version must be the version read (0 when none was stored): a policy changed
// since is a RESOURCE_ALREADY_EXISTS *APIError (409), and the caller reads it again.
func (c *Client) PutNetworkPolicy(ctx context.Context, p NetworkPolicyInfo) (*NetworkPolicyInfo, error) {
	p.UpdatedAt, p.UpdatedBy = 0, ""
	var out NetworkPolicyInfo
	if err := c.do(ctx, http.MethodPut, clientNetworkPolicyPath, nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NetworkEventsQuery selects network events; zero fields do not filter. Since is
// inclusive and Until exclusive, both sent as epoch milliseconds. MaxResults 0 and
// PageToken "" leave the choice to the server.
type NetworkEventsQuery struct {
	Since, Until time.Time
	Source       string // proxy, oauth, egress
	Principal    string
	AccessType   string // DROP or DRY_RUN_DENIAL
	MaxResults   int
	PageToken    string
}

func (q NetworkEventsQuery) values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	if !q.Until.IsZero() {
		v.Set("until", strconv.FormatInt(q.Until.UnixMilli(), 10))
	}
	for k, s := range map[string]string{"source": q.Source, "principal": q.Principal, "access_type": q.AccessType, "page_token": q.PageToken} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	return v
}

// ListNetworkEvents returns one page of network events, oldest first (admins only).
func (c *Client) ListNetworkEvents(ctx context.Context, q NetworkEventsQuery) (*ListNetworkEventsResponse, error) {
	var out ListNetworkEventsResponse
	if err := c.do(ctx, http.MethodGet, clientNetworkEventsPath, q.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllNetworkEvents follows next_page_token from q.PageToken on and returns every
// matching event, oldest first (admins only).
func (c *Client) ListAllNetworkEvents(ctx context.Context, q NetworkEventsQuery) ([]NetworkEventInfo, error) {
	var all []NetworkEventInfo
	seen := map[string]bool{}
	for {
		page, err := c.ListNetworkEvents(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
		if page.NextPageToken == "" {
			return all, nil
		}
		// A server that hands out the same token twice would keep us here forever.
		if seen[page.NextPageToken] {
			return nil, fmt.Errorf("list network events: server repeated page token")
		}
		seen[page.NextPageToken] = true
		q.PageToken = page.NextPageToken
	}
}
