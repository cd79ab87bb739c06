// Package oauthtest runs a real, standards-compliant OAuth 2.0 authorization server
// for tests, built on ory/fosite: authorization code with PKCE (S256 required), client
// credentials, refresh tokens with rotation and reuse detection, introspection (RFC
// 7662), revocation (RFC 7009) and metadata (RFC 8414), over TLS on 127.0.0.1 with its
// own CA. It also provides an upstream API handler that accepts only the access
// tokens this server issued.
//
// Behaviour worth knowing:
//   - Client authentication follows each client's AuthMethod. A client_secret_basic
//     client that sends its secret only in the form, and a client_secret_post client
//     that sends it only in the Basic header, are refused with invalid_client (fosite
//     enforces both). A request that carries the same credentials in both places
//     (Gatehouse's header_and_body) is accepted, as most providers do, unless
//     Options.StrictClientAuth is set; fosite alone would refuse it.
//   - Refresh tokens are issued only when the granted scope includes offline_access.
//   - Every refresh rotates the refresh token and revokes the previous access token.
//     Reusing an old refresh token answers invalid_grant and revokes the whole family
//     (the current refresh token and access token included).
//   - The user of an authorization is the query parameter test_user of the
//     authorization request, which is auto-consented with every requested scope.
//     With Options.SignInPage, a request without it shows a sign-in page that asks
//     for it (for browser tests).
package oauthtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// Client authentication methods.
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
)

// Options configure a Server.
type Options struct {
	// AccessTokenLifespan defaults to one hour; tests use a few seconds.
	AccessTokenLifespan time.Duration
	// RefreshTokenLifespan defaults to 30 days; negative means never.
	RefreshTokenLifespan time.Duration
	// Clients are the registered clients.
	Clients []Client
	// StrictClientAuth refuses requests that authenticate both with the Basic header
	// and in the form (RFC 6749 §2.3: "MUST NOT use more than one authentication
	// method"), as some strict servers do.
	StrictClientAuth bool
	// NoMetadata makes the metadata endpoint answer 404, as servers that publish no
	// RFC 8414 or OpenID Connect metadata do.
	NoMetadata bool
	// SignInPage makes an authorization request without test_user show a sign-in
	// page (SignInPage) instead of answering login_required, for browser tests.
	SignInPage bool
}

// Client is a registered OAuth client.
type Client struct {
	ID, Secret string
	// AuthMethod is AuthBasic (the default) or AuthPost.
	AuthMethod string
	// GrantTypes default to authorization_code, refresh_token and client_credentials.
	GrantTypes []string
	// RedirectURIs are matched exactly.
	RedirectURIs []string
	// Scopes the client may request; default openid, offline_access, read, write.
	Scopes []string
}

// Server is a running authorization server.
type Server struct {
	// URL is the issuer, https://127.0.0.1:PORT.
	URL string
	// CAFile is the PEM file of the CA that signed the server's certificate.
	CAFile string
	// The endpoints.
	AuthorizeURL, TokenURL, IntrospectURL, RevokeURL, MetadataURL string

	t        testing.TB
	opts     Options
	provider fosite.OAuth2Provider
	store    *storage.MemoryStore
	clients  map[string]Client
	pool     *x509.CertPool
	cert     tls.Certificate
	addr     string
	handler  http.Handler
	metadata []byte

	// mu serializes every use of fosite and its store: the in-memory store's locking
	// is not race-free (RotateRefreshToken writes a map under another map's lock).
	mu sync.Mutex

	statsMu       sync.Mutex
	tokenRequests map[string]int
	invalidGrants int
	issued        []string
	resources     map[string][]string

	srvMu sync.Mutex
	srv   *http.Server

	hookMu    sync.Mutex
	forceFail func(form url.Values) bool
}

