package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// addrForms are the spellings of a in which a message could betray it.
func addrForms(a netip.Addr) []string {
	a = a.Unmap()
	forms := []string{a.String(), a.StringExpanded()}
	if a.Is4() {
		forms = append(forms, netip.AddrFrom16(a.As16()).String())
	}
	return forms
}

// TestDenialMessagesNameNoResolvedAddress is the permanent table for denial messages: for
// a name that resolves to a refused internal address, the caller's message (the public
// *catalog.Error, and the error's text, which OAuth failures pass on) names the
// destination as asked and that the policy refused it, but neither the address nor its
// class; the network event and the Denial's recorded reason keep both.
func TestDenialMessagesNameNoResolvedAddress(t *testing.T) {
	type tc struct {
		name     string
		policy   *catalog.NetworkPolicy
		answer   string // what internal.test resolves to
		host     string // as the caller gave it
		wantPart string // in the public message
	}
	var tests []tc
	for _, c := range deniedClasses {
		tests = append(tests, tc{"resolves to " + c.class + " " + c.addr, &catalog.NetworkPolicy{}, c.addr, "internal.test",
			"internal.test resolves only to addresses the network policy refuses"})
	}
	tests = append(tests,
		tc{"several refused addresses", &catalog.NetworkPolicy{}, "10.0.0.5, 192.168.1.7, 169.254.169.254, 10.1.1.1, 10.2.2.2, 10.3.3.3",
			"internal.test", "resolves only to addresses the network policy refuses"},
		tc{"spelled in upper case with a trailing dot", &catalog.NetworkPolicy{}, "10.0.0.5", "INTERNAL.test.",
			"network policy denies INTERNAL.test.:443: internal.test resolves only to addresses the network policy refuses"},
		tc{"dry run of a restriction, then the address class", &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.DryRun},
			"10.0.0.5", "internal.test", "not an allowed destination under RESTRICTED_ACCESS; internal.test resolves only to addresses"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := addrs(tt.answer)
			rec := &events{}
			d := NewDialer(DialerOptions{Policy: fixed(tt.policy), Resolver: newResolver().on("internal.test", tt.answer),
				Recorder: rec, Dial: newSpy(t).Dial})
			conn, err := d.DialContext(context.Background(), "tcp", tt.host+":443")
			if conn != nil {
				conn.Close()
				t.Fatalf("DialContext(%s) connected", tt.host)
			}
			var ce *catalog.Error
			var den *Denial
			if !errors.As(err, &ce) || ce.Code != catalog.NetworkPolicyDenied || !errors.As(err, &den) {
				t.Fatalf("DialContext(%s) error = %v, want a *Denial NETWORK_POLICY_DENIED", tt.host, err)
			}
			if !strings.Contains(ce.Message, tt.wantPart) {
				t.Errorf("public message %q does not contain %q", ce.Message, tt.wantPart)
			}
			if !strings.HasPrefix(ce.Message, "network policy denies "+tt.host+":443: ") {
				t.Errorf("public message %q does not name the destination as asked (%s:443)", ce.Message, tt.host)
			}
			ev := rec.list()
			if len(ev) != 1 {
				t.Fatalf("events = %+v, want one", ev)
			}
			first := answers[0].Unmap()
			if ev[0].ResolvedAddress != first.String() {
				t.Errorf("event resolved_address = %q, want %q", ev[0].ResolvedAddress, first)
			}
			if den.ResolvedAddress != first.String() {
				t.Errorf("Denial.ResolvedAddress = %q, want %q", den.ResolvedAddress, first)
			}
			if !strings.Contains(ev[0].Reason, first.String()) || ev[0].Reason != den.Reason {
				t.Errorf("event reason %q (Denial reason %q) does not name %s", ev[0].Reason, den.Reason, first)
			}
			for _, text := range []string{ce.Message, err.Error()} {
				for _, a := range answers {
					for _, f := range addrForms(a) {
						if strings.Contains(text, f) {
							t.Errorf("caller's text %q names the resolved address %s (as %q)", text, a, f)
						}
					}
					if class := classify(a.Unmap()); class != "" && strings.Contains(text, class) {
						t.Errorf("caller's text %q names the address class %q", text, class)
					}
				}
			}
		})
	}
}

