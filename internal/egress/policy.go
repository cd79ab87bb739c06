package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Field names as the HTTP API spells them, for error messages.
const (
	fieldRestrictionMode = "restriction_mode"
	fieldEnforcementMode = "enforcement_mode"
	fieldAllowed         = "allowed_internet_destinations"
	fieldBlocked         = "blocked_internet_destinations"
	fieldRanges          = "allowed_ip_ranges"
)

// NormalizePolicy validates a network policy given by an admin and returns it
// normalized (p is not changed): empty modes become FULL_ACCESS and ENFORCED;
// destinations are lower case, without trailing dot, IDNs in punycode, deduplicated and
// sorted; allowed IP ranges are masked CIDRs (a bare IP is a /32 or /128), IPv4-mapped
// ones written as IPv4, deduplicated and sorted. A nil p is the zero policy.
//
// A destination is an exact DNS name or a "*.suffix" wildcard that matches names below
// suffix (not suffix itself). IP literals are refused there (ranges belong in
// allowed_ip_ranges), and so is an allowed wildcard whose suffix is a public suffix
// ("*.com", "*.co.uk", "*.github.io"): it would open every site anyone can register
// under it. A blocked wildcard may name a public suffix, since blocking a whole TLD is
// a meaningful (and only ever narrowing) choice.
//
// Errors are *catalog.Error INVALID_PARAMETER_VALUE naming the field and the entry.
func NormalizePolicy(p *catalog.NetworkPolicy) (*catalog.NetworkPolicy, error) {
	out := &catalog.NetworkPolicy{}
	if p != nil {
		*out = *p
	}
	switch out.RestrictionMode {
	case "":
		out.RestrictionMode = catalog.FullAccess
	case catalog.FullAccess, catalog.RestrictedAccess:
	default:
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s must be %s or %s, not %q",
			fieldRestrictionMode, catalog.FullAccess, catalog.RestrictedAccess, out.RestrictionMode)
	}
	switch out.EnforcementMode {
	case "":
		out.EnforcementMode = catalog.Enforced
	case catalog.Enforced, catalog.DryRun:
	default:
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s must be %s or %s, not %q",
			fieldEnforcementMode, catalog.Enforced, catalog.DryRun, out.EnforcementMode)
	}
	var err error
	if out.AllowedDestinations, err = normalizeDestinations(fieldAllowed, out.AllowedDestinations, true); err != nil {
		return nil, err
	}
	if out.BlockedDestinations, err = normalizeDestinations(fieldBlocked, out.BlockedDestinations, false); err != nil {
		return nil, err
	}
	if out.AllowedIPRanges, err = normalizeRanges(out.AllowedIPRanges); err != nil {
		return nil, err
	}
	return out, nil
}

func normalizeDestinations(field string, in []string, allow bool) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(in))
	for i, d := range in {
		n, reason := normalizeDestination(d, allow)
		if reason != "" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d] %s: %s", field, i, displayHost(d), reason)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// normalizeDestination normalizes one destination entry, or says why it is refused.
// With allow, a wildcard over a public suffix is refused.
func normalizeDestination(d string, allow bool) (string, string) {
	d = strings.TrimSpace(d)
	wildcard := strings.HasPrefix(d, "*.")
	if wildcard {
		d = d[2:]
	}
	if strings.ContainsRune(d, '*') {
		return "", "only a single leading \"*.\" wildcard is allowed"
	}
	name, ip, reason := normalizeHost(d)
	if reason != "" {
		return "", reason
	}
	if ip.IsValid() {
		return "", "IP addresses are not destinations; put address ranges in " + fieldRanges
	}
	if !wildcard {
		return name, ""
	}
	if allow {
		if ps, _ := publicsuffix.PublicSuffix(name); ps == name {
			return "", fmt.Sprintf("%q is a public suffix: the wildcard would allow every site registered under it; name the registered domain (*.example.%s)", name, name)
		}
	}
	return "*." + name, ""
}

func normalizeRanges(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	ps := make([]netip.Prefix, 0, len(in))
	for i, r := range in {
		p, reason := parseRange(r)
		if reason != "" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d] %s: %s", fieldRanges, i, displayHost(r), reason)
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps, comparePrefix)
	ps = slices.Compact(ps)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// parseRange parses a CIDR or a bare IP into a masked prefix; an IPv4-mapped IPv6
