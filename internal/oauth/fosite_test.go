package oauth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// These tests run the client against a real authorization server (ory/fosite).

const redirectURI = "http://127.0.0.1:8443/login/oauth/http.html"

var (
	basicClient = oauthtest.Client{ID: "basic:client", Secret: "basic%secret:x", AuthMethod: oauthtest.AuthBasic, RedirectURIs: []string{redirectURI}}
	postClient  = oauthtest.Client{ID: "post-client", Secret: "post-secret", AuthMethod: oauthtest.AuthPost, RedirectURIs: []string{redirectURI}}
	m2mClient   = oauthtest.Client{ID: "m2m-client", Secret: "m2m-secret", GrantTypes: []string{"client_credentials"}}
)

func fositeServer(t *testing.T, opts oauthtest.Options) (*oauthtest.Server, *oauth.Client) {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = []oauthtest.Client{basicClient, postClient, m2mClient}
	}
	s := oauthtest.New(t, opts)
	// Trust the server through its CA file, as gatehouse --upstream-ca-file does.
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in CAFile")
	}
	c := oauth.NewClient(oauth.ClientOptions{RootCAs: pool, Timeout: 5 * time.Second})
	t.Cleanup(c.CloseIdleConnections)
	return s, c
}

func fositeConfig(s *oauthtest.Server, cl oauthtest.Client, method oauth.ExchangeMethod, scope string) oauth.Config {
	return oauth.Config{ClientID: cl.ID, ClientSecret: cl.Secret, AuthURL: s.AuthorizeURL, TokenURL: s.TokenURL, Scope: scope, Method: method}
}

// login runs the authorization code flow with PKCE as Gatehouse does and returns the
// token.
func login(t *testing.T, s *oauthtest.Server, c *oauth.Client, cfg oauth.Config, user string) *oauth.Token {
	t.Helper()
	state := oauth.NewState()
	verifier, challenge := oauth.NewPKCE()
	loc, err := s.Authorize(oauth.AuthCodeURL(cfg, state, challenge, redirectURI), user)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if e := loc.Query().Get("error"); e != "" {
		t.Fatalf("authorization failed: %s: %s", e, loc.Query().Get("error_description"))
	}
	if loc.Query().Get("state") != state {
		t.Fatalf("state = %q, want %q", loc.Query().Get("state"), state)
	}
	tok, err := c.Exchange(context.Background(), cfg, loc.Query().Get("code"), redirectURI, verifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

func wantClass(t *testing.T, err error, class oauth.Class, code string) *oauth.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %s", class, code)
	}
	e := asError(t, err)
	if e.Class != class || e.Code != code {
		t.Fatalf("error = %s %q (%v), want %s %q", e.Class, e.Code, err, class, code)
	}
	for _, secret := range []string{basicClient.Secret, postClient.Secret, m2mClient.Secret} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q contains a client secret", err)
		}
	}
	return e
}