// TestDenialMessagesKeepWhatTheCallerGave: an IP literal is the caller's own text, so its
// message may say what the address is; a name rule names the rule. The recorded reason
// and the public one are then the same.
func TestDenialMessagesKeepWhatTheCallerGave(t *testing.T) {
	tests := []struct {
		name   string
		policy *catalog.NetworkPolicy
		host   string
		want   string
	}{
		{"private IP literal", &catalog.NetworkPolicy{}, "10.0.0.5", "network policy denies 10.0.0.5:443: 10.0.0.5: RFC 1918 private"},
		{"metadata literal", &catalog.NetworkPolicy{}, "169.254.169.254", "network policy denies 169.254.169.254:443: 169.254.169.254: cloud metadata"},
		{"blocked name", &catalog.NetworkPolicy{BlockedDestinations: []string{"evil.test"}}, "evil.test",
			"network policy denies evil.test:443: evil.test is blocked (blocked_internet_destinations entry evil.test)"},
		{"restricted name", &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess}, "other.test",
			"network policy denies other.test:443: other.test is not an allowed destination under RESTRICTED_ACCESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDialer(DialerOptions{Policy: fixed(tt.policy), Resolver: newResolver(), Dial: newSpy(t).Dial})
			_, err := d.DialContext(context.Background(), "tcp", tt.host+":443")
			var ce *catalog.Error
			var den *Denial
			if !errors.As(err, &ce) || !errors.As(err, &den) {
				t.Fatalf("error = %v, want a *Denial", err)
			}
			if !strings.HasPrefix(ce.Message, tt.want) {
				t.Errorf("message = %q, want it to start with %q", ce.Message, tt.want)
			}
			if got := "network policy denies " + den.Destination + ": " + den.Reason; got != ce.Message {
				t.Errorf("recorded %q, public %q: want the same", got, ce.Message)
			}
		})
	}
}

// dnsServerResolver fails like the system resolver does, naming the server it asked.
type dnsServerResolver struct{ timeout bool }

func (r dnsServerResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.2:53", IsNotFound: !r.timeout, IsTimeout: r.timeout}
}

// TestFailureTextNamesNoAddress: a failed resolution or connection (not a denial) is
// reported in words that name the destination as asked but neither the DNS server nor
// the address dialed, since OAuth failures pass the text on to users; the original error
// stays reachable for errors.Is and errors.As.
func TestFailureTextNamesNoAddress(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now: the dial is refused
	open := &catalog.NetworkPolicy{AllowedIPRanges: []string{"127.0.0.0/8", "10.0.0.0/8"}}

	tests := []struct {
		name     string
		resolver Resolver
		addr     string
		want     string
		never    []string
		is       func(error) bool
	}{
		{"name not found", dnsServerResolver{}, "gone.test:443", "resolve gone.test: no such host", []string{"10.0.0.2"},
			func(err error) bool { var d *net.DNSError; return errors.As(err, &d) && d.IsNotFound }},
		{"lookup timed out", dnsServerResolver{timeout: true}, "slow.test:443", "resolve slow.test: lookup timed out", []string{"10.0.0.2"},
			func(err error) bool { var d *net.DNSError; return errors.As(err, &d) && d.IsTimeout }},
		{"connection refused", newResolver().on("svc.test", "127.0.0.1"), "svc.test:" + closedPort,
			"dial svc.test:" + closedPort + ": connect: connection refused", []string{"127.0.0.1", "tcp4"},
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDialer(DialerOptions{Policy: fixed(open), Resolver: tt.resolver})
			conn, err := d.DialContext(context.Background(), "tcp", tt.addr)
			if conn != nil {
				conn.Close()
				t.Fatalf("DialContext(%s) connected", tt.addr)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
			for _, n := range tt.never {
				if err != nil && strings.Contains(err.Error(), n) {
					t.Errorf("error %q names %q", err, n)
				}
			}
			if !tt.is(err) {
				t.Errorf("error %v lost its cause", err)
			}
		})
	}
}
