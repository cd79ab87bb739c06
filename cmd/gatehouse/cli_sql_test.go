package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// sqlWorld is a Gatehouse with an echo upstream (which shows the credential as a hash),
// an OAuth authorization server and an upstream that accepts its tokens, and users.
type sqlWorld struct {
	t      *testing.T
	ts     *testServer
	echo   *upstream
	as     *oauthtest.Server
	oauth  *httptest.Server // accepts the authorization server's access tokens
	tokens map[string]string
	ids    map[string]string
}

func newSQLWorld(t *testing.T, users ...string) *sqlWorld {
	t.Helper()
	return newSQLWorldWith(t, nil, users...)
}

// newSQLWorldWith is newSQLWorld with h serving the echo upstream's requests.
func newSQLWorldWith(t *testing.T, h http.HandlerFunc, users ...string) *sqlWorld {
	t.Helper()
	w := &sqlWorld{t: t, tokens: map[string]string{}, ids: map[string]string{}}
	w.echo = newUpstream(t, h)
	w.as = oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{basicClient}})
	w.oauth = httptest.NewUnstartedServer(w.as.UpstreamHandler())
	w.oauth.StartTLS()
	t.Cleanup(w.oauth.Close)
	var cas []byte
	for _, f := range []string{w.echo.caFile, w.as.CAFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, b...)
	}
	caFile := filepath.Join(t.TempDir(), "cas.pem")
	if err := os.WriteFile(caFile, append(cas, pemOf(w.oauth)...), 0o600); err != nil {
		t.Fatal(err)
	}
	w.ts = startServer(t, "", map[string]string{"GATEHOUSE_LOG_LEVEL": "debug"}, "--upstream-ca-file", caFile)
	w.tokens["admin"] = w.ts.Admin
	for _, u := range users {
		w.ids[u], w.tokens[u] = w.ts.mkUser(u)
	}
	return w
}

// sql sends one statement (with parameters as name, value pairs) as the user and
// returns the answer, which must be a 200.
func (w *sqlWorld) sql(user, stmt string, params ...string) httpapi.StatementResponse {
	w.t.Helper()
	return w.send(user, httpapi.StatementRequest{Statement: stmt, Parameters: sqlParams(params...)})
}

func (w *sqlWorld) send(user string, req httpapi.StatementRequest) httpapi.StatementResponse {
	w.t.Helper()
	var resp httpapi.StatementResponse
	w.ts.must("POST", "/api/2.0/sql/statements", w.tokens[user], req, &resp)
	if resp.StatementID == "" {
		w.t.Errorf("%q: answer without a statement_id", req.Statement)
	}
	return resp
}

func sqlParams(kv ...string) []httpapi.StatementParameter {
	var ps []httpapi.StatementParameter
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, httpapi.StatementParameter{Name: kv[i], Value: kv[i+1]})
	}
	return ps
}

// ok runs a statement that must succeed and returns its rows.
func (w *sqlWorld) ok(user, stmt string, params ...string) [][]string {
	w.t.Helper()
	resp := w.sql(user, stmt, params...)
	if resp.Status.State != httpapi.StatementSucceeded {
		w.t.Fatalf("%s: %q = %s %+v, want SUCCEEDED", user, stmt, resp.Status.State, resp.Status.Error)
	}
	if resp.Manifest == nil || resp.Result == nil || resp.Manifest.Schema.ColumnCount != len(resp.Manifest.Schema.Columns) || resp.Result.RowCount != len(resp.Result.DataArray) {
		w.t.Fatalf("%q: malformed answer %+v", stmt, resp)
	}
	return resp.Result.DataArray
}

// fails runs a statement that must fail with code and returns the message.
func (w *sqlWorld) fails(user, stmt, code string, params ...string) string {
	w.t.Helper()
	resp := w.sql(user, stmt, params...)
	if resp.Status.State != httpapi.StatementFailed || resp.Status.Error == nil || resp.Status.Error.ErrorCode != code {
		w.t.Fatalf("%s: %q = %s %+v, want FAILED %s", user, stmt, resp.Status.State, resp.Status.Error, code)
	}
	if resp.Manifest != nil || resp.Result != nil {
		w.t.Errorf("%q failed but answered a result", stmt)
	}
	return resp.Status.Error.Message
}

// audit returns the audit events the query selects, oldest first.
func (w *sqlWorld) audit(query string) []httpapi.AuditEventInfo {
	w.t.Helper()
	var out httpapi.ListAuditResponse
	w.ts.must("GET", "/api/2.0/gatehouse/audit?max_results=1000&"+query, w.ts.Admin, nil, &out)
	return out.Events
}

// waitAudit returns the events once there are n (records are written asynchronously),
// or what there is after 5 seconds.
func (w *sqlWorld) waitAudit(query string, n int) []httpapi.AuditEventInfo {
	w.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if events := w.audit(query); len(events) >= n || time.Now().After(deadline) {
			return events
		}
	}
}

// echoed decodes the echo upstream's answer in an http_request row.
func echoedOf(t *testing.T, row []string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(row[1]), &e); err != nil {
		t.Fatalf("http_request text %q: %v", row[1], err)
	}
	return e
}

