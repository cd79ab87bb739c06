package egress

import "net/netip"

// DevIPRanges are the ranges that `gatehouse server --dev` opens in the dialer's view of
// the policy (never in the stored policy): loopback and the private ranges, where a
// laptop's test APIs listen. Link-local (cloud metadata) and the other refused classes
// stay refused.
var DevIPRanges = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

var devPrefixes = func() []netip.Prefix {
	ps := make([]netip.Prefix, len(DevIPRanges))
	for i, s := range DevIPRanges {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}()

// inDevRange reports whether a lies in one of DevIPRanges.
func inDevRange(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range devPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// literalFix is the fix named to a caller refused an address it gave itself (an IP
// literal): the one range that opens exactly it. "" when the address is
// not one a deployment opens on purpose (cloud metadata, multicast ...), or invalid (the
// zero Addr: refused as Gatehouse's own listener, which no range opens).
func literalFix(a netip.Addr) string {
	if !a.IsValid() || !inDevRange(a) {
		return ""
	}
	a = a.Unmap()
	return "; to open it: gatehouse network set --allow-ip-range " + netip.PrefixFrom(a, a.BitLen()).String() + " (or, on a laptop, gatehouse server --dev)"
}

// nameFix is the fix named to a caller refused a name for its addresses. It is the same
// whatever the addresses are, so that it betrays neither them nor their class.
const nameFix = "; for a private API, an admin opens its range with gatehouse network set --allow-ip-range CIDR (or, on a laptop, gatehouse server --dev)"
