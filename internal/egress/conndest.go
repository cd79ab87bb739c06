package egress

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// ConnectionDestinations is the set of destinations that allow_connection_destinations
// opens under RESTRICTED_ACCESS: exactly the normalized host name and port of every
// enabled connection. It is immutable once built; build a new one when connections
// change (NewConnectionDestinations) and hand it to the Dialer through
// DialerOptions.ConnectionDestinations.
//
// Whom it opens a destination for is decided by the dial's Source (see
// (*ConnectionDestinations).Allows): a proxied call only its own connection's
// destination, an OAuth call the destination of any enabled connection, and the general
// egress proxy none at all. That is on purpose: the privilege to create a connection is
// the privilege to reach its destination through Gatehouse, with the credential
// injected and under its grants; it must not widen the perimeter for every agent that
// uses the egress proxy.
type ConnectionDestinations struct {
	// byDest maps a destination to the names of the enabled connections that send there.
	byDest map[connDest][]string
}

// connDest is a destination key: a normalized DNS name (NormalizeHost) and a port.
type connDest struct {
	name string
	port int
}

// NewConnectionDestinations builds the set from connections: a disabled connection
// contributes nothing, and neither does one whose host is an IP literal (under
// RESTRICTED_ACCESS addresses are opened only by allowed_ip_ranges) or whose host or
// port does not normalize (fail closed: a bad row can only narrow what is reachable).
func NewConnectionDestinations(cs []*catalog.Connection) *ConnectionDestinations {
	s := &ConnectionDestinations{byDest: make(map[connDest][]string, len(cs))}
	for _, c := range cs {
		if c == nil || !c.Enabled {
			continue
		}
		name, port, ok := ConnectionDestination(c.Options[catalog.OptHost], c.Options[catalog.OptPort])
		if !ok {
			continue
		}
		k := connDest{name, port}
		s.byDest[k] = append(s.byDest[k], c.Name)
	}
	return s
}

// ConnectionDestination returns the destination a connection with these host and port
// options sends to, as the dialer compares it: the host's name normalized as
// NormalizeHost does (lower case, no trailing dot, IDNs in punycode) and the port from
// the port option, else from the host URL, else the scheme's default (443 for https,
// 80 for http). ok is false for an IP-literal host and for anything that does not
// parse: such a connection opens no destination.
func ConnectionDestination(hostOption, portOption string) (name string, port int, ok bool) {
	if len(hostOption) > maxHostInput+16 {
		return "", 0, false
	}
	u, err := url.Parse(hostOption)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", 0, false
	}
	var defaultPort int
	switch strings.ToLower(u.Scheme) {
	case "https":
		defaultPort = 443
	case "http":
		defaultPort = 80
	default:
		return "", 0, false
	}
	name, ip, reason := normalizeHost(u.Hostname())
	if reason != "" || ip.IsValid() || name == "" {
		return "", 0, false
	}
	urlPort := u.Port()
	switch {
	case portOption != "":
		p, ok := parsePort(portOption)
		if !ok || strconv.Itoa(p) != portOption {
			return "", 0, false
		}
		if urlPort != "" && urlPort != portOption {
			// Two ports that disagree: the proxy could use either, so open neither.
			return "", 0, false
		}
		port = p
	case urlPort != "":
		p, ok := parsePort(urlPort)
		if !ok {
			return "", 0, false
		}
		port = p
	default:
		port = defaultPort
	}
	return name, port, true
}

// Covers reports whether s opens every destination that o opens, to the same
// connections: when it does, a change from o to s closed nothing, and connections
// pooled under o may stay. A nil set is empty.
func (s *ConnectionDestinations) Covers(o *ConnectionDestinations) bool {
	if o.Len() == 0 {
		return true
	}
	if s.Len() == 0 {
		return false
	}
	for k, names := range o.byDest {
		for _, n := range names {
			if !slices.Contains(s.byDest[k], n) {
				return false
			}
		}
	}
	return true
}

// Len is the number of distinct destinations in the set.
func (s *ConnectionDestinations) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byDest)
}

// Allows reports whether the set opens name:port (name normalized by NormalizeHost) for
// a dial made on behalf of src:
//   - catalog.SourceProxy: only when src.Connection is one of the enabled connections
//     with exactly this destination (a call through a connection goes to that
//     connection's destination and nowhere else);
//   - catalog.SourceOAuth: when any enabled connection has exactly this destination
//     (a token endpoint on the host:port of an API connection; OAuth calls are made
//     only for connections, and anyone who could point one there could already reach it
//     through their own connection);
//   - catalog.SourceEgress and anything else: never.
func (s *ConnectionDestinations) Allows(src Source, name string, port int) bool {
	if s == nil || name == "" {
		return false
	}
	switch src.Kind {
	case catalog.SourceProxy:
		if src.Connection == "" {
			return false
		}
		for _, c := range s.byDest[connDest{name, port}] {
			if c == src.Connection {
				return true
			}
		}
		return false
	case catalog.SourceOAuth:
		return len(s.byDest[connDest{name, port}]) > 0
	default:
		return false
	}
}
