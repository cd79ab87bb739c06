package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// issue 10: HTTP/2 from callers (--http2-cleartext).
//
// Gatehouse serves plain HTTP behind a TLS-terminating load balancer. Many balancers
// speak HTTP/2 to their targets; over one such connection they multiplex many callers'
// requests, which then share the connection's buffers and its reader goroutine instead of
// holding one connection each: what makes an idle MCP event stream cheap.
//
// Only prior knowledge is served (the client starts with the HTTP/2 preface): the
// "Upgrade: h2c" path of HTTP/1.1, where one request changes the protocol of the
// connection under a proxy that may not know it did, is not (net/http never offers it
// for Protocols). HTTP/1.1 is still served on the same listener.
//
// The bounds: a connection carries at most maxStreams requests at once (net/http
// advertises it in SETTINGS and resets streams past it); connections still count under
// --max-connections, and so, separately, do the requests in flight over HTTP/2 across
// all connections (streamLimit), so that turning HTTP/2 on does not multiply the
// requests a server holds at once by maxStreams. Everything per request stays as it is
// over HTTP/1.1: the header bound (MaxHeaderBytes is HTTP/2's header list limit), the
// body deadlines (per stream), the idle timeout (a connection with no stream open),
// revocation (it cancels the request's stream, not the connection).

// serveCleartextHTTP2 makes srv serve HTTP/1.1 and HTTP/2 with prior knowledge, with at
// most maxStreams streams per connection and maxInFlight HTTP/2 requests at once.
func serveCleartextHTTP2(srv *http.Server, maxStreams, maxInFlight int) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	srv.Handler = &streamLimit{next: srv.Handler, max: int64(maxInFlight)}
}

// streamLimit bounds the HTTP/2 requests in flight at once across all connections of a
// server. Over HTTP/1.1 a request in flight holds a connection, which --max-connections
// bounds already; over HTTP/2 one connection holds up to --http2-max-concurrent-streams.
// Past the bound the request is answered 503 TEMPORARILY_UNAVAILABLE with Retry-After
// (a balancer may retry it on another replica), before anything reads its body or looks
// at its token; it costs one atomic add, only for HTTP/2 requests.
type streamLimit struct {
	next     http.Handler
	max      int64
	inFlight atomic.Int64
}

func (l *streamLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		l.next.ServeHTTP(w, r)
		return
	}
	if l.inFlight.Add(1) > l.max {
		l.inFlight.Add(-1)
		refuseStream(w)
		return
	}
	defer l.inFlight.Add(-1)
	l.next.ServeHTTP(w, r)
}

// refuseStream answers a request past streamLimit's bound.
func refuseStream(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	h.Set(httpapi.ErrorCodeHeader, string(catalog.TemporarilyUnavailable))
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(httpapi.ErrorBody{ErrorCode: string(catalog.TemporarilyUnavailable),
		Message: "the server has too many requests in flight; retry shortly"})
}
