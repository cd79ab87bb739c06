package egress

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestConnectionDestination: the destination of a connection, as the dialer compares
// it: the normalized name and the port option, else the URL's port, else the scheme's.
func TestConnectionDestination(t *testing.T) {
	tests := []struct {
		name       string
		host, port string
		wantName   string
		wantPort   int // 0: no destination
	}{
		{"https default port", "https://api.partner.test", "", "api.partner.test", 443},
		{"http default port", "http://plain.test", "", "plain.test", 80},
		{"port option", "https://api.partner.test", "8443", "api.partner.test", 8443},
		{"port in the URL", "https://api.partner.test:8443", "", "api.partner.test", 8443},
		{"port in both, agreeing", "https://api.partner.test:8443", "8443", "api.partner.test", 8443},
		{"ports disagreeing open nothing", "https://api.partner.test:8443", "9443", "", 0},
		{"upper case and trailing dot", "https://API.Partner.TEST.", "", "api.partner.test", 443},
		{"IDN in punycode", "https://Bücher.Example", "", "xn--bcher-kva.example", 443},
		{"upper-case scheme", "HTTPS://api.partner.test", "", "api.partner.test", 443},
		{"IP literal opens nothing", "https://1.2.3.4", "", "", 0},
		{"IPv6 literal opens nothing", "https://[2606:4700::1]", "", "", 0},
		{"decimal IP spelling opens nothing", "https://16909060", "", "", 0},
		{"bad port option", "https://api.partner.test", "0443", "", 0},
		{"port out of range", "https://api.partner.test", "65536", "", 0},
		{"service name as port", "https://api.partner.test", "https", "", 0},
		{"other scheme", "ftp://api.partner.test", "", "", 0},
		{"no scheme", "api.partner.test", "", "", 0},
		{"user info", "https://u:p@api.partner.test", "", "", 0},
		{"empty", "", "", "", 0},
		{"bad name", "https://a..b", "", "", 0},
		{"zone", "https://[fe80::1%25eth0]", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, port, ok := ConnectionDestination(tt.host, tt.port)
			if tt.wantPort == 0 {
				if ok {
					t.Errorf("ConnectionDestination(%q, %q) = %s:%d, want none", tt.host, tt.port, name, port)
				}
				return
			}
			if !ok || name != tt.wantName || port != tt.wantPort {
				t.Errorf("ConnectionDestination(%q, %q) = %q, %d, %v; want %s:%d", tt.host, tt.port, name, port, ok, tt.wantName, tt.wantPort)
			}
		})
	}
}