func TestFositeExchangeMethods(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{})
	for _, tc := range []struct {
		client oauthtest.Client
		method oauth.ExchangeMethod
		ok     bool
	}{
		{basicClient, oauth.ExchangeHeaderAndBody, true},
		{basicClient, oauth.ExchangeHeaderOnly, true},
		{basicClient, oauth.ExchangeBodyOnly, false},
		{postClient, oauth.ExchangeHeaderAndBody, true},
		{postClient, oauth.ExchangeBodyOnly, true},
		{postClient, oauth.ExchangeHeaderOnly, false},
	} {
		t.Run(tc.client.ID+" "+string(tc.method), func(t *testing.T) {
			tok, err := c.ClientCredentials(context.Background(), fositeConfig(s, tc.client, tc.method, "read"))
			if tc.ok {
				if err != nil {
					t.Fatalf("ClientCredentials: %v", err)
				}
				if active, sub := s.Introspect(tok.AccessToken); !active || sub != tc.client.ID {
					t.Fatalf("Introspect = %v %q, want active %s", active, sub, tc.client.ID)
				}
				if tok.Scope != "read" || tok.Expiry.IsZero() {
					t.Fatalf("token = %v", tok)
				}
				return
			}
			e := wantClass(t, err, oauth.ClassMisconfigured, "invalid_client")
			want := "check oauth_credential_exchange_method: Gatehouse sent " + string(tc.method) + "; the provider's metadata lists client_secret_basic (header_only), client_secret_post (body_only)"
			if !strings.Contains(err.Error(), want) || e.State() != catalog.StateMisconfigured {
				t.Fatalf("error %q lacks %q", err, want)
			}
			t.Logf("message: %v", err)
		})
	}
	t.Run("strict server", func(t *testing.T) {
		strict, sc := fositeServer(t, oauthtest.Options{StrictClientAuth: true})
		md, err := sc.Discover(context.Background(), strict.TokenURL)
		if err != nil || md == nil {
			t.Fatalf("Discover: %v %v", md, err)
		}
		method := oauth.ChooseMethod(md)
		_, err = sc.ClientCredentials(context.Background(), fositeConfig(strict, basicClient, method, ""))
		wantClass(t, err, oauth.ClassMisconfigured, "invalid_client")
		if _, err := sc.ClientCredentials(context.Background(), fositeConfig(strict, basicClient, oauth.ExchangeHeaderOnly, "")); err != nil {
			t.Fatalf("header_only on a strict server: %v", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		cfg := fositeConfig(s, basicClient, "", "")
		cfg.ClientSecret = "wrong-secret"
		_, err := c.ClientCredentials(context.Background(), cfg)
		wantClass(t, err, oauth.ClassMisconfigured, "invalid_client")
	})
	t.Run("scope not allowed", func(t *testing.T) {
		_, err := c.ClientCredentials(context.Background(), fositeConfig(s, basicClient, "", "admin"))
		wantClass(t, err, oauth.ClassMisconfigured, "invalid_scope")
	})
	t.Run("grant not allowed", func(t *testing.T) {
		_, err := c.Refresh(context.Background(), fositeConfig(s, m2mClient, "", ""), "whatever")
		wantClass(t, err, oauth.ClassMisconfigured, "unauthorized_client")
	})
}

func TestFositeAuthorizationCodeAndRefresh(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{AccessTokenLifespan: time.Minute})
	ctx := context.Background()
	cfg := fositeConfig(s, basicClient, "", "read offline_access")

	first := login(t, s, c, cfg, "alice@example.com")
	if first.RefreshToken == "" || first.Scope != "read offline_access" || !strings.EqualFold(first.TokenType, "bearer") {
		t.Fatalf("token = %v", first)
	}
	if d := time.Until(first.Expiry); d < 50*time.Second || d > 70*time.Second {
		t.Fatalf("access token expires in %v, want about a minute", d)
	}
	if active, sub := s.Introspect(first.AccessToken); !active || sub != "alice@example.com" {
		t.Fatalf("Introspect = %v %q", active, sub)
	}

	second, err := c.Refresh(ctx, cfg, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatal("fosite did not rotate the refresh token")
	}

	// Reuse of the rotated refresh token: invalid_grant, and the family is revoked.
	_, err = c.Refresh(ctx, cfg, first.RefreshToken)
	e := wantClass(t, err, oauth.ClassReauth, "invalid_grant")
	if e.State() != catalog.StateReauthRequired || strings.Contains(err.Error(), first.RefreshToken) {
		t.Fatalf("reuse: %v", err)
	}
	t.Logf("message: %v", err)
	_, err = c.Refresh(ctx, cfg, second.RefreshToken)
	wantClass(t, err, oauth.ClassReauth, "invalid_grant")
	if active, _ := s.Introspect(second.AccessToken); active {
		t.Fatal("access token of a revoked family is active")
	}
	if got := s.InvalidGrants(); got != 2 {
		t.Fatalf("InvalidGrants = %d, want 2", got)
	}

	t.Run("code is single use", func(t *testing.T) {
		verifier, challenge := oauth.NewPKCE()
		loc, err := s.Authorize(oauth.AuthCodeURL(cfg, oauth.NewState(), challenge, redirectURI), "bob")
		if err != nil {
			t.Fatal(err)
		}
		code := loc.Query().Get("code")
		if _, err := c.Exchange(ctx, cfg, code, redirectURI, verifier); err != nil {
			t.Fatal(err)
		}
		_, err = c.Exchange(ctx, cfg, code, redirectURI, verifier)
		wantClass(t, err, oauth.ClassReauth, "invalid_grant")
	})
	t.Run("wrong verifier", func(t *testing.T) {
		_, challenge := oauth.NewPKCE()
		other, _ := oauth.NewPKCE()
		loc, err := s.Authorize(oauth.AuthCodeURL(cfg, oauth.NewState(), challenge, redirectURI), "bob")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Exchange(ctx, cfg, loc.Query().Get("code"), redirectURI, other)
		wantClass(t, err, oauth.ClassReauth, "invalid_grant")
	})
	t.Run("no offline_access, no refresh token", func(t *testing.T) {
		tok := login(t, s, c, fositeConfig(s, postClient, oauth.ExchangeBodyOnly, "read"), "carol")
		if tok.RefreshToken != "" {
			t.Fatal("refresh token without offline_access")
		}
	})
	t.Run("consent revoked", func(t *testing.T) {
		tok := login(t, s, c, cfg, "dave")
		s.RevokeUser("dave")
		_, err := c.Refresh(ctx, cfg, tok.RefreshToken)
		wantClass(t, err, oauth.ClassReauth, "invalid_grant")
	})
	t.Run("revocation", func(t *testing.T) {
		md, err := c.Discover(ctx, s.TokenURL)
		if err != nil || md == nil {
			t.Fatalf("Discover: %v %v", md, err)
		}
		tok := login(t, s, c, cfg, "erin")
		if err := c.Revoke(ctx, cfg, md.RevocationEndpoint, tok.RefreshToken, "refresh_token"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		_, err = c.Refresh(ctx, cfg, tok.RefreshToken)
		wantClass(t, err, oauth.ClassReauth, "invalid_grant")
		if active, _ := s.Introspect(tok.AccessToken); active {
			t.Fatal("access token active after its refresh token was revoked")
		}
	})
}

func TestFositeOutage(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{})
	cfg := fositeConfig(s, m2mClient, "", "")
	if _, err := c.ClientCredentials(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	_, err := c.ClientCredentials(context.Background(), cfg)
	if e := wantClass(t, err, oauth.ClassDegraded, ""); e.State() != catalog.StateDegraded {
		t.Fatalf("state = %s", e.State())
	}
	t.Logf("message: %v", err)
	s.Start()
	if _, err := c.ClientCredentials(context.Background(), cfg); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}

func TestFositeDiscover(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{})
	md, err := c.Discover(context.Background(), s.TokenURL)
	if err != nil || md == nil {
		t.Fatalf("Discover = %v, %v", md, err)
	}
	want := &oauth.Metadata{
		Issuer: s.URL, AuthorizationEndpoint: s.AuthorizeURL, TokenEndpoint: s.TokenURL, RevocationEndpoint: s.RevokeURL,
		IntrospectionEndpoint:    s.IntrospectURL,
		TokenEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		GrantTypes:               []string{"authorization_code", "client_credentials", "refresh_token"},
		ResponseTypes:            []string{"code"}, CodeChallengeMethods: []string{"S256"},
		ScopesSupported: []string{"offline_access", "openid", "read", "write"},
		URL:             s.MetadataURL,
	}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Fatalf("metadata (-want +got):\n%s", diff)
	}
	if got := oauth.ChooseMethod(md); got != oauth.ExchangeHeaderAndBody {
		t.Fatalf("ChooseMethod = %s", got)
	}
	if md2, _ := c.Discover(context.Background(), s.AuthorizeURL); md2 == nil || md2.TokenEndpoint != s.TokenURL {
		t.Fatalf("Discover(authorization endpoint) = %v", md2)
	}
}

