package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Check is the result of one provider prerequisite.
type Check struct {
	Name string
	// Result is ResultPass, ResultFail or ResultUnknown.
	Result string
	// Evidence says what Gatehouse saw, in a short sentence; it never holds a secret.
	Evidence string
	// Fix says what to do when the result is not a pass.
	Fix string
}

// Check results.
const (
	ResultPass    = "pass"
	ResultFail    = "fail"
	ResultUnknown = "unknown"
)

// Check names: the six prerequisites of an OAuth
// connection (docs/providers.md), and the live client_credentials
// call of OAUTH_M2M connections.
const (
	CheckAuthorizationCode = "authorization code grant"
	CheckRefreshTokens     = "refresh tokens"
	CheckRedirectURI       = "custom redirect URI"
	CheckConfidential      = "confidential client"
	CheckTokenEndpoint     = "standard token endpoint"
	CheckHTTPS             = "HTTPS endpoints"
	CheckClientCredentials = "client credentials"
	// CheckMetadataEndpoints appears only when the server's metadata names an
	// endpoint on another origin than the configured one, which Gatehouse ignores.
	CheckMetadataEndpoints = "metadata endpoints"
)

const notNeededM2M = "Not needed: OAUTH_M2M connections use only the client_credentials grant."

// probe is what the token endpoint said to a request with an invalid authorization code.
type probe struct {
	status int    // HTTP status; 0 when e is set
	code   string // OAuth error code, "" if none
	err    *Error // transport failure, redirect or http endpoint
	text   string // a short description of the answer
	// mechanism: an invalid_request about the client authentication mechanism.
	mechanism bool
}

// CheckProvider tests the six prerequisites a provider must meet for Gatehouse
// (authorization code grant, refresh tokens, custom redirect URI, confidential client,
// standard token endpoint, HTTPS endpoints) from the server's metadata and one token
// request with an invalid authorization code, which a standard endpoint refuses with a
// JSON OAuth error. For OAUTH_M2M connections (m2m), the three prerequisites of the
// authorization code flow pass as not needed, and a live client_credentials call is
// added. redirectURI is the exact URI the provider must have registered.
func (c *Client) CheckProvider(ctx context.Context, cfg Config, redirectURI string, m2m bool) []Check {
	md, derr := c.Discover(ctx, cfg.TokenURL)
	if md == nil && derr == nil && cfg.AuthURL != "" {
		md, derr = c.Discover(ctx, cfg.AuthURL)
	}
	noMetadata := "The server publishes no RFC 8414 or OpenID Connect metadata, so Gatehouse cannot tell."
	if derr != nil {
		noMetadata = "Gatehouse could not read the server's metadata (" + derr.Error() + ")."
	}
	p := c.probe(ctx, cfg, redirectURI)

	var out []Check
	if m2m {
		out = append(out,
			Check{Name: CheckAuthorizationCode, Result: ResultPass, Evidence: notNeededM2M},
			Check{Name: CheckRefreshTokens, Result: ResultPass, Evidence: notNeededM2M},
			Check{Name: CheckRedirectURI, Result: ResultPass, Evidence: notNeededM2M})
	} else {
		out = append(out,
			checkAuthorizationCode(md, noMetadata, p),
			checkRefreshTokens(cfg, md, noMetadata),
			checkRedirectURI(cfg, redirectURI))
	}
	out = append(out,
		checkConfidential(cfg, md, noMetadata, p),
		checkTokenEndpoint(cfg, md, p),
		checkHTTPS(cfg, m2m))
	if m2m {
		out = append(out, c.checkClientCredentials(ctx, cfg, md))
	}
	if md != nil && len(md.Ignored) > 0 {
		out = append(out, checkMetadataEndpoints(md))
	}
	// Evidence quotes the server (its metadata, its answers): none of it may show the
	// client secret in any form Gatehouse sent it.
	r := NewRedactor(cfg)
	for i := range out {
		out[i].Evidence, out[i].Fix = r.Redact(out[i].Evidence), r.Redact(out[i].Fix)
	}
	return out
}

