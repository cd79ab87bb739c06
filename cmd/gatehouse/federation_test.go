package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fedIssuer is a JWT issuer on loopback HTTPS: a discovery document and a JWKS.
type fedIssuer struct {
	*httptest.Server
	caFile string
	mu     sync.Mutex
	keys   []jose.JSONWebKey
}

func newFedIssuer(t *testing.T) *fedIssuer {
	t.Helper()
	is := &fedIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		set := jose.JSONWebKeySet{Keys: is.keys}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	is.Server = httptest.NewTLSServer(mux)
	t.Cleanup(is.Close)
	is.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(is.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return is
}

type fedKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
}

func (k fedKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type tokenAnswer struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Error           string `json:"error"`
	Description     string `json:"error_description"`
}

// exchangeAt posts a token exchange for clientID to /oidc/v1/token.
func exchangeAt(t *testing.T, ts *testServer, clientID, subjectToken string) (int, http.Header, tokenAnswer) {
	t.Helper()
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subjectToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}, "client_id": {clientID}}
	return postTokenForm(t, ts, form.Encode(), "application/x-www-form-urlencoded")
}

func postTokenForm(t *testing.T, ts *testServer, body, contentType string) (int, http.Header, tokenAnswer) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.URL+"/oidc/v1/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ts.responses.Write(b)
	var a tokenAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("token endpoint answered %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, resp.Header, a
}

