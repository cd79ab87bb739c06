package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DiscoveryTTL is how long Discover remembers what it found (or that nothing exists).
const DiscoveryTTL = 5 * time.Minute

// maxDiscoveryPrefixes bounds the path prefixes Discover tries (two URLs each).
const maxDiscoveryPrefixes = 4

// Metadata is an authorization server's metadata (RFC 8414, or OpenID Connect
// Discovery 1.0, which shares these fields).
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	TokenEndpointAuthMethods                   []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypes                                 []string `json:"grant_types_supported"`
	ResponseTypes                              []string `json:"response_types_supported"`
	CodeChallengeMethods                       []string `json:"code_challenge_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`

	// URL is where the document was found.
	URL string `json:"-"`
	// OpenID is true when it was an OpenID Connect discovery document.
	OpenID bool `json:"-"`
	// Ignored lists the endpoints the document named on another origin than the
	// endpoint it was discovered for; Discover has blanked their fields.
	Ignored []IgnoredEndpoint `json:"-"`
}

// IgnoredEndpoint is an endpoint of a metadata document that Gatehouse does not use.
type IgnoredEndpoint struct {
	// Field is the metadata field ("revocation_endpoint").
	Field string
	// URL is the endpoint named, without query or fragment.
	URL string
	// Origin is the origin (scheme://host:port) it would have had to be on: that of
	// the configured endpoint the metadata was discovered for.
	Origin string
}

// confine blanks every endpoint of md that is not on the origin (scheme, host and
// port) of configured, the endpoint the metadata was discovered for, and lists it in
// md.Ignored. Gatehouse sends the client secret and tokens to the revocation (and any
// other) endpoint it takes from metadata; a document that names another host would
// otherwise send them there. The issuer check does not cover this: a document with
// the right issuer may still name any URL.
func confine(md *Metadata, configured *url.URL) {
	want := origin(configured)
	for _, f := range []struct {
		field string
		v     *string
	}{
		{"token_endpoint", &md.TokenEndpoint},
		{"revocation_endpoint", &md.RevocationEndpoint},
		{"introspection_endpoint", &md.IntrospectionEndpoint},
		{"authorization_endpoint", &md.AuthorizationEndpoint},
	} {
		if *f.v == "" {
			continue
		}
		u, err := url.Parse(*f.v)
		if err == nil && u.User == nil && u.Host != "" && origin(u) == want {
			continue
		}
		shown := cleanEndpoint(*f.v)
		if err != nil || u.Host == "" {
			shown = sanitizeCode(*f.v, nil)
		}
		// The URL is the server's text and goes to the log and the check: bounded.
		if len(shown) > maxShownEndpoint {
			shown = strings.ToValidUTF8(shown[:maxShownEndpoint], "") + "…"
		}
		md.Ignored = append(md.Ignored, IgnoredEndpoint{Field: f.field, URL: shown, Origin: want})
		*f.v = ""
	}
}

// maxShownEndpoint bounds an ignored endpoint's URL in logs and checks.
const maxShownEndpoint = 200

// origin is scheme://host:port of u, lower-case, with the scheme's default port
// written out so that https://a and https://a:443 are one origin.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

type discoEntry struct {
	md *Metadata
	at time.Time
}

