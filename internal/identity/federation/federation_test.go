package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/federation"
)

// issuer is a JWT issuer on loopback HTTPS: discovery document and a JWKS that the
// test may rotate.
type issuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int64
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), is.keys...)}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...jose.JSONWebKey) {
	is.mu.Lock()
	is.keys = keys
	is.mu.Unlock()
}

type signer struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
	pub  any
}

func (s signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.pub, KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

func (s signer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var (
	keyOnce          sync.Once
	rsaKey1, rsaKey2 *rsa.PrivateKey
	ecKey            *ecdsa.PrivateKey
)

func keys(t *testing.T) (signer, signer, signer) {
	t.Helper()
	keyOnce.Do(func() {
		rsaKey1, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, _ = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if rsaKey1 == nil || rsaKey2 == nil || ecKey == nil {
		t.Fatal("key generation failed")
	}
	return signer{"rsa-1", jose.RS256, rsaKey1, &rsaKey1.PublicKey},
		signer{"rsa-2", jose.RS256, rsaKey2, &rsaKey2.PublicKey},
		signer{"ec-1", jose.ES256, ecKey, &ecKey.PublicKey}
}

type fakeStore struct {
	mu       sync.Mutex
	sp       *catalog.Principal
	policies []*catalog.FederationPolicy
	tokens   []*catalog.Token
}

func (f *fakeStore) GetPrincipalByName(_ context.Context, name string) (*catalog.Principal, error) {
	if f.sp != nil && name == f.sp.Name {
		c := *f.sp
		return &c, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no principal %s", name)
}

func (f *fakeStore) ListFederationPolicies(_ context.Context, id string) ([]*catalog.FederationPolicy, error) {
	if f.sp == nil || id != f.sp.ID {
		return nil, nil
	}
	return f.policies, nil
}

func (f *fakeStore) CreateToken(_ context.Context, t *catalog.Token) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, t)
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func form(token, clientID string) url.Values {
	return url.Values{"grant_type": {federation.GrantType}, "subject_token": {token},
		"subject_token_type": {federation.TokenTypeJWT}, "client_id": {clientID}}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// fixture: a service principal with two discovery policies (different audiences and
// subjects) and one static-JWKS policy of another issuer.
type fixture struct {
	is       *issuer
	st       *fakeStore
	clk      *clock
	x        *federation.Exchange
	r1, r2   signer
	ec       signer
	staticIs string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r1, r2, ec := keys(t)
	is := newIssuer(t)
	is.setKeys(r1.jwk(), ec.jwk())
	clk := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	static, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{r2.jwk()}})
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{sp: &catalog.Principal{ID: "sp-id", Kind: catalog.KindServicePrincipal, Name: "app-1", Active: true}}
	st.policies = []*catalog.FederationPolicy{
		{ID: "pol-ci", PrincipalID: "sp-id", Issuer: is.srv.URL, Audiences: []string{"gatehouse"}, Subject: "repo:acme/app:ref:main", SubjectClaim: "sub"},
		{ID: "pol-k8s", PrincipalID: "sp-id", Issuer: is.srv.URL, Audiences: []string{"https://gatehouse.example", "other"}, Subject: "system:serviceaccount:prod:app", SubjectClaim: "sub"},
		{ID: "pol-email", PrincipalID: "sp-id", Issuer: is.srv.URL, Audiences: []string{"mail"}, Subject: "bot@example.com", SubjectClaim: "email"},
		{ID: "pol-static", PrincipalID: "sp-id", Issuer: "https://private.cluster.local", Audiences: []string{"gatehouse"}, Subject: "system:serviceaccount:x:y", JWKSJSON: string(static)},
	}
	hc := is.srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	x := federation.New(st, federation.Options{HTTPClient: hc, Now: clk.now})
	return &fixture{is: is, st: st, clk: clk, x: x, r1: r1, r2: r2, ec: ec, staticIs: "https://private.cluster.local"}
}

func (f *fixture) claims(iss, sub, aud string) map[string]any {
	now := f.clk.now()
	return map[string]any{"iss": iss, "sub": sub, "aud": aud, "exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix()}
}

func (f *fixture) exchange(t *testing.T, token string) (*identity.TokenResponse, *identity.GrantError) {
	t.Helper()
	resp, err := f.x.Exchange(context.Background(), identity.TokenRequest{Form: form(token, "app-1")})
	if err == nil {
		return resp, nil
	}
	ge, ok := err.(*identity.GrantError)
	if !ok {
		t.Fatalf("error is not a GrantError: %v", err)
	}
	return nil, ge
}

func TestExchangeAccepts(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, policy string
		token        func() string
	}{
		{"ci policy RS256", "pol-ci", func() string { return f.r1.sign(t, f.claims(f.is.srv.URL, "repo:acme/app:ref:main", "gatehouse")) }},
		{"k8s policy, audience among several", "pol-k8s", func() string {
			c := f.claims(f.is.srv.URL, "system:serviceaccount:prod:app", "")
			c["aud"] = []string{"unrelated", "other"}
			return f.r1.sign(t, c)
		}},
		{"email subject claim ES256", "pol-email", func() string {
			c := f.claims(f.is.srv.URL, "someone-else", "mail")
			c["email"] = "bot@example.com"
			return f.ec.sign(t, c)
		}},
		{"static JWKS policy", "pol-static", func() string {
			return f.r2.sign(t, f.claims(f.staticIs, "system:serviceaccount:x:y", "gatehouse"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.st.tokens)
			resp, ge := f.exchange(t, c.token())
			if ge != nil {
				t.Fatalf("refused: %v (%s)", ge, ge.Log)
			}
			if resp.TokenType != "Bearer" || resp.IssuedTokenType != federation.TokenTypeAccess || resp.AccessToken == "" {
				t.Fatalf("response %+v", resp)
			}
			if len(f.st.tokens) != before+1 {
				t.Fatalf("tokens stored: %d, want %d", len(f.st.tokens), before+1)
			}
			tok := f.st.tokens[len(f.st.tokens)-1]
			if tok.PrincipalID != "sp-id" || string(tok.Hash) != string(identity.HashToken(resp.AccessToken)) {
				t.Fatalf("stored token %+v does not belong to the service principal or the value", tok)
			}
			if tok.Comment != "federation policy "+c.policy {
				t.Fatalf("matched %q, want policy %s", tok.Comment, c.policy)
			}
			if want := f.clk.now().Add(10 * time.Minute); !tok.ExpiresAt.Equal(want) || resp.ExpiresIn != 600 {
				t.Fatalf("expires %v (in %d), want the JWT's exp %v", tok.ExpiresAt, resp.ExpiresIn, want)
			}
		})
	}
}

func TestExchangeLifetimeAtMostAnHour(t *testing.T) {
	f := newFixture(t)
	c := f.claims(f.is.srv.URL, "repo:acme/app:ref:main", "gatehouse")
	c["exp"] = f.clk.now().Add(24 * time.Hour).Unix()
	resp, ge := f.exchange(t, f.r1.sign(t, c))
	if ge != nil {
		t.Fatal(ge)
	}
	if resp.ExpiresIn != 3600 || !f.st.tokens[0].ExpiresAt.Equal(f.clk.now().Add(time.Hour)) {
		t.Fatalf("expires_in %d, want 3600", resp.ExpiresIn)
	}
}

func TestExchangeRefuses(t *testing.T) {
	f := newFixture(t)
	iss := f.is.srv.URL
	sub := "repo:acme/app:ref:main"
	now := f.clk.now()
	with := func(k string, v any) func() string {
		return func() string {
			c := f.claims(iss, sub, "gatehouse")
			c[k] = v
			return f.r1.sign(t, c)
		}
	}
	cases := []struct {
		name, code, desc string
		token            func() string
	}{
		{"wrong issuer", "invalid_grant", "issuer not accepted by any federation policy of this service principal", with("iss", "https://evil.example")},
		{"issuer differing by a slash", "invalid_grant", "issuer not accepted by any federation policy of this service principal", with("iss", iss+"/")},
		{"wrong audience", "invalid_grant", "audience not accepted by any federation policy of this service principal", with("aud", "someone-else")},
		{"wrong subject", "invalid_grant", "subject not accepted by any federation policy of this service principal", with("sub", "repo:acme/app:ref:dev")},
		{"subject prefix", "invalid_grant", "subject not accepted by any federation policy of this service principal", with("sub", "repo:acme/app")},
		{"expired", "invalid_grant", "token expired", with("exp", now.Add(-time.Second).Unix())},
		{"no expiry", "invalid_grant", "token has no expiry (exp)", func() string {
			c := f.claims(iss, sub, "gatehouse")
			delete(c, "exp")
			return f.r1.sign(t, c)
		}},
		{"not yet valid", "invalid_grant", "token not yet valid (nbf)", with("nbf", now.Add(5*time.Minute).Unix())},
		{"issued in the future", "invalid_grant", "token issued in the future (iat)", with("iat", now.Add(5*time.Minute).Unix())},
		{"alg none", "invalid_grant", "signature algorithm not allowed", func() string {
			return b64(map[string]string{"alg": "none", "kid": "rsa-1"}) + "." + b64(f.claims(iss, sub, "gatehouse")) + "."
		}},
		{"HS256 with the RSA public key as secret", "invalid_grant", "signature algorithm not allowed", func() string {
			der, _ := x509.MarshalPKIXPublicKey(&rsaKey1.PublicKey)
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return signer{kid: "rsa-1", alg: jose.HS256, priv: secret}.sign(t, f.claims(iss, sub, "gatehouse"))
		}},
		{"ES256 header over an RSA key", "invalid_grant", "signature algorithm not allowed", func() string {
			return signer{kid: "rsa-1", alg: jose.ES256, priv: ecKey}.sign(t, f.claims(iss, sub, "gatehouse"))
		}},
		{"unknown kid", "invalid_grant", "key id (kid) not found in the issuer's keys", func() string {
			return signer{kid: "nope", alg: jose.RS256, priv: rsaKey1}.sign(t, f.claims(iss, sub, "gatehouse"))
		}},
		{"signed by another key under a known kid", "invalid_grant", "signature does not verify", func() string {
			return signer{kid: "rsa-1", alg: jose.RS256, priv: rsaKey2}.sign(t, f.claims(iss, sub, "gatehouse"))
		}},
		{"tampered payload", "invalid_grant", "signature does not verify", func() string {
			tok := f.r1.sign(t, f.claims(iss, sub, "gatehouse"))
			parts := strings.Split(tok, ".")
			c := f.claims(iss, sub, "gatehouse")
			c["extra"] = "x"
			parts[1] = b64(c)
			return strings.Join(parts, ".")
		}},
		{"static policy, key not in its JWKS", "invalid_grant", "key id (kid) not found in the issuer's keys", func() string {
			return f.r1.sign(t, f.claims(f.staticIs, "system:serviceaccount:x:y", "gatehouse"))
		}},
		{"not a JWT", "invalid_request", "subject_token is not a signed JWT", func() string { return "abc" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token()
			resp, ge := f.exchange(t, tok)
			if ge == nil {
				t.Fatalf("accepted: %+v", resp)
			}
			if ge.Code != c.code || ge.Description != c.desc {
				t.Fatalf("got %s %q, want %s %q", ge.Code, ge.Description, c.code, c.desc)
			}
			if strings.Contains(ge.Error(), tok) || strings.Contains(ge.Log, tok) {
				t.Fatal("the error quotes the token")
			}
		})
	}
	if len(f.st.tokens) != 0 {
		t.Fatalf("%d tokens were stored by refused exchanges", len(f.st.tokens))
	}
}

func TestExchangeRequestChecks(t *testing.T) {
	f := newFixture(t)
	good := f.r1.sign(t, f.claims(f.is.srv.URL, "repo:acme/app:ref:main", "gatehouse"))
	cases := []struct {
		name, code string
		edit       func(url.Values, *identity.TokenRequest)
		active     bool
	}{
		{"no subject_token", "invalid_request", func(v url.Values, _ *identity.TokenRequest) { v.Del("subject_token") }, true},
		{"wrong subject_token_type", "invalid_request", func(v url.Values, _ *identity.TokenRequest) {
			v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")
		}, true},
		{"subject_token too large", "invalid_request", func(v url.Values, _ *identity.TokenRequest) {
			v.Set("subject_token", strings.Repeat("a", federation.MaxSubjectTokenBytes+1))
		}, true},
		{"actor_token", "invalid_request", func(v url.Values, _ *identity.TokenRequest) { v.Set("actor_token", "x") }, true},
		{"Basic user differs from client_id", "invalid_request", func(v url.Values, r *identity.TokenRequest) { r.BasicID = "app-2" }, true},
		{"no client_id", "invalid_request", func(v url.Values, _ *identity.TokenRequest) { v.Del("client_id") }, true},
		{"unknown client_id", "invalid_client", func(v url.Values, _ *identity.TokenRequest) { v.Set("client_id", "app-2") }, true},
		{"client secret given", "invalid_client", func(v url.Values, r *identity.TokenRequest) { r.BasicID, r.BasicSecret = "app-1", "s" }, true},
		{"resource asked", "invalid_target", func(v url.Values, _ *identity.TokenRequest) { v.Set("resource", "https://x") }, true},
		{"deactivated service principal", "invalid_client", func(url.Values, *identity.TokenRequest) {}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.st.sp.Active = c.active
			defer func() { f.st.sp.Active = true }()
			req := identity.TokenRequest{Form: form(good, "app-1")}
			c.edit(req.Form, &req)
			_, err := f.x.Exchange(context.Background(), req)
			ge, ok := err.(*identity.GrantError)
			if !ok || ge.Code != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
	if len(f.st.tokens) != 0 {
		t.Fatal("a refused request stored a token")
	}
}

func TestExchangeRotatingJWKS(t *testing.T) {
	f := newFixture(t)
	iss, sub := f.is.srv.URL, "repo:acme/app:ref:main"
	if _, ge := f.exchange(t, f.r1.sign(t, f.claims(iss, sub, "gatehouse"))); ge != nil {
		t.Fatal(ge)
	}
	if n := f.is.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
	// Cached: a second exchange does not fetch.
	if _, ge := f.exchange(t, f.r1.sign(t, f.claims(iss, sub, "gatehouse"))); ge != nil {
		t.Fatal(ge)
	}
	if n := f.is.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cached)", n)
	}
	// The issuer rotates: rsa-2 replaces rsa-1.
	f.is.setKeys(f.r2.jwk())
	f.clk.add(federation.MinRefetch)
	if _, ge := f.exchange(t, f.r2.sign(t, f.claims(iss, sub, "gatehouse"))); ge != nil {
		t.Fatalf("new key refused after rotation: %v (%s)", ge, ge.Log)
	}
	if n := f.is.fetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (one refetch for the new kid)", n)
	}
	// The old key is gone from the refetched set: refused, and no refetch within MinRefetch.
	_, ge := f.exchange(t, f.r1.sign(t, f.claims(iss, sub, "gatehouse")))
	if ge == nil || ge.Description != "key id (kid) not found in the issuer's keys" {
		t.Fatalf("old key: got %v", ge)
	}
	for range 5 {
		_, _ = f.exchange(t, signer{kid: "unknown", alg: jose.RS256, priv: rsaKey1}.sign(t, f.claims(iss, sub, "gatehouse")))
	}
	if n := f.is.fetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2: unknown kids must not refetch more than once per %v", n, federation.MinRefetch)
	}
	// Past the TTL the keys are fetched again.
	f.clk.add(federation.KeyTTL)
	if _, ge := f.exchange(t, f.r2.sign(t, f.claims(iss, sub, "gatehouse"))); ge != nil {
		t.Fatal(ge)
	}
	if n := f.is.fetches.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times, want 3 after the TTL", n)
	}
}

func TestParseJWKS(t *testing.T) {
	r1, _, ec := keys(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	enc := func(keys ...jose.JSONWebKey) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, jwks string
		ok         bool
	}{
		{"rsa and ec public", enc(r1.jwk(), ec.jwk()), true},
		{"private key", enc(jose.JSONWebKey{Key: rsaKey1, KeyID: "p", Algorithm: "RS256"}), false},
		{"symmetric key", enc(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h", Algorithm: "HS256"}), false},
		{"small rsa", enc(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "s"}), false},
		{"P-384", enc(jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "e"}), false},
		{"rsa key named PS256", enc(jose.JSONWebKey{Key: &rsaKey1.PublicKey, KeyID: "r", Algorithm: "PS256"}), false},
		{"no kid", enc(jose.JSONWebKey{Key: &rsaKey1.PublicKey}), false},
		{"encryption key", enc(jose.JSONWebKey{Key: &rsaKey1.PublicKey, KeyID: "r", Use: "enc"}), false},
		{"empty", `{"keys":[]}`, false},
		{"not json", `keys`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := federation.ParseJWKS([]byte(c.jwks))
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
			if err != nil && strings.Contains(err.Error(), `"n"`) {
				t.Fatal("the error quotes key material")
			}
		})
	}
}

