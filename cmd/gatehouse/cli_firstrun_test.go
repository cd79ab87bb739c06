package main

// Tests of the first-session rough edges of issue 9 point 7 (second half): login of a
// type without one, inventory rows of connections nobody logged in to, check output on
// an 80-column terminal, version, token lifetimes, privilege names and revokes of
// privileges not held.

import (
	"encoding/json"
	"runtime"
	"strconv"
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

func TestCLIParseLifetime(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "days", in: "30d", want: 30 * day},
		{name: "days and hours", in: "1d12h", want: day + 12*time.Hour},
		{name: "days and a compound duration", in: "2d3h4m5s", want: 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{name: "Go duration", in: "8h", want: 8 * time.Hour},
		{name: "Go duration with minutes", in: "90m", want: 90 * time.Minute},
		{name: "ten years in days", in: "3650d", want: 3650 * day},
		{name: "zero days", in: "0d", wantErr: "at least 1s"},
		{name: "under a second", in: "500ms", wantErr: "at least 1s"},
		{name: "negative", in: "-1h", wantErr: "want days or a Go duration"},
		{name: "days then a negative duration", in: "1d-1h", wantErr: "want days or a Go duration"},
		{name: "days then a signed duration", in: "1d+1h", wantErr: "want days or a Go duration"},
		{name: "fractional days", in: "1.5d", wantErr: "want days or a Go duration"},
		{name: "a word", in: "30days", wantErr: "want days or a Go duration"},
		{name: "d alone", in: "d", wantErr: "want days or a Go duration"},
		{name: "empty", in: "", wantErr: "want days or a Go duration"},
		{name: "too many digits", in: "1000000d", wantErr: "want days or a Go duration"},
		{name: "days beyond the bound", in: "100001d", wantErr: "at most 100000 days"},
		{name: "overflow", in: "100000d2562047h", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cliParseLifetime(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("cliParseLifetime(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("cliParseLifetime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzCLIParseLifetime(f *testing.F) {
	for _, s := range []string{"30d", "1d12h", "8h", "0d", "1d-1h", "100000d2562047h", "9223372036s", "1d1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := cliParseLifetime(s)
		if err != nil {
			return
		}
		if d < time.Second {
			t.Fatalf("cliParseLifetime(%q) = %v, below 1s", s, d)
		}
		// Whatever is accepted is whole days then a non-negative Go duration.
		days, rest, hasDays := strings.Cut(s, "d")
		if !hasDays {
			if g, err := time.ParseDuration(s); err != nil || g != d {
				t.Fatalf("cliParseLifetime(%q) = %v; time.ParseDuration = %v, %v", s, d, g, err)
			}
			return
		}
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > cliMaxLifetimeDays {
			t.Fatalf("cliParseLifetime(%q) = %v with day part %q", s, d, days)
		}
		var r time.Duration
		if rest != "" {
			if r, err = time.ParseDuration(rest); err != nil || r < 0 {
				t.Fatalf("cliParseLifetime(%q) = %v with rest %q", s, d, rest)
			}
		}
		if d != time.Duration(n)*24*time.Hour+r {
			t.Fatalf("cliParseLifetime(%q) = %v, want %dd + %v", s, d, n, r)
		}
	})
}

func TestCLITokensLifetimeDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantBody string // "" when the CLI refuses before any call
		wantErr  string
	}{
		{name: "days", args: []string{"--lifetime", "30d"}, wantBody: `{"lifetime_seconds":2592000}`},
		{name: "days and hours", args: []string{"--lifetime", "1d12h"}, wantBody: `{"lifetime_seconds":129600}`},
		{name: "Go duration", args: []string{"--lifetime", "8h"}, wantBody: `{"lifetime_seconds":28800}`},
		{name: "no lifetime leaves the server's default", args: nil, wantBody: `{}`},
		{name: "on behalf of, in days", args: []string{"--for-user", "alice", "--lifetime", "7d"}, wantBody: `{"user_name":"alice","lifetime_seconds":604800}`},
		{name: "bad lifetime", args: []string{"--lifetime", "1.5d"}, wantErr: "want days or a Go duration"},
		{name: "zero lifetime", args: []string{"--lifetime", "0d"}, wantErr: "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			created := cliResponse{body: `{"token_value":"dapi-new-value","token_info":{"token_id":"t-1","expiry_time":1780000000000}}`}
			f := newCLIFakeAPI(t, map[string]cliResponse{"POST /api/2.0/token/create": created, "POST /api/2.0/token-management/on-behalf-of/tokens": created})
			_, _, err := cliRun(t, cliEnv(f), "", append([]string{"tokens", "create"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				if n := len(f.requests()); n != 0 {
					t.Errorf("%d API calls, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cliJSONDiff(t, tt.wantBody, f.last(t, "POST").Body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}

func TestTokenDefaultLifetime(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mkUser("alice")
	const day = 24 * time.Hour
	tests := []struct {
		name       string
		path       string
		body       map[string]any
		wantStatus int
		want       time.Duration // lifetime from now
		wantMsg    string
	}{
		{name: "own token, lifetime left out", path: "/api/2.0/token/create", body: map[string]any{}, wantStatus: 200, want: 90 * day},
		{name: "own token, lifetime 0", path: "/api/2.0/token/create", body: map[string]any{"lifetime_seconds": 0}, wantStatus: 200, want: 90 * day},
		{name: "on behalf of, lifetime left out", path: "/api/2.0/token-management/on-behalf-of/tokens", body: map[string]any{"user_name": "alice"}, wantStatus: 200, want: 90 * day},
		{name: "a longer lifetime may be asked for", path: "/api/2.0/token/create", body: map[string]any{"lifetime_seconds": 3650 * 86400}, wantStatus: 200, want: 3650 * day},
		{name: "a short one too", path: "/api/2.0/token-management/on-behalf-of/tokens", body: map[string]any{"user_name": "alice", "lifetime_seconds": 60}, wantStatus: 200, want: time.Minute},
		{name: "beyond ten years", path: "/api/2.0/token/create", body: map[string]any{"lifetime_seconds": 3651 * 86400}, wantStatus: 400, wantMsg: "every token expires"},
		{name: "negative", path: "/api/2.0/token/create", body: map[string]any{"lifetime_seconds": -1}, wantStatus: 400, wantMsg: "default of 7776000 (90 days)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			status, b := ts.do("POST", tt.path, ts.Admin, tt.body)
			after := time.Now()
			if status != tt.wantStatus {
				t.Fatalf("status = %d %s, want %d", status, b, tt.wantStatus)
			}
			if status != 200 {
				if e := decodeErr(t, b); e.ErrorCode != "INVALID_PARAMETER_VALUE" || !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("error = %+v, want INVALID_PARAMETER_VALUE with %q", e, tt.wantMsg)
				}
				return
			}
			var resp httpapi.CreateTokenResponse
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			exp := time.UnixMilli(resp.TokenInfo.ExpiryTime)
			if lo, hi := before.Add(tt.want).Add(-time.Second), after.Add(tt.want).Add(time.Second); exp.Before(lo) || exp.After(hi) {
				t.Errorf("expiry = %v, want between %v and %v", exp, lo, hi)
			}
		})
	}
	// Through the CLI: no --lifetime prints an expiry 90 days out, not "never".
	out, err := runCLIStderr(t, ts, "tokens", "create", "--comment", "default")
	if err != nil || strings.Contains(out, "never") || !strings.Contains(out, time.Now().Add(90*day).UTC().Format("2006-01-02")) {
		t.Errorf("tokens create: %v\n%s", err, out)
	}
}

// runCLIStderr runs a CLI command against ts with the admin token and returns stderr.
func runCLIStderr(t *testing.T, ts *testServer, args ...string) (string, error) {
	t.Helper()
	_, stderr, err := cliRun(t, map[string]string{"GATEHOUSE_HOST": ts.URL, "GATEHOUSE_TOKEN": ts.Admin}, "", args...)
	return stderr, err
}

func TestGrantUnknownPrivilegeListsValidOnes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mkUser("alice")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "github", "credential_type": "BEARER_TOKEN",
		"options": map[string]string{"host": "https://api.github.com", "bearer_token": "CANARY-grant-bearer-5521"}}, nil)
	connValid := "the privileges on a connection are USE_CONNECTION, MANAGE, ALL_PRIVILEGES"
	metaValid := "the privileges on a metastore are CREATE_CONNECTION"
	tests := []struct {
		name string
		args []string // CLI; nil for an API-only case
		body map[string]any
		path string
		want string
	}{
		{name: "CLI grant of a typo", args: []string{"grants", "grant", "github", "alice", "USE_CONECTION"}, want: `"USE_CONECTION" is not a privilege on a connection; ` + connValid},
		{name: "CLI grant of a metastore privilege on a connection", args: []string{"grants", "grant", "github", "alice", "CREATE_CONNECTION"}, want: connValid},
		{name: "CLI revoke of an unknown privilege", args: []string{"grants", "revoke", "github", "alice", "read"}, want: `"read" is not a privilege on a connection; ` + connValid},
		{name: "CLI metastore grant of a connection privilege", args: []string{"grants", "grant", "--metastore", "alice", "MANAGE"}, want: `"MANAGE" is not a privilege on a metastore; ` + metaValid},
		{name: "API add of an unknown privilege", path: "/api/2.1/unity-catalog/permissions/connection/github",
			body: map[string]any{"changes": []map[string]any{{"principal": "alice", "add": []string{"SELECT"}}}}, want: `"SELECT" is not a privilege on a connection; ` + connValid},
		{name: "API remove on the metastore", path: "/api/2.1/unity-catalog/permissions/metastore/default",
			body: map[string]any{"changes": []map[string]any{{"principal": "alice", "remove": []string{"USE_CONNECTION"}}}}, want: `"USE_CONNECTION" is not a privilege on a metastore; ` + metaValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := grantsOf(t, ts)
			if tt.args != nil {
				// Client-side: refused before any call, so even a server that accepted
				// anything would not see it; the message is the same either way.
				out, err := ts.cli(ts.Admin, "", tt.args...)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("gatehouse %v = %v\n%s\nwant an error with %q", tt.args, err, out, tt.want)
				}
			} else {
				status, b := ts.do("PATCH", tt.path, ts.Admin, tt.body)
				if e := decodeErr(t, b); status != 400 || e.ErrorCode != "INVALID_PARAMETER_VALUE" || !strings.Contains(e.Message, tt.want) {
					t.Errorf("PATCH = %d %+v, want 400 INVALID_PARAMETER_VALUE with %q", status, e, tt.want)
				}
			}
			if after := grantsOf(t, ts); after != before {
				t.Errorf("grants changed from %s to %s", before, after)
			}
		})
	}
}

// grantsOf is the grants on connection github and on the metastore, as text.
func grantsOf(t *testing.T, ts *testServer) string {
	t.Helper()
	var out []string
	for _, p := range []string{"connection/github", "metastore/default"} {
		_, b := ts.do("GET", "/api/2.1/unity-catalog/permissions/"+p, ts.Admin, nil)
		out = append(out, string(b))
	}
	return strings.Join(out, " ")
}

func TestRevokeOfPrivilegeNotHeld(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mkUser("alice")
	bobID, _ := ts.mkUser("bob")
	carolID, _ := ts.mkUser("carol")
	ts.mkGroup("data-eng", bobID)
	ts.mkGroup("github-owners", carolID)
	for _, name := range []string{"github", "jira"} {
		ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": name, "credential_type": "BEARER_TOKEN",
			"options": map[string]string{"host": "https://api." + name + ".example.com", "bearer_token": "CANARY-revoke-bearer-7719"}}, nil)
	}
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/jira", ts.Admin, map[string]any{"owner": "github-owners"}, nil)
	ts.grant("connection", "github", "alice", "USE_CONNECTION")
	ts.grant("connection", "github", "data-eng", "USE_CONNECTION")
	ts.grant("connection", "github", "bob", "USE_CONNECTION")
	ts.grant("connection", "github", "carol", "ALL_PRIVILEGES")

	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for exit status 0
		wantStderr string // "" for no note
		wantGone   string // a "principal:PRIVILEGE" no longer granted directly afterwards
	}{
		{name: "held directly: revoked, no note", args: []string{"github", "alice", "USE_CONNECTION"}, wantGone: "alice:USE_CONNECTION"},
		{name: "not held at all: a note, exit 0", args: []string{"github", "alice", "MANAGE"},
			wantStderr: "alice does not hold MANAGE on github directly; nothing to revoke."},
		{name: "held directly and through a group: revoked, still held is an error", args: []string{"github", "bob", "USE_CONNECTION"},
			wantErr: "bob still holds USE_CONNECTION on github through group data-eng", wantGone: "bob:USE_CONNECTION"},
		{name: "held only through a group: note and error", args: []string{"github", "bob", "USE_CONNECTION"},
			wantStderr: "bob does not hold USE_CONNECTION on github directly; nothing to revoke.", wantErr: "through group data-eng"},
		{name: "implied by a direct ALL_PRIVILEGES", args: []string{"github", "carol", "USE_CONNECTION"},
			wantStderr: "carol does not hold USE_CONNECTION on github directly", wantErr: "carol still holds USE_CONNECTION on github through a direct ALL_PRIVILEGES grant"},
		{name: "held as a member of the owner group", args: []string{"jira", "carol", "MANAGE"},
			wantStderr: "carol does not hold MANAGE on jira directly", wantErr: "carol still holds MANAGE on jira as the connection's owner (github-owners)"},
		{name: "metastore privilege not held", args: []string{"--metastore", "alice", "CREATE_CONNECTION"},
			wantStderr: "alice does not hold CREATE_CONNECTION on the metastore directly; nothing to revoke."},
	}
	for _, tt := range tests {
		// In order: the third case's revoke is what the fourth finds done.
		env := map[string]string{"GATEHOUSE_HOST": ts.URL, "GATEHOUSE_TOKEN": ts.Admin}
		stdout, stderr, err := cliRun(t, env, "", append([]string{"grants", "revoke"}, tt.args...)...)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: error %v, want exit status 0", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
		if tt.wantStderr == "" && stderr != "" || !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("%s: stderr %q, want %q", tt.name, stderr, tt.wantStderr)
		}
		if !strings.Contains(stdout, "PRINCIPAL") {
			t.Errorf("%s: stdout %q, want the assignments after the revoke", tt.name, stdout)
		}
		if tt.wantGone != "" {
			principal, priv, _ := strings.Cut(tt.wantGone, ":")
			var pl httpapi.PermissionsList
			ts.must("GET", "/api/2.1/unity-catalog/permissions/connection/github", ts.Admin, nil, &pl)
			for _, a := range pl.PrivilegeAssignments {
				if a.Principal == principal && strings.Contains(strings.Join(a.Privileges, ","), priv) {
					t.Errorf("%s: %s still granted %s directly: %+v", tt.name, principal, priv, a)
				}
			}
		}
	}
}
