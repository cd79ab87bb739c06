// Package postgres is Gatehouse's shared catalog store: a catalog.Store in a PostgreSQL
// database (15 or later) through github.com/jackc/pgx/v5, for deployments of several
// replicas. Every replica is stateless apart from its caches; this store holds all state,
// announces every committed change to every replica (LISTEN/NOTIFY), and serializes what
// must happen once across replicas (advisory locks). internal/store/storetest holds the
// conformance suite it passes, the same one as internal/store/sqlite.
//
// The schema is versioned by the migrations embedded from migrations/, applied in order
// under an advisory lock when the store opens (so replicas that start together never
// race); a database written by a newer Gatehouse is refused rather than misread.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure Open. Zero values take the defaults.
type Options struct {
	// MaxConns bounds the pool (default: pgxpool's, max(4, GOMAXPROCS)).
	MaxConns int32
	// SkipMigrate opens without applying pending migrations; a schema that is not up to
	// date is then refused (gatehouse migrate applies them).
	SkipMigrate bool
	// Log receives the change listener's losses and recoveries (nil discards).
	Log *slog.Logger
}

// DB is a catalog.Store in a PostgreSQL database. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool

	mu       sync.Mutex
	watchers []func(catalog.Change)

	// credLocks holds LockCredential's advisory locks (refresh exactly once), on
	// connections of their own.
	credLocks credLocks
	// Change notification across replicas (notify.go).
	log          *slog.Logger
	replica      string          // this DB's ID in the payloads it sends
	listenConfig *pgx.ConnConfig // of the listener's own connection
	epoch        atomic.Uint64   // the cache epoch: odd while the listener is down
	listenerPID  atomic.Uint32   // the listener connection's backend PID (0: down), for tests
	stopListen   context.CancelFunc
	listenDone   chan struct{}
	// beforeReconnect, when set (by tests, before the loss), runs before each attempt.
	beforeReconnect atomic.Pointer[func()]
}

// Open connects to the database at dsn (a postgres:// URL or key=value string) and
// brings its schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included: never pass them on.
		return nil, errors.New("open store: the PostgreSQL URL does not parse")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", redact(err))
	}
	db := &DB{pool: pool, log: opts.Log, replica: newReplicaID(), listenConfig: cfg.ConnConfig}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.SkipMigrate {
		pending, err := Pending(ctx, pool)
		if err == nil && len(pending) > 0 {
			err = fmt.Errorf("%d migrations are pending (first: %s); run gatehouse migrate", len(pending), pending[0])
		}
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	} else if _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.startListener(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return db, nil
}

// Pool is the connection pool, for the tests and tools of this module.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", redact(err))
	}
	return nil
}

// Close stops the change listener and closes the pool.
func (db *DB) Close() error {
	db.credLocks.close() // refresh exactly once: the lock connections
	db.stopListener()
	db.pool.Close()
	return nil
}

// Watch registers fn to be called after every committed change: this replica's right
// after its commit, other replicas' when their notification arrives (on the listener's
// goroutine), and catalog.ChangeAll when the listener was lost and is back.
func (db *DB) Watch(fn func(catalog.Change)) {
	db.mu.Lock()
	db.watchers = append(db.watchers, fn)
	db.mu.Unlock()
}

// announce calls the watchers with the changes of a committed transaction.
func (db *DB) announce(changes ...catalog.Change) {
	db.mu.Lock()
	ws := append([]func(catalog.Change){}, db.watchers...)
	db.mu.Unlock()
	for _, c := range changes {
		for _, fn := range ws {
			fn(c)
		}
	}
}

// Tx is one transaction of the store and the changes it will announce once committed.
type Tx struct {
	pgx.Tx
	changes []catalog.Change
}

// Announce queues a change to announce after commit (nothing is announced on rollback).
func (t *Tx) Announce(kind catalog.ChangeKind, id string) {
	t.changes = append(t.changes, catalog.Change{Kind: kind, ID: id})
}

// inTx runs fn in a read-write transaction and commits it, retrying a few times on a
// serialization failure or deadlock (fn must be safe to run again). The changes fn
// announced are announced after the commit.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || attempt >= 4 || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+attempt*attempt) * 5 * time.Millisecond):
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *Tx) error) error {
	ptx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", redact(err))
	}
	tx := &Tx{Tx: ptx}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	// Other replicas hear of the changes when (and only if) the transaction commits.
	if err := db.sendNotifications(ctx, ptx, tx.changes); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", redact(err))
	}
	db.announce(tx.changes...)
	return nil
}

// PostgreSQL error codes the store maps or retries.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeCheckViolation       = "23514"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// isCode reports whether err is a PostgreSQL error with the code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// redact keeps a connection error's message but drops what could carry the DSN's
// password: pgconn's ConnectError formats the connection config.
func redact(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("cannot connect to PostgreSQL: %w", errors.Unwrap(ce))
	}
	return err
}

var _ catalog.Store = (*DB)(nil)