// TestDiscoveryConfined: a discovery document whose jwks_uri leaves the issuer's origin,
// or that names another issuer, gives no keys, and the other origin is never asked.
func TestDiscoveryConfined(t *testing.T) {
	r1, _, _ := keys(t)
	elsewhere := newIssuer(t)
	elsewhere.setKeys(r1.jwk())
	for name, doc := range map[string]func(self string) map[string]string{
		"jwks_uri on another origin": func(self string) map[string]string {
			return map[string]string{"issuer": self, "jwks_uri": elsewhere.srv.URL + "/keys"}
		},
		"another issuer": func(string) map[string]string {
			return map[string]string{"issuer": elsewhere.srv.URL, "jwks_uri": elsewhere.srv.URL + "/keys"}
		},
		"jwks_uri with credentials": func(self string) map[string]string {
			return map[string]string{"issuer": self, "jwks_uri": strings.Replace(self, "https://", "https://u:pw-secret@", 1) + "/keys"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var srv *httptest.Server
			var paths atomic.Int32
			srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				paths.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(doc(srv.URL))
			}))
			defer srv.Close()
			clk := &clock{t: time.Now()}
			st := &fakeStore{sp: &catalog.Principal{ID: "sp", Kind: catalog.KindServicePrincipal, Name: "app-1", Active: true},
				policies: []*catalog.FederationPolicy{{ID: "p", Issuer: srv.URL, Audiences: []string{"a"}, Subject: "s"}}}
			hc := srv.Client()
			hc.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(elsewhere.srv.Certificate())
			x := federation.New(st, federation.Options{HTTPClient: hc, Now: clk.now})
			now := clk.now()
			tok := r1.sign(t, map[string]any{"iss": srv.URL, "sub": "s", "aud": "a", "exp": now.Add(time.Minute).Unix()})
			before := elsewhere.fetches.Load()
			_, err := x.Exchange(context.Background(), identity.TokenRequest{Form: form(tok, "app-1")})
			ge, ok := err.(*identity.GrantError)
			if !ok || ge.Description != "the issuer's keys could not be read" {
				t.Fatalf("got %v", err)
			}
			if strings.Contains(ge.Log, "pw-secret") {
				t.Fatalf("the log detail quotes the jwks_uri's password: %s", ge.Log)
			}
			if elsewhere.fetches.Load() != before || paths.Load() != 1 {
				t.Fatalf("only the discovery document may be fetched (%d requests to the issuer)", paths.Load())
			}
		})
	}
}