// TestConnectionDestinationsPolicy is the permanent table for allow_connection_destinations
// under RESTRICTED_ACCESS: (connections, enabled or not, host, port) × (dial host:port,
// source) → allowed or denied. Only the exact host:port of an enabled connection opens,
// and only for calls through that connection and for OAuth calls; never for the egress
// proxy; spelling variants of a host are judged as the normalized name. A denied name is
// never looked up.
func TestConnectionDestinationsPolicy(t *testing.T) {
	conn := func(name, host, port string, enabled bool) *catalog.Connection {
		opts := map[string]string{catalog.OptHost: host}
		if port != "" {
			opts[catalog.OptPort] = port
		}
		return &catalog.Connection{Name: name, Enabled: enabled, Options: opts}
	}
	conns := []*catalog.Connection{
		conn("partner", "https://api.partner.test", "", true),
		conn("partner-alt", "https://alt.partner.test", "8443", true),
		conn("books", "https://Bücher.Example", "", true),
		conn("plain", "http://plain.test", "", true),
		conn("off", "https://off.test", "", false),
		conn("ip", "https://1.2.3.4", "", true),
		conn("blocked", "https://blocked.test", "", true),
		// Two connections on one host, on different ports: each opens only its own.
		conn("shared-a", "https://shared.test", "1001", true),
		conn("shared-b", "https://shared.test", "1002", true),
	}
	set := NewConnectionDestinations(conns)
	if got, want := set.Len(), 7; got != want {
		t.Errorf("Len() = %d, want %d (the disabled connection and the IP literal contribute nothing)", got, want)
	}
	withConn := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowConnectionDestinations: true,
		BlockedDestinations: []string{"blocked.test"}}
	noConn := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess}
	full := &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess}
	proxy := func(c string) Source {
		return Source{Kind: catalog.SourceProxy, Principal: "alice@example.com", Connection: c}
	}
	oauth := Source{Kind: catalog.SourceOAuth, Connection: "partner"}
	oauthNoConn := Source{Kind: catalog.SourceOAuth}
	egress := Source{Kind: catalog.SourceEgress, Principal: "alice@example.com"}

	tests := []struct {
		name    string
		policy  *catalog.NetworkPolicy
		src     Source
		host    string
		port    int
		allowed bool
	}{
		{"own connection, exact host:port", withConn, proxy("partner"), "api.partner.test", 443, true},
		{"own connection, other port", withConn, proxy("partner"), "api.partner.test", 8443, false},
		{"own connection, upper case and trailing dot", withConn, proxy("partner"), "API.Partner.TEST.", 443, true},
		{"other connection's destination", withConn, proxy("plain"), "api.partner.test", 443, false},
		{"proxy without a connection name", withConn, proxy(""), "api.partner.test", 443, false},
		{"port option, that port", withConn, proxy("partner-alt"), "alt.partner.test", 8443, true},
		{"port option, scheme default port", withConn, proxy("partner-alt"), "alt.partner.test", 443, false},
		{"IDN as punycode", withConn, proxy("books"), "xn--bcher-kva.example", 443, true},
		{"IDN as Unicode, other case, trailing dot", withConn, proxy("books"), "BÜCHER.example.", 443, true},
		{"IDN on another port", withConn, proxy("books"), "bücher.example", 80, false},
		{"http connection, port 80", withConn, proxy("plain"), "plain.test", 80, true},
		{"http connection, port 443", withConn, proxy("plain"), "plain.test", 443, false},
		{"disabled connection, through it", withConn, proxy("off"), "off.test", 443, false},
		{"disabled connection, OAuth", withConn, oauth, "off.test", 443, false},
		{"disabled connection, egress", withConn, egress, "off.test", 443, false},
		{"IP-literal connection needs a range", withConn, proxy("ip"), "1.2.3.4", 443, false},
		{"blocked wins over a connection", withConn, proxy("blocked"), "blocked.test", 443, false},
		{"shared host, first connection's port", withConn, proxy("shared-a"), "shared.test", 1001, true},
		{"shared host, second connection's port through the first", withConn, proxy("shared-a"), "shared.test", 1002, false},
		{"shared host, second connection's port", withConn, proxy("shared-b"), "shared.test", 1002, true},
		{"OAuth call, a connection's exact host:port", withConn, oauth, "api.partner.test", 443, true},
		{"OAuth call without connection name, a connection's host:port", withConn, oauthNoConn, "shared.test", 1002, true},
		{"OAuth call, other port", withConn, oauth, "api.partner.test", 444, false},
		{"OAuth call, a host no connection names", withConn, oauth, "idp.partner.test", 443, false},
		{"egress proxy, a connection's exact host:port", withConn, egress, "api.partner.test", 443, false},
		{"egress proxy, other port", withConn, egress, "api.partner.test", 8443, false},
		{"no source, a connection's exact host:port", withConn, Source{}, "api.partner.test", 443, false},
		{"flag off: own connection refused", noConn, proxy("partner"), "api.partner.test", 443, false},
		{"FULL_ACCESS: every public destination", full, egress, "api.partner.test", 8443, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newResolver()
			res.fallback = addrs("1.2.3.4")
			rec := &events{}
			d := NewDialer(DialerOptions{Policy: fixed(tt.policy), Resolver: res, Recorder: rec,
				ConnectionDestinations: func() *ConnectionDestinations { return set }})
			dec, err := d.Decide(WithSource(context.Background(), tt.src), tt.host, tt.port)
			what := "Decide(" + tt.host + ":" + strconv.Itoa(tt.port) + ", " + tt.src.Kind + "/" + tt.src.Connection + ")"
			if tt.allowed {
				if err != nil || !dec.Allowed || dec.DryRun {
					t.Fatalf("%s = %+v, %v; want allowed", what, dec, err)
				}
				return
			}
			wantDenied(t, what, err)
			if dec.Allowed {
				t.Errorf("%s = allowed, want denied", what)
			}
			if n := res.total(); n != 0 {
				t.Errorf("%s: %d DNS lookups for a destination the policy refuses, want 0", what, n)
			}
			if ev := rec.list(); len(ev) != 1 || ev[0].AccessType != catalog.AccessDrop {
				t.Errorf("%s: events = %+v, want one DROP", what, ev)
			}
		})
	}
}

