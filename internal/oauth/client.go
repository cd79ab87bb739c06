package oauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes caps every answer read from an OAuth endpoint.
const MaxResponseBytes = 1 << 20

// DefaultTimeout bounds one call to an OAuth endpoint when ClientOptions.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// ClientOptions configure a Client.
type ClientOptions struct {
	// RootCAs verifies servers; nil means the system roots.
	RootCAs *x509.CertPool
	// AllowHTTP accepts http:// endpoints (development only).
	AllowHTTP bool
	// Timeout bounds each call, answer included; 0 means DefaultTimeout.
	Timeout time.Duration
	// DialContext opens connections (the network policy's dialer); nil means a plain
	// net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for expiries and caches; nil means time.Now.
	Now func() time.Time
	// Log receives warnings about what the client refused to use (a metadata
	// endpoint on another host); nil means none are logged.
	Log *slog.Logger
}

// Client calls OAuth endpoints. It is safe for concurrent use.
type Client struct {
	hc        *http.Client
	allowHTTP bool
	now       func() time.Time
	log       *slog.Logger

	mu    sync.Mutex
	disco map[string]discoEntry
}

// NewClient returns a Client. It never follows redirects and never uses a proxy from
// the environment: where token requests may go is the network policy's decision,
// enforced by DialContext.
func NewClient(opts ClientOptions) *Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &Client{
		hc: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// Token endpoints must not redirect: following one would replay the client
			// secret and the grant to wherever the Location points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		allowHTTP: opts.AllowHTTP,
		now:       now,
		log:       opts.Log,
		disco:     make(map[string]discoEntry),
	}
}

// HTTPClient is the client's HTTP client: the network policy's dialer, no proxy from
// the environment, no redirects followed, bounded time. Single sign-on (webui) uses it
// for the identity provider's discovery, keys and token endpoint.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CloseIdleConnections closes idle connections to OAuth servers.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// ClientCredentials gets a token with the client_credentials grant (OAUTH_M2M).
func (c *Client) ClientCredentials(ctx context.Context, cfg Config) (*Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if cfg.Scope != "" {
		form.Set("scope", cfg.Scope)
	}
	return c.token(ctx, cfg, form)
}

// Exchange redeems an authorization code with its PKCE verifier. redirectURI must be
// the one sent in the authorization request.
func (c *Client) Exchange(ctx context.Context, cfg Config, code, redirectURI, codeVerifier string) (*Token, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if codeVerifier != "" {
		form.Set("code_verifier", codeVerifier)
	}
	return c.token(ctx, cfg, form, code, codeVerifier)
}

// Refresh uses a refresh token. When the answer carries no refresh_token, the returned
// Token.RefreshToken is "": the provider does not rotate, and the caller must keep the
// refresh token it has. When it carries one, the caller must persist it before using
// the new access token, since the old one may already be dead.
//
// The scope is not sent: RFC 6749 §6 keeps the originally granted scope, and asking
// for more than the user granted would fail.
func (c *Client) Refresh(ctx context.Context, cfg Config, refreshToken string) (*Token, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	return c.token(ctx, cfg, form, refreshToken)
}

