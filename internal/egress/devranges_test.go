package egress

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestDenialMessagesNameTheFix: a newcomer refused a loopback or private address is told
// the command that opens it (and --dev); the range is named only when the caller gave
// the address itself (an IP literal); for a name, localhost included, the fix is generic,
// so it betrays neither the resolved address nor its class. Addresses no deployment opens
// on purpose, and Gatehouse's own listener, get no such advice.
func TestDenialMessagesNameTheFix(t *testing.T) {
	own := netip.MustParseAddrPort("127.0.0.1:443")
	tests := []struct {
		name    string
		host    string
		answer  string // what internal.test and localhost resolve to
		want    []string
		notWant []string
	}{
		{"loopback literal", "127.0.0.1", "", []string{"gatehouse network set --allow-ip-range 127.0.0.1/32", "gatehouse server --dev"}, nil},
		{"other loopback literal", "127.0.0.2", "", []string{"--allow-ip-range 127.0.0.2/32", "--dev"}, nil},
		{"IPv6 loopback literal", "[::1]", "", []string{"--allow-ip-range ::1/128", "--dev"}, nil},
		{"private literal", "10.1.2.3", "", []string{"--allow-ip-range 10.1.2.3/32", "--dev"}, nil},
		{"unique local literal", "[fd00::5]", "", []string{"--allow-ip-range fd00::5/128"}, nil},
		{"localhost, a name like any other", "localhost", "127.0.0.1", []string{"--allow-ip-range CIDR", "--dev"}, []string{"127.0.0.1", "loopback"}},
		{"name resolving to loopback", "internal.test", "127.0.0.1", []string{"--allow-ip-range CIDR", "--dev"}, []string{"127.0.0.1", "loopback"}},
		{"name resolving to private", "internal.test", "10.0.0.5", []string{"--allow-ip-range CIDR"}, []string{"10.0.0.5", "RFC 1918"}},
		{"name resolving to metadata", "internal.test", "169.254.169.254", []string{"--allow-ip-range CIDR"}, []string{"169.254", "metadata"}},
		{"metadata literal", "169.254.169.254", "", nil, []string{"--allow-ip-range", "--dev"}},
		{"multicast literal", "224.0.0.1", "", nil, []string{"--allow-ip-range", "--dev"}},
		{"own listener", "127.0.0.1", "", nil, []string{"--allow-ip-range", "--dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DialerOptions{Policy: fixed(&catalog.NetworkPolicy{}), Dial: newSpy(t).Dial}
			res := newResolver()
			if tt.answer != "" {
				res = res.on("internal.test", tt.answer).on("localhost", tt.answer)
			}
			opts.Resolver = res
			if tt.name == "own listener" {
				opts.OwnAddrs = func() []netip.AddrPort { return []netip.AddrPort{own} }
				opts.Policy = fixed(&catalog.NetworkPolicy{AllowedIPRanges: []string{"127.0.0.0/8"}})
			}
			d := NewDialer(opts)
			conn, err := d.DialContext(context.Background(), "tcp", tt.host+":443")
			if conn != nil {
				conn.Close()
				t.Fatal("connected")
			}
			var ce *catalog.Error
			if !errors.As(err, &ce) || ce.Code != catalog.NetworkPolicyDenied {
				t.Fatalf("error = %v, want NETWORK_POLICY_DENIED", err)
			}
			for _, text := range []string{ce.Message, err.Error()} {
				for _, w := range tt.want {
					if !strings.Contains(text, w) {
						t.Errorf("message %q does not name %q", text, w)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(text, w) {
						t.Errorf("message %q names %q", text, w)
					}
				}
			}
		})
	}
}

// TestDevIPRangesParse: every range --dev opens is a valid CIDR that NormalizePolicy
// accepts, and none of them opens link-local (cloud metadata).
func TestDevIPRangesParse(t *testing.T) {
	if _, err := NormalizePolicy(&catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced, AllowedIPRanges: DevIPRanges}); err != nil {
		t.Fatalf("NormalizePolicy(DevIPRanges) = %v", err)
	}
	for _, a := range []string{"169.254.169.254", "fe80::1", "100.64.0.1", "8.8.8.8"} {
		if inDevRange(netip.MustParseAddr(a)) {
			t.Errorf("%s is in a --dev range", a)
		}
	}
}
