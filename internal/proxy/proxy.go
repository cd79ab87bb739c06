// Package proxy is Gatehouse's injecting reverse proxy: it sends a caller's request to
// the one host of a connection with the connection's credential added, and streams the
// answer back.
//
// It knows nothing of authentication, grants or storage. The HTTP layer authenticates
// the caller, checks USE_CONNECTION, obtains the credential header from the broker, and
// then calls Forward. Every rule here is a security requirement (docs/api.md,
// "Proxy rules"): the upstream host is the connection's and nothing in a call can change it;
// the path stays under the connection's base path; the caller's own credentials and
// Gatehouse's internal headers never reach the upstream; the injected credential never
// reaches an error or the caller; redirects are returned, never followed; sizes and time
// are bounded. The package does not log: it returns errors.
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/hop"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxRequestBytes        = 10 << 20
	DefaultMaxResponseHeaderBytes = 1 << 20
	DefaultConnectTimeout         = 10 * time.Second
	DefaultHeaderTimeout          = 60 * time.Second
	DefaultIdleTimeout            = 60 * time.Second
	DefaultTotalTimeout           = 10 * time.Minute
)

// Config bounds and configures a Proxy. A zero (or negative) size or duration takes its
// default.
type Config struct {
	// MaxRequestBytes bounds a request body; a larger one is refused with 413.
	MaxRequestBytes int64
	// MaxResponseHeaderBytes bounds the upstream's response header.
	MaxResponseHeaderBytes int64
	// ConnectTimeout bounds the TCP dial, and separately the TLS handshake.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the upstream's response header once the request
	// (with its body) has been written.
	HeaderTimeout time.Duration
	// IdleTimeout bounds how long a body may stall: while the request body is sent or
	// the response body streamed, no bytes moving in either direction for this long ends
	// the call (408 if the caller stopped sending its body, else 504, or a cut response).
	// Each read of the caller's body also runs under a read deadline of IdleTimeout on
	// the caller's connection (http.ResponseController), renewed for every read.
	IdleTimeout time.Duration
	// TotalTimeout bounds the whole exchange, body streaming included.
	TotalTimeout time.Duration
	// RootCAs verifies upstream certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// AllowHTTP accepts http:// targets. For development only: the credential would
	// cross the network in clear text.
	AllowHTTP bool
	// DialContext opens upstream connections; nil means a net.Dialer. It runs under a
	// context bounded by ConnectTimeout. A *catalog.Error it returns (a network policy
	// denial, say) is returned by Forward as it is.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Proxy forwards calls to connection targets. It is safe for concurrent use; all calls
// share one connection pool.
type Proxy struct {
	cfg       Config
	transport *http.Transport
	bufs      sync.Pool // 32 KiB copy buffers for bodies
	eventBufs sync.Pool // 4 KiB ones for event streams while data flows
	waitBufs  sync.Pool // eventWaitSize ones an event stream waits on between events
}

// eventWaitSize is the buffer an idle event stream waits on.
const eventWaitSize = 512

// New returns a Proxy with one shared transport: keep-alive connections, HTTP/2 where
// the upstream offers it, no compression of its own (bodies and Accept-Encoding pass
// through unchanged) and no proxy from the environment (Proxy: nil), since the egress
// path is the network policy's business, not HTTPS_PROXY's.
func New(cfg Config) *Proxy {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxResponseHeaderBytes <= 0 {
		cfg.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = DefaultTotalTimeout
	}
	dial := cfg.DialContext
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	connect := cfg.ConnectTimeout
	p := &Proxy{cfg: cfg}
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	p.eventBufs.New = func() any { b := make([]byte, 4<<10); return &b }
	p.waitBufs.New = func() any { b := make([]byte, eventWaitSize); return &b }
	p.transport = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, connect)
			defer cancel()
			return dial(ctx, network, addr)
		},
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    connect,
		ForceAttemptHTTP2:      true,
		DisableCompression:     true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
	}
	return p
}

// CloseIdleConnections closes the pooled upstream connections that are not in use.
func (p *Proxy) CloseIdleConnections() { p.transport.CloseIdleConnections() }

// TotalTimeout is the longest a call through the proxy can last (Config.TotalTimeout).
func (p *Proxy) TotalTimeout() time.Duration { return p.cfg.TotalTimeout }

// MaxRequestBytes is the largest request body forwarded (--proxy-max-body-bytes).
func (p *Proxy) MaxRequestBytes() int64 { return p.cfg.MaxRequestBytes }