// New starts a server and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AccessTokenLifespan <= 0 {
		opts.AccessTokenLifespan = time.Hour
	}
	s := &Server{t: t, opts: opts, clients: make(map[string]Client), tokenRequests: make(map[string]int), resources: make(map[string][]string)}

	caPEM, cert, pool, err := newCertificates()
	if err != nil {
		t.Fatalf("oauthtest: certificates: %v", err)
	}
	s.cert, s.pool = cert, pool
	s.CAFile = filepath.Join(t.TempDir(), "oauthtest-ca.pem")
	if err := os.WriteFile(s.CAFile, caPEM, 0o600); err != nil {
		t.Fatalf("oauthtest: write CA file: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oauthtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.URL = "https://" + s.addr
	s.AuthorizeURL = s.URL + "/authorize"
	s.TokenURL = s.URL + "/token"
	s.IntrospectURL = s.URL + "/introspect"
	s.RevokeURL = s.URL + "/revoke"
	s.MetadataURL = s.URL + "/.well-known/oauth-authorization-server"

	secret := make([]byte, 32) // fosite's HMAC strategy needs exactly 32 bytes
	_, _ = rand.Read(secret)
	rtLifespan := opts.RefreshTokenLifespan
	if rtLifespan < 0 {
		rtLifespan = -1
	}
	cfg := &fosite.Config{
		AccessTokenLifespan:            opts.AccessTokenLifespan,
		RefreshTokenLifespan:           rtLifespan,
		AuthorizeCodeLifespan:          5 * time.Minute,
		GlobalSecret:                   secret,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		ClientSecretsHasher:            sha256Hasher{},
		TokenURL:                       s.TokenURL,
		AccessTokenIssuer:              s.URL,
	}
	s.store = storage.NewMemoryStore()
	scopes := map[string]bool{"offline_access": true}
	for _, c := range opts.Clients {
		if c.ID == "" || c.Secret == "" {
			t.Fatalf("oauthtest: client %q needs an ID and a secret", c.ID)
		}
		if c.AuthMethod == "" {
			c.AuthMethod = AuthBasic
		}
		if c.AuthMethod != AuthBasic && c.AuthMethod != AuthPost {
			t.Fatalf("oauthtest: client %q: AuthMethod %q is not %s or %s", c.ID, c.AuthMethod, AuthBasic, AuthPost)
		}
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
		}
		if len(c.Scopes) == 0 {
			c.Scopes = []string{"openid", "offline_access", "read", "write"}
		}
		for _, sc := range c.Scopes {
			scopes[sc] = true
		}
		hash, _ := sha256Hasher{}.Hash(context.Background(), []byte(c.Secret))
		s.store.Clients[c.ID] = &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{
				ID:            c.ID,
				Secret:        hash,
				RedirectURIs:  c.RedirectURIs,
				GrantTypes:    c.GrantTypes,
				ResponseTypes: []string{"code"},
				Scopes:        c.Scopes,
			},
			TokenEndpointAuthMethod: c.AuthMethod,
		}
		s.clients[c.ID] = c
	}
	s.provider = compose.Compose(cfg, s.store, compose.NewOAuth2HMACStrategy(cfg),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory, // after the authorize code handler, which it needs
	)

	var scopeList []string
	for sc := range scopes {
		scopeList = append(scopeList, sc)
	}
	slices.Sort(scopeList)
	s.metadata, _ = json.Marshal(map[string]any{
		"issuer":                                         s.URL,
		"authorization_endpoint":                         s.AuthorizeURL,
		"token_endpoint":                                 s.TokenURL,
		"revocation_endpoint":                            s.RevokeURL,
		"introspection_endpoint":                         s.IntrospectURL,
		"token_endpoint_auth_methods_supported":          []string{AuthBasic, AuthPost},
		"revocation_endpoint_auth_methods_supported":     []string{AuthBasic, AuthPost},
		"introspection_endpoint_auth_methods_supported":  []string{AuthBasic},
		"grant_types_supported":                          []string{"authorization_code", "client_credentials", "refresh_token"},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"code_challenge_methods_supported":               []string{"S256"},
		"scopes_supported":                               scopeList,
		"authorization_response_iss_parameter_supported": false,
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /introspect", s.introspect)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.NoMetadata {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.metadata)
	})
	s.handler = mux

	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the listener and every connection: calls fail to connect until Start.
