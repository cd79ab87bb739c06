// Package authserver is Gatehouse's own authorization server: the token endpoint
// POST /oidc/v1/token. It reads the request (a bounded form body, each parameter at most
// once, optional HTTP Basic), hands it to the identity.TokenGrant whose grant type it
// names, and answers in JSON with Cache-Control: no-store — a token (RFC 6749 §5.1) or
// an error (RFC 6749 §5.2). Every request is rate limited per source address and leaves
// one audit record (tokenCreate), which names neither the presented nor the issued
// token.
//
// For MCP clients (issue 12) it is also the rest of an OAuth authorization server: the
// metadata document (RFC 8414, metadata.go), the authorization request checks and codes
// behind the consent page of internal/webui, with client ID metadata documents
// (authorize.go, cimd.go), the authorization_code and refresh_token grants
// (codegrant.go), and token revocation (RFC 7009, revoke.go) at POST /oidc/v1/revoke.
package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// TokenPath is the token endpoint's path.
const TokenPath = "/oidc/v1/token"

// MaxFormBytes bounds the body of a token request.
const MaxFormBytes = 64 << 10

// Recorder records audit events.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// Options configure a Server.
type Options struct {
	// Audit records one event per request; nil records nothing.
	Audit Recorder
	// Log receives refusals' detail and server errors (nil: none).
	Log *slog.Logger
	// Now is the clock of the rate limiter (nil: time.Now).
	Now func() time.Time
	// BodyTimeout bounds reading the body (0: 10 seconds).
	BodyTimeout time.Duration
	// Rate and Burst limit the requests of one source address: Rate per second, Burst
	// at once (0: 20 and 50).
	Rate  float64
	Burst int
}

// Server serves the token endpoint, and the revocation endpoint when one of its grants
// is also a Revoker. It is an http.Handler.
type Server struct {
	grants  map[string]identity.TokenGrant
	revoker Revoker
	opts    Options
	lim     *limiter
}

// New returns the token endpoint answering the given grants.
func New(opts Options, grants ...identity.TokenGrant) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = 10 * time.Second
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.Burst <= 0 {
		opts.Burst = 50
	}
	s := &Server{grants: make(map[string]identity.TokenGrant), opts: opts, lim: newLimiter(opts.Rate, opts.Burst)}
	for _, g := range grants {
		s.grants[g.GrantType()] = g
		if r, ok := g.(Revoker); ok && s.revoker == nil {
			s.revoker = r
		}
	}
	return s
}

// notes collect what a grant says about a request for its audit record.
type notes struct {
	mu        sync.Mutex
	principal string
	params    map[string]string
}

type notesKey struct{}

// Note adds a parameter to the audit record of the token request ctx belongs to (a
// token id, the policy that matched). Never a secret. Outside a token request it does
// nothing.
func Note(ctx context.Context, key, value string) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.mu.Lock()
		n.params[key] = value
		n.mu.Unlock()
	}
}

// NotePrincipal names the principal the token request is for in its audit record.
func NotePrincipal(ctx context.Context, name string) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.mu.Lock()
		n.principal = name
		n.mu.Unlock()
	}
}

func grantErr(status int, code, desc string) *identity.GrantError {
	return &identity.GrantError{Status: status, Code: code, Description: desc}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := catalog.RequestInfoFrom(r.Context())
	if info.SourceIP == "" {
		info.SourceIP = hostOf(r.RemoteAddr)
	}
	n := &notes{params: map[string]string{}}
	ctx := context.WithValue(r.Context(), notesKey{}, n)
	action, endpoint := catalog.ActionTokenCreate, TokenPath
	var resp *identity.TokenResponse
	var grantType string
	var err error
	if r.URL.Path == RevokePath {
		action, endpoint = catalog.ActionTokenDelete, RevokePath
		err = s.serveRevoke(ctx, w, r, info)
	} else {
		resp, grantType, err = s.serve(ctx, w, r, info)
	}
	status := http.StatusOK
	var ge *identity.GrantError
	if err != nil && !errors.As(err, &ge) {
		s.opts.Log.Error("token endpoint", "endpoint", endpoint, "request_id", info.RequestID, "grant_type", grantType, "err", err)
		ge = grantErr(http.StatusInternalServerError, "server_error", "the server could not answer the request")
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	var body any
	if resp != nil {
		body = resp
	}
	if ge != nil {
		status = ge.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		if status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		}
		if status == http.StatusTooManyRequests {
			h.Set("Retry-After", "1")
		}
		body = struct {
			Error       string `json:"error"`
			Description string `json:"error_description,omitempty"`
		}{ge.Code, ge.Description}
		if ge.Log != "" {
			s.opts.Log.Info("token request refused", "request_id", info.RequestID, "grant_type", grantType, "error", ge.Code, "description", ge.Description, "detail", ge.Log)
		}
	}
	// A revocation answers 200 with no body (RFC 7009 §2.2).
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}

	if s.opts.Audit == nil {
		return
	}
	n.mu.Lock()
	e := &catalog.AuditEvent{ActionName: action, Principal: n.principal, SourceIP: info.SourceIP, RequestID: info.RequestID,
		StatusCode: status, Params: n.params, Decision: catalog.DecisionAllow}
	n.mu.Unlock()
	e.Params["endpoint"] = endpoint
	if grantType != "" {
		e.Params["grant_type"] = grantType
	}
	if ge != nil {
		e.ErrorCode, e.Decision = ge.Code, catalog.DecisionDeny
		if ge.Description != "" {
			e.Params["error_description"] = ge.Description
		}
	}
	s.opts.Audit.Record(context.WithoutCancel(ctx), e)
}

