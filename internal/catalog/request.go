package catalog

import "context"

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