// probe posts an authorization_code grant with a code that cannot exist.
func (c *Client) probe(ctx context.Context, cfg Config, redirectURI string) probe {
	verifier, _ := NewPKCE()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {"gatehouse-check-" + randomString(16)},
		"code_verifier": {verifier},
	}
	if redirectURI != "" {
		form.Set("redirect_uri", redirectURI)
	}
	if cfg.Resource != "" {
		form.Set("resource", cfg.Resource)
	}
	resp, body, e := c.post(ctx, "token endpoint", cfg.TokenURL, cfg, form, NewRedactor(cfg, form.Get("code"), verifier))
	if e != nil {
		return probe{err: e, text: e.Error()}
	}
	p := probe{status: resp.StatusCode}
	if f, ok := decodeFields(body, resp.Header.Get("Content-Type")); ok {
		if code, _ := f["error"].(string); code != "" {
			p.code = sanitizeCode(code, NewRedactor(cfg))
			desc, _ := f["error_description"].(string)
			p.mechanism = p.code == "invalid_request" && aboutAuthMechanism(desc)
		}
	}
	switch {
	case p.code != "":
		p.text = fmt.Sprintf("%s (HTTP %d)", p.code, p.status)
	default:
		p.text = fmt.Sprintf("HTTP %d without an OAuth error%s", p.status, describeContentType(resp.Header.Get("Content-Type")))
	}
	return p
}

func checkAuthorizationCode(md *Metadata, noMetadata string, p probe) Check {
	ch := Check{Name: CheckAuthorizationCode}
	if p.code == "unauthorized_client" {
		ch.Result = ResultFail
		ch.Evidence = "The token endpoint refused an authorization code request with unauthorized_client: this client may not use the grant."
		ch.Fix = "Allow the authorization code grant for this client in the provider's settings."
		return ch
	}
	if md == nil {
		ch.Result = ResultUnknown
		ch.Evidence = noMetadata
		ch.Fix = "Confirm in the provider's documentation that this client may use the authorization code grant."
		return ch
	}
	var ev []string
	if len(md.GrantTypes) > 0 && !slices.Contains(md.GrantTypes, "authorization_code") {
		ch.Result = ResultFail
		ch.Evidence = "grant_types_supported lists " + list(md.GrantTypes) + ", without authorization_code."
		ch.Fix = "Use an OAUTH_M2M connection, or a provider that supports the authorization code grant."
		return ch
	}
	if len(md.ResponseTypes) > 0 && !slices.Contains(md.ResponseTypes, "code") {
		ch.Result = ResultFail
		ch.Evidence = "response_types_supported lists " + list(md.ResponseTypes) + ", without code."
		ch.Fix = "Use a provider that supports response_type=code."
		return ch
	}
	if len(md.GrantTypes) > 0 {
		ev = append(ev, "grant_types_supported lists authorization_code")
	} else {
		ev = append(ev, "grant_types_supported is not listed (the RFC 8414 default includes authorization_code)")
	}
	if len(md.ResponseTypes) > 0 {
		ev = append(ev, "response_types_supported lists code")
	}
	switch {
	case len(md.CodeChallengeMethods) == 0:
		ev = append(ev, "PKCE support is not listed (Gatehouse sends S256 anyway)")
	case !slices.Contains(md.CodeChallengeMethods, "S256"):
		ev = append(ev, "code_challenge_methods_supported lacks S256, which Gatehouse always sends")
	default:
		ev = append(ev, "PKCE S256 is supported")
	}
	ch.Result = ResultPass
	ch.Evidence = "Metadata: " + strings.Join(ev, "; ") + "."
	return ch
}

