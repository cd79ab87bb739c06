package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// DefaultTimeout bounds resolution and connection when DialerOptions.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// localAddrsTTL is how long the host's interface addresses are cached for the own
// listener rule.
const localAddrsTTL = 10 * time.Second

// maxListedAddrs bounds how many refused addresses a reason names.
const maxListedAddrs = 5

// DialerOptions configure a Dialer. Only Policy is needed; nil fields take defaults.
type DialerOptions struct {
	// Policy returns the current network policy. It is called on every dial, so a
	// change applies to the next connection. nil, or a nil result, is the zero policy:
	// FULL_ACCESS, ENFORCED.
	Policy func() *catalog.NetworkPolicy
	// ConnectionDestinations returns the current destinations of enabled connections,
	// for allow_connection_destinations (see ConnectionDestinations for whom they are
	// opened). It is called only under RESTRICTED_ACCESS with that flag set, for a name
	// that no allowed destination matches; nil, or a nil result, opens nothing.
	ConnectionDestinations func() *ConnectionDestinations
	// Resolver resolves names; nil is net.DefaultResolver.
	Resolver Resolver
	// Recorder takes every denial; may be nil.
	Recorder Recorder
	// OwnAddrs returns Gatehouse's own listener addresses, which are never dialed,
	// whatever the policy. A listener on 0.0.0.0 or :: stands for its port on every
	// local address.
	OwnAddrs func() []netip.AddrPort
	// Timeout bounds resolution plus connection; zero is DefaultTimeout.
	Timeout time.Duration
	// Dial opens a TCP connection to a checked "ip:port" (network tcp4 or tcp6); nil
	// is a net.Dialer. It is never given a name.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for event times; nil is time.Now.
	Now func() time.Time
}

// Dialer makes outbound TCP connections under the network policy. It is safe for
// concurrent use.
type Dialer struct {
	o          DialerOptions
	localAddrs func() ([]netip.Addr, error)

	mu         sync.Mutex
	lastPolicy *catalog.NetworkPolicy // a private copy of the policy lastRules came from
	lastRules  *rules
	counts     map[string]int64
	local      []netip.Addr
	localAt    time.Time

	live liveSet // the open connections it made (live.go)
}

// Decision is the outcome of Decide.
type Decision struct {
	// Allowed is true when the connection may be made, also when a DRY_RUN policy
	// would have denied it.
	Allowed bool
	// DryRun is true when the policy denies the destination but is in DRY_RUN, so the
	// denial was recorded and the connection may proceed.
	DryRun bool
	// Addr is the checked address to dial (when Allowed).
	Addr netip.AddrPort
	// Reason says why the destination is (or, in DRY_RUN, would be) denied: the full
	// recorded reason, resolved addresses included, for records and not for callers.
	Reason string
}

// NewDialer returns a Dialer.
func NewDialer(o DialerOptions) *Dialer {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Dialer{o: o, localAddrs: interfaceAddrs, counts: map[string]int64{}}
}

// DialContext connects to addr ("host:port") over tcp, tcp4 or tcp6 if the network
// policy allows it, and dials only addresses it has checked: the first allowed answer,
// then the next allowed one if that fails; never a refused one, and never a second
// resolution. A denial is a *Denial, which wraps the *catalog.Error NETWORK_POLICY_DENIED
// (403) the caller may see; other failures (resolution, connection) are plain errors.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		_, _, err := d.deny(ctx, displayHost(addr), "", "network "+strconv.Quote(network)+" is not allowed (only tcp)")
		return nil, err
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		_, _, err := d.deny(ctx, displayHost(addr), "", "not a host:port address")
		return nil, err
	}
	port, ok := parsePort(portText)
	if !ok {
		_, _, err := d.deny(ctx, displayHost(host)+":"+displayHost(portText), "", "invalid port")
		return nil, err
	}
	_, cands, err := d.decide(ctx, network, host, port)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for i, a := range cands {
		actx, acancel := attemptContext(ctx, len(cands)-i)
		conn, err := d.o.Dial(actx, tcpNetwork(a), netip.AddrPortFrom(a, uint16(port)).String())
		acancel()
		if err == nil {
			return d.track(ctx, conn, network, host, port, a), nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &quietError{text: "dial " + destination(host, port) + ": " + causeText(lastErr), err: lastErr}
}

// Decide makes the decision DialContext makes for host and port over tcp, without
// dialing: for tests and for callers (the egress proxy) that dial Decision.Addr
// themselves. Like DialContext it resolves a name once, and records and counts any
// denial; an ENFORCED denial is also returned as a *Denial (wrapping a *catalog.Error
// NETWORK_POLICY_DENIED), and Decision.Reason is the full recorded reason.
func (d *Dialer) Decide(ctx context.Context, host string, port int) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	dec, _, err := d.decide(ctx, "tcp", host, port)
	return dec, err
}