// Revoke revokes token at revocationURL (RFC 7009) with the same client
// authentication as the token endpoint. tokenTypeHint is "access_token",
// "refresh_token" or "". A token the server does not know is not an error (RFC 7009
// answers 200).
func (c *Client) Revoke(ctx context.Context, cfg Config, revocationURL, token, tokenTypeHint string) error {
	const kind = "revocation endpoint"
	if revocationURL == "" {
		return &Error{Class: ClassMisconfigured, kind: kind, Detail: "the provider has no revocation endpoint"}
	}
	form := url.Values{"token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	r := NewRedactor(cfg, token)
	resp, body, e := c.post(ctx, kind, revocationURL, cfg, form, r)
	if e != nil {
		return e
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	return c.errorFromResponse(ctx, kind, revocationURL, cfg, resp, body, r)
}

// token posts a token request and reads the answer. secrets are values sent in the
// request (grant values) that must never be echoed in an error.
func (c *Client) token(ctx context.Context, cfg Config, form url.Values, secrets ...string) (*Token, error) {
	const kind = "token endpoint"
	if cfg.Resource != "" {
		form.Set("resource", cfg.Resource)
	}
	r := NewRedactor(cfg, secrets...)
	resp, body, e := c.post(ctx, kind, cfg.TokenURL, cfg, form, r)
	if e != nil {
		return nil, e
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		tok, perr := parseTokenResponse(body, resp.Header.Get("Content-Type"), c.now(), r)
		if perr != nil {
			perr.kind, perr.Endpoint, perr.Status = kind, cleanEndpoint(cfg.TokenURL), resp.StatusCode
			if perr.AboutClientAuth() {
				perr.Hint = c.methodHint(ctx, cfg)
			}
			return nil, r.scrub(perr)
		}
		return tok, nil
	}
	return nil, c.errorFromResponse(ctx, kind, cfg.TokenURL, cfg, resp, body, r)
}

// post sends an authenticated form POST and reads at most MaxResponseBytes of the
// answer. Redirects, oversized answers and transport failures are errors, redacted by
// r (the secrets of the call); any other status is the caller's to judge.
func (c *Client) post(ctx context.Context, kind, endpoint string, cfg Config, form url.Values, r *Redactor) (*http.Response, []byte, *Error) {
	base := func(class Class) *Error {
		return &Error{Class: class, kind: kind, Endpoint: cleanEndpoint(endpoint)}
	}
	if err := c.checkEndpoint(endpoint); err != nil {
		e := base(ClassMisconfigured)
		e.Detail = err.Error()
		return nil, nil, e
	}
	if !cfg.Method.Valid() {
		e := base(ClassMisconfigured)
		e.Detail = fmt.Sprintf("unknown oauth_credential_exchange_method %q", sanitizeCode(string(cfg.Method), nil))
		e.Hint = "use header_and_body, body_only or header_only"
		return nil, nil, e
	}
	header := make(http.Header)
	authenticate(cfg, form, header)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		e := base(ClassMisconfigured)
		e.Detail = "invalid URL"
		return nil, nil, e
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, body, e := c.do(req, kind, endpoint)
	if e != nil {
		return nil, nil, r.scrub(e)
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		e := base(ClassMisconfigured)
		e.Status = resp.StatusCode
		e.Detail = kind + "s must not redirect, so Gatehouse did not follow it"
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Host != "" {
			e.Detail += " to " + sanitizeCode(loc.Host, r)
		}
		e.Hint = "set the connection's endpoint to the URL the provider documents"
		return nil, nil, r.scrub(e)
	}
	return resp, body, nil
}

// do sends req and reads a capped body; transport failures are ClassDegraded.
func (c *Client) do(req *http.Request, kind, endpoint string) (*http.Response, []byte, *Error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		e := &Error{Class: ClassDegraded, kind: kind, Endpoint: cleanEndpoint(endpoint), Detail: "no answer", Err: err}
		if errors.As(err, new(x509.UnknownAuthorityError)) {
			e.Hint = "if its CA is a private one, give it to the server with --upstream-ca-file"
		}
		return nil, nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, nil, &Error{Class: ClassDegraded, kind: kind, Endpoint: cleanEndpoint(endpoint), Status: resp.StatusCode, Detail: "the answer broke off", Err: err}
	}
	if len(body) > MaxResponseBytes {
		class := ClassMisconfigured
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			class = ClassDegraded
		}
		return nil, nil, &Error{Class: class, kind: kind, Endpoint: cleanEndpoint(endpoint), Status: resp.StatusCode,
			Detail: fmt.Sprintf("with more than %d bytes, which Gatehouse does not read", MaxResponseBytes)}
	}
	return resp, body, nil
}