// Target is where a connection's calls go and the credential header to add.
type Target struct {
	// Scheme is "https", or "http" only with Config.AllowHTTP.
	Scheme string
	// Host is the connection's host[:port]. Only this host is ever contacted.
	Host string
	// BasePath is "" or an escaped path such as "/v1", without a trailing slash.
	BasePath string
	// AuthHeader names the header that carries the credential, such as "Authorization"
	// or "X-Api-Key". Empty means no credential is added.
	AuthHeader string
	// AuthValue is the credential header's value, such as "Bearer abc". It is a secret:
	// it never appears in an error, and the caller never sees it.
	AuthValue string
}

// String describes the target without its credential.
func (t Target) String() string { return t.Scheme + "://" + t.Host + t.BasePath }

// GoString keeps the credential out of %#v.
func (t Target) GoString() string {
	return fmt.Sprintf("proxy.Target{Scheme:%q, Host:%q, BasePath:%q, AuthHeader:%q}", t.Scheme, t.Host, t.BasePath, t.AuthHeader)
}

// Call is the caller's request, below the connection.
type Call struct {
	Method string
	// Path is the caller's path below the connection, still percent-encoded as
	// received (r.URL.EscapedPath() after the route prefix): "" or starting with "/".
	Path string
	// RawQuery is passed through unchanged.
	RawQuery string
	// Header is the caller's header; Forward applies its rules to a copy.
	Header http.Header
	// Body may be nil. It is streamed, never buffered whole, and never closed: it
	// belongs to the caller (the HTTP server closes a request body).
	Body io.Reader
	// ContentLength is the body's length, or -1 if unknown.
	ContentLength int64
	// EventStreamHints, for a response that is an event stream, adds
	// "X-Accel-Buffering: no" (so that a front end such as nginx buffers nothing) and
	// sends the comment line ": ok" before the upstream's first event (the MCP proxy).
	EventStreamHints bool
}

// Outcome describes a forwarded call, for the audit record and metrics.
type Outcome struct {
	// Status is the upstream status sent to the caller, 0 if none was.
	Status       int
	UpstreamHost string
	// Path is the upstream path, escaped, without the query.
	Path string
	// BytesIn counts request body bytes sent upstream.
	BytesIn int64
	// BytesOut counts response body bytes written to the caller.
	BytesOut int64
	Duration time.Duration
}

// Forward sends the call to the target and streams the answer to w.
//
// If it fails before anything was written to w, it writes nothing and returns a
// *catalog.Error for the caller to answer with: INVALID_PARAMETER_VALUE (400 for a bad
// path, method, query or header; 413 for a body over MaxRequestBytes; 408 when the
// caller stops sending its body), UPSTREAM_ERROR (502: unreachable, refused, TLS
// failure, protocol error) or UPSTREAM_TIMEOUT (504). A *catalog.Error from
// Config.DialContext is returned as it is. An error that is not a *catalog.Error is
// either the server's (an invalid Target: answer 500) or means the caller went away (its
// context ended, errors.Is(err, context.Canceled), or writing to it failed).
//
// If it fails after the response started (Outcome.Status != 0), it aborts the response
// so that the client sees a broken body rather than a silent success, and returns the
// error too; the caller must then write nothing. Aborting uses
// http.ResponseController, so a wrapping ResponseWriter must offer Unwrap.
//
// Headers already set on w are kept unless the upstream sends one of the same name; an
// upstream never sends X-Gatehouse-* (they are stripped), so X-Gatehouse-Request-Id, set
// by the caller before Forward, always survives.
//
// Timeouts: ConnectTimeout bounds the dial and the TLS handshake; HeaderTimeout starts
// once the request is written; IdleTimeout runs while either body moves; TotalTimeout
// covers everything. Each is a timer that cancels the upstream request with its cause.
func (p *Proxy) Forward(ctx context.Context, w http.ResponseWriter, t Target, c Call) (Outcome, error) {
	return p.ForwardRef(ctx, w, &t, &c)
}

// ForwardRef is Forward with the target and the call passed by reference, which it
// reads and neither keeps nor changes. A caller whose frames stay on the stack while a
// long-lived stream is relayed (an MCP event stream, open for minutes) uses it so that
// they need not hold copies of both.
func (p *Proxy) ForwardRef(ctx context.Context, w http.ResponseWriter, t *Target, c *Call) (Outcome, error) {
	// Forward is split in three so that a long-lived stream waits on a shallow stack:
	// open does the per-call work (the request, the round trip, the response header) and
	// returns before relay starts, and what both need lives in the exchange, not in a
	// frame. A goroutine parked with less than a quarter of its stack in use has it
	// halved by the garbage collector, and an idle event stream's handler goroutine
	// parks for minutes (see relay).
	x, err := p.open(ctx, w, t, c)
	if err == nil {
		err = x.relay()
	}
	return x.close(err)
}