// TestSQLSeedExamples runs the seed system's own examples as written: a bearer
// connection, GRANT USE CONNECTION to a group named data-eng (unquoted), http_request
// through it as a member, REVOKE, and http_request through an OAuth M2M connection.
func TestSQLSeedExamples(t *testing.T) {
	w := newSQLWorld(t, "alice@example.com")
	w.ts.mkGroup("data-eng", w.ids["alice@example.com"])
	canary := "CANARY-sql-seed-bearer-51f0"
	alice := "alice@example.com"

	if rows := w.ok("admin", "CREATE CONNECTION github TYPE HTTP OPTIONS (host :host, base_path '/base', bearer_token :tok) COMMENT 'the seed''s example'",
		"host", w.echo.URL, "tok", canary); len(rows) != 1 || !strings.Contains(rows[0][0], "created connection github (BEARER_TOKEN)") {
		t.Fatalf("CREATE answered %q", rows)
	}
	// Before the grant alice may not call it, as through the API.
	w.fails(alice, "SELECT http_request(conn => 'github', method => 'GET', path => '/user')", "PERMISSION_DENIED")
	// As the seed writes it, through the CLI.
	if out, err := w.cli("admin", "", "GRANT USE CONNECTION ON CONNECTION github TO data-eng"); err != nil || !strings.Contains(out, "granted USE_CONNECTION on connection github to data-eng") {
		t.Fatalf("gatehouse sql GRANT: %v %s", err, out)
	}
	rows := w.ok("admin", "SHOW GRANTS ON CONNECTION github")
	if len(rows) != 1 || strings.Join(rows[0], " ") != "data-eng USE_CONNECTION CONNECTION github" {
		t.Fatalf("SHOW GRANTS = %q", rows)
	}

	rows = w.ok(alice, "SELECT http_request(conn => 'github', method => 'GET', path => '/user', headers => map('Accept', 'application/vnd.github+json'), params => map('q', 'gate house'))")
	if len(rows) != 1 || rows[0][0] != "418" {
		t.Fatalf("http_request = %q, want the upstream's 418", rows)
	}
	e := echoedOf(t, rows[0])
	wantQuery := url.Values{"q": {"gate house"}}.Encode()
	if e.Method != "GET" || e.Path != "/base/user" || e.RawQuery != wantQuery {
		t.Errorf("upstream saw %s %s?%s, want GET /base/user?q=gate+house", e.Method, e.Path, e.RawQuery)
	}
	if got := http.Header(e.Header).Get("Authorization"); got != authHash("Bearer "+canary) {
		t.Errorf("upstream saw Authorization %s, want the connection's token", got)
	}
	if got := http.Header(e.Header).Get("Accept"); got != "application/vnd.github+json" {
		t.Errorf("upstream saw Accept %q", got)
	}
	// A JSON body, as the external-function endpoint sends it.
	rows = w.ok(alice, `SELECT http_request(conn => 'github', method => 'POST', path => '/issues', json => '{"title": "it''s here"}')`)
	if e := echoedOf(t, rows[0]); e.Method != "POST" || e.Body != `{"title": "it's here"}` || http.Header(e.Header).Get("Content-Type") != "application/json" {
		t.Errorf("upstream saw %s body %q type %q", e.Method, e.Body, http.Header(e.Header).Get("Content-Type"))
	}

	if out, err := w.cli("admin", "", "REVOKE USE CONNECTION ON CONNECTION github FROM data-eng"); err != nil {
		t.Fatalf("gatehouse sql REVOKE: %v %s", err, out)
	}
	msg := w.fails(alice, "SELECT http_request(conn => 'github', method => 'GET', path => '/user')", "PERMISSION_DENIED")
	if !strings.Contains(msg, "USE_CONNECTION") {
		t.Errorf("refusal says %q", msg)
	}

	// OAuth machine to machine, against the test authorization server.
	w.ok("admin", "CREATE CONNECTION m2m TYPE HTTP OPTIONS (host :host, client_id :id, client_secret :secret, token_endpoint :te, oauth_scope 'read')",
		"host", w.oauth.URL, "id", basicClient.ID, "secret", basicClient.Secret, "te", w.as.URL+"/token")
	w.ok("admin", "GRANT USE CONNECTION ON CONNECTION m2m TO `data-eng`")
	rows = w.ok(alice, "SELECT http_request(conn => 'm2m', method => 'GET', path => '/whoami')")
	if rows[0][0] != "200" || !strings.Contains(rows[0][1], `"sub":"`+basicClient.ID+`"`) {
		t.Errorf("http_request through m2m = %q, want 200 as the client", rows)
	}

	// The audit: each statement as its operation, with the statement, secrets as '***'.
	events := w.waitAudit("connection=github", 7)
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.ActionName+"/"+ev.Decision)
		if st := ev.RequestParams["statement"]; st == "" || strings.Contains(st, canary) {
			t.Errorf("%s: statement %q", ev.ActionName, st)
		}
		if ev.RequestParams["path"] != "" && ev.ActionName != "useConnection" && ev.RequestParams["path"] != "/api/2.0/sql/statements" {
			t.Errorf("%s: path %q", ev.ActionName, ev.RequestParams["path"])
		}
	}
	want := []string{"createConnection/ALLOW", "useConnection/DENY", "updatePermissions/ALLOW", "useConnection/ALLOW", "useConnection/ALLOW", "updatePermissions/ALLOW", "useConnection/DENY"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit of github = %v, want %v", actions, want)
	}
	if st := events[0].RequestParams["statement"]; !strings.Contains(st, "bearer_token '***'") || !strings.Contains(st, w.echo.URL) {
		t.Errorf("create's statement in the audit = %q, want the host and bearer_token '***'", st)
	}
	if ch := events[2].RequestParams["changes"]; ch != "add USE_CONNECTION data-eng" {
		t.Errorf("grant's audit changes = %q", ch)
	}
}

