package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockKey is the advisory lock that serializes migrations across replicas: the
// first to take it applies what is pending, the others wait and then find nothing to do.
const migrateLockKey int64 = 0x6761746568_01 // "gateh" 01

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	sql     string
}

func (m Migration) String() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", ms[i].Version)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`

// SchemaMigration is one embedded migration and whether the database has applied it
// (`gatehouse migrate --show`).
type SchemaMigration struct {
	Migration
	Applied   bool      // recorded in schema_migrations
	AppliedAt time.Time // when it was applied (zero when pending)
}

// SchemaStatus lists every embedded migration, in version order, with whether the
// database has applied it and when. It only reads. A database that records a version
// this build does not know is an error (written by a newer Gatehouse).
func SchemaStatus(ctx context.Context, pool *pgxpool.Pool) ([]SchemaMigration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("read schema version: %w", redact(err))
	}
	applied := map[int]time.Time{}
	if exists {
		rows, err := pool.Query(ctx, "SELECT version, applied_at FROM schema_migrations")
		if err != nil {
			return nil, fmt.Errorf("read schema version: %w", redact(err))
		}
		for rows.Next() {
			var v int
			var at time.Time
			if err := rows.Scan(&v, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read schema version: %w", err)
			}
			applied[v] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema version: %w", redact(err))
		}
	}
	known := map[int]bool{}
	out := make([]SchemaMigration, len(ms))
	for i, m := range ms {
		known[m.Version] = true
		at, ok := applied[m.Version]
		out[i] = SchemaMigration{Migration: m, Applied: ok, AppliedAt: at}
	}
	for v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("the database has schema version %d, which this Gatehouse does not know: it was written by a newer version", v)
		}
	}
	return out, nil
}

// Pending returns the migrations the database has not applied yet (SchemaStatus's
// pending ones), with SchemaStatus's errors.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	status, err := SchemaStatus(ctx, pool)
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, m := range status {
		if !m.Applied {
			pending = append(pending, m.Migration)
		}
	}
	return pending, nil
}

// Migrate applies the pending migrations, each in its own transaction, under an advisory
// lock held on one connection for the whole run, and returns those it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", redact(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) }()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	pending, err := Pending(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var done []Migration
	for _, m := range pending {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return done, fmt.Errorf("migrate %s: %w", m, err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			_ = tx.Rollback(ctx)
			return done, fmt.Errorf("migrate %s: %w", m, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", m.Version, m.Name, time.Now().UTC()); err != nil {
			_ = tx.Rollback(ctx)
			return done, fmt.Errorf("migrate %s: %w", m, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return done, fmt.Errorf("migrate %s: %w", m, err)
		}
		done = append(done, m)
	}
	return done, nil
}