func results(checks []oauth.Check) map[string]string {
	m := map[string]string{}
	for _, ch := range checks {
		m[ch.Name] = ch.Result
	}
	return m
}

func TestCheckProvider(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{})
	ctx := context.Background()
	u2m := fositeConfig(s, basicClient, "", "read offline_access")
	https := oauth.ResultPass // the server is https; the redirect URI is loopback http

	t.Run("U2M, all good", func(t *testing.T) {
		checks := c.CheckProvider(ctx, u2m, redirectURI, false)
		want := map[string]string{
			oauth.CheckAuthorizationCode: oauth.ResultPass, oauth.CheckRefreshTokens: oauth.ResultPass,
			oauth.CheckRedirectURI: oauth.ResultUnknown, oauth.CheckConfidential: oauth.ResultPass,
			oauth.CheckTokenEndpoint: oauth.ResultPass, oauth.CheckHTTPS: https,
		}
		if diff := cmp.Diff(want, results(checks)); diff != "" {
			t.Fatalf("results (-want +got):\n%s\n%+v", diff, checks)
		}
		for _, ch := range checks {
			t.Logf("%-25s %-7s %s | %s", ch.Name, ch.Result, ch.Evidence, ch.Fix)
			if ch.Evidence == "" {
				t.Errorf("%s: no evidence", ch.Name)
			}
			if ch.Result != oauth.ResultPass && ch.Fix == "" {
				t.Errorf("%s: %s without a fix", ch.Name, ch.Result)
			}
			if strings.Contains(ch.Evidence+ch.Fix, basicClient.Secret) {
				t.Errorf("%s: secret in evidence", ch.Name)
			}
		}
		if ch := checks[2]; !strings.Contains(ch.Fix, redirectURI) {
			t.Errorf("redirect URI fix %q lacks %s", ch.Fix, redirectURI)
		}
	})
	t.Run("U2M without offline_access", func(t *testing.T) {
		cfg := u2m
		cfg.Scope = "read"
		got := results(c.CheckProvider(ctx, cfg, redirectURI, false))
		if got[oauth.CheckRefreshTokens] != oauth.ResultFail {
			t.Fatalf("refresh tokens = %s, want fail", got[oauth.CheckRefreshTokens])
		}
	})
	t.Run("U2M with a wrong secret", func(t *testing.T) {
		cfg := u2m
		cfg.ClientSecret = "wrong"
		checks := c.CheckProvider(ctx, cfg, redirectURI, false)
		if got := results(checks)[oauth.CheckConfidential]; got != oauth.ResultFail {
			t.Fatalf("confidential client = %s, want fail: %+v", got, checks)
		}
		if got := results(checks)[oauth.CheckTokenEndpoint]; got != oauth.ResultPass {
			t.Fatalf("standard token endpoint = %s, want pass (invalid_client is a standard error)", got)
		}
	})
	t.Run("U2M with the wrong exchange method", func(t *testing.T) {
		cfg := u2m
		cfg.Method = oauth.ExchangeBodyOnly
		checks := c.CheckProvider(ctx, cfg, redirectURI, false)
		for _, ch := range checks {
			if ch.Name == oauth.CheckConfidential && (ch.Result != oauth.ResultFail || !strings.Contains(ch.Fix, "oauth_credential_exchange_method")) {
				t.Fatalf("confidential client = %+v, want a fail naming the option", ch)
			}
		}
	})
	t.Run("U2M with an M2M-only client", func(t *testing.T) {
		got := results(c.CheckProvider(ctx, fositeConfig(s, m2mClient, "", "read offline_access"), redirectURI, false))
		if got[oauth.CheckAuthorizationCode] != oauth.ResultFail {
			t.Fatalf("authorization code grant = %s, want fail", got[oauth.CheckAuthorizationCode])
		}
	})
	t.Run("U2M with a wrong token endpoint", func(t *testing.T) {
		cfg := u2m
		cfg.TokenURL = s.URL + "/oauth/token"
		got := results(c.CheckProvider(ctx, cfg, redirectURI, false))
		if got[oauth.CheckTokenEndpoint] != oauth.ResultFail {
			t.Fatalf("standard token endpoint = %s, want fail", got[oauth.CheckTokenEndpoint])
		}
	})
	t.Run("M2M", func(t *testing.T) {
		checks := c.CheckProvider(ctx, fositeConfig(s, m2mClient, "", "read"), "", true)
		want := map[string]string{
			oauth.CheckAuthorizationCode: oauth.ResultPass, oauth.CheckRefreshTokens: oauth.ResultPass,
			oauth.CheckRedirectURI: oauth.ResultPass, oauth.CheckConfidential: oauth.ResultPass,
			oauth.CheckTokenEndpoint: oauth.ResultPass, oauth.CheckHTTPS: oauth.ResultPass,
			oauth.CheckClientCredentials: oauth.ResultPass,
		}
		if diff := cmp.Diff(want, results(checks)); diff != "" {
			t.Fatalf("results (-want +got):\n%s\n%+v", diff, checks)
		}
		last := checks[len(checks)-1]
		if !strings.Contains(last.Evidence, "expires at") {
			t.Errorf("client credentials evidence %q lacks the expiry", last.Evidence)
		}
		for _, ch := range checks {
			t.Logf("%-25s %-7s %s | %s", ch.Name, ch.Result, ch.Evidence, ch.Fix)
		}
	})
	t.Run("M2M with a wrong secret", func(t *testing.T) {
		cfg := fositeConfig(s, m2mClient, "", "read")
		cfg.ClientSecret = "nope"
		checks := c.CheckProvider(ctx, cfg, "", true)
		last := checks[len(checks)-1]
		if last.Name != oauth.CheckClientCredentials || last.Result != oauth.ResultFail || !strings.Contains(last.Evidence, "invalid_client") || last.Fix == "" {
			t.Fatalf("client credentials = %+v", last)
		}
	})
	t.Run("server down", func(t *testing.T) {
		down, dc := fositeServer(t, oauthtest.Options{})
		down.Stop()
		got := results(dc.CheckProvider(ctx, fositeConfig(down, m2mClient, "", ""), "", true))
		if got[oauth.CheckTokenEndpoint] != oauth.ResultUnknown || got[oauth.CheckClientCredentials] != oauth.ResultFail {
			t.Fatalf("results = %v", got)
		}
	})
}

