package oauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testSecret  = "s3cr3t-client-secret"
	testRefresh = "refresh-token-value-123"
)

// tlsServer starts an httptest TLS server and a Client that trusts it.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, *oauth.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := oauth.NewClient(oauth.ClientOptions{RootCAs: pool, Now: func() time.Time { return t0 }, Timeout: 5 * time.Second})
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func cfgFor(srv *httptest.Server) oauth.Config {
	return oauth.Config{ClientID: "client", ClientSecret: testSecret, TokenURL: srv.URL + "/token", AuthURL: srv.URL + "/authorize"}
}

// answer is a token endpoint that always answers the same.
func answer(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func asError(t *testing.T, err error) *oauth.Error {
	t.Helper()
	var e *oauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *oauth.Error", err, err)
	}
	return e
}

func TestTokenResponses(t *testing.T) {
	for _, tc := range []struct {
		name          string
		contentType   string
		body          string
		wantExpiry    time.Time
		wantRefreshAt time.Time
		wantRefresh   string
		wantScope     string
	}{
		{"numeric expires_in", "application/json", `{"access_token":"at","token_type":"Bearer","expires_in":3600}`, t0.Add(time.Hour), time.Time{}, "", ""},
		{"string expires_in", "application/json", `{"access_token":"at","expires_in":"3600"}`, t0.Add(time.Hour), time.Time{}, "", ""},
		{"float expires_in", "application/json", `{"access_token":"at","expires_in":59.5}`, t0.Add(59500 * time.Millisecond), time.Time{}, "", ""},
		{"no expires_in", "application/json", `{"access_token":"at"}`, time.Time{}, time.Time{}, "", ""},
		{"garbage expires_in is unknown", "application/json", `{"access_token":"at","expires_in":"soon"}`, time.Time{}, time.Time{}, "", ""},
		{"null expires_in", "application/json", `{"access_token":"at","expires_in":null}`, time.Time{}, time.Time{}, "", ""},
		{"refresh_token_expires_in", "application/json", `{"access_token":"at","refresh_token":"rt","refresh_token_expires_in":86400}`, time.Time{}, t0.Add(24 * time.Hour), "rt", ""},
		{"refresh_expires_in", "application/json", `{"access_token":"at","refresh_token":"rt","refresh_expires_in":"1800"}`, time.Time{}, t0.Add(30 * time.Minute), "rt", ""},
		{"scope string", "application/json", `{"access_token":"at","scope":"a b"}`, time.Time{}, time.Time{}, "", "a b"},
		{"scope array", "application/json", `{"access_token":"at","scope":["a","b"]}`, time.Time{}, time.Time{}, "", "a b"},
		{"form encoded", "application/x-www-form-urlencoded", `access_token=at&expires_in=60&refresh_token=rt`, t0.Add(time.Minute), time.Time{}, "rt", ""},
		{"JSON without content type", "", `{"access_token":"at","expires_in":60}`, t0.Add(time.Minute), time.Time{}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := tlsServer(t, answer(200, tc.contentType, tc.body))
			tok, err := c.ClientCredentials(context.Background(), cfgFor(srv))
			if err != nil {
				t.Fatalf("ClientCredentials: %v", err)
			}
			if tok.AccessToken != "at" || !tok.Expiry.Equal(tc.wantExpiry) || !tok.RefreshExpiry.Equal(tc.wantRefreshAt) ||
				tok.RefreshToken != tc.wantRefresh || tok.Scope != tc.wantScope {
				t.Fatalf("token = %v (refresh %q), want expiry %v, refresh expiry %v, refresh %q, scope %q",
					tok, tok.RefreshToken, tc.wantExpiry, tc.wantRefreshAt, tc.wantRefresh, tc.wantScope)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	big := `{"access_token":"at","pad":"` + strings.Repeat("x", oauth.MaxResponseBytes) + `"}`
	for _, tc := range []struct {
		name        string
		handler     http.Handler
		class       oauth.Class
		state       catalog.CredentialState
		code        string
		wantInMsg   []string
		notInMsg    []string
		wantStatus  int
		refreshCall bool
	}{
		{
			name:      "200 without access_token",
			handler:   answer(200, "application/json", `{"token_type":"bearer","expires_in":60}`),
			class:     oauth.ClassMisconfigured,
			state:     catalog.StateMisconfigured,
			wantInMsg: []string{"answered 200 without access_token", "127.0.0.1"},
		},
		{
			name:      "200 with an OAuth error (GitHub style)",
			handler:   answer(200, "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`),
			class:     oauth.ClassReauth,
			state:     catalog.StateReauthRequired,
			code:      "bad_verification_code",
			wantInMsg: []string{"bad_verification_code", "The code passed is incorrect or expired."},
		},
		{
			name:      "200 with HTML",
			handler:   answer(200, "text/html", `<html>login</html>`),
			class:     oauth.ClassMisconfigured,
			state:     catalog.StateMisconfigured,
			wantInMsg: []string{"not a JSON token response", "text/html"},
		},
		{
			name:        "invalid_grant",
			handler:     answer(400, "application/json", `{"error":"invalid_grant","error_description":"The refresh token expired."}`),
			class:       oauth.ClassReauth,
			state:       catalog.StateReauthRequired,
			code:        "invalid_grant",
			wantStatus:  400,
			wantInMsg:   []string{"token endpoint at 127.0.0.1", "invalid_grant", "The refresh token expired.", "400"},
			refreshCall: true,
		},
		{
			name:      "invalid_scope",
			handler:   answer(400, "application/json", `{"error":"invalid_scope"}`),
			class:     oauth.ClassMisconfigured,
			state:     catalog.StateMisconfigured,
			code:      "invalid_scope",
			wantInMsg: []string{"invalid_scope"},
		},
		{
			name:       "unsupported_grant_type",
			handler:    answer(400, "application/json;charset=utf-8", `{"error":"unsupported_grant_type"}`),
			class:      oauth.ClassMisconfigured,
			state:      catalog.StateMisconfigured,
			code:       "unsupported_grant_type",
			wantStatus: 400,
		},
		{
			name:       "non-JSON 400",
			handler:    answer(400, "text/html", `<h1>Bad Request</h1>`),
			class:      oauth.ClassMisconfigured,
			state:      catalog.StateMisconfigured,
			wantStatus: 400,
			wantInMsg:  []string{"400", "without an OAuth error", "text/html"},
			notInMsg:   []string{"<h1>"},
		},
		{
			name:       "404",
			handler:    http.NotFoundHandler(),
			class:      oauth.ClassMisconfigured,
			state:      catalog.StateMisconfigured,
			wantStatus: 404,
		},
		{
			name:       "503",
			handler:    answer(503, "text/plain", "down for maintenance"),
			class:      oauth.ClassDegraded,
			state:      catalog.StateDegraded,
			wantStatus: 503,
			wantInMsg:  []string{"503"},
		},
		{
			name:       "500 with invalid_request is still an outage",
			handler:    answer(500, "application/json", `{"error":"invalid_request"}`),
			class:      oauth.ClassDegraded,
			state:      catalog.StateDegraded,
			code:       "invalid_request",
			wantStatus: 500,
		},
		{
			name:       "429",
			handler:    answer(429, "", ""),
			class:      oauth.ClassDegraded,
			state:      catalog.StateDegraded,
			wantStatus: 429,
		},
		{
			name:       "400 temporarily_unavailable",
			handler:    answer(400, "application/json", `{"error":"temporarily_unavailable"}`),
			class:      oauth.ClassDegraded,
			state:      catalog.StateDegraded,
			code:       "temporarily_unavailable",
			wantStatus: 400,
		},
		{
			name:       "answer over 1 MiB",
			handler:    answer(200, "application/json", big),
			class:      oauth.ClassMisconfigured,
			state:      catalog.StateMisconfigured,
			wantStatus: 200,
			wantInMsg:  []string{"more than 1048576 bytes"},
		},
		{
			name:        "secrets echoed by the provider are redacted",
			handler:     answer(400, "application/json", `{"error":"invalid_request","error_description":"bad secret `+testSecret+` for token `+testRefresh+`"}`),
			class:       oauth.ClassMisconfigured,
			state:       catalog.StateMisconfigured,
			code:        "invalid_request",
			wantInMsg:   []string{"[redacted]"},
			notInMsg:    []string{testSecret, testRefresh},
			refreshCall: true,
		},
		{
			name:      "description is sanitized",
			handler:   answer(400, "application/json", `{"error":"invalid_request","error_description":"line1\nINFO fake log\u0007\u202e`+strings.Repeat("y", 400)+`"}`),
			class:     oauth.ClassMisconfigured,
			state:     catalog.StateMisconfigured,
			code:      "invalid_request",
			wantInMsg: []string{"line1 INFO fake log" + strings.Repeat("y", 300-len("line1 INFO fake log")) + "…"},
			notInMsg:  []string{"\n", "\u0007", "\u202e", strings.Repeat("y", 300)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := tlsServer(t, tc.handler)
			var err error
			if tc.refreshCall {
				_, err = c.Refresh(context.Background(), cfgFor(srv), testRefresh)
			} else {
				_, err = c.ClientCredentials(context.Background(), cfgFor(srv))
			}
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			if e.Class != tc.class || e.State() != tc.state || e.Code != tc.code {
				t.Errorf("error = class %s, state %s, code %q; want %s, %s, %q (%v)", e.Class, e.State(), e.Code, tc.class, tc.state, tc.code, err)
			}
			if tc.wantStatus != 0 && e.Status != tc.wantStatus {
				t.Errorf("Status = %d, want %d", e.Status, tc.wantStatus)
			}
			if e.Endpoint != srv.URL+"/token" {
				t.Errorf("Endpoint = %q, want %q", e.Endpoint, srv.URL+"/token")
			}
			msg := err.Error()
			t.Logf("message: %s", msg)
			for _, s := range tc.wantInMsg {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			for _, s := range append(tc.notInMsg, testSecret) {
				if strings.Contains(msg, s) {
					t.Errorf("message %q contains %q", msg, s)
				}
			}
		})
	}
}

func TestRedirectIsNeverFollowed(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"stolen"}`)
	}))
	defer target.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/token", status)
			}))
			_, err := c.ClientCredentials(context.Background(), cfgFor(srv))
			e := asError(t, err)
			if e.Class != oauth.ClassMisconfigured || e.Status != status {
				t.Fatalf("error = %s %d, want misconfigured %d: %v", e.Class, e.Status, status, err)
			}
			for _, want := range []string{fmt.Sprint(status), "must not redirect"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err, want)
				}
			}
			if n := targetHits.Load(); n != 0 {
				t.Fatalf("redirect target got %d requests, want 0", n)
			}
		})
	}
}

func TestResponseCapBoundary(t *testing.T) {
	// A body of exactly the cap is read.
	body := `{"access_token":"at"}`
	body += strings.Repeat(" ", oauth.MaxResponseBytes-len(body))
	srv, c := tlsServer(t, answer(200, "application/json", body))
	if _, err := c.ClientCredentials(context.Background(), cfgFor(srv)); err != nil {
		t.Fatalf("body of exactly %d bytes: %v", oauth.MaxResponseBytes, err)
	}
}

func TestHTTPEndpointsAreRefusedBeforeAnyRequest(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"access_token":"at"}`)
	}))
	defer srv.Close()
	cfg := cfgFor(srv)
	c := oauth.NewClient(oauth.ClientOptions{})
	_, err := c.ClientCredentials(context.Background(), cfg)
	e := asError(t, err)
	if e.Class != oauth.ClassMisconfigured || !strings.Contains(err.Error(), "https") {
		t.Fatalf("http endpoint: %v, want a misconfigured error asking for https", err)
	}
	if err := c.Revoke(context.Background(), cfg, srv.URL+"/revoke", "tok", ""); err == nil {
		t.Fatalf("Revoke over http succeeded")
	}
	if _, err := c.Discover(context.Background(), cfg.TokenURL); err == nil {
		t.Fatalf("Discover over http succeeded")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("server got %d requests, want 0", n)
	}
	dev := oauth.NewClient(oauth.ClientOptions{AllowHTTP: true})
	if _, err := dev.ClientCredentials(context.Background(), cfg); err != nil {
		t.Fatalf("with AllowHTTP: %v", err)
	}
	for _, bad := range []string{"ftp://example.com/token", "/token", "", "https://user:pw@example.com/token"} {
		cfg.TokenURL = bad
		if _, err := c.ClientCredentials(context.Background(), cfg); asError(t, err).Class != oauth.ClassMisconfigured {
			t.Errorf("token URL %q: %v, want misconfigured", bad, err)
		}
	}
}

