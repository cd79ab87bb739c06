package egress

import (
	"net/netip"
)

// addrClass is a range of addresses the dialer refuses unless an allowed_ip_ranges
// entry covers the address, and the name it is reported under.
type addrClass struct {
	prefix netip.Prefix
	name   string
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// deniedIPv4 are the IPv4 ranges that are not public unicast: an API on the internet
// never lives there, and an internal service, the host itself or a cloud metadata
// endpoint may. Order matters: the first match names the class.
var deniedIPv4 = []addrClass{
	{mustPrefix("0.0.0.0/8"), "unspecified (this network)"},
	{mustPrefix("10.0.0.0/8"), "RFC 1918 private"},
	{mustPrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
	{mustPrefix("127.0.0.0/8"), "loopback"},
	{mustPrefix("169.254.169.254/32"), "cloud metadata endpoint (link-local)"},
	{mustPrefix("169.254.0.0/16"), "link-local"},
	{mustPrefix("172.16.0.0/12"), "RFC 1918 private"},
	{mustPrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{mustPrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{mustPrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{mustPrefix("192.168.0.0/16"), "RFC 1918 private"},
	{mustPrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{mustPrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{mustPrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{mustPrefix("224.0.0.0/4"), "multicast"},
	{mustPrefix("255.255.255.255/32"), "broadcast"},
	{mustPrefix("240.0.0.0/4"), "reserved"},
}

// Special IPv6 ranges, checked in order after the ones that embed IPv4.
var (
	nat64WellKnown = mustPrefix("64:ff9b::/96")
	ipv4Compatible = mustPrefix("::/96")
	sixToFour      = mustPrefix("2002::/16")
	teredo         = mustPrefix("2001::/32")
	globalUnicast6 = mustPrefix("2000::/3")
)

var deniedIPv6 = []addrClass{
	{mustPrefix("::/128"), "unspecified"},
	{mustPrefix("::1/128"), "loopback"},
	{mustPrefix("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215), refused because its IPv4 embedding is site-specific"},
	{mustPrefix("100::/64"), "discard-only (RFC 6666)"},
	{mustPrefix("2001:db8::/32"), "documentation"},
	{mustPrefix("2001::/23"), "IETF protocol assignments"},
	{mustPrefix("3fff::/20"), "documentation"},
	{mustPrefix("fc00::/7"), "unique local (ULA)"},
	{mustPrefix("fe80::/10"), "link-local"},
	{mustPrefix("fec0::/10"), "site-local (deprecated)"},
	{mustPrefix("ff00::/8"), "multicast"},
}

// classify says why a is refused by default, or returns "" when a is a public unicast
// address. IPv4-mapped IPv6 is classified as the IPv4 address it is.
//
// IPv6 forms that carry an IPv4 address are decided by that address where the path to
// it is fixed: the well-known NAT64 prefix 64:ff9b::/96 is translated by the network's
// NAT64 gateway to exactly the embedded IPv4, so 64:ff9b::a00:5 is as private as
// 10.0.0.5 and 64:ff9b::102:304 as public as 1.2.3.4 (IPv6-only networks with DNS64
// need this). The other transition forms (IPv4-compatible ::/96, 6to4 2002::/16,
// Teredo 2001::/32, local-use NAT64 64:ff9b:1::/48) are deprecated or site-specific and
// are refused whatever they embed: nothing legitimate needs them, and where they lead
// depends on relays we cannot see.
func classify(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		for _, c := range deniedIPv4 {
			if c.prefix.Contains(a) {
				return c.name
			}
		}
		return ""
	}
	if !a.Is6() {
		return "invalid address"
	}
	if a.Zone() != "" {
		return "zoned address"
	}
	if nat64WellKnown.Contains(a) {
		v4 := embeddedIPv4(a, 12)
		if r := classify(v4); r != "" {
			return r + " (" + v4.String() + " embedded in NAT64 64:ff9b::/96)"
		}
		return ""
	}
	for _, c := range deniedIPv6[:2] { // :: and ::1 before the ::/96 they lie in
		if c.prefix.Contains(a) {
			return c.name
		}
	}
	switch {
	case ipv4Compatible.Contains(a):
		return "IPv4-compatible IPv6 (deprecated; embeds " + embeddedIPv4(a, 12).String() + "), refused as an IPv6 transition address"
	case teredo.Contains(a):
		return "Teredo (embeds a tunnelled IPv4 address), refused as an IPv6 transition address"
	case sixToFour.Contains(a):
		return "6to4 (embeds " + embeddedIPv4(a, 2).String() + "), refused as an IPv6 transition address"
	}
	for _, c := range deniedIPv6[2:] {
		if c.prefix.Contains(a) {
			return c.name
		}
	}
	if !globalUnicast6.Contains(a) {
		return "reserved IPv6 (outside global unicast 2000::/3)"
	}
	return ""
}

// embeddedIPv4 returns the four bytes of a starting at byte offset off.
func embeddedIPv4(a netip.Addr, off int) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[off], b[off+1], b[off+2], b[off+3]})
}

// nat64Embedded returns the IPv4 address inside a well-known-prefix NAT64 address.
func nat64Embedded(a netip.Addr) (netip.Addr, bool) {
	if a.Is6() && nat64WellKnown.Contains(a) {
		return embeddedIPv4(a, 12), true
	}
	return netip.Addr{}, false
}
