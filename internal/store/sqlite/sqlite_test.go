package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) catalog.Store { return openTemp(t) })
}

func TestMigrationsRecorded(t *testing.T) {
	db := openTemp(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.QueryContext(t.Context(), "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", v, name))
	}
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprintf("%d %s", m.version, m.name))
	}
	if !slices.Equal(got, want) || len(want) == 0 || want[0] != "1 0001_init" {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)}
	if err := db.CreatePrincipal(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMeta(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.GetPrincipalByName(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("GetPrincipalByName after reopen: %v", err)
	}
	if got.ID != p.ID || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("after reopen: %+v, want %+v", got, p)
	}
	if v, err := db.GetMeta(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("GetMeta after reopen = %q, %v", v, err)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "gatehouse.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Make sure the WAL exists.
	if err := db.SetMeta(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(dir), 0o700 | os.ModeDir},
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if fi.Mode() != tc.want {
			t.Errorf("mode of %s = %v, want %v", filepath.Base(tc.path), fi.Mode(), tc.want)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path)
	if err == nil {
		t.Fatal("Open of a database from a newer version succeeded")
	}
	if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: %v; want it to name version 9999 and say it is newer", err)
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"write", db.w}, {"read", db.r}} {
		for _, tc := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "5000"},
			{"synchronous", "1"}, // NORMAL
		} {
			var got string
			if err := pool.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", pool.name, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("%s pool: PRAGMA %s = %s, want %s", pool.name, tc.pragma, got, tc.want)
			}
		}
	}
	if _, err := db.r.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('x', x'00')"); err == nil {
		t.Errorf("a write through the read pool succeeded")
	}
}

// TestTwoHandles opens the same file twice, as two processes would, and writes through
// both at once: BEGIN IMMEDIATE and busy_timeout must make them take turns.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() {
			for n := range 50 {
				p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: fmt.Sprintf("u%d-%d", i, n)}
				if err := db.CreatePrincipal(ctx, p); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ps, err := dbs[0].ListPrincipals(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 100 {
		t.Errorf("ListPrincipals = %d, want 100", len(ps))
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func TestTimeOutOfRange(t *testing.T) {
	db := openTemp(t)
	p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "a",
		CreatedAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	err := db.CreatePrincipal(t.Context(), p)
	if catalog.CodeOf(err) != catalog.InvalidParameterValue {
		t.Errorf("CreatePrincipal with year 9999: %v, want INVALID_PARAMETER_VALUE", err)
	}
}

// BenchmarkGetTokenByHash measures the lookup every request makes.
func BenchmarkGetTokenByHash(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "a", Active: true}
	if err := db.CreatePrincipal(b.Context(), p); err != nil {
		b.Fatal(err)
	}
	tk := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: []byte("0123456789abcdef0123456789abcdef")}
	if err := db.CreateToken(b.Context(), tk); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.GetTokenByHash(b.Context(), tk.Hash); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