// open sends the request and, once the upstream answered, writes the response header
// to the caller (and an event stream's first comment line). The exchange it returns is
// never nil; close must follow.
//
//go:noinline
func (p *Proxy) open(ctx context.Context, w http.ResponseWriter, t *Target, c *Call) (*exchange, error) {
	x := newExchange(p, w, t.Host, time.Now())
	x.out.UpstreamHost = t.Host
	req, err := p.prepare(*t, *c)
	if err != nil {
		return x, err
	}
	x.out.Path = req.URL.EscapedPath()

	// parent is the caller's context; the exchange cancels its own child with a cause
	// (a timeout, an oversized body), so that the two can be told apart.
	parent := ctx
	x.parent = parent
	ctx, x.cancel = context.WithCancelCause(parent)
	x.ctx = ctx
	if req.Body != nil {
		x.body = newRequestBody(c.Body, p.cfg.MaxRequestBytes, req.ContentLength, x)
		req.Body = x.body
	}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { x.gotConn() },
		WroteRequest: func(httptrace.WroteRequestInfo) { x.wroteRequest() },
	})
	req = req.WithContext(ctx)
	x.startTotal(p.cfg.TotalTimeout)

	res, err := p.transport.RoundTrip(req)
	if err != nil {
		return x, x.classify(err, parent, true)
	}
	x.res = res
	if res.StatusCode < 200 {
		// 1xx answers other than 101 are consumed by the transport, and no Upgrade is
		// ever sent, so a 101 here is a protocol error.
		return x, catalog.Errorf(catalog.UpstreamError, "upstream %s answered with an unexpected status %d", t.Host, res.StatusCode)
	}
	if err := x.startResponse(); err != nil {
		return x, x.classify(err, parent, true)
	}

	x.out.Status = res.StatusCode
	h := w.Header()
	copyResponseHeader(h, res.Header)
	isolateOrigin(h)
	x.events = isEventStream(res.Header.Get("Content-Type"))
	if x.events && c.EventStreamHints {
		h.Set("X-Accel-Buffering", "no")
	}
	if len(res.Trailer) > 0 {
		listed := hop.Listed(res.Header)
		for k := range res.Trailer {
			if keepTrailer(k, listed) {
				if x.announced == nil {
					x.announced = map[string]bool{}
				}
				x.announced[k] = true
				h.Add("Trailer", k)
			}
		}
	}
	w.WriteHeader(res.StatusCode)

	// Streams (no length, or server-sent events) are flushed after every write, so that
	// each event reaches the caller as soon as it left the upstream.
	x.stream = res.ContentLength == -1 || x.events
	if x.events && c.EventStreamHints {
		// A comment line, which every SSE parser skips, tells the caller at once that
		// the stream is open, before the upstream sends its first event.
		if _, err := io.WriteString(w, ": ok\n\n"); err != nil {
			return x, x.failStreaming(fmt.Errorf("write to caller: %w", err), parent, false)
		}
	}
	if x.stream {
		if err := x.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return x, x.failStreaming(fmt.Errorf("flush to caller: %w", err), parent, false)
		}
	}
	return x, nil
}

// relay copies the response body to the caller, flushing a stream after every write.
// It keeps its frame small (no arrays, no map iteration, errors built in callees) since
// an idle event stream waits in it: the frames under the blocking read are what the
// handler goroutine's stack must hold for the stream's life.
//
// An event stream waits, often for minutes, between events of a few hundred bytes, and
// a buffer it waits on is held all that time. So it waits on a small one
// (eventWaitSize); a read that fills it means more is coming, and the reads after it
// take a pooled 4 KiB buffer until one returns less than that, when the buffer goes
// back. A thousand idle streams then hold 512 bytes each, not 4 KiB.
//
//go:noinline
func (x *exchange) relay() error {
	p, body := x.p, x.res.Body
	var (
		pool = &p.bufs
		bp   *[]byte // a pooled buffer, held while data flows
		wp   *[]byte // an event stream's small buffer, held while it waits
	)
	if x.events {
		pool = &p.eventBufs
		wp = p.waitBufs.Get().(*[]byte)
		defer p.waitBufs.Put(wp)
	} else {
		bp = pool.Get().(*[]byte)
	}
	defer func() {
		if bp != nil {
			pool.Put(bp)
		}
	}()
	for {
		var buf []byte
		if bp != nil {
			buf = *bp
		} else {
			buf = *wp
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if err := x.deliver(buf[:n]); err != nil {
				return err
			}
		}
		if x.events {
			if bp == nil && n == len(buf) {
				bp = pool.Get().(*[]byte)
			} else if bp != nil && n < len(buf) {
				pool.Put(bp)
				bp = nil
			}
		}
		if rerr == io.EOF {
			// Cancelling the call closes the upstream connection, and TLS sends
			// close_notify before it closes: a quick upstream answers that by ending its
			// response cleanly, so an EOF can follow a cancel (a revoke, a timeout, the
			// caller leaving). Such a call did not complete, and the caller must not
			// take the part it got for the whole: cut the response.
			if x.ctx.Err() != nil {
				return x.failStreaming(context.Cause(x.ctx), x.parent, true)
			}
			return nil
		}
		if rerr != nil {
			return x.failStreaming(rerr, x.parent, true)
		}
	}
}

