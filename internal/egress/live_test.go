package egress

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestPolicyChangeClosesLiveConnections is the permanent table of open connections
// under a policy change: each case opens a connection to api.partner.test (loopback,
// opened by allowed_ip_ranges) under the first policy, changes the policy, and checks
// that exactly the connections the new policy refuses are closed, that each closure is
// a recorded denial attributed to the connection's source, and that re-deciding
// resolved nothing.
func TestPolicyChangeClosesLiveConnections(t *testing.T) {
	loopback := []string{"127.0.0.0/8"}
	tests := []struct {
		name      string
		next      catalog.NetworkPolicy
		closed    bool
		eventType string // "" = no event
		reason    string
	}{
		{"name blocked", catalog.NetworkPolicy{AllowedIPRanges: loopback, BlockedDestinations: []string{"api.partner.test"}}, true, catalog.AccessDrop, "is blocked"},
		{"wildcard blocked", catalog.NetworkPolicy{AllowedIPRanges: loopback, BlockedDestinations: []string{"*.partner.test"}}, true, catalog.AccessDrop, "is blocked"},
		{"restricted without the name", catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowedIPRanges: loopback, AllowedDestinations: []string{"other.test"}}, true, catalog.AccessDrop, "not an allowed destination"},
		{"address range removed", catalog.NetworkPolicy{}, true, catalog.AccessDrop, "127.0.0.1"},
		{"dry run keeps it open", catalog.NetworkPolicy{EnforcementMode: catalog.DryRun, AllowedIPRanges: loopback, BlockedDestinations: []string{"api.partner.test"}}, false, catalog.AccessDryRunDenial, "is blocked"},
		{"other name blocked", catalog.NetworkPolicy{AllowedIPRanges: loopback, BlockedDestinations: []string{"other.test"}}, false, "", ""},
		{"still allowed", catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowedIPRanges: loopback, AllowedDestinations: []string{"api.partner.test"}}, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCanaryHold(t)
			res := newResolver().on("api.partner.test", "127.0.0.1")
			var policy atomic.Pointer[catalog.NetworkPolicy]
			policy.Store(&catalog.NetworkPolicy{AllowedIPRanges: loopback})
			ev := &events{}
			d := NewDialer(DialerOptions{Policy: policy.Load, Resolver: res, Recorder: ev, Now: testClock})
			ctx := WithSource(context.Background(), Source{Kind: catalog.SourceEgress, Principal: "alice@example.com"})
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("api.partner.test", c.portText()))
			if err != nil {
				t.Fatalf("dial under the first policy: %v", err)
			}
			defer conn.Close()
			if n := d.LiveConnections(); n != 1 {
				t.Fatalf("LiveConnections = %d, want 1", n)
			}
			lookups := res.total()
			next := tc.next
			policy.Store(&next)
			n := d.closeDenied(context.Background())
			if res.total() != lookups {
				t.Errorf("re-deciding resolved the name again")
			}
			if got := n == 1; got != tc.closed {
				t.Fatalf("closed = %v, want %v", got, tc.closed)
			}
			// closeDenied has returned, so the connection is closed or not by now: a
			// read that may not wait tells which.
			_ = conn.SetReadDeadline(time.Now())
			_, rerr := conn.Read(make([]byte, 1))
			if tc.closed != errors.Is(rerr, net.ErrClosed) {
				t.Fatalf("Read after the change = %v; closed want %v", rerr, tc.closed)
			}
			if tc.closed && d.LiveConnections() != 0 {
				t.Errorf("LiveConnections = %d after closing, want 0", d.LiveConnections())
			}
			evs := ev.list()
			if tc.eventType == "" {
				if len(evs) != 0 {
					t.Fatalf("events = %+v, want none", evs[0])
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			e := evs[0]
			if e.AccessType != tc.eventType || !strings.Contains(e.Reason, tc.reason) || e.Principal != "alice@example.com" ||
				e.Source != catalog.SourceEgress || !strings.HasPrefix(e.Destination, "api.partner.test:") {
				t.Errorf("event = %+v, want %s with %q for alice over egress", e, tc.eventType, tc.reason)
			}
		})
	}
}

// TestCloseDeniedInBackground: the exported, asynchronous pass closes a denied
// connection (the test waits on the connection, not on time), and a closed connection
// leaves the set.
func TestCloseDeniedInBackground(t *testing.T) {
	c := newCanaryHold(t)
	var policy atomic.Pointer[catalog.NetworkPolicy]
	policy.Store(&catalog.NetworkPolicy{AllowedIPRanges: []string{"127.0.0.0/8"}})
	d := NewDialer(DialerOptions{Policy: policy.Load, Resolver: newResolver(), Now: testClock})
	kept, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+c.portText())
	if err != nil {
		t.Fatal(err)
	}
	kept.Close()
	if n := d.LiveConnections(); n != 0 {
		t.Fatalf("LiveConnections after Close = %d, want 0", n)
	}
	conn, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+c.portText())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(interface{ CloseWrite() error }); !ok {
		t.Fatal("a live connection lost CloseWrite")
	}
	policy.Store(&catalog.NetworkPolicy{})
	d.CloseDenied()
	d.CloseDenied() // coalesced or queued; never two at once
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read = %v, want the connection closed by the policy change", err)
	}
}

// canaryHold is a loopback listener that keeps the connections it accepts open, so that
// only Gatehouse's side can end them.
type canaryHold struct{ ln net.Listener }

func newCanaryHold(t *testing.T) *canaryHold {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, conn)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return &canaryHold{ln: ln}
}

func (c *canaryHold) portText() string {
	_, p, _ := net.SplitHostPort(c.ln.Addr().String())
	return p
}