func TestCheckProviderNonStandard(t *testing.T) {
	ctx := context.Background()
	t.Run("HTML token endpoint without metadata", func(t *testing.T) {
		srv, c := tlsServer(t, answer(200, "text/html", "<html>hi</html>"))
		got := results(c.CheckProvider(ctx, cfgFor(srv), "https://gh.example/login/oauth/http.html", false))
		want := map[string]string{
			oauth.CheckAuthorizationCode: oauth.ResultUnknown, oauth.CheckRefreshTokens: oauth.ResultUnknown,
			oauth.CheckRedirectURI: oauth.ResultUnknown, oauth.CheckConfidential: oauth.ResultUnknown,
			oauth.CheckTokenEndpoint: oauth.ResultFail, oauth.CheckHTTPS: oauth.ResultPass,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("results (-want +got):\n%s", diff)
		}
	})
	t.Run("http endpoints", func(t *testing.T) {
		srv := httptest.NewServer(answer(400, "application/json", `{"error":"invalid_grant"}`))
		defer srv.Close()
		c := oauth.NewClient(oauth.ClientOptions{AllowHTTP: true})
		checks := c.CheckProvider(ctx, cfgFor(srv), "http://gh.example/login/oauth/http.html", false)
		got := results(checks)
		if got[oauth.CheckHTTPS] != oauth.ResultFail || got[oauth.CheckRedirectURI] != oauth.ResultFail ||
			got[oauth.CheckTokenEndpoint] != oauth.ResultPass || got[oauth.CheckConfidential] != oauth.ResultPass {
			t.Fatalf("results = %v", got)
		}
	})
	t.Run("redirecting token endpoint", func(t *testing.T) {
		srv, c := tlsServer(t, http.RedirectHandler("https://elsewhere.example/token", http.StatusFound))
		got := results(c.CheckProvider(ctx, cfgFor(srv), "https://gh.example/cb", false))
		if got[oauth.CheckTokenEndpoint] != oauth.ResultFail {
			t.Fatalf("results = %v", got)
		}
	})
}

