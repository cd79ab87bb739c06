package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/spf13/pflag"
)

// TestMain stops the throwaway PostgreSQL cluster after the tests; the cluster only
// starts when a test asks for it (pgtest.Shared).
func TestMain(m *testing.M) { pgtest.Main(m) }

// dsnCanary is the password put in the PostgreSQL URLs of these tests: it must never
// appear in any output.
const dsnCanary = "CANARY-pg-Pa55word"

// withPassword returns dsn with user's password set to dsnCanary. The test cluster
// trusts its Unix socket, so the password is carried but never asked for.
func withPassword(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest DSN: %v", err)
	}
	u.User = url.UserPassword(u.User.Username(), dsnCanary)
	return u.String()
}

func newMasterKey(t *testing.T) string {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k[:])
}

// wantNoCanary fails when the DSN's password is in any of the outputs.
func wantNoCanary(t *testing.T, outputs map[string]string) {
	t.Helper()
	for name, s := range outputs {
		for _, enc := range []string{dsnCanary, url.QueryEscape(dsnCanary), base64.StdEncoding.EncodeToString([]byte(dsnCanary))} {
			if strings.Contains(s, enc) {
				t.Errorf("%s shows the PostgreSQL password (%q):\n%s", name, enc, s)
			}
		}
	}
}

// The real server on PostgreSQL: a bearer connection is created, granted and called
// through; the server restarts on the same database (in another data folder: nothing
// of the state is there) and finds everything, and the URL's password shows nowhere.
func TestPostgresStoreServerRestart(t *testing.T) {
	dsn := withPassword(t, pgtest.Shared(t).NewDatabase(t))
	up := newUpstream(t, nil)
	key := newMasterKey(t)
	args := []string{"--store", dsn, "--upstream-ca-file", up.caFile}

	ts := startServer(t, "", map[string]string{"GATEHOUSE_MASTER_KEY": key}, args...)
	if !strings.Contains(ts.Stdout.String(), "Store: postgres://") {
		t.Errorf("the banner does not name the PostgreSQL store:\n%s", ts.Stdout.String())
	}
	aliceID, alice := ts.mkUser("alice@example.com")
	const bearer = "CANARY-bearer-pg"
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "echo", "options": map[string]string{
		"host": up.URL, "base_path": "/base", "bearer_token": bearer}}, nil)
	ts.grant("connection", "echo", "alice@example.com", "USE_CONNECTION")
	w := &proxyWorld{ts: ts, up: up, alice: alice, aliceID: aliceID}
	resp, b := w.call(alice, "GET", "/hello", nil, "")
	if resp.StatusCode != 418 {
		t.Fatalf("call through the connection = %d %s, want the upstream's 418", resp.StatusCode, b)
	}
	if got := http.Header(w.lastEcho(t, b).Header).Get("Authorization"); got != authHash("Bearer "+bearer) {
		t.Fatalf("upstream saw Authorization %q, want the connection's bearer token", got)
	}
	_, metrics := ts.do("GET", "/metrics", "", nil)
	ts.Stop()
	first := map[string]string{"stdout": ts.Stdout.String(), "stderr": ts.Stderr.String(), "responses": ts.responses.String(), "/metrics": string(metrics)}

	// admin recover writes to the same database, with no data folder of the server.
	var recOut, recErr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "recover", "--data-dir", t.TempDir(), "--store", dsn},
		mapEnv(map[string]string{"GATEHOUSE_MASTER_KEY": key}), strings.NewReader(""), &recOut, &recErr); err != nil {
		t.Fatalf("admin recover on PostgreSQL: %v\n%s", err, recErr.String())
	}
	m := printedTokenRE.FindStringSubmatch(recOut.String())
	if m == nil {
		t.Fatalf("admin recover printed no token:\n%s", recOut.String())
	}
	recovered := m[1]
	first["recover stdout"], first["recover stderr"] = recOut.String(), recErr.String()

	// The restart: the same database and master key, a new data folder.
	env := map[string]string{"GATEHOUSE_MASTER_KEY": key, "GATEHOUSE_BOOTSTRAP_TOKEN": identity.NewTokenValue()}
	ts2 := runServer(t, t.TempDir(), env, args...)
	t.Cleanup(ts2.Stop)
	ts2.Admin = ts.Admin
	if !strings.Contains(ts2.Stderr.String(), "GATEHOUSE_BOOTSTRAP_TOKEN ignored") {
		t.Errorf("the restarted server did not find the admin in the database:\n%s", ts2.Stderr.String())
	}
	var conn struct {
		Name    string            `json:"name"`
		Options map[string]string `json:"options"`
	}
	ts2.must("GET", "/api/2.1/unity-catalog/connections/echo", ts.Admin, nil, &conn)
	if conn.Name != "echo" || conn.Options["base_path"] != "/base" || !strings.HasPrefix(up.URL, conn.Options["host"]) {
		t.Errorf("after the restart the connection is %+v", conn)
	}
	if status, b := ts2.do("GET", "/api/2.0/preview/scim/v2/Me", recovered, nil); status != 200 {
		t.Errorf("the token admin recover wrote in the database = %d %s, want 200", status, b)
	}
	w2 := &proxyWorld{ts: ts2, up: up, alice: alice, aliceID: aliceID}
	resp, b = w2.call(alice, "GET", "/again", nil, "")
	if resp.StatusCode != 418 {
		t.Fatalf("call after the restart = %d %s, want the upstream's 418 (token, grant and sealed secret kept)", resp.StatusCode, b)
	}
	if got := http.Header(w2.lastEcho(t, b).Header).Get("Authorization"); got != authHash("Bearer "+bearer) {
		t.Fatalf("after the restart the upstream saw Authorization %q, want the connection's bearer token", got)
	}
	ts2.Stop()
	first["restart stdout"], first["restart stderr"], first["restart responses"] = ts2.Stdout.String(), ts2.Stderr.String(), ts2.responses.String()
	wantNoCanary(t, first)
}

