package authserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authserver"
)

const cliRedirect = "http://127.0.0.1:49152/callback"

func cliQuery(mod func(url.Values)) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {authserver.CLIClientID}, "redirect_uri": {cliRedirect}, "state": {"st-cli"},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"}}
	if mod != nil {
		mod(q)
	}
	return q
}

// TestCLIRedirectURIs: the CLI's redirect URIs are loopback IP literals with any port
// (RFC 8252 §7.3), never localhost (§8.3), never anything another host could receive.
func TestCLIRedirectURIs(t *testing.T) {
	cases := []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1:49152/callback", true},
		{"http://127.0.0.1:1/", true},
		{"http://127.0.0.1:65535/a/b", true},
		{"http://[::1]:8080/callback", true},
		{"http://localhost:8080/callback", false},
		{"http://127.0.0.1/callback", false},         // no port: nothing the CLI listens on
		{"http://127.0.0.1:0/callback", false},       // port 0 is no port
		{"http://127.0.0.1:65536/callback", false},   // out of range
		{"http://127.0.0.1:080/callback", false},     // not canonical
		{"http://127.0.0.1:8080", false},             // no path
		{"http://127.0.0.2:8080/callback", false},    // other loopback addresses: not the CLI's
		{"http://[::ffff:127.0.0.1]:8080/cb", false}, // mapped: not a literal the CLI uses
		{"https://127.0.0.1:8080/callback", false},
		{"http://evil.example:8080/callback", false},
		{"http://127.0.0.1.evil.example:8080/callback", false},
		{"http://u@127.0.0.1:8080/callback", false},
		{"http://127.0.0.1:8080/callback?x=1", false},
		{"http://127.0.0.1:8080/callback#f", false},
		{"http://127.0.0.1:8080@evil.example/callback", false},
		{"//127.0.0.1:8080/callback", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run(tc.uri, func(t *testing.T) {
			if got := authserver.CLIRedirectOK(tc.uri); got != tc.ok {
				t.Errorf("CLIRedirectOK(%q) = %v, want %v", tc.uri, got, tc.ok)
			}
		})
	}
}

// TestCLIAuthorizeCheck: the CLI's authorization request needs no client document, is
// marked CLI for the consent page, and is refused with a resource or a redirect URI
// off the loopback literals; the shared checks (PKCE S256) hold for it too.
func TestCLIAuthorizeCheck(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		mod      func(url.Values)
		code     string
		redirect bool
	}{
		{"ok", nil, "", false},
		{"ipv6 loopback", func(q url.Values) { q.Set("redirect_uri", "http://[::1]:50000/cb") }, "", false},
		{"resource", func(q url.Values) { q.Set("resource", resource) }, "invalid_target", true},
		{"localhost", func(q url.Values) { q.Set("redirect_uri", "http://localhost:49152/callback") }, "invalid_request", false},
		{"non-loopback redirect", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }, "invalid_request", false},
		{"plain challenge", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request", true},
		{"no challenge", func(q url.Values) { q.Del("code_challenge") }, "invalid_request", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := f.az.Check(context.Background(), cliQuery(tc.mod))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !req.CLI || req.Resource != "" || req.Connection != "" || req.ClientName != authserver.CLIClientName {
					t.Errorf("request %+v", req)
				}
				return
			}
			var ae *authserver.AuthorizeError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if loc := ae.Location(); (loc != "") != tc.redirect || (tc.redirect && !strings.HasPrefix(loc, cliRedirect+"?")) {
				t.Fatalf("Location %q, redirect wanted %v", loc, tc.redirect)
			}
		})
	}
	if n := f.docFetches.Load(); n != 0 {
		t.Errorf("%d client document fetches for the CLI, want none", n)
	}
}

// TestCLICodeGrant: the CLI's code gives a token of the user for the whole API
// (audience ""), an hour long, with a refresh token that rotates; a resource at the
// token endpoint is refused; the code is the CLI's only.
func TestCLICodeGrant(t *testing.T) {
	newCode := func(t *testing.T, f *fixture) string {
		t.Helper()
		req, err := f.az.Check(context.Background(), cliQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		loc, err := f.az.Approve(context.Background(), f.st.users["u1"], req)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		return u.Query().Get("code")
	}
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {authserver.CLIClientID},
			"redirect_uri": {cliRedirect}, "code_verifier": {verifier}}
	}
	refusals := []struct {
		name string
		mod  func(url.Values)
		err  string
	}{
		{"resource", func(v url.Values) { v.Set("resource", resource) }, "invalid_target"},
		{"another client", func(v url.Values) { v.Set("client_id", "https://client.example/c.json") }, "invalid_grant"},
		{"another redirect port", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:49153/callback") }, "invalid_grant"},
		{"PKCE mismatch", func(v url.Values) { v.Set("code_verifier", strings.Repeat("x", 50)) }, "invalid_grant"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			v := form(newCode(t, f))
			tc.mod(v)
			if code, out := f.token(t, v); code == http.StatusOK || out["error"] != tc.err {
				t.Fatalf("answer %d %v, want %s", code, out, tc.err)
			}
			if n := len(f.st.tokenIDs()); n != 0 {
				t.Errorf("%d tokens issued on a refusal", n)
			}
		})
	}
	t.Run("issues an API token", func(t *testing.T) {
		f := newFixture(t)
		code, out := f.token(t, form(newCode(t, f)))
		if code != http.StatusOK || out["refresh_token"] == nil || out["expires_in"] != float64(authserver.AccessTTL.Seconds()) {
			t.Fatalf("answer %d %v", code, out)
		}
		toks := f.st.tokenIDs()
		if len(toks) != 1 {
			t.Fatalf("%d tokens, want 1", len(toks))
		}
		for _, tok := range toks {
			if tok.Audience != "" || tok.PrincipalID != "u1" || !tok.ExpiresAt.Equal(f.clk.Now().Add(authserver.AccessTTL)) || !strings.Contains(tok.Comment, "Gatehouse CLI") {
				t.Errorf("token %+v: want alice's, audience \"\", an hour long, named for the CLI", tok)
			}
		}
		refresh := func(rt string) url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {authserver.CLIClientID}}
		}
		code, out2 := f.token(t, refresh(out["refresh_token"].(string)))
		if code != http.StatusOK || out2["refresh_token"] == out["refresh_token"] || out2["access_token"] == out["access_token"] {
			t.Fatalf("refresh: %d %v", code, out2)
		}
		for _, tok := range f.st.tokenIDs() {
			if tok.Audience != "" {
				t.Errorf("refreshed token audience %q, want \"\"", tok.Audience)
			}
		}
		withResource := refresh(out2["refresh_token"].(string))
		withResource.Set("resource", resource)
		if code, out := f.token(t, withResource); code == http.StatusOK || out["error"] != "invalid_target" {
			t.Fatalf("refresh with a resource: %d %v", code, out)
		}
	})
}
