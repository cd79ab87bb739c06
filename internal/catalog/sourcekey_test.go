package catalog

import "testing"

// TestSourceKey: the bucket of an address is the address for IPv4 (mapped or not), the
// /64 for IPv6 (zones dropped), and the string as given for anything else.
func TestSourceKey(t *testing.T) {
	tests := []struct{ name, ip, want string }{
		{"ipv4", "198.51.100.7", "198.51.100.7"},
		{"ipv4-mapped ipv6", "::ffff:198.51.100.7", "198.51.100.7"},
		{"ipv6", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"ipv6 same /64", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"ipv6 loopback", "::1", "::/64"},
		{"ipv6 with zone", "fe80::1%eth0", "fe80::/64"},
		{"not an address", "pipe", "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SourceKey(tt.ip); got != tt.want {
				t.Errorf("SourceKey(%q) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}