func TestErrorsAs(t *testing.T) {
	// The broker switches on the class through errors.As, also when wrapped.
	srv, c := tlsServer(t, answer(400, "application/json", `{"error":"invalid_grant"}`))
	_, err := c.Refresh(context.Background(), cfgFor(srv), "rt")
	wrapped := errors.Join(errors.New("refresh connection github"), err)
	var e *oauth.Error
	if !errors.As(wrapped, &e) || e.State() != catalog.StateReauthRequired {
		t.Fatalf("errors.As on %v failed", wrapped)
	}
}

// TestFositeTryMethodsKeepsTheCode: against a strict fosite server without metadata,
// one authorization code survives the refusals about client authentication and is
// redeemed by the method the client is registered for, so retrying a code redemption
// after such a refusal is safe; the code then works once only.
func TestFositeTryMethodsKeepsTheCode(t *testing.T) {
	s, c := fositeServer(t, oauthtest.Options{StrictClientAuth: true, NoMetadata: true})
	if md, err := c.Discover(context.Background(), s.TokenURL); md != nil || err != nil {
		t.Fatalf("Discover = %v %v, want no metadata", md, err)
	}
	for _, tc := range []struct {
		client oauthtest.Client
		want   oauth.ExchangeMethod
		tries  int
	}{
		{basicClient, oauth.ExchangeHeaderOnly, 2},
		{postClient, oauth.ExchangeBodyOnly, 3},
	} {
		t.Run(tc.client.ID, func(t *testing.T) {
			cfg := fositeConfig(s, tc.client, "", "offline_access")
			cfg.Resource = "https://api.example.com/v1"
			state := oauth.NewState()
			verifier, challenge := oauth.NewPKCE()
			loc, err := s.Authorize(oauth.AuthCodeURL(cfg, state, challenge, redirectURI), "alice")
			if err != nil || loc.Query().Get("code") == "" {
				t.Fatalf("Authorize: %v %v", loc, err)
			}
			code := loc.Query().Get("code")
			before := s.TokenRequests("authorization_code")
			redeem := func(cfg oauth.Config) (*oauth.Token, error) {
				return c.Exchange(context.Background(), cfg, code, redirectURI, verifier)
			}
			tok, m, err := oauth.TryMethods(cfg, redeem)
			if err != nil || m != tc.want || tok.RefreshToken == "" {
				t.Fatalf("TryMethods = %v %q %v, want a token set with %s", tok, m, err, tc.want)
			}
			if n := s.TokenRequests("authorization_code") - before; n != tc.tries {
				t.Errorf("token requests = %d, want %d", n, tc.tries)
			}
			if active, sub := s.Introspect(tok.AccessToken); !active || sub != "alice" {
				t.Errorf("Introspect = %v %q", active, sub)
			}
			cfg.Method = m
			if _, err := redeem(cfg); err == nil {
				t.Fatal("the code was redeemed twice")
			}
			res := s.Resources("authorization_code")
			if len(res) == 0 || res[len(res)-1] != cfg.Resource {
				t.Errorf("resources at the token endpoint = %q", res)
			}
		})
	}
}
