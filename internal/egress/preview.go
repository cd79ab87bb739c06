package egress

import (
	"net"
	"net/netip"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// policyReason says why the policy refuses a destination by its name (name, when
// non-empty) or IP literal (ip), or "" when it does not; connDest reports whether
// allow_connection_destinations opens the destination to the caller, and is asked only
// when that could decide. It is the rule the dialer applies before resolving, and the
// rule Verdict replays.
func (r *rules) policyReason(name string, ip netip.Addr, connDest func() bool) string {
	if name != "" {
		if pat := r.blocked.match(name); pat != "" {
			return name + " is blocked (" + fieldBlocked + " entry " + pat + ")"
		}
		if r.restricted && r.allowed.match(name) == "" && !(r.allowConn && connDest()) {
			reason := name + " is not an allowed destination under " + catalog.RestrictedAccess
			if r.allowConn {
				reason += " (allow_connection_destinations opens only the exact host:port of an enabled connection, to calls through it)"
			}
			return reason
		}
		return ""
	}
	if r.restricted && !r.rangeAllows(ip) {
		return "IP address " + ip.String() + " is not allowed under " + catalog.RestrictedAccess + " unless an " + fieldRanges + " entry covers it"
	}
	return ""
}

// Verdict replays what policy p would decide for a connection to dest ("host:port", as
// a network event records it) made for src, without resolving anything: the reason p
// refuses it, or "" when p lets it through. resolved, the address the name resolved to
// when that is known (a network event's resolved address), is checked against the
// address classes and allowed_ip_ranges as the dialer checks it; an unknown address is
// taken as allowed. conns are the enabled connections' destinations, for
// allow_connection_destinations (nil opens nothing). The enforcement mode is not
// considered: a DRY_RUN policy refuses what it would record.
//
// It answers "what would this new policy change" from recorded events before the
// policy is saved; it is not a decision to dial on (the dialer resolves and checks
// every address, and Gatehouse's own listeners).
func Verdict(p *catalog.NetworkPolicy, conns *ConnectionDestinations, src Source, dest, resolved string) string {
	return NewJudge(p).Verdict(conns, src, dest, resolved)
}

// Judge is a policy compiled once for many Verdicts (a preview replays every recent
// destination under two policies).
type Judge struct{ r *rules }

// NewJudge compiles p for Judge.Verdict.
func NewJudge(p *catalog.NetworkPolicy) *Judge { return &Judge{r: compile(p)} }

// Verdict is the package's Verdict under the policy j was made of.
func (j *Judge) Verdict(conns *ConnectionDestinations, src Source, dest, resolved string) string {
	host, portText, err := net.SplitHostPort(dest)
	if err != nil {
		return "invalid destination"
	}
	port, ok := parsePort(portText)
	if !ok {
		return "invalid port"
	}
	name, ip, bad := normalizeHost(host)
	if bad != "" {
		return "invalid host: " + bad
	}
	r := j.r
	if reason := r.policyReason(name, ip, func() bool { return conns.Allows(src, name, port) }); reason != "" {
		return reason
	}
	addr := ip
	if name != "" {
		addr, _ = netip.ParseAddr(resolved)
	}
	if addr.IsValid() {
		if why := r.addrReason(addr.Unmap()); why != "" {
			return addr.Unmap().String() + ": " + why
		}
	}
	return ""
}