// TestSQLStatements runs each statement form end to end and checks its answer.
func TestSQLStatements(t *testing.T) {
	w := newSQLWorld(t, "bob@example.com")
	bob := "bob@example.com"
	w.ok("admin", "create connection IF NOT EXISTS `SVC_A` type http options (HOST :h, bearer_token 'x')", "h", w.echo.URL)
	if rows := w.ok("admin", "CREATE CONNECTION IF NOT EXISTS svc_a TYPE HTTP OPTIONS (host 'https://other.example.com', bearer_token 'y')"); !strings.Contains(rows[0][0], "nothing done") {
		t.Errorf("IF NOT EXISTS on an existing connection = %q", rows)
	}
	if ev := w.waitAudit("connection=svc_a&action=createConnection", 2); len(ev) != 2 || ev[1].RequestParams["skipped"] != "exists" || ev[1].Decision != "ALLOW" {
		t.Errorf("audit of a skipped create: %+v", ev)
	}
	// Without IF NOT EXISTS: the API's 409 code.
	w.fails("admin", "CREATE CONNECTION svc_a TYPE HTTP OPTIONS (host 'https://other.example.com', bearer_token 'y')", "RESOURCE_ALREADY_EXISTS")
	// The credential type given as an option, and one the options cannot decide.
	w.ok("admin", "CREATE CONNECTION u2m TYPE HTTP OPTIONS (credential_type 'OAUTH_U2M_PER_USER', host 'https://api.example.com', client_id 'c', client_secret 's', authorization_endpoint :a, token_endpoint :t)",
		"a", w.as.URL+"/authorize", "t", w.as.URL+"/token")
	msg := w.fails("admin", "CREATE CONNECTION u2m2 TYPE HTTP OPTIONS (host 'https://api.example.com', client_id 'c', client_secret 's', authorization_endpoint 'https://a.example.com/a', token_endpoint 'https://a.example.com/t')", "INVALID_PARAMETER_VALUE")
	if !strings.Contains(msg, "OAUTH_U2M") {
		t.Errorf("ambiguous credential type: %q", msg)
	}
	w.fails("admin", "CREATE CONNECTION bad TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_tokn 'y')", "INVALID_PARAMETER_VALUE")
	// A per-user connection without the caller's token: the API's error, login URL included.
	w.ok("admin", "GRANT USE CONNECTION ON CONNECTION u2m TO `bob@example.com`")
	status, b := w.ts.do("POST", "/api/2.0/external-function", w.tokens[bob], map[string]any{"connection_name": "u2m", "method": "GET", "path": "/x"})
	var apiErr httpapi.ErrorBody
	if err := json.Unmarshal(b, &apiErr); err != nil || status != 401 || apiErr.LoginURL == "" {
		t.Fatalf("external-function on u2m = %d %s", status, b)
	}
	resp := w.sql(bob, "SELECT http_request(conn => 'u2m', method => 'GET', path => '/x')")
	if e := resp.Status.Error; e == nil || e.ErrorCode != apiErr.ErrorCode || e.LoginURL != apiErr.LoginURL || e.Message != apiErr.Message {
		t.Errorf("http_request on u2m = %+v, want the API's %+v", e, apiErr)
	}
	w.ok("admin", "REVOKE USE CONNECTION ON CONNECTION u2m FROM `bob@example.com`")

	rows := w.ok("admin", "DESCRIBE CONNECTION svc_a")
	info := map[string]string{}
	for _, r := range rows {
		info[r[0]] = r[1]
	}
	if info["name"] != "svc_a" || info["credential_type"] != "BEARER_TOKEN" || info["owner"] != "admin" || info["url"] != w.echo.URL || info["enabled"] != "true" {
		t.Errorf("DESCRIBE = %v", info)
	}
	if _, ok := info["option.host"]; ok {
		t.Errorf("DESCRIBE without EXTENDED shows options: %v", info)
	}
	rows = w.ok("admin", "DESC CONNECTION EXTENDED svc_a")
	for _, r := range rows {
		info[r[0]] = r[1]
	}
	if !strings.HasPrefix(w.echo.URL, info["option.host"]+":") || info["option.port"] == "" || info["connection_id"] == "" || info["created_by"] != "admin" {
		t.Errorf("DESCRIBE EXTENDED = %v", info)
	}
	for k := range info {
		if strings.Contains(k, "bearer_token") {
			t.Errorf("DESCRIBE EXTENDED shows %s", k)
		}
	}

	w.ok("admin", "ALTER CONNECTION svc_a OWNER TO `bob@example.com`")
	w.ok("admin", "ALTER CONNECTION svc_a RENAME TO svc_b")
	w.ok(bob, "ALTER CONNECTION svc_b DISABLE")
	w.ok(bob, "ALTER CONNECTION svc_b OPTIONS (host :h, base_path '/v2')", "h", w.echo.URL)
	rows = w.ok(bob, "SHOW CONNECTIONS")
	if len(rows) != 1 || rows[0][0] != "svc_b" || rows[0][3] != bob || rows[0][4] != "false" {
		t.Errorf("bob's SHOW CONNECTIONS = %q, want svc_b owned by bob, disabled", rows)
	}
	w.ok(bob, "ALTER CONNECTION svc_b ENABLE")
	rows = w.ok("admin", "SHOW CONNECTIONS LIKE 'SVC%'")
	if len(rows) != 1 || rows[0][0] != "svc_b" {
		t.Errorf("SHOW CONNECTIONS LIKE 'SVC%%' = %q", rows)
	}
	if rows := w.ok("admin", "SHOW CONNECTIONS LIKE 'u_m'"); len(rows) != 1 || rows[0][0] != "u2m" {
		t.Errorf("SHOW CONNECTIONS LIKE 'u_m' = %q", rows)
	}
	if rows := w.ok("admin", "SHOW CONNECTIONS"); len(rows) != 2 {
		t.Errorf("admin's SHOW CONNECTIONS = %q", rows)
	}
	// is_mcp_connection is fixed at creation: the API's message.
	if msg := w.fails(bob, "ALTER CONNECTION svc_b OPTIONS (host :h, is_mcp_connection 'true')", "INVALID_PARAMETER_VALUE", "h", w.echo.URL); !strings.Contains(msg, "drop and recreate") {
		t.Errorf("is_mcp_connection change: %q", msg)
	}

	// Grants: several privileges, the metastore, a principal filter.
	w.ok(bob, "GRANT USE CONNECTION, MANAGE ON CONNECTION svc_b TO admin")
	w.ok("admin", "GRANT CREATE CONNECTION ON METASTORE TO `bob@example.com`")
	w.ok(bob, "CREATE CONNECTION bobs TYPE HTTP OPTIONS (host 'https://b.example.com', bearer_token 'z')")
	rows = w.ok(bob, "SHOW GRANTS admin ON CONNECTION svc_b")
	if len(rows) != 2 || rows[0][1] != "MANAGE" || rows[1][1] != "USE_CONNECTION" {
		t.Errorf("SHOW GRANTS admin = %q", rows)
	}
	w.ok(bob, "REVOKE ALL PRIVILEGES ON CONNECTION svc_b FROM admin")
	w.ok(bob, "REVOKE USE CONNECTION, MANAGE ON CONNECTION svc_b FROM admin")
	if rows := w.ok(bob, "SHOW GRANTS ON CONNECTION svc_b"); len(rows) != 0 {
		t.Errorf("grants after REVOKE = %q", rows)
	}
	w.fails(bob, "SHOW GRANTS nobody ON CONNECTION svc_b", "INVALID_PARAMETER_VALUE")
	w.fails(bob, "GRANT USE CONNECTION ON CONNECTION svc_b TO nobody", "INVALID_PARAMETER_VALUE")
	w.fails(bob, "GRANT CREATE CONNECTION ON CONNECTION svc_b TO admin", "INVALID_PARAMETER_VALUE")

	w.ok(bob, "DROP CONNECTION svc_b")
	w.fails(bob, "DROP CONNECTION svc_b", "RESOURCE_DOES_NOT_EXIST")
	if rows := w.ok(bob, "DROP CONNECTION IF EXISTS svc_b"); !strings.Contains(rows[0][0], "nothing done") {
		t.Errorf("DROP IF EXISTS = %q", rows)
	}
	w.fails(bob, "DESCRIBE CONNECTION svc_b", "RESOURCE_DOES_NOT_EXIST")
}

// TestSQLSyntaxAndRequestErrors: a syntax error is FAILED with its line and column in
// the caller's text (parameters substituted or not); a malformed request is the API's
// error envelope; no token is refused before the body is read.
func TestSQLSyntaxAndRequestErrors(t *testing.T) {
	w := newSQLWorld(t)
	resp := w.sql("admin", "SHOW CONNECTIONS\n  LIKE")
	if resp.Status.State != "FAILED" || resp.Status.Error.ErrorCode != "INVALID_PARAMETER_VALUE" || resp.Status.Error.Position == nil ||
		resp.Status.Error.Position.Line != 2 || !strings.HasPrefix(resp.Status.Error.Message, "line 2, column ") {
		t.Errorf("syntax error = %+v %+v", resp.Status, resp.Status.Error.Position)
	}
	// After a parameter much longer than its name, the column is the caller's.
	resp = w.sql("admin", "SHOW CONNECTIONS LIKE :p oops", "p", strings.Repeat("x", 50))
	if p := resp.Status.Error.Position; p == nil || p.Line != 1 || p.Column != 26 || !strings.HasPrefix(resp.Status.Error.Message, "line 1, column 26: ") {
		t.Errorf("error after a parameter at %+v (%s), want 1:26", p, resp.Status.Error.Message)
	}
	// A parameter is a string literal, never a name.
	if msg := w.fails("admin", "DROP CONNECTION :c", "INVALID_PARAMETER_VALUE", "c", "x"); !strings.Contains(msg, "column 17") {
		t.Errorf("a parameter as a name: %q", msg)
	}
	w.fails("admin", "SHOW CONNECTIONS LIKE :missing", "INVALID_PARAMETER_VALUE")
	w.fails("admin", "SHOW CONNECTIONS; SHOW CONNECTIONS", "INVALID_PARAMETER_VALUE")

	for _, tc := range []struct {
		name string
		body string
		code string
	}{
		{"empty statement", `{"statement": "  "}`, "INVALID_PARAMETER_VALUE"},
		{"unknown field", `{"statement": "SHOW CONNECTIONS", "nope": 1}`, "INVALID_PARAMETER_VALUE"},
		{"external links", `{"statement": "SHOW CONNECTIONS", "disposition": "EXTERNAL_LINKS"}`, "INVALID_PARAMETER_VALUE"},
	} {
		status, b := w.ts.do("POST", "/api/2.0/sql/statements", w.ts.Admin, tc.body)
		if status != 400 || decodeErr(t, b).ErrorCode != tc.code {
			t.Errorf("%s: %d %s", tc.name, status, b)
		}
	}
	status, b := w.ts.do("POST", "/api/2.0/sql/statements", "", `{"statement": "SHOW CONNECTIONS"}`)
	if status != 401 || decodeErr(t, b).ErrorCode != "UNAUTHENTICATED" {
		t.Errorf("no token: %d %s", status, b)
	}
	// The Statement Execution API's other fields are accepted.
	resp = w.send("admin", httpapi.StatementRequest{Statement: "SHOW CONNECTIONS", WarehouseID: "abc", WaitTimeout: "30s", Disposition: "INLINE", Format: "JSON_ARRAY"})
	if resp.Status.State != "SUCCEEDED" || resp.Manifest.Schema.Columns[0].Name != "name" || resp.Manifest.Schema.Columns[0].TypeText != "STRING" {
		t.Errorf("SHOW CONNECTIONS = %+v", resp)
	}
}

