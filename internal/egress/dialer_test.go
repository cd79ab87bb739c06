package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// oddLoopbackHosts spell 127.0.0.1 in every way a resolver or URL parser might accept.
// The names are scripted to resolve to loopback.
var oddLoopbackHosts = []string{
	"127.0.0.1", "127.0.0.1.", "127.1", "127.0.1", "2130706433", "0x7f000001", "0X7F000001",
	"0x7f.1", "0x7f.0.0.1", "0177.0.0.1", "0177.1", "017700000001", "0x7f.0x0.0x0.0x1",
	"[::ffff:7f00:1]", "[::ffff:127.0.0.1]", "１２７．０．０．１",
	"localhost", "LocalHost.", "mapped.test", "rebind.test",
}

func loopbackResolver() *scriptedResolver {
	return newResolver().
		on("localhost", "127.0.0.1").
		on("mapped.test", "::ffff:127.0.0.1").
		on("rebind.test", "127.0.0.1, ::ffff:127.0.0.1")
}

// TestDialOddLoopbackForms dials a real canary on 127.0.0.1 through every spelling of
// its address: refused by default with nothing accepted, and allowed (one connection)
// once allowed_ip_ranges opens 127.0.0.0/8.
func TestDialOddLoopbackForms(t *testing.T) {
	for _, host := range oddLoopbackHosts {
		t.Run(host, func(t *testing.T) {
			c := newCanary(t)
			spy := newSpy(t)
			addr := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(c.port()))
			var policy atomic.Pointer[catalog.NetworkPolicy]
			policy.Store(&catalog.NetworkPolicy{})
			d := NewDialer(DialerOptions{Policy: policy.Load, Resolver: loopbackResolver(), Dial: spy.Dial})

			conn, err := d.DialContext(context.Background(), "tcp", addr)
			if conn != nil {
				conn.Close()
			}
			wantDenied(t, "DialContext("+addr+")", err, "loopback")
			if got := spy.got(); len(got) != 0 {
				t.Errorf("low-level dials = %v, want none", got)
			}
			c.expect(t, 0)

			policy.Store(&catalog.NetworkPolicy{AllowedIPRanges: []string{"127.0.0.0/8"}})
			conn, err = d.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatalf("DialContext(%s) with 127.0.0.0/8 allowed: %v", addr, err)
			}
			conn.Close()
			c.expect(t, 1)
			if got, want := spy.got(), []string{c.addrPort().String()}; !slices.Equal(got, want) {
				t.Errorf("low-level dials = %v, want %v", got, want)
			}
		})
	}
}

// deniedClasses is one address of every refused class, with a range that opens it.
var deniedClasses = []struct {
	addr, class, allow string
}{
	{"127.0.0.1", "loopback", "127.0.0.0/8"},
	{"10.0.0.5", "RFC 1918 private", "10.0.0.0/8"},
	{"172.16.3.4", "RFC 1918 private", "172.16.0.0/12"},
	{"192.168.1.1", "RFC 1918 private", "192.168.0.0/16"},
	{"169.254.169.254", "cloud metadata", "169.254.169.254"},
	{"169.254.1.1", "link-local", "169.254.0.0/16"},
	{"100.64.0.1", "carrier-grade NAT", "100.64.0.0/10"},
	{"0.0.0.0", "unspecified", "0.0.0.0/8"},
	{"255.255.255.255", "broadcast", "255.255.255.255"},
	{"224.0.0.1", "multicast", "224.0.0.0/4"},
	{"240.0.0.1", "reserved", "240.0.0.0/4"},
	{"192.0.0.8", "IETF protocol assignments", "192.0.0.0/24"},
	{"198.18.0.1", "benchmarking", "198.18.0.0/15"},
	{"192.0.2.1", "documentation", "192.0.2.0/24"},
	{"::1", "loopback", "::1"},
	{"::", "unspecified", "::/128"},
	{"fe80::1", "link-local", "fe80::/10"},
	{"fc00::1", "unique local", "fc00::/7"},
	{"fd00:ec2::254", "unique local", "fd00:ec2::254"},
	{"ff02::1", "multicast", "ff00::/8"},
	{"::ffff:10.0.0.1", "RFC 1918 private", "10.0.0.0/8"},
	{"::a00:1", "IPv4-compatible", "::/96"},
	{"64:ff9b::a00:1", "RFC 1918 private (10.0.0.1 embedded in NAT64", "10.0.0.0/8"},
	{"64:ff9b:1::1", "local-use NAT64", "64:ff9b:1::/48"},
	{"2002:a00:1::1", "6to4", "2002::/16"},
	{"2001::1", "Teredo", "2001::/32"},
	{"2001:db8::1", "documentation", "2001:db8::/32"},
	{"5f00::1", "reserved IPv6", "5f00::/16"},
}

