package main

// Tests of the first-session rough edges of issue 9 point 7 (second half): login of a
// type without one, inventory rows of connections nobody logged in to, check output on
// an 80-column terminal, version, token lifetimes, privilege names and revokes of
// privileges not held.

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/buildinfo"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

func TestCLILoginChecksCredentialType(t *testing.T) {
	t.Parallel()
	conn := func(name, typ string) cliResponse {
		return cliResponse{body: `{"name":"` + name + `","credential_type":"` + typ + `","options":{}}`}
	}
	f := newCLIFakeAPI(t, map[string]cliResponse{
		"GET /api/2.1/unity-catalog/connections/stripe":  conn("stripe", "BEARER_TOKEN"),
		"GET /api/2.1/unity-catalog/connections/billing": conn("billing", "OAUTH_M2M"),
		"GET /api/2.1/unity-catalog/connections/github":  conn("github", "OAUTH_U2M_PER_USER"),
		"GET /api/2.1/unity-catalog/connections/jira":    conn("jira", "OAUTH_U2M"),
	})
	tests := []struct {
		name    string
		conn    string
		wantErr []string // "" for success
		wantOut string
	}{
		{name: "bearer has no login", conn: "stripe",
			wantErr: []string{"connection stripe uses BEARER_TOKEN", "has no login", "bearer_token", "only OAUTH_U2M and OAUTH_U2M_PER_USER"}},
		{name: "machine-to-machine has no login", conn: "billing",
			wantErr: []string{"connection billing uses OAUTH_M2M", "has no login", "client credentials", "only OAUTH_U2M and OAUTH_U2M_PER_USER"}},
		{name: "per-user prints the URL", conn: "github", wantOut: "/connections/github/login"},
		{name: "shared user-to-machine prints the URL", conn: "jira", wantOut: "/connections/jira/login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := cliRun(t, cliEnv(f), "", "login", tt.conn, "--open=false")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("login %s: %v", tt.conn, err)
				}
				if !strings.Contains(stdout, f.URL+tt.wantOut) {
					t.Errorf("stdout = %q, want the URL %s", stdout, f.URL+tt.wantOut)
				}
				return
			}
			if err == nil {
				t.Fatalf("login %s = nil error; stdout %q", tt.conn, stdout)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want no URL printed", stdout)
			}
		})
	}
}

func TestInventoryListsConnectionsNobodyLoggedIn(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, time.Hour)
	for _, c := range []struct{ name, typ string }{{"shared", "OAUTH_U2M"}, {"peruser", "OAUTH_U2M_PER_USER"}, {"offline", "OAUTH_U2M_PER_USER"}} {
		if status, b := w.connection(c.name, c.typ, basicClient, nil); status != 200 {
			t.Fatalf("create %s = %d %s", c.name, status, b)
		}
	}
	w.ts.grant("connection", "shared", "alice", "MANAGE") // a shared login needs MANAGE
	w.ts.must("PATCH", "/api/2.1/unity-catalog/connections/offline", w.ts.Admin, map[string]any{"enabled": false}, nil)

	inventory := func() string {
		t.Helper()
		var inv httpapi.InventoryResponse
		w.ts.must("GET", "/api/2.0/gatehouse/inventory", w.ts.Admin, nil, &inv)
		got := []string{}
		for _, c := range inv.Credentials {
			got = append(got, c.Connection+"/"+c.Holder+"/"+c.State)
			if c.State == "NEEDS_LOGIN" && !strings.Contains(c.Reason, w.ts.URL+"/connections/"+c.Connection+"/login") {
				t.Errorf("%s: reason %q does not give the login URL", c.Connection, c.Reason)
			}
		}
		return strings.Join(got, ",")
	}
	tests := []struct {
		name  string
		login []string // user/connection logins done before the step
		want  string
	}{
		{name: "nobody logged in: one row per connection", want: "offline/(no user yet)/DISABLED,peruser/(no user yet)/NEEDS_LOGIN,shared/shared/NEEDS_LOGIN"},
		{name: "a login replaces the row by the credential", login: []string{"bob/peruser", "alice/shared"},
			want: "offline/(no user yet)/DISABLED,peruser/bob/ACTIVE,shared/shared/ACTIVE"},
	}
	for _, tt := range tests {
		// Steps in order: each builds on the logins of the previous.
		for _, l := range tt.login {
			user, conn, _ := strings.Cut(l, "/")
			if status, page := w.login(user, conn); status != 200 {
				t.Fatalf("%s: login %s = %d %s", tt.name, l, status, page)
			}
		}
		if got := inventory(); got != tt.want {
			t.Errorf("%s: inventory = %s, want %s", tt.name, got, tt.want)
		}
	}
	out, err := w.ts.cli(w.ts.Admin, "", "inventory")
	if err != nil || !strings.Contains(out, "(no user yet)") || !strings.Contains(out, "DISABLED") {
		t.Errorf("gatehouse inventory: %v\n%s", err, out)
	}
}