// sqlCLI runs `gatehouse sql ARGS` as the user and returns stdout (with the error text).
func (w *sqlWorld) cli(user string, stdin string, args ...string) (string, error) {
	w.t.Helper()
	return w.ts.cli(w.tokens[user], stdin, append([]string{"sql"}, args...)...)
}

// TestSQLCLI: one statement, tables and -o json, a file stopped at its first error with
// the file's line and column, a syntax error that runs nothing.
func TestSQLCLI(t *testing.T) {
	w := newSQLWorld(t, "carol@example.com")
	out, err := w.cli("admin", "a-token-from-stdin\n", "CREATE CONNECTION one TYPE HTTP OPTIONS (host 'https://one.example.com', bearer_token :t)", "--param", "t=@-")
	if err != nil || !strings.Contains(out, "created connection one") {
		t.Fatalf("sql CREATE: %v %s", err, out)
	}
	if strings.Contains(w.ts.responses.String(), "stays in shell history") {
		t.Error("a secret passed with --param drew the shell-history warning")
	}
	if _, err := w.cli("admin", "", "CREATE CONNECTION two TYPE HTTP OPTIONS (host 'https://two.example.com', bearer_token 'inline')"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.ts.responses.String(), "stays in shell history") {
		t.Error("a secret written in a statement on the command line drew no warning")
	}
	out, err = w.cli("admin", "", "SHOW CONNECTIONS")
	if err != nil || !strings.Contains(out, "name") || !strings.Contains(out, "one") || !strings.Contains(out, "BEARER_TOKEN") {
		t.Errorf("sql SHOW CONNECTIONS: %v\n%s", err, out)
	}
	out, err = w.cli("admin", "", "DESCRIBE CONNECTION one", "-o", "json")
	var resp httpapi.StatementResponse
	if err != nil || json.Unmarshal([]byte(out), &resp) != nil || resp.Status.State != "SUCCEEDED" || resp.Manifest.Schema.Columns[0].Name != "info_name" {
		t.Errorf("sql -o json: %v\n%s", err, out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "grants.sql")
	script := "-- grants for carol\nGRANT USE CONNECTION ON CONNECTION one TO `carol@example.com`;\n\n  GRANT MANAGE ON CONNECTION one\n    TO nobody;\nGRANT MANAGE ON CONNECTION one TO `carol@example.com`;\n"
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = w.cli("admin", "", "-f", file)
	if err == nil || !strings.Contains(out, "statement 2 of 3 (line 4, column 3) failed: INVALID_PARAMETER_VALUE") || !strings.Contains(out, "the 1 statement(s) before it were applied") {
		t.Errorf("sql -f with a failing second statement: %v\n%s", err, out)
	}
	rows := w.ok("admin", "SHOW GRANTS `carol@example.com` ON CONNECTION one")
	if len(rows) != 1 || rows[0][1] != "USE_CONNECTION" {
		t.Errorf("after the failed file carol holds %q, want only the first statement's grant", rows)
	}

	// A syntax error anywhere in the file: nothing runs, and the position is the file's.
	if err := os.WriteFile(file, []byte("REVOKE USE CONNECTION ON CONNECTION one FROM `carol@example.com`;\nGRANT MANAGE\n  ON CONECTION one TO carol;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = w.cli("admin", "", "-f", file)
	if err == nil || !strings.Contains(out, "syntax error at line 3, column 6") || !strings.Contains(out, "nothing was run") {
		t.Errorf("sql -f with a syntax error: %v\n%s", err, out)
	}
	if rows := w.ok("admin", "SHOW GRANTS `carol@example.com` ON CONNECTION one"); len(rows) != 1 {
		t.Errorf("a script with a syntax error changed grants: %q", rows)
	}
	// Statements from stdin, -o json: one answer per statement.
	out, err = w.cli("admin", "SHOW CONNECTIONS; SHOW GRANTS ON CONNECTION one;", "-f", "-", "-o", "json")
	var all []httpapi.StatementResponse
	if err != nil || json.Unmarshal([]byte(out), &all) != nil || len(all) != 2 {
		t.Errorf("sql -f - -o json: %v\n%s", err, out)
	}
	if _, err := w.cli("admin", "", "SHOW CONNECTIONS", "--detailed-exitcode"); err == nil {
		t.Error("--detailed-exitcode without --plan was accepted")
	}
}

// sqlScript is a configuration file of n statements: connections created if missing,
// with grants, owners and comments, in the style of a repository's governance file.
func sqlScript(host string, n int) string {
	var b strings.Builder
	b.WriteString("/* governance as code: connections and who may use them */\n")
	for i, count := 0, 0; count < n; i++ {
		name := fmt.Sprintf("svc-%03d", i)
		stmts := []string{
			fmt.Sprintf("CREATE CONNECTION IF NOT EXISTS `%s` TYPE HTTP\n  OPTIONS (host '%s', base_path '/v%d', bearer_token :token)\n  COMMENT 'service %d'", name, host, i%3, i),
			fmt.Sprintf("GRANT USE CONNECTION ON CONNECTION `%s` TO `data-eng`", name),
			fmt.Sprintf("GRANT MANAGE ON CONNECTION `%s` TO `dave@example.com`", name),
			fmt.Sprintf("-- not everything\nREVOKE ALL PRIVILEGES ON CONNECTION `%s` FROM `dave@example.com`", name),
			fmt.Sprintf("ALTER CONNECTION `%s` ENABLE", name),
		}
		for _, s := range stmts {
			if count == n {
				break
			}
			b.WriteString(s + ";\n")
			count++
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestSQLFileAppliesThenPlansNoChange: a file of 200 statements applies in one
// `gatehouse sql -f`; --plan of it afterwards reports no change (exit 0, also with
// --detailed-exitcode) and changes nothing; a change made behind its back shows as a
// grant, with exit code 2.
func TestSQLFileAppliesThenPlansNoChange(t *testing.T) {
	w := newSQLWorld(t, "dave@example.com")
	w.ts.mkGroup("data-eng")
	file := filepath.Join(t.TempDir(), "governance.sql")
	script := sqlScript(w.echo.URL, 200)
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "CANARY-sql-file-secret-93ab"
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Before: everything is a change.
	out, err := w.cli("admin", "", "--plan", "-f", file, "--param", "token=@"+secretFile, "-o", "json")
	var plan httpapi.StatementResponse
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.Status.State != "SUCCEEDED" {
		t.Fatalf("plan before: %v\n%s", err, out)
	}
	counts := planCounts(t, plan)
	if counts["create"] != 40 || counts["grant"] != 80 || counts["no change"] != 80 || len(plan.Result.DataArray) != 200 {
		t.Errorf("plan before applying = %v over %d rows", counts, len(plan.Result.DataArray))
	}
	if first := plan.Result.DataArray[0]; first[0] != "2" || first[1] != "1" || !strings.Contains(first[3], "bearer_token '***'") {
		t.Errorf("first plan row = %q, want line 2, column 1, the secret as '***'", first)
	}
	if snap := w.ts.snapshot(); snap != w.ts.snapshot() {
		t.Fatal("snapshot is not stable")
	}
	before := w.ts.snapshot()
	if _, err := w.cli("admin", "", "--plan", "-f", file, "--param", "token=@"+secretFile); err != nil {
		t.Fatal(err)
	}
	if w.ts.snapshot() != before {
		t.Fatal("--plan changed the state")
	}

	start := time.Now()
	out, err = w.cli("admin", "", "-f", file, "--param", "token=@"+secretFile)
	if err != nil {
		t.Fatalf("sql -f of 200 statements: %v\n%s", err, out)
	}
	t.Logf("200 statements applied in %v", time.Since(start))
	if n := strings.Count(out, "created connection"); n != 40 {
		t.Errorf("applying created %d connections, want 40", n)
	}
	if rows := w.ok("admin", "SHOW CONNECTIONS LIKE 'svc-%'"); len(rows) != 40 {
		t.Errorf("%d connections after applying, want 40", len(rows))
	}

	after := w.ts.snapshot()
	out, err = w.cli("admin", "", "--plan", "--detailed-exitcode", "-f", file, "--param", "token=@"+secretFile)
	if err != nil || !strings.Contains(out, "0 change(s); nothing was changed") {
		t.Errorf("plan after applying: %v\n%s", err, out)
	}
	out, err = w.cli("admin", "", "--plan", "-f", file, "--param", "token=@"+secretFile, "-o", "json")
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if counts := planCounts(t, plan); counts["no change"] != 200 {
		t.Errorf("plan after applying = %v, want 200 no change", counts)
	}
	if d := plan.Result.DataArray[0][4]; d != "exists as declared" {
		t.Errorf("plan of an applied CREATE IF NOT EXISTS says %q", d)
	}
	if w.ts.snapshot() != after {
		t.Error("--plan changed the state")
	}

	// A change behind the file's back: the plan shows it, --detailed-exitcode exits 2.
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/svc-007", w.ts.Admin,
		map[string]any{"changes": []map[string]any{{"principal": "data-eng", "remove": []string{"USE_CONNECTION"}}}}, nil)
	w.ok("admin", "ALTER CONNECTION `svc-008` DISABLE")
	out, err = w.cli("admin", "", "--plan", "--detailed-exitcode", "-f", file, "--param", "token=@"+secretFile)
	var ec *exitCodeError
	if !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(out, "2 change(s)") || !strings.Contains(out, "USE_CONNECTION to data-eng") {
		t.Errorf("plan after a change: %v\n%s", err, out)
	}
	if _, err := w.cli("admin", "", "--plan", "-f", file, "--param", "token=@"+secretFile); err != nil {
		t.Errorf("plan without --detailed-exitcode must exit 0: %v", err)
	}
	for _, where := range []string{w.ts.responses.String(), w.ts.Stderr.String(), w.ts.Stdout.String()} {
		if strings.Contains(where, secret) {
			t.Error("the file's secret parameter leaked into a response or the log")
		}
	}
}

func planCounts(t *testing.T, plan httpapi.StatementResponse) map[string]int {
	t.Helper()
	if plan.Manifest == nil || plan.Result == nil || plan.Manifest.Schema.Columns[2].Name != "action" {
		t.Fatalf("not a plan: %+v", plan)
	}
	counts := map[string]int{}
	for _, r := range plan.Result.DataArray {
		counts[r[2]]++
	}
	return counts
}

// TestSQLPlanScript: plan mode follows the script (a connection created earlier is
// grantable, a grant twice is one change, a drop then a use fails) and refuses what the
// apply would refuse, at the statement's position.
func TestSQLPlanScript(t *testing.T) {
	w := newSQLWorld(t, "erin@example.com")
	w.ok("admin", "CREATE CONNECTION live TYPE HTTP OPTIONS (host 'https://live.example.com', base_path '/v1', bearer_token 'x')")
	w.ok("admin", "GRANT USE CONNECTION ON CONNECTION live TO `erin@example.com`")
	plan := func(user, script string) httpapi.StatementResponse {
		return w.send(user, httpapi.StatementRequest{Statement: script, Plan: true})
	}
	resp := plan("admin", strings.ReplaceAll(`CREATE CONNECTION fresh TYPE HTTP OPTIONS (host 'https://f.example.com', bearer_token 'y');
GRANT USE CONNECTION ON CONNECTION fresh TO ERIN;
GRANT USE CONNECTION ON CONNECTION fresh TO ERIN;
GRANT USE CONNECTION, MANAGE ON CONNECTION live TO ERIN;
ALTER CONNECTION live OPTIONS (host 'https://LIVE.example.com/', base_path '/v1');
ALTER CONNECTION live OPTIONS (host 'https://live.example.com', base_path '/v2');
ALTER CONNECTION live DISABLE;
ALTER CONNECTION live DISABLE;
ALTER CONNECTION live ENABLE;
ALTER CONNECTION live OWNER TO ERIN;
ALTER CONNECTION live OWNER TO ERIN;
ALTER CONNECTION live RENAME TO renamed;
REVOKE USE CONNECTION ON CONNECTION renamed FROM ERIN;
SHOW CONNECTIONS;
DROP CONNECTION renamed;
DROP CONNECTION IF EXISTS renamed`, "ERIN", "`erin@example.com`"))
	if resp.Status.State != "SUCCEEDED" {
		t.Fatalf("plan = %+v", resp.Status.Error)
	}
	var got []string
	for _, r := range resp.Result.DataArray {
		got = append(got, r[2])
	}
	want := []string{"create", "grant", "no change", "grant", "no change", "alter", "alter", "no change", "alter", "alter", "no change", "alter", "revoke", "no change", "drop", "no change"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("plan actions = %v, want %v\n%q", got, want, resp.Result.DataArray)
	}
	if d := resp.Result.DataArray[3][4]; d != "MANAGE to erin@example.com" {
		t.Errorf("grant detail = %q, want only the privilege erin lacks", d)
	}
	// Someone who may create connections but holds nothing on this one: as when applied,
	// IF NOT EXISTS skips it, and a plain CREATE is RESOURCE_ALREADY_EXISTS.
	w.ok("admin", "GRANT CREATE CONNECTION ON METASTORE TO `erin@example.com`")
	w.ok("admin", "CREATE CONNECTION hidden TYPE HTTP OPTIONS (host 'https://h.example.com', bearer_token 'x')")
	create := "CREATE CONNECTION IF NOT EXISTS hidden TYPE HTTP OPTIONS (host 'https://h.example.com', bearer_token 'x')"
	if r := plan("erin@example.com", create); r.Status.State != "SUCCEEDED" || r.Result.DataArray[0][2] != "no change" {
		t.Errorf("plan of IF NOT EXISTS of a connection erin cannot see = %+v %+v", r.Status, r.Result)
	}
	if rows := w.ok("erin@example.com", create); !strings.Contains(rows[0][0], "nothing done") {
		t.Errorf("applied: %q", rows)
	}
	if r := plan("erin@example.com", strings.Replace(create, " IF NOT EXISTS", "", 1)); r.Status.Error == nil || r.Status.Error.ErrorCode != "RESOURCE_ALREADY_EXISTS" {
		t.Errorf("plan of CREATE of a connection erin cannot see = %+v", r.Status)
	}
	w.fails("erin@example.com", strings.Replace(create, " IF NOT EXISTS", "", 1), "RESOURCE_ALREADY_EXISTS")
	w.ok("admin", "DROP CONNECTION hidden")
	w.ok("admin", "REVOKE CREATE CONNECTION ON METASTORE FROM `erin@example.com`")
	// IF NOT EXISTS of a connection that differs: no change, and the detail says how.
	resp = plan("admin", "CREATE CONNECTION IF NOT EXISTS LIVE TYPE HTTP OPTIONS (host 'https://live.example.com', base_path '/v9', bearer_token 'other')")
	if r := resp.Result.DataArray[0]; r[2] != "no change" || !strings.Contains(r[4], "differs in options.base_path;") {
		t.Errorf("plan of CREATE IF NOT EXISTS of a different connection = %q", r)
	}
	// Nothing of it happened.
	if rows := w.ok("admin", "SHOW CONNECTIONS"); len(rows) != 1 || rows[0][0] != "live" {
		t.Errorf("connections after a plan = %q", rows)
	}

	for _, tc := range []struct {
		name, user, script, code string
		line, col                int
	}{
		{"no such connection", "admin", "SHOW CONNECTIONS;\n  GRANT MANAGE ON CONNECTION nope TO `erin@example.com`", "RESOURCE_DOES_NOT_EXIST", 2, 3},
		{"dropped earlier", "admin", "DROP CONNECTION live; ALTER CONNECTION live DISABLE", "RESOURCE_DOES_NOT_EXIST", 1, 23},
		{"exists", "admin", "CREATE CONNECTION live TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token 'y')", "RESOURCE_ALREADY_EXISTS", 1, 1},
		{"no MANAGE", "erin@example.com", "GRANT USE CONNECTION ON CONNECTION live TO admin", "PERMISSION_DENIED", 1, 1},
		{"no CREATE_CONNECTION", "erin@example.com", "CREATE CONNECTION mine TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token 'y')", "PERMISSION_DENIED", 1, 1},
		{"not an admin", "erin@example.com", "GRANT CREATE CONNECTION ON METASTORE TO `erin@example.com`", "PERMISSION_DENIED", 1, 1},
		{"bad option", "admin", "ALTER CONNECTION live OPTIONS (host 'ftp://x')", "INVALID_PARAMETER_VALUE", 1, 1},
		{"secrets follow their destination", "admin", "SHOW CONNECTIONS;ALTER CONNECTION live OPTIONS (host 'https://elsewhere.example.com')", "INVALID_PARAMETER_VALUE", 1, 18},
		{"unknown principal", "admin", "GRANT MANAGE ON CONNECTION live TO nobody", "INVALID_PARAMETER_VALUE", 1, 1},
		{"syntax", "admin", "SHOW CONNECTIONS;\nSHOW GRANT", "INVALID_PARAMETER_VALUE", 2, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := plan(tc.user, tc.script)
			e := resp.Status.Error
			if resp.Status.State != "FAILED" || e == nil || e.ErrorCode != tc.code || e.Position == nil || e.Position.Line != tc.line || e.Position.Column != tc.col {
				t.Errorf("plan = %s %+v %+v, want FAILED %s at %d:%d", resp.Status.State, e, e.Position, tc.code, tc.line, tc.col)
			}
		})
	}
}

// TestSQLSecretsNeverLeak puts canary secrets in every place a statement can carry
// one — options of CREATE and ALTER, a failed CREATE, parameters, http_request's
// headers and json body, a plan — and scans every response, the server's log, the
// audit log and the store's files for them.
func TestSQLSecretsNeverLeak(t *testing.T) {
	w := newSQLWorld(t, "frank@example.com")
	canaries := []string{"CANARY-sql-create-1a2b", "CANARY-sql-alter-3c4d", "CANARY-sql-failed-5e6f", "CANARY-sql-param-7a8b", "CANARY-sql-header-9c0d", "CANARY-sql-json-1e2f", "CANARY-sql-plan-3a4b", "CANARY-sql-m2m-5c6d"}
	w.ok("admin", "CREATE CONNECTION leak TYPE HTTP OPTIONS (host :h, BEARER_TOKEN '"+canaries[0]+"')", "h", w.echo.URL)
	w.ok("admin", "ALTER CONNECTION leak OPTIONS (host :h, bearer_token '"+canaries[1]+"')", "h", w.echo.URL)
	w.fails("admin", "CREATE CONNECTION leak2 TYPE HTTP OPTIONS (host 'http://not-https.example.com', bearer_token '"+canaries[2]+"')", "INVALID_PARAMETER_VALUE")
	w.fails("admin", "CREATE CONNECTION leak TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token '"+canaries[2]+"')", "RESOURCE_ALREADY_EXISTS")
	w.ok("admin", "CREATE CONNECTION leak3 TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token :secret)", "secret", canaries[3])
	w.fails("admin", "CREATE CONNECTION leak4 TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token :secret", "INVALID_PARAMETER_VALUE", "secret", canaries[3])
	w.ok("admin", "GRANT USE CONNECTION ON CONNECTION leak TO `frank@example.com`")
	rows := w.ok("frank@example.com", "SELECT http_request(conn => 'leak', method => 'POST', path => '/x', headers => map('X-Api-Key', '"+canaries[4]+"'), json => '{\"k\": \""+canaries[5]+"\"}')")
	if e := echoedOf(t, rows[0]); http.Header(e.Header).Get("X-Api-Key") != authHash(canaries[4]) {
		t.Errorf("the header did not reach the upstream: %v", e.Header)
	}
	w.fails("frank@example.com", "SELECT http_request(conn => 'leak', method => 'GET', path => '/../x', headers => map('X-Api-Key', '"+canaries[4]+"'))", "INVALID_PARAMETER_VALUE")
	w.send("admin", httpapi.StatementRequest{Plan: true, Statement: "ALTER CONNECTION leak OPTIONS (host :h, bearer_token '" + canaries[6] + "'); SHOW GRANTS ON CONNECTION leak", Parameters: sqlParams("h", w.echo.URL)})
	w.ok("admin", "CREATE CONNECTION m2m TYPE HTTP OPTIONS (host :host, client_id :id, client_secret :secret, token_endpoint :te)",
		"host", w.oauth.URL, "id", basicClient.ID, "secret", basicClient.Secret, "te", w.as.URL+"/token")
	w.fails("admin", "CREATE CONNECTION m2m2 TYPE HTTP OPTIONS (host :host, client_id :id, client_secret '"+canaries[7]+"', token_endpoint :te)", "INVALID_PARAMETER_VALUE",
		"host", w.oauth.URL, "id", basicClient.ID, "te", w.as.URL+"/token")
	for _, c := range []string{"leak", "leak3", "m2m"} {
		w.ok("admin", "DESCRIBE CONNECTION EXTENDED "+c)
	}
	if out, err := w.cli("admin", "", "SHOW CONNECTIONS", "-o", "json"); err != nil {
		t.Fatal(err, out)
	}
	w.waitAudit("action=useConnection", 2) // the two http_request calls
	auditJSON, _ := json.Marshal(w.audit(""))
	if !bytes.Contains(auditJSON, []byte("'***'")) {
		t.Fatalf("no statement with '***' in the audit; the scan would prove little: %s", auditJSON)
	}
	w.ts.Stop()

	// The echo upstream answers the json body it was sent, to its caller: that canary is
	// the caller's own data in the response, and must be nowhere else.
	responses := strings.ReplaceAll(w.ts.responses.String(), canaries[5], "the caller's own json body")
	scan := map[string][]byte{"responses": []byte(responses), "server log": []byte(w.ts.Stderr.String() + w.ts.Stdout.String()), "audit": auditJSON}
	files, _ := filepath.Glob(filepath.Join(w.ts.DataDir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scan[f] = b
	}
	for where, b := range scan {
		for _, c := range append(canaries, basicClient.Secret) {
			if bytes.Contains(b, []byte(c)) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(c)))) {
				t.Errorf("canary %s found in %s", c, where)
			}
		}
	}
}

// TestSQLAuthorizationMatrix: every statement fails exactly when its API call fails,
// with the same error_code, and leaves the same audit record (action, decision,
// status, error code, parameters); its plan fails exactly when it does; for the owner, a MANAGE holder, a USE_CONNECTION holder, a
// principal with nothing and an admin. Each role works on a pair of identical
// connections, one through the API and one through SQL.
func TestSQLAuthorizationMatrix(t *testing.T) {
	w := newSQLWorld(t, "owner@example.com", "manager@example.com", "user@example.com", "none@example.com", "other@example.com")
	w.ts.grant("metastore", "default", "owner@example.com", "CREATE_CONNECTION")
	const uc = "/api/2.1/unity-catalog"
	type op struct {
		name string
		api  func(conn string) (method, path string, body any)
		sql  string // {c} is the connection
	}
	ops := []op{
		{"describe", func(c string) (string, string, any) { return "GET", uc + "/connections/" + c, nil }, "DESCRIBE CONNECTION {c}"},
		{"show grants", func(c string) (string, string, any) { return "GET", uc + "/permissions/connection/" + c, nil }, "SHOW GRANTS ON CONNECTION {c}"},
		{"call", func(c string) (string, string, any) {
			return "POST", "/api/2.0/external-function", map[string]any{"connection_name": c, "method": "GET", "path": "/x"}
		}, "SELECT http_request(conn => '{c}', method => 'GET', path => '/x')"},
		{"grant", func(c string) (string, string, any) {
			return "PATCH", uc + "/permissions/connection/" + c, map[string]any{"changes": []map[string]any{{"principal": "other@example.com", "add": []string{"USE_CONNECTION"}}}}
		}, "GRANT USE CONNECTION ON CONNECTION {c} TO `other@example.com`"},
		{"revoke", func(c string) (string, string, any) {
			return "PATCH", uc + "/permissions/connection/" + c, map[string]any{"changes": []map[string]any{{"principal": "other@example.com", "remove": []string{"USE_CONNECTION"}}}}
		}, "REVOKE USE CONNECTION ON CONNECTION {c} FROM `other@example.com`"},
		{"disable", func(c string) (string, string, any) {
			return "PATCH", uc + "/connections/" + c, map[string]any{"enabled": false}
		}, "ALTER CONNECTION {c} DISABLE"},
		{"enable", func(c string) (string, string, any) {
			return "PATCH", uc + "/connections/" + c, map[string]any{"enabled": true}
		}, "ALTER CONNECTION {c} ENABLE"},
		{"options", func(c string) (string, string, any) {
			return "PATCH", uc + "/connections/" + c, map[string]any{"options": map[string]string{"host": w.echo.URL, "base_path": "/v2"}}
		}, "ALTER CONNECTION {c} OPTIONS (host '" + w.echo.URL + "', base_path '/v2')"},
		{"create", func(c string) (string, string, any) {
			return "POST", uc + "/connections", map[string]any{"name": c + "-new", "options": map[string]string{"host": "https://n.example.com", "bearer_token": "t"}}
		}, "CREATE CONNECTION `{c}-new` TYPE HTTP OPTIONS (host 'https://n.example.com', bearer_token 't')"},
		{"grant on metastore", func(c string) (string, string, any) {
			return "PATCH", uc + "/permissions/metastore/default", map[string]any{"changes": []map[string]any{{"principal": "other@example.com", "add": []string{"CREATE_CONNECTION"}}}}
		}, "GRANT CREATE CONNECTION ON METASTORE TO `other@example.com`"},
		{"owner", func(c string) (string, string, any) {
			return "PATCH", uc + "/connections/" + c, map[string]any{"owner": "owner@example.com"}
		}, "ALTER CONNECTION {c} OWNER TO `owner@example.com`"},
		{"drop", func(c string) (string, string, any) { return "DELETE", uc + "/connections/" + c, nil }, "DROP CONNECTION {c}"},
	}
	// The outcomes the matrix must show, so that it cannot pass by everything failing
	// alike: "" is success.
	want := map[string]map[string]string{
		"owner":   {"describe": "", "call": "", "grant": "", "create": "", "grant on metastore": "PERMISSION_DENIED", "drop": ""},
		"manager": {"describe": "", "call": "PERMISSION_DENIED", "grant": "", "create": "PERMISSION_DENIED", "drop": ""},
		"user":    {"describe": "", "show grants": "", "call": "", "grant": "PERMISSION_DENIED", "disable": "PERMISSION_DENIED", "drop": "PERMISSION_DENIED"},
		"none":    {"describe": "PERMISSION_DENIED", "show grants": "PERMISSION_DENIED", "call": "PERMISSION_DENIED", "drop": "PERMISSION_DENIED"},
		"admin":   {"describe": "", "grant": "", "grant on metastore": "", "create": "", "drop": ""},
	}
	users := map[string]string{"owner": "owner@example.com", "manager": "manager@example.com", "user": "user@example.com", "none": "none@example.com", "admin": "admin"}
	for _, role := range []string{"owner", "manager", "user", "none", "admin"} {
		t.Run(role, func(t *testing.T) {
			pair := map[string]string{"api": "api-" + role, "sql": "sql-" + role}
			for _, c := range pair {
				w.ts.must("POST", uc+"/connections", w.tokens["owner@example.com"], map[string]any{"name": c, "options": map[string]string{"host": w.echo.URL, "bearer_token": "t"}}, nil)
				w.ts.must("PATCH", uc+"/permissions/connection/"+c, w.tokens["owner@example.com"], map[string]any{"changes": []map[string]any{
					{"principal": "manager@example.com", "add": []string{"MANAGE"}}, {"principal": "user@example.com", "add": []string{"USE_CONNECTION"}}}}, nil)
			}
			who := users[role]
			for _, o := range ops {
				method, path, body := o.api(pair["api"])
				status, b := w.ts.do(method, path, w.tokens[who], body)
				apiCode := ""
				if status/100 != 2 && !(o.name == "call" && status == 418) {
					apiCode = decodeErr(t, b).ErrorCode
				}
				stmt := strings.ReplaceAll(o.sql, "{c}", pair["sql"])
				// The plan of the statement, before it runs, fails exactly when it will
				// (http_request aside: a plan does not call it).
				planResp := w.send(who, httpapi.StatementRequest{Statement: stmt, Plan: true})
				planCode := ""
				if planResp.Status.State != httpapi.StatementSucceeded {
					planCode = planResp.Status.Error.ErrorCode
				}
				resp := w.sql(who, stmt)
				sqlCode := ""
				if resp.Status.State != httpapi.StatementSucceeded {
					sqlCode = resp.Status.Error.ErrorCode
				}
				if sqlCode != apiCode {
					t.Errorf("%s as %s: SQL answered %q, the API %q (%d %s)", o.name, role, sqlCode, apiCode, status, b)
				}
				if o.name != "call" && planCode != sqlCode {
					t.Errorf("%s as %s: the plan answered %q, the statement %q", o.name, role, planCode, sqlCode)
				}
				if exp, ok := want[role][o.name]; ok && apiCode != exp {
					t.Errorf("%s as %s: API answered %q, want %q", o.name, role, apiCode, exp)
				}
			}
			// The same audit records, connection by connection. Records are written
			// asynchronously, in order: once each connection has its 10 (the setup's
			// two, and every operation's but the two reads'), the records of the
			// create before the last operation are in too.
			for _, suffix := range []string{"", "-new"} {
				var a, s []httpapi.AuditEventInfo
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					a, s = w.audit("connection="+pair["api"]+suffix), w.audit("connection="+pair["sql"]+suffix)
					if suffix != "" || len(a) >= 10 && len(s) >= 10 || time.Now().After(deadline) {
						break
					}
				}
				if summary(a) != summary(s) {
					t.Errorf("audit of %s%s:\n API %s\n SQL %s", role, suffix, summary(a), summary(s))
				}
				if suffix == "" && len(a) != 10 {
					t.Errorf("audit of %s: %d records, want 10: %s", role, len(a), summary(a))
				}
			}
		})
	}
	// The metastore's records: one per GRANT ... ON METASTORE of each role, the API's
	// and SQL's alike.
	var api, sql []httpapi.AuditEventInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		api, sql = nil, nil
		for _, e := range w.audit("action=updatePermissions") {
			switch {
			case e.RequestParams["path"] == uc+"/permissions/metastore/default" && !strings.Contains(e.RequestParams["changes"], "owner@example.com"): // not the setup's
				api = append(api, e)
			case strings.Contains(e.RequestParams["statement"], "ON METASTORE"):
				sql = append(sql, e)
			}
		}
		if len(api) == 5 && len(sql) == 5 || time.Now().After(deadline) {
			break
		}
	}
	if len(api) != 5 || summary(api) != summary(sql) {
		t.Errorf("metastore grant records:\n API %s\n SQL %s", summary(api), summary(sql))
	}
}