// TestDialDeniedClasses asks for every refused class, as a literal and as a name that
// resolves to it. The low-level dial sends whatever it is given to the canary, so any
// dial at all would show there: refused, nothing accepted; opened by a range, one
// connection to exactly the checked address.
func TestDialDeniedClasses(t *testing.T) {
	for _, tc := range deniedClasses {
		for _, host := range []string{tc.addr, "svc.test"} {
			t.Run(tc.addr+"/"+host, func(t *testing.T) {
				c := newCanary(t)
				spy := newSpy(t)
				spy.redirect = c.addrPort().String()
				var policy atomic.Pointer[catalog.NetworkPolicy]
				policy.Store(&catalog.NetworkPolicy{})
				d := NewDialer(DialerOptions{Policy: policy.Load, Resolver: newResolver().on("svc.test", tc.addr), Dial: spy.Dial})
				addr := net.JoinHostPort(host, "443")

				_, err := d.DialContext(context.Background(), "tcp", addr)
				want := netip.MustParseAddr(tc.addr).Unmap().String() + ": " + tc.class
				if host == "svc.test" {
					want = "svc.test resolves only to refused addresses (" + want
				}
				wantDenied(t, "DialContext("+addr+")", err, want)
				if got := spy.got(); len(got) != 0 {
					t.Errorf("low-level dials = %v, want none", got)
				}
				c.expect(t, 0)

				policy.Store(&catalog.NetworkPolicy{AllowedIPRanges: []string{tc.allow}})
				conn, err := d.DialContext(context.Background(), "tcp", addr)
				if err != nil {
					t.Fatalf("DialContext(%s) with %s allowed: %v", addr, tc.allow, err)
				}
				conn.Close()
				c.expect(t, 1)
				wantAddr := netip.AddrPortFrom(netip.MustParseAddr(tc.addr).Unmap(), 443).String()
				if got := spy.got(); !slices.Equal(got, []string{wantAddr}) {
					t.Errorf("low-level dials = %v, want [%s]", got, wantAddr)
				}
			})
		}
	}
}

// TestRebinding: whatever the resolver says next, the dialer dials an address it
// checked, resolves once per dial, and never reaches loopback.
func TestRebinding(t *testing.T) {
	c := newCanary(t)
	port := strconv.Itoa(c.port())
	loop := "127.0.0.1"
	tests := []struct {
		name      string
		answers   []string // successive answers for rebind.test
		fail      []string // addresses whose dial fails
		dials     int      // DialContext calls
		wantDials []string // addresses passed to the low-level dial, over all calls
		wantOK    []bool   // per call
	}{
		{
			name:      "public first, loopback on the next lookup",
			answers:   []string{"1.2.3.4", loop},
			dials:     2,
			wantDials: []string{"1.2.3.4:" + port},
			wantOK:    []bool{true, false},
		},
		{
			name:      "loopback first, public on the next lookup",
			answers:   []string{loop, "1.2.3.4"},
			dials:     2,
			wantDials: []string{"1.2.3.4:" + port},
			wantOK:    []bool{false, true},
		},
		{
			name:      "both in one answer, public first",
			answers:   []string{"1.2.3.4, " + loop},
			dials:     1,
			wantDials: []string{"1.2.3.4:" + port},
			wantOK:    []bool{true},
		},
		{
			name:      "both in one answer, loopback first",
			answers:   []string{loop + ", 1.2.3.4"},
			dials:     1,
			wantDials: []string{"1.2.3.4:" + port},
			wantOK:    []bool{true},
		},
		{
			name:      "public dial fails: no fallback to loopback",
			answers:   []string{"1.2.3.4, " + loop + ", ::1, ::ffff:127.0.0.1"},
			fail:      []string{"1.2.3.4:" + port},
			dials:     1,
			wantDials: []string{"1.2.3.4:" + port},
			wantOK:    []bool{false},
		},
		{
			name:      "mapped loopback",
			answers:   []string{"2606:4700::1", "::ffff:127.0.0.1"},
			dials:     2,
			wantDials: []string{"[2606:4700::1]:" + port},
			wantOK:    []bool{true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newResolver().on("rebind.test", tt.answers...)
			spy := newSpy(t)
			for _, f := range tt.fail {
				spy.fail[f] = true
			}
			d := NewDialer(DialerOptions{Resolver: res, Dial: spy.Dial})
			for i := range tt.dials {
				conn, err := d.DialContext(context.Background(), "tcp", "rebind.test:"+port)
				if conn != nil {
					conn.Close()
				}
				if ok := err == nil; ok != tt.wantOK[i] {
					t.Errorf("dial %d: error %v, want ok=%v", i+1, err, tt.wantOK[i])
				}
				if got := res.count("rebind.test"); got != i+1 {
					t.Errorf("dial %d: %d lookups so far, want %d (one per dial)", i+1, got, i+1)
				}
			}
			if d := cmp.Diff(tt.wantDials, spy.got()); d != "" {
				t.Errorf("low-level dials (-want +got):\n%s", d)
			}
		})
	}
	c.expect(t, 0)
}

