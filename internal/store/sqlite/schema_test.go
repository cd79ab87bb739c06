package sqlite

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSchemaStatus(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if _, err := SchemaStatus(ctx, path); err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Fatalf("SchemaStatus of a missing file: %v, want no store at", err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := SchemaStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	if len(st) != len(ms) {
		t.Fatalf("SchemaStatus lists %d migrations, want %d", len(st), len(ms))
	}
	for i, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() || m.Version != i+1 || m.Name != ms[i].name {
			t.Errorf("migration %d = %+v, want %s applied", i, m, ms[i].name)
		}
	}
	// A version this build does not know: written by a newer Gatehouse.
	if _, err := db.w.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := SchemaStatus(ctx, path); err == nil || !strings.Contains(err.Error(), "newer Gatehouse") {
		t.Errorf("SchemaStatus with a future version: %v, want newer Gatehouse", err)
	}
}

func TestMetaKeys(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"keyring", "b", "A"} {
		if err := db.SetMeta(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := db.MetaKeys(ctx)
	if err != nil || !slices.Equal(keys, []string{"A", "b", "keyring"}) {
		t.Errorf("MetaKeys = %q, %v; want [A b keyring]", keys, err)
	}
}