// summary is what must be alike in audit records whichever surface served the
// request: action, principal, decision, status, error code and the operation's
// parameters — all but the request's own (method and path of the call to Gatehouse,
// the statement, the duration, the bytes an echo answered), with the connection's
// name (api-ROLE or sql-ROLE) as CONN.
func summary(events []httpapi.AuditEventInfo) string {
	var parts []string
	for _, e := range events {
		var params []string
		for k, v := range e.RequestParams {
			switch k {
			case "method", "path", "statement", "duration_ms", "bytes_out":
				if e.ActionName != "useConnection" || k != "path" {
					continue
				}
			}
			params = append(params, k+"="+v)
		}
		sort.Strings(params)
		parts = append(parts, fmt.Sprintf("%s/%s/%s/%d/%s%v", e.ActionName, e.Principal, e.Decision, e.Response.StatusCode, e.Response.ErrorCode, params))
	}
	return sqlConnRE.ReplaceAllString(strings.Join(parts, " "), "CONN")
}

var sqlConnRE = regexp.MustCompile(`\b(api|sql)-(owner|manager|user|none|admin)\b`)

// TestSQLHTTPRequestBounded: an upstream answer larger than http_request returns is
// UPSTREAM_ERROR, not a result held in memory whole; one within the bound is returned
// as it is, status included.
func TestSQLHTTPRequestBounded(t *testing.T) {
	w := newSQLWorldWith(t, func(rw http.ResponseWriter, r *http.Request) {
		n := 4 << 20
		if r.URL.Path == "/big" {
			n++
		}
		rw.WriteHeader(http.StatusCreated)
		_, _ = rw.Write(bytes.Repeat([]byte("x"), n))
	})
	w.ok("admin", "CREATE CONNECTION big TYPE HTTP OPTIONS (host :h, bearer_token 't')", "h", w.echo.URL)
	if msg := w.fails("admin", "SELECT http_request(conn => 'big', method => 'GET', path => '/big')", "UPSTREAM_ERROR"); !strings.Contains(msg, "4 MiB") {
		t.Errorf("too large an answer: %q", msg)
	}
	rows := w.ok("admin", "SELECT http_request(conn => 'big', method => 'GET', path => '/fits')")
	if rows[0][0] != "201" || len(rows[0][1]) != 4<<20 {
		t.Errorf("an answer of 4 MiB: status %s, %d bytes", rows[0][0], len(rows[0][1]))
	}
}