// prefix of at least /96 becomes the IPv4 prefix it is, because addresses are unmapped
// before they are compared with it.
func parseRange(s string) (netip.Prefix, string) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.ContainsRune(s, '/') {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, "not a CIDR range (like 10.0.0.0/8 or fd00::/8)"
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, "not an IP address or CIDR range"
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, ""
}

// rules is a policy compiled for decisions. Compiling never fails: an entry that does
// not normalize (a policy stored without NormalizePolicy) is dropped from the allowed
// lists and kept as an exact lower-case name in the blocked list, so a bad entry can
// only ever narrow what is reachable.
type rules struct {
	restricted bool
	dryRun     bool
	allowConn  bool
	allowed    matcher
	blocked    matcher
	ranges     []netip.Prefix
}

// matcher matches names against exact names and "*.suffix" wildcards.
type matcher struct {
	exact    map[string]bool
	suffixes map[string]bool // "partner.test" for "*.partner.test"
}

func (m *matcher) add(pattern string) {
	if s, ok := strings.CutPrefix(pattern, "*."); ok {
		if m.suffixes == nil {
			m.suffixes = map[string]bool{}
		}
		m.suffixes[s] = true
		return
	}
	if m.exact == nil {
		m.exact = map[string]bool{}
	}
	m.exact[pattern] = true
}

// match returns the pattern that name matches, or "". A wildcard "*.partner.test"
// matches a.partner.test and a.b.partner.test, never partner.test itself, nor
// evilpartner.test or partner.test.evil: only whole labels are compared.
func (m *matcher) match(name string) string {
	if m.exact[name] {
		return name
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' && m.suffixes[name[i+1:]] {
			return "*." + name[i+1:]
		}
	}
	return ""
}

func compile(p *catalog.NetworkPolicy) *rules {
	r := &rules{}
	if p == nil {
		return r
	}
	// Unknown modes fail closed: restricted and enforced.
	r.restricted = p.RestrictionMode != "" && p.RestrictionMode != catalog.FullAccess
	r.dryRun = p.EnforcementMode == catalog.DryRun
	r.allowConn = p.AllowConnectionDestinations
	for _, d := range p.AllowedDestinations {
		if n, reason := normalizeDestination(d, true); reason == "" {
			r.allowed.add(n)
		}
	}
	for _, d := range p.BlockedDestinations {
		n, reason := normalizeDestination(d, false)
		if reason != "" {
			n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		}
		r.blocked.add(n)
	}
	for _, s := range p.AllowedIPRanges {
		if pr, reason := parseRange(s); reason == "" {
			r.ranges = append(r.ranges, pr)
		}
	}
	return r
}

// rangeAllows reports whether an allowed_ip_ranges entry covers a (unmapped), or, for a
// well-known NAT64 address, the IPv4 address it leads to.
func (r *rules) rangeAllows(a netip.Addr) bool {
	a = a.Unmap()
	v4, nat64 := nat64Embedded(a)
	for _, p := range r.ranges {
		if p.Contains(a) || nat64 && p.Contains(v4) {
			return true
		}
	}
	return false
}

// addrReason says why a is refused, or "" when it may be dialed (policy-wise; the own
// listener rule is separate).
func (r *rules) addrReason(a netip.Addr) string {
	if r.rangeAllows(a) {
		return ""
	}
	return classify(a)
}

func policyEqual(a, b *catalog.NetworkPolicy) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.RestrictionMode == b.RestrictionMode &&
		a.EnforcementMode == b.EnforcementMode &&
		a.AllowConnectionDestinations == b.AllowConnectionDestinations &&
		slices.Equal(a.AllowedDestinations, b.AllowedDestinations) &&
		slices.Equal(a.BlockedDestinations, b.BlockedDestinations) &&
		slices.Equal(a.AllowedIPRanges, b.AllowedIPRanges)
}

func clonePolicy(p *catalog.NetworkPolicy) *catalog.NetworkPolicy {
	if p == nil {
		return nil
	}
	c := *p
	c.AllowedDestinations = slices.Clone(p.AllowedDestinations)
	c.BlockedDestinations = slices.Clone(p.BlockedDestinations)
	c.AllowedIPRanges = slices.Clone(p.AllowedIPRanges)
	return &c
}