// TestMixedAnswers: a refused entry is never dialed; allowed entries are tried in
// order; all refused is a denial naming every class.
func TestMixedAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		fail      []string
		wantDials []string
		wantErr   string
	}{
		{
			name:      "private first, public second",
			answer:    "10.0.0.5, 1.2.3.4",
			wantDials: []string{"1.2.3.4:443"},
		},
		{
			name:      "first public fails, next public tried, private skipped",
			answer:    "1.2.3.4, 10.0.0.5, 1.2.3.5",
			fail:      []string{"1.2.3.4:443"},
			wantDials: []string{"1.2.3.4:443", "1.2.3.5:443"},
		},
		{
			name:      "duplicates dialed once",
			answer:    "1.2.3.4, ::ffff:1.2.3.4, 1.2.3.4",
			fail:      []string{"1.2.3.4:443"},
			wantDials: []string{"1.2.3.4:443"},
			wantErr:   "connection refused",
		},
		{
			name:    "all private",
			answer:  "10.0.0.5, 192.168.0.1",
			wantErr: "network policy denies api.example.com:443: api.example.com resolves only to refused addresses (10.0.0.5: RFC 1918 private; 192.168.0.1: RFC 1918 private)",
		},
		{
			name:    "metadata and loopback",
			answer:  "169.254.169.254, ::1",
			wantErr: "(169.254.169.254: cloud metadata endpoint (link-local); ::1: loopback)",
		},
		{
			name:    "many refused",
			answer:  "10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6, 10.0.0.7",
			wantErr: "10.0.0.5: RFC 1918 private; and 2 more)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := newSpy(t)
			for _, f := range tt.fail {
				spy.fail[f] = true
			}
			rec := &events{}
			d := NewDialer(DialerOptions{Resolver: newResolver().on("api.example.com", tt.answer), Dial: spy.Dial, Recorder: rec})
			conn, err := d.DialContext(context.Background(), "tcp", "api.example.com:443")
			if conn != nil {
				conn.Close()
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("DialContext: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(recordedText(err), tt.wantErr)) {
				t.Errorf("DialContext error = %v (recorded %q), want one containing %q", err, recordedText(err), tt.wantErr)
			}
			if d := cmp.Diff(tt.wantDials, spy.got()); d != "" {
				t.Errorf("low-level dials (-want +got):\n%s", d)
			}
			for _, got := range spy.got() {
				if a := netip.MustParseAddrPort(got).Addr(); classify(a) != "" {
					t.Errorf("dialed refused address %s", got)
				}
			}
		})
	}
}

