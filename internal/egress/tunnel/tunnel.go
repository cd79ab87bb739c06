// Package tunnel is Gatehouse's egress proxy (docs/operations.md, "The egress proxy"): the
// HTTP proxy that agents reach through HTTPS_PROXY=http://x:TOKEN@gatehouse:port. It
// serves CONNECT tunnels (HTTPS and anything else over TCP) and absolute-form requests
// (plain-HTTP proxying), authenticates every request by its Proxy-Authorization, bounds
// the number of tunnels and their idle time and lifetime, dials every destination through
// the network-policy dialer, and audits every tunnel and request when it ends.
//
// What a tunnel carries is opaque to Gatehouse; the network policy, applied by the
// Dialer, decides where a tunnel may go. The caller's Gatehouse token never travels
// further than this package: Proxy-Authorization is removed before anything is
// forwarded and never logged, audited or echoed.
package tunnel

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/revoke"
)

// AuditAction is the action name of the audit event recorded for every tunnel and every
// absolute-form request.
const AuditAction = catalog.ActionEgressTunnel

// Defaults for the zero values of Config.
const (
	DefaultMaxTunnels     = 256
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultTotalTimeout   = time.Hour
	DefaultConnectTimeout = 10 * time.Second
)

// DefaultMaxTunnelsPerPrincipal is Config.MaxTunnelsPerPrincipal when zero: a quarter
// of the default slots, so that one busy agent cannot lock everyone else out.
const DefaultMaxTunnelsPerPrincipal = 64

// halfCloseIdle bounds the idle timeout of a tunnel once one side has finished sending
// (half-close). The other side may keep sending for as long as bytes flow, so a TLS
// close_notify exchange or the tail of a response gets through, but a peer that ignores
// the half-close does not hold a tunnel slot for the whole IdleTimeout.
const halfCloseIdle = 10 * time.Second

// Dialer opens connections to destinations. It is the network-policy dialer: a
// destination the policy refuses is a *catalog.Error with Code NETWORK_POLICY_DENIED.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Authenticator resolves a Gatehouse token to its principal (identity.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*identity.Identity, error)
}

// Recorder takes audit events (audit.Recorder). Record must not block on I/O.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// Config bounds and configures a Server. A zero (or negative) limit or duration takes its
// default.
type Config struct {
	// MaxTunnels bounds the open CONNECT tunnels plus the absolute-form requests in
	// flight; past it a request is refused with 429.
	MaxTunnels int
	// MaxTunnelsPerPrincipal bounds the slots (of MaxTunnels) that one principal may
	// hold at once; past it that principal is refused with 429 while others still get
	// tunnels.
	MaxTunnelsPerPrincipal int
	// IdleTimeout closes a tunnel (or ends a request) through which no byte has moved,
	// either way, for this long.
	IdleTimeout time.Duration
	// TotalTimeout bounds the whole lifetime of a tunnel or request, busy or not.
	TotalTimeout time.Duration
	// ConnectTimeout bounds each dial of a destination.
	ConnectTimeout time.Duration
	// Annotate lets the caller put the principal (and the source, "egress") into the
	// context handed to the Dialer, so that its network events are attributed. Nil
	// leaves the context as it is.
	Annotate func(ctx context.Context, principal string) context.Context
	// Log receives operational messages; nil discards them.
	Log *slog.Logger
	// Now is the clock of audit durations; nil means time.Now. Socket deadlines always
	// use the real clock.
	Now func() time.Time
	// Revoke, with Recheck, tracks every tunnel and request while it is open: when a
	// re-check of its identity fails (principal deactivated, token deleted) or its
	// token expires, the tunnel's two connections are closed. Nil tracks nothing.
	Revoke *revoke.Registry
	// Recheck re-authenticates an identity that Authenticate returned
	// (identity.Authenticator.Recheck).
	Recheck func(ctx context.Context, id *identity.Identity) error
}

// Server is the egress proxy, an http.Handler for the egress listener. It must be served
// over HTTP/1.1, since a tunnel takes over the client's connection.
type Server struct {
	cfg       Config
	dialer    Dialer
	auth      Authenticator
	rec       Recorder
	log       *slog.Logger
	now       func() time.Time
	transport *http.Transport

	active atomic.Int64
	// slotsMu guards byPrincipal, the slots each principal holds; an entry is removed
	// when its count drops to zero, so the map holds only principals with open tunnels.
	slotsMu     sync.Mutex
	byPrincipal map[string]int
	// base is cancelled by Close; every tunnel and request ends with it.
	base context.Context
	stop context.CancelFunc
}

