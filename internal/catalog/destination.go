package catalog

import (
	"net"
	"net/url"
	"strings"
)

// Destination is where a connection sends its credentials, in canonical form: two
// option sets that name one destination in different spellings (a default port
// written out or left out, a port in host or in port, upper or lower case, a trailing
// dot, another form of one IP address, an auth header option left at its default)
// have equal Destinations. See DESIGN §1 "Secrets follow their destination".
type Destination struct {
	// Host is "scheme://host" and Port the effective port of the API.
	Host, Port string
	// TokenEndpoint and AuthorizationEndpoint are canonical URLs ("" when unset).
	TokenEndpoint, AuthorizationEndpoint string
	// HeaderName (lower case) and HeaderPrefix carry the credential.
	HeaderName, HeaderPrefix string
}

// DestinationOf returns the destination of a normalized option set (as ValidateOptions
// returns it and connections store it).
func DestinationOf(opts map[string]string) Destination {
	d := Destination{TokenEndpoint: canonicalURL(opts[OptTokenEndpoint]), AuthorizationEndpoint: canonicalURL(opts[OptAuthorizationEndpoint])}
	d.Host, d.Port = canonicalHostPort(opts[OptHost], opts[OptPort])
	d.HeaderName = strings.ToLower(opts[OptAuthHeaderName])
	if d.HeaderName == "" {
		d.HeaderName = strings.ToLower(DefaultAuthHeaderName)
	}
	// An option set to "" means no prefix; an absent one the default.
	d.HeaderPrefix = DefaultAuthHeaderPrefix
	if v, set := opts[OptAuthHeaderPrefix]; set {
		d.HeaderPrefix = v
	}
	return d
}

// canonicalHostPort returns the canonical "scheme://host" and the effective port (the
// scheme's default when none is given) of a host option and a port option.
func canonicalHostPort(host, port string) (string, string) {
	if host == "" {
		return "", port
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		// Not a URL ValidateOptions would have let through: compare it as it is.
		return strings.ToLower(host), port
	}
	scheme := strings.ToLower(u.Scheme)
	if p := u.Port(); p != "" {
		port = p
	}
	if port == "" {
		port = defaultPort(scheme)
	}
	return scheme + "://" + canonicalHost(u.Hostname()), strings.TrimLeft(port, "0")
}

// canonicalURL is the canonical form of an endpoint URL: lower-case scheme and host,
// the effective port written out, "/" for an empty path.
func canonicalURL(v string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return v
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	q := ""
	if u.RawQuery != "" || u.ForceQuery {
		q = "?" + u.RawQuery
	}
	return scheme + "://" + canonicalHost(u.Hostname()) + ":" + strings.TrimLeft(port, "0") + path + q
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// canonicalHost lower-cases a host name and drops its trailing dot; an IP address
// becomes its canonical text (an IPv4-mapped IPv6 address its IPv4 form).
func canonicalHost(h string) string {
	if ip := net.ParseIP(h); ip != nil {
		return "[" + ip.String() + "]"
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
