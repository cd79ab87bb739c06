package oidcprovider_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestResourceIndicators: oidc-provider's resourceIndicators feature (RFC 8707)
// issues a token for the resource Gatehouse names and refuses one it does not know.
// The upstream sees the audience through introspection.
func TestResourceIndicators(t *testing.T) {
	w := newWorld(t, providerOptions{})
	g := w.g
	cases := []struct {
		name    string
		typ     string
		extra   map[string]string
		wantAud string // "" = refused at creation
		wantMsg string
	}{
		{"oauth_resource naming the upstream, M2M", "OAUTH_M2M", map[string]string{"oauth_resource": w.up.URL}, w.up.URL, ""},
		{"oauth_resource naming the upstream, per-user", "OAUTH_U2M_PER_USER", map[string]string{"oauth_resource": w.up.URL}, w.up.URL, ""},
		{"oauth_resource unknown to the provider is refused", "OAUTH_M2M", map[string]string{"oauth_resource": "https://elsewhere.example/"}, "", "invalid_target"},
		// oauth_send_resource (issue 9, another branch) sends the connection URL when
		// oauth_resource is unset.
		{"oauth_send_resource sends the connection URL", "OAUTH_M2M", map[string]string{"oauth_send_resource": "true"}, w.up.URL, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("res%d", i)
			opts := w.oauthOpts(basicClient, tc.typ, map[string]string{"oauth_credential_exchange_method": "header_only"})
			for k, v := range tc.extra {
				opts[k] = v
			}
			status, b := g.connection(name, tc.typ, opts)
			if tc.wantAud == "" {
				if status != 400 || !strings.Contains(string(b), tc.wantMsg) {
					t.Fatalf("create = %d %s, want 400 naming %s", status, b, tc.wantMsg)
				}
				assertNoSecret(t, b)
				return
			}
			if status != 200 {
				t.Fatalf("create = %d %s", status, b)
			}
			if tc.typ != "OAUTH_M2M" {
				if code, page, authReq := g.login(w.ca, w.p, "alice", name); code != 200 || strings.TrimSuffix(authReq.Query().Get("resource"), "/") != tc.wantAud {
					t.Fatalf("login = %d (authorization request %v) %s", code, authReq, page)
				}
			}
			status, e, b := g.callProxy(g.users["alice"], name)
			// The connection URL may be sent with or without its trailing slash;
			// the provider accepts both.
			if status != 200 || strings.TrimSuffix(fmt.Sprint(e.Aud), "/") != tc.wantAud {
				t.Fatalf("call = %d aud %v %s, want aud %s", status, e.Aud, b, tc.wantAud)
			}
		})
	}
}
