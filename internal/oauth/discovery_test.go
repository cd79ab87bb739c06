package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// metadataServer serves documents at the given paths; "{host}" becomes the server's
// host. It counts requests per path.
type metadataServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newMetadataServer(t *testing.T, docs map[string]string) (*metadataServer, *oauth.Client, func(time.Duration)) {
	t.Helper()
	ms := &metadataServer{hits: map[string]int{}}
	now := t0
	var mu sync.Mutex
	ms.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.mu.Lock()
		ms.hits[r.URL.Path]++
		ms.mu.Unlock()
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(doc, "<") {
			w.Header().Set("Content-Type", "text/html")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		_, _ = w.Write([]byte(strings.ReplaceAll(doc, "{host}", r.Host)))
	}))
	t.Cleanup(ms.Close)
	c := oauth.NewClient(oauth.ClientOptions{
		RootCAs: ms.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
	})
	t.Cleanup(c.CloseIdleConnections)
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	return ms, c, advance
}

func (ms *metadataServer) count(path string) int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.hits[path]
}

func (ms *metadataServer) total() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	n := 0
	for _, v := range ms.hits {
		n += v
	}
	return n
}

const rfc8414Doc = `{"issuer":"https://{host}","authorization_endpoint":"https://{host}/authorize","token_endpoint":"https://{host}/token",
"revocation_endpoint":"https://{host}/revoke","introspection_endpoint":"https://{host}/introspect",
"token_endpoint_auth_methods_supported":["client_secret_basic"],"grant_types_supported":["authorization_code","refresh_token"],
"response_types_supported":["code"],"code_challenge_methods_supported":["S256"],"scopes_supported":["openid","offline_access"],
"authorization_response_iss_parameter_supported":true}`