// TestNamePolicy covers rule 2 through Decide: blocked wins, RESTRICTED_ACCESS allows
// only the allowed destinations (wildcards by whole labels) and, when enabled, the
// hosts of connections; IP literals need a range under RESTRICTED_ACCESS.
func TestNamePolicy(t *testing.T) {
	restricted := &catalog.NetworkPolicy{
		RestrictionMode:     catalog.RestrictedAccess,
		AllowedDestinations: []string{"*.partner.test", "exact.example", "*.example.com"},
		BlockedDestinations: []string{"evil.example.com", "*.bad.example.com"},
		AllowedIPRanges:     []string{"1.2.3.0/24"},
	}
	full := &catalog.NetworkPolicy{BlockedDestinations: []string{"*.bad.test", "blocked.test"}}
	withConn := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowConnectionDestinations: true}
	noConn := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess}
	connDests := NewConnectionDestinations([]*catalog.Connection{{Name: "gh", Enabled: true, Options: map[string]string{catalog.OptHost: "https://api.github.test"}}})
	viaGH := WithSource(context.Background(), Source{Kind: catalog.SourceProxy, Connection: "gh"})

	tests := []struct {
		policy *catalog.NetworkPolicy
		host   string
		want   string // "" allowed, else part of the reason
	}{
		{restricted, "a.partner.test", ""},
		{restricted, "a.b.partner.test", ""},
		{restricted, "A.Partner.Test.", ""},
		{restricted, "partner.test", "not an allowed destination"},
		{restricted, "evilpartner.test", "not an allowed destination"},
		{restricted, "partner.test.evil", "not an allowed destination"},
		{restricted, "exact.example", ""},
		{restricted, "EXACT.example.", ""},
		{restricted, "a.exact.example", "not an allowed destination"},
		{restricted, "api.example.com", ""},
		{restricted, "evil.example.com", "blocked (blocked_internet_destinations entry evil.example.com)"},
		{restricted, "EVIL.Example.Com.", "blocked"},
		{restricted, "x.bad.example.com", "blocked (blocked_internet_destinations entry *.bad.example.com)"},
		{restricted, "bad.example.com", ""},
		{restricted, "1.2.3.4", ""},
		{restricted, "0x01020304", ""},
		{restricted, "1.2.4.4", "IP address 1.2.4.4 is not allowed under RESTRICTED_ACCESS"},
		{restricted, "[2606:4700::1]", "not allowed under RESTRICTED_ACCESS"},
		{full, "anything.example", ""},
		{full, "8.8.8.8", ""},
		{full, "blocked.test", "blocked"},
		{full, "x.y.bad.test", "blocked"},
		{full, "bad.test", ""},
		{withConn, "api.github.test", ""},
		{withConn, "API.GitHub.Test.", ""},
		{withConn, "other.github.test", "not an allowed destination"},
		{noConn, "api.github.test", "not an allowed destination"},
	}
	for _, tt := range tests {
		res := newResolver()
		res.fallback = addrs("1.2.3.4")
		d := NewDialer(DialerOptions{Policy: fixed(tt.policy), Resolver: res, ConnectionDestinations: func() *ConnectionDestinations { return connDests }})
		dec, err := d.Decide(viaGH, tt.host, 443)
		if tt.want == "" {
			if err != nil || !dec.Allowed || dec.DryRun {
				t.Errorf("Decide(%s) with %s = %+v, %v; want allowed", tt.host, tt.policy.RestrictionMode, dec, err)
			}
			continue
		}
		wantDenied(t, "Decide("+tt.host+")", err, tt.want)
		if dec.Allowed || !strings.Contains(dec.Reason, tt.want) {
			t.Errorf("Decide(%s) = %+v, want denied with reason containing %q", tt.host, dec, tt.want)
		}
		if n := res.total(); n != 0 {
			t.Errorf("Decide(%s): %d DNS lookups for a name denied by policy, want 0", tt.host, n)
		}
	}
}

// TestInvalidRequests: bad networks, ports and hosts are refused without DNS or dial.
func TestInvalidRequests(t *testing.T) {
	tests := []struct {
		network, addr, want string
	}{
		{"udp", "1.2.3.4:53", `network "udp" is not allowed`},
		{"unix", "/var/run/docker.sock", `network "unix" is not allowed`},
		{"ip", "1.2.3.4:1", `network "ip" is not allowed`},
		{"tcp", "1.2.3.4", "not a host:port address"},
		{"tcp", "1.2.3.4:https", "invalid port"},
		{"tcp", "1.2.3.4:0", "invalid port"},
		{"tcp", "1.2.3.4:65536", "invalid port"},
		{"tcp", "1.2.3.4:-1", "invalid port"},
		{"tcp", "[fe80::1%eth0]:443", "invalid host: zone"},
		{"tcp", "1.2.3.4.5:443", "looks like an IPv4 address"},
		{"tcp", "example.123:443", "looks like an IPv4 address"},
		{"tcp", "0x7g.1:443", "looks like an IPv4 address"},
		{"tcp", ":443", "invalid host: empty"},
		{"tcp", "a b.example:443", "invalid host"},
		{"tcp", "evil.example%00.good:443", "invalid host"},
	}
	for _, tt := range tests {
		res := newResolver()
		res.fallback = addrs("1.2.3.4")
		spy := newSpy(t)
		rec := &events{}
		d := NewDialer(DialerOptions{Resolver: res, Dial: spy.Dial, Recorder: rec,
			Policy: fixed(&catalog.NetworkPolicy{EnforcementMode: catalog.DryRun})})
		_, err := d.DialContext(context.Background(), tt.network, tt.addr)
		wantDenied(t, fmt.Sprintf("DialContext(%s, %s)", tt.network, tt.addr), err, tt.want)
		if res.total() != 0 || len(spy.got()) != 0 {
			t.Errorf("DialContext(%s, %s): %d lookups, dials %v; want none", tt.network, tt.addr, res.total(), spy.got())
		}
		if ev := rec.list(); len(ev) != 1 || ev[0].AccessType != catalog.AccessDrop {
			t.Errorf("DialContext(%s, %s): events %+v, want one DROP even in DRY_RUN", tt.network, tt.addr, ev)
		}
	}
}

