package httpapi

import (
	"context"
	"net/http"
	"net/url"
)

// Workload identity federation (issue 12): the client side of the federation policy
// routes.

func federationPath(appID string) string {
	return "/api/2.0/gatehouse/service-principals/" + url.PathEscape(appID) + "/federation-policies"
}

// ListFederationPolicies lists the federation policies of the service principal appID.
func (c *Client) ListFederationPolicies(ctx context.Context, appID string) ([]FederationPolicyInfo, error) {
	var out struct {
		Policies []FederationPolicyInfo `json:"policies"`
	}
	if err := c.do(ctx, http.MethodGet, federationPath(appID), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Policies, nil
}

// GetFederationPolicy returns one federation policy.
func (c *Client) GetFederationPolicy(ctx context.Context, appID, id string) (*FederationPolicyInfo, error) {
	var out FederationPolicyInfo
	if err := c.do(ctx, http.MethodGet, federationPath(appID)+"/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateFederationPolicy adds a federation policy to the service principal appID.
func (c *Client) CreateFederationPolicy(ctx context.Context, appID string, req FederationPolicyRequest) (*FederationPolicyInfo, error) {
	var out FederationPolicyInfo
	if err := c.do(ctx, http.MethodPost, federationPath(appID), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateFederationPolicy changes the fields req sets.
func (c *Client) UpdateFederationPolicy(ctx context.Context, appID, id string, req FederationPolicyRequest) (*FederationPolicyInfo, error) {
	var out FederationPolicyInfo
	if err := c.do(ctx, http.MethodPatch, federationPath(appID)+"/"+url.PathEscape(id), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteFederationPolicy removes one federation policy.
func (c *Client) DeleteFederationPolicy(ctx context.Context, appID, id string) error {
	return c.do(ctx, http.MethodDelete, federationPath(appID)+"/"+url.PathEscape(id), nil, nil, nil)
}