// Counts returns the number of denials so far, keyed "source/access_type" (for example
// "egress/DROP", "proxy/DRY_RUN_DENIAL"; "unknown" when the context named no source),
// for the metrics endpoint.
func (d *Dialer) Counts() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int64, len(d.counts))
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}

// decide applies the rules in order: network and host syntax; the name rules (blocked,
// then RESTRICTED_ACCESS), which DRY_RUN relaxes; resolution; the address classes and
// the own-listener rule, which are always enforced. It returns the checked addresses
// that may be dialed, in the resolver's order.
//
// DRY_RUN relaxes only the name rules on purpose: it exists to try out a restriction
// before enforcing it, and must not switch off the SSRF protection (an admin previewing
// an allow-list would otherwise open 169.254.169.254 to every caller). A private range
// that is really needed belongs in allowed_ip_ranges.
func (d *Dialer) decide(ctx context.Context, network, host string, port int) (Decision, []netip.Addr, error) {
	dest := destination(host, port)
	family := ""
	switch network {
	case "tcp":
		family = "ip"
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	default:
		return d.deny(ctx, dest, "", "network "+strconv.Quote(network)+" is not allowed (only tcp)")
	}
	if port < 1 || port > 65535 {
		return d.deny(ctx, dest, "", "invalid port")
	}
	name, ip, bad := normalizeHost(host)
	if bad != "" {
		return d.deny(ctx, dest, "", "invalid host: "+bad)
	}
	r := d.rules()

	policyReason := r.policyReason(name, ip, func() bool { return d.isConnectionDestination(ctx, name, port) })
	if policyReason != "" && !r.dryRun {
		// Refused before resolution: a blocked name is not even looked up.
		return d.deny(ctx, dest, "", policyReason)
	}

	addrs := []netip.Addr{ip}
	if name != "" {
		var err error
		addrs, err = d.lookup(ctx, family, name)
		if err != nil {
			return Decision{}, nil, &quietError{text: "resolve " + name + ": " + causeText(err), err: err}
		}
		if len(addrs) == 0 {
			return Decision{}, nil, fmt.Errorf("resolve %s: no addresses", name)
		}
	}

	var cands []netip.Addr
	var refused []string
	firstRefused := ""
	var firstAddr netip.Addr // firstRefused, when refused for its class (not as Gatehouse's own listener)
	seen := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if seen[a] || family == "ip4" && !a.Is4() || family == "ip6" && !a.Is6() {
			continue
		}
		seen[a] = true
		why := r.addrReason(a)
		if why == "" && d.isOwn(netip.AddrPortFrom(a, uint16(port))) {
			why = "Gatehouse's own listener"
		}
		if why != "" {
			if firstRefused == "" {
				firstRefused = a.String()
				if r.addrReason(a) != "" {
					firstAddr = a
				}
			}
			if len(refused) < maxListedAddrs {
				refused = append(refused, a.String()+": "+why)
			}
			continue
		}
		cands = append(cands, a)
	}
	if len(seen) == 0 {
		return Decision{}, nil, fmt.Errorf("%s has no address for %s", dest, network)
	}
	if len(cands) == 0 {
		// The recorded reason names the resolved addresses and their classes; the
		// caller's message does not: what a name resolves to inside the network is
		// not the caller's to learn (an IP literal is what the caller gave, so its
		// class may be named).
		var reason, public string
		switch {
		case name == "":
			// The caller gave the address: the fix may name it.
			reason = refused[0] + literalFix(firstAddr)
			public = reason
		case len(seen) > len(refused):
			reason = fmt.Sprintf("%s resolves only to refused addresses (%s; and %d more)", name, strings.Join(refused, "; "), len(seen)-len(refused))
		default:
			reason = fmt.Sprintf("%s resolves only to refused addresses (%s)", name, strings.Join(refused, "; "))
		}
		if name != "" {
			// Even for localhost: the permanent denial-message table of issue 8 holds
			// every name to the same rule.
			public = name + " resolves only to addresses the network policy refuses" + nameFix
		}
		if policyReason != "" {
			reason = policyReason + "; " + reason
			public = policyReason + "; " + public
		}
		return d.denyWith(ctx, dest, firstRefused, reason, public)
	}
	dec := Decision{Allowed: true, Addr: netip.AddrPortFrom(cands[0], uint16(port))}
	if policyReason != "" {
		dec.DryRun, dec.Reason = true, policyReason
		d.record(ctx, dest, cands[0].String(), policyReason, catalog.AccessDryRunDenial)
	}
	return dec, cands, nil
}