func TestDiscover(t *testing.T) {
	ctx := context.Background()
	t.Run("RFC 8414 at the root", func(t *testing.T) {
		ms, c, _ := newMetadataServer(t, map[string]string{"/.well-known/oauth-authorization-server": rfc8414Doc})
		md, err := c.Discover(ctx, ms.URL+"/token")
		if err != nil || md == nil {
			t.Fatalf("Discover = %v, %v", md, err)
		}
		host := strings.TrimPrefix(ms.URL, "https://")
		want := &oauth.Metadata{
			Issuer: ms.URL, AuthorizationEndpoint: ms.URL + "/authorize", TokenEndpoint: ms.URL + "/token",
			RevocationEndpoint: ms.URL + "/revoke", IntrospectionEndpoint: ms.URL + "/introspect",
			TokenEndpointAuthMethods: []string{"client_secret_basic"}, GrantTypes: []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"}, CodeChallengeMethods: []string{"S256"}, ScopesSupported: []string{"openid", "offline_access"},
			AuthorizationResponseIssParameterSupported: true,
			URL: "https://" + host + "/.well-known/oauth-authorization-server",
		}
		if diff := cmp.Diff(want, md); diff != "" {
			t.Fatalf("metadata (-want +got):\n%s", diff)
		}
	})
	t.Run("RFC 8414 path insertion for an issuer with a path", func(t *testing.T) {
		doc := strings.ReplaceAll(rfc8414Doc, `"issuer":"https://{host}"`, `"issuer":"https://{host}/oauth2/default"`)
		ms, c, _ := newMetadataServer(t, map[string]string{"/.well-known/oauth-authorization-server/oauth2/default": doc})
		md, err := c.Discover(ctx, ms.URL+"/oauth2/default/v1/token")
		if err != nil || md == nil || md.Issuer != ms.URL+"/oauth2/default" || md.OpenID {
			t.Fatalf("Discover = %+v, %v", md, err)
		}
	})
	t.Run("OpenID Connect discovery under a path", func(t *testing.T) {
		doc := strings.ReplaceAll(rfc8414Doc, `"issuer":"https://{host}"`, `"issuer":"https://{host}/realms/acme"`)
		ms, c, _ := newMetadataServer(t, map[string]string{"/realms/acme/.well-known/openid-configuration": doc})
		md, err := c.Discover(ctx, ms.URL+"/realms/acme/protocol/openid-connect/token")
		if err != nil || md == nil || !md.OpenID || md.Issuer != ms.URL+"/realms/acme" {
			t.Fatalf("Discover = %+v, %v", md, err)
		}
	})
	t.Run("the most specific issuer wins", func(t *testing.T) {
		root := strings.ReplaceAll(rfc8414Doc, `"client_secret_basic"`, `"client_secret_post"`)
		pathDoc := strings.ReplaceAll(rfc8414Doc, `"issuer":"https://{host}"`, `"issuer":"https://{host}/oauth2/default"`)
		ms, c, _ := newMetadataServer(t, map[string]string{
			"/.well-known/oauth-authorization-server":          root,
			"/oauth2/default/.well-known/openid-configuration": pathDoc,
		})
		md, err := c.Discover(ctx, ms.URL+"/oauth2/default/v1/token")
		if err != nil || md == nil || md.Issuer != ms.URL+"/oauth2/default" {
			t.Fatalf("Discover = %+v, %v", md, err)
		}
	})
	t.Run("none: nil, nil, cached", func(t *testing.T) {
		ms, c, advance := newMetadataServer(t, nil)
		for range 3 {
			md, err := c.Discover(ctx, ms.URL+"/a/b/token")
			if md != nil || err != nil {
				t.Fatalf("Discover = %v, %v; want nil, nil", md, err)
			}
		}
		first := ms.total()
		if first == 0 || first > 8 {
			t.Fatalf("Discover made %d requests, want 1 to 8", first)
		}
		if ms.count("/.well-known/oauth-authorization-server") != 1 || ms.count("/a/b/.well-known/openid-configuration") != 1 {
			t.Fatalf("hits = %v", ms.hits)
		}
		advance(oauth.DiscoveryTTL + time.Second)
		_, _ = c.Discover(ctx, ms.URL+"/a/b/token")
		if got := ms.total(); got != 2*first {
			t.Fatalf("after the TTL, %d requests in all, want %d", got, 2*first)
		}
	})
	t.Run("found: cached", func(t *testing.T) {
		ms, c, _ := newMetadataServer(t, map[string]string{"/.well-known/oauth-authorization-server": rfc8414Doc})
		for range 3 {
			if md, err := c.Discover(ctx, ms.URL+"/token"); md == nil || err != nil {
				t.Fatalf("Discover = %v, %v", md, err)
			}
		}
		if n := ms.count("/.well-known/oauth-authorization-server"); n != 1 {
			t.Fatalf("metadata fetched %d times, want 1", n)
		}
	})
	t.Run("not metadata", func(t *testing.T) {
		for name, doc := range map[string]string{
			"HTML page":              "<html>app</html>",
			"issuer of another host": `{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}`,
			"no issuer":              `{"token_endpoint":"https://{host}/token"}`,
			"no endpoints":           `{"issuer":"https://{host}"}`,
			"JSON array":             `[1,2]`,
		} {
			t.Run(name, func(t *testing.T) {
				ms, c, _ := newMetadataServer(t, map[string]string{
					"/.well-known/oauth-authorization-server": doc,
					"/.well-known/openid-configuration":       doc,
				})
				if md, err := c.Discover(ctx, ms.URL+"/token"); md != nil || err != nil {
					t.Fatalf("Discover = %+v, %v; want nil, nil", md, err)
				}
			})
		}
	})
	t.Run("a wrongly typed field spoils only itself", func(t *testing.T) {
		doc := strings.ReplaceAll(rfc8414Doc, `"grant_types_supported":["authorization_code","refresh_token"]`, `"grant_types_supported":"authorization_code"`)
		ms, c, _ := newMetadataServer(t, map[string]string{"/.well-known/oauth-authorization-server": doc})
		md, err := c.Discover(ctx, ms.URL+"/token")
		if err != nil || md == nil || md.TokenEndpoint != ms.URL+"/token" || md.GrantTypes != nil {
			t.Fatalf("Discover = %+v, %v", md, err)
		}
	})
	t.Run("5xx is an error and not cached", func(t *testing.T) {
		var fail atomic.Bool
		fail.Store(true)
		srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(503)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, strings.ReplaceAll(rfc8414Doc, "{host}", r.Host))
		}))
		_, err := c.Discover(ctx, srv.URL+"/token")
		if e := asError(t, err); e.Class != oauth.ClassDegraded {
			t.Fatalf("Discover on 503 = %v, want degraded", err)
		}
		fail.Store(false)
		if md, err := c.Discover(ctx, srv.URL+"/token"); md == nil || err != nil {
			t.Fatalf("after recovery: %v, %v", md, err)
		}
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		var targetHits atomic.Int32
		target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
		defer target.Close()
		srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path, http.StatusFound)
		}))
		if md, err := c.Discover(ctx, srv.URL+"/token"); md != nil || err != nil {
			t.Fatalf("Discover = %v, %v; want nil, nil", md, err)
		}
		if targetHits.Load() != 0 {
			t.Fatal("redirect followed")
		}
	})
}

