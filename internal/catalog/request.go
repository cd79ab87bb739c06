package catalog

import (
	"context"
	"net/netip"
)

// RequestInfo is what an audit record says of the request that caused it. The HTTP
// surface puts it in every request's context, so that an operation deep below (a tool
// pin that changed while a tools/list answer passed) can name its request too.
type RequestInfo struct {
	RequestID string
	SourceIP  string
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo of ctx, zero when it has none.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// SourceKey is the unit a limit per source address counts: the address itself for
// IPv4, its /64 for IPv6 (one host commonly holds a whole /64, so counting addresses
// would give it billions of buckets), and the string as given when it is not an address.
func SourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}
