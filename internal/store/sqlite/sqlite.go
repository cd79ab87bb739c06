// Package sqlite is Gatehouse's embedded catalog store: a catalog.Store kept in one
// SQLite file through the pure-Go driver modernc.org/sqlite (no cgo). It is the default
// store of a single-replica deployment; internal/store/storetest holds the conformance
// suite that it passes.
//
// The file is created 0600 because it holds sealed secrets and token hashes. The schema
// is versioned by the migrations embedded from migrations/, applied in order when the
// store opens; a file written by a newer Gatehouse is refused rather than misread.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ catalog.Store = (*DB)(nil)

// busyTimeout is how long a statement waits for a lock held by another connection (in
// practice: another process on the same file, or a WAL checkpoint) before failing.
const busyTimeout = 5 * time.Second

// DB is a catalog.Store in a SQLite file. It is safe for concurrent use.
//
// It keeps two connection pools on the one file. Writes go through a pool of exactly one
// connection whose transactions start with BEGIN IMMEDIATE: writers queue in Go for that
// connection instead of racing for SQLite's write lock, so two read-then-write
// transactions can never deadlock on a lock upgrade (SQLITE_BUSY that busy_timeout cannot
// resolve), and every check made inside a write transaction (name taken, group cycle)
// still holds at commit. IMMEDIATE also takes the file's write lock at BEGIN, which keeps
// those checks correct if a second process opens the same file. Reads go through a
// separate pool of several query-only connections: in WAL mode readers never wait for
// the writer and each statement sees one committed snapshot, so the per-request lookups
// (token, principal, connection, grants) run in parallel with writes. Every read that
// must be consistent across tables is one statement.
type DB struct {
	path string
	w    *sql.DB // writes: one connection, BEGIN IMMEDIATE
	r    *sql.DB // reads: several connections, query_only

	// Statements on every request's path, prepared once.
	principalByID       *sql.Stmt
	tokenByHash         *sql.Stmt
	connectionByName    *sql.Stmt
	connectionByID      *sql.Stmt
	grantsOn            *sql.Stmt
	credentialByKeyStmt *sql.Stmt
	// auditChunk inserts logInsertChunk audit rows; it lives on the write pool.
	auditChunk *sql.Stmt

	mu       sync.Mutex
	watchers []func(catalog.Change)

	// credLocks are LockCredential's locks (refresh exactly once): one process owns
	// a data directory, so in-process locks are all there is to take.
	credLocks keyLocks
}

