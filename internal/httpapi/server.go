// Package httpapi is Gatehouse's HTTP API: the routes of docs/api.md, the one function
// that turns errors into responses, the middleware every request passes (request id,
// body limit, authentication, logging), and the client that the CLI uses.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/revoke"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// RequestIDHeader is on every response.
const RequestIDHeader = "X-Gatehouse-Request-Id"

// DefaultMaxBodyBytes bounds API request bodies when Deps.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// Deps are the server's collaborators, built by cmd/gatehouse.
type Deps struct {
	Store   catalog.Store
	Keyring *seal.Keyring
	Auth    *identity.Authenticator
	Access  *access.Authorizer
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublicURL is the externally visible base URL, e.g. https://gatehouse.example.com.
	PublicURL string
	// MaxBodyBytes bounds API request bodies (413 past it).
	MaxBodyBytes int64
	// BodyTimeout bounds how long an API request body may take to arrive once the
	// request header is in (408 past it); zero means DefaultBodyTimeout. Bodies streamed
	// through the proxy are bounded per read by the proxy's idle timeout instead.
	BodyTimeout time.Duration
	// Validation holds deployment settings for option validation.
	Validation catalog.ValidationPolicy
	// Broker answers the credential header for calls through connections, and keeps
	// OAuth credentials.
	Broker *credential.Broker
	// Proxy forwards calls to upstreams.
	Proxy *proxy.Proxy
	// Audit records audit events; nil records nothing.
	Audit Recorder
	// AuditChainKey keys the audit hash chain (audit.ChainKey of the master key); the
	// verify endpoint needs it, and answers 503 without it.
	AuditChainKey []byte
	// OAuth talks to authorization servers (discovery, provider checks).
	OAuth *oauth.Client
	// Web serves the browser pages (sign-in, OAuth login); nil serves none.
	Web http.Handler
	// Console serves the web console (internal/console; issue 13) for each of
	// ConsolePatterns; nil serves none, and / stays the API's JSON 404.
	Console         http.Handler
	ConsolePatterns []string
	// TokenEndpoint serves POST /oidc/v1/token, Gatehouse's own authorization server
	// (internal/authserver; issue 12); nil serves none.
	TokenEndpoint http.Handler
	// AuthorizationServer serves the rest of Gatehouse's authorization server for MCP
	// clients (issue 12): GET /.well-known/oauth-authorization-server (RFC 8414); nil
	// serves none.
	AuthorizationServer http.Handler
	// NormalizePolicy validates and normalizes a network policy given by an admin; nil
	// accepts it as is.
	NormalizePolicy func(*catalog.NetworkPolicy) (*catalog.NetworkPolicy, error)
	// NetworkCounts reports network denials for /metrics, keyed "source/access_type".
	NetworkCounts func() map[string]int64
	// DevIPRanges are the ranges --dev opens in the dialer's view of the network policy,
	// shown beside the stored policy.
	DevIPRanges []string
	// Governance runs the management operations; nil builds them from these Deps.
	Governance *governance.Service
	// Revoke tracks every call through a connection while it is forwarded, so that a
	// revoke (deactivation, token deletion or expiry, grant revocation, connection
	// disable or delete) ends a streaming response within a second; nil tracks none.
	Revoke *revoke.Registry
	// MCPTools is the tool pins the MCP proxy asks about every tools/list answer and
	// tools/call; nil means Governance's (mcp_pin_tools on each connection decides).
	MCPTools catalog.MCPToolGate
}

// Server serves the API.
type Server struct {
	Deps
	mux   *http.ServeMux
	conns *connCache
}