func (s *Server) Stop() {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// Start listens again on the same address with the same certificate, so URLs and the
// CA file stay valid. Call it from the test's goroutine.
func (s *Server) Start() {
	s.t.Helper()
	s.srvMu.Lock()
	running := s.srv != nil
	s.srvMu.Unlock()
	if running {
		return
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("oauthtest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.srvMu.Lock()
	s.srv = srv
	s.srvMu.Unlock()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
}

// RootCAs is a pool with the server's CA.
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// Client is an HTTP client that trusts the server and never follows redirects.
func (s *Server) Client() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Authorize plays the browser: it opens authURL (an authorization request, such as
// the one Gatehouse redirects to) as user, and returns where the server redirects,
// normally the redirect URI with code and state, or with error and
// error_description.
func (s *Server) Authorize(authURL, user string) (*url.URL, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("test_user", user)
	u.RawQuery = q.Encode()
	hc := s.Client()
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(u.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, fmt.Errorf("authorization endpoint answered %d, not a redirect: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return url.Parse(resp.Header.Get("Location"))
}

// TokenRequests counts the /token requests with this grant_type.
func (s *Server) TokenRequests(grantType string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.tokenRequests[grantType]
}

// InvalidGrants counts the /token requests answered with invalid_grant.
func (s *Server) InvalidGrants() int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.invalidGrants
}

// RevokeUser withdraws user's consent: every authorization code, access token and
// refresh token issued for user is deleted, so the next refresh gets invalid_grant and
// introspection says inactive.
func (s *Server) RevokeUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Safe without the store's own locks: every use of the store holds s.mu.
	for sig, rt := range s.store.RefreshTokens {
		if subject(rt.Requester) == user {
			delete(s.store.RefreshTokens, sig)
		}
	}
	for sig, at := range s.store.AccessTokens {
		if subject(at) == user {
			delete(s.store.AccessTokens, sig)
		}
	}
	for sig, ac := range s.store.AuthorizeCodes {
		if subject(ac.Requester) == user {
			delete(s.store.AuthorizeCodes, sig)
		}
	}
}

func subject(r fosite.Requester) string {
	if r == nil || r.GetSession() == nil {
		return ""
	}
	return r.GetSession().GetSubject()
}

// Introspect says whether token is an active access token of this server and whose:
// the test_user for user tokens, the client ID for client_credentials tokens. It works
// while the server is stopped.
func (s *Server) Introspect(token string) (active bool, sub string) {
	if token == "" {
		return false, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	use, ar, err := s.provider.IntrospectToken(context.Background(), token, fosite.AccessToken, &fosite.DefaultSession{})
	if err != nil || use != fosite.AccessToken || ar == nil {
		return false, ""
	}
	sub = subject(ar)
	if sub == "" && ar.GetClient() != nil {
		sub = ar.GetClient().GetID()
	}
	return true, sub
}

// UpstreamHandler is an API that accepts only this server's active access tokens: it
// answers 200 {"sub": "..."} for a valid "Authorization: Bearer" token and 401
// otherwise.
func (s *Server) UpstreamHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		active, sub := false, ""
		if strings.EqualFold(scheme, "Bearer") {
			active, sub = s.Introspect(strings.TrimSpace(tok))
		}
		if !active {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_token"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": sub})
	})
}

// Resources returns the RFC 8707 resource parameters received, in order, by the
// authorization endpoint (kind "authorize") or by token requests of a grant type
// (kind "client_credentials", "authorization_code", "refresh_token"); a request
// without one records "". fosite ignores the parameter, as servers that do not
// implement RFC 8707 do.
func (s *Server) Resources(kind string) []string {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return append([]string(nil), s.resources[kind]...)
}

func (s *Server) recordResource(kind string, v url.Values) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.resources[kind] = append(s.resources[kind], strings.Join(v["resource"], " "))
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.recordResource("authorize", r.URL.Query())
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	user := r.URL.Query().Get("test_user")
	if user == "" && s.opts.SignInPage {
		SignInPage(w, r, "the test authorization server")
		return
	}
	if user == "" {
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired.WithHint("oauthtest: add the query parameter test_user to log in."))
		return
	}
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	for _, aud := range ar.GetRequestedAudience() {
		ar.GrantAudience(aud)
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: user, Username: user})
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.provider.WriteAccessError(ctx, w, nil, fosite.ErrInvalidRequest.WithHint("The body is not a form."))
		return
	}
	s.statsMu.Lock()
	s.tokenRequests[r.PostForm.Get("grant_type")]++
	s.statsMu.Unlock()
	s.recordResource(r.PostForm.Get("grant_type"), r.PostForm)
	if err := s.normalizeClientAuth(r); err != nil {
		s.provider.WriteAccessError(ctx, w, nil, err)
		return
	}
	s.hookMu.Lock()
	force := s.forceFail
	s.hookMu.Unlock()
	if force != nil && force(r.PostForm) {
		s.provider.WriteAccessError(ctx, w, nil, fosite.ErrInvalidGrant.WithHint("oauthtest: invalid_grant forced by the test."))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.provider.NewAccessRequest(ctx, r, &fosite.DefaultSession{})
	if err != nil {
		s.accessError(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
		for _, aud := range ar.GetRequestedAudience() {
			ar.GrantAudience(aud)
		}
		if sess, ok := ar.GetSession().(*fosite.DefaultSession); ok {
			sess.Subject = ar.GetClient().GetID()
		}
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.accessError(ctx, w, ar, err)
		return
	}
	s.statsMu.Lock()
	s.issued = append(s.issued, resp.GetAccessToken())
	if rt, ok := resp.ToMap()["refresh_token"].(string); ok && rt != "" {
		s.issued = append(s.issued, rt)
	}
	s.statsMu.Unlock()
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// ForceInvalidGrant makes the token endpoint answer invalid_grant, without looking at
// the grant or changing anything, to every request for which fn (called with the
// request's form, without the server's lock: it may call the server) returns true;
// nil stops it. Forced answers are not counted by InvalidGrants.
func (s *Server) ForceInvalidGrant(fn func(form url.Values) bool) {
	s.hookMu.Lock()
	s.forceFail = fn
	s.hookMu.Unlock()
}

// IssuedTokens returns every access and refresh token the server has issued, for
// tests that scan Gatehouse's output for them.
func (s *Server) IssuedTokens() []string {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return append([]string(nil), s.issued...)
}

func (s *Server) accessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	if fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidGrant.ErrorField {
		s.statsMu.Lock()
		s.invalidGrants++
		s.statsMu.Unlock()
	}
	s.provider.WriteAccessError(ctx, w, ar, err)
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()
	ir, err := s.provider.NewIntrospectionRequest(ctx, r, &fosite.DefaultSession{})
	if err != nil {
		s.provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	s.provider.WriteIntrospectionResponse(ctx, w, ir)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.provider.WriteRevocationResponse(ctx, w, fosite.ErrInvalidRequest)
		return
	}
	if err := s.normalizeClientAuth(r); err != nil {
		s.provider.WriteRevocationResponse(ctx, w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provider.WriteRevocationResponse(ctx, w, s.provider.NewRevocationRequest(ctx, r))
}

// normalizeClientAuth handles a request that carries the same client credentials in
// the Basic header and in the form. fosite refuses it for every client (it sees two
// methods); most real providers accept it, and it is Gatehouse's default, so unless
// StrictClientAuth is set the credentials of the method the client is not registered
// for are dropped before fosite sees the request. Requests with one method, or with
// two that disagree, go to fosite unchanged and it enforces the client's method.
func (s *Server) normalizeClientAuth(r *http.Request) error {
	id, secret, hasBasic := r.BasicAuth()
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if !hasBasic || formSecret == "" {
		return nil
	}
	if s.opts.StrictClientAuth {
		return fosite.ErrInvalidClient.WithHint("The client used more than one authentication method (HTTP Basic and the request body); use exactly one (RFC 6749 section 2.3).")
	}
	uid, err1 := url.QueryUnescape(id)
	usecret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || uid != formID || subtle.ConstantTimeCompare([]byte(usecret), []byte(formSecret)) != 1 {
		return nil
	}
	c, ok := s.clients[formID]
	if !ok {
		return nil
	}
	switch c.AuthMethod {
	case AuthBasic:
		r.PostForm.Del("client_secret")
		r.Form.Del("client_secret")
	case AuthPost:
		r.Header.Del("Authorization")
	}
	return nil
}

// sha256Hasher stores client secrets as SHA-256 digests: fosite's default bcrypt
// (cost 12) would cost a quarter second per token request.
type sha256Hasher struct{}

func (sha256Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return sum[:], nil
}

func (sha256Hasher) Compare(_ context.Context, hash, data []byte) error {
	sum := sha256.Sum256(data)
	if subtle.ConstantTimeCompare(hash, sum[:]) != 1 {
		return errors.New("client secret does not match")
	}
	return nil
}

// newCertificates makes a CA and a server certificate for 127.0.0.1, ::1 and
// localhost.
func newCertificates() (caPEM []byte, cert tls.Certificate, pool *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "oauthtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, cert, nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, cert, pool, nil
}

// RegisterRedirectURI adds a redirect URI to every client, as an admin would in the
// provider's console once the relying party's address is known.
func (s *Server) RegisterRedirectURI(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.store.Clients {
		if oc, ok := c.(*fosite.DefaultOpenIDConnectClient); ok {
			oc.RedirectURIs = append(oc.RedirectURIs, uri)
			s.store.Clients[id] = oc
		}
	}
}