// serve reads and dispatches one request; grantType is "" until it is known to be one
// the server answers.
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, info catalog.RequestInfo) (*identity.TokenResponse, string, error) {
	req, err := s.readRequest(w, r, info, "token")
	if err != nil {
		return nil, "", err
	}
	form := req.Form
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, "", grantErr(http.StatusBadRequest, "invalid_request", "grant_type is required")
	}
	g, ok := s.grants[gt]
	if !ok {
		return nil, "", grantErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type "+safeName(gt)+" is not supported")
	}
	resp, err := g.Exchange(ctx, req)
	if err != nil {
		return nil, gt, err
	}
	if resp == nil {
		return nil, gt, errors.New("grant answered neither a token nor an error")
	}
	return resp, gt, nil
}

// readRequest reads a request to the token or revocation endpoint (named by what): POST,
// within the rate limit, a bounded form body with each parameter at most once, and
// optional HTTP Basic credentials.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, info catalog.RequestInfo, what string) (identity.TokenRequest, error) {
	var req identity.TokenRequest
	if r.Method != http.MethodPost {
		return req, grantErr(http.StatusMethodNotAllowed, "invalid_request", "the "+what+" endpoint takes POST")
	}
	if !s.lim.allow(info.SourceIP, s.opts.Now()) {
		return req, grantErr(http.StatusTooManyRequests, "slow_down", "too many "+what+" requests from this address; retry in a second")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return req, grantErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if len(r.URL.RawQuery) > 0 {
		return req, grantErr(http.StatusBadRequest, "invalid_request", "parameters go in the body, not the query string")
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.BodyTimeout))
	raw, err := readBody(r, MaxFormBytes)
	if err != nil {
		return req, grantErr(http.StatusBadRequest, "invalid_request", err.Error())
	}
	form, err := url.ParseQuery(raw)
	if err != nil {
		return req, grantErr(http.StatusBadRequest, "invalid_request", "the body is not a valid form")
	}
	for k, v := range form {
		if len(v) > 1 {
			return req, grantErr(http.StatusBadRequest, "invalid_request", "parameter "+safeName(k)+" is given more than once")
		}
	}
	req = identity.TokenRequest{Form: form, SourceIP: info.SourceIP, RequestID: info.RequestID}
	if a := r.Header.Get("Authorization"); a != "" {
		id, secret, ok := basicAuth(a)
		if !ok {
			return req, grantErr(http.StatusUnauthorized, "invalid_client", "the Authorization header must be HTTP Basic with form-encoded client_id:client_secret")
		}
		req.BasicID, req.BasicSecret = id, secret
	}
	return req, nil
}

func readBody(r *http.Request, limit int64) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return "", errors.New("the body could not be read")
	}
	if int64(len(raw)) > limit {
		return "", errors.New("the body is larger than 64 KiB")
	}
	return string(raw), nil
}

// basicAuth reads HTTP Basic credentials; RFC 6749 §2.3.1 form-encodes both parts.
func basicAuth(h string) (string, string, bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	if err != nil {
		return "", "", false
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// safeName quotes a caller's parameter name or grant type for a description, cut short.
func safeName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
