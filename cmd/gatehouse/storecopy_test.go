package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storecopy"
)

// storeCopySource is a stopped SQLite server's data folder holding a bearer connection
// granted to alice, alice's token and audit events.
type storeCopySource struct {
	dir, admin, alice, head string
	up                      *upstream
	caFile                  string
}

// newStoreCopySource runs a server on SQLite, makes the deployment, checks the call,
// and stops it. While it runs, store copy from its folder is refused.
func newStoreCopySource(t *testing.T) *storeCopySource {
	t.Helper()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer upstream-secret-7f3a" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "hello from upstream")
	})
	dir := t.TempDir()
	ts := startServer(t, dir, nil, "--upstream-ca-file", up.caFile)
	_, alice := ts.mkUser("alice@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "api",
		"options": map[string]string{"host": up.URL, "bearer_token": "upstream-secret-7f3a"}}, nil)
	ts.grant("connection", "api", "alice@example.com", "USE_CONNECTION")
	storeCopyCall(t, ts, alice)
	head := verifyHead(t, ts, 3)

	// A source in use is refused, and names why.
	out, err := cliRun0(t, "store", "copy", "--from", "sqlite:"+dir, "--to", "sqlite:"+t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Fatalf("store copy from a running server's folder: %v\n%s, want a refusal", err, out)
	}
	ts.Stop()
	return &storeCopySource{dir: dir, admin: ts.Admin, alice: alice, head: head, up: up, caFile: up.caFile}
}

// storeCopyCall calls the upstream through the connection as alice.
func storeCopyCall(t *testing.T, ts *testServer, token string) {
	t.Helper()
	status, body := ts.do("GET", "/api/2.0/unity-catalog/connections/api/proxy/hello", token, nil)
	if status != http.StatusOK || string(body) != "hello from upstream" {
		t.Fatalf("call through the connection = %d %s", status, body)
	}
}

// cliRun0 runs a command with an empty environment.
func cliRun0(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := cliRun(t, nil, "", args...)
	return out + errOut, err
}

// storeCopyServes copies src to the destination, then starts a server on the
// destination (serverArgs select it) that serves the same call with the same token and
// whose audit chain verifies through the head saved before the copy.
func storeCopyServes(t *testing.T, src *storeCopySource, to string, env map[string]string, serverArgs ...string) {
	t.Helper()
	out, err := cliRun0(t, "store", "copy", "--from", "sqlite:"+src.dir, "--to", to)
	if err != nil {
		t.Fatalf("store copy: %v\n%s", err, out)
	}
	for _, want := range []string{"KIND", "principals", "connections", "grants", "tokens", "audit events", "meta values",
		"not copied (transient): browser sessions, pending logins", "Copied and verified", "development master key"} {
		if !strings.Contains(out, want) {
			t.Errorf("store copy output does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "upstream-secret-7f3a") || strings.Contains(out, src.alice) {
		t.Errorf("store copy output shows a secret:\n%s", out)
	}

	t.Logf("store copy:\n%s", out)

	// A second copy into the destination, now full, is refused.
	out2, err := cliRun0(t, "store", "copy", "--from", "sqlite:"+src.dir, "--to", to)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second store copy: %v\n%s, want a refusal (not empty)", err, out2)
	}

	ts := runServer(t, t.TempDir(), env, append([]string{"--upstream-ca-file", src.caFile}, serverArgs...)...)
	t.Cleanup(ts.Stop)
	ts.Admin = src.admin
	storeCopyCall(t, ts, src.alice)
	verifyHead(t, ts, 4, "--head", src.head)
}

// The deployment of an SQLite server copied to another SQLite folder serves the same
// call with the same token, and its audit chain verifies.
func TestStoreCopyEndToEndSQLite(t *testing.T) {
	src := newStoreCopySource(t)
	to := t.TempDir()
	storeCopyServes(t, src, "sqlite:"+to, map[string]string{"GATEHOUSE_MASTER_KEY_FILE": filepath.Join(src.dir, "master.key")},
		"--data-dir", to)
}

// The same to PostgreSQL: a server started with --store on the copy serves the call.
func TestStoreCopyEndToEndPostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	err = storecopy.CheckEmpty(t.Context(), db)
	_ = db.Close()
	if err != nil {
		t.Fatalf("a new database is not empty: %v", err)
	}
	src := newStoreCopySource(t)
	storeCopyServes(t, src, dsn, map[string]string{"GATEHOUSE_MASTER_KEY_FILE": filepath.Join(src.dir, "master.key")},
		"--store", dsn)
}