func checkRefreshTokens(cfg Config, md *Metadata, noMetadata string) Check {
	ch := Check{Name: CheckRefreshTokens}
	const fixNone = "Allow the refresh_token grant for this client; without refresh tokens each user must log in again whenever the access token expires."
	switch {
	case md == nil:
		ch.Result, ch.Evidence, ch.Fix = ResultUnknown, noMetadata, fixNone+" Some providers also need offline_access in oauth_scope."
	case len(md.GrantTypes) == 0:
		ch.Result = ResultUnknown
		ch.Evidence = "The server's metadata does not list grant_types_supported."
		ch.Fix = fixNone
	case !slices.Contains(md.GrantTypes, "refresh_token"):
		ch.Result = ResultFail
		ch.Evidence = "grant_types_supported lists " + list(md.GrantTypes) + ", without refresh_token."
		ch.Fix = fixNone
	case slices.Contains(md.ScopesSupported, "offline_access") && !slices.Contains(strings.Fields(cfg.Scope), "offline_access"):
		ch.Result = ResultFail
		ch.Evidence = "The server issues refresh tokens only for the offline_access scope, which oauth_scope lacks."
		ch.Fix = "Add offline_access to oauth_scope."
	default:
		ch.Result = ResultPass
		ch.Evidence = "grant_types_supported lists refresh_token."
		if slices.Contains(md.ScopesSupported, "offline_access") {
			ch.Evidence = "grant_types_supported lists refresh_token and oauth_scope asks for offline_access."
		}
	}
	return ch
}

func checkRedirectURI(cfg Config, redirectURI string) Check {
	ch := Check{Name: CheckRedirectURI, Result: ResultUnknown}
	if redirectURI == "" {
		ch.Result = ResultFail
		ch.Evidence = "Gatehouse has no public URL to build its redirect URI from."
		ch.Fix = "Start the server with its public URL (--public-url)."
		return ch
	}
	u, err := url.Parse(redirectURI)
	if err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		ch.Result = ResultFail
		ch.Evidence = "The redirect URI " + redirectURI + " uses http on a non-loopback host, which providers refuse."
		ch.Fix = "Serve Gatehouse over https and set its public URL to the https address."
		return ch
	}
	ch.Evidence = "Providers do not publish which redirect URIs a client has registered; Gatehouse uses exactly " + redirectURI + "."
	ch.Fix = fmt.Sprintf("Register exactly %s (no trailing slash) as a redirect URI of client %s.", redirectURI, sanitizeCode(cfg.ClientID, nil))
	return ch
}

func checkConfidential(cfg Config, md *Metadata, noMetadata string, p probe) Check {
	ch := Check{Name: CheckConfidential}
	if p.code == "invalid_client" || p.code == "" && p.status == http.StatusUnauthorized || p.mechanism {
		ch.Result = ResultFail
		ch.Evidence = "The token endpoint refused the client ID and secret (" + p.text + ")."
		ch.Fix = "Check client_id and client_secret; if they are right, " + methodAdvice(cfg, md) + "."
		return ch
	}
	if md != nil && len(md.TokenEndpointAuthMethods) > 0 {
		basic := slices.Contains(md.TokenEndpointAuthMethods, "client_secret_basic")
		post := slices.Contains(md.TokenEndpointAuthMethods, "client_secret_post")
		if !basic && !post {
			ch.Result = ResultFail
			ch.Evidence = "token_endpoint_auth_methods_supported lists " + list(md.TokenEndpointAuthMethods) + "; Gatehouse authenticates with a client secret (client_secret_basic or client_secret_post)."
			ch.Fix = "Create a confidential client with a client secret at the provider."
			return ch
		}
		m := cfg.Method.effective()
		if m == ExchangeHeaderOnly && !basic || m == ExchangeBodyOnly && !post {
			ch.Result = ResultFail
			ch.Evidence = fmt.Sprintf("oauth_credential_exchange_method is %s, but the server lists %s.", m, list(md.TokenEndpointAuthMethods))
			ch.Fix = fmt.Sprintf("Set oauth_credential_exchange_method to %s.", ChooseMethod(md))
			return ch
		}
		ch.Result = ResultPass
		ch.Evidence = fmt.Sprintf("token_endpoint_auth_methods_supported lists %s; Gatehouse sends the secret with %s.", list(md.TokenEndpointAuthMethods), m)
		return ch
	}
	if p.code != "" {
		ch.Result = ResultPass
		ch.Evidence = "The token endpoint answered a test request with " + p.text + ", not invalid_client, so it accepted the client ID and secret."
		return ch
	}
	ch.Result = ResultUnknown
	ch.Evidence = noMetadata
	ch.Fix = "Confirm that the client is confidential (has a client secret) at the provider."
	return ch
}

