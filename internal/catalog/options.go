package catalog

import (
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// CredentialType is one of the four auth methods of a connection.
type CredentialType string

// The credential types.
const (
	BearerToken     CredentialType = "BEARER_TOKEN"
	OAuthM2M        CredentialType = "OAUTH_M2M"
	OAuthU2M        CredentialType = "OAUTH_U2M"
	OAuthU2MPerUser CredentialType = "OAUTH_U2M_PER_USER"
)

// Valid reports whether t is a known credential type.
func (t CredentialType) Valid() bool {
	switch t {
	case BearerToken, OAuthM2M, OAuthU2M, OAuthU2MPerUser:
		return true
	}
	return false
}

// IsOAuth reports whether t is one of the OAuth types.
func (t CredentialType) IsOAuth() bool { return t == OAuthM2M || t == OAuthU2M || t == OAuthU2MPerUser }

// Option names.
const (
	OptHost                   = "host"
	OptPort                   = "port"
	OptBasePath               = "base_path"
	OptIsMCP                  = "is_mcp_connection"
	OptMCPAllowedTools        = "mcp_allowed_tools"
	OptAuthHeaderName         = "auth_header_name"
	OptAuthHeaderPrefix       = "auth_header_prefix"
	OptBearerToken            = "bearer_token"
	OptClientID               = "client_id"
	OptClientSecret           = "client_secret"
	OptTokenEndpoint          = "token_endpoint"
	OptAuthorizationEndpoint  = "authorization_endpoint"
	OptOAuthScope             = "oauth_scope"
	OptOAuthResource          = "oauth_resource"
	OptCredentialExchange     = "oauth_credential_exchange_method"
	OptOAuthSendResource      = "oauth_send_resource"
	DefaultAuthHeaderName     = "Authorization"
	DefaultAuthHeaderPrefix   = "Bearer "
	maxOptionValueLen         = 4096
	maxConnectionNameLen      = 255
	maxCommentLen             = 1024
	ExchangeHeaderAndBody     = "header_and_body"
	ExchangeBodyOnly          = "body_only"
	ExchangeHeaderOnly        = "header_only"
	connectionTypeHTTP        = "HTTP"
	optionValueTrue           = "true"
	optionValueFalse          = "false"
	errUnknownCredentialTypes = "BEARER_TOKEN, OAUTH_M2M, OAUTH_U2M, OAUTH_U2M_PER_USER"
)

// ConnectionTypeHTTP is the only connection type.
const ConnectionTypeHTTP = connectionTypeHTTP

// SecretOptions are the options that are sealed at rest and never returned.
var SecretOptions = map[string]bool{OptBearerToken: true, OptClientSecret: true}

// CheckPlainOption refuses a secret option name where only plain (stored in clear,
// returned by the API) options may be written, as the stores' SetConnectionOption does.
func CheckPlainOption(key string) error {
	if SecretOptions[key] {
		return Errorf(InvalidParameterValue, "options.%s is sealed at rest and cannot be set as a plain option", key)
	}
	return nil
}

var common = []string{OptHost, OptPort, OptBasePath, OptIsMCP, OptMCPAllowedTools, OptMCPPinTools, OptAuthHeaderName, OptAuthHeaderPrefix}
var oauthCommon = []string{OptClientID, OptClientSecret, OptTokenEndpoint, OptOAuthScope, OptOAuthResource, OptCredentialExchange, OptOAuthSendResource}

// allowedOptions lists, per credential type, every option it accepts; required lists
// those it needs.
var (
	allowedOptions = map[CredentialType][]string{
		BearerToken:     append(append([]string{}, common...), OptBearerToken),
		OAuthM2M:        append(append([]string{}, common...), oauthCommon...),
		OAuthU2M:        append(append(append([]string{}, common...), oauthCommon...), OptAuthorizationEndpoint),
		OAuthU2MPerUser: append(append(append([]string{}, common...), oauthCommon...), OptAuthorizationEndpoint),
	}
	requiredOptions = map[CredentialType][]string{
		BearerToken:     {OptHost, OptBearerToken},
		OAuthM2M:        {OptHost, OptClientID, OptClientSecret, OptTokenEndpoint},
		OAuthU2M:        {OptHost, OptClientID, OptClientSecret, OptTokenEndpoint, OptAuthorizationEndpoint},
		OAuthU2MPerUser: {OptHost, OptClientID, OptClientSecret, OptTokenEndpoint, OptAuthorizationEndpoint},
	}
)

// ValidationPolicy holds deployment settings that change what options are accepted.
type ValidationPolicy struct {
	// AllowHTTP accepts http:// hosts and endpoints (development only).
	AllowHTTP bool
}

var connectionNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]*$`)

// NormalizeConnectionName lower-cases name and checks it: letters, digits, '_' and '-',
// not starting with '-', at most 255 characters. Names are case-insensitive.
func NormalizeConnectionName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return "", Errorf(InvalidParameterValue, "name: must not be empty")
	}
	if len(n) > maxConnectionNameLen {
		return "", Errorf(InvalidParameterValue, "name: must be at most %d characters", maxConnectionNameLen)
	}
	if !connectionNameRE.MatchString(n) {
		return "", Errorf(InvalidParameterValue, "name %q: use only letters, digits, '_' and '-', not starting with '-'", truncate(name, 64))
	}
	return n, nil
}

// ValidateComment checks a connection comment.
func ValidateComment(c string) error {
	if len(c) > maxCommentLen {
		return Errorf(InvalidParameterValue, "comment: must be at most %d characters", maxCommentLen)
	}
	if hasControl(c, true) {
		return Errorf(InvalidParameterValue, "comment: must not contain control characters")
	}
	return nil
}

// InferCredentialType picks the credential type from the options when it was not given:
// bearer_token means BEARER_TOKEN; token_endpoint without authorization_endpoint means
// OAUTH_M2M. With an authorization_endpoint the caller must choose.
func InferCredentialType(opts map[string]string) (CredentialType, error) {
	_, hasBearer := opts[OptBearerToken]
	_, hasToken := opts[OptTokenEndpoint]
	_, hasAuthz := opts[OptAuthorizationEndpoint]
	switch {
	case hasAuthz:
		return "", Errorf(InvalidParameterValue, "credential_type is required when authorization_endpoint is set: choose OAUTH_U2M (one user's token serves every grantee) or OAUTH_U2M_PER_USER (each user's own token)")
	case hasBearer && !hasToken:
		return BearerToken, nil
	case hasToken && !hasBearer:
		return OAuthM2M, nil
	}
	return "", Errorf(InvalidParameterValue, "credential_type is required: one of %s", errUnknownCredentialTypes)
}

// CheckOptionNames refuses an option name that no credential type accepts, naming the
// closest valid one ("did you mean host?"). Creation runs it before the credential type
// is inferred from the options, so that a typo (hots=...) is reported as itself rather
// than as a missing credential_type. Names are checked in order, for a stable answer.
func CheckOptionNames(opts map[string]string) error {
	known := map[string]bool{}
	var all []string
	for _, t := range []CredentialType{BearerToken, OAuthM2M, OAuthU2M, OAuthU2MPerUser} {
		for _, k := range allowedOptions[t] {
			if !known[k] {
				known[k] = true
				all = append(all, k)
			}
		}
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	return Errorf(InvalidParameterValue, "options.%s: not an option of any credential type%s (options: %s)",
		truncate(keys[0], 64), DidYouMean(keys[0], all), strings.Join(sorted(all), ", "))
}

// ParseCredentialType checks a credential type given by a caller.
func ParseCredentialType(s string) (CredentialType, error) {
	t := CredentialType(strings.ToUpper(strings.TrimSpace(s)))
	if !t.Valid() {
		return "", Errorf(InvalidParameterValue, "credential_type %q: must be one of %s", truncate(s, 64), errUnknownCredentialTypes)
	}
	return t, nil
}

// ValidateOptions checks every option for the credential type and returns the
// normalized set (secrets included; the caller seals and removes them). The error names
// the first offending field and what is wrong with it; fields are checked in name order
// so the answer is stable.
func ValidateOptions(t CredentialType, opts map[string]string, pol ValidationPolicy) (map[string]string, error) {
	allowed, ok := allowedOptions[t]
	if !ok {
		return nil, Errorf(InvalidParameterValue, "credential_type %q: must be one of %s", truncate(string(t), 64), errUnknownCredentialTypes)
	}
	allowedSet := make(map[string]bool, len(allowed))
	for _, k := range allowed {
		allowedSet[k] = true
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(opts)+2)
	for _, k := range keys {
		v := opts[k]
		if !allowedSet[k] {
			return nil, Errorf(InvalidParameterValue, "options.%s: not an option of credential type %s%s (allowed: %s)", truncate(k, 64), t, DidYouMean(k, allowed), strings.Join(sorted(allowed), ", "))
		}
		if len(v) > maxOptionValueLen {
			return nil, Errorf(InvalidParameterValue, "options.%s: must be at most %d characters", k, maxOptionValueLen)
		}
		nv, err := validateOption(k, v, pol)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	for _, k := range requiredOptions[t] {
		if out[k] == "" {
			return nil, Errorf(InvalidParameterValue, "options.%s: required for credential type %s", k, t)
		}
	}
	// A port inside host moves to the port option; both given must agree.
	if h, p, ok := splitHostPort(out[OptHost]); ok {
		if out[OptPort] != "" && out[OptPort] != p {
			return nil, Errorf(InvalidParameterValue, "options.port: %s disagrees with the port %s in options.host", out[OptPort], p)
		}
		out[OptHost], out[OptPort] = h, p
	}
	if out[OptIsMCP] == "" {
		out[OptIsMCP] = optionValueFalse
	}
	return out, nil
}

func validateOption(k, v string, pol ValidationPolicy) (string, error) {
	switch k {
	case OptHost:
		return normalizeHost(v, pol)
	case OptPort:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != v {
			return "", Errorf(InvalidParameterValue, "options.port: must be a number from 1 to 65535")
		}
		return v, nil
	case OptBasePath:
		return normalizeBasePath(v)
	case OptIsMCP, OptOAuthSendResource, OptMCPPinTools:
		lv := strings.ToLower(v)
		if lv != optionValueTrue && lv != optionValueFalse {
			return "", Errorf(InvalidParameterValue, "options.%s: must be \"true\" or \"false\"", k)
		}
		return lv, nil
	case OptMCPAllowedTools:
		// Checked with the very parser the MCP proxy uses, so that a stored list always
		// parses there; the value is kept as written.
		if _, err := ParseMCPAllowList(v); err != nil {
			return "", Errorf(InvalidParameterValue, "options.%s: %s", k, strings.TrimPrefix(err.Error(), "mcp_allowed_tools "))
		}
		return v, nil
	case OptAuthHeaderName:
		if !isToken(v) {
			return "", Errorf(InvalidParameterValue, "options.auth_header_name: must be a valid HTTP header name")
		}
		switch strings.ToLower(v) {
		case "host", "connection", "content-length", "transfer-encoding", "te", "upgrade", "trailer",
			"keep-alive", "proxy-connection", "proxy-authorization", "cookie":
			return "", Errorf(InvalidParameterValue, "options.auth_header_name: %s cannot carry a credential", v)
		}
		if strings.HasPrefix(strings.ToLower(v), "x-gatehouse-") {
			return "", Errorf(InvalidParameterValue, "options.auth_header_name: X-Gatehouse-* headers are reserved")
		}
		return v, nil
	case OptAuthHeaderPrefix:
		if hasControl(v, false) {
			return "", Errorf(InvalidParameterValue, "options.auth_header_prefix: must not contain control characters")
		}
		return v, nil
	case OptBearerToken, OptClientSecret:
		// Say what is wrong without echoing any of the value.
		if v == "" {
			return "", Errorf(InvalidParameterValue, "options.%s: must not be empty", k)
		}
		if hasControl(v, false) {
			return "", Errorf(InvalidParameterValue, "options.%s: must not contain control characters or line breaks", k)
		}
		return v, nil
	case OptClientID, OptOAuthScope:
		if v == "" && k == OptClientID {
			return "", Errorf(InvalidParameterValue, "options.client_id: must not be empty")
		}
		if hasControl(v, false) {
			return "", Errorf(InvalidParameterValue, "options.%s: must not contain control characters", k)
		}
		return v, nil
	case OptTokenEndpoint, OptAuthorizationEndpoint:
		return normalizeEndpoint(k, v, pol)
	case OptOAuthResource:
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || u.Fragment != "" || hasControl(v, false) {
			return "", Errorf(InvalidParameterValue, "options.oauth_resource: must be an absolute URI without a fragment (RFC 8707)")
		}
		return v, nil
	case OptCredentialExchange:
		switch v {
		case ExchangeHeaderAndBody, ExchangeBodyOnly, ExchangeHeaderOnly:
			return v, nil
		}
		return "", Errorf(InvalidParameterValue, "options.oauth_credential_exchange_method: must be one of header_and_body, body_only, header_only")
	}
	return v, nil
}

// normalizeHost accepts "https://Api.Example.com[:port][/]" and returns the scheme and
// host in lower case with no path. Paths, queries, fragments and userinfo are refused:
// a base path belongs in base_path, and credentials never ride in a URL.
func normalizeHost(v string, pol ValidationPolicy) (string, error) {
	const f = "options.host"
	u, err := parseHTTPURL(f, v, pol)
	if err != nil {
		return "", err
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery {
		return "", Errorf(InvalidParameterValue, "%s: must be a scheme and host only, like https://api.example.com; put a path in base_path", f)
	}
	return u.Scheme + "://" + u.Host, nil
}

func normalizeEndpoint(f, v string, pol ValidationPolicy) (string, error) {
	u, err := parseHTTPURL("options."+f, v, pol)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// parseHTTPURL parses an absolute http(s) URL with a valid host and no userinfo or
// fragment, lower-casing the scheme and host.
func parseHTTPURL(f, v string, pol ValidationPolicy) (*url.URL, error) {
	if hasControl(v, false) || strings.ContainsAny(v, " \\") {
		return nil, Errorf(InvalidParameterValue, "%s: must be a URL without spaces, backslashes or control characters", f)
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return nil, Errorf(InvalidParameterValue, "%s: must be an absolute URL like https://api.example.com", f)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && pol.AllowHTTP:
	case u.Scheme == "http":
		return nil, Errorf(InvalidParameterValue, "%s: must use https (http is accepted only with --insecure-http-upstreams, for development)", f)
	default:
		return nil, Errorf(InvalidParameterValue, "%s: scheme %q is not allowed; use https", f, truncate(u.Scheme, 16))
	}
	if u.User != nil {
		return nil, Errorf(InvalidParameterValue, "%s: must not contain user information (user:password@); credentials belong in the credential options", f)
	}
	if u.Fragment != "" || strings.Contains(v, "#") {
		return nil, Errorf(InvalidParameterValue, "%s: must not contain a fragment", f)
	}
	host := u.Hostname()
	if host == "" {
		return nil, Errorf(InvalidParameterValue, "%s: must name a host", f)
	}
	if !validHostname(host) {
		return nil, Errorf(InvalidParameterValue, "%s: %q is not a valid host name or IP address", f, truncate(host, 64))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, Errorf(InvalidParameterValue, "%s: port must be a number from 1 to 65535", f)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, Errorf(InvalidParameterValue, "%s: empty port", f)
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

func splitHostPort(hostURL string) (string, string, bool) {
	u, err := url.Parse(hostURL)
	if err != nil || u.Port() == "" {
		return hostURL, "", false
	}
	h := u.Hostname()
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return u.Scheme + "://" + h, u.Port(), true
}

var labelRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

func validHostname(h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// normalizeBasePath accepts "/v1/api" style paths, and only paths that the proxy can
// send exactly as written: it must start with '/', and every segment must be non-empty,
// not "." or ".." (nor ".;x" or "..;x", which Tomcat-style servers read as a dot
// segment), and made only of the characters a URL path carries unescaped (RFC 3986
// pchar without percent-encoding: letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @).
// So quotes, spaces, '?', '#', '%', backslashes, control characters and non-ASCII
// letters are refused when the option is set, rather than accepted and then failing
// every call. The result has no trailing slash ("" for the root).
func normalizeBasePath(v string) (string, error) {
	const f = "options.base_path"
	if v == "" || v == "/" {
		return "", nil
	}
	if !strings.HasPrefix(v, "/") {
		return "", Errorf(InvalidParameterValue, "%s: must start with '/'", f)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '/' && !isPathChar(c) {
			what := "'" + string(rune(c)) + "'"
			switch {
			case c < 0x20 || c == 0x7f:
				what = "a control character"
			case c == ' ':
				what = "a space"
			case c >= 0x80:
				what = "a non-ASCII character"
			}
			return "", Errorf(InvalidParameterValue,
				"%s: contains %s at byte %d; use only letters, digits, '/' and - . _ ~ ! $ & ' ( ) * + , ; = : @ (no '?', '#', '%%', quotes, spaces, backslashes or non-ASCII characters)", f, what, i)
		}
	}
	v = strings.TrimSuffix(v, "/")
	for _, seg := range strings.Split(v[1:], "/") {
		name, _, _ := strings.Cut(seg, ";")
		if seg == "" || name == "." || name == ".." {
			return "", Errorf(InvalidParameterValue, "%s: must not contain empty, '.' or '..' segments", f)
		}
	}
	return v, nil
}

// isPathChar reports whether c may appear unescaped in a URL path segment: RFC 3986
// pchar less pct-encoded (unreserved, sub-delims, ':' and '@'). It is the proxy's rule
// for what it sends unescaped (proxy.pathByteOK).
func isPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}

// isToken reports whether s is an RFC 9110 token (a valid header name).
func isToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hasControl reports ASCII control characters (and DEL); allowTab keeps \t.
func hasControl(s string, allowTab bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' && allowTab {
			continue
		}
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// OAuthResource is the RFC 8707 resource indicator Gatehouse sends on the authorization
// and token requests of an OAuth connection with these (normalized, non-secret)
// options: "" when oauth_send_resource is "false" (Microsoft Entra refuses the
// parameter), else oauth_resource when set, else the connection's URL
// (host[:port]base_path, as the API shows it).
func OAuthResource(opts map[string]string) string {
	if opts[OptOAuthSendResource] == optionValueFalse {
		return ""
	}
	if r := opts[OptOAuthResource]; r != "" {
		return r
	}
	u := opts[OptHost]
	if u == "" {
		return ""
	}
	if p := opts[OptPort]; p != "" {
		u += ":" + p
	}
	return u + opts[OptBasePath]
}
