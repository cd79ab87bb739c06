package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// The network policy and the network events (docs/api.md, "Network policy"): the
// perimeter that decides which destinations any outbound connection may reach, and the
// log of what it refused.

// DestinationDNSName is the one internet_destination_type there is.
const DestinationDNSName = "DNS_NAME"

// NetworkPolicyInfo is the network policy as the API shows it (GET and PUT
// /api/2.0/gatehouse/network-policy). In a PUT, version is the version the caller read
// (0 when none is stored): a policy changed since is refused with 409, so that two admins
// cannot silently overwrite each other; leaving version out replaces whatever is
// stored. updated_at and updated_by are the server's to set; a PUT ignores them.
type NetworkPolicyInfo struct {
	RestrictionMode             string                `json:"restriction_mode"` // FULL_ACCESS or RESTRICTED_ACCESS
	EnforcementMode             string                `json:"enforcement_mode"` // ENFORCED or DRY_RUN
	AllowedInternetDestinations []InternetDestination `json:"allowed_internet_destinations"`
	BlockedInternetDestinations []InternetDestination `json:"blocked_internet_destinations"`
	AllowConnectionDestinations bool                  `json:"allow_connection_destinations"`
	AllowedIPRanges             []string              `json:"allowed_ip_ranges"`
	Version                     int64                 `json:"version"`
	UpdatedAt                   int64                 `json:"updated_at,omitempty"` // epoch ms
	UpdatedBy                   string                `json:"updated_by,omitempty"`
	// DevAllowedIPRanges are the ranges that `gatehouse server --dev` opens on top of
	// the stored policy while it runs (not stored; a PUT ignores them).
	DevAllowedIPRanges []string `json:"dev_allowed_ip_ranges,omitempty"`
}

// InternetDestination is one entry of a destination list: a DNS name, exact or a
// "*.example.com" wildcard. An empty type means DNS_NAME.
type InternetDestination struct {
	Destination             string `json:"destination"`
	InternetDestinationType string `json:"internet_destination_type"`
}

// NetworkEventInfo is a denial, or in DRY_RUN a denial let through, as the API shows it
// (GET /api/2.0/gatehouse/network-events).
type NetworkEventInfo struct {
	EventID         string `json:"event_id"`
	Time            int64  `json:"time"` // epoch ms
	Destination     string `json:"destination"`
	ResolvedAddress string `json:"resolved_address,omitempty"`
	Source          string `json:"source"` // proxy, oauth, egress
	Principal       string `json:"principal"`
	Connection      string `json:"connection,omitempty"`
	Reason          string `json:"reason"`
	AccessType      string `json:"access_type"` // DROP or DRY_RUN_DENIAL
}

// ListNetworkEventsResponse is one page of network events, oldest first.
type ListNetworkEventsResponse struct {
	Events        []NetworkEventInfo `json:"events"`
	NextPageToken string             `json:"next_page_token,omitempty"`
}

// putNetworkPolicyRequest is the body of a PUT: the policy, with version optional (the
// outer field hides the embedded one).
type putNetworkPolicyRequest struct {
	NetworkPolicyInfo
	Version *int64 `json:"version"`
}

// putNetworkPolicyAttempts bounds the retries of a PUT without a version that loses a
// race with another writer between reading the version and writing.
const putNetworkPolicyAttempts = 3

// getNetworkPolicy answers GET /api/2.0/gatehouse/network-policy, for metastore admins.
// With no policy stored it shows the default: FULL_ACCESS, ENFORCED, version 0.
func (s *Server) getNetworkPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, who); err != nil {
		return err
	}
	p, err := s.Store.GetNetworkPolicy(ctx)
	switch {
	case catalog.IsNotFound(err):
		p = &catalog.NetworkPolicy{}
	case err != nil:
		return err
	}
	names, err := s.principalNames(ctx, p.UpdatedBy)
	if err != nil {
		return err
	}
	info := networkPolicyInfo(p, names[0])
	info.DevAllowedIPRanges = s.DevIPRanges
	return ok(w, info)
}