func checkTokenEndpoint(cfg Config, md *Metadata, p probe) Check {
	ch := Check{Name: CheckTokenEndpoint}
	if md != nil && md.TokenEndpoint != "" && !sameURL(md.TokenEndpoint, cfg.TokenURL) {
		ch.Result = ResultFail
		ch.Evidence = fmt.Sprintf("The server's metadata names the token endpoint %s, but the connection has %s.", cleanEndpoint(md.TokenEndpoint), cleanEndpoint(cfg.TokenURL))
		ch.Fix = "Set token_endpoint to " + cleanEndpoint(md.TokenEndpoint) + "."
		return ch
	}
	meta := ""
	if md != nil && md.TokenEndpoint != "" {
		meta = " It matches the server's metadata."
	}
	switch {
	case p.err != nil && p.err.Class == ClassDegraded:
		ch.Result = ResultUnknown
		ch.Evidence = "The token endpoint could not be reached: " + p.text + "."
		ch.Fix = "Try again later; check that Gatehouse can reach the host (network policy)."
	case p.err != nil:
		ch.Result = ResultFail
		ch.Evidence = p.text + "."
		ch.Fix = "Set token_endpoint to the provider's documented token endpoint URL."
	case p.status >= 200 && p.status <= 299:
		ch.Result = ResultFail
		ch.Evidence = fmt.Sprintf("The endpoint answered %d to a token request with an invalid code.", p.status)
		ch.Fix = "Set token_endpoint to the provider's documented token endpoint URL."
	case p.status == http.StatusTooManyRequests || p.status >= 500:
		ch.Result = ResultUnknown
		ch.Evidence = "The token endpoint answered a test request with " + p.text + "."
		ch.Fix = "Try again later."
	case p.code != "":
		ch.Result = ResultPass
		ch.Evidence = "A test request with an invalid code got the standard OAuth error " + p.text + "." + meta
	default:
		ch.Result = ResultFail
		ch.Evidence = "A test request with an invalid code got " + p.text + "."
		ch.Fix = "Set token_endpoint to the provider's documented token endpoint URL."
	}
	return ch
}

// checkMetadataEndpoints names each endpoint of the metadata that Discover ignored
// because it is not on the origin of the configured endpoint.
func checkMetadataEndpoints(md *Metadata) Check {
	var ev []string
	for _, ig := range md.Ignored {
		ev = append(ev, fmt.Sprintf("%s %s is not on %s", ig.Field, ig.URL, ig.Origin))
	}
	return Check{
		Name:   CheckMetadataEndpoints,
		Result: ResultFail,
		Evidence: "The server's metadata (" + cleanEndpoint(md.URL) + ") names endpoints on another origin than the configured endpoint: " +
			strings.Join(ev, "; ") + ". Gatehouse ignores them: it would send them the client secret and tokens.",
		Fix: "Nothing is sent there. If the provider really serves these endpoints on another host, Gatehouse does without them " +
			"(a revocation endpoint elsewhere means tokens are not revoked at the provider on disconnect); " +
			"otherwise the provider's metadata is wrong or was tampered with: tell the provider's admin.",
	}
}

func checkHTTPS(cfg Config, m2m bool) Check {
	ch := Check{Name: CheckHTTPS}
	urls := []string{cfg.TokenURL}
	if !m2m || cfg.AuthURL != "" {
		urls = append(urls, cfg.AuthURL)
	}
	var bad []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" {
			bad = append(bad, fmt.Sprintf("%q", cleanEndpoint(s)))
		}
	}
	if len(bad) > 0 {
		ch.Result = ResultFail
		ch.Evidence = "Not https: " + strings.Join(bad, ", ") + "."
		ch.Fix = "Use the provider's https endpoints; http is for local development only."
		return ch
	}
	ch.Result = ResultPass
	if len(urls) == 1 {
		ch.Evidence = "The token endpoint uses https."
	} else {
		ch.Evidence = "The token and authorization endpoints use https."
	}
	return ch
}