// deliver writes one read of the response body to the caller, and flushes a stream.
func (x *exchange) deliver(b []byte) error {
	x.touch()
	wn, werr := x.w.Write(b)
	x.out.BytesOut += int64(wn)
	if werr != nil {
		return x.failStreaming(fmt.Errorf("write to caller: %w", werr), x.parent, false)
	}
	if x.stream {
		if ferr := x.rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
			return x.failStreaming(fmt.Errorf("flush to caller: %w", ferr), x.parent, false)
		}
	}
	x.touch()
	return nil
}

// close ends the exchange: the trailers of a complete response, the upstream body
// closed, the timers stopped, and the outcome.
//
//go:noinline
func (x *exchange) close(err error) (Outcome, error) {
	if res := x.res; res != nil {
		if err == nil && len(res.Trailer) > 0 {
			// Flush before setting trailers so that net/http sends the body chunked (a
			// short body would otherwise get a Content-Length and lose its trailers).
			_ = x.rc.Flush()
			listed := hop.Listed(res.Header)
			h := x.w.Header()
			for k, vv := range res.Trailer {
				if !keepTrailer(k, listed) {
					continue
				}
				if x.announced[k] {
					h[k] = append([]string(nil), vv...)
				} else {
					h[http.TrailerPrefix+k] = append([]string(nil), vv...)
				}
			}
		}
		_ = res.Body.Close()
	}
	if x.cancel != nil {
		err = x.finish(err)
	}
	if x.body != nil {
		x.out.BytesIn = x.body.count()
	}
	x.out.Duration = time.Since(x.start)
	return x.out, err
}

// prepare validates the target and the call and builds the upstream request, without
// its context. Nothing in c can change the scheme or host of the URL.
func (p *Proxy) prepare(t Target, c Call) (*http.Request, error) {
	if err := p.checkTarget(t); err != nil {
		return nil, err
	}
	cleaned, err := CleanPath(c.Path)
	if err != nil {
		return nil, err
	}
	escaped := t.BasePath + cleaned
	if escaped == "" {
		escaped = "/"
	}
	method, err := checkMethod(c.Method)
	if err != nil {
		return nil, err
	}
	if err := checkQuery(c.RawQuery); err != nil {
		return nil, err
	}
	header, err := outboundHeader(c.Header, t.AuthHeader, t.AuthValue)
	if err != nil {
		return nil, err
	}
	body, length := c.Body, c.ContentLength
	if body == nil || length == 0 || body == http.NoBody {
		body, length = nil, 0
	} else if length < 0 {
		length = -1
	}
	if length > p.cfg.MaxRequestBytes {
		return nil, catalog.TooLarge(p.cfg.MaxRequestBytes)
	}
	req := &http.Request{
		Method: method,
		URL: &url.URL{
			Scheme:   t.Scheme,
			Host:     t.Host,
			Path:     decodePath(escaped),
			RawPath:  escaped,
			RawQuery: c.RawQuery,
		},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Host:          t.Host, // the caller's Host header was dropped with the rest
		ContentLength: length,
	}
	if body != nil {
		req.Body = io.NopCloser(body) // replaced by the counting body in Forward
	}
	return req, nil
}