func TestNetworkFailuresAreDegraded(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv, c := tlsServer(t, answer(200, "", ""))
		cfg := cfgFor(srv)
		srv.Close()
		_, err := c.ClientCredentials(context.Background(), cfg)
		if e := asError(t, err); e.Class != oauth.ClassDegraded || e.Status != 0 || e.Err == nil {
			t.Fatalf("closed server: %+v, want degraded with a cause", e)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c := oauth.NewClient(oauth.ClientOptions{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := c.ClientCredentials(context.Background(), cfgFor(srv))
		if e := asError(t, err); e.Class != oauth.ClassDegraded {
			t.Fatalf("timeout: %v, want degraded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("timeout took %v", d)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewTLSServer(answer(200, "", `{"access_token":"at"}`))
		defer srv.Close()
		c := oauth.NewClient(oauth.ClientOptions{})
		if _, err := c.ClientCredentials(context.Background(), cfgFor(srv)); err == nil {
			t.Fatal("untrusted certificate accepted")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		srv, c := tlsServer(t, answer(200, "", `{"access_token":"at"}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.ClientCredentials(ctx, cfgFor(srv))
		if !errors.Is(err, context.Canceled) || asError(t, err).Class != oauth.ClassDegraded {
			t.Fatalf("canceled: %v, want degraded wrapping context.Canceled", err)
		}
	})
}

// captured is one token request as the server saw it.
type captured struct {
	basic     string
	form      url.Values
	accept    string
	ctype     string
	hasHeader bool
}

func capture(t *testing.T, answerBody string) (*httptest.Server, *oauth.Client, func() captured) {
	t.Helper()
	got := make(chan captured, 1)
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		auth := r.Header.Get("Authorization")
		got <- captured{basic: strings.TrimPrefix(auth, "Basic "), hasHeader: auth != "", form: r.PostForm,
			accept: r.Header.Get("Accept"), ctype: r.Header.Get("Content-Type")}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answerBody)
	}))
	return srv, c, func() captured {
		select {
		case c := <-got:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no request")
			return captured{}
		}
	}
}

func TestExchangeMethods(t *testing.T) {
	const id, secret = "my:client%id", "p:a%ss w+rd"
	encoded := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	for _, tc := range []struct {
		method                 oauth.ExchangeMethod
		wantHeader, wantBodyID bool
		wantBodySecret         bool
	}{
		{"", true, true, true},
		{oauth.ExchangeHeaderAndBody, true, true, true},
		{oauth.ExchangeBodyOnly, false, true, true},
		{oauth.ExchangeHeaderOnly, true, false, false},
	} {
		t.Run(string(tc.method), func(t *testing.T) {
			srv, c, next := capture(t, `{"access_token":"at"}`)
			cfg := cfgFor(srv)
			cfg.ClientID, cfg.ClientSecret, cfg.Method = id, secret, tc.method
			if _, err := c.ClientCredentials(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			got := next()
			if got.hasHeader != tc.wantHeader || tc.wantHeader && got.basic != encoded {
				t.Errorf("Authorization = %q (present %v), want Basic %s (present %v)", got.basic, got.hasHeader, encoded, tc.wantHeader)
			}
			if tc.wantHeader {
				// What a standard server decodes.
				raw, _ := base64.StdEncoding.DecodeString(got.basic)
				u, p, _ := strings.Cut(string(raw), ":")
				du, _ := url.QueryUnescape(u)
				dp, _ := url.QueryUnescape(p)
				if du != id || dp != secret {
					t.Errorf("Basic decodes to %q:%q, want %q:%q", du, dp, id, secret)
				}
			}
			if _, ok := got.form["client_id"]; ok != tc.wantBodyID || ok && got.form.Get("client_id") != id {
				t.Errorf("form client_id = %q (present %v), want present %v", got.form.Get("client_id"), ok, tc.wantBodyID)
			}
			if _, ok := got.form["client_secret"]; ok != tc.wantBodySecret || ok && got.form.Get("client_secret") != secret {
				t.Errorf("form client_secret present %v, want %v", ok, tc.wantBodySecret)
			}
			if got.accept != "application/json" || got.ctype != "application/x-www-form-urlencoded" {
				t.Errorf("Accept %q, Content-Type %q", got.accept, got.ctype)
			}
		})
	}
	t.Run("unknown method", func(t *testing.T) {
		srv, c, _ := capture(t, `{}`)
		cfg := cfgFor(srv)
		cfg.Method = "basic"
		_, err := c.ClientCredentials(context.Background(), cfg)
		if e := asError(t, err); e.Class != oauth.ClassMisconfigured || !strings.Contains(err.Error(), "oauth_credential_exchange_method") {
			t.Fatalf("unknown method: %v", err)
		}
	})
}

func TestGrantForms(t *testing.T) {
	ctx := context.Background()
	t.Run("client credentials with scope and resource", func(t *testing.T) {
		srv, c, next := capture(t, `{"access_token":"at"}`)
		cfg := cfgFor(srv)
		cfg.Scope, cfg.Resource = "read write", "https://api.example.com/"
		if _, err := c.ClientCredentials(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		f := next().form
		if f.Get("grant_type") != "client_credentials" || f.Get("scope") != "read write" || f.Get("resource") != "https://api.example.com/" {
			t.Fatalf("form = %v", f)
		}
	})
	t.Run("exchange", func(t *testing.T) {
		srv, c, next := capture(t, `{"access_token":"at","refresh_token":"rt"}`)
		cfg := cfgFor(srv)
		cfg.Resource = "https://api.example.com/"
		tok, err := c.Exchange(ctx, cfg, "the-code", "https://gh.example/login/oauth/http.html", "the-verifier")
		if err != nil {
			t.Fatal(err)
		}
		f := next().form
		if f.Get("grant_type") != "authorization_code" || f.Get("code") != "the-code" || f.Get("code_verifier") != "the-verifier" ||
			f.Get("redirect_uri") != "https://gh.example/login/oauth/http.html" || f.Get("resource") != "https://api.example.com/" {
			t.Fatalf("form = %v", f)
		}
		if tok.RefreshToken != "rt" {
			t.Fatalf("refresh token = %q", tok.RefreshToken)
		}
	})
	t.Run("refresh sends resource, not scope, and keeps no refresh token it did not get", func(t *testing.T) {
		srv, c, next := capture(t, `{"access_token":"at2","expires_in":60}`)
		cfg := cfgFor(srv)
		cfg.Scope, cfg.Resource = "read offline_access", "https://api.example.com/"
		tok, err := c.Refresh(ctx, cfg, "old-rt")
		if err != nil {
			t.Fatal(err)
		}
		f := next().form
		if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "old-rt" || f.Has("scope") || f.Get("resource") != "https://api.example.com/" {
			t.Fatalf("form = %v", f)
		}
		if tok.RefreshToken != "" || tok.AccessToken != "at2" {
			t.Fatalf("token = %v, want no refresh token (the caller keeps the old one)", tok)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		srv, c, next := capture(t, ``)
		cfg := cfgFor(srv)
		cfg.Method = oauth.ExchangeBodyOnly
		if err := c.Revoke(ctx, cfg, srv.URL+"/revoke", "tok", "refresh_token"); err != nil {
			t.Fatal(err)
		}
		got := next()
		if got.form.Get("token") != "tok" || got.form.Get("token_type_hint") != "refresh_token" || got.form.Get("client_secret") != testSecret || got.hasHeader {
			t.Fatalf("revoke request = %+v", got)
		}
	})
	t.Run("revoke errors", func(t *testing.T) {
		srv, c := tlsServer(t, answer(503, "", ""))
		err := c.Revoke(ctx, cfgFor(srv), srv.URL+"/revoke", "tok", "")
		if e := asError(t, err); e.Class != oauth.ClassDegraded || !strings.Contains(err.Error(), "revocation endpoint") {
			t.Fatalf("revoke 503: %v", err)
		}
		if err := c.Revoke(ctx, cfgFor(srv), "", "tok", ""); asError(t, err).Class != oauth.ClassMisconfigured {
			t.Fatalf("revoke without endpoint: %v", err)
		}
	})
}

func TestInvalidClientNamesTheOption(t *testing.T) {
	metadata := func(methods string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/token":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"Client authentication failed."}`)
			case "/.well-known/oauth-authorization-server":
				if methods == "" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"issuer":"https://%s","token_endpoint":"https://%s/token","token_endpoint_auth_methods_supported":[%s]}`, r.Host, r.Host, methods)
			default:
				http.NotFound(w, r)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		methods string
		method  oauth.ExchangeMethod
		want    string
	}{
		{"no metadata", "", "", "check oauth_credential_exchange_method: Gatehouse sent header_and_body; the provider publishes no metadata, so try body_only or header_only"},
		{"metadata lists post only", `"client_secret_post"`, oauth.ExchangeHeaderOnly,
			"check oauth_credential_exchange_method: Gatehouse sent header_only; the provider's metadata lists client_secret_post (body_only); body_only matches that"},
		{"metadata lists both", `"client_secret_basic","client_secret_post"`, "",
			"check oauth_credential_exchange_method: Gatehouse sent header_and_body; the provider's metadata lists client_secret_basic (header_only), client_secret_post (body_only)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := tlsServer(t, metadata(tc.methods))
			cfg := cfgFor(srv)
			cfg.Method = tc.method
			_, err := c.ClientCredentials(context.Background(), cfg)
			e := asError(t, err)
			if e.Class != oauth.ClassMisconfigured || e.Code != "invalid_client" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Client authentication failed.") {
				t.Errorf("message lacks the provider's description: %v", err)
			}
		})
	}
}

func TestSecretsStayOutOfStrings(t *testing.T) {
	cfg := oauth.Config{ClientID: "id", ClientSecret: testSecret, TokenURL: "https://x/token"}
	tok := oauth.Token{AccessToken: "access-token-value", RefreshToken: testRefresh, TokenType: "Bearer", Expiry: t0}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "cfg", cfg, "tok", tok, "ptr", &tok)
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg),
		fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok), fmt.Sprintf("%+v", &tok),
		buf.String(),
	} {
		for _, secret := range []string{testSecret, testRefresh, "access-token-value"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q contains a secret", s)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(tok), "[redacted]") || !strings.Contains(fmt.Sprint(tok), "2026-03-01T12:00:00Z") {
		t.Errorf("Token.String() = %s", tok)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := -1; attempt < 80; attempt++ {
		ceiling := oauth.BackoffCap
		if attempt < 8 {
			ceiling = min(oauth.BackoffCap, oauth.BackoffBase<<max(attempt, 0))
		}
		for range 50 {
			if d := oauth.Backoff(attempt); d < 0 || d >= ceiling {
				t.Fatalf("Backoff(%d) = %v, want in [0, %v)", attempt, d, ceiling)
			}
		}
	}
	// Full jitter spreads: 200 draws at the cap are not all alike.
	seen := map[time.Duration]bool{}
	for range 200 {
		seen[oauth.Backoff(20)] = true
	}
	if len(seen) < 100 {
		t.Fatalf("Backoff(20) took only %d distinct values in 200 draws", len(seen))
	}
}