func (c *Client) checkClientCredentials(ctx context.Context, cfg Config, md *Metadata) Check {
	ch := Check{Name: CheckClientCredentials}
	tok, err := c.ClientCredentials(ctx, cfg)
	if err != nil {
		ch.Result = ResultFail
		var e *Error
		if !errors.As(err, &e) {
			ch.Evidence = "The client_credentials request failed."
			return ch
		}
		ch.Evidence = string(e.State()) + ": " + e.Error() + "."
		switch {
		case e.Class == ClassDegraded:
			ch.Fix = "Try again later; check that Gatehouse can reach the token endpoint."
		case e.MethodMayBeWrong():
			ch.Fix = "Check client_id and client_secret; if they are right, " + methodAdvice(cfg, md) + "."
		case e.Code == "unauthorized_client" || e.Code == "unsupported_grant_type":
			ch.Fix = "Allow the client_credentials grant for this client in the provider's settings."
		case e.Code == "invalid_scope":
			ch.Fix = "Change oauth_scope to scopes this client may request."
		default:
			ch.Fix = "Fix the connection's settings as the error says."
		}
		return ch
	}
	ch.Result = ResultPass
	if tok.Expiry.IsZero() {
		ch.Evidence = "Got an access token; the server gave no expiry."
	} else {
		ch.Evidence = fmt.Sprintf("Got an access token that expires at %s (in %s).",
			tok.Expiry.UTC().Format(time.RFC3339), tok.Expiry.Sub(c.now()).Round(time.Second))
	}
	return ch
}

// methodAdvice names the option oauth_credential_exchange_method, the method
// Gatehouse used and the methods the provider's metadata lists (in the provider's and
// in Gatehouse's names), or says that the provider publishes no metadata and which
// methods are left to try. It is the one wording of every refusal about client
// authentication (see Error.AboutClientAuth).
func methodAdvice(cfg Config, md *Metadata) string {
	now := cfg.Method.effective()
	s := "check oauth_credential_exchange_method: Gatehouse sent " + string(now)
	switch {
	case md != nil && len(md.TokenEndpointAuthMethods) > 0:
		s += "; the provider's metadata lists " + listMethods(md.TokenEndpointAuthMethods)
		if want := ChooseMethod(md); want != now {
			s += "; " + string(want) + " matches that"
		}
		return s
	case md != nil:
		s += "; the provider's metadata lists no token_endpoint_auth_methods_supported"
	default:
		s += "; the provider publishes no metadata"
	}
	var others []string
	for _, m := range []ExchangeMethod{ExchangeHeaderAndBody, ExchangeBodyOnly, ExchangeHeaderOnly} {
		if m != now {
			others = append(others, string(m))
		}
	}
	return s + fmt.Sprintf(", so try %s or %s", others[0], others[1])
}

// listMethods lists token_endpoint_auth_methods_supported with Gatehouse's name of
// each method it can use: "client_secret_basic (header_only), private_key_jwt".
func listMethods(methods []string) string {
	out := make([]string, 0, len(methods))
	for i, m := range methods {
		if i == 8 {
			out = append(out, "…")
			break
		}
		m = sanitizeCode(m, nil)
		switch m {
		case "client_secret_basic":
			m += " (" + string(ExchangeHeaderOnly) + ")"
		case "client_secret_post":
			m += " (" + string(ExchangeBodyOnly) + ")"
		}
		out = append(out, m)
	}
	return strings.Join(out, ", ")
}

func list(s []string) string { return sanitizeCode(strings.Join(s, ", "), nil) }

// sameURL compares endpoint URLs ignoring the case of scheme and host, a default
// port and a trailing slash.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	norm := func(u *url.URL) string {
		host := strings.ToLower(u.Host)
		scheme := strings.ToLower(u.Scheme)
		if scheme == "https" {
			host = strings.TrimSuffix(host, ":443")
		} else if scheme == "http" {
			host = strings.TrimSuffix(host, ":80")
		}
		return scheme + "://" + host + strings.TrimSuffix(u.EscapedPath(), "/") + "?" + u.RawQuery
	}
	return norm(ua) == norm(ub)
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
