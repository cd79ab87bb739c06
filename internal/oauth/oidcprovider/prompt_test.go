package oidcprovider_test

import (
	"strings"
	"testing"
)

// TestPromptConsentYieldsRefreshToken is issue 9 point 1 against a certified
// provider: oidc-provider keeps offline_access (and so issues a refresh token) only
// when the authorization request carries prompt=consent. With the scope
// "openid offline_access api.read" Gatehouse sends it and the credential is ACTIVE
// with a refresh token; an authorization_endpoint whose own query sets another
// prompt keeps it, oidc-provider then drops offline_access, and the login page and
// the credential's state say there is no refresh token.
func TestPromptConsentYieldsRefreshToken(t *testing.T) {
	w := newWorld(t, providerOptions{})
	g := w.g
	cases := []struct {
		name        string
		authSuffix  string
		wantPrompt  string
		wantRefresh bool
	}{
		{"prompt=consent is sent and a refresh token granted", "", "consent", true},
		{"the endpoint's own prompt=login is kept and offline_access dropped", "?prompt=login", "login", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := []string{"withconsent", "withlogin"}[i]
			opts := w.oauthOpts(basicClient, "OAUTH_U2M_PER_USER", map[string]string{
				"oauth_credential_exchange_method": "header_only", "authorization_endpoint": w.p.URL + "/auth" + tc.authSuffix})
			if status, b := g.connection(name, "OAUTH_U2M_PER_USER", opts); status != 200 {
				t.Fatalf("create = %d %s", status, b)
			}
			code, page, authReq := g.login(w.ca, w.p, "alice", name)
			if code != 200 || authReq == nil {
				t.Fatalf("login = %d %s", code, page)
			}
			if got := authReq.Query()["prompt"]; len(got) != 1 || got[0] != tc.wantPrompt {
				t.Fatalf("prompt sent = %q, want %q", got, tc.wantPrompt)
			}
			var uc credStatus
			g.must("GET", "/api/2.1/unity-catalog/connections/"+name+"/user-credentials/alice", g.users["alice"], nil, &uc)
			if tc.wantRefresh {
				if uc.CredentialStatus.State != "ACTIVE" || strings.Contains(page, "offline_access") {
					t.Fatalf("credential = %+v; page:\n%s", uc.CredentialStatus, page)
				}
				return
			}
			if uc.CredentialStatus.State != "EXPIRING" || !strings.Contains(uc.CredentialStatus.Reason, "no refresh token") || !strings.Contains(page, "offline_access") {
				t.Fatalf("credential = %+v, want EXPIRING for want of a refresh token; page:\n%s", uc.CredentialStatus, page)
			}
		})
	}
}
