package governance

import (
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// DestinationOptions are the options that decide where a connection sends its
// credentials (DESIGN §1 "Secrets follow their destination"): the API's host and port,
// the OAuth endpoints, and the header that carries the credential. auth_header_name and
// auth_header_prefix are in the list because moving the credential into another header
// (one the upstream logs or echoes, say) is as good as sending it elsewhere.
var DestinationOptions = []string{
	catalog.OptHost, catalog.OptPort, catalog.OptTokenEndpoint, catalog.OptAuthorizationEndpoint,
	catalog.OptAuthHeaderName, catalog.OptAuthHeaderPrefix,
}

// SecretsOf lists the secret options of a credential type: the ones a destination change
// must supply again.
func SecretsOf(t catalog.CredentialType) []string {
	switch {
	case t == catalog.BearerToken:
		return []string{catalog.OptBearerToken}
	case t.IsOAuth():
		return []string{catalog.OptClientSecret}
	}
	return nil
}

// DestinationChanges returns, in name order, the destination options whose effective
// value differs between two option sets that catalog.ValidateOptions normalized. Two
// spellings of one destination are no change: a default port written out or left out,
// a port in host or in port, upper or lower case in scheme, host and header name, a
// trailing dot of a host name, an IPv6 address written in another form, and an absent
// auth header option against its default.
func DestinationChanges(old, next map[string]string) []string {
	var out []string
	// A port moved between host and port is the same destination: both are compared
	// in their effective form, and a change of either is named as such.
	oh, op := hostPort(old[catalog.OptHost], old[catalog.OptPort])
	nh, np := hostPort(next[catalog.OptHost], next[catalog.OptPort])
	if oh != nh {
		out = append(out, catalog.OptHost)
	}
	if op != np {
		out = append(out, catalog.OptPort)
	}
	for _, k := range []string{catalog.OptTokenEndpoint, catalog.OptAuthorizationEndpoint} {
		if endpointURL(old[k]) != endpointURL(next[k]) {
			out = append(out, k)
		}
	}
	if !strings.EqualFold(headerName(old), headerName(next)) {
		out = append(out, catalog.OptAuthHeaderName)
	}
	if headerPrefix(old) != headerPrefix(next) {
		out = append(out, catalog.OptAuthHeaderPrefix)
	}
	sort.Strings(out)
	return out
}

// hostPort returns the canonical "scheme://host" and the effective port (the
// scheme's default when none is given) of a host option and a port option.
func hostPort(host, port string) (string, string) {
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

// endpointURL is the canonical form of an endpoint URL: lower-case scheme and host,
// the effective port written out, "/" for an empty path.
func endpointURL(v string) string {
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

func headerName(opts map[string]string) string {
	if v := opts[catalog.OptAuthHeaderName]; v != "" {
		return v
	}
	return catalog.DefaultAuthHeaderName
}

// headerPrefix is the prefix the broker uses: an option set to "" means no prefix, an
// absent one the default.
func headerPrefix(opts map[string]string) string {
	if v, set := opts[catalog.OptAuthHeaderPrefix]; set {
		return v
	}
	return catalog.DefaultAuthHeaderPrefix
}