// --store takes "sqlite" or a PostgreSQL URL; anything else is refused with an error
// that names the accepted forms and never quotes the value.
func TestStoreFlagValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"default sqlite", "sqlite", true},
		{"postgres URL", "postgres://db.internal/gatehouse", true},
		{"postgresql URL with password", "postgresql://gh:" + dsnCanary + "@db.internal:5432/gatehouse?sslmode=verify-full", true},
		{"socket URL", "postgres:///gatehouse?host=/run/postgresql", true},
		{"empty", "", false},
		{"SQLite in other case", "SQLite", false},
		{"file path", "/var/lib/gatehouse/gatehouse.db", false},
		{"sqlite URL", "sqlite:///var/lib/gatehouse", false},
		{"other engine", "mysql://gh:" + dsnCanary + "@db/gatehouse", false},
		{"key=value form", "host=db user=gh password=" + dsnCanary, false},
		{"bad port", "postgres://gh:" + dsnCanary + "@db:99999999/gatehouse", false},
		{"bad escape", "postgres://gh:" + dsnCanary + "%zz@db/gatehouse", false},
		{"unknown sslmode", "postgres://gh:" + dsnCanary + "@db/gatehouse?sslmode=sometimes", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
			serverCommandFlags(t, fs)
			if err := fs.Parse([]string{"--store", tc.value}); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadServerConfig(fs, func(string) string { return "" })
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.Store != tc.value {
					t.Fatalf("Store = %q, want %q", cfg.Store, tc.value)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "store:") || !strings.Contains(err.Error(), "postgres") {
				t.Errorf("error %q does not say what --store accepts", err)
			}
			wantNoCanary(t, map[string]string{"error": err.Error()})
		})
	}
	// GATEHOUSE_STORE is read when the flag is not given.
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	serverCommandFlags(t, fs)
	cfg, err := loadServerConfig(fs, mapEnv(map[string]string{"GATEHOUSE_STORE": "postgres://db/gh"}))
	if err != nil || cfg.Store != "postgres://db/gh" {
		t.Fatalf("GATEHOUSE_STORE: cfg %+v, err %v", cfg, err)
	}
}

// serverCommandFlags fills fs with the flags of gatehouse server.
func serverCommandFlags(t *testing.T, fs *pflag.FlagSet) {
	t.Helper()
	fs.AddFlagSet(serverCommand(&env{}).Flags())
}

// fakePostgres is a loopback server that speaks just enough of PostgreSQL's protocol to
// ask for a cleartext password and refuse it, as a server does for a wrong password.
// It records the passwords it was sent.
func fakePostgres(t *testing.T) (addr string, passwords func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				be := pgproto3.NewBackend(c, c)
				for range 3 {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					if _, ok := msg.(*pgproto3.StartupMessage); ok {
						break
					}
					if _, err := c.Write([]byte("N")); err != nil { // no TLS, no GSS
						return
					}
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if err := be.Flush(); err != nil {
					return
				}
				if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
					return
				}
				msg, err := be.Receive()
				if err != nil {
					return
				}
				if pm, ok := msg.(*pgproto3.PasswordMessage); ok {
					mu.Lock()
					got = append(got, pm.Password)
					mu.Unlock()
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "gh"`})
				_ = be.Flush()
			}()
		}
	}()
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// The password of a PostgreSQL URL appears in no output of a start that fails: a wrong
// password (the server refuses it), nothing listening, a URL that does not parse; for
// the server and for admin recover.
func TestStoreDSNPasswordNeverShown(t *testing.T) {
	addr, passwords := fakePostgres(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()
	tests := []struct {
		name string
		dsn  string
		want string // in the error
	}{
		{"wrong password", "postgres://gh:" + dsnCanary + "@" + addr + "/gatehouse?sslmode=disable&connect_timeout=5", "password authentication failed"},
		{"nothing listening", "postgres://gh:" + dsnCanary + "@" + closedAddr + "/gatehouse?sslmode=disable&connect_timeout=5", "cannot connect"},
		{"does not parse", "postgres://gh:" + dsnCanary + "@" + addr + ":x:y/gatehouse", "store:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store", tc.dsn},
				{"admin", "recover", "--data-dir", t.TempDir(), "--store", tc.dsn},
			} {
				var out, errOut bytes.Buffer
				env := map[string]string{"GATEHOUSE_MASTER_KEY": newMasterKey(t)}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := run(ctx, cmd, mapEnv(env), strings.NewReader(""), &out, &errOut)
				cancel()
				if err == nil {
					t.Fatalf("%s started on a store it cannot open", cmd[0])
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q does not say %q", cmd[0], err, tc.want)
				}
				if strings.Contains(out.String(), "is listening") {
					t.Errorf("%s: listening without a store", cmd[0])
				}
				wantNoCanary(t, map[string]string{cmd[0] + " error": err.Error(), cmd[0] + " stdout": out.String(), cmd[0] + " stderr": errOut.String()})
			}
		})
	}
	// The wrong password was really sent (and refused): the test above is not vacuous.
	if got := passwords(); len(got) == 0 || got[0] != dsnCanary {
		t.Errorf("the fake server received passwords %q, want the URL's", got)
	}
}