var _ http.Handler = (*Server)(nil)

// New returns an egress proxy that dials through d, authenticates with auth and audits
// to rec.
func New(cfg Config, d Dialer, auth Authenticator, rec Recorder) *Server {
	if cfg.MaxTunnels <= 0 {
		cfg.MaxTunnels = DefaultMaxTunnels
	}
	if cfg.MaxTunnelsPerPrincipal <= 0 {
		cfg.MaxTunnelsPerPrincipal = DefaultMaxTunnelsPerPrincipal
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = DefaultTotalTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	s := &Server{cfg: cfg, dialer: d, auth: auth, rec: rec, log: cfg.Log, now: cfg.Now, byPrincipal: map[string]int{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.base, s.stop = context.WithCancel(context.Background())
	s.transport = s.newTransport()
	return s
}

// Active is the number of tunnel slots in use: open CONNECT tunnels plus absolute-form
// requests in flight.
func (s *Server) Active() int { return int(s.active.Load()) }

// Close ends every open tunnel and in-flight request and refuses new ones with 503. The
// http.Server that serves s does not see tunnels (they have taken over their
// connections), so http.Server.Shutdown does not wait for them; call Close after it.
func (s *Server) Close() error {
	s.stop()
	s.transport.CloseIdleConnections()
	return nil
}

// Why acquire refused a slot.
const (
	slotTaken        = ""
	slotsFull        = "too many tunnels"
	principalAtLimit = "too many tunnels for this principal"
)

// acquire takes a tunnel slot for the principal if one is free, and its own share
// (MaxTunnelsPerPrincipal) is not used up. It returns slotTaken, or why not.
func (s *Server) acquire(principal string) string {
	s.slotsMu.Lock()
	defer s.slotsMu.Unlock()
	if s.byPrincipal[principal] >= s.cfg.MaxTunnelsPerPrincipal {
		return principalAtLimit
	}
	if s.active.Load() >= int64(s.cfg.MaxTunnels) {
		return slotsFull
	}
	s.active.Add(1)
	s.byPrincipal[principal]++
	return slotTaken
}

// release gives back a slot that acquire took for the principal.
func (s *Server) release(principal string) {
	s.slotsMu.Lock()
	defer s.slotsMu.Unlock()
	s.active.Add(-1)
	if n := s.byPrincipal[principal] - 1; n > 0 {
		s.byPrincipal[principal] = n
	} else {
		delete(s.byPrincipal, principal)
	}
}

// trip is what one tunnel or request reports to the audit log and the log when it ends.
type trip struct {
	requestID   string
	method      string
	destination string // host:port
	principal   string // name; "" before authentication
	who         *identity.Identity
	since       uint64 // revoke generation before authentication
	sourceIP    string
	start       time.Time
	bytesUp     atomic.Int64 // client → destination
	bytesDown   atomic.Int64 // destination → client
	status      int
	errorCode   catalog.ErrorCode
	allowed     bool
	reason      string
	err         error // detail for the log only
}

// ServeHTTP serves one proxy request: CONNECT or an absolute-form request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	connect := r.Method == http.MethodConnect
	if connect {
		// A refused CONNECT ends the connection: bytes the client sent after its
		// request (a TLS ClientHello, optimistically) must not be read as a request.
		w.Header().Set("Connection", "close")
	}
	dest, msg := destination(r)
	if msg != "" {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "egress proxy: bad request",
			slog.String("method", r.Method), slog.String("problem", msg), slog.String("remote", r.RemoteAddr))
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	t := &trip{requestID: catalog.NewID(), method: r.Method, destination: dest,
		sourceIP: sourceIP(r.RemoteAddr), start: start}
	w.Header().Set("X-Gatehouse-Request-Id", t.requestID)
	defer s.finish(r.Context(), t)

	if s.base.Err() != nil {
		s.refuse(w, t, http.StatusServiceUnavailable, catalog.TemporarilyUnavailable,
			"the egress proxy is shutting down", reasonShutdown)
		return
	}
	if !s.authenticate(w, r, t) {
		return
	}
	switch why := s.acquire(t.principal); why {
	case slotTaken:
	case principalAtLimit:
		msg := "too many tunnels: principal " + t.principal + " already holds " +
			strconv.Itoa(s.cfg.MaxTunnelsPerPrincipal) + " (--egress-max-tunnels-per-principal)"
		s.refuse(w, t, http.StatusTooManyRequests, catalog.RequestLimitExceeded, msg, why)
		return
	default:
		s.refuse(w, t, http.StatusTooManyRequests, catalog.RequestLimitExceeded, why, why)
		return
	}
	defer s.release(t.principal)
	if connect {
		s.tunnel(w, r, t)
	} else {
		s.forward(w, r, t)
	}
}

// destination returns the host:port a request asks for, or what is wrong with it.
func destination(r *http.Request) (string, string) {
	if r.Method == http.MethodConnect {
		// net/http puts the authority of "CONNECT host:port" in r.URL.Host; anything
		// else in the target (a path, user info, a query) makes it no authority.
		if r.URL == nil || r.URL.Host == "" || r.URL.Host != r.RequestURI {
			return "", "CONNECT needs a host:port target"
		}
		host, port, err := net.SplitHostPort(r.URL.Host)
		if err != nil || !validHost(host) || !validPort(port) {
			return "", "CONNECT needs a host:port target"
		}
		return net.JoinHostPort(host, port), ""
	}
	if r.URL == nil || !r.URL.IsAbs() || r.URL.Host == "" {
		return "", "this is an egress proxy"
	}
	if r.URL.Scheme != "http" {
		return "", "the egress proxy forwards only http:// URLs; use CONNECT for " + r.URL.Scheme
	}
	host, port := r.URL.Hostname(), r.URL.Port()
	if port == "" {
		port = "80"
	}
	if !validHost(host) || !validPort(port) {
		return "", "the request URL needs a host and a valid port"
	}
	return net.JoinHostPort(host, port), ""
}

// validHost bounds a destination host to what DNS allows (253 characters; an IPv6
// literal is shorter), which also bounds what goes into the audit record.
func validHost(h string) bool { return h != "" && len(h) <= 253 }

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && p[0] != '+' && p[0] != '-'
}

func sourceIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// proxyAuthRealm answers every 407. Both schemes are offered: Basic is what clients send
// for credentials in a proxy URL, Bearer what a caller sets by hand.
var proxyAuthRealm = []string{`Basic realm="gatehouse"`, `Bearer realm="gatehouse"`}

// authenticate checks the Proxy-Authorization of r and records the principal in t. On
// a failure it answers and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, t *trip) bool {
	if s.cfg.Revoke != nil {
		t.since = s.cfg.Revoke.Generation()
	}
	token, problem := proxyToken(r.Header)
	if problem != "" {
		s.unauthenticated(w, t, problem)
		return false
	}
	id, err := s.auth.Authenticate(r.Context(), token)
	if err != nil {
		var ce *catalog.Error
		if !errors.As(err, &ce) {
			t.err = err
			s.refuse(w, t, http.StatusInternalServerError, catalog.InternalError,
				"internal error (request id "+t.requestID+")", "authentication failed")
			return false
		}
		// The authenticator's messages are written for callers and never carry a
		// secret; the check for the token is a second line of defence.
		msg := ce.Message
		if strings.Contains(msg, token) {
			msg = "invalid access token"
		}
		if ce.Code != catalog.Unauthenticated {
			s.refuse(w, t, ce.HTTPStatus(), ce.Code, msg, msg)
			return false
		}
		s.unauthenticated(w, t, msg)
		return false
	}
	if id == nil || id.Principal == nil {
		s.unauthenticated(w, t, "invalid access token")
		return false
	}
	if !id.Principal.Active || id.Principal.Kind == catalog.KindGroup {
		t.principal = id.Principal.Name
		s.unauthenticated(w, t, "principal "+id.Principal.Name+" is deactivated")
		return false
	}
	t.principal, t.who = id.Principal.Name, id
	// The token was for Gatehouse; nothing after this point may see it.
	r.Header.Del("Proxy-Authorization")
	return true
}