func TestChooseMethod(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   *oauth.Metadata
		want oauth.ExchangeMethod
	}{
		{"no metadata", nil, oauth.ExchangeHeaderAndBody},
		{"none listed", &oauth.Metadata{}, oauth.ExchangeHeaderAndBody},
		{"basic and post", &oauth.Metadata{TokenEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"}}, oauth.ExchangeHeaderAndBody},
		{"post and basic", &oauth.Metadata{TokenEndpointAuthMethods: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}}, oauth.ExchangeHeaderAndBody},
		{"basic only", &oauth.Metadata{TokenEndpointAuthMethods: []string{"client_secret_basic"}}, oauth.ExchangeHeaderOnly},
		{"basic and jwt", &oauth.Metadata{TokenEndpointAuthMethods: []string{"client_secret_basic", "private_key_jwt"}}, oauth.ExchangeHeaderOnly},
		{"post only", &oauth.Metadata{TokenEndpointAuthMethods: []string{"client_secret_post"}}, oauth.ExchangeBodyOnly},
		{"neither", &oauth.Metadata{TokenEndpointAuthMethods: []string{"private_key_jwt", "tls_client_auth"}}, oauth.ExchangeHeaderAndBody},
	} {
		if got := oauth.ChooseMethod(tc.md); got != tc.want {
			t.Errorf("ChooseMethod(%s) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPKCEAndState(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, c := oauth.NewPKCE()
		if len(v) < 43 || len(v) > 128 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
			t.Fatalf("verifier %q is not an RFC 7636 verifier", v)
		}
		sum := sha256.Sum256([]byte(v))
		if c != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatalf("challenge %q is not S256 of %q", c, v)
		}
		s := oauth.NewState()
		if raw, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(raw) < 16 || url.QueryEscape(s) != s {
			t.Fatalf("state %q: not >= 128 URL-safe random bits", s)
		}
		if seen[v] || seen[s] {
			t.Fatal("repeated random value")
		}
		seen[v], seen[s] = true, true
	}
}

func TestAuthCodeURL(t *testing.T) {
	cfg := oauth.Config{
		ClientID: "cid", ClientSecret: testSecret, AuthURL: "https://idp.example/authorize?access_type=offline&prompt=consent&state=stale#frag",
		Scope: "openid offline_access", Resource: "https://api.example.com/",
	}
	got, err := url.Parse(oauth.AuthCodeURL(cfg, "st", "ch", "https://gh.example/login/oauth/http.html"))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"access_type": {"offline"}, "prompt": {"consent"},
		"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {"https://gh.example/login/oauth/http.html"},
		"scope": {"openid offline_access"}, "state": {"st"}, "code_challenge": {"ch"}, "code_challenge_method": {"S256"},
		"resource": {"https://api.example.com/"},
	}
	if diff := cmp.Diff(want, got.Query()); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if got.Scheme != "https" || got.Host != "idp.example" || got.Path != "/authorize" || got.Fragment != "" {
		t.Errorf("URL = %s", got)
	}
	if strings.Contains(got.String(), testSecret) {
		t.Error("authorization URL contains the client secret")
	}
	cfg.Scope, cfg.Resource = "", ""
	q, _ := url.Parse(oauth.AuthCodeURL(cfg, "st", "ch", "https://r"))
	if q.Query().Has("scope") || q.Query().Has("resource") {
		t.Errorf("empty scope/resource sent: %s", q)
	}
}