// TestFederationEndToEnd: a service principal with federation policies (one through
// the issuer's discovery on loopback HTTPS, made with the CLI; one with a static JWKS,
// made with the API) exchanges JWTs at /oidc/v1/token for Gatehouse tokens that call
// through a connection it holds USE_CONNECTION on, until the JWT's expiry; every refusal
// answers RFC 6749 §5.2 with the check that failed; neither the JWTs nor the issued
// tokens appear in a log line, an audit record or the data folder.
func TestFederationEndToEnd(t *testing.T) {
	is := newFedIssuer(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ci := fedKey{"ci-1", jose.RS256, rsaKey}
	static := fedKey{"cluster-1", jose.ES256, ecKey}
	is.keys = []jose.JSONWebKey{{Key: &rsaKey.PublicKey, KeyID: ci.kid, Algorithm: "RS256", Use: "sig"}}
	up := newUpstream(t, nil)
	// Every refusal below is an unauthenticated request: raise the rate past which
	// they are only counted in a summary, so that each is recorded on its own.
	ts := startServer(t, "", nil, "--upstream-ca-file", joinCAFiles(t, is.caFile, up.caFile), "--audit-unauthenticated-rate", "1000")
	w := &proxyWorld{ts: ts, up: up}

	ts.must("POST", "/api/2.0/preview/scim/v2/ServicePrincipals", ts.Admin, map[string]any{"applicationId": "ci-deployer", "displayName": "CI"}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "echo", "options": map[string]string{
		"host": up.URL, "bearer_token": "CANARY-upstream-credential"}}, nil)
	ts.grant("connection", "echo", "ci-deployer", "USE_CONNECTION")

	const sub = "repo:acme/app:ref:refs/heads/main"
	out, err := ts.cli(ts.Admin, "", "service-principals", "federation-policies", "create", "ci-deployer",
		"--issuer", is.URL, "--audience", "gatehouse", "--subject", sub, "-o", "json")
	if err != nil {
		t.Fatalf("create policy: %s", out)
	}
	var ciPolicy struct {
		ID           string `json:"id"`
		SubjectClaim string `json:"subject_claim"`
	}
	if err := json.Unmarshal([]byte(out), &ciPolicy); err != nil || ciPolicy.ID == "" || ciPolicy.SubjectClaim != "sub" {
		t.Fatalf("create policy answered %s (%v)", out, err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ecKey.PublicKey, KeyID: static.kid, Algorithm: "ES256"}}})
	var staticPolicy struct {
		ID string `json:"id"`
	}
	jwksFile := filepath.Join(t.TempDir(), "cluster.jwks")
	if err := os.WriteFile(jwksFile, append(jwks, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = ts.cli(ts.Admin, "", "service-principals", "federation-policies", "create", "ci-deployer",
		"--issuer", "https://cluster.internal.example", "--audience", "gatehouse", "--subject", "system:serviceaccount:prod:deployer",
		"--jwks-file", jwksFile, "-o", "json")
	if err != nil {
		t.Fatalf("create policy with --jwks-file: %s", out)
	}
	if err := json.Unmarshal([]byte(out), &staticPolicy); err != nil || staticPolicy.ID == "" {
		t.Fatalf("create policy with --jwks-file answered %s (%v)", out, err)
	}
	if out, err := ts.cli(ts.Admin, "", "service-principals", "federation-policies", "list", "ci-deployer"); err != nil ||
		!strings.Contains(out, ciPolicy.ID) || !strings.Contains(out, staticPolicy.ID) {
		t.Fatalf("list: %s", out)
	}

	// Bad policies are refused and change nothing.
	for name, body := range map[string]map[string]any{
		"http issuer":      {"issuer": "http://" + strings.TrimPrefix(is.URL, "https://"), "audiences": []string{"a"}, "subject": "s"},
		"no audiences":     {"issuer": is.URL, "audiences": []string{}, "subject": "s"},
		"no subject":       {"issuer": is.URL, "audiences": []string{"a"}, "subject": ""},
		"private key jwks": {"issuer": is.URL, "audiences": []string{"a"}, "subject": "s", "jwks_json": privateJWKS(t, rsaKey)},
		"unknown field":    {"issuer": is.URL, "audiences": []string{"a"}, "subject": "s", "subjects": "x"},
	} {
		if status, b := ts.do("POST", "/api/2.0/gatehouse/service-principals/ci-deployer/federation-policies", ts.Admin, body); status != 400 {
			t.Errorf("%s: %d %s, want 400", name, status, b)
		}
	}
	_, aliceTok := ts.mkUser("alice@example.com")
	if status, _ := ts.do("GET", "/api/2.0/gatehouse/service-principals/ci-deployer/federation-policies", aliceTok, nil); status != 403 {
		t.Errorf("a non-admin listed federation policies: %d", status)
	}

	claims := func(iss, sub string, life time.Duration) map[string]any {
		now := time.Now()
		return map[string]any{"iss": iss, "sub": sub, "aud": "gatehouse", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix()}
	}
	var secrets []string
	callEcho := func(token string) int {
		resp, _ := w.call(token, "GET", "/x", nil, "")
		return resp.StatusCode
	}

	t.Run("exchange and call", func(t *testing.T) {
		for name, jwtValue := range map[string]string{
			"discovery policy":   ci.sign(t, claims(is.URL, sub, 10*time.Minute)),
			"static JWKS policy": static.sign(t, claims("https://cluster.internal.example", "system:serviceaccount:prod:deployer", 10*time.Minute)),
		} {
			status, h, a := exchangeAt(t, ts, "ci-deployer", jwtValue)
			if status != 200 || a.AccessToken == "" || a.TokenType != "Bearer" || a.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
				t.Fatalf("%s: %d %+v", name, status, a)
			}
			if h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("%s: headers %v", name, h)
			}
			if a.ExpiresIn < 590 || a.ExpiresIn > 600 {
				t.Errorf("%s: expires_in %d, want the JWT's remaining ~600", name, a.ExpiresIn)
			}
			secrets = append(secrets, jwtValue, a.AccessToken)
			if got := callEcho(a.AccessToken); got != http.StatusTeapot {
				t.Errorf("%s: call through echo answered %d, want the upstream's 418", name, got)
			}
			var me struct {
				ApplicationID string `json:"applicationId"`
			}
			ts.must("GET", "/api/2.0/preview/scim/v2/Me", a.AccessToken, nil, &me)
			if me.ApplicationID != "ci-deployer" {
				t.Errorf("%s: the token is of %q", name, me.ApplicationID)
			}
		}
		l := ts.waitAudit("action=tokenCreate&principal=ci-deployer", 2)
		matched := map[string]bool{}
		for _, e := range l.Events {
			if e.Decision == "ALLOW" {
				matched[e.RequestParams["federation_policy_id"]] = true
			}
		}
		if !matched[ciPolicy.ID] || !matched[staticPolicy.ID] {
			t.Errorf("tokenCreate records name policies %v, want %s and %s", matched, ciPolicy.ID, staticPolicy.ID)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		with := func(k string, v any) string {
			c := claims(is.URL, sub, 10*time.Minute)
			c[k] = v
			return ci.sign(t, c)
		}
		otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		c0 := claims(is.URL, sub, time.Minute)
		delete(c0, "exp")
		noExp := ci.sign(t, c0)
		cases := []struct {
			name, client, token string
			status              int
			code, desc          string
		}{
			{"wrong issuer", "ci-deployer", with("iss", "https://evil.example"), 400, "invalid_grant", "issuer not accepted by any federation policy of this service principal"},
			{"wrong audience", "ci-deployer", with("aud", "other"), 400, "invalid_grant", "audience not accepted by any federation policy of this service principal"},
			{"wrong subject", "ci-deployer", with("sub", "repo:acme/app:ref:refs/heads/dev"), 400, "invalid_grant", "subject not accepted by any federation policy of this service principal"},
			{"expired", "ci-deployer", with("exp", time.Now().Add(-time.Minute).Unix()), 400, "invalid_grant", "token expired"},
			{"not yet valid", "ci-deployer", with("nbf", time.Now().Add(10*time.Minute).Unix()), 400, "invalid_grant", "token not yet valid (nbf)"},
			{"alg none", "ci-deployer", b64(map[string]string{"alg": "none", "kid": ci.kid}) + "." + b64(claims(is.URL, sub, time.Minute)) + ".", 400, "invalid_grant", "signature algorithm not allowed"},
			{"HS256 with the public key as secret", "ci-deployer", fedKey{ci.kid, jose.HS256, pubPEM}.sign(t, claims(is.URL, sub, time.Minute)), 400, "invalid_grant", "signature algorithm not allowed"},
			{"unknown kid", "ci-deployer", fedKey{"ci-9", jose.RS256, rsaKey}.sign(t, claims(is.URL, sub, time.Minute)), 400, "invalid_grant", "key id (kid) not found in the issuer's keys"},
			{"another key under the kid", "ci-deployer", fedKey{ci.kid, jose.ES256, ecKey}.sign(t, claims(is.URL, sub, time.Minute)), 400, "invalid_grant", "signature algorithm not allowed"},
			{"issuer with a trailing slash", "ci-deployer", with("iss", is.URL+"/"), 400, "invalid_grant", "issuer not accepted by any federation policy of this service principal"},
			{"issued in the future", "ci-deployer", with("iat", time.Now().Add(10*time.Minute).Unix()), 400, "invalid_grant", "token issued in the future (iat)"},
			{"no expiry", "ci-deployer", noExp, 400, "invalid_grant", "token has no expiry (exp)"},
			{"signed by another RSA key", "ci-deployer", fedKey{ci.kid, jose.RS256, otherRSA}.sign(t, claims(is.URL, sub, time.Minute)), 400, "invalid_grant", "signature does not verify"},
			{"static policy, kid not in its JWKS", "ci-deployer", fedKey{"cluster-2", jose.ES256, ecKey}.sign(t, claims("https://cluster.internal.example", "system:serviceaccount:prod:deployer", time.Minute)), 400, "invalid_grant", "key id (kid) not found in the issuer's keys"},
			{"unknown client", "nobody", with("sub", sub), 401, "invalid_client", "client_id is not the application id of a service principal"},
			{"not a JWT", "ci-deployer", "not-a-jwt", 400, "invalid_request", "subject_token is not a signed JWT"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, h, a := exchangeAt(t, ts, c.client, c.token)
				if status != c.status || a.Error != c.code || a.Description != c.desc || a.AccessToken != "" {
					t.Fatalf("got %d %s %q, want %d %s %q", status, a.Error, a.Description, c.status, c.code, c.desc)
				}
				if h.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
				}
			})
			secrets = append(secrets, c.token)
		}
		denied := 0
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			l := ts.waitAudit("action=tokenCreate", len(cases)+2)
			denied = 0
			for _, e := range l.Events {
				if e.Decision == "DENY" && e.RequestParams["endpoint"] == "/oidc/v1/token" && e.RequestParams["error_description"] != "" {
					denied++
				}
			}
			if denied >= len(cases) || time.Now().After(deadline) {
				break
			}
		}
		if denied < len(cases) {
			t.Errorf("%d refused exchanges audited with their description, want %d", denied, len(cases))
		}
		for name, req := range map[string][2]string{
			"json body":           {`{"grant_type":"x"}`, "application/json"},
			"parameter twice":     {"grant_type=a&grant_type=b", "application/x-www-form-urlencoded"},
			"unknown grant_type":  {"grant_type=password&username=u", "application/x-www-form-urlencoded"},
			"missing grant_type":  {"client_id=ci-deployer", "application/x-www-form-urlencoded"},
			"missing subject_tok": {"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=ci-deployer", "application/x-www-form-urlencoded"},
		} {
			status, _, a := postTokenForm(t, ts, req[0], req[1])
			want := "invalid_request"
			if name == "unknown grant_type" {
				want = "unsupported_grant_type"
			}
			if status != 400 || a.Error != want {
				t.Errorf("%s: %d %+v, want 400 %s", name, status, a, want)
			}
		}
	})

	t.Run("token ends with the JWT", func(t *testing.T) {
		short := ci.sign(t, claims(is.URL, sub, 3*time.Second))
		status, _, a := exchangeAt(t, ts, "ci-deployer", short)
		if status != 200 {
			t.Fatalf("exchange: %d %+v", status, a)
		}
		secrets = append(secrets, short, a.AccessToken)
		if a.ExpiresIn > 3 {
			t.Fatalf("expires_in %d outlives the JWT", a.ExpiresIn)
		}
		if got := callEcho(a.AccessToken); got != http.StatusTeapot {
			t.Fatalf("before expiry: %d", got)
		}
		deadline := time.Now().Add(10 * time.Second)
		for callEcho(a.AccessToken) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatal("the issued token still works 10s after the JWT expired")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("deactivated service principal", func(t *testing.T) {
		var sps struct {
			Resources []struct {
				ID string `json:"id"`
			} `json:"Resources"`
		}
		ts.must("GET", "/api/2.0/preview/scim/v2/ServicePrincipals?filter="+url.QueryEscape(`applicationId eq "ci-deployer"`), ts.Admin, nil, &sps)
		if len(sps.Resources) != 1 {
			t.Fatalf("service principal lookup: %+v", sps)
		}
		ts.must("PATCH", "/api/2.0/preview/scim/v2/ServicePrincipals/"+sps.Resources[0].ID, ts.Admin, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
		good := ci.sign(t, claims(is.URL, sub, time.Minute))
		secrets = append(secrets, good)
		status, _, a := exchangeAt(t, ts, "ci-deployer", good)
		if status != 401 || a.Error != "invalid_client" || a.Description != "service principal is deactivated" {
			t.Fatalf("got %d %+v", status, a)
		}
	})

	t.Run("canary scan", func(t *testing.T) {
		var audit strings.Builder
		l := ts.waitAudit("limit=1000", 1)
		b, _ := json.Marshal(l)
		audit.Write(b)
		ts.Stop()
		var files strings.Builder
		_ = filepath.WalkDir(ts.DataDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(p); err == nil {
					files.Write(b)
				}
			}
			return nil
		})
		for _, s := range secrets {
			if len(s) < 16 {
				continue
			}
			for where, text := range map[string]string{"stdout": ts.Stdout.String(), "stderr": ts.Stderr.String(), "audit": audit.String(), "data folder": files.String()} {
				if strings.Contains(text, s) {
					t.Errorf("a JWT or issued token (%d bytes) appears in the %s", len(s), where)
				}
			}
		}
	})
}

func privateJWKS(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "p", Algorithm: "RS256"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