// deny records and counts an enforced denial whose reason the caller may see as it is
// (it names nothing the caller did not give) and returns it as an error.
func (d *Dialer) deny(ctx context.Context, dest, resolved, reason string) (Decision, []netip.Addr, error) {
	return d.denyWith(ctx, dest, resolved, reason, reason)
}

// denyWith records and counts an enforced denial with the full reason and returns it as
// a *Denial whose public message carries only the public reason.
func (d *Dialer) denyWith(ctx context.Context, dest, resolved, reason, public string) (Decision, []netip.Addr, error) {
	d.record(ctx, dest, resolved, reason, catalog.AccessDrop)
	return Decision{Reason: reason}, nil, &Denial{
		Public: &catalog.Error{
			Code:    catalog.NetworkPolicyDenied,
			Message: "network policy denies " + dest + ": " + public,
		},
		Destination:     dest,
		ResolvedAddress: resolved,
		Reason:          reason,
	}
}

// Denial is the error of an enforced network-policy denial. It carries two texts on
// purpose. Public is the *catalog.Error NETWORK_POLICY_DENIED that callers see
// (errors.As finds it, and Error returns its text only): it names the destination as the
// caller gave it and the rule that refused it, never an address a name resolved to.
// ResolvedAddress and Reason are the full record, with the resolved addresses and
// their classes, as the network event and the audit record keep them: for operators,
// never for a response.
type Denial struct {
	Public          *catalog.Error
	Destination     string // host:port as asked, fit for a message
	ResolvedAddress string // the first refused address, "" when refused before resolution
	Reason          string // the recorded reason
}

// Error returns the public text, so that an error that reaches a message by its text
// (an OAuth failure in credential_status.reason) names no internal address either.
func (e *Denial) Error() string { return e.Public.Error() }

// Unwrap returns the public *catalog.Error.
func (e *Denial) Unwrap() error { return e.Public }

func (d *Dialer) record(ctx context.Context, dest, resolved, reason, accessType string) {
	src := SourceFrom(ctx)
	kind := src.Kind
	if kind == "" {
		kind = "unknown"
	}
	d.mu.Lock()
	d.counts[kind+"/"+accessType]++
	d.mu.Unlock()
	if d.o.Recorder == nil {
		return
	}
	// The event outlives the request: a cancelled dial must not lose its record.
	d.o.Recorder.RecordNetworkEvent(context.WithoutCancel(ctx), &catalog.NetworkEvent{
		Time:            d.o.Now(),
		Destination:     dest,
		ResolvedAddress: resolved,
		Source:          src.Kind,
		Principal:       src.Principal,
		Connection:      src.Connection,
		RequestID:       src.RequestID,
		Reason:          reason,
		AccessType:      accessType,
	})
}

