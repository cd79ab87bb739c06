package egress

import (
	"net/netip"
	"testing"
)

// TestNormalizeHost is a permanent table: every odd spelling of an address is the
// address, and every name is in one canonical form. Add to it with every bug.
func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		wantIP   string
		wantErr  bool
	}{
		// Names.
		{in: "api.example.com", wantName: "api.example.com"},
		{in: "API.Example.COM.", wantName: "api.example.com"},
		{in: "Bücher.Example.", wantName: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", wantName: "xn--bcher-kva.example"},
		{in: "ÅB.com", wantName: "xn--b-1fa.com"},
		{in: "a。b.example", wantName: "a.b.example"},
		{in: "localhost", wantName: "localhost"},
		{in: "r3---sn-abc.googlevideo.com", wantName: "r3---sn-abc.googlevideo.com"},
		{in: "my_host.internal", wantName: "my_host.internal"},
		{in: "1e100.net", wantName: "1e100.net"},
		{in: "deadbeef", wantName: "deadbeef"},
		{in: "127.0.0.1.nip.io", wantName: "127.0.0.1.nip.io"},
		{in: "0x7f.example", wantName: "0x7f.example"},
		{in: "1.2.3.4a", wantName: "1.2.3.4a"},

		// IPv4 in every form inet_aton reads.
		{in: "127.0.0.1", wantIP: "127.0.0.1"},
		{in: "127.0.0.1.", wantIP: "127.0.0.1"},
		{in: "2130706433", wantIP: "127.0.0.1"},
		{in: "0x7f000001", wantIP: "127.0.0.1"},
		{in: "0X7F000001", wantIP: "127.0.0.1"},
		{in: "0x7f.1", wantIP: "127.0.0.1"},
		{in: "0x7f.0.0.1", wantIP: "127.0.0.1"},
		{in: "0177.0.0.1", wantIP: "127.0.0.1"},
		{in: "0177.1", wantIP: "127.0.0.1"},
		{in: "017700000001", wantIP: "127.0.0.1"},
		{in: "127.1", wantIP: "127.0.0.1"},
		{in: "127.0.1", wantIP: "127.0.0.1"},
		{in: "00000127.0.0.1", wantIP: "87.0.0.1"},
		{in: "0", wantIP: "0.0.0.0"},
		{in: "0x0", wantIP: "0.0.0.0"},
		{in: "169.254.43518", wantIP: "169.254.169.254"},
		{in: "0xa9fea9fe", wantIP: "169.254.169.254"},
		{in: "10.0.0.5", wantIP: "10.0.0.5"},
		{in: "4294967295", wantIP: "255.255.255.255"},
		{in: "１２７．０．０．１", wantIP: "127.0.0.1"},

		// IPv6.
		{in: "::1", wantIP: "::1"},
		{in: "[::1]", wantIP: "::1"},
		{in: "[::ffff:7f00:1]", wantIP: "127.0.0.1"},
		{in: "[::ffff:127.0.0.1]", wantIP: "127.0.0.1"},
		{in: "::FFFF:A9FE:A9FE", wantIP: "169.254.169.254"},
		{in: "[0:0:0:0:0:0:0:1]", wantIP: "::1"},
		{in: "[64:ff9b::a00:5]", wantIP: "64:ff9b::a00:5"},
		{in: "[127.0.0.1]", wantIP: "127.0.0.1"},

		// Refused: never an IP, never sent to DNS.
		{in: "", wantErr: true},
		{in: ".", wantErr: true},
		{in: "fe80::1%eth0", wantErr: true},
		{in: "[fe80::1%eth0]", wantErr: true},
		{in: "[fe80::1%25eth0]", wantErr: true},
		{in: "%31%32%37.0.0.1", wantErr: true},
		{in: "1.2.3.4.5", wantErr: true},
		{in: "256.0.0.1", wantErr: true},
		{in: "1.256.0.0.1", wantErr: true},
		{in: "127.0.0.256", wantErr: true},
		{in: "127.65536", wantIP: "127.1.0.0"},
		{in: "127.16777216", wantErr: true},
		{in: "127.0.65536", wantErr: true},
		{in: "4294967296", wantErr: true},
		{in: "0x100000000", wantErr: true},
		{in: "099.0.0.1", wantErr: true},
		{in: "08", wantErr: true},
		{in: "0x", wantErr: true},
		{in: "1.2.3.0x", wantErr: true},
		{in: "0x7g.1", wantErr: true},
		{in: "example.123", wantErr: true},
		{in: "127..1", wantErr: true},
		{in: "127.0.0.1..", wantErr: true},
		{in: "a..b", wantErr: true},
		{in: "127.0.0.1 ", wantErr: true},
		{in: " 127.0.0.1", wantErr: true},
		{in: "127.0.0.1\x00.evil.com", wantErr: true},
		{in: "evil.com\n", wantErr: true},
		{in: "user@evil.com", wantErr: true},
		{in: "evil.com/path", wantErr: true},
		{in: "evil.com:80", wantErr: true},
		{in: "[::1", wantErr: true},
		{in: "[]", wantErr: true},
		{in: "::ffff:127.1", wantErr: true},
		{in: "-evil.com", wantErr: true},
		{in: "evil-.com", wantErr: true},
		{in: "xn--abc.com", wantErr: true},
		{in: "a*.com", wantErr: true},
	}
	for _, tt := range tests {
		name, ip, err := NormalizeHost(tt.in)
		switch {
		case tt.wantErr:
			if err == nil {
				t.Errorf("NormalizeHost(%q) = %q, %v, want an error", tt.in, name, ip)
			}
		case err != nil:
			t.Errorf("NormalizeHost(%q): %v", tt.in, err)
		case tt.wantIP != "":
			if want := netip.MustParseAddr(tt.wantIP); ip != want || name != "" {
				t.Errorf("NormalizeHost(%q) = %q, %v, want IP %v", tt.in, name, ip, want)
			}
		default:
			if name != tt.wantName || ip.IsValid() {
				t.Errorf("NormalizeHost(%q) = %q, %v, want name %q", tt.in, name, ip, tt.wantName)
			}
		}
	}
}