func TestAuthCodeURLPromptConsent(t *testing.T) {
	cases := []struct {
		name, authURL, scope string
		wantPrompt           []string
	}{
		{"openid and offline_access add consent", "https://idp.example/authorize", "openid offline_access api.read", []string{"consent"}},
		{"order does not matter", "https://idp.example/authorize", "api.read offline_access openid", []string{"consent"}},
		{"offline_access without openid", "https://idp.example/authorize", "offline_access api.read", nil},
		{"openid without offline_access", "https://idp.example/authorize", "openid api.read", nil},
		{"tokens are exact, not substrings", "https://idp.example/authorize", "openid offline_access_x", nil},
		{"tokens are exact, not prefixes", "https://idp.example/authorize", "openidx offline_access", nil},
		{"tokens are space separated only", "https://idp.example/authorize", "openid\toffline_access", nil},
		{"empty scope", "https://idp.example/authorize", "", nil},
		{"endpoint prompt is kept", "https://idp.example/authorize?prompt=login", "openid offline_access", []string{"login"}},
		{"endpoint empty prompt is kept", "https://idp.example/authorize?prompt=", "openid offline_access", []string{""}},
		{"endpoint prompt kept without offline", "https://idp.example/authorize?prompt=select_account", "openid", []string{"select_account"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oauth.Config{ClientID: "cid", AuthURL: tc.authURL, Scope: tc.scope}
			u, err := url.Parse(oauth.AuthCodeURL(cfg, "st", "ch", "https://gh.example/login/oauth/http.html"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantPrompt, u.Query()["prompt"]); diff != "" {
				t.Errorf("prompt (-want +got):\n%s\nURL %s", diff, u)
			}
		})
	}
}

// TestAuthCodeURLEndpointQuery proves that the authorization endpoint's own query
// parameters reach the provider (Google's access_type=offline) and that none of them
// can override the standard parameters Gatehouse sets: ours win, every time, with a
// single value.
func TestAuthCodeURLEndpointQuery(t *testing.T) {
	const redirect = "https://gh.example/login/oauth/http.html"
	ours := url.Values{
		"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {redirect},
		"state": {"st"}, "code_challenge": {"ch"}, "code_challenge_method": {"S256"},
		"scope": {"api.read"},
	}
	cases := []struct {
		name, query string
		extra       url.Values
	}{
		{"provider extras are kept", "access_type=offline&include_granted_scopes=true",
			url.Values{"access_type": {"offline"}, "include_granted_scopes": {"true"}}},
		{"state cannot be fixed", "state=attacker", nil},
		{"state cannot be doubled", "state=a&state=b", nil},
		{"PKCE challenge cannot be fixed", "code_challenge=attacker&code_challenge_method=plain", nil},
		{"redirect_uri cannot be moved", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb", nil},
		{"client_id cannot be swapped", "client_id=other", nil},
		{"response_type cannot become token", "response_type=token", nil},
		{"scope cannot be widened", "scope=admin", nil},
		{"all at once with an extra", "response_type=token&client_id=x&redirect_uri=https://evil.example&state=s&code_challenge=c&code_challenge_method=plain&audience=api",
			url.Values{"audience": {"api"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oauth.Config{ClientID: "cid", AuthURL: "https://idp.example/authorize?" + tc.query, Scope: "api.read"}
			u, err := url.Parse(oauth.AuthCodeURL(cfg, "st", "ch", redirect))
			if err != nil {
				t.Fatal(err)
			}
			want := url.Values{}
			for k, v := range ours {
				want[k] = v
			}
			for k, v := range tc.extra {
				want[k] = v
			}
			if diff := cmp.Diff(want, u.Query()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if u.Host != "idp.example" || u.Path != "/authorize" {
				t.Errorf("URL = %s", u)
			}
		})
	}
}
