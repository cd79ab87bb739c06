package oidcprovider_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestExchangeMethods: each oauth_credential_exchange_method against oidc-provider
// with its default strictness: a client_secret_basic or client_secret_post client may
// send its secret by header or by body (oidc-provider treats the two as one family),
// but by one mechanism per request only. Accepted methods work for client credentials
// at creation, for the code redemption of a login and for the refresh after an
// expiry; header_and_body is refused at creation (M2M) or on the login page (U2M)
// with a message that names oauth_credential_exchange_method and the method used, and
// no secret.
func TestExchangeMethods(t *testing.T) {
	const ttl = 2
	w := newWorld(t, providerOptions{AccessTokenTTL: ttl})
	g := w.g
	cases := []struct {
		name   string
		cl     client
		method string
		ok     bool
	}{
		{"body_only with the client_secret_post client", postClient, "body_only", true},
		{"header_only with the client_secret_basic client", basicClient, "header_only", true},
		{"header_and_body with the client_secret_basic client is refused", basicClient, "header_and_body", false},
		{"header_and_body with the client_secret_post client is refused", postClient, "header_and_body", false},
		{"body_only with the client_secret_basic client is accepted by oidc-provider", basicClient, "body_only", true},
		{"header_only with the client_secret_post client is accepted by oidc-provider", postClient, "header_only", true},
	}
	type made struct{ m2m, u2m string }
	conns := make([]made, len(cases))
	for i, tc := range cases {
		opt := map[string]string{"oauth_credential_exchange_method": tc.method}
		m := made{m2m: "m2m" + string(rune('a'+i)), u2m: "u2m" + string(rune('a'+i))}
		conns[i] = m
		t.Run("M2M/"+tc.name, func(t *testing.T) {
			status, b := g.connection(m.m2m, "OAUTH_M2M", w.oauthOpts(tc.cl, "OAUTH_M2M", opt))
			if tc.ok {
				if status != 200 {
					t.Fatalf("create = %d %s", status, b)
				}
				if status, e, b := g.callProxy(g.users["alice"], m.m2m); status != 200 || e.ClientID != tc.cl.ID {
					t.Fatalf("call = %d %s", status, b)
				}
				return
			}
			if status != 400 || !strings.Contains(string(b), "oauth_credential_exchange_method") || !strings.Contains(string(b), tc.method) {
				t.Fatalf("create = %d %s, want 400 naming oauth_credential_exchange_method and %s", status, b, tc.method)
			}
			assertNoSecret(t, b)
		})
		t.Run("U2M/"+tc.name, func(t *testing.T) {
			if status, b := g.connection(m.u2m, "OAUTH_U2M_PER_USER", w.oauthOpts(tc.cl, "OAUTH_U2M_PER_USER", opt)); status != 200 {
				t.Fatalf("create = %d %s", status, b)
			}
			code, page, _ := g.login(w.ca, w.p, "alice", m.u2m)
			if tc.ok {
				if code != 200 {
					t.Fatalf("login = %d %s", code, page)
				}
				if status, e, b := g.callProxy(g.users["alice"], m.u2m); status != 200 || e.Sub != "alice" {
					t.Fatalf("call = %d %s", status, b)
				}
				return
			}
			if code == 200 || !strings.Contains(page, "oauth_credential_exchange_method") || !strings.Contains(page, tc.method) {
				t.Fatalf("login = %d, want a refusal naming oauth_credential_exchange_method and %s:\n%s", code, tc.method, page)
			}
			assertNoSecret(t, []byte(page))
		})
	}
	// The accepted methods also carry the refresh after an expiry.
	time.Sleep(ttl*time.Second + 200*time.Millisecond)
	for i, tc := range cases {
		if !tc.ok {
			continue
		}
		if status, e, b := g.callFunction(g.users["alice"], conns[i].u2m); status != 200 || e.Sub != "alice" {
			t.Errorf("%s: call after expiry = %d %s", tc.name, status, b)
		}
	}
	refreshes := map[string]int{}
	for _, e := range w.p.events(t) {
		if e.GrantType == "refresh_token" {
			if e.Error != "" {
				t.Errorf("refresh refused: %+v", e)
			}
			refreshes[e.ClientID]++
		}
	}
	if refreshes[postClient.ID] != 2 || refreshes[basicClient.ID] != 2 {
		t.Errorf("refreshes per client = %v, want two each (one per accepted method)", refreshes)
	}
}

// TestExchangeMethodFromMetadata: with oauth_credential_exchange_method unset,
// Gatehouse reads oidc-provider's discovery metadata. A provider that publishes only
// client_secret_basic gets header_only, one that publishes only client_secret_post
// gets body_only; the chosen method is shown in the connection and works.
func TestExchangeMethodFromMetadata(t *testing.T) {
	cases := []struct {
		name      string
		published []string
		cl        client
		want      string
	}{
		{"only client_secret_basic published", []string{"client_secret_basic"}, basicClient, "header_only"},
		{"only client_secret_post published", []string{"client_secret_post"}, postClient, "body_only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, providerOptions{ClientAuthMethods: tc.published})
			g := w.g
			for _, typ := range []string{"OAUTH_M2M", "OAUTH_U2M_PER_USER"} {
				name := strings.ToLower(strings.ReplaceAll(typ, "_", ""))
				status, b := g.connection(name, typ, w.oauthOpts(tc.cl, typ, nil))
				if status != 200 {
					t.Fatalf("create %s = %d %s", typ, status, b)
				}
				var c struct {
					Options map[string]string `json:"options"`
				}
				if err := json.Unmarshal(b, &c); err != nil || c.Options["oauth_credential_exchange_method"] != tc.want {
					t.Fatalf("%s: chosen method = %q (%v), want %s: %s", typ, c.Options["oauth_credential_exchange_method"], err, tc.want, b)
				}
				if typ == "OAUTH_U2M_PER_USER" {
					if code, page, _ := g.login(w.ca, w.p, "alice", name); code != 200 {
						t.Fatalf("login = %d %s", code, page)
					}
				}
				if status, e, b := g.callProxy(g.users["alice"], name); status != 200 || e.ClientID != tc.cl.ID {
					t.Fatalf("%s call = %d %s", typ, status, b)
				}
			}
		})
	}
}

// assertNoSecret fails if any client secret appears in b, plainly or encoded.
func assertNoSecret(t *testing.T, b []byte) {
	t.Helper()
	for _, c := range []client{basicClient, postClient, rsClient} {
		for _, form := range secretForms(c) {
			if strings.Contains(string(b), form) {
				t.Errorf("response holds a form of %s's secret (%q)", c.ID, form)
			}
		}
	}
}