// errorFromResponse turns a non-2xx answer into an *Error, with the provider's OAuth
// error (code, description, error_uri) when the body has one, else a short excerpt of
// a plain-text or JSON body. Every piece of the answer passes r.
func (c *Client) errorFromResponse(ctx context.Context, kind, endpoint string, cfg Config, resp *http.Response, body []byte, r *Redactor) *Error {
	e := &Error{kind: kind, Endpoint: cleanEndpoint(endpoint), Status: resp.StatusCode}
	ct := resp.Header.Get("Content-Type")
	if f, ok := decodeFields(body, ct); ok {
		if code, _ := f["error"].(string); code != "" {
			e.Code = sanitizeCode(code, r)
			desc, _ := f["error_description"].(string)
			e.Description = sanitize(desc, r)
			uri, _ := f["error_uri"].(string)
			e.URI = sanitizeURI(uri, r)
		}
	}
	e.Class = classify(e.Code, resp.StatusCode)
	if e.Code == "" && e.Class == ClassMisconfigured {
		e.Detail = "without an OAuth error" + describeContentType(ct) + bodyExcerpt(body, ct, r)
		e.Hint = "check that the endpoint URL is the provider's " + kind
	}
	if e.AboutClientAuth() {
		e.Hint = c.methodHint(ctx, cfg)
	}
	if e.Code == "admin_policy_enforced" {
		e.Hint = "the identity provider's admin must allow this client ID"
	}
	return r.scrub(e)
}

// maxExcerpt bounds the excerpt of a non-OAuth error body in a message.
const maxExcerpt = 200

// bodyExcerpt quotes the start of a plain-text or JSON error body (`: "…"`), which
// often says what is wrong when a server does not speak OAuth errors; HTML pages and
// other types are not quoted. The whole body is redacted before it is cut, so that a
// cut cannot leave part of a secret.
func bodyExcerpt(body []byte, contentType string, r *Redactor) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "text/plain" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return ""
	}
	s := sanitize(string(body), r)
	if s == "" {
		return ""
	}
	if rs := []rune(s); len(rs) > maxExcerpt {
		s = string(rs[:maxExcerpt]) + "…"
	}
	// Quoting adds escapes, which could spell a secret that has them.
	return ": " + r.Redact(strconv.Quote(s))
}

// sanitizeURI keeps an error_uri only when it is an absolute http(s) URL of RFC 6749
// §5.2's alphabet (printable ASCII without space, '"' and '\\') and at most
// maxDescription bytes, and redacts it.
func sanitizeURI(s string, r *Redactor) string {
	if len(s) > maxDescription {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http") {
		return ""
	}
	return r.Redact(s)
}

// methodHint names the option to change when the server refused the client: the
// usual cause, besides a wrong secret, is a server that accepts only the other way of
// sending it. The metadata comes from Discover's cache or one discovery.
func (c *Client) methodHint(ctx context.Context, cfg Config) string {
	md, _ := c.Discover(ctx, cfg.TokenURL)
	return "if client_id and client_secret are right, " + methodAdvice(cfg, md)
}

// authenticate adds the client credentials by cfg.Method (RFC 6749 §2.3.1). In the
// Basic header, ID and secret are each form-encoded before joining with ':', so that
// a ':' or '%' in either survives.
func authenticate(cfg Config, form url.Values, header http.Header) {
	m := cfg.Method.effective()
	if m == ExchangeHeaderAndBody || m == ExchangeHeaderOnly {
		userpass := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(userpass)))
	}
	if m == ExchangeHeaderAndBody || m == ExchangeBodyOnly {
		form.Set("client_id", cfg.ClientID)
		form.Set("client_secret", cfg.ClientSecret)
	}
}

// checkEndpoint refuses anything but https (and http when allowed) before any
// request is made.
func (c *Client) checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("no endpoint URL is set")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return errors.New("the endpoint is not an absolute URL")
	}
	if u.User != nil {
		return errors.New("the endpoint URL must not contain user information")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if c.allowHTTP {
			return nil
		}
		return errors.New("http:// endpoints are refused; use https (http is accepted only with --insecure-http-upstreams, for development)")
	}
	return fmt.Errorf("scheme %q is refused; use https", sanitizeCode(u.Scheme, nil))
}

// cleanEndpoint drops query, fragment and user information from an endpoint URL.
func cleanEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = nil, "", "", "", false
	return u.String()
}

func endpointHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return sanitizeCode(u.Host, nil)
}
