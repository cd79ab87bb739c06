package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTemp opens the store on a new database of the test cluster.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), pgtest.Shared(t).NewDatabase(t), Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) catalog.Store { return openTemp(t) })
}

// Replicas that open one new database at the same moment apply its migrations once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), dsn, Options{MaxConns: 2})
			if err == nil {
				_ = db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	db, err := Open(t.Context(), dsn, Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("open without migrating after the replicas did: %v", err)
	}
	defer db.Close()
	ms, _ := Migrations()
	var n int
	if err := db.Pool().QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(ms))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db := openTemp(t)
	if _, err := db.Pool().Exec(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())"); err != nil {
		t.Fatal(err)
	}
	_, err := Pending(t.Context(), db.Pool())
	if err == nil {
		t.Fatal("Pending accepted a schema version this build does not know")
	}
}

func TestOpenRefusesPendingWithSkipMigrate(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	if _, err := Open(t.Context(), dsn, Options{SkipMigrate: true}); err == nil {
		t.Fatal("opened a database with pending migrations without migrating")
	}
}

// SchemaStatus (migrate --show): a migrated database lists every migration applied,
// with when; after a migration's row is removed it lists that one pending, and Pending
// agrees.
func TestSchemaStatus(t *testing.T) {
	db := openTemp(t)
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	status, err := SchemaStatus(t.Context(), db.Pool())
	if err != nil || len(status) != len(ms) {
		t.Fatalf("SchemaStatus = %d rows, %v; want %d", len(status), err, len(ms))
	}
	for i, m := range status {
		if m.Version != ms[i].Version || !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("migration %d = %+v, want %s applied with a time", i, m, ms[i])
		}
	}
	last := ms[len(ms)-1]
	if _, err := db.Pool().Exec(t.Context(), "DELETE FROM schema_migrations WHERE version = $1", last.Version); err != nil {
		t.Fatal(err)
	}
	status, err = SchemaStatus(t.Context(), db.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if m := status[len(status)-1]; m.Applied || !m.AppliedAt.IsZero() {
		t.Errorf("after deleting its row, %s = %+v, want pending", last, m)
	}
	pending, err := Pending(t.Context(), db.Pool())
	if err != nil || len(pending) != 1 || pending[0].Version != last.Version {
		t.Errorf("Pending = %v, %v; want [%s]", pending, err, last)
	}
}
