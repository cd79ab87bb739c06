package egress

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// FuzzNormalizeHost: NormalizeHost never panics; an IP comes out as one canonical
// netip.Addr (unmapped, no zone, stable when normalized again); a name comes out as
// lower-case ASCII without trailing dot that no one could read as an IP, and is stable
// too; and a standard IP literal is always recognised as that IP.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range oddLoopbackHosts {
		f.Add(s)
	}
	for _, s := range []string{"api.example.com", "Bücher.Example.", "fe80::1%eth0", "1.2.3.4.5", "0x", "0x7g.1",
		"169.254.43518", "[::ffff:a9fe:a9fe]", "xn--bcher-kva.example", "a。b", "４２９４９６７２９５", "-a.b", "a_b.c",
		"0000000000000000000000000000000000000177.1", "0x00000000000000000007f.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ip, err := NormalizeHost(s)
		if err != nil {
			if name != "" || ip.IsValid() {
				t.Fatalf("NormalizeHost(%q) = %q, %v with error %v", s, name, ip, err)
			}
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				t.Fatalf("NormalizeHost(%q) error %v is not INVALID_PARAMETER_VALUE", s, err)
			}
		}
		lit := s
		if strings.HasPrefix(lit, "[") && strings.HasSuffix(lit, "]") {
			lit = lit[1 : len(lit)-1]
		}
		if std, perr := netip.ParseAddr(lit); perr == nil && std.Zone() == "" {
			if err != nil || ip != std.Unmap() {
				t.Fatalf("NormalizeHost(%q) = %q, %v, %v; want IP %v", s, name, ip, err, std.Unmap())
			}
		}
		if err != nil {
			return
		}
		switch {
		case ip.IsValid():
			if name != "" {
				t.Fatalf("NormalizeHost(%q) returned both %q and %v", s, name, ip)
			}
			if ip.Zone() != "" || ip.Is4In6() {
				t.Fatalf("NormalizeHost(%q) = %v, not canonical", s, ip)
			}
			n2, ip2, err := NormalizeHost(ip.String())
			if err != nil || n2 != "" || ip2 != ip {
				t.Fatalf("NormalizeHost(%q) = %v, but NormalizeHost(%q) = %q, %v, %v", s, ip, ip.String(), n2, ip2, err)
			}
		case name != "":
			for i := 0; i < len(name); i++ {
				c := name[i]
				if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
					t.Fatalf("NormalizeHost(%q) = %q: byte %q", s, name, c)
				}
			}
			if strings.HasSuffix(name, ".") || len(name) > 253 {
				t.Fatalf("NormalizeHost(%q) = %q: trailing dot or too long", s, name)
			}
			if endsInNumber(name) {
				t.Fatalf("NormalizeHost(%q) = name %q that ends in a number", s, name)
			}
			if _, err := netip.ParseAddr(name); err == nil {
				t.Fatalf("NormalizeHost(%q) = name %q that is an IP", s, name)
			}
			n2, ip2, err := NormalizeHost(name)
			if err != nil || n2 != name || ip2.IsValid() {
				t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %v, %v", s, name, name, n2, ip2, err)
			}
		default:
			t.Fatalf("NormalizeHost(%q) returned neither name nor IP", s)
		}
	})
}

// FuzzNormalizePolicy: NormalizePolicy never panics, its output normalizes to itself,
// and deciding under the result (or under the raw input) never panics either.
func FuzzNormalizePolicy(f *testing.F) {
	f.Add("RESTRICTED_ACCESS", "DRY_RUN", "*.partner.test\nBücher.Example.\napi.github.com", "*.com\nevil.example", "10.0.0.0/8\n::ffff:127.0.0.1", "a.partner.test")
	f.Add("", "", "", "", "", "example.com")
	f.Add("FULL_ACCESS", "ENFORCED", "*.co.uk", "", "1.2.3.4", "0x7f.1")
	f.Add("RESTRICTED_ACCESS", "ENFORCED", "a.*.b", " x.example ", "::ffff:0:0/96", "[::1]")
	f.Fuzz(func(t *testing.T, restriction, enforcement, allowedList, blockedList, rangeList, host string) {
		in := &catalog.NetworkPolicy{
			RestrictionMode:     restriction,
			EnforcementMode:     enforcement,
			AllowedDestinations: splitLines(allowedList),
			BlockedDestinations: splitLines(blockedList),
			AllowedIPRanges:     splitLines(rangeList),
		}
		d := NewDialer(DialerOptions{Policy: fixed(in), Resolver: &fuzzResolver{}})
		_, _ = d.Decide(context.Background(), host, 443)

		out, err := NormalizePolicy(in)
		if err != nil {
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				t.Fatalf("NormalizePolicy error %v is not INVALID_PARAMETER_VALUE", err)
			}
			return
		}
		again, err := NormalizePolicy(out)
		if err != nil {
			t.Fatalf("NormalizePolicy(%+v) = %+v, which does not normalize: %v", in, out, err)
		}
		if diff := cmp.Diff(out, again); diff != "" {
			t.Fatalf("NormalizePolicy is not idempotent (-first +second):\n%s", diff)
		}
		// A compiled normalized policy keeps every entry.
		r := compile(out)
		for _, a := range out.AllowedDestinations {
			if r.allowed.match(strings.TrimPrefix(a, "*.")) == "" && r.allowed.match("x."+strings.TrimPrefix(a, "*.")) == "" {
				t.Fatalf("compiled policy lost allowed entry %q", a)
			}
		}
		if len(r.ranges) != len(out.AllowedIPRanges) {
			t.Fatalf("compiled policy has %d ranges, want %d", len(r.ranges), len(out.AllowedIPRanges))
		}
		d = NewDialer(DialerOptions{Policy: fixed(out), Resolver: &fuzzResolver{}})
		_, _ = d.Decide(context.Background(), host, 443)
	})
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// fuzzResolver answers every name with one public and one private address.
type fuzzResolver struct{}

func (fuzzResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("1.2.3.4")}, nil
}