// Discover finds the metadata of the authorization server that serves anyEndpoint (its
// token or authorization endpoint). It derives issuers from the URL — scheme://host
// and scheme://host plus each leading part of the path, longest first — and tries, for
// each, RFC 8414's /.well-known/oauth-authorization-server (inserted between host and
// path, §3.1) and OpenID Connect's /.well-known/openid-configuration (appended to the
// issuer). It returns nil, nil when none exists. Answers, including "none", are
// cached per anyEndpoint for DiscoveryTTL; failures (network, 5xx) are not.
//
// A document counts only if its issuer has the same scheme and host as anyEndpoint and
// it names a token or authorization endpoint: an HTML page served for every path is
// not metadata. Endpoints it names on another origin (scheme, host and port) than
// anyEndpoint are blanked and listed in Metadata.Ignored (see confine), so that no
// caller can send a secret where the document points: metadata is fetched without
// credentials and may be served by anyone who can answer on that host's well-known
// paths, while the configured endpoint is what the admin chose.
func (c *Client) Discover(ctx context.Context, anyEndpoint string) (*Metadata, error) {
	const kind = "discovery"
	now := c.now()
	c.mu.Lock()
	if e, ok := c.disco[anyEndpoint]; ok && now.Sub(e.at) < DiscoveryTTL && !now.Before(e.at) {
		c.mu.Unlock()
		return e.md, nil
	}
	c.mu.Unlock()

	if err := c.checkEndpoint(anyEndpoint); err != nil {
		return nil, &Error{Class: ClassMisconfigured, kind: kind, Endpoint: cleanEndpoint(anyEndpoint), Detail: err.Error()}
	}
	u, _ := url.Parse(anyEndpoint)
	var lastErr *Error
	for _, cand := range discoveryURLs(u) {
		md, e := c.fetchMetadata(ctx, cand.url, u)
		if e != nil {
			lastErr = e
			if e.Status == 0 {
				// No answer at all: the rest would fail the same way.
				break
			}
			continue
		}
		if md != nil {
			md.OpenID = cand.openID
			c.remember(anyEndpoint, md)
			return md, nil
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	c.remember(anyEndpoint, nil)
	return nil, nil
}

func (c *Client) remember(key string, md *Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	// Keep the cache bounded: drop what has expired once it grows.
	if len(c.disco) >= 1024 {
		for k, e := range c.disco {
			if now.Sub(e.at) >= DiscoveryTTL {
				delete(c.disco, k)
			}
		}
	}
	c.disco[key] = discoEntry{md: md, at: now}
}

type discoveryURL struct {
	url    string
	openID bool
}

// discoveryURLs lists the metadata URLs to try for an endpoint URL, most specific
// issuer first.
func discoveryURLs(u *url.URL) []discoveryURL {
	origin := strings.ToLower(u.Scheme) + "://" + u.Host
	var segs []string
	for _, s := range strings.Split(u.EscapedPath(), "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	// The last segment is the endpoint itself ("token", "authorize").
	var prefixes []string
	for i := len(segs) - 1; i >= 1 && len(prefixes) < maxDiscoveryPrefixes-1; i-- {
		prefixes = append(prefixes, "/"+strings.Join(segs[:i], "/"))
	}
	prefixes = append(prefixes, "")
	out := make([]discoveryURL, 0, 2*len(prefixes))
	for _, p := range prefixes {
		out = append(out,
			discoveryURL{url: origin + "/.well-known/oauth-authorization-server" + p},
			discoveryURL{url: origin + p + "/.well-known/openid-configuration", openID: true})
	}
	return out
}

// fetchMetadata GETs one candidate. nil, nil means "not here"; an error means the
// server could not answer (network failure, 5xx, 429).
func (c *Client) fetchMetadata(ctx context.Context, metadataURL string, endpoint *url.URL) (*Metadata, *Error) {
	const kind = "discovery"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return nil, nil
	}
	req.Header.Set("Accept", "application/json")
	resp, body, e := c.do(req, kind, metadataURL)
	if e != nil {
		if e.Status != 0 && e.Class != ClassDegraded {
			return nil, nil // oversized: not metadata
		}
		return nil, e
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, &Error{Class: ClassDegraded, kind: kind, Endpoint: cleanEndpoint(metadataURL), Status: resp.StatusCode}
	case resp.StatusCode != http.StatusOK:
		return nil, nil // 404 and friends, redirects (never followed)
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		// A field of the wrong type spoils only that field.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, nil
		}
	}
	if md.Issuer == "" || md.TokenEndpoint == "" && md.AuthorizationEndpoint == "" {
		return nil, nil
	}
	iss, err := url.Parse(md.Issuer)
	if err != nil || !strings.EqualFold(iss.Scheme, endpoint.Scheme) || !strings.EqualFold(iss.Host, endpoint.Host) {
		return nil, nil
	}
	md.URL = metadataURL
	confine(&md, endpoint)
	if c.log != nil {
		for _, ig := range md.Ignored {
			c.log.Warn("oauth metadata names an endpoint off the configured endpoint's origin; Gatehouse ignores it, since it would receive the client secret and tokens",
				"metadata", cleanEndpoint(metadataURL), "field", ig.Field, "endpoint", ig.URL, "origin", ig.Origin)
		}
	}
	return &md, nil
}

// ChooseMethod picks the exchange method from the server's metadata: exactly what it
// supports. Both client_secret_basic and client_secret_post (or neither listed, or no
// metadata) give ExchangeHeaderAndBody, Gatehouse's default even though
// RFC 8414's default is client_secret_basic; only basic gives ExchangeHeaderOnly; only
// post gives ExchangeBodyOnly.
func ChooseMethod(m *Metadata) ExchangeMethod {
	if m == nil {
		return ExchangeHeaderAndBody
	}
	basic := slices.Contains(m.TokenEndpointAuthMethods, "client_secret_basic")
	post := slices.Contains(m.TokenEndpointAuthMethods, "client_secret_post")
	switch {
	case basic && !post:
		return ExchangeHeaderOnly
	case post && !basic:
		return ExchangeBodyOnly
	}
	return ExchangeHeaderAndBody
}