// checkTarget refuses a target that could send the call anywhere but one host. The
// target comes from the connection, so a malformed one is a server error, except http://
// without AllowHTTP, which the contract answers with 400.
func (p *Proxy) checkTarget(t Target) error {
	switch t.Scheme {
	case "https":
	case "http":
		if !p.cfg.AllowHTTP {
			return catalog.Errorf(catalog.InvalidParameterValue,
				"connection host %s uses http://, which this server does not allow; the credential would cross the network in clear text", t.Host)
		}
	default:
		return errors.New("proxy: target scheme must be https or http")
	}
	u, err := url.Parse(t.Scheme + "://" + t.Host)
	if t.Host == "" || err != nil || u.Host != t.Host || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(t.Host, "/\\@?# \t") {
		return errors.New("proxy: target host is not a host[:port]")
	}
	if t.BasePath != "" {
		clean, err := CleanPath(t.BasePath)
		if err != nil || clean != t.BasePath || strings.HasSuffix(t.BasePath, "/") {
			return errors.New(`proxy: target base path must be "" or a clean path such as "/v1" without a trailing slash`)
		}
	}
	if t.AuthHeader != "" && (!validHeaderName(t.AuthHeader) || !validHeaderValue(t.AuthValue)) {
		// Neither value goes into the message: this is the credential.
		return errors.New("proxy: target credential header is not a valid HTTP header")
	}
	return nil
}

// checkMethod returns the method to send. TRACE (and IIS's TRACK) would have the
// upstream echo the request, injected credential included, back to the caller; CONNECT
// would open a tunnel. Methods are case-sensitive, but servers that fold case exist, so
// the refusal folds case too.
func checkMethod(m string) (string, error) {
	if m == "" {
		return http.MethodGet, nil
	}
	if !validHeaderName(m) {
		return "", catalog.Errorf(catalog.InvalidParameterValue, "method is not a valid HTTP token")
	}
	for _, bad := range []string{"TRACE", "TRACK", "CONNECT"} {
		if strings.EqualFold(m, bad) {
			return "", catalog.Errorf(catalog.InvalidParameterValue,
				"method %s is not allowed through a connection: it would echo the injected credential or open a tunnel", bad)
		}
	}
	return m, nil
}

// checkQuery refuses a query that could change the shape of the request line or the
// URL: whitespace, control characters and '#'. Anything else passes unchanged.
func checkQuery(q string) error {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f || c == '#' {
			return catalog.Errorf(catalog.InvalidParameterValue, "query string must not contain spaces, control characters or '#'")
		}
	}
	return nil
}

func isEventStream(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// upstreamError classifies a failure to get an answer from the upstream into the error
// the caller may see. It names the host, never the credential, the path or a body, and
// does not pass on the transport's own text (which can carry resolved internal
// addresses).
func upstreamError(host string, connected bool, err error, connectTimeout time.Duration, maxHeader int64) *catalog.Error {
	var (
		dnsErr   *net.DNSError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		netErr   net.Error
		timedOut = errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
	)
	tlsFailed := func(why string) *catalog.Error {
		return catalog.Errorf(catalog.UpstreamError, "TLS handshake with upstream %s failed: %s", host, why)
	}
	switch {
	case errors.As(err, &hostErr):
		return tlsFailed("its certificate is not valid for this host")
	case errors.As(err, &unknown):
		return tlsFailed("its certificate is signed by an unknown authority; if it is a private CA, give it to the server with --upstream-ca-file")
	case errors.As(err, &invalid):
		return tlsFailed("its certificate is invalid or expired")
	case errors.As(err, &verify):
		return tlsFailed("its certificate could not be verified")
	case errors.As(err, &record):
		return tlsFailed("it does not speak TLS")
	case errors.As(err, &alert):
		return tlsFailed("it sent a TLS alert")
	case !connected && timedOut:
		return catalog.Errorf(catalog.UpstreamTimeout, "connecting to upstream %s timed out after %s", host, connectTimeout)
	case errors.As(err, &dnsErr):
		return catalog.Errorf(catalog.UpstreamError, "upstream host %s could not be resolved", host)
	case errors.Is(err, syscall.ECONNREFUSED):
		return catalog.Errorf(catalog.UpstreamError, "upstream %s refused the connection", host)
	case !connected:
		return catalog.Errorf(catalog.UpstreamError, "cannot connect to upstream %s", host)
	case timedOut:
		return catalog.Errorf(catalog.UpstreamTimeout, "upstream %s did not answer in time", host)
	case strings.Contains(err.Error(), "response headers exceeded") || strings.Contains(err.Error(), "header list larger"):
		return catalog.Errorf(catalog.UpstreamError, "upstream %s sent a response header larger than %d bytes", host, maxHeader)
	default:
		return catalog.Errorf(catalog.UpstreamError, "upstream %s closed the connection or sent an invalid response", host)
	}
}
