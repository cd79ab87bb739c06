package governance

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// normalized is what ValidateOptions makes of a BEARER_TOKEN option set, as stored.
func normalized(t testing.TB, opts map[string]string) map[string]string {
	t.Helper()
	in := map[string]string{catalog.OptBearerToken: "secret"}
	for k, v := range opts {
		in[k] = v
	}
	out, err := catalog.ValidateOptions(catalog.BearerToken, in, catalog.ValidationPolicy{AllowHTTP: true})
	if err != nil {
		t.Fatalf("ValidateOptions(%v): %v", opts, err)
	}
	return out
}

func oauthNormalized(t testing.TB, opts map[string]string) map[string]string {
	t.Helper()
	in := map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptClientID: "id", catalog.OptClientSecret: "s",
		catalog.OptTokenEndpoint: "https://idp.example.com/token", catalog.OptAuthorizationEndpoint: "https://idp.example.com/authorize"}
	for k, v := range opts {
		in[k] = v
	}
	out, err := catalog.ValidateOptions(catalog.OAuthU2M, in, catalog.ValidationPolicy{})
	if err != nil {
		t.Fatalf("ValidateOptions(%v): %v", opts, err)
	}
	return out
}

func TestDestinationChanges(t *testing.T) {
	type opts = map[string]string
	tests := []struct {
		name      string
		old, next opts
		oauth     bool
		want      string
	}{
		// The same destination, spelled differently: no change.
		{name: "identical", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com"}},
		{name: "default https port written out", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com:443"}},
		{name: "default https port as option", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "port": "443"}},
		{name: "default http port written out", old: opts{"host": "http://a.com"}, next: opts{"host": "http://a.com:80"}},
		{name: "port in host vs port option", old: opts{"host": "https://a.com:8443"}, next: opts{"host": "https://a.com", "port": "8443"}},
		{name: "upper case scheme and host", old: opts{"host": "https://a.com"}, next: opts{"host": "HTTPS://A.COM/"}},
		{name: "trailing dot", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com."}},
		{name: "ipv6 spelled two ways", old: opts{"host": "https://[::1]"}, next: opts{"host": "https://[0:0::1]:443"}},
		{name: "base path is not the destination", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "base_path": "/v2"}},
		{name: "header name default written out", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "auth_header_name": "Authorization"}},
		{name: "header name in another case", old: opts{"host": "https://a.com", "auth_header_name": "X-Api-Key"}, next: opts{"host": "https://a.com", "auth_header_name": "x-api-key"}},
		{name: "header prefix default written out", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "auth_header_prefix": "Bearer "}},
		{name: "token endpoint default port", oauth: true, old: opts{}, next: opts{"token_endpoint": "https://IDP.example.com:443/token"}},
		{name: "authorization endpoint upper case host", oauth: true, old: opts{}, next: opts{"authorization_endpoint": "https://IDP.EXAMPLE.COM/authorize"}},
		{name: "scope is not the destination", oauth: true, old: opts{}, next: opts{"oauth_scope": "read write"}},

		// A different destination: a change, named.
		{name: "other host", old: opts{"host": "https://a.com"}, next: opts{"host": "https://evil.com"}, want: "host"},
		{name: "subdomain", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com.evil.com"}, want: "host"},
		{name: "scheme downgrade", old: opts{"host": "https://a.com"}, next: opts{"host": "http://a.com"}, want: "host,port"},
		{name: "scheme downgrade keeping port", old: opts{"host": "https://a.com:8080"}, next: opts{"host": "http://a.com:8080"}, want: "host"},
		{name: "other port in host", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com:8443"}, want: "port"},
		{name: "other port option", old: opts{"host": "https://a.com", "port": "8443"}, next: opts{"host": "https://a.com", "port": "9443"}, want: "port"},
		{name: "port dropped back to default", old: opts{"host": "https://a.com", "port": "8443"}, next: opts{"host": "https://a.com"}, want: "port"},
		{name: "host and port", old: opts{"host": "https://a.com"}, next: opts{"host": "https://b.com:8443"}, want: "host,port"},
		{name: "ip literal for a name", old: opts{"host": "https://a.com"}, next: opts{"host": "https://127.0.0.1"}, want: "host"},
		{name: "header name", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "auth_header_name": "X-Echo"}, want: "auth_header_name"},
		{name: "header name back to default", old: opts{"host": "https://a.com", "auth_header_name": "X-Api-Key"}, next: opts{"host": "https://a.com"}, want: "auth_header_name"},
		{name: "header prefix", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "auth_header_prefix": "token="}, want: "auth_header_prefix"},
		{name: "header prefix emptied", old: opts{"host": "https://a.com"}, next: opts{"host": "https://a.com", "auth_header_prefix": ""}, want: "auth_header_prefix"},
		{name: "token endpoint host", oauth: true, old: opts{}, next: opts{"token_endpoint": "https://evil.com/token"}, want: "token_endpoint"},
		{name: "token endpoint port", oauth: true, old: opts{}, next: opts{"token_endpoint": "https://idp.example.com:8443/token"}, want: "token_endpoint"},
		{name: "token endpoint path (another tenant)", oauth: true, old: opts{}, next: opts{"token_endpoint": "https://idp.example.com/attacker/token"}, want: "token_endpoint"},
		{name: "token endpoint query", oauth: true, old: opts{}, next: opts{"token_endpoint": "https://idp.example.com/token?tenant=evil"}, want: "token_endpoint"},
		{name: "authorization endpoint", oauth: true, old: opts{}, next: opts{"authorization_endpoint": "https://evil.com/authorize"}, want: "authorization_endpoint"},
		{name: "everything", oauth: true, old: opts{}, next: opts{"host": "https://evil.com:8443", "token_endpoint": "https://evil.com/t", "authorization_endpoint": "https://evil.com/a",
			"auth_header_name": "X-Echo", "auth_header_prefix": ""}, want: "auth_header_name,auth_header_prefix,authorization_endpoint,host,port,token_endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			norm := normalized
			if tc.oauth {
				norm = oauthNormalized
			}
			old, next := norm(t, tc.old), norm(t, tc.next)
			if got := strings.Join(DestinationChanges(old, next), ","); got != tc.want {
				t.Errorf("DestinationChanges(%v, %v) = %q, want %q", tc.old, tc.next, got, tc.want)
			}
			if got := strings.Join(DestinationChanges(next, old), ","); got != tc.want {
				t.Errorf("DestinationChanges(%v, %v) = %q, want %q (the other way round)", tc.next, tc.old, got, tc.want)
			}
		})
	}
}

