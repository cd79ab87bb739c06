// Package ssotest runs a real OpenID Connect provider for tests of single sign-on,
// built from ory/fosite's OpenID Connect handlers: authorization code with PKCE (S256
// enforced), ID tokens signed RS256 carrying the nonce, discovery
// (/.well-known/openid-configuration) and JWKS, over TLS on 127.0.0.1. In front of its
// token endpoint sits a small proxy that can rewrite the ID token on its way to the
// client (SetTamper), to test that tampered tokens are refused.
//
// The user of an authorization is the query parameter test_user of the authorization
// request (SetUser declares one); it is auto-consented with every requested scope. A
// request without test_user shows the provider's sign-in page, which asks for the user
// name and sends the request again with it (for browser tests).
package ssotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// The provider's one client, and the key id of its signing key.
const (
	ClientID     = "gatehouse-sso"
	ClientSecret = "sso-client-secret-canary-7f3a9c1e5b"
	KeyID        = "idp-key-1"
)

// Provider is a running OpenID provider.
type Provider struct {
	// URL is the issuer, https://127.0.0.1:PORT.
	URL string

	t        testing.TB
	srv      *httptest.Server
	key      *rsa.PrivateKey
	provider fosite.OAuth2Provider
	client   *fosite.DefaultOpenIDConnectClient

	mu     sync.Mutex // serializes fosite and guards the fields below
	claims map[string]map[string]any
	tamper Tamper
	// seen holds every code and ID token the provider issued, for the canary scan.
	seen []string
}

// Tamper rewrites an ID token's claims and header (both may be changed in place) on
// its way from the token endpoint to the client, and says how to sign the result: a
// *rsa.PrivateKey (Key() for the provider's own, so that only the changed claim is
// wrong), the string "none" for an unsigned token, or nil to keep the original
// signature over the changed claims.
type Tamper func(claims, header map[string]any) (signWith any)

// New starts a provider with one client (ClientID, ClientSecret, client_secret_basic)
// whose redirect URIs are redirectURIs (more with RegisterRedirectURI); it stops when
// the test ends.
func New(t testing.TB, redirectURIs ...string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{t: t, key: key, claims: map[string]map[string]any{}}
	mux := http.NewServeMux()
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	issuer := p.srv.URL
	p.URL = issuer
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := &fosite.Config{
		AccessTokenLifespan: time.Hour, AuthorizeCodeLifespan: 5 * time.Minute, IDTokenLifespan: time.Hour,
		GlobalSecret: secret, EnforcePKCE: true, EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy: fosite.ExactScopeStrategy, IDTokenIssuer: issuer, TokenURL: issuer + "/token",
		ClientSecretsHasher: sha256Hasher{},
	}
	st := storage.NewMemoryStore()
	hash, _ := sha256Hasher{}.Hash(context.Background(), []byte(ClientSecret))
	p.client = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: ClientID, Secret: hash, RedirectURIs: append([]string(nil), redirectURIs...),
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid", "email", "profile"}},
		TokenEndpointAuthMethod: "client_secret_basic",
	}
	st.Clients[ClientID] = p.client
	keyGetter := func(context.Context) (any, error) { return key, nil }
	p.provider = compose.Compose(cfg, st, &compose.CommonStrategy{
		CoreStrategy:               compose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: compose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &fjwt.DefaultSigner{GetPrivateKey: keyGetter},
	}, compose.OAuth2AuthorizeExplicitFactory, compose.OpenIDConnectExplicitFactory, compose.OAuth2PKCEFactory)

	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: KeyID, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.tokenProxy)
	return p
}

// sha256Hasher stores client secrets as SHA-256 (fosite's default, bcrypt, is slow).
type sha256Hasher struct{}

func (sha256Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	h := fmt.Appendf(nil, "%x", sha256.Sum256(data))
	return h, nil
}

func (sha256Hasher) Compare(_ context.Context, hash, data []byte) error {
	if !bytes.Equal(hash, fmt.Appendf(nil, "%x", sha256.Sum256(data))) {
		return fosite.ErrInvalidClient
	}
	return nil
}

// SetUser makes user known to the provider: the authorization request's query
// parameter test_user=user signs in as it (auto-consented), with subject "sub-"+user
// and claims in its ID tokens (email, email_verified, name...).
func (p *Provider) SetUser(user string, claims map[string]any) {
	p.mu.Lock()
	p.claims[user] = claims
	p.mu.Unlock()
}