// TestConnectionDestinationsFollowChanges: the dialer reads the set on every dial, so a
// rebuilt set (a connection disabled, re-enabled, moved to another port, deleted)
// applies to the next dial.
func TestConnectionDestinationsFollowChanges(t *testing.T) {
	c := &catalog.Connection{Name: "partner", Enabled: true, Options: map[string]string{catalog.OptHost: "https://api.partner.test"}}
	var set *ConnectionDestinations
	rebuild := func(cs ...*catalog.Connection) { set = NewConnectionDestinations(cs) }
	res := newResolver()
	res.fallback = addrs("1.2.3.4")
	d := NewDialer(DialerOptions{Resolver: res,
		Policy:                 fixed(&catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowConnectionDestinations: true}),
		ConnectionDestinations: func() *ConnectionDestinations { return set }})
	ctx := WithSource(context.Background(), Source{Kind: catalog.SourceProxy, Connection: "partner"})
	other := &catalog.Connection{Name: "other", Enabled: true, Options: map[string]string{catalog.OptHost: "https://other.test"}}
	steps := []struct {
		name    string
		change  func()
		port    int
		allowed bool
		closes  bool // the change closed a destination
	}{
		{"enabled", func() { rebuild(c) }, 443, true, false},
		{"another connection added", func() { rebuild(c, other) }, 443, true, false},
		{"another connection removed", func() { rebuild(c) }, 443, true, true},
		{"disabled", func() { c.Enabled = false; rebuild(c) }, 443, false, true},
		{"enabled again", func() { c.Enabled = true; rebuild(c) }, 443, true, false},
		{"moved to 8443: the old port", func() { c.Options[catalog.OptPort] = "8443"; rebuild(c) }, 443, false, true},
		{"moved to 8443: the new port", func() {}, 8443, true, false},
		{"renamed", func() { c.Name = "partner2"; rebuild(c) }, 8443, false, true},
		{"renamed back", func() { c.Name = "partner"; rebuild(c) }, 8443, true, true},
		{"deleted", func() { rebuild() }, 8443, false, true},
		{"no set at all", func() { set = nil }, 8443, false, false},
	}
	for _, s := range steps {
		prev := set
		s.change()
		// Covers tells netState whether pooled connections must be dropped: only when
		// a destination closed.
		if got := !set.Covers(prev); got != s.closes {
			t.Errorf("%s: closed a destination = %v, want %v", s.name, got, s.closes)
		}
		_, err := d.Decide(ctx, "api.partner.test", s.port)
		if got := err == nil; got != s.allowed {
			t.Errorf("%s: Decide(api.partner.test:%d) allowed = %v (%v), want %v", s.name, s.port, got, err, s.allowed)
		}
	}
}

// FuzzConnectionDestination: ConnectionDestination never panics; a destination it returns
// is a normalized name (stable under NormalizeHost, never an IP) and a valid port; a set
// built from such a connection opens exactly that host:port to a call through the
// connection, whatever the spelling of the name the dial uses, and no other port.
func FuzzConnectionDestination(f *testing.F) {
	for _, s := range []struct{ host, port string }{
		{"https://api.partner.test", ""}, {"https://API.Partner.TEST.:8443", ""}, {"https://Bücher.Example", "443"},
		{"http://plain.test", ""}, {"https://1.2.3.4", ""}, {"https://16909060", ""}, {"https://[::1]:443", "443"},
		{"https://a.test:8443", "9443"}, {"https://a.test", "08443"}, {"ftp://a.test", ""}, {"https://u@a.test", ""},
		{"https://%61.test", ""}, {"https://a.test:0", ""}, {"https://a.test:", ""}, {"https://１２７．０．０．１", ""},
	} {
		f.Add(s.host, s.port)
	}
	f.Fuzz(func(t *testing.T, host, port string) {
		name, p, ok := ConnectionDestination(host, port)
		if !ok {
			if name != "" || p != 0 {
				t.Fatalf("ConnectionDestination(%q, %q) = %q, %d with ok false", host, port, name, p)
			}
			return
		}
		if p < 1 || p > 65535 {
			t.Fatalf("ConnectionDestination(%q, %q) port %d", host, port, p)
		}
		n2, ip, err := NormalizeHost(name)
		if err != nil || n2 != name || ip.IsValid() {
			t.Fatalf("ConnectionDestination(%q, %q) = %q, which normalizes to %q, %v, %v", host, port, name, n2, ip, err)
		}
		set := NewConnectionDestinations([]*catalog.Connection{{Name: "c", Enabled: true,
			Options: map[string]string{catalog.OptHost: host, catalog.OptPort: port}}})
		d := NewDialer(DialerOptions{Resolver: fuzzResolver{},
			Policy:                 fixed(&catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowConnectionDestinations: true}),
			ConnectionDestinations: func() *ConnectionDestinations { return set }})
		via := WithSource(context.Background(), Source{Kind: catalog.SourceProxy, Connection: "c"})
		for _, spelling := range []string{name, strings.ToUpper(name), name + "."} {
			if dec, err := d.Decide(via, spelling, p); err != nil || !dec.Allowed {
				t.Fatalf("%s:%d (from %q, %q) refused through its connection: %v", spelling, p, host, port, err)
			}
		}
		other := p%65535 + 1
		if _, err := d.Decide(via, name, other); err == nil {
			t.Fatalf("%s:%d allowed, but the connection (%q, %q) is on port %d", name, other, host, port, p)
		}
		egress := WithSource(context.Background(), Source{Kind: catalog.SourceEgress})
		if _, err := d.Decide(egress, name, p); err == nil {
			t.Fatalf("%s:%d allowed for the egress proxy", name, p)
		}
	})
}