func (s *Server) unauthenticated(w http.ResponseWriter, t *trip, msg string) {
	w.Header()["Proxy-Authenticate"] = proxyAuthRealm
	s.refuse(w, t, http.StatusProxyAuthRequired, catalog.Unauthenticated, "proxy authentication required: "+msg, msg)
}

// proxyToken returns the Gatehouse token of a Proxy-Authorization header, or what is
// wrong with the header. The problem never contains the header's value.
func proxyToken(h http.Header) (token, problem string) {
	vv := h.Values("Proxy-Authorization")
	switch {
	case len(vv) == 0:
		return "", "send Proxy-Authorization (put the token in the proxy URL: http://x:TOKEN@host:port)"
	case len(vv) > 1:
		return "", "more than one Proxy-Authorization header"
	}
	v := strings.TrimSpace(vv[0])
	scheme, cred, _ := strings.Cut(v, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = cred
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "", "malformed Basic credentials"
		}
		_, pass, ok := strings.Cut(string(b), ":")
		if !ok {
			return "", "malformed Basic credentials"
		}
		token = pass
	default:
		return "", "unsupported Proxy-Authorization scheme (use Basic or Bearer)"
	}
	if token == "" {
		return "", "no access token (it goes in the password of the proxy URL)"
	}
	return token, ""
}

