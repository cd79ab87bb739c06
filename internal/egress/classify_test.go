package egress

import (
	"net/netip"
	"strings"
	"testing"
)

// TestClassify is the permanent table of SSRF addresses: each must be refused by
// default, with a reason naming its class. Add to it with every bug.
func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want string // part of the reason; "" means public
	}{
		// Public.
		{"1.2.3.4", ""},
		{"8.8.8.8", ""},
		{"93.184.215.14", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.1", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"::ffff:1.2.3.4", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::200e", ""},
		{"64:ff9b::102:304", ""}, // NAT64 of 1.2.3.4

		// IPv4 classes.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"10.0.0.5", "RFC 1918 private"},
		{"10.255.255.255", "RFC 1918 private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.100.100.200", "carrier-grade NAT"}, // Alibaba Cloud metadata
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "cloud metadata"},
		{"169.254.1.1", "link-local"},
		{"172.16.0.1", "RFC 1918 private"},
		{"172.31.255.255", "RFC 1918 private"},
		{"192.0.0.8", "IETF protocol assignments"},
		{"192.0.2.1", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "RFC 1918 private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.1", "documentation"},
		{"203.0.113.1", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},

		// IPv6 classes.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fe80::1", "link-local"},
		{"febf::1", "link-local"},
		{"fc00::1", "unique local"},
		{"fd00:ec2::254", "unique local"}, // AWS metadata over IPv6
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"100::1", "discard-only"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"2001:2::1", "IETF protocol assignments"},
		{"5f00::1", "reserved IPv6"},
		{"4000::1", "reserved IPv6"},
		{"::ffff:0:a00:1", "reserved IPv6"}, // SIIT IPv4-translated

		// IPv4-mapped: the IPv4 address it is.
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:7f00:1", "loopback"},
		{"::ffff:10.0.0.5", "RFC 1918 private"},
		{"::ffff:169.254.169.254", "cloud metadata"},

		// Transition forms embedding IPv4.
		{"::127.0.0.1", "IPv4-compatible"},
		{"::a00:5", "IPv4-compatible"},
		{"::102:304", "IPv4-compatible"}, // refused even with a public IPv4 inside
		{"64:ff9b::7f00:1", "loopback (127.0.0.1 embedded in NAT64"},
		{"64:ff9b::a00:5", "RFC 1918 private (10.0.0.5 embedded in NAT64"},
		{"64:ff9b::a9fe:a9fe", "cloud metadata"},
		{"64:ff9b:1::a00:5", "local-use NAT64"},
		{"64:ff9b:1::102:304", "local-use NAT64"},
		{"2002:7f00:1::1", "6to4 (embeds 127.0.0.1)"},
		{"2002:102:304::1", "6to4 (embeds 1.2.3.4)"}, // refused even with a public IPv4 inside
		{"2001::1", "Teredo"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
	}
	for _, tt := range tests {
		got := classify(netip.MustParseAddr(tt.addr))
		switch {
		case tt.want == "" && got != "":
			t.Errorf("classify(%s) = %q, want public", tt.addr, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("classify(%s) = %q, want a reason containing %q", tt.addr, got, tt.want)
		}
	}
}

// TestAllowedRangesUnmap: a range opens the address however it is written.
func TestAllowedRangesUnmap(t *testing.T) {
	tests := []struct {
		ranges []string
		addr   string
		want   bool
	}{
		{[]string{"127.0.0.0/8"}, "127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, "::ffff:127.0.0.1", true},
		{[]string{"::ffff:127.0.0.0/104"}, "127.0.0.1", true},
		{[]string{"10.0.0.0/8"}, "64:ff9b::a00:5", true},
		{[]string{"10.0.0.0/8"}, "::a00:5", false},
		{[]string{"10.0.0.0/8"}, "2002:a00:5::1", false},
		{[]string{"2002::/16"}, "2002:a00:5::1", true},
		{[]string{"10.0.0.0/8"}, "172.16.0.1", false},
		{[]string{"10.0.0.0/8"}, "11.0.0.1", true}, // public anyway
		{[]string{"fe80::/10"}, "fe80::1%eth0", false},
		{nil, "127.0.0.1", false},
	}
	for _, tt := range tests {
		r := compile(ranges(tt.ranges...))
		if got := r.addrReason(netip.MustParseAddr(tt.addr)) == ""; got != tt.want {
			t.Errorf("ranges %v: %s allowed = %v, want %v", tt.ranges, tt.addr, got, tt.want)
		}
	}
}
