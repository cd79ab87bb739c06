package catalog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestValidateOptions(t *testing.T) {
	strict := ValidationPolicy{}
	bearer := func(extra map[string]string) map[string]string {
		m := map[string]string{OptHost: "https://api.example.com", OptBearerToken: "tok"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	oauth := map[string]string{OptHost: "https://api.example.com", OptClientID: "id", OptClientSecret: "s",
		OptTokenEndpoint: "https://idp.example.com/token", OptAuthorizationEndpoint: "https://idp.example.com/authorize"}
	tests := []struct {
		name    string
		typ     CredentialType
		opts    map[string]string
		pol     ValidationPolicy
		want    map[string]string
		wantErr string // substring; "" = no error
	}{
		{name: "bearer minimal", typ: BearerToken, opts: bearer(nil),
			want: map[string]string{OptHost: "https://api.example.com", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "host normalized", typ: BearerToken, opts: bearer(map[string]string{OptHost: "HTTPS://API.Example.COM/"}),
			want: map[string]string{OptHost: "https://api.example.com", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "port in host moves to port", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://api.example.com:8443"}),
			want: map[string]string{OptHost: "https://api.example.com", OptPort: "8443", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "ipv6 host with port", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://[::1]:8443"}),
			want: map[string]string{OptHost: "https://[::1]", OptPort: "8443", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "base path with every allowed character", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/a-b._~!$&'()*+,;=:@/Z9"}),
			want: map[string]string{OptHost: "https://api.example.com", OptBasePath: "/v1/a-b._~!$&'()*+,;=:@/Z9", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "base path trimmed", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/api/", OptIsMCP: "TRUE"}),
			want: map[string]string{OptHost: "https://api.example.com", OptBasePath: "/v1/api", OptBearerToken: "tok", OptIsMCP: "true"}},
		{name: "custom auth header", typ: BearerToken, opts: bearer(map[string]string{OptAuthHeaderName: "X-Api-Key", OptAuthHeaderPrefix: ""}),
			want: map[string]string{OptHost: "https://api.example.com", OptAuthHeaderName: "X-Api-Key", OptAuthHeaderPrefix: "", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "mcp allow-list kept as written", typ: BearerToken, opts: bearer(map[string]string{OptMCPAllowedTools: "search, get_*"}),
			want: map[string]string{OptHost: "https://api.example.com", OptMCPAllowedTools: "search, get_*", OptBearerToken: "tok", OptIsMCP: "false"}},
		{name: "mcp pin tools lower-cased", typ: BearerToken, opts: bearer(map[string]string{OptIsMCP: "true", OptMCPPinTools: "TRUE"}),
			want: map[string]string{OptHost: "https://api.example.com", OptMCPPinTools: "true", OptBearerToken: "tok", OptIsMCP: "true"}},
		{name: "mcp pin tools false kept", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptMCPPinTools: "false"},
			want: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptMCPPinTools: "false", OptIsMCP: "false"}},
		{name: "mcp pin tools yes", typ: BearerToken, opts: bearer(map[string]string{OptMCPPinTools: "yes"}), wantErr: `options.mcp_pin_tools: must be "true" or "false"`},
		{name: "mcp allow-list empty entry", typ: BearerToken, opts: bearer(map[string]string{OptMCPAllowedTools: "search,,get"}), wantErr: "options.mcp_allowed_tools: entry 2 is empty"},
		{name: "mcp allow-list inner star", typ: BearerToken, opts: bearer(map[string]string{OptMCPAllowedTools: "a*b"}), wantErr: "options.mcp_allowed_tools: entry 1 has '*' before its end"},
		{name: "mcp allow-list space in name", typ: BearerToken, opts: bearer(map[string]string{OptMCPAllowedTools: "get tool"}), wantErr: "options.mcp_allowed_tools: entry 1 holds a space"},
		{name: "mcp allow-list on per-user oauth", typ: OAuthU2MPerUser, opts: map[string]string{OptHost: "https://api.example.com", OptClientID: "id", OptClientSecret: "s",
			OptTokenEndpoint: "https://idp.example.com/token", OptAuthorizationEndpoint: "https://idp.example.com/authorize", OptMCPAllowedTools: "x*"}},
		{name: "u2m ok", typ: OAuthU2M, opts: oauth},
		{name: "m2m with exchange method", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptCredentialExchange: "body_only"}},
		{name: "http allowed in dev", typ: BearerToken, opts: bearer(map[string]string{OptHost: "http://127.0.0.1:9000"}), pol: ValidationPolicy{AllowHTTP: true},
			want: map[string]string{OptHost: "http://127.0.0.1", OptPort: "9000", OptBearerToken: "tok", OptIsMCP: "false"}},

		{name: "host with path", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://api.example.com/v1"}), wantErr: "options.host: must be a scheme and host only"},
		{name: "host with query", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://api.example.com?x=1"}), wantErr: "options.host"},
		{name: "host with userinfo", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://u:p@api.example.com"}), wantErr: "must not contain user information"},
		{name: "host http", typ: BearerToken, opts: bearer(map[string]string{OptHost: "http://api.example.com"}), wantErr: "must use https"},
		{name: "host ftp", typ: BearerToken, opts: bearer(map[string]string{OptHost: "ftp://api.example.com"}), wantErr: "scheme \"ftp\" is not allowed"},
		{name: "host without scheme", typ: BearerToken, opts: bearer(map[string]string{OptHost: "api.example.com"}), wantErr: "must be an absolute URL"},
		{name: "host fragment", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://api.example.com#x"}), wantErr: "fragment"},
		{name: "host bad name", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://exa_mple-.com"}), wantErr: "not a valid host"},
		{name: "host backslash", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://a.example.com\\@evil.com"}), wantErr: "backslashes"},
		{name: "port disagrees", typ: BearerToken, opts: bearer(map[string]string{OptHost: "https://a.example.com:1", OptPort: "2"}), wantErr: "options.port: 2 disagrees"},
		{name: "port range", typ: BearerToken, opts: bearer(map[string]string{OptPort: "70000"}), wantErr: "options.port"},
		{name: "port leading zero", typ: BearerToken, opts: bearer(map[string]string{OptPort: "0443"}), wantErr: "options.port"},
		{name: "base path dots", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/../admin"}), wantErr: "options.base_path"},
		{name: "base path encoded", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/%2e%2e"}), wantErr: "options.base_path"},
		{name: "base path relative", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "v1"}), wantErr: "must start with '/'"},
		{name: "base path double slash", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "//evil.com/x"}), wantErr: "options.base_path"},
		{name: "base path quote", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a\"b"}), wantErr: "contains '\"' at byte 2"},
		{name: "base path non-ASCII", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/ü"}), wantErr: "a non-ASCII character at byte 1"},
		{name: "base path space", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a b"}), wantErr: "a space at byte 2"},
		{name: "base path query", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1?x=1"}), wantErr: "contains '?'"},
		{name: "base path fragment", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1#x"}), wantErr: "contains '#'"},
		{name: "base path invalid escape", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/%zz"}), wantErr: "contains '%'"},
		{name: "base path valid escape", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a%20b"}), wantErr: "contains '%'"},
		{name: "base path control", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a\x01b"}), wantErr: "a control character"},
		{name: "base path tab", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a\tb"}), wantErr: "a control character"},
		{name: "base path DEL", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a\x7fb"}), wantErr: "a control character"},
		{name: "base path backslash", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a\\b"}), wantErr: "contains '\\'"},
		{name: "base path angle", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a<b>"}), wantErr: "contains '<'"},
		{name: "base path pipe", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a|b"}), wantErr: "contains '|'"},
		{name: "base path brace", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a{b}"}), wantErr: "contains '{'"},
		{name: "base path backtick", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/a`b"}), wantErr: "contains '`'"},
		{name: "base path dot-semicolon", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/..;x/admin"}), wantErr: "'.' or '..' segments"},
		{name: "base path single dot", typ: BearerToken, opts: bearer(map[string]string{OptBasePath: "/v1/./x"}), wantErr: "'.' or '..' segments"},
		{name: "missing bearer", typ: BearerToken, opts: map[string]string{OptHost: "https://a.example.com"}, wantErr: "options.bearer_token: required"},
		{name: "missing host", typ: BearerToken, opts: map[string]string{OptBearerToken: "x"}, wantErr: "options.host: required"},
		{name: "unknown option", typ: BearerToken, opts: bearer(map[string]string{"bearer_tokn": "x"}), wantErr: "options.bearer_tokn: not an option of credential type BEARER_TOKEN"},
		{name: "oauth option on bearer", typ: BearerToken, opts: bearer(map[string]string{OptClientID: "x"}), wantErr: "options.client_id: not an option"},
		{name: "is_mcp invalid", typ: BearerToken, opts: bearer(map[string]string{OptIsMCP: "yes"}), wantErr: "is_mcp_connection"},
		{name: "header name invalid", typ: BearerToken, opts: bearer(map[string]string{OptAuthHeaderName: "X Api"}), wantErr: "auth_header_name"},
		{name: "header name host", typ: BearerToken, opts: bearer(map[string]string{OptAuthHeaderName: "Host"}), wantErr: "cannot carry a credential"},
		{name: "header prefix newline", typ: BearerToken, opts: bearer(map[string]string{OptAuthHeaderPrefix: "Bearer\r\nX: y"}), wantErr: "auth_header_prefix"},
		{name: "secret newline", typ: BearerToken, opts: bearer(map[string]string{OptBearerToken: "abc\ndef"}), wantErr: "options.bearer_token: must not contain control"},
		{name: "u2m missing authz", typ: OAuthU2MPerUser, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t"}, wantErr: "options.authorization_endpoint: required"},
		{name: "token endpoint http", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "http://idp.example.com/t"}, wantErr: "options.token_endpoint: must use https"},
		{name: "bad exchange method", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptCredentialExchange: "basic"}, wantErr: "oauth_credential_exchange_method"},
		{name: "value too long", typ: BearerToken, opts: bearer(map[string]string{OptBearerToken: strings.Repeat("a", 5000)}), wantErr: "at most 4096"},
		{name: "bad type", typ: "NOPE", opts: bearer(nil), wantErr: "must be one of"},
		{name: "send resource yes", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptOAuthSendResource: "yes"}, wantErr: `options.oauth_send_resource: must be "true" or "false"`},
		{name: "send resource on bearer", typ: BearerToken, opts: bearer(map[string]string{OptOAuthSendResource: "false"}), wantErr: "options.oauth_send_resource: not an option"},
		{name: "send resource normalized", typ: OAuthM2M, opts: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptOAuthSendResource: "FALSE"},
			want: map[string]string{OptHost: "https://a.example.com", OptClientID: "i", OptClientSecret: "s", OptTokenEndpoint: "https://idp.example.com/t", OptOAuthSendResource: "false", OptIsMCP: "false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := strict
			if tc.pol.AllowHTTP {
				pol = tc.pol
			}
			got, err := ValidateOptions(tc.typ, tc.opts, pol)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ValidateOptions() error = %v, want one containing %q", err, tc.wantErr)
				}
				if CodeOf(err) != InvalidParameterValue {
					t.Errorf("code = %s, want INVALID_PARAMETER_VALUE", CodeOf(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateOptions() error = %v", err)
			}
			if tc.want != nil {
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("ValidateOptions() mismatch (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestValidateOptionsNeverEchoesSecrets(t *testing.T) {
	const canary = "CANARY-s3cr3t\x01"
	for _, opt := range []string{OptBearerToken} {
		_, err := ValidateOptions(BearerToken, map[string]string{OptHost: "https://a.example.com", opt: canary}, ValidationPolicy{})
		if err == nil || strings.Contains(err.Error(), "CANARY") {
			t.Fatalf("error %v must exist and must not contain the secret", err)
		}
	}
}

func TestInferCredentialType(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		want    CredentialType
		wantErr string
	}{
		{"bearer", map[string]string{OptBearerToken: "x"}, BearerToken, ""},
		{"m2m", map[string]string{OptTokenEndpoint: "https://x"}, OAuthM2M, ""},
		{"authz needs choice", map[string]string{OptTokenEndpoint: "https://x", OptAuthorizationEndpoint: "https://y"}, "", "OAUTH_U2M (one user's token serves every grantee) or OAUTH_U2M_PER_USER"},
		{"nothing", map[string]string{OptHost: "https://x"}, "", "credential_type is required"},
		{"both", map[string]string{OptBearerToken: "x", OptTokenEndpoint: "https://x"}, "", "credential_type is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InferCredentialType(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("InferCredentialType() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("InferCredentialType() = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestNormalizeConnectionName(t *testing.T) {
	for in, want := range map[string]string{"GitHub": "github", " slack_1 ": "slack_1", "a-b": "a-b"} {
		if got, err := NormalizeConnectionName(in); err != nil || got != want {
			t.Errorf("NormalizeConnectionName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", "a.b", "ü", strings.Repeat("a", 256), "../x"} {
		if _, err := NormalizeConnectionName(bad); err == nil {
			t.Errorf("NormalizeConnectionName(%q) accepted, want an error", bad)
		}
	}
}

// FuzzValidateOptions checks that option validation never panics, that what it accepts
// is stable (validating the output again gives the same output), and that an accepted
// host is always a bare https URL.
func FuzzValidateOptions(f *testing.F) {
	f.Add("BEARER_TOKEN", "https://api.example.com", "", "/v1", "tok", "Authorization")
	f.Add("BEARER_TOKEN", "https://[::1]:8443/", "8443", "/a/b/", "x", "X-Api-Key")
	f.Add("OAUTH_M2M", "HTTPS://A.B", "443", "", "s", "")
	f.Add("BEARER_TOKEN", "https://u@h", "0", "/..", "\n", "Host")
	f.Add("OAUTH_U2M", "https://h:99999", "", "//x", "", "x y")
	f.Fuzz(func(t *testing.T, typ, host, port, basePath, secret, header string) {
		opts := map[string]string{OptHost: host, OptBearerToken: secret, OptClientID: "id", OptClientSecret: secret,
			OptTokenEndpoint: host + "/token", OptAuthorizationEndpoint: host + "/authorize"}
		if port != "" {
			opts[OptPort] = port
		}
		if basePath != "" {
			opts[OptBasePath] = basePath
		}
		if header != "" {
			opts[OptAuthHeaderName] = header
		}
		ct := CredentialType(typ)
		if ct == BearerToken {
			delete(opts, OptClientID)
			delete(opts, OptClientSecret)
			delete(opts, OptTokenEndpoint)
			delete(opts, OptAuthorizationEndpoint)
		} else {
			delete(opts, OptBearerToken)
			if ct == OAuthM2M {
				delete(opts, OptAuthorizationEndpoint)
			}
		}
		got, err := ValidateOptions(ct, opts, ValidationPolicy{})
		if err != nil {
			if CodeOf(err) != InvalidParameterValue {
				t.Fatalf("error code %s, want INVALID_PARAMETER_VALUE", CodeOf(err))
			}
			if secret != "" && len(secret) > 3 && strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q contains the secret", err)
			}
			return
		}
		if h := got[OptHost]; !strings.HasPrefix(h, "https://") || strings.Count(h, "/") != 2 || strings.ContainsAny(h, "@?#\\") {
			t.Fatalf("accepted host %q is not a bare https URL", h)
		}
		if bp := got[OptBasePath]; bp != "" && (!strings.HasPrefix(bp, "/") || strings.Contains(bp, "..") || strings.Contains(bp, "//")) {
			t.Fatalf("accepted base_path %q can escape", bp)
		}
		for i := 0; i < len(got[OptBasePath]); i++ {
			if c := got[OptBasePath][i]; c != '/' && !isPathChar(c) {
				t.Fatalf("accepted base_path %q has %q, which a request line cannot carry unescaped", got[OptBasePath], c)
			}
		}
		again, err := ValidateOptions(ct, got, ValidationPolicy{})
		if err != nil {
			t.Fatalf("validated options %v fail a second validation: %v", got, err)
		}
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("validation is not idempotent (-first +second):\n%s", d)
		}
	})
}

func TestOAuthResource(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"default is the connection URL", map[string]string{OptHost: "https://api.example.com", OptPort: "8443", OptBasePath: "/v1"}, "https://api.example.com:8443/v1"},
		{"host only", map[string]string{OptHost: "https://api.example.com"}, "https://api.example.com"},
		{"oauth_resource wins", map[string]string{OptHost: "https://api.example.com", OptOAuthResource: "api://gatehouse"}, "api://gatehouse"},
		{"true sends", map[string]string{OptHost: "https://api.example.com", OptOAuthSendResource: "true"}, "https://api.example.com"},
		{"false sends none", map[string]string{OptHost: "https://api.example.com", OptOAuthResource: "api://x", OptOAuthSendResource: "false"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OAuthResource(tc.opts); got != tc.want {
				t.Fatalf("OAuthResource = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBoundMCPToolDescription(t *testing.T) {
	tests := []struct {
		name, in string
		wantLen  int
	}{
		{"short kept", "search the web", 14},
		{"exactly the limit kept", strings.Repeat("a", MaxMCPToolDescription), MaxMCPToolDescription},
		{"ascii cut at the limit", strings.Repeat("a", MaxMCPToolDescription+5), MaxMCPToolDescription},
		// 1023 ASCII bytes then a 3-byte character: it does not fit whole.
		{"multi-byte character not split", strings.Repeat("a", MaxMCPToolDescription-1) + "€€", MaxMCPToolDescription - 1},
		{"all multi-byte", strings.Repeat("€", 500), MaxMCPToolDescription - MaxMCPToolDescription%3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BoundMCPToolDescription(tc.in)
			if len(got) != tc.wantLen || !strings.HasPrefix(tc.in, got) || !utf8.ValidString(got) {
				t.Errorf("BoundMCPToolDescription(%d bytes) = %d bytes (valid UTF-8 %v), want a %d-byte prefix", len(tc.in), len(got), utf8.ValidString(got), tc.wantLen)
			}
		})
	}
}

// FuzzBoundMCPToolDescription: whatever an MCP server describes a tool with, the record
// keeps a prefix of at most MaxMCPToolDescription bytes, all of it when it fits, and
// never a split character of valid UTF-8.
func FuzzBoundMCPToolDescription(f *testing.F) {
	for _, s := range []string{"", "search", strings.Repeat("a", MaxMCPToolDescription-1) + "€", strings.Repeat("é", 600), "\xff\xfe" + strings.Repeat("\x80", 1200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := BoundMCPToolDescription(s)
		switch {
		case len(got) > MaxMCPToolDescription:
			t.Fatalf("%d bytes kept, more than %d", len(got), MaxMCPToolDescription)
		case !strings.HasPrefix(s, got):
			t.Fatal("not a prefix")
		case len(s) <= MaxMCPToolDescription && got != s:
			t.Fatal("a description that fits was cut")
		case utf8.ValidString(s) && !utf8.ValidString(got):
			t.Fatal("a character was split")
		case len(s) > MaxMCPToolDescription && len(got) < MaxMCPToolDescription-utf8.UTFMax:
			t.Fatalf("cut to %d bytes, more than one character short of the limit", len(got))
		}
	})
}
