package oauthtest_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

const redirectURI = "http://127.0.0.1:8080/login/oauth/http.html"

var (
	basicClient = oauthtest.Client{ID: "basic-client", Secret: "basic:secret%", AuthMethod: oauthtest.AuthBasic, RedirectURIs: []string{redirectURI}}
	postClient  = oauthtest.Client{ID: "post-client", Secret: "post-secret", AuthMethod: oauthtest.AuthPost, RedirectURIs: []string{redirectURI}}
	m2mClient   = oauthtest.Client{ID: "m2m-client", Secret: "m2m-secret", GrantTypes: []string{"client_credentials"}}
)

func newServer(t *testing.T, opts oauthtest.Options) *oauthtest.Server {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = []oauthtest.Client{basicClient, postClient, m2mClient}
	}
	return oauthtest.New(t, opts)
}

// how a request authenticates the client
type auth int

const (
	viaBasic auth = iota
	viaBody
	viaBoth
)

type tokenAnswer struct {
	Status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func post(t *testing.T, s *oauthtest.Server, endpoint string, c oauthtest.Client, how auth, form url.Values) (int, []byte) {
	t.Helper()
	if how == viaBody || how == viaBoth {
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if how == viaBasic || how == viaBoth {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	hc := s.Client()
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func tokenRequest(t *testing.T, s *oauthtest.Server, c oauthtest.Client, how auth, form url.Values) tokenAnswer {
	t.Helper()
	status, body := post(t, s, s.TokenURL, c, how, form)
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("token answer %d is not JSON: %s", status, body)
	}
	a.Status = status
	return a
}

func mustToken(t *testing.T, a tokenAnswer) tokenAnswer {
	t.Helper()
	if a.Status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("token request = %d %s: %s, want 200 with an access token", a.Status, a.Error, a.Description)
	}
	return a
}

func wantError(t *testing.T, a tokenAnswer, code string) {
	t.Helper()
	if a.Error != code || a.AccessToken != "" {
		t.Fatalf("token request = %d %q (%s), want error %q", a.Status, a.Error, a.Description, code)
	}
}

func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 20) + base64.RawURLEncoding.EncodeToString([]byte(time.Now().String()))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// login runs the browser part of the authorization code flow and returns the code.
func login(t *testing.T, s *oauthtest.Server, c oauthtest.Client, user, scope, challenge string) string {
	t.Helper()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.ID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {"state-0123456789"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	if challenge == "" {
		q.Del("code_challenge")
		q.Del("code_challenge_method")
	}
	loc, err := s.Authorize(s.AuthorizeURL+"?"+q.Encode(), user)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if e := loc.Query().Get("error"); e != "" {
		return "error:" + e
	}
	if got := loc.Query().Get("state"); got != "state-0123456789" {
		t.Fatalf("redirect state = %q, want state-0123456789", got)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query().Get("code")
}

// userTokens logs user in and redeems the code.
func userTokens(t *testing.T, s *oauthtest.Server, c oauthtest.Client, how auth, user, scope string) tokenAnswer {
	t.Helper()
	verifier, challenge := pkce()
	code := login(t, s, c, user, scope, challenge)
	return mustToken(t, tokenRequest(t, s, c, how, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier},
	}))
}

func refresh(t *testing.T, s *oauthtest.Server, c oauthtest.Client, rt string) tokenAnswer {
	t.Helper()
	return tokenRequest(t, s, c, viaBasic, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func wantActive(t *testing.T, s *oauthtest.Server, token string, active bool, sub string) {
	t.Helper()
	gotActive, gotSub := s.Introspect(token)
	if gotActive != active || gotSub != sub {
		t.Fatalf("Introspect = (%v, %q), want (%v, %q)", gotActive, gotSub, active, sub)
	}
}

func TestClientCredentials(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	for _, tc := range []struct {
		name   string
		client oauthtest.Client
		how    auth
	}{
		{"basic client with Basic", basicClient, viaBasic},
		{"basic client with both", basicClient, viaBoth},
		{"post client with body", postClient, viaBody},
		{"post client with both", postClient, viaBoth},
		{"m2m client with Basic", m2mClient, viaBasic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustToken(t, tokenRequest(t, s, tc.client, tc.how, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}))
			if a.RefreshToken != "" {
				t.Errorf("client_credentials answered a refresh token")
			}
			if a.Scope != "read" || !strings.EqualFold(a.TokenType, "bearer") || a.ExpiresIn < 3500 || a.ExpiresIn > 3600 {
				t.Errorf("answer = scope %q, type %q, expires_in %d; want read, bearer, about 3600", a.Scope, a.TokenType, a.ExpiresIn)
			}
			wantActive(t, s, a.AccessToken, true, tc.client.ID)
		})
	}
	if got := s.TokenRequests("client_credentials"); got != 5 {
		t.Errorf("TokenRequests(client_credentials) = %d, want 5", got)
	}
}

func TestClientAuthMethodIsEnforced(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	cc := func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }
	for _, tc := range []struct {
		name   string
		client oauthtest.Client
		how    auth
	}{
		{"basic client sending the secret only in the body", basicClient, viaBody},
		{"post client sending the secret only in the Basic header", postClient, viaBasic},
		{"wrong secret", oauthtest.Client{ID: basicClient.ID, Secret: "wrong"}, viaBasic},
		{"unknown client", oauthtest.Client{ID: "nobody", Secret: "x"}, viaBasic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tokenRequest(t, s, tc.client, tc.how, cc())
			wantError(t, a, "invalid_client")
			if a.Status != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", a.Status)
			}
		})
	}
	t.Run("strict server refuses two methods", func(t *testing.T) {
		strict := newServer(t, oauthtest.Options{StrictClientAuth: true})
		wantError(t, tokenRequest(t, strict, basicClient, viaBoth, cc()), "invalid_client")
		wantError(t, tokenRequest(t, strict, postClient, viaBoth, cc()), "invalid_client")
		mustToken(t, tokenRequest(t, strict, basicClient, viaBasic, cc()))
		mustToken(t, tokenRequest(t, strict, postClient, viaBody, cc()))
	})
	t.Run("grant type not allowed", func(t *testing.T) {
		a := tokenRequest(t, s, m2mClient, viaBasic, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}})
		wantError(t, a, "unauthorized_client")
	})
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	for _, c := range []oauthtest.Client{basicClient, postClient} {
		t.Run(c.ID, func(t *testing.T) {
			how := viaBasic
			if c.AuthMethod == oauthtest.AuthPost {
				how = viaBody
			}
			verifier, challenge := pkce()
			code := login(t, s, c, "alice@example.com", "read offline_access", challenge)
			redeem := func(v string) tokenAnswer {
				return tokenRequest(t, s, c, how, url.Values{
					"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {v},
				})
			}
			wrong, _ := pkce()
			wrong = strings.Replace(wrong, "v", "w", 1)
			wantError(t, redeem(wrong), "invalid_grant")
			// fosite drops the PKCE data at the first attempt, so the code is spent
			// even for the right verifier: log in again.
			wantError(t, redeem(verifier), "invalid_grant")
			code = login(t, s, c, "alice@example.com", "read offline_access", challenge)
			a := mustToken(t, redeem(verifier))
			if a.RefreshToken == "" {
				t.Fatalf("no refresh token despite offline_access")
			}
			if a.Scope != "read offline_access" {
				t.Errorf("scope = %q, want %q", a.Scope, "read offline_access")
			}
			wantActive(t, s, a.AccessToken, true, "alice@example.com")
			wantActive(t, s, a.RefreshToken, false, "")

			// A code is single-use; reuse also revokes what it gave.
			wantError(t, redeem(verifier), "invalid_grant")
			wantActive(t, s, a.AccessToken, false, "")
		})
	}
	t.Run("PKCE is required", func(t *testing.T) {
		if got := login(t, s, basicClient, "alice@example.com", "read", ""); got != "error:invalid_request" {
			t.Fatalf("authorization without code_challenge = %q, want error:invalid_request", got)
		}
	})
	t.Run("plain PKCE is refused", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {basicClient.ID}, "redirect_uri": {redirectURI},
			"state": {"state-0123456789"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}
		loc, err := s.Authorize(s.AuthorizeURL+"?"+q.Encode(), "alice")
		if err != nil || loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE = %v, %v; want an invalid_request redirect", loc, err)
		}
	})
	t.Run("unregistered redirect URI is not redirected to", func(t *testing.T) {
		_, challenge := pkce()
		q := url.Values{"response_type": {"code"}, "client_id": {basicClient.ID}, "redirect_uri": {"https://evil.example/cb"},
			"state": {"state-0123456789"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		if loc, err := s.Authorize(s.AuthorizeURL+"?"+q.Encode(), "alice"); err == nil {
			t.Fatalf("redirected to %s, want an error page", loc)
		}
	})
	t.Run("no test_user is login_required", func(t *testing.T) {
		_, challenge := pkce()
		q := url.Values{"response_type": {"code"}, "client_id": {basicClient.ID}, "redirect_uri": {redirectURI},
			"state": {"state-0123456789"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		resp, err := s.Client().Get(s.AuthorizeURL + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "login_required" {
			t.Fatalf("without test_user: %d %s, want a login_required redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestNoOfflineAccessNoRefreshToken(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	a := userTokens(t, s, basicClient, viaBasic, "alice", "read")
	if a.RefreshToken != "" {
		t.Fatalf("refresh token issued without offline_access")
	}
	wantActive(t, s, a.AccessToken, true, "alice")
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	first := userTokens(t, s, basicClient, viaBasic, "alice", "read offline_access")

	second := mustToken(t, refresh(t, s, basicClient, first.RefreshToken))
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	if second.Scope != "read offline_access" {
		t.Errorf("refreshed scope = %q, want the original", second.Scope)
	}
	wantActive(t, s, second.AccessToken, true, "alice")
	wantActive(t, s, first.AccessToken, false, "") // rotation retires the old access token

	// The old refresh token again: reuse. invalid_grant, and the family is revoked.
	before := s.InvalidGrants()
	wantError(t, refresh(t, s, basicClient, first.RefreshToken), "invalid_grant")
	wantActive(t, s, second.AccessToken, false, "")
	wantError(t, refresh(t, s, basicClient, second.RefreshToken), "invalid_grant")
	if got := s.InvalidGrants() - before; got != 2 {
		t.Errorf("InvalidGrants grew by %d, want 2", got)
	}
	if got := s.TokenRequests("refresh_token"); got != 3 {
		t.Errorf("TokenRequests(refresh_token) = %d, want 3", got)
	}

	t.Run("another client cannot use the refresh token", func(t *testing.T) {
		a := userTokens(t, s, basicClient, viaBasic, "bob", "read offline_access")
		wantError(t, tokenRequest(t, s, postClient, viaBody, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}), "invalid_grant")
	})
}

func TestShortLivedAccessTokensExpire(t *testing.T) {
	s := newServer(t, oauthtest.Options{AccessTokenLifespan: time.Second})
	a := mustToken(t, tokenRequest(t, s, m2mClient, viaBasic, url.Values{"grant_type": {"client_credentials"}}))
	if a.ExpiresIn < 0 || a.ExpiresIn > 1 {
		t.Errorf("expires_in = %d, want 0 or 1", a.ExpiresIn)
	}
	wantActive(t, s, a.AccessToken, true, m2mClient.ID)
	time.Sleep(1100 * time.Millisecond)
	wantActive(t, s, a.AccessToken, false, "")
}

func TestRevokeUser(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	alice := userTokens(t, s, basicClient, viaBasic, "alice", "read offline_access")
	bob := userTokens(t, s, basicClient, viaBasic, "bob", "read offline_access")

	s.RevokeUser("alice")

	wantActive(t, s, alice.AccessToken, false, "")
	wantError(t, refresh(t, s, basicClient, alice.RefreshToken), "invalid_grant")
	wantActive(t, s, bob.AccessToken, true, "bob")
	mustToken(t, refresh(t, s, basicClient, bob.RefreshToken))
}

func TestRevocationEndpoint(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	a := userTokens(t, s, postClient, viaBody, "alice", "read offline_access")
	status, body := post(t, s, s.RevokeURL, postClient, viaBody, url.Values{"token": {a.RefreshToken}, "token_type_hint": {"refresh_token"}})
	if status != http.StatusOK {
		t.Fatalf("revoke = %d %s, want 200", status, body)
	}
	wantActive(t, s, a.AccessToken, false, "")
	wantError(t, tokenRequest(t, s, postClient, viaBody, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}), "invalid_grant")
	// An unknown token is not an error (RFC 7009 §2.2).
	if status, body := post(t, s, s.RevokeURL, postClient, viaBody, url.Values{"token": {"unknown"}}); status != http.StatusOK {
		t.Fatalf("revoke unknown = %d %s, want 200", status, body)
	}
	// The client's auth method applies here too.
	if status, _ := post(t, s, s.RevokeURL, postClient, viaBasic, url.Values{"token": {"x"}}); status != http.StatusUnauthorized {
		t.Fatalf("revoke with the wrong method = %d, want 401", status)
	}
}

func TestIntrospectionEndpoint(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	a := userTokens(t, s, basicClient, viaBasic, "alice", "read")
	status, body := post(t, s, s.IntrospectURL, basicClient, viaBasic, url.Values{"token": {a.AccessToken}})
	var got struct {
		Active   bool   `json:"active"`
		Sub      string `json:"sub"`
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusOK {
		t.Fatalf("introspect = %d %s", status, body)
	}
	if !got.Active || got.Sub != "alice" || got.ClientID != basicClient.ID {
		t.Fatalf("introspect = %+v, want active, sub alice, client %s", got, basicClient.ID)
	}
	_, body = post(t, s, s.IntrospectURL, basicClient, viaBasic, url.Values{"token": {"nonsense"}})
	if strings.Contains(string(body), `"active":true`) {
		t.Fatalf("nonsense token is active: %s", body)
	}
}

func TestUpstreamHandler(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	up := httptest.NewServer(s.UpstreamHandler())
	defer up.Close()
	a := userTokens(t, s, basicClient, viaBasic, "alice", "read")
	for _, tc := range []struct {
		name, header string
		status       int
		sub          string
	}{
		{"user token", "Bearer " + a.AccessToken, 200, "alice"},
		{"lower-case scheme", "bearer " + a.AccessToken, 200, "alice"},
		{"no token", "", 401, ""},
		{"bad token", "Bearer nope", 401, ""},
		{"basic", "Basic " + a.AccessToken, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, up.URL+"/v1/me", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Sub string }
			_ = json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != tc.status || got.Sub != tc.sub {
				t.Fatalf("GET = %d sub %q, want %d sub %q", resp.StatusCode, got.Sub, tc.status, tc.sub)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	resp, err := s.Client().Get(s.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"issuer":                 s.URL,
		"token_endpoint":         s.TokenURL,
		"authorization_endpoint": s.AuthorizeURL,
		"revocation_endpoint":    s.RevokeURL,
		"introspection_endpoint": s.IntrospectURL,
		"authorization_response_iss_parameter_supported": false,
	} {
		if md[k] != want {
			t.Errorf("metadata %s = %v, want %v", k, md[k], want)
		}
	}
	methods, _ := json.Marshal(md["token_endpoint_auth_methods_supported"])
	if string(methods) != `["client_secret_basic","client_secret_post"]` {
		t.Errorf("token_endpoint_auth_methods_supported = %s", methods)
	}
}

func TestStopStart(t *testing.T) {
	s := newServer(t, oauthtest.Options{})
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	// One client across the restart, as Gatehouse keeps one.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	get := func() error {
		resp, err := hc.Get(s.MetadataURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("before Stop: %v", err)
	}
	s.Stop()
	if err := get(); err == nil {
		t.Fatalf("stopped server answered")
	}
	s.Start()
	if err := get(); err != nil {
		t.Fatalf("after Start: %v", err)
	}
	// State survives the restart.
	a := mustToken(t, tokenRequest(t, s, m2mClient, viaBasic, url.Values{"grant_type": {"client_credentials"}}))
	s.Stop()
	wantActive(t, s, a.AccessToken, true, m2mClient.ID)
	s.Start()
	s.Start() // idempotent
}

func TestNoMetadataAndResources(t *testing.T) {
	s := newServer(t, oauthtest.Options{NoMetadata: true})
	resp, err := s.Client().Get(s.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("metadata with NoMetadata = %d, want 404", resp.StatusCode)
	}
	for _, form := range []url.Values{
		{"grant_type": {"client_credentials"}, "resource": {"https://api.example.com/v1"}},
		{"grant_type": {"client_credentials"}},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(m2mClient.ID, m2mClient.Secret)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client_credentials with %v = %d, want 200 (the resource is tolerated)", form, resp.StatusCode)
		}
	}
	if got := s.Resources("client_credentials"); len(got) != 2 || got[0] != "https://api.example.com/v1" || got[1] != "" {
		t.Fatalf("Resources = %q", got)
	}
}