// putNetworkPolicy answers PUT /api/2.0/gatehouse/network-policy, for metastore admins:
// it replaces the whole policy and answers the stored one. The policy is validated and
// normalized by s.NormalizePolicy (the egress package's rules) before it is stored, so
// that what is stored is what is enforced; absent modes mean FULL_ACCESS and ENFORCED.
func (s *Server) putNetworkPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, who); err != nil {
		return err
	}
	var req putNetworkPolicyRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	p, err := networkPolicyFromInfo(req.NetworkPolicyInfo)
	if err != nil {
		return err
	}
	note(r, "policy", networkPolicySummary(p))
	if s.NormalizePolicy != nil {
		if p, err = s.NormalizePolicy(p); err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("normalize network policy: no policy and no error")
		}
		note(r, "policy", networkPolicySummary(p))
	}
	p.UpdatedAt, p.UpdatedBy = s.Now(), who.Principal.ID

	if req.Version != nil {
		note(r, "version", strconv.FormatInt(*req.Version, 10))
		p.Version = *req.Version
		err = s.Store.PutNetworkPolicy(ctx, p)
	} else {
		err = s.putNetworkPolicyLatest(ctx, p)
	}
	if err != nil {
		return err
	}
	info := networkPolicyInfo(p, who.Principal.Name)
	info.DevAllowedIPRanges = s.DevIPRanges
	return ok(w, info)
}

// putNetworkPolicyLatest stores p over whatever version is stored: the caller gave no
// version to check against.
func (s *Server) putNetworkPolicyLatest(ctx context.Context, p *catalog.NetworkPolicy) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.Store.GetNetworkPolicy(ctx)
		switch {
		case catalog.IsNotFound(err):
			p.Version = 0
		case err != nil:
			return err
		default:
			p.Version = cur.Version
		}
		err = s.Store.PutNetworkPolicy(ctx, p)
		if !catalog.IsAlreadyExists(err) || attempt == putNetworkPolicyAttempts {
			return err
		}
	}
}

// networkPolicyFromInfo converts the API's policy to the catalog's, checking what the
// wire format itself requires: destination types and non-empty entries. The rest (mode
// names, DNS names, CIDRs) is NormalizePolicy's and the store's to check.
func networkPolicyFromInfo(in NetworkPolicyInfo) (*catalog.NetworkPolicy, error) {
	p := &catalog.NetworkPolicy{
		RestrictionMode:             in.RestrictionMode,
		EnforcementMode:             in.EnforcementMode,
		AllowConnectionDestinations: in.AllowConnectionDestinations,
	}
	if p.RestrictionMode == "" {
		p.RestrictionMode = catalog.FullAccess
	}
	if p.EnforcementMode == "" {
		p.EnforcementMode = catalog.Enforced
	}
	var err error
	if p.AllowedDestinations, err = destinationNames("allowed_internet_destinations", in.AllowedInternetDestinations); err != nil {
		return nil, err
	}
	if p.BlockedDestinations, err = destinationNames("blocked_internet_destinations", in.BlockedInternetDestinations); err != nil {
		return nil, err
	}
	for i, cidr := range in.AllowedIPRanges {
		if strings.TrimSpace(cidr) == "" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "allowed_ip_ranges[%d] is empty; want a CIDR such as 10.0.0.0/8", i)
		}
		p.AllowedIPRanges = append(p.AllowedIPRanges, cidr)
	}
	return p, nil
}

func destinationNames(field string, ds []InternetDestination) ([]string, error) {
	var out []string
	for i, d := range ds {
		if d.InternetDestinationType != "" && d.InternetDestinationType != DestinationDNSName {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d]: internet_destination_type %q is not supported; the only type is %s",
				field, i, truncateName(d.InternetDestinationType), DestinationDNSName)
		}
		if strings.TrimSpace(d.Destination) == "" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d]: destination is empty; want a DNS name such as api.example.com or *.example.com", field, i)
		}
		out = append(out, d.Destination)
	}
	return out, nil
}