// SetTamper sets (nil: clears) the rewriting of ID tokens at the token endpoint.
func (p *Provider) SetTamper(fn Tamper) {
	p.mu.Lock()
	p.tamper = fn
	p.mu.Unlock()
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx := r.Context()
	ar, err := p.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	user := r.URL.Query().Get("test_user")
	if !r.URL.Query().Has("test_user") {
		oauthtest.SignInPage(w, r, "the test identity provider")
		return
	}
	extra, ok := p.claims[user]
	if !ok {
		p.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("unknown test_user"))
		return
	}
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	ext := map[string]any{}
	for k, v := range extra {
		ext[k] = v
	}
	sess := &openid.DefaultSession{
		Claims:  &fjwt.IDTokenClaims{Subject: "sub-" + user, Extra: ext, AuthTime: time.Now().UTC(), RequestedAt: time.Now().UTC()},
		Headers: &fjwt.Headers{Extra: map[string]any{"kid": KeyID}},
		Subject: "sub-" + user,
	}
	resp, err := p.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	p.seen = append(p.seen, resp.GetCode())
	p.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// tokenProxy is the proxy in front of the token endpoint: it runs fosite's endpoint,
// then, when a tamper function is set, rewrites the ID token in the answer.
func (p *Provider) tokenProxy(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx := r.Context()
	rec := httptest.NewRecorder()
	ar, err := p.provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
	if err != nil {
		p.provider.WriteAccessError(ctx, rec, ar, err)
	} else if resp, err := p.provider.NewAccessResponse(ctx, ar); err != nil {
		p.provider.WriteAccessError(ctx, rec, ar, err)
	} else {
		p.provider.WriteAccessResponse(ctx, rec, ar, resp)
	}
	body := rec.Body.Bytes()
	var m map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
		if raw, ok := m["id_token"].(string); ok {
			p.seen = append(p.seen, raw)
			if p.tamper != nil {
				raw = p.rewrite(raw)
				m["id_token"] = raw
				p.seen = append(p.seen, raw)
				body, _ = json.Marshal(m)
			}
		}
		if at, ok := m["access_token"].(string); ok {
			p.seen = append(p.seen, at)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// rewrite (on the server's goroutine: it reports problems with Errorf) applies the tamper function to the token's claims and header and signs the
// result with what it returns: a key, "none" for an unsigned token, or nil for the
// original signature kept over the changed payload.
func (p *Provider) rewrite(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		p.t.Errorf("ssotest: id token has %d parts", len(parts))
		return raw
	}
	var header, claims map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		p.t.Errorf("ssotest: id token does not decode")
		return raw
	}
	signWith := p.tamper(claims, header)
	cj, _ := json.Marshal(claims)
	switch k := signWith.(type) {
	case nil:
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(cj) + "." + parts[2]
	case string: // "none"
		hj, _ := json.Marshal(map[string]any{"alg": "none", "kid": KeyID})
		return base64.RawURLEncoding.EncodeToString(hj) + "." + base64.RawURLEncoding.EncodeToString(cj) + "."
	case *rsa.PrivateKey:
		opts := (&jose.SignerOptions{}).WithHeader("kid", header["kid"]).WithType("JWT")
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, opts)
		if err != nil {
			p.t.Errorf("ssotest: %v", err)
			return raw
		}
		obj, err := sig.Sign(cj)
		if err != nil {
			p.t.Errorf("ssotest: %v", err)
			return raw
		}
		out, _ := obj.CompactSerialize()
		return out
	default:
		p.t.Errorf("ssotest: tamper returned %T", signWith)
		return raw
	}
}

// Secrets is the client secret and every code, ID token and access token the provider
// issued (tampered ones included), for canary scans.
func (p *Provider) Secrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{ClientSecret}, p.seen...)
}

// Key is the provider's signing key, for a Tamper that re-signs.
func (p *Provider) Key() *rsa.PrivateKey { return p.key }

// Client is an HTTP client that trusts the provider and never follows redirects.
func (p *Provider) Client() *http.Client {
	hc := p.srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

// RootCAs is a pool with the provider's certificate.
func (p *Provider) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.srv.Certificate())
	return pool
}

// CertPEM is the provider's certificate, PEM-encoded (for --upstream-ca-file).
func (p *Provider) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

// RegisterRedirectURI adds an exact redirect URI to the client.
func (p *Provider) RegisterRedirectURI(uri string) {
	p.mu.Lock()
	p.client.RedirectURIs = append(p.client.RedirectURIs, uri)
	p.mu.Unlock()
}
