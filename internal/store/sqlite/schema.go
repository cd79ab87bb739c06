package sqlite

// What `gatehouse migrate` and `gatehouse store copy` need from this package (issue 11,
// point 6): the schema's status without changing the file, and the meta keys.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// SchemaMigration is one embedded migration and whether the file has applied it.
type SchemaMigration struct {
	Version   int
	Name      string    // file name without .sql, e.g. "0001_init"
	Applied   bool      // recorded in schema_migrations
	AppliedAt time.Time // when it was applied (zero when pending)
}

// SchemaStatus lists every embedded migration, in version order, with whether the store
// in the SQLite file at path has applied it. It reads only (the file is opened query-only
// and never created); a missing file is an error. A file that records a version this
// build does not know is an error, as it is to Open.
func SchemaStatus(ctx context.Context, path string) ([]SchemaMigration, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("schema status: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("schema status: no store at %s", abs)
		}
		return nil, fmt.Errorf("schema status: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("schema status: %w", err)
	}
	r, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("schema status: %w", err)
	}
	defer r.Close()
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
		return nil, fmt.Errorf("schema status %s: %w", abs, err)
	}
	type row struct {
		name string
		at   int64
	}
	applied := map[int]row{}
	if n > 0 {
		rows, err := r.QueryContext(ctx, "SELECT version, name, applied_at FROM schema_migrations")
		if err != nil {
			return nil, fmt.Errorf("schema status %s: %w", abs, err)
		}
		for rows.Next() {
			var v int
			var rw row
			if err := rows.Scan(&v, &rw.name, &rw.at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("schema status %s: %w", abs, err)
			}
			applied[v] = rw
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("schema status %s: %w", abs, err)
		}
		rows.Close()
	}
	names := make(map[int]string, len(applied))
	for v, rw := range applied {
		names[v] = rw.name
	}
	if err := checkApplied(ms, names); err != nil {
		return nil, fmt.Errorf("the store at %s: %w", abs, err)
	}
	out := make([]SchemaMigration, len(ms))
	for i, m := range ms {
		out[i] = SchemaMigration{Version: m.version, Name: m.name}
		if rw, ok := applied[m.version]; ok {
			out[i].Applied = true
			out[i].AppliedAt = time.Unix(0, rw.at).UTC()
		}
	}
	return out, nil
}

// MetaKeys returns the keys of every meta value, in byte order (`gatehouse store copy`
// copies them all).
func (db *DB) MetaKeys(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT key FROM meta ORDER BY key")
	if err != nil {
		return nil, fmt.Errorf("list meta keys: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("list meta keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list meta keys: %w", err)
	}
	return keys, nil
}