// networkPolicyInfo is the API's view of p; updatedBy is the name of p.UpdatedBy. Empty
// modes (the zero policy) show as the defaults they mean, and empty lists as [].
func networkPolicyInfo(p *catalog.NetworkPolicy, updatedBy string) NetworkPolicyInfo {
	info := NetworkPolicyInfo{
		RestrictionMode:             p.RestrictionMode,
		EnforcementMode:             p.EnforcementMode,
		AllowedInternetDestinations: destinations(p.AllowedDestinations),
		BlockedInternetDestinations: destinations(p.BlockedDestinations),
		AllowConnectionDestinations: p.AllowConnectionDestinations,
		AllowedIPRanges:             append([]string{}, p.AllowedIPRanges...),
		Version:                     p.Version,
		UpdatedAt:                   msec(p.UpdatedAt),
		UpdatedBy:                   updatedBy,
	}
	if info.RestrictionMode == "" {
		info.RestrictionMode = catalog.FullAccess
	}
	if info.EnforcementMode == "" {
		info.EnforcementMode = catalog.Enforced
	}
	return info
}

func destinations(names []string) []InternetDestination {
	out := make([]InternetDestination, 0, len(names))
	for _, n := range names {
		out = append(out, InternetDestination{Destination: n, InternetDestinationType: DestinationDNSName})
	}
	return out
}

// networkPolicySummary is the audit record's short account of a policy: its modes and
// the size of each list (the lists themselves may be long).
func networkPolicySummary(p *catalog.NetworkPolicy) string {
	return fmt.Sprintf("%s %s allowed=%d blocked=%d ip_ranges=%d connection_destinations=%t",
		truncateName(p.RestrictionMode), truncateName(p.EnforcementMode), len(p.AllowedDestinations),
		len(p.BlockedDestinations), len(p.AllowedIPRanges), p.AllowConnectionDestinations)
}

// listNetworkEvents answers GET /api/2.0/gatehouse/network-events: denials and dry-run
// denials, oldest first, for metastore admins only (they name principals and where
// they tried to go).
//
// Query: since (inclusive) and until (exclusive), each epoch milliseconds or RFC 3339;
// source (proxy, oauth, egress), principal and access_type (DROP, DRY_RUN_DENIAL),
// exact matches; max_results (default 100, at most 1000); page_token, from the previous
// page's next_page_token.
func (s *Server) listNetworkEvents(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	q := r.URL.Query()
	lw, err := parseLogWindow(q)
	if err != nil {
		return err
	}
	f := catalog.NetworkEventFilter{Since: lw.since, Until: lw.until, AfterSeq: lw.afterSeq, Limit: lw.storeLimit(),
		Source: q.Get("source"), Principal: q.Get("principal")}
	f.AccessType = strings.ToUpper(q.Get("access_type"))
	if err := catalog.OneOf("access_type", f.AccessType, catalog.NetworkAccessTypes()); err != nil {
		return err
	}
	if err := catalog.OneOf("source", f.Source, catalog.NetworkSources()); err != nil {
		return err
	}
	events, err := s.Store.ListNetworkEvents(r.Context(), f)
	if err != nil {
		return err
	}
	var resp ListNetworkEventsResponse
	events, resp.NextPageToken = pageOf(lw, events, func(e *catalog.NetworkEvent) int64 { return e.Seq })
	resp.Events = make([]NetworkEventInfo, 0, len(events))
	for _, e := range events {
		resp.Events = append(resp.Events, networkEventInfo(e))
	}
	return ok(w, resp)
}

func networkEventInfo(e *catalog.NetworkEvent) NetworkEventInfo {
	return NetworkEventInfo{
		EventID:         strconv.FormatInt(e.Seq, 10),
		Time:            msec(e.Time),
		Destination:     e.Destination,
		ResolvedAddress: e.ResolvedAddress,
		Source:          e.Source,
		Principal:       e.Principal,
		Connection:      e.Connection,
		Reason:          e.Reason,
		AccessType:      e.AccessType,
	}
}