// Open opens the store in the SQLite file at path, creating the file (mode 0600) and its
// directory (mode 0700) when they are missing, and brings the schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open store: %q is not a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Create the file ourselves so that SQLite does not create it with the umask's
	// default (often 0644): it holds sealed secrets and token hashes. SQLite gives the
	// -wal and -shm files the permissions of the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	db := &DB{path: abs}
	if err := db.open(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context) error {
	var err error
	if db.w, err = sql.Open("sqlite", dsn(db.path, true)); err != nil {
		return err
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	// The write connection switches the file to WAL (a persistent setting) before any
	// reader opens it; check that it took, since the concurrency design rests on it.
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL (is the file on a file system without shared memory?)", mode)
	}
	if err := migrate(ctx, db.w); err != nil {
		return err
	}

	if db.r, err = sql.Open("sqlite", dsn(db.path, false)); err != nil {
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(0)

	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&db.principalByID, selectPrincipal + " WHERE id = ?"},
		{&db.tokenByHash, selectToken + " WHERE hash = ?"},
		{&db.connectionByName, selectConnection + " WHERE c.name = ? ORDER BY s.field"},
		{&db.connectionByID, selectConnection + " WHERE c.id = ? ORDER BY s.field"},
		{&db.grantsOn, selectGrantsOn},
		{&db.credentialByKeyStmt, credentialByKey},
	} {
		if *s.stmt, err = db.r.PrepareContext(ctx, s.query); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	if db.auditChunk, err = db.w.PrepareContext(ctx, logInsertSQL(insertAuditHead, auditColumns, logInsertChunk)); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

// dsn returns the driver's data source name for the file at path. The settings are
// _pragma parameters so that every connection the pools open gets them, not just the
// first one.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// NORMAL is durable across application crashes in WAL mode; a power loss may lose
	// the last transactions but never corrupts the file.
	q.Add("_pragma", "synchronous(NORMAL)")
	// Temporary files, statement journals among them, stay in memory: a multi-row
	// INSERT (the audit log's group commit) would otherwise write its statement
	// journal to a temp file, page by page.
	q.Add("_pragma", "temp_store(MEMORY)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		// A write through the read pool is a bug; make it fail loudly.
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + q.Encode()
}

// Ping checks that the store answers. It uses the read pool, so that a long write does
// not make the store look down.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close closes the store's statements and connections.
func (db *DB) Close() error {
	var errs []error
	for _, s := range []*sql.Stmt{db.principalByID, db.tokenByHash, db.connectionByName, db.connectionByID, db.grantsOn, db.credentialByKeyStmt, db.auditChunk} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Watch registers fn to be called after every committed change. Calls happen
// synchronously in the goroutine that made the change, after the commit and outside any
// lock of the store, so fn may call the store (but should be quick: the writer waits).
// Writers that commit at the same time call fn from their own goroutines, so fn must be
// safe for concurrent use.
func (db *DB) Watch(fn func(catalog.Change)) {
	db.mu.Lock()
	db.watchers = append(db.watchers, fn)
	db.mu.Unlock()
}

func (db *DB) notify(changes []catalog.Change) {
	if len(changes) == 0 {
		return
	}
	db.mu.Lock()
	// Appends never modify the first len(ws) elements, so ws is safe to use unlocked.
	ws := db.watchers
	db.mu.Unlock()
	for _, c := range changes {
		for _, fn := range ws {
			fn(c)
		}
	}
}

// txn is a write transaction and the changes it will announce once committed.
type txn struct {
	*sql.Tx
	changes []catalog.Change
	seen    map[catalog.Change]bool
}

// emit records a change to announce after commit; duplicates are announced once.
func (tx *txn) emit(kind catalog.ChangeKind, id string) {
	c := catalog.Change{Kind: kind, ID: id}
	if tx.seen[c] {
		return
	}
	if tx.seen == nil {
		tx.seen = make(map[catalog.Change]bool)
	}
	tx.seen[c] = true
	tx.changes = append(tx.changes, c)
}

// update runs fn in a write transaction, commits, and then announces fn's changes. A
// *catalog.Error from fn is returned as it is; other errors are wrapped with op.
func (db *DB) update(ctx context.Context, op string, fn func(tx *txn) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", op, err)
	}
	tx := &txn{Tx: sqlTx}
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return wrap(op, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", op, err)
	}
	db.notify(tx.changes)
	return nil
}

// wrap adds op to an internal error; user-visible errors pass unchanged.
func wrap(op string, err error) error {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isConstraint reports whether err is a SQLite constraint violation of the given
// extended code (sqlite3.SQLITE_CONSTRAINT_UNIQUE, ...).
func isConstraint(err error, code int) bool {
	var se *driver.Error
	return errors.As(err, &se) && se.Code() == code
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation: a race lost to a
// writer in another process, since this process's writers are serialized and check first.
func isUnique(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) || isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// exists reports whether query returns a row.
func exists(ctx context.Context, tx *txn, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Times are stored as Unix nanoseconds; the zero time is 0. (The one instant that cannot
// be stored is therefore 1970-01-01T00:00:00Z itself, which reads back as zero.)

// nanos returns t as Unix nanoseconds, or an error when t is outside the years
// 1678-2262 that int64 nanoseconds can hold.
func nanos(field string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	ns := t.UnixNano()
	if !time.Unix(0, ns).Equal(t) {
		return 0, catalog.Errorf(catalog.InvalidParameterValue, "%s %s is out of range", field, t.UTC().Format(time.RFC3339))
	}
	return ns, nil
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func notExist(format string, args ...any) error {
	return catalog.Errorf(catalog.ResourceDoesNotExist, format, args...)
}

func alreadyExists(format string, args ...any) error {
	return catalog.Errorf(catalog.ResourceAlreadyExists, format, args...)
}

func invalid(format string, args ...any) error {
	return catalog.Errorf(catalog.InvalidParameterValue, format, args...)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs a read query and scans every row with scan; op names the operation in
// errors.
func queryAll[T any](ctx context.Context, db *sql.DB, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// logQuery is a read of an append-only log (audit events, network events): rows after a
// seq, in a time window, with exact matches on some columns, oldest first, paged.
type logQuery struct {
	afterSeq     int64
	beforeSeq    int64 // > 0: only seq below it
	desc         bool  // newest first
	timeColumn   string
	since, until time.Time
	equal        [][2]string // column, value; empty values do not filter
	limit        int         // <= 0: logDefaultLimit; never more than logMaxLimit
}

// Page sizes of the log reads.
const (
	logDefaultLimit = 100
	logMaxLimit     = 1000
)

// sql returns the WHERE ... ORDER BY seq [DESC] LIMIT ? tail of the query and its arguments.
func (q logQuery) sql() (string, []any, error) {
	var where []string
	var args []any
	if q.afterSeq > 0 {
		where, args = append(where, "seq > ?"), append(args, q.afterSeq)
	}
	if q.beforeSeq > 0 {
		where, args = append(where, "seq < ?"), append(args, q.beforeSeq)
	}
	for _, b := range []struct {
		op string
		t  time.Time
	}{{">=", q.since}, {"<", q.until}} {
		if b.t.IsZero() {
			continue
		}
		ns, err := nanos("time bound", b.t)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, q.timeColumn+" "+b.op+" ?"), append(args, ns)
	}
	for _, c := range q.equal {
		if c[1] != "" {
			where, args = append(where, c[0]+" = ?"), append(args, c[1])
		}
	}
	limit := q.limit
	if limit <= 0 {
		limit = logDefaultLimit
	}
	s := ""
	if len(where) > 0 {
		s = " WHERE " + strings.Join(where, " AND ")
	}
	order := " ORDER BY seq LIMIT ?"
	if q.desc {
		order = " ORDER BY seq DESC LIMIT ?"
	}
	return s + order, append(args, min(limit, logMaxLimit)), nil
}

// logInsertChunk rows per INSERT keeps a statement well under SQLite's parameter limit.
const logInsertChunk = 64

// logInsertSQL is an INSERT of n rows of width columns after head ("INSERT ... VALUES ").
func logInsertSQL(head string, width, n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + "),"
	return head + strings.TrimSuffix(strings.Repeat(row, n), ",")
}

// appendLog writes rows to an append-only log in multi-row INSERTs, one statement per
// chunk rather than per row, and returns each row's seq. full, when not nil, is the
// prepared INSERT of a full chunk. The single writer connection and the plain INTEGER
// PRIMARY KEY make the rowids of one statement consecutive, ending at LastInsertId.
func appendLog(ctx context.Context, tx *txn, head string, width int, rows [][]any, full *sql.Stmt) ([]int64, error) {
	seqs := make([]int64, len(rows))
	for lo := 0; lo < len(rows); lo += logInsertChunk {
		hi := min(lo+logInsertChunk, len(rows))
		args := make([]any, 0, (hi-lo)*width)
		for i := lo; i < hi; i++ {
			args = append(args, rows[i]...)
		}
		var res sql.Result
		var err error
		if hi-lo == logInsertChunk && full != nil {
			res, err = tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, logInsertSQL(head, width, hi-lo), args...)
		}
		if err != nil {
			return nil, err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		for i := lo; i < hi; i++ {
			seqs[i] = last - int64(hi-1-i)
		}
	}
	return seqs, nil
}