// TestAddressFamily: tcp4 and tcp6 dial only addresses of their family.
func TestAddressFamily(t *testing.T) {
	tests := []struct {
		network, addr string
		want          []string // low-level dials; nil means an error
	}{
		{"tcp", "dual.test:443", []string{"[2606:4700::1]:443"}},
		{"tcp4", "dual.test:443", []string{"1.2.3.4:443"}},
		{"tcp6", "dual.test:443", []string{"[2606:4700::1]:443"}},
		{"tcp4", "v6.test:443", nil},
		{"tcp6", "1.2.3.4:443", nil},
		{"tcp4", "[::ffff:1.2.3.4]:443", []string{"1.2.3.4:443"}},
	}
	for _, tt := range tests {
		spy := newSpy(t)
		res := newResolver().on("dual.test", "2606:4700::1, 1.2.3.4").on("v6.test", "2606:4700::1")
		d := NewDialer(DialerOptions{Resolver: res, Dial: spy.Dial})
		conn, err := d.DialContext(context.Background(), tt.network, tt.addr)
		if conn != nil {
			conn.Close()
		}
		if (err == nil) != (tt.want != nil) {
			t.Errorf("DialContext(%s, %s) error = %v, want ok=%v", tt.network, tt.addr, err, tt.want != nil)
		}
		if d := cmp.Diff(tt.want, spy.got()); d != "" {
			t.Errorf("DialContext(%s, %s) low-level dials (-want +got):\n%s", tt.network, tt.addr, d)
		}
	}
}

// TestPolicyChangeAppliesToNextDial: the policy is read on every dial, and a policy
// changed in place is noticed too.
func TestPolicyChangeAppliesToNextDial(t *testing.T) {
	var policy atomic.Pointer[catalog.NetworkPolicy]
	policy.Store(&catalog.NetworkPolicy{})
	res := newResolver()
	res.fallback = addrs("1.2.3.4")
	spy := newSpy(t)
	d := NewDialer(DialerOptions{Policy: policy.Load, Resolver: res, Dial: spy.Dial})
	ctx := context.Background()

	dial := func(step string, wantOK bool) {
		t.Helper()
		conn, err := d.DialContext(ctx, "tcp", "api.example.com:443")
		if conn != nil {
			conn.Close()
		}
		if ok := err == nil; ok != wantOK {
			t.Errorf("%s: DialContext error = %v, want ok=%v", step, err, wantOK)
		}
	}
	dial("zero policy", true)
	policy.Store(&catalog.NetworkPolicy{BlockedDestinations: []string{"api.example.com"}})
	dial("blocked", false)
	p := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowedDestinations: []string{"api.example.com"}}
	policy.Store(p)
	dial("restricted, allowed", true)
	p.AllowedDestinations[0] = "other.example.com" // changed in place
	dial("restricted, changed in place", false)
	policy.Store(nil)
	dial("nil policy", true)
}