func TestCLICheckFitsEightyColumns(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, time.Hour)
	for _, c := range []struct{ name, typ string }{{"peruser", "OAUTH_U2M_PER_USER"}, {"m2m", "OAUTH_M2M"}} {
		if status, b := w.connection(c.name, c.typ, basicClient, nil); status != 200 {
			t.Fatalf("create %s = %d %s", c.name, status, b)
		}
	}
	// A provider that refuses and quotes at length: the longest evidence and fix texts.
	long := "The token endpoint refused the client ID and secret (invalid_client: client authentication failed because the client secret does not match the registered one for this tenant)."
	fake := newCLIFakeAPI(t, map[string]cliResponse{
		"GET /api/2.0/gatehouse/connections/strict/check": {body: `{"redirect_uri":"https://gatehouse.internal.example.com/login/oauth/http.html","checks":[
			{"name":"confidential_client","result":"fail","evidence":"` + long + `","fix":"Check client_id and client_secret; if they are right, set oauth_credential_exchange_method to one of header_and_body, body_only or header_only that the server lists in token_endpoint_auth_methods_supported."},
			{"name":"https","result":"pass","evidence":"Every endpoint uses https."}]}`},
	})
	tests := []struct {
		name string
		env  map[string]string
		conn string
		want []string
	}{
		{name: "per-user against fosite", env: map[string]string{"GATEHOUSE_HOST": w.ts.URL, "GATEHOUSE_TOKEN": w.ts.Admin}, conn: "peruser",
			want: []string{"Redirect URI to register:", w.ts.URL + "/login/oauth/http.html", "Evidence: "}},
		{name: "machine-to-machine against fosite", env: map[string]string{"GATEHOUSE_HOST": w.ts.URL, "GATEHOUSE_TOKEN": w.ts.Admin}, conn: "m2m",
			want: []string{oauth.CheckClientCredentials, "PASS"}},
		{name: "long refusal wraps", env: cliEnv(fake), conn: "strict",
			want: []string{"FAIL     confidential_client", "         Evidence: The token endpoint", "         Fix: Check client_id", "tenant).", "token_endpoint_auth_methods_supported."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := cliRun(t, tt.env, "", "connections", "check", tt.conn)
			if err != nil {
				t.Fatalf("connections check %s: %v", tt.conn, err)
			}
			lines := strings.Split(stdout, "\n")
			if len(lines) < 6 {
				t.Fatalf("output has %d lines:\n%s", len(lines), stdout)
			}
			if testing.Verbose() {
				t.Log("\n" + stdout)
			}
			for i, l := range lines {
				if n := utf8.RuneCountInString(l); n > 80 {
					t.Errorf("line %d is %d columns, want at most 80: %q", i+1, n, l)
				}
			}
			for _, s := range tt.want {
				if !strings.Contains(stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, stdout)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	info := buildinfo.Get()
	text := "gatehouse " + info.Version + "\ncommit: " + info.Commit + "\ngo: " + runtime.Version() + "\n"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "version command", args: []string{"version"}, want: text},
		{name: "--version flag", args: []string{"--version"}, want: text},
		{name: "json for programs", args: []string{"version", "-o", "json"},
			want: `{"version":"` + info.Version + `","commit":"` + info.Commit + `","go_version":"` + runtime.Version() + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// No host, no token: version needs no server.
			stdout, _, err := cliRun(t, nil, "", tt.args...)
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			if strings.HasPrefix(tt.want, "{") {
				if d := cliJSONDiff(t, tt.want, stdout); d != "" {
					t.Errorf("stdout (-want +got):\n%s", d)
				}
			} else if stdout != tt.want {
				t.Errorf("stdout = %q, want %q", stdout, tt.want)
			}
		})
	}
	// /metrics shows the same build.
	ts := startServer(t, "", nil)
	status, body := ts.do("GET", "/metrics", "", nil)
	want := `gatehouse_build_info{version="` + info.Version + `",commit="` + info.Commit + `",goversion="` + runtime.Version() + `"} 1` + "\n"
	if status != 200 || !strings.Contains(string(body), want) {
		t.Errorf("/metrics = %d, want it to contain %q:\n%s", status, want, body)
	}
}