// rules compiles the current policy, reusing the last compilation while the policy's
// content is unchanged (compared with a private copy, so a policy changed in place is
// noticed too).
func (d *Dialer) rules() *rules {
	var p *catalog.NetworkPolicy
	if d.o.Policy != nil {
		p = d.o.Policy()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastRules != nil && policyEqual(p, d.lastPolicy) {
		return d.lastRules
	}
	d.lastPolicy, d.lastRules = clonePolicy(p), compile(p)
	return d.lastRules
}

// isConnectionDestination reports whether allow_connection_destinations opens name:port
// for the source that ctx carries.
func (d *Dialer) isConnectionDestination(ctx context.Context, name string, port int) bool {
	if d.o.ConnectionDestinations == nil {
		return false
	}
	return d.o.ConnectionDestinations().Allows(SourceFrom(ctx), name, port)
}

// isOwn reports whether dialing ap could reach one of Gatehouse's own listeners.
func (d *Dialer) isOwn(ap netip.AddrPort) bool {
	if d.o.OwnAddrs == nil {
		return false
	}
	ta := ap.Addr().Unmap().WithZone("")
	for _, l := range d.o.OwnAddrs() {
		if l.Port() == 0 || l.Port() != ap.Port() {
			continue
		}
		la := l.Addr().Unmap().WithZone("")
		switch {
		case la == ta,
			// Connecting to 0.0.0.0 or :: reaches the local host.
			ta.IsUnspecified(),
			la.IsLoopback() && ta.IsLoopback(),
			la.IsUnspecified() && d.isLocal(ta):
			return true
		}
	}
	return false
}

// isLocal reports whether a is an address of this host.
func (d *Dialer) isLocal(a netip.Addr) bool {
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.o.Now()
	if d.local == nil || now.Sub(d.localAt) > localAddrsTTL || now.Before(d.localAt) {
		addrs, err := d.localAddrs()
		if err != nil && d.local == nil {
			// Without the list, treat every address as possibly local: refusing a
			// connection to this port is safer than reaching ourselves.
			return true
		}
		if err == nil {
			d.local, d.localAt = addrs, now
		}
	}
	for _, l := range d.local {
		if l == a {
			return true
		}
	}
	return false
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, addr.Unmap())
		}
	}
	return out, nil
}

// attemptContext gives one of n remaining connection attempts its share of the time
// left (at least two seconds, as net.Dialer does), so one black-holed address does not
// use up the whole timeout.
func attemptContext(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	left := time.Until(deadline)
	share := left / time.Duration(n)
	if share < 2*time.Second {
		share = min(2*time.Second, left)
	}
	return context.WithTimeout(ctx, share)
}

func tcpNetwork(a netip.Addr) string {
	if a.Is4() {
		return "tcp4"
	}
	return "tcp6"
}

// parsePort accepts decimal port numbers only: a service name ("https") would be
// looked up, and the policy decides on numbers.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || !allDigits(s, 10) {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, false
	}
	return p, true
}

// destination is host:port as asked, fit for a message.
func destination(host string, port int) string {
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return net.JoinHostPort(displayHost(host), strconv.Itoa(port))
}

// quietError is a resolution or connection failure whose text names the destination as
// asked but no address: net's errors name the address dialed ("dial tcp4 10.0.0.5:443:
// ...") and the DNS server asked ("lookup x on 10.0.0.2:53: ..."), both internal, and
// some callers pass an error's text on to users (an OAuth failure in
// credential_status.reason). Unwrap gives the original, for errors.Is and errors.As.
type quietError struct {
	text string
	err  error
}

func (e *quietError) Error() string { return e.text }
func (e *quietError) Unwrap() error { return e.err }

// causeText is the text of a network error without the addresses in it.
func causeText(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return "lookup timed out"
		}
		return dnsErr.Err
	case errors.As(err, &opErr):
		if opErr.Err != nil {
			return opErr.Err.Error()
		}
		return "connection failed"
	case err == nil:
		return "connection failed"
	default:
		return err.Error()
	}
}