// TestEnforcement: ENFORCED refuses and records DROP; DRY_RUN records DRY_RUN_DENIAL
// and lets the connection through, except for refused addresses and own listeners,
// which it never relaxes.
func TestEnforcement(t *testing.T) {
	src := Source{Kind: catalog.SourceEgress, Principal: "billing-agent", Connection: "github"}
	ctx := WithSource(context.Background(), src)
	newD := func(mode string, rec *events, spy *spyDial) *Dialer {
		var r Recorder
		if rec != nil {
			r = rec
		}
		return NewDialer(DialerOptions{
			Policy: fixed(&catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, EnforcementMode: mode,
				AllowedDestinations: []string{"ok.example"}}),
			Resolver: newResolver().on("api.example.com", "1.2.3.4").on("internal.example.com", "10.0.0.5"),
			Recorder: r, Dial: spy.Dial, Now: testClock,
		})
	}

	t.Run("ENFORCED", func(t *testing.T) {
		rec, spy := &events{}, newSpy(t)
		d := newD(catalog.Enforced, rec, spy)
		_, err := d.DialContext(ctx, "tcp", "api.example.com:443")
		wantDenied(t, "DialContext", err)
		var ce *catalog.Error
		errors.As(err, &ce)
		if got, want := ce.Message, "network policy denies api.example.com:443: api.example.com is not an allowed destination under RESTRICTED_ACCESS"; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		want := []*catalog.NetworkEvent{{Time: testNow, Destination: "api.example.com:443", Source: "egress", Principal: "billing-agent",
			Connection: "github", Reason: "api.example.com is not an allowed destination under RESTRICTED_ACCESS", AccessType: catalog.AccessDrop}}
		if d := cmp.Diff(want, rec.list()); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
		if len(spy.got()) != 0 {
			t.Errorf("dials = %v, want none", spy.got())
		}
		if d := cmp.Diff(map[string]int64{"egress/DROP": 1}, d.Counts()); d != "" {
			t.Errorf("Counts (-want +got):\n%s", d)
		}
	})

	t.Run("DRY_RUN", func(t *testing.T) {
		rec, spy := &events{}, newSpy(t)
		d := newD(catalog.DryRun, rec, spy)
		conn, err := d.DialContext(ctx, "tcp", "api.example.com:443")
		if err != nil {
			t.Fatalf("DialContext: %v", err)
		}
		conn.Close()
		if got := spy.got(); !slices.Equal(got, []string{"1.2.3.4:443"}) {
			t.Errorf("dials = %v, want [1.2.3.4:443]", got)
		}
		dec, err := d.Decide(ctx, "api.example.com", 443)
		if err != nil || !dec.Allowed || !dec.DryRun || dec.Addr != netip.MustParseAddrPort("1.2.3.4:443") || !strings.Contains(dec.Reason, "not an allowed destination") {
			t.Errorf("Decide = %+v, %v; want allowed in dry run at 1.2.3.4:443", dec, err)
		}
		ev := &catalog.NetworkEvent{Time: testNow, Destination: "api.example.com:443", ResolvedAddress: "1.2.3.4", Source: "egress",
			Principal: "billing-agent", Connection: "github", Reason: "api.example.com is not an allowed destination under RESTRICTED_ACCESS",
			AccessType: catalog.AccessDryRunDenial}
		if d := cmp.Diff([]*catalog.NetworkEvent{ev, ev}, rec.list()); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}

		// Dry run previews the name rules; it never opens a refused address.
		_, err = d.DialContext(ctx, "tcp", "internal.example.com:443")
		wantDenied(t, "DialContext(internal.example.com)", err, "not an allowed destination", "10.0.0.5: RFC 1918 private")
		if last := rec.list()[2]; last.AccessType != catalog.AccessDrop || last.ResolvedAddress != "10.0.0.5" {
			t.Errorf("event = %+v, want DROP with resolved address 10.0.0.5", last)
		}
		if len(spy.got()) != 1 {
			t.Errorf("dials = %v, want only the first", spy.got())
		}
		if d := cmp.Diff(map[string]int64{"egress/DRY_RUN_DENIAL": 2, "egress/DROP": 1}, d.Counts()); d != "" {
			t.Errorf("Counts (-want +got):\n%s", d)
		}
	})

	t.Run("no source", func(t *testing.T) {
		d := newD(catalog.Enforced, nil, newSpy(t))
		_, _ = d.Decide(context.Background(), "api.example.com", 443)
		if d := cmp.Diff(map[string]int64{"unknown/DROP": 1}, d.Counts()); d != "" {
			t.Errorf("Counts (-want +got):\n%s", d)
		}
	})
}

