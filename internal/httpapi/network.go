package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
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

// getNetworkPolicy answers GET /api/2.0/gatehouse/network-policy, for metastore admins.
// With no policy stored it shows the default: FULL_ACCESS, ENFORCED, version 0.
func (s *Server) getNetworkPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	v, err := s.Governance.GetNetworkPolicy(r.Context(), who.Principal)
	if err != nil {
		return err
	}
	return ok(w, networkPolicyInfo(v))
}

// putNetworkPolicy answers PUT /api/2.0/gatehouse/network-policy, for metastore admins:
// it replaces the whole policy and answers the stored one. governance validates and
// normalizes it (the egress package's rules) before it is stored, so that what is
// stored is what is enforced; absent modes mean FULL_ACCESS and ENFORCED.
func (s *Server) putNetworkPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	// The admin check comes before the body is read: a non-admin learns nothing from it.
	if err := s.requireAdmin(r.Context(), who); err != nil {
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
	var rec governance.Record
	v, err := s.Governance.PutNetworkPolicy(r.Context(), who.Principal, p, req.Version, &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	return ok(w, networkPolicyInfo(v))
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

// networkPolicyInfo is the API's view of a policy.
func networkPolicyInfo(v governance.NetworkPolicyView) NetworkPolicyInfo {
	p := v.Policy
	return NetworkPolicyInfo{
		RestrictionMode:             p.RestrictionMode,
		EnforcementMode:             p.EnforcementMode,
		AllowedInternetDestinations: destinations(p.AllowedDestinations),
		BlockedInternetDestinations: destinations(p.BlockedDestinations),
		AllowConnectionDestinations: p.AllowConnectionDestinations,
		AllowedIPRanges:             append([]string{}, p.AllowedIPRanges...),
		Version:                     p.Version,
		UpdatedAt:                   msec(p.UpdatedAt),
		UpdatedBy:                   v.UpdatedBy,
		DevAllowedIPRanges:          v.DevIPRanges,
	}
}

func destinations(names []string) []InternetDestination {
	out := make([]InternetDestination, 0, len(names))
	for _, n := range names {
		out = append(out, InternetDestination{Destination: n, InternetDestinationType: DestinationDNSName})
	}
	return out
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
	page, err := s.Governance.ListNetworkEvents(r.Context(), who.Principal, governance.NetworkEventQuery{LogWindow: lw,
		Source: q.Get("source"), Principal: q.Get("principal"), AccessType: q.Get("access_type")})
	if err != nil {
		return err
	}
	resp := ListNetworkEventsResponse{NextPageToken: page.NextPageToken, Events: make([]NetworkEventInfo, 0, len(page.Events))}
	for _, e := range page.Events {
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
