package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/revoke"
)

// Recorder records audit events; it must not block on I/O.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// call is one use of a connection on its way through the decisions, gathering what
// the audit record needs.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	who   *identity.Identity
	conn  *catalog.Connection
	// entry is conn as the connection cache served it (its parsed allow-list).
	entry *connEntry
	name  string
	out   proxy.Outcome
	// streamed is true when the caller's body is streamed to the upstream (the
	// transparent proxy) rather than read first (external-function).
	streamed bool
	// since is the revoke generation read before the decisions (revoke.Entry.Since).
	since uint64
	// mcp is true for the MCP proxy, which serves MCP connections only.
	mcp bool
	// target and pcall are a streamed call's, set by decide.
	target proxy.Target
	pcall  proxy.Call
	// params are added to the audit record: the statement of a SQL http_request.
	params map[string]string
}

// record writes the useConnection audit event for the call.
func (c *call) record(status int, err error) {
	e := &catalog.AuditEvent{
		ActionName: catalog.ActionUseConnection,
		SourceIP:   catalog.RequestInfoFrom(c.r.Context()).SourceIP,
		RequestID:  RequestID(c.r.Context()),
		Connection: c.name,
		StatusCode: status,
		Decision:   catalog.DecisionAllow,
		Params: map[string]string{
			"method":      c.r.Method,
			"duration_ms": strconv.FormatInt(c.s.Now().Sub(c.start).Milliseconds(), 10),
		},
	}
	for k, v := range c.params {
		e.Params[k] = v
	}
	if c.who != nil {
		e.Principal = c.who.Principal.Name
	}
	if c.conn != nil {
		e.Connection = c.conn.Name
	}
	if c.out.UpstreamHost != "" {
		e.Params["upstream_host"] = c.out.UpstreamHost
		e.Params["path"] = c.out.Path
		e.Params["bytes_in"] = strconv.FormatInt(c.out.BytesIn, 10)
		e.Params["bytes_out"] = strconv.FormatInt(c.out.BytesOut, 10)
	}
	if err != nil {
		e.ErrorCode = string(catalog.CodeOf(err))
		var ce *catalog.Error
		if errors.As(err, &ce) {
			e.Params["reason"] = ce.Message
			if status == 0 {
				e.StatusCode = ce.HTTPStatus()
			}
		} else if status == 0 {
			e.StatusCode = http.StatusInternalServerError
		}
		// A refusal before the upstream was contacted is a denial, and so is a refusal
		// by the network policy at the dial (the upstream host is known by then, but
		// nothing reached it); a failure of the upstream after the decisions passed is
		// an allowed call that failed.
		if c.out.UpstreamHost == "" || e.ErrorCode == string(catalog.NetworkPolicyDenied) {
			e.Decision = catalog.DecisionDeny
		}
	}
	if c.s.Audit != nil {
		c.s.Audit.Record(context.WithoutCancel(c.r.Context()), e)
	}
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authorize takes the decisions in their fixed order, and nothing is decrypted before
// the first three pass: authenticated → connection exists and is enabled → (for the MCP
// proxy) it is an MCP connection → caller holds USE_CONNECTION → credential.
func (c *call) authorize() (proxy.Target, error) {
	s, ctx := c.s, c.r.Context()
	if err := c.authenticate(); err != nil {
		return proxy.Target{}, err
	}
	who := c.who
	entry, err := s.lookupConnection(ctx, c.name)
	if err != nil {
		return proxy.Target{}, err
	}
	c.entry, c.conn = entry, entry.conn
	conn := entry.conn
	if !conn.Enabled {
		return proxy.Target{}, catalog.Errorf(catalog.PermissionDenied, "connection %s is disabled", conn.Name)
	}
	if c.mcp && !conn.IsMCP() {
		return proxy.Target{}, errNotMCP(conn.Name)
	}
	privs, err := s.Access.Connection(ctx, who.Principal, conn)
	if err != nil {
		return proxy.Target{}, err
	}
	if !privs.Has(catalog.UseConnection) {
		return proxy.Target{}, catalog.Errorf(catalog.PermissionDenied, "User %s does not have USE_CONNECTION on connection %s", who.Principal.Name, conn.Name)
	}
	hname, hvalue, err := s.Broker.Header(ctx, conn, who.Principal)
	if err != nil {
		return proxy.Target{}, err
	}
	u, err := url.Parse(conn.Options[catalog.OptHost])
	if err != nil {
		return proxy.Target{}, err
	}
	host := u.Host
	if p := conn.Options[catalog.OptPort]; p != "" {
		host = net.JoinHostPort(u.Hostname(), p)
	}
	return proxy.Target{Scheme: u.Scheme, Host: host, BasePath: conn.Options[catalog.OptBasePath], AuthHeader: hname, AuthValue: hvalue}, nil
}

// authenticate identifies the caller from the request header, once: every later
// decision, and the audit record, is attributed to it.
func (c *call) authenticate() error {
	if c.who != nil {
		return nil
	}
	// The revoke generation is read before the first decision, so that a change that
	// lands between the decisions and the tracking is re-checked (revoke.Entry.Since).
	if c.s.Revoke != nil {
		c.since = c.s.Revoke.Generation()
	}
	resource := ""
	if c.mcp {
		resource = c.s.mcpResource(c.name) // the one place a token with an audience is good
	}
	who, err := c.s.authenticateFor(c.r, resource)
	if err != nil {
		return err
	}
	c.who = who
	if rec, ok := c.w.(*statusRecorder); ok {
		rec.who = who.Principal.Name
	}
	return nil
}

const proxyPrefix = "/api/2.0/unity-catalog/connections/"

// splitProxyPath recognizes {proxyPrefix}{name}/proxy[/{path...}] in the escaped path
// and returns the connection name and the still-escaped path below it.
func splitProxyPath(escaped string) (name, sub string, ok bool) {
	rest, found := strings.CutPrefix(escaped, proxyPrefix)
	if !found {
		return "", "", false
	}
	seg, after, found := strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	if after != "proxy" && !strings.HasPrefix(after, "proxy/") {
		return "", "", false
	}
	n, err := url.PathUnescape(seg)
	if err != nil {
		n = seg
	}
	return n, strings.TrimPrefix(after, "proxy"), true
}

// proxyCall serves the transparent proxy: any method on
// /api/2.0/unity-catalog/connections/{name}/proxy/{path...}.
func (s *Server) proxyCall(w http.ResponseWriter, r *http.Request, name, sub string) {
	c := &call{s: s, w: w, r: r, start: s.Now(), name: name, streamed: true}
	c.serveStreamed(sub, false)
}

// serveStreamed takes the decisions and streams the caller's request to the upstream,
// at sub below the base path; eventHints is proxy.Call.EventStreamHints.
//
// It is the frame under which an event stream is relayed, so the decisions run in
// decide, which returns first, and the target and call are kept in c, not here.
func (c *call) serveStreamed(sub string, eventHints bool) {
	if c.decide(sub, eventHints) {
		c.forward(c.w, &c.target, &c.pcall)
	}
}

// decide takes the decisions of serveStreamed and, if they pass, sets c.target and
// c.pcall; if they do not, it answers the caller.
//
//go:noinline
func (c *call) decide(sub string, eventHints bool) bool {
	s, w, r := c.s, c.w, c.r
	t, err := c.authorize()
	if err != nil {
		// Refused before the body was read: do not wait for it (refuseUnread).
		refuseUnread(w, r)
		c.record(0, err)
		s.writeError(w, r, err)
		return false
	}
	// The body is streamed to the upstream: it has no deadline as a whole (a large
	// upload may take long) but each read of it one of the proxy's idle timeout, set by
	// the proxy (Config.IdleTimeout), so that a client trickling nothing is cut.
	c.target = t
	c.pcall = proxy.Call{Method: r.Method, Path: sub, RawQuery: r.URL.RawQuery, Header: r.Header, Body: r.Body, ContentLength: r.ContentLength,
		EventStreamHints: eventHints}
	return true
}

// forward sends the call and records it; the error is the one the caller was answered
// with, or nil.
//
// An event stream waits in Forward for as long as it is open, under this frame and its
// callers': the per-call work before and after (the tracked context, the audit record,
// the error answer) is done in callees that have returned (track, forwarded), and t and
// pc come by reference, so that the handler goroutine parks on a shallow stack, which
// the runtime can shrink (proxy.Forward).
func (c *call) forward(w http.ResponseWriter, t *proxy.Target, pc *proxy.Call) error {
	ctx, release := c.track()
	if release != nil {
		defer release()
	}
	out, err := c.s.Proxy.ForwardRef(ctx, w, t, pc)
	return c.forwarded(ctx, w, &out, err)
}

// track is the context a call is forwarded under: its source for the network layer,
// and, with a revoke registry, tracked for revocation until release is called.
//
//go:noinline
func (c *call) track() (context.Context, func()) {
	// The network layer decides on its own, but its denials name who and through what.
	ctx := egress.WithSource(c.r.Context(), egress.Source{Kind: catalog.SourceProxy, Principal: c.who.Principal.Name, Connection: c.conn.Name,
		RequestID: RequestID(c.r.Context())})
	if c.s.Revoke == nil {
		return ctx, nil
	}
	return c.s.Revoke.TrackEntry(ctx, c.revokeEntry())
}

// forwarded records a forwarded call and answers the caller if Forward failed before
// the response started; ctx is the one track returned.
//
//go:noinline
func (c *call) forwarded(ctx context.Context, w http.ResponseWriter, out *proxy.Outcome, err error) error {
	err = revokedCause(ctx, err)
	c.out = *out
	c.record(out.Status, err)
	if err != nil && out.Status == 0 {
		if c.streamed && out.BytesIn == 0 {
			// Refused (a bad path, a network policy denial, an upstream that cannot be
			// reached) before any of the body was read: do not wait for it.
			refuseUnread(w, c.r)
		}
		c.s.writeError(w, c.r, err)
	}
	return err
}

// revokeEntry tracks the call until its token expires, with recheck.
//
// A token that outlives the longest possible call (with a minute to spare) needs no
// deadline, since the call ends first; that keeps a timer off the common path, where
// tokens live for days.
func (c *call) revokeEntry() revoke.Entry {
	e := revoke.Entry{Check: c.recheck, Since: c.since}
	if exp := c.who.ExpiresAt; !exp.IsZero() && exp.Before(c.start.Add(c.s.Proxy.TotalTimeout()+time.Minute)) {
		e.Expires, e.Expired = c.who.ExpiresAt, c.who.Expired()
	}
	return e
}

// recheck repeats the decisions of authorize for a call under way: the caller is still
// authenticated, the connection still exists (read from the store, not a cache that may
// not have seen the change yet) and is enabled, and the caller still holds
// USE_CONNECTION.
func (c *call) recheck(ctx context.Context) error {
	s := c.s
	if err := s.Auth.Recheck(ctx, c.who); err != nil {
		return err
	}
	conn, err := s.Store.GetConnectionByID(ctx, c.conn.ID)
	if catalog.IsNotFound(err) {
		return catalog.Errorf(catalog.PermissionDenied, "connection %s was deleted", c.conn.Name)
	}
	if err != nil {
		return fmt.Errorf("recheck connection %s: %w", c.conn.Name, err)
	}
	if !conn.Enabled {
		return catalog.Errorf(catalog.PermissionDenied, "connection %s is disabled", conn.Name)
	}
	privs, err := s.Access.Connection(ctx, c.who.Principal, conn)
	if err != nil {
		return fmt.Errorf("recheck connection %s: %w", conn.Name, err)
	}
	if !privs.Has(catalog.UseConnection) {
		return catalog.Errorf(catalog.PermissionDenied, "User %s no longer has USE_CONNECTION on connection %s", c.who.Principal.Name, conn.Name)
	}
	return nil
}

// revokedCause returns, for a call that a revoke ended, the revoke's reason instead of
// err, so that the caller and the audit record say why; otherwise err. The tracked
// context's cause tells: a revoke (or the token's expiry) is a *catalog.Error, while the
// caller going away first leaves its own context.Canceled. The caller's context ends
// anyway once a streamed response is cut, so its state cannot tell.
func revokedCause(tracked context.Context, err error) error {
	if err == nil || tracked.Err() == nil {
		return err
	}
	var ce *catalog.Error
	if errors.As(context.Cause(tracked), &ce) {
		return ce
	}
	return err
}

// externalFunction serves POST /api/2.0/external-function: a call described in JSON.
// The caller is authenticated on the header before a byte of the body is read, so that a
// client without a token costs no read (and its refusal closes the connection); the body
// is then bounded in size (MaxBodyBytes) and time (BodyTimeout). A malformed call by an
// authenticated caller is audited with its principal.
func (s *Server) externalFunction(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r, start: s.Now()}
	if err := c.authenticate(); err != nil {
		refuseUnread(w, r)
		c.record(0, err)
		s.writeError(w, r, err)
		return
	}
	err := requireJSON(r)
	var body []byte
	if err != nil {
		refuseUnread(w, r)
	} else {
		bodyDeadline(w, r, s.BodyTimeout)
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = catalog.TooLarge(mbe.Limit)
		}
		c.record(0, err)
		s.writeError(w, r, err)
		return
	}
	c.external(body)
}

// external makes the call an external-function body describes, for an authenticated
// caller: it parses the body, takes the decisions and forwards, answering c.w and
// recording the call; the error is the one answered, or nil. SQL's http_request makes
// its call here too (sqlCaller), so that both are one code.
func (c *call) external(body []byte) error {
	name, pc, err := proxy.ParseExternalFunction(body)
	c.name = name
	if err != nil {
		c.record(0, err)
		c.s.writeError(c.w, c.r, err)
		return err
	}
	t, err := c.authorize()
	if err != nil {
		c.record(0, err)
		c.s.writeError(c.w, c.r, err)
		return err
	}
	return c.forward(c.w, &t, &pc)
}