// TestOwnListeners: Gatehouse never dials itself, whatever the policy, also in
// DRY_RUN, also through a listener on 0.0.0.0 or ::.
func TestOwnListeners(t *testing.T) {
	c := newCanary(t)
	port := c.port()
	p := strconv.Itoa(port)
	other := newCanary(t)
	openAll := []string{"0.0.0.0/0", "::/0"}

	tests := []struct {
		name   string
		own    []string
		mode   string
		addr   string
		wantOK bool
	}{
		{name: "exact", own: []string{"127.0.0.1:" + p}, addr: "127.0.0.1:" + p},
		{name: "odd form", own: []string{"127.0.0.1:" + p}, addr: "127.1:" + p},
		{name: "mapped", own: []string{"127.0.0.1:" + p}, addr: "[::ffff:127.0.0.1]:" + p},
		{name: "name", own: []string{"127.0.0.1:" + p}, addr: "self.test:" + p},
		{name: "other loopback", own: []string{"127.0.0.1:" + p}, addr: "127.0.0.2:" + p},
		{name: "unspecified target", own: []string{"127.0.0.1:" + p}, addr: "0.0.0.0:" + p},
		{name: "unspecified v6 target", own: []string{"127.0.0.1:" + p}, addr: "[::]:" + p},
		{name: "0.0.0.0 listener", own: []string{"0.0.0.0:" + p}, addr: "127.0.0.1:" + p},
		{name: ":: listener", own: []string{"[::]:" + p}, addr: "127.0.0.1:" + p},
		{name: ":: listener, interface address", own: []string{"[::]:" + p}, addr: "10.1.2.3:" + p},
		{name: "0.0.0.0 listener, dry run", own: []string{"0.0.0.0:" + p}, mode: catalog.DryRun, addr: "self.test:" + p},
		{name: "exact, dry run", own: []string{"127.0.0.1:" + p}, mode: catalog.DryRun, addr: "127.0.0.1:" + p},
		{name: "other port", own: []string{"0.0.0.0:" + p}, addr: other.addrPort().String(), wantOK: true},
		{name: "other interface address", own: []string{"127.0.0.1:" + p}, addr: "10.1.2.3:" + p, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var own []netip.AddrPort
			for _, o := range tt.own {
				own = append(own, netip.MustParseAddrPort(o))
			}
			rec, spy := &events{}, newSpy(t)
			// In dry run, RESTRICTED_ACCESS with nothing allowed: the name rules would
			// let everything through, the own-listener rule must not.
			restriction := catalog.FullAccess
			if tt.mode == catalog.DryRun {
				restriction = catalog.RestrictedAccess
			}
			d := NewDialer(DialerOptions{
				Policy: fixed(&catalog.NetworkPolicy{RestrictionMode: restriction, EnforcementMode: tt.mode,
					AllowedIPRanges: openAll}),
				Resolver: newResolver().on("self.test", "127.0.0.1"),
				OwnAddrs: func() []netip.AddrPort { return own },
				Recorder: rec, Dial: spy.Dial,
			})
			d.localAddrs = func() ([]netip.Addr, error) { return addrs("10.1.2.3, 127.0.0.1"), nil }
			conn, err := d.DialContext(context.Background(), "tcp", tt.addr)
			if conn != nil {
				conn.Close()
			}
			if tt.wantOK {
				if err != nil {
					t.Errorf("DialContext(%s): %v", tt.addr, err)
				}
				return
			}
			wantDenied(t, "DialContext("+tt.addr+")", err, "Gatehouse's own listener")
			if len(spy.got()) != 0 {
				t.Errorf("dials = %v, want none", spy.got())
			}
			if ev := rec.list(); len(ev) == 0 || ev[len(ev)-1].AccessType != catalog.AccessDrop {
				t.Errorf("events = %+v, want a DROP", ev)
			}
		})
	}
	c.expect(t, 0)
}

// TestTimeout: the dial runs under the configured timeout.
func TestTimeout(t *testing.T) {
	var gotDeadline bool
	d := NewDialer(DialerOptions{
		Resolver: newResolver().on("api.example.com", "1.2.3.4"),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, gotDeadline = ctx.Deadline()
			<-ctx.Done()
			return nil, ctx.Err()
		},
		Timeout: 50 * time.Millisecond,
	})
	_, err := d.DialContext(context.Background(), "tcp", "api.example.com:443")
	if err == nil || !gotDeadline {
		t.Errorf("DialContext = %v (deadline %v), want a timeout", err, gotDeadline)
	}
}
