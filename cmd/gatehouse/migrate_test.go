package main

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// An SQLite file without a schema: --show lists every migration pending and changes
// nothing, migrate applies them all, then both say it is up to date.
func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	status, err := sqlite.SchemaStatus(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	n := len(status)
	pendingRE := regexp.MustCompile(`(?m)^0001_init\s+pending\s+-$`)
	appliedRE := regexp.MustCompile(`(?m)^0001_init\s+applied\s+\d{4}-\d\d-\d\dT`)

	out, err := cliRun0(t, "migrate", "--store", "sqlite:"+dir, "--show")
	if err != nil || !pendingRE.MatchString(out) || !strings.Contains(out, "0 applied, "+strconv.Itoa(n)+" pending") {
		t.Fatalf("migrate --show on an empty file: %v\n%s", err, out)
	}
	if st, _ := os.Stat(db); st.Size() != 0 {
		t.Errorf("--show wrote to the file (%d bytes)", st.Size())
	}
	out, err = cliRun0(t, "migrate", "--store", "sqlite:"+dir)
	if err != nil || !strings.Contains(out, "applied 0001_init") || !strings.Contains(out, strconv.Itoa(n)+" migrations applied") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	// GATEHOUSE_STORE=sqlite and GATEHOUSE_DATA_DIR name the same store.
	stdout, stderr, err := cliRun(t, map[string]string{"GATEHOUSE_STORE": "sqlite", "GATEHOUSE_DATA_DIR": dir}, "", "migrate", "--show")
	if err != nil || !appliedRE.MatchString(stdout) || !strings.Contains(stdout, strconv.Itoa(n)+" applied, 0 pending") {
		t.Fatalf("migrate --show after migrate: %v\n%s%s", err, stdout, stderr)
	}
	out, err = cliRun0(t, "migrate", "--store", "sqlite:"+dir)
	if err != nil || !strings.Contains(out, "up to date; nothing to apply") {
		t.Fatalf("migrate again: %v\n%s", err, out)
	}

	// A running server holds the folder: migrate refuses, --show still reads.
	unlock, err := lockDataDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if out, err := cliRun0(t, "migrate", "--store", "sqlite:"+dir); err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Errorf("migrate while a server runs: %v\n%s", err, out)
	}
	if out, err := cliRun0(t, "migrate", "--store", "sqlite:"+dir, "--show"); err != nil {
		t.Errorf("migrate --show while a server runs: %v\n%s", err, out)
	}
}

func TestMigrateRefusesBadStore(t *testing.T) {
	tests := []struct {
		name, store, want string
	}{
		{"unknown", "mysql://u:pw-canary-2@h/db", "unknown store"},
		{"empty sqlite folder", "sqlite:", "needs a folder"},
		{"no store file", "sqlite:" + t.TempDir(), "no store at"},
		{"bad URL", "postgres://u:pw-canary-2@h:port/db", "does not parse"},
		{"nothing listens", "postgres://u:pw-canary-2@127.0.0.1:1/db?connect_timeout=5", "cannot connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"migrate", "--store", tc.store}, {"migrate", "--show", "--store", tc.store}} {
				out, err := cliRun0(t, args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%v: %v\n%s, want an error saying %q", args, err, out, tc.want)
				}
				if strings.Contains(err.Error()+out, "pw-canary-2") {
					t.Errorf("%v: the password shows: %v\n%s", args, err, out)
				}
			}
		})
	}
}

// On PostgreSQL: a new database has every migration pending; migrate applies them
// (the output names them, never the password), --show then lists them applied.
func TestMigratePostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	first := ms[0].String()

	out, err := cliRun0(t, "migrate", "--store", dsn, "--show")
	if err != nil || !regexp.MustCompile(`(?m)^`+first+`\s+pending\s+-$`).MatchString(out) || !strings.Contains(out, "0 applied, "+strconv.Itoa(len(ms))+" pending") {
		t.Fatalf("migrate --show on a new database: %v\n%s", err, out)
	}
	out, err = cliRun0(t, "migrate", "--store", dsn)
	if err != nil || !strings.Contains(out, "applied "+first) || !strings.Contains(out, "postgres://") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	t.Logf("migrate:\n%s", out)
	out, err = cliRun0(t, "migrate", "--store", dsn, "--show")
	t.Logf("migrate --show:\n%s", out)
	if err != nil || !regexp.MustCompile(`(?m)^`+first+`\s+applied\s+\d{4}-`).MatchString(out) || !strings.Contains(out, strconv.Itoa(len(ms))+" applied, 0 pending") {
		t.Fatalf("migrate --show after migrate: %v\n%s", err, out)
	}
	out, err = cliRun0(t, "migrate", "--store", dsn)
	if err != nil || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("migrate again: %v\n%s", err, out)
	}
	// The store opens without migrating now.
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("Open(SkipMigrate) after migrate: %v", err)
	}
	_ = db.Close()

	// A password in the URL is never printed, neither on success nor on failure.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test cluster's DSN is not a URL: %v", err)
	}
	u.User = url.UserPassword("nosuchrole", "pw-canary-3")
	withPW := u.String()
	out, err = cliRun0(t, "migrate", "--store", withPW, "--show")
	if err == nil {
		t.Fatalf("migrate as a role that does not exist succeeded:\n%s", out)
	}
	t.Logf("migrate as a role that does not exist: %v", err)
	if strings.Contains(err.Error()+out, "pw-canary-3") {
		t.Errorf("the password shows: %v\n%s", err, out)
	}
}

// parseOfflineStore reads outside input: it never fails without a message, and neither
// what it shows of a store nor its error ever carries the URL's password.
func FuzzParseOfflineStore(f *testing.F) {
	for _, s := range []string{"sqlite", "sqlite:", "sqlite:/var/lib/gatehouse", "postgres://u:pw-canary-4@db:5432/gh",
		"postgresql://u:pw-canary-4@/gh?host=/tmp", "postgres://u:pw-canary-4@h:port/db", "postgres://%zz", "mysql://u:p@h/db", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		st, err := parseOfflineStore(v, "./data")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			// The messages are fixed texts; a password long enough not to be one of
			// their words must not appear.
			if u, perr := url.Parse(v); perr == nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 8 && strings.Contains(err.Error(), pw) {
					t.Fatalf("the error quotes the password: %v", err)
				}
			}
			if strings.Contains(err.Error(), "pw-canary-4") {
				t.Fatalf("the error quotes the password: %v", err)
			}
			return
		}
		if st.isPostgres() {
			if st.password != "" && strings.Contains(st.String(), st.password) {
				t.Fatalf("String() %q shows the password", st.String())
			}
			if !strings.HasPrefix(st.String(), "postgres://") {
				t.Fatalf("String() = %q", st.String())
			}
		} else if st.dir == "" {
			t.Fatalf("%q: an SQLite store without a folder", v)
		}
	})
}
