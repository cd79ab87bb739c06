package egress

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestVerdictAgreesWithDialer: for a destination whose address is known, Verdict says
// what the dialer decides, by name and by address, so that an impact preview replays
// the real rule.
func TestVerdictAgreesWithDialer(t *testing.T) {
	restricted := &catalog.NetworkPolicy{
		RestrictionMode:     catalog.RestrictedAccess,
		AllowedDestinations: []string{"*.partner.test", "exact.example"},
		BlockedDestinations: []string{"evil.partner.test"},
		AllowedIPRanges:     []string{"1.2.3.0/24", "10.1.0.0/16"},
	}
	full := &catalog.NetworkPolicy{BlockedDestinations: []string{"*.bad.test"}}
	withConn := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowConnectionDestinations: true}
	dryRun := &catalog.NetworkPolicy{EnforcementMode: catalog.DryRun, BlockedDestinations: []string{"blocked.test"}}
	conns := NewConnectionDestinations([]*catalog.Connection{{Name: "gh", Enabled: true, Options: map[string]string{catalog.OptHost: "https://api.github.test"}}})
	viaGH := Source{Kind: catalog.SourceProxy, Connection: "gh"}
	viaEgress := Source{Kind: catalog.SourceEgress}

	tests := []struct {
		name     string
		policy   *catalog.NetworkPolicy
		src      Source
		host     string
		resolved string
		want     string // "" allowed, else part of the reason
	}{
		{"allowed wildcard", restricted, viaEgress, "a.partner.test", "1.2.3.4", ""},
		{"wildcard is not its suffix", restricted, viaEgress, "partner.test", "1.2.3.4", "not an allowed destination"},
		{"blocked wins", restricted, viaEgress, "evil.partner.test", "1.2.3.4", "blocked"},
		{"private address refused", full, viaEgress, "api.example", "10.0.0.5", "10.0.0.5"},
		{"private address in an allowed range", restricted, viaEgress, "a.partner.test", "10.1.2.3", ""},
		{"IP literal outside the ranges", restricted, viaEgress, "1.2.4.4", "", "IP address 1.2.4.4 is not allowed"},
		{"IP literal inside the ranges", restricted, viaEgress, "1.2.3.9", "", ""},
		{"full access", full, viaEgress, "anything.example", "1.2.3.4", ""},
		{"blocked wildcard", full, viaEgress, "x.bad.test", "1.2.3.4", "blocked"},
		{"connection destination for its calls", withConn, viaGH, "api.github.test", "1.2.3.4", ""},
		{"connection destination not for the egress proxy", withConn, viaEgress, "api.github.test", "1.2.3.4", "not an allowed destination"},
		{"dry run still names the denial", dryRun, viaEgress, "blocked.test", "1.2.3.4", "blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verdict(tt.policy, conns, tt.src, tt.host+":443", tt.resolved)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("Verdict(%s) = %q, want %q", tt.host, got, tt.want)
			}
			res := newResolver()
			if tt.resolved != "" {
				res.fallback = addrs(tt.resolved)
			}
			d := NewDialer(DialerOptions{Policy: fixed(tt.policy), Resolver: res, ConnectionDestinations: func() *ConnectionDestinations { return conns }})
			dec, err := d.Decide(WithSource(context.Background(), tt.src), tt.host, 443)
			dialerAllows := err == nil && dec.Allowed && !dec.DryRun
			if dialerAllows != (got == "") {
				t.Errorf("Verdict(%s) = %q but the dialer decides %+v, %v", tt.host, got, dec, err)
			}
		})
	}
}

func TestVerdictUnknownAddressIsJudgedByName(t *testing.T) {
	if got := Verdict(&catalog.NetworkPolicy{}, nil, Source{}, "api.example:443", ""); got != "" {
		t.Errorf("Verdict without an address = %q, want allowed", got)
	}
	for _, dest := range []string{"no-port", "a.example:0", "a.example:99999", "bad host!:443"} {
		if got := Verdict(&catalog.NetworkPolicy{}, nil, Source{}, dest, ""); got == "" {
			t.Errorf("Verdict(%q) allowed an invalid destination", dest)
		}
	}
}

// FuzzVerdict: any recorded destination and address is judged without a panic, and one
// that is not a valid host:port is never let through.
func FuzzVerdict(f *testing.F) {
	for _, s := range [][2]string{{"api.example:443", "1.2.3.4"}, {"[::1]:80", ""}, {"x.partner.test:8443", "10.1.2.3"}, {"bad host:1", "zz"}, {":443", ""}} {
		f.Add(s[0], s[1])
	}
	p := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowedDestinations: []string{"*.partner.test"}, AllowedIPRanges: []string{"10.0.0.0/8"}}
	f.Fuzz(func(t *testing.T, dest, resolved string) {
		got := Verdict(p, nil, Source{Kind: catalog.SourceEgress}, dest, resolved)
		if _, _, err := net.SplitHostPort(dest); err != nil && got == "" {
			t.Fatalf("Verdict(%q) allowed a destination that is not host:port", dest)
		}
	})
}