// Bad flags are refused before anything is opened, and never quote a URL.
func TestStoreCopyRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no source", []string{"--to", "sqlite:" + t.TempDir()}, "--from: no store given"},
		{"no destination", []string{"--from", "sqlite:" + dir}, "--to: no store given"},
		{"unknown scheme", []string{"--from", "sqlite:" + dir, "--to", "mysql://u:pw-canary-1@h/db"}, "--to: unknown store"},
		{"bad URL", []string{"--from", "sqlite:" + dir, "--to", "postgres://u:pw-canary-1@h:port/db"}, "does not parse"},
		{"same store", []string{"--from", "sqlite:" + dir, "--to", "sqlite:" + dir + "/"}, "the same store"},
		{"missing source", []string{"--from", "sqlite:" + t.TempDir(), "--to", "sqlite:" + t.TempDir()}, "no store at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cliRun0(t, append([]string{"store", "copy"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("store copy %v: %v\n%s, want an error saying %q", tc.args, err, out, tc.want)
			}
			if strings.Contains(err.Error()+out, "pw-canary-1") {
				t.Errorf("the password shows: %v\n%s", err, out)
			}
		})
	}
}

// A refresh family copied refreshes on the destination: alice signs the CLI in
// (`gatehouse auth login`) on an SQLite server, the store is copied, and on a server
// over the copy her access token still works and her refresh token renews it once;
// presented again, it is refused as reuse, as it would have been on the source.
func TestStoreCopyRefreshFamily(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	_, alice := ts.mkUser("alice@example.com")
	w := &authWorld{t: t, ts: ts, aliceToken: alice, cfg: filepath.Join(t.TempDir(), "gh", "config"), secrets: map[string]string{}}
	w.login()
	prof := w.profiles()["DEFAULT"]
	access, refresh := prof[cliKeyToken], prof[cliKeyRefreshToken]
	if access == "" || refresh == "" {
		t.Fatalf("auth login left no token or refresh token: %v", prof)
	}
	ts.Stop()

	to := t.TempDir()
	out, err := cliRun0(t, "store", "copy", "--from", "sqlite:"+dir, "--to", "sqlite:"+to)
	if err != nil {
		t.Fatalf("store copy: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`OAuth refresh families\s+1\s+1\s+1\n`).MatchString(out) ||
		!strings.Contains(out, "not copied (transient): browser sessions, pending logins, authorization codes") {
		t.Errorf("store copy does not report the refresh family copied:\n%s", out)
	}
	if strings.Contains(out, refresh) || strings.Contains(out, access) {
		t.Errorf("store copy output shows a token:\n%s", out)
	}

	dst := runServer(t, t.TempDir(), map[string]string{"GATEHOUSE_MASTER_KEY_FILE": filepath.Join(dir, "master.key")}, "--data-dir", to)
	t.Cleanup(dst.Stop)
	w.ts = dst
	if status, b := dst.do("GET", "/api/2.0/preview/scim/v2/Me", access, nil); status != http.StatusOK {
		t.Errorf("the copied access token on the destination = %d %s", status, b)
	}
	status, body := w.tokenStatus(refresh)
	var renewed struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &renewed) != nil || renewed.AccessToken == "" || renewed.RefreshToken == "" {
		t.Fatalf("refresh on the destination = %d %s", status, body)
	}
	if status, b := dst.do("GET", "/api/2.0/preview/scim/v2/Me", renewed.AccessToken, nil); status != http.StatusOK {
		t.Errorf("the renewed access token = %d %s", status, b)
	}
	if status, body := w.tokenStatus(refresh); status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Errorf("the spent refresh token again = %d %s, want 400 invalid_grant", status, body)
	}
}
