package main

import (
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// connectionOptions reads a connection's options through the API.
func (w *oauthWorld) connectionOptions(name string) map[string]string {
	w.t.Helper()
	var c struct {
		Options map[string]string `json:"options"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/"+name, w.ts.Admin, nil, &c)
	return c.Options
}

// TestInteropMethodsM2M: against a strict fosite server (one client authentication
// method per request) that publishes no metadata, creating a machine-to-machine
// connection with oauth_credential_exchange_method unset stores the first method that
// gets a token, which `connections get` shows; a bad secret is refused after the three
// tries with a message naming the option and the methods tried; a method the strict
// server refuses, given through the CLI, is named with the option.
func TestInteropMethodsM2M(t *testing.T) {
	badClient := oauthtest.Client{ID: basicClient.ID, Secret: "CANARY-wrong-secret-5510"}
	w := newOAuthWorldWith(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{basicClient, postClient}, StrictClientAuth: true, NoMetadata: true})
	for _, tc := range []struct {
		name   string
		client oauthtest.Client
		want   string
		tries  int
	}{
		{"basic", basicClient, "header_only", 2},
		{"post", postClient, "body_only", 3},
	} {
		before := w.as.TokenRequests("client_credentials")
		if status, b := w.connection(tc.name, "OAUTH_M2M", tc.client, nil); status != 200 {
			t.Fatalf("%s: create with the method unset = %d %s", tc.name, status, b)
		}
		if n := w.as.TokenRequests("client_credentials") - before; n != tc.tries {
			t.Errorf("%s: %d token requests at creation, want %d", tc.name, n, tc.tries)
		}
		if got := w.connectionOptions(tc.name)["oauth_credential_exchange_method"]; got != tc.want {
			t.Errorf("%s: stored method = %q, want %q", tc.name, got, tc.want)
		}
		out, err := w.ts.cli(w.ts.Admin, "", "connections", "get", tc.name)
		if err != nil || !strings.Contains(out, "oauth_credential_exchange_method") || !strings.Contains(out, tc.want) {
			t.Errorf("%s: connections get = %v\n%s", tc.name, err, out)
		}
		if status, sub, b := w.call(w.users["alice"], tc.name); status != 200 || sub != tc.client.ID {
			t.Errorf("%s: call = %d %q %s", tc.name, status, sub, b)
		}
	}

	// A bad secret: three tries, then a 400 that names the option and what was tried.
	before := w.as.TokenRequests("client_credentials")
	status, b := w.connection("bad", "OAUTH_M2M", badClient, nil)
	e := decodeErr(t, b)
	if status != 400 || e.ErrorCode != "INVALID_PARAMETER_VALUE" ||
		!strings.Contains(e.Message, "invalid_client") ||
		!strings.Contains(e.Message, "tried oauth_credential_exchange_method header_and_body, header_only, body_only") {
		t.Errorf("bad secret = %d %+v", status, e)
	}
	if n := w.as.TokenRequests("client_credentials") - before; n != 3 {
		t.Errorf("bad secret: %d token requests, want exactly 3", n)
	}
	if strings.Contains(string(b), badClient.Secret) {
		t.Errorf("the refusal echoes the secret: %s", b)
	}
	if status, _ := w.ts.do("GET", "/api/2.1/unity-catalog/connections/bad", w.ts.Admin, nil); status != 404 {
		t.Errorf("the refused connection exists: %d", status)
	}

	// Through the CLI: header_and_body, which the strict server refuses as two
	// mechanisms, is named with the option and the lack of metadata.
	out, err := w.ts.cli(w.ts.Admin, "", "connections", "create", "both", "--credential-type", "OAUTH_M2M",
		"--option", "host="+w.up.URL, "--option", "client_id="+basicClient.ID, "--option", "client_secret="+basicClient.Secret,
		"--option", "token_endpoint="+w.as.TokenURL, "--option", "oauth_credential_exchange_method=header_and_body")
	if err == nil || !strings.Contains(out, "check oauth_credential_exchange_method: Gatehouse sent header_and_body; the provider publishes no metadata") {
		t.Errorf("strict refusal through the CLI = %v\n%s", err, out)
	}
	if strings.Contains(out, basicClient.Secret) {
		t.Errorf("the CLI output contains the secret:\n%s", out)
	}
}

// TestInteropMethodsU2MFirstLogin: a per-user connection to the strict server without
// metadata is created with the method unset; the first login finds the method by
// redeeming the one code (refusals about client authentication leave it unused),
// stores it in the connection's options, which `connections get` shows, and records it
// in the oauthLogin audit event; the next user's login uses it at once.
func TestInteropMethodsU2MFirstLogin(t *testing.T) {
	w := newOAuthWorldWith(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{basicClient, postClient}, StrictClientAuth: true, NoMetadata: true})
	if status, b := w.connection("peruser", "OAUTH_U2M_PER_USER", postClient, nil); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	if got, ok := w.connectionOptions("peruser")["oauth_credential_exchange_method"]; ok {
		t.Fatalf("method before any login = %q, want unset", got)
	}
	before := w.as.TokenRequests("authorization_code")
	if code, page := w.login("alice", "peruser"); code != 200 {
		t.Fatalf("alice's first login = %d %s", code, page)
	}
	if n := w.as.TokenRequests("authorization_code") - before; n != 3 {
		t.Errorf("first login: %d code redemptions, want 3 (header_and_body, header_only, body_only)", n)
	}
	if got := w.connectionOptions("peruser")["oauth_credential_exchange_method"]; got != "body_only" {
		t.Fatalf("method after the first login = %q, want body_only", got)
	}
	out, err := w.ts.cli(w.ts.Admin, "", "connections", "get", "peruser")
	if err != nil || !strings.Contains(out, "body_only") {
		t.Errorf("connections get = %v\n%s", err, out)
	}
	l := w.ts.waitAudit("action=oauthLogin", 1)
	if len(l.Events) != 1 || l.Events[0].RequestParams["options.oauth_credential_exchange_method.new"] != "body_only" {
		t.Errorf("oauthLogin audit = %+v", l.Events)
	}
	before = w.as.TokenRequests("authorization_code")
	if code, page := w.login("bob", "peruser"); code != 200 {
		t.Fatalf("bob's login = %d %s", code, page)
	}
	if n := w.as.TokenRequests("authorization_code") - before; n != 1 {
		t.Errorf("second login: %d code redemptions, want 1", n)
	}
	for _, u := range []string{"alice", "bob"} {
		if status, sub, b := w.call(w.users[u], "peruser"); status != 200 || sub != u {
			t.Errorf("%s call = %d %q %s", u, status, sub, b)
		}
	}
	l = w.ts.waitAudit("action=oauthLogin", 2)
	for _, ev := range l.Events {
		if ev.Principal == "bob" && ev.RequestParams["options.oauth_credential_exchange_method.new"] != "" {
			t.Errorf("bob's login claims to have learned the method: %+v", ev)
		}
	}
}

// TestInteropSendResource: oauth_send_resource unset (true) sends RFC 8707 resource —
// the connection's URL, or oauth_resource when set — on the authorization request and
// on the client_credentials, authorization_code and refresh_token token requests;
// "false" sends none.
func TestInteropSendResource(t *testing.T) {
	w := newOAuthWorld(t, 3*time.Second)
	last := func(kind string) string {
		r := w.as.Resources(kind)
		if len(r) == 0 {
			t.Fatalf("no %s request recorded", kind)
		}
		return r[len(r)-1]
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string
		want  string
	}{
		{"default", map[string]string{"base_path": "/v1"}, w.up.URL + "/v1"},
		{"explicit true with resource", map[string]string{"oauth_send_resource": "TRUE", "oauth_resource": "api://gatehouse-test"}, "api://gatehouse-test"},
		{"false", map[string]string{"oauth_send_resource": "false", "oauth_resource": "api://gatehouse-test"}, ""},
	} {
		m2m, u2m := "m-"+strings.ReplaceAll(tc.name, " ", "-"), "u-"+strings.ReplaceAll(tc.name, " ", "-")
		if status, b := w.connection(m2m, "OAUTH_M2M", basicClient, tc.extra); status != 200 {
			t.Fatalf("%s: create m2m = %d %s", tc.name, status, b)
		}
		if got := last("client_credentials"); got != tc.want {
			t.Errorf("%s: client_credentials resource = %q, want %q", tc.name, got, tc.want)
		}
		if status, b := w.connection(u2m, "OAUTH_U2M_PER_USER", postClient, tc.extra); status != 200 {
			t.Fatalf("%s: create u2m = %d %s", tc.name, status, b)
		}
		if code, page := w.login("alice", u2m); code != 200 {
			t.Fatalf("%s: login = %d %s", tc.name, code, page)
		}
		if got := last("authorize"); got != tc.want {
			t.Errorf("%s: authorization request resource = %q, want %q", tc.name, got, tc.want)
		}
		if got := last("authorization_code"); got != tc.want {
			t.Errorf("%s: authorization_code resource = %q, want %q", tc.name, got, tc.want)
		}
		// The refresh after the access token expires carries it too.
		before := w.as.TokenRequests("refresh_token")
		for deadline := time.Now().Add(15 * time.Second); w.as.TokenRequests("refresh_token") == before; {
			if status, sub, b := w.call(w.users["alice"], u2m); status != 200 || sub != "alice" {
				t.Fatalf("%s: call = %d %q %s", tc.name, status, sub, b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no refresh", tc.name)
			}
			time.Sleep(100 * time.Millisecond) // the access token expires on the server's clock
		}
		if got := last("refresh_token"); got != tc.want {
			t.Errorf("%s: refresh_token resource = %q, want %q", tc.name, got, tc.want)
		}
		if v, _ := json.Marshal(w.connectionOptions(u2m)); tc.extra["oauth_send_resource"] != "" && !strings.Contains(string(v), `"oauth_send_resource":"`+strings.ToLower(tc.extra["oauth_send_resource"])+`"`) {
			t.Errorf("%s: options = %s, want oauth_send_resource normalized", tc.name, v)
		}
	}
	if status, b := w.connection("bad-send", "OAUTH_M2M", basicClient, map[string]string{"oauth_send_resource": "yes"}); status != 400 || !strings.Contains(string(b), "oauth_send_resource") {
		t.Errorf("oauth_send_resource=yes = %d %s", status, b)
	}
}

// TestInteropMethodsRefusalNamed: against a strict server with metadata, a code
// redemption and a refresh refused for sending the secret both ways each name
// oauth_credential_exchange_method, the method sent and the methods the metadata lists
// in Gatehouse's names: the login page says it, and the credential's MISCONFIGURED
// reason says it.
func TestInteropMethodsRefusalNamed(t *testing.T) {
	w := newOAuthWorldWith(t, oauthtest.Options{AccessTokenLifespan: 3 * time.Second, Clients: []oauthtest.Client{basicClient, postClient}, StrictClientAuth: true})
	const want = "check oauth_credential_exchange_method: Gatehouse sent header_and_body; the provider's metadata lists client_secret_basic (header_only), client_secret_post (body_only)"
	if status, b := w.connection("both", "OAUTH_U2M_PER_USER", basicClient, map[string]string{"oauth_credential_exchange_method": "header_and_body"}); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	if code, page := w.login("alice", "both"); code == 200 || !strings.Contains(html.UnescapeString(page), want) {
		t.Errorf("login with header_and_body = %d, want a refusal naming the option:\n%s", code, page)
	}

	// A refresh refused the same way: log in with header_only, then switch the method
	// (not a destination option, so the token stays) and let the access token expire.
	opts := map[string]string{"host": w.up.URL, "client_id": basicClient.ID, "token_endpoint": w.as.TokenURL,
		"authorization_endpoint": w.as.AuthorizeURL, "oauth_scope": "offline_access", "oauth_credential_exchange_method": "header_only"}
	if status, b := w.connection("refresh", "OAUTH_U2M_PER_USER", basicClient, map[string]string{"oauth_credential_exchange_method": "header_only"}); status != 200 {
		t.Fatalf("create refresh = %d %s", status, b)
	}
	if code, page := w.login("alice", "refresh"); code != 200 {
		t.Fatalf("login = %d %s", code, page)
	}
	opts["oauth_credential_exchange_method"] = "header_and_body"
	w.ts.must("PATCH", "/api/2.1/unity-catalog/connections/refresh", w.ts.Admin, map[string]any{"options": opts}, nil)
	var uc struct {
		CredentialStatus struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"credential_status"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _, b := w.call(w.users["alice"], "refresh")
		if status != 200 {
			if !strings.Contains(string(b), want) {
				t.Errorf("refused refresh = %d %s, want it to name the option", status, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the access token was never refreshed")
		}
		time.Sleep(100 * time.Millisecond) // the access token expires on the server's clock
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/refresh/user-credentials/alice", w.users["alice"], nil, &uc)
	if uc.CredentialStatus.State != "MISCONFIGURED" || !strings.Contains(uc.CredentialStatus.Reason, want) {
		t.Errorf("credential status = %+v, want MISCONFIGURED with a reason naming the option", uc.CredentialStatus)
	}
}