// NewServer returns the API handler.
func NewServer(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if d.BodyTimeout <= 0 {
		d.BodyTimeout = DefaultBodyTimeout
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Governance == nil {
		d.Governance = governance.New(governance.Deps{Store: d.Store, Keyring: d.Keyring, Access: d.Access, Broker: d.Broker,
			OAuth: d.OAuth, Validation: d.Validation, Log: d.Log, Now: d.Now, Audit: d.Audit})
	}
	if d.MCPTools == nil {
		d.MCPTools = d.Governance
	}
	s := &Server{Deps: d, mux: http.NewServeMux(), conns: newConnCache(d.Store)}
	s.routes()
	return s
}

// RequestID returns the request id of the request's context.
func RequestID(ctx context.Context) string {
	return catalog.RequestInfoFrom(ctx).RequestID
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	who    string
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP gives every request an id, recovers from panics and logs the outcome. The
// log line has the method, the path without the query (queries may carry secrets of
// the caller's own) and the principal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.Now()
	id := newRequestID()
	w.Header().Set(RequestIDHeader, id)
	r = r.WithContext(catalog.WithRequestInfo(r.Context(), catalog.RequestInfo{RequestID: id, SourceIP: sourceIP(r)}))
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(v))
			if rec.status == 0 {
				s.writeError(rec, r, errors.New("panic"))
			}
		}
		s.Log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "principal", rec.who, "duration_ms", s.Now().Sub(start).Milliseconds())
	}()
	if hasBody(r) {
		// Whatever the route, a body that is never read (an unknown route, a refusal)
		// is still read and discarded by net/http before it answers: the deadline bounds
		// that too. Routes that read the body set their own after authentication.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.BodyTimeout))
	}
	if name, sub, ok := splitProxyPath(r.URL.EscapedPath()); ok {
		s.proxyCall(rec, r, name, sub)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// handler is an API handler for an authenticated caller. It returns an error instead of
// writing one, so that one function decides what the client sees.
type handler func(w http.ResponseWriter, r *http.Request, who *identity.Identity) error

// authed authenticates the caller on the request header alone, and only then bounds
// the body (in size and in time: BodyTimeout) and runs h. A caller without a valid
// token costs no body read: its refusal closes the connection (refuseUnread).
func (s *Server) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := s.authenticate(r)
		if err != nil {
			refuseUnread(w, r)
			s.writeError(w, r, err)
			return
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.who = who.Principal.Name
		}
		bodyDeadline(w, r, s.BodyTimeout)
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
		if err := h(w, r, who); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (*identity.Identity, error) {
	return s.authenticateFor(r, "")
}

// authenticateFor is authenticate for a call to resource (identity.AuthenticateResource):
// the MCP proxy passes its connection's resource; "" refuses tokens with an audience.
func (s *Server) authenticateFor(r *http.Request, resource string) (*identity.Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, catalog.Errorf(catalog.Unauthenticated, "no access token: send Authorization: Bearer <token>")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, catalog.Errorf(catalog.Unauthenticated, "Authorization header must be \"Bearer <token>\"")
	}
	return s.Auth.AuthenticateResource(r.Context(), strings.TrimSpace(tok), resource)
}

// writeError is the one place that turns an error into a response. Only *catalog.Error
// messages reach the client; anything else is logged with the request id and answered
// with a generic 500, so internal details (and anything secret inside them) stay out.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	var ce *catalog.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ce):
	case errors.As(err, &mbe):
		ce = catalog.TooLarge(mbe.Limit)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody is listening for an answer.
		return
	default:
		s.Log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		ce = catalog.Errorf(catalog.InternalError, "internal error; quote request id %s when reporting it", id)
	}
	if ce.Code == catalog.Unauthenticated {
		s.setBearerChallenge(w, r, err)
	}
	w.Header().Set(ErrorCodeHeader, string(ce.Code))
	body := ErrorBody{ErrorCode: string(ce.Code), Message: ce.Message, RequestID: id, LoginURL: ce.LoginURL}
	writeJSON(w, ce.HTTPStatus(), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func ok(w http.ResponseWriter, v any) error {
	writeJSON(w, http.StatusOK, v)
	return nil
}

func msec(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// checkKeyring seals and opens a probe value, proving the key is loaded and usable.
func (s *Server) checkKeyring() error {
	aad := seal.AAD{SecurableID: "readyz", Field: "probe"}
	ct, err := s.Keyring.Seal([]byte("probe"), aad)
	if err != nil {
		return err
	}
	_, err = s.Keyring.Open(ct, aad)
	return err
}
