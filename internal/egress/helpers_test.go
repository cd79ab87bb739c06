package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// scriptedResolver answers from a script and never touches real DNS. Each host has a
// list of successive answers; the last one repeats. Hosts without a script get
// fallback, or a "no such host" error when fallback is empty.
type scriptedResolver struct {
	mu       sync.Mutex
	answers  map[string][][]netip.Addr
	fallback []netip.Addr
	calls    map[string]int
}

func newResolver() *scriptedResolver {
	return &scriptedResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

// on scripts host's successive answers, each a comma-separated list of addresses.
func (r *scriptedResolver) on(host string, answers ...string) *scriptedResolver {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range answers {
		r.answers[host] = append(r.answers[host], addrs(a))
	}
	return r
}

func addrs(list string) []netip.Addr {
	var out []netip.Addr
	for s := range strings.SplitSeq(list, ",") {
		out = append(out, netip.MustParseAddr(strings.TrimSpace(s)))
	}
	return out
}

func (r *scriptedResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.calls[host]
	r.calls[host]++
	script := r.answers[host]
	if len(script) == 0 {
		if r.fallback != nil {
			return r.fallback, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return script[min(n, len(script)-1)], nil
}

func (r *scriptedResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func (r *scriptedResolver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

// canary is a loopback listener that counts the connections it accepts: the proof that
// a refused dial reached nothing.
type canary struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newCanary(t *testing.T) *canary {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &canary{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *canary) addrPort() netip.AddrPort { return c.ln.Addr().(*net.TCPAddr).AddrPort() }
func (c *canary) port() int                { return int(c.addrPort().Port()) }

// expect waits briefly for the count to reach want and fails if it is anything else.
func (c *canary) expect(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for c.accepted.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if want == 0 {
		// Give a connection that should not exist the time to show up.
		time.Sleep(20 * time.Millisecond)
	}
	if got := c.accepted.Load(); got != want {
		t.Errorf("canary accepted %d connections, want %d", got, want)
	}
}

// spyDial stands in for the low-level dial: it records every address it is given
// (failing the test if one is not an ip:port), fails the ones scripted to fail, sends
// loopback addresses (or everything, with redirect) to a real dial so that a canary
// would notice, and answers the rest with an in-memory pipe, so that no test traffic
// leaves the host.
type spyDial struct {
	t        *testing.T
	mu       sync.Mutex
	calls    []string
	fail     map[string]bool
	redirect string
}

func newSpy(t *testing.T) *spyDial { return &spyDial{t: t, fail: map[string]bool{}} }

func (s *spyDial) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	s.mu.Lock()
	s.calls = append(s.calls, addr)
	fail, redirect := s.fail[addr], s.redirect
	s.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		s.t.Errorf("Dial(%q): the low-level dial was given something other than ip:port", addr)
		return nil, err
	}
	if want := tcpNetwork(ap.Addr()); network != want {
		s.t.Errorf("Dial(%q, %q): network, want %q", network, addr, want)
	}
	if fail {
		return nil, errors.New("connection refused (scripted)")
	}
	if redirect != "" {
		return (&net.Dialer{}).DialContext(ctx, "tcp", redirect)
	}
	if ap.Addr().IsLoopback() {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

func (s *spyDial) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// events collects network events.
type events struct {
	mu  sync.Mutex
	all []*catalog.NetworkEvent
}

func (e *events) RecordNetworkEvent(ctx context.Context, ev *catalog.NetworkEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []*catalog.NetworkEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*catalog.NetworkEvent(nil), e.all...)
}

// fixed returns a Policy func for p.
func fixed(p *catalog.NetworkPolicy) func() *catalog.NetworkPolicy {
	return func() *catalog.NetworkPolicy { return p }
}

// wantDenied checks that err is a *Denial wrapping NETWORK_POLICY_DENIED whose recorded
// reason contains each of the parts.
func wantDenied(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	var ce *catalog.Error
	var d *Denial
	if !errors.As(err, &ce) || ce.Code != catalog.NetworkPolicyDenied || ce.HTTPStatus() != 403 || !errors.As(err, &d) {
		t.Errorf("%s: error = %v, want a *Denial NETWORK_POLICY_DENIED (403)", what, err)
		return
	}
	if !strings.HasPrefix(ce.Message, "network policy denies ") {
		t.Errorf("%s: message %q does not start with %q", what, ce.Message, "network policy denies ")
	}
	if err.Error() != ce.Error() {
		t.Errorf("%s: Error() = %q, want the public text %q", what, err.Error(), ce.Error())
	}
	for _, p := range parts {
		if !strings.Contains(d.Reason, p) {
			t.Errorf("%s: recorded reason %q does not contain %q", what, d.Reason, p)
		}
	}
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

// recordedText is the text a denial is recorded with ("network policy denies DEST:
// REASON", resolved addresses included), or err's text for any other error.
func recordedText(err error) string {
	var d *Denial
	if errors.As(err, &d) {
		return "network policy denies " + d.Destination + ": " + d.Reason
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