func TestSecretsOf(t *testing.T) {
	for ct, want := range map[catalog.CredentialType]string{
		catalog.BearerToken: "bearer_token", catalog.OAuthM2M: "client_secret", catalog.OAuthU2M: "client_secret", catalog.OAuthU2MPerUser: "client_secret",
	} {
		if got := strings.Join(SecretsOf(ct), ","); got != want {
			t.Errorf("SecretsOf(%s) = %q, want %q", ct, got, want)
		}
	}
	for _, k := range DestinationOptions {
		if catalog.SecretOptions[k] {
			t.Errorf("destination option %s is a secret option", k)
		}
	}
}

// FuzzDestinationChanges checks the rule's comparison on any host, port and endpoint a
// caller can get through validation: an option set never differs from itself or from
// its own re-validation, the answer is symmetric, names only destination options, and
// whenever the effective host or port of what the broker and the proxy would use
// differ, the change is seen.
func FuzzDestinationChanges(f *testing.F) {
	for _, s := range [][4]string{
		{"https://a.com", "", "https://a.com:443", ""},
		{"https://a.com:8443", "", "https://a.com", "8443"},
		{"https://[::1]", "", "https://[0::1]", "443"},
		{"https://a.com.", "", "HTTPS://A.com", ""},
		{"https://a.com", "", "http://a.com", "443"},
		{"https://a.com", "443", "https://evil.com", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], "https://idp.example.com/token", "https://idp.example.com:443/token")
	}
	pol := catalog.ValidationPolicy{AllowHTTP: true}
	validate := func(host, port, tokenURL string) (map[string]string, bool) {
		in := map[string]string{catalog.OptHost: host, catalog.OptClientID: "id", catalog.OptClientSecret: "s", catalog.OptTokenEndpoint: tokenURL}
		if port != "" {
			in[catalog.OptPort] = port
		}
		out, err := catalog.ValidateOptions(catalog.OAuthM2M, in, pol)
		return out, err == nil
	}
	f.Fuzz(func(t *testing.T, h1, p1, h2, p2, t1, t2 string) {
		a, ok1 := validate(h1, p1, t1)
		b, ok2 := validate(h2, p2, t2)
		if ok1 {
			if got := DestinationChanges(a, a); len(got) != 0 {
				t.Fatalf("DestinationChanges(a, a) = %v for %v", got, a)
			}
			in := map[string]string{}
			for k, v := range a {
				in[k] = v
			}
			again, err := catalog.ValidateOptions(catalog.OAuthM2M, in, pol)
			if err != nil {
				t.Fatalf("normalized options %v do not validate again: %v", a, err)
			}
			if got := DestinationChanges(a, again); len(got) != 0 {
				t.Fatalf("re-validated options differ: %v (%v vs %v)", got, a, again)
			}
		}
		if !ok1 || !ok2 {
			return
		}
		ab, ba := DestinationChanges(a, b), DestinationChanges(b, a)
		if !slices.Equal(ab, ba) {
			t.Fatalf("not symmetric: %v vs %v", ab, ba)
		}
		for _, k := range ab {
			if !slices.Contains(DestinationOptions, k) {
				t.Fatalf("named %s, not a destination option", k)
			}
		}
		// What the dialer would be given: lower-case host name without the trailing dot,
		// effective port. Different ones must be a change.
		da, db := catalog.DestinationOf(a), catalog.DestinationOf(b)
		ah, ap, bh, bp := da.Host, da.Port, db.Host, db.Port
		if (ah != bh || ap != bp) && !slices.Contains(ab, catalog.OptHost) && !slices.Contains(ab, catalog.OptPort) {
			t.Fatalf("destinations %s:%s and %s:%s differ but no change was seen", ah, ap, bh, bp)
		}
		if da.TokenEndpoint != db.TokenEndpoint &&
			!slices.Contains(ab, catalog.OptTokenEndpoint) {
			t.Fatalf("token endpoints %s and %s differ but no change was seen", a[catalog.OptTokenEndpoint], b[catalog.OptTokenEndpoint])
		}
	})
}