// refuse answers a request that Gatehouse does not let through (decision DENY) and
// records why.
func (s *Server) refuse(w http.ResponseWriter, t *trip, status int, code catalog.ErrorCode, body, reason string) {
	t.status, t.errorCode, t.allowed, t.reason = status, code, false, reason
	http.Error(w, body, status)
}

// fail answers a request that Gatehouse let through but whose destination failed it
// (decision ALLOW, as for the connection proxy: a refusal is a denial, a failure of the
// destination after every decision passed is an allowed call that failed).
func (s *Server) fail(w http.ResponseWriter, t *trip, status int, code catalog.ErrorCode, body, reason string) {
	t.status, t.errorCode, t.allowed, t.reason = status, code, true, reason
	http.Error(w, body, status)
}

// dial opens a connection to addr for the principal, within ConnectTimeout. The
// request id goes into the egress Source, so that a denial's records name the request.
func (s *Server) dial(ctx context.Context, principal, requestID, network, addr string) (net.Conn, error) {
	if s.cfg.Annotate != nil {
		ctx = s.cfg.Annotate(ctx, principal)
	}
	src := egress.SourceFrom(ctx)
	src.RequestID = requestID
	ctx = egress.WithSource(ctx, src)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	return s.dialer.DialContext(ctx, network, addr)
}

// dialFailed answers a failed dial: 403 with the policy's public message for a denial
// (DENY), else 502 (ALLOW: the policy let the destination through, which then failed).
// The audit record of a denial keeps the dialer's full reason (resolved addresses and
// their classes); the caller's body names only the destination it asked for.
func (s *Server) dialFailed(w http.ResponseWriter, t *trip, err error) {
	var ce *catalog.Error
	if errors.As(err, &ce) && ce.Code == catalog.NetworkPolicyDenied {
		reason := ce.Message
		var d *egress.Denial
		if errors.As(err, &d) && d.Reason != "" {
			reason = "network policy denies " + d.Destination + ": " + d.Reason
		}
		s.refuse(w, t, http.StatusForbidden, catalog.NetworkPolicyDenied, ce.Message, reason)
		return
	}
	t.err = err
	reason := "connect failed"
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		reason = "connect timed out"
	}
	s.fail(w, t, http.StatusBadGateway, catalog.UpstreamError, "cannot reach "+t.destination, reason)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// finish audits and logs a tunnel or request that has ended.
func (s *Server) finish(ctx context.Context, t *trip) {
	d := s.now().Sub(t.start)
	params := map[string]string{
		"method":      t.method,
		"destination": t.destination,
		"bytes_up":    strconv.FormatInt(t.bytesUp.Load(), 10),
		"bytes_down":  strconv.FormatInt(t.bytesDown.Load(), 10),
		"duration_ms": strconv.FormatInt(d.Milliseconds(), 10),
	}
	if t.reason != "" {
		params["reason"] = t.reason
	}
	decision := catalog.DecisionDeny
	if t.allowed {
		decision = catalog.DecisionAllow
	}
	e := &catalog.AuditEvent{
		ActionName: AuditAction,
		Principal:  t.principal,
		SourceIP:   t.sourceIP,
		RequestID:  t.requestID,
		Params:     params,
		StatusCode: t.status,
		Decision:   decision,
	}
	if t.errorCode != "" {
		e.ErrorCode = string(t.errorCode)
	}
	// The client may be gone; the record must still be written.
	ctx = context.WithoutCancel(ctx)

	attrs := []slog.Attr{
		slog.String("request_id", t.requestID),
		slog.String("method", t.method),
		slog.String("destination", t.destination),
		slog.String("principal", t.principal),
		slog.String("source_ip", t.sourceIP),
		slog.Int("status", t.status),
		slog.Int64("bytes_up", t.bytesUp.Load()),
		slog.Int64("bytes_down", t.bytesDown.Load()),
		slog.Duration("duration", d),
	}
	if t.reason != "" {
		attrs = append(attrs, slog.String("reason", t.reason))
	}
	level := slog.LevelDebug
	if t.err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("err", t.err.Error()))
	} else if !t.allowed {
		level = slog.LevelInfo
	}
	s.log.LogAttrs(ctx, level, "egress "+t.method, attrs...)
	s.rec.Record(ctx, e)
}
