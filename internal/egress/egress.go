// Package egress is Gatehouse's network perimeter: the network policy (which
// destinations any outbound connection may reach, whoever the caller is) and the
// SSRF-safe dialer that enforces it for proxied calls, OAuth token calls and the egress
// proxy alike (docs/api.md, "Network policy").
//
// The dialer follows Stripe's Smokescreen: normalize the host (IP literals in every odd
// form are IPs, never names), apply the name rules, resolve once, classify every
// address, and dial exactly one address that was checked, as "ip:port", so that a DNS
// answer that changes between check and use (rebinding) cannot redirect the connection.
// Private, loopback, link-local, metadata and other non-public addresses are refused
// unless the policy's allowed_ip_ranges opens them, and Gatehouse's own listeners are
// never dialed at all. Every denial is recorded as a catalog.NetworkEvent and counted.
package egress

import (
	"context"
	"net/netip"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Source says on whose behalf a connection is made: the kind of caller
// (catalog.SourceProxy, SourceOAuth or SourceEgress), the principal's name and the
// connection's name where there is one, and the id of the request the connection is
// made for (X-Gatehouse-Request-Id), so that a denial can be matched to its call. It
// goes into every network event.
type Source struct {
	Kind       string
	Principal  string
	Connection string
	RequestID  string
}

type sourceKey struct{}

// WithSource returns a context that carries s to the dialer.
func WithSource(ctx context.Context, s Source) context.Context {
	return context.WithValue(ctx, sourceKey{}, s)
}

// SourceFrom returns the Source that ctx carries, or the zero Source.
func SourceFrom(ctx context.Context) Source {
	s, _ := ctx.Value(sourceKey{}).(Source)
	return s
}

// Resolver looks up the addresses of a host name. *net.Resolver satisfies it; tests
// script the answers.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Recorder takes network events. RecordNetworkEvent is called on the dialing goroutine
// and must not block on I/O.
type Recorder interface {
	RecordNetworkEvent(ctx context.Context, e *catalog.NetworkEvent)
}
