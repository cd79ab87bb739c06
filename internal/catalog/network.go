package catalog

import (
	"context"
	"time"
)

// Network policy modes (docs/api.md, "Network policy").
const (
	FullAccess       = "FULL_ACCESS"
	RestrictedAccess = "RESTRICTED_ACCESS"
	Enforced         = "ENFORCED"
	DryRun           = "DRY_RUN"
)

// Network event access types and sources.
const (
	AccessDrop         = "DROP"
	AccessDryRunDenial = "DRY_RUN_DENIAL"
	SourceProxy        = "proxy"
	SourceOAuth        = "oauth"
	SourceEgress       = "egress"
)

// NetworkPolicy is the perimeter: which destinations any outbound connection may reach,
// whoever the caller is. The zero value (no policy stored) is FULL_ACCESS, ENFORCED:
// every public destination, no private one.
type NetworkPolicy struct {
	// Version counts changes; PutNetworkPolicy with a stale Version fails.
	Version         int64
	RestrictionMode string // FULL_ACCESS or RESTRICTED_ACCESS
	EnforcementMode string // ENFORCED or DRY_RUN
	// AllowedDestinations are DNS names, exact or "*.example.com" wildcards, normalized
	// (lower case, no trailing dot, IDNs in punycode). Used in RESTRICTED_ACCESS.
	AllowedDestinations []string
	// BlockedDestinations win over everything.
	BlockedDestinations []string
	// AllowConnectionDestinations also allows, under RESTRICTED_ACCESS, the exact
	// host:port of each enabled connection, for calls through that connection and OAuth
	// calls (never for the egress proxy; see egress.ConnectionDestinations).
	AllowConnectionDestinations bool
	// AllowedIPRanges (CIDRs) open address ranges the safe dialer otherwise refuses
	// (loopback, private, link-local ...), deliberately, for private APIs and tests.
	AllowedIPRanges []string
	UpdatedAt       time.Time
	UpdatedBy       string // principal ID
}

// NetworkEvent is a denial (or, in DRY_RUN, a denial that was let through).
type NetworkEvent struct {
	Seq             int64
	Time            time.Time
	Destination     string // host:port as asked
	ResolvedAddress string // the IP the name resolved to, when it got that far
	Source          string // proxy, oauth, egress
	Principal       string // name
	Connection      string
	Reason          string
	AccessType      string // DROP or DRY_RUN_DENIAL
	// RequestID is the request the connection was for, when known. It goes into the
	// networkDenied audit event; the network log does not store it.
	RequestID string
}

// NetworkEventFilter selects network events (zero fields do not filter), oldest first
// after AfterSeq, at most Limit (default 100, at most 1000).
type NetworkEventFilter struct {
	Since, Until time.Time
	Source       string
	Principal    string
	AccessType   string
	AfterSeq     int64
	Limit        int
}

// NetworkStore keeps the network policy and the network events.
type NetworkStore interface {
	// GetNetworkPolicy returns the stored policy, or RESOURCE_DOES_NOT_EXIST when none
	// was ever stored (callers then use the zero policy).
	GetNetworkPolicy(ctx context.Context) (*NetworkPolicy, error)
	// PutNetworkPolicy replaces the policy if p.Version is the stored one (0 when none
	// is stored), incrementing p.Version; a stale Version is RESOURCE_ALREADY_EXISTS.
	// It announces ChangeNetworkPolicy.
	PutNetworkPolicy(ctx context.Context, p *NetworkPolicy) error
	// AppendNetworkEvents stores events in one transaction, assigning Seq.
	AppendNetworkEvents(ctx context.Context, events []*NetworkEvent) error
	ListNetworkEvents(ctx context.Context, f NetworkEventFilter) ([]*NetworkEvent, error)
}
