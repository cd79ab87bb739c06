package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/hop"
)

// requestHeader is the header forwarded to the destination: the caller's, less the
// hop-by-hop headers (Proxy-Authorization among them) and those its Connection header
// lists. Everything else, the caller's own Authorization and cookies included, is the
// caller's business with the destination and passes unchanged; Gatehouse adds nothing.
func requestHeader(in http.Header) http.Header {
	out := make(http.Header, len(in)+1)
	listed := hop.Listed(in)
	for k, vv := range in {
		n := hop.Name(k)
		if hop.ByHop(n) || listed[n] {
			continue
		}
		out[k] = append([]string(nil), vv...)
	}
	if _, ok := out["User-Agent"]; !ok {
		// An empty value keeps net/http from adding its own.
		out["User-Agent"] = []string{""}
	}
	return out
}

// copyResponseHeader copies the destination's header to dst, less the hop-by-hop
// headers, those its Connection header lists, and X-Gatehouse-*, which callers trust to
// come from Gatehouse (the request id).
func copyResponseHeader(dst, src http.Header) {
	listed := hop.Listed(src)
	for k, vv := range src {
		if dropResponseHeader(hop.Name(k), listed) {
			continue
		}
		dst[k] = append([]string(nil), vv...)
	}
}

func dropResponseHeader(n string, listed map[string]bool) bool {
	return hop.ByHop(n) || listed[n] || n == "X-Gatehouse" || strings.HasPrefix(n, "X-Gatehouse-")
}

// dialRecord carries, in the context of an outbound request, the principal to dial for
// and the dial's outcome, which the transport's own error would hide.
type dialRecord struct {
	principal string
	requestID string

	mu  sync.Mutex
	err error
}

type dialRecordKey struct{}

func (d *dialRecord) set(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
}

func (d *dialRecord) get() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// newTransport returns the transport of absolute-form requests. It dials only through
// the Dialer, so the network policy applies to every request. Keep-alives are off: a
// pooled connection would carry one caller's request over a connection dialed for
// another, skipping the policy check (and attributing a denial to the wrong principal)
// for every request but the first. It never uses a proxy of its own, never
// decompresses (the caller gets the destination's bytes) and never follows a redirect
// (only http.Client does).
func (s *Server) newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			rec, _ := ctx.Value(dialRecordKey{}).(*dialRecord)
			if rec == nil {
				return nil, errors.New("egress dial outside a request")
			}
			c, err := s.dial(ctx, rec.principal, rec.requestID, network, addr)
			rec.set(err)
			return c, err
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// countingBody counts the bytes read from a request body and reports activity.
type countingBody struct {
	rc    io.ReadCloser
	n     *atomic.Int64
	touch func()
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
		b.touch()
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

// forward serves an authenticated absolute-form request that holds a slot: send it to
// its destination and stream the answer back.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, t *trip) {
	tracked, release := s.track(r.Context(), t)
	defer release()
	ctx, cancel := context.WithTimeout(tracked, s.cfg.TotalTimeout)
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()
	// Idle: no byte either way for IdleTimeout ends the request.
	var idled atomic.Bool
	idle := time.AfterFunc(s.cfg.IdleTimeout, func() { idled.Store(true); cancel() })
	defer idle.Stop()
	touch := func() { idle.Reset(s.cfg.IdleTimeout) }

	dialed := &dialRecord{principal: t.principal, requestID: t.requestID}
	ctx = context.WithValue(ctx, dialRecordKey{}, dialed)

	u := *r.URL
	out := (&http.Request{
		Method:        r.Method,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        requestHeader(r.Header),
		Body:          http.NoBody,
		ContentLength: 0,
	}).WithContext(ctx)
	if r.ContentLength != 0 {
		out.Body = &countingBody{rc: r.Body, n: &t.bytesUp, touch: touch}
		out.ContentLength = r.ContentLength
		out.Trailer = r.Trailer
	}

	res, err := s.transport.RoundTrip(out)
	if err != nil {
		if derr := dialed.get(); derr != nil {
			s.dialFailed(w, t, derr)
			return
		}
		switch ce := revocation(tracked); {
		case ce != nil:
			s.revoked(w, t, ce)
		case r.Context().Err() != nil:
			// Nobody is left to answer; 499 is the customary record of that.
			t.status, t.allowed, t.reason = 499, true, "client closed the request"
		case s.base.Err() != nil:
			s.refuse(w, t, http.StatusServiceUnavailable, catalog.TemporarilyUnavailable,
				"the egress proxy is shutting down", reasonShutdown)
		case idled.Load():
			s.fail(w, t, http.StatusGatewayTimeout, catalog.UpstreamTimeout,
				t.destination+" did not answer in time", reasonIdle)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			s.fail(w, t, http.StatusGatewayTimeout, catalog.UpstreamTimeout,
				t.destination+" did not answer in time", reasonTotal)
		default:
			t.err = err
			s.fail(w, t, http.StatusBadGateway, catalog.UpstreamError,
				"no valid answer from "+t.destination, "upstream error")
		}
		return
	}
	defer res.Body.Close()
	touch()
	t.status, t.allowed = res.StatusCode, true

	h := w.Header()
	copyResponseHeader(h, res.Header)
	listed := hop.Listed(res.Header)
	for k := range res.Trailer {
		if !dropResponseHeader(hop.Name(k), listed) {
			h.Add("Trailer", k)
		}
	}
	w.WriteHeader(res.StatusCode)

	rc := http.NewResponseController(w)
	// The connection outlives this response (keep-alive): leave no deadline on it.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	buf := make([]byte, 32<<10)
	for {
		nr, rerr := res.Body.Read(buf)
		if nr > 0 {
			touch()
			_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
			nw, werr := w.Write(buf[:nr])
			t.bytesDown.Add(int64(nw))
			if werr != nil {
				t.reason = "client gone"
				return
			}
			_ = rc.Flush() // stream: server-sent events and the like arrive as sent
			touch()
		}
		// An EOF after the request's context ended (a revoke, a timeout) may be the
		// destination answering the closing of its connection: not a whole body.
		if errors.Is(rerr, io.EOF) && ctx.Err() == nil {
			break
		}
		if rerr != nil {
			switch {
			case idled.Load():
				t.reason = reasonIdle
			case revocation(tracked) != nil:
				t.reason = revokedReason(tracked)
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				t.reason = reasonTotal
			case s.base.Err() != nil:
				t.reason = reasonShutdown
			default:
				t.reason, t.err = "response cut short", rerr
			}
			// Ending the handler normally would end a chunked response cleanly and the
			// caller would take a truncated body for a whole one. ErrAbortHandler is
			// net/http's way to cut the connection instead (httputil.ReverseProxy does
			// the same); the server recovers it without logging, and the deferred
			// audit record is still written.
			panic(http.ErrAbortHandler)
		}
	}
	for k, vv := range res.Trailer {
		if !dropResponseHeader(hop.Name(k), listed) {
			h[http.TrailerPrefix+k] = vv
		}
	}
}
