package oidcprovider_test

import (
	"strings"
	"testing"
	"time"
)

type credStatus struct {
	CredentialStatus struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"credential_status"`
}

// TestConsentRevoked: alice's consent is revoked at oidc-provider (her grants, and
// with them her refresh and access tokens, destroyed). At the next renewal both of
// her credentials (per-user, and the shared one she authorized) go to
// REAUTH_REQUIRED and their calls answer 401 OAUTH_LOGIN_REQUIRED with the login URL
// on both surfaces, while bob's credential, from another grant, keeps working; a new
// login recovers both.
func TestConsentRevoked(t *testing.T) {
	const ttl = 2
	w := newWorld(t, providerOptions{AccessTokenTTL: ttl})
	g := w.g
	header := map[string]string{"oauth_credential_exchange_method": "header_only"}
	for _, c := range []struct{ name, typ string }{{"shared", "OAUTH_U2M"}, {"peruser", "OAUTH_U2M_PER_USER"}} {
		if status, b := g.connection(c.name, c.typ, w.oauthOpts(basicClient, c.typ, header)); status != 200 {
			t.Fatalf("create %s = %d %s", c.name, status, b)
		}
	}
	g.grant("shared", "alice", "MANAGE")
	logins := []struct{ user, conn string }{{"alice", "shared"}, {"alice", "peruser"}, {"bob", "peruser"}}
	for _, l := range logins {
		if code, page, _ := g.login(w.ca, w.p, l.user, l.conn); code != 200 {
			t.Fatalf("%s login to %s = %d %s", l.user, l.conn, code, page)
		}
	}
	w.p.revoke(t, "alice")
	// The renewal point is a time; there is no event to wait for.
	time.Sleep(ttl*time.Second + 200*time.Millisecond)

	surfaces := []struct {
		name string
		call func(token, conn string) (int, echo, []byte)
	}{{"proxy", g.callProxy}, {"external-function", g.callFunction}}
	for _, s := range surfaces {
		for _, tc := range []struct{ name, caller, conn string }{
			{"per-user alice", "alice", "peruser"},
			{"shared authorized by alice, called by carol", "carol", "shared"},
		} {
			t.Run(s.name+"/"+tc.name+" needs a new login", func(t *testing.T) {
				status, _, b := s.call(g.users[tc.caller], tc.conn)
				if status != 401 || !strings.Contains(string(b), `"error_code":"OAUTH_LOGIN_REQUIRED"`) || !strings.Contains(string(b), g.URL+"/connections/"+tc.conn+"/login") {
					t.Fatalf("= %d %s, want 401 OAUTH_LOGIN_REQUIRED with the login URL", status, b)
				}
			})
		}
		t.Run(s.name+"/bob's own grant still works", func(t *testing.T) {
			if status, e, b := s.call(g.users["bob"], "peruser"); status != 200 || e.Sub != "bob" {
				t.Fatalf("= %d %s", status, b)
			}
		})
	}
	var uc credStatus
	g.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", g.users["alice"], nil, &uc)
	if uc.CredentialStatus.State != "REAUTH_REQUIRED" || !strings.Contains(uc.CredentialStatus.Reason, "invalid_grant") {
		t.Errorf("alice's per-user credential = %+v, want REAUTH_REQUIRED naming invalid_grant", uc.CredentialStatus)
	}
	var shared credStatus
	g.must("GET", "/api/2.1/unity-catalog/connections/shared", g.Admin, nil, &shared)
	if shared.CredentialStatus.State != "REAUTH_REQUIRED" {
		t.Errorf("shared credential = %+v, want REAUTH_REQUIRED", shared.CredentialStatus)
	}
	// Exactly one refused refresh per revoked credential: Gatehouse stops asking.
	refused := 0
	for _, e := range w.p.events(t) {
		if e.Error != "" {
			if e.GrantType != "refresh_token" || e.Error != "invalid_grant" {
				t.Errorf("unexpected refusal %+v", e)
			}
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("refused refreshes = %d, want 2 (one per revoked credential)", refused)
	}

	for _, l := range logins[:2] {
		if code, page, _ := g.login(w.ca, w.p, l.user, l.conn); code != 200 {
			t.Fatalf("%s re-login to %s = %d %s", l.user, l.conn, code, page)
		}
	}
	for _, s := range surfaces {
		if status, e, b := s.call(g.users["alice"], "peruser"); status != 200 || e.Sub != "alice" {
			t.Errorf("%s: alice after re-login = %d %s", s.name, status, b)
		}
		if status, e, b := s.call(g.users["carol"], "shared"); status != 200 || e.Sub != "alice" {
			t.Errorf("%s: carol on shared after re-login = %d %s", s.name, status, b)
		}
	}
	g.must("GET", "/api/2.1/unity-catalog/connections/peruser/user-credentials/alice", g.users["alice"], nil, &uc)
	if uc.CredentialStatus.State != "ACTIVE" {
		t.Errorf("alice's credential after re-login = %+v, want ACTIVE", uc.CredentialStatus)
	}
}
