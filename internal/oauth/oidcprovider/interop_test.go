package oidcprovider_test

import (
	"strings"
	"testing"
)

// TestOAuthTypes: all three OAuth types against oidc-provider, each through both call
// surfaces (the transparent proxy and /api/2.0/external-function), to an upstream that
// accepts a token only when oidc-provider's introspection says it is active. The U2M
// logins ask "openid offline_access api.read": that they get a refresh token proves
// prompt=consent was sent (oidc-provider drops offline_access without it).
func TestOAuthTypes(t *testing.T) {
	w := newWorld(t, providerOptions{})
	g := w.g
	header := map[string]string{"oauth_credential_exchange_method": "header_only"}
	for _, c := range []struct{ name, typ string }{{"m2m", "OAUTH_M2M"}, {"shared", "OAUTH_U2M"}, {"peruser", "OAUTH_U2M_PER_USER"}} {
		if status, b := g.connection(c.name, c.typ, w.oauthOpts(basicClient, c.typ, header)); status != 200 {
			t.Fatalf("create %s = %d %s", c.name, status, b)
		}
	}
	// Logins: alice (MANAGE) for the shared connection; alice and bob each for their own.
	g.grant("shared", "alice", "MANAGE")
	for _, l := range []struct{ user, conn string }{{"alice", "shared"}, {"alice", "peruser"}, {"bob", "peruser"}} {
		code, page, authReq := g.login(w.ca, w.p, l.user, l.conn)
		if code != 200 {
			t.Fatalf("%s login to %s = %d %s", l.user, l.conn, code, page)
		}
		if authReq == nil || authReq.Query().Get("prompt") != "consent" || authReq.Query().Get("code_challenge_method") != "S256" {
			t.Fatalf("%s login to %s: authorization request %v, want prompt=consent and PKCE", l.user, l.conn, authReq)
		}
	}
	// Each login was redeemed once and got a refresh token (offline_access kept).
	var codes int
	for _, e := range w.p.events(t) {
		if e.GrantType == "authorization_code" {
			if e.Error != "" {
				t.Fatalf("code redemption refused: %+v", e)
			}
			codes++
		}
	}
	if codes != 3 {
		t.Fatalf("authorization_code redemptions = %d, want 3", codes)
	}
	for _, user := range []string{"alice", "bob"} {
		var uc struct {
			CredentialStatus struct {
				State string `json:"state"`
			} `json:"credential_status"`
		}
		g.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/"+user, g.users[user], nil, &uc)
		if uc.CredentialStatus.State != "ACTIVE" {
			t.Fatalf("%s's credential = %+v, want ACTIVE", user, uc.CredentialStatus)
		}
	}

	surfaces := []struct {
		name string
		call func(token, conn string) (int, echo, []byte)
	}{{"proxy", g.callProxy}, {"external-function", g.callFunction}}
	cases := []struct {
		name, caller, conn  string
		wantSub, wantClient string
	}{
		{"M2M answers as the client", "carol", "m2m", "", basicClient.ID},
		{"shared U2M answers as alice for carol", "carol", "shared", "alice", basicClient.ID},
		{"shared U2M answers as alice for bob", "bob", "shared", "alice", basicClient.ID},
		{"per-user answers as alice for alice", "alice", "peruser", "alice", basicClient.ID},
		{"per-user answers as bob for bob", "bob", "peruser", "bob", basicClient.ID},
	}
	for _, s := range surfaces {
		for _, tc := range cases {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				status, e, b := s.call(g.users[tc.caller], tc.conn)
				if status != 200 || e.Sub != tc.wantSub || e.ClientID != tc.wantClient || e.Path != "/whoami" {
					t.Fatalf("= %d %+v %s, want sub %q client %q", status, e, b, tc.wantSub, tc.wantClient)
				}
			})
		}
		// carol never logged in to the per-user connection: login required, on
		// both surfaces.
		t.Run(s.name+"/per-user without a login asks carol to log in", func(t *testing.T) {
			status, _, b := s.call(g.users["carol"], "peruser")
			if status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") || !strings.Contains(string(b), "/connections/peruser/login") {
				t.Fatalf("= %d %s", status, b)
			}
		})
	}
	// Nothing Gatehouse logged holds a client secret, in any encoding.
	assertNoSecret(t, []byte(g.stderr.String()))
}
