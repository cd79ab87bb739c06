package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CredentialLockConns bounds the connections one replica uses to hold credential
// locks at once. They come from a pool of their own, so that many credentials
// refreshing together wait for each other here and never take the connections that
// requests (and the refreshes' own reads and writes) need.
const CredentialLockConns = 4

// credLockCheckInterval is client_connection_check_interval on the lock connections:
// a server process waiting for a lock on behalf of a client that went away (a waiter
// whose context ended, a replica killed) notices within this time and ends, so it
// neither keeps a slot nor is granted a lock nobody will release.
const credLockCheckInterval = "1000" // milliseconds

// credLocks is the lazily opened pool of lock connections. Its zero value is ready.
type credLocks struct {
	mu     sync.Mutex
	pool   *pgxpool.Pool
	closed bool
}

// get returns the lock pool, opening it (without connecting yet) on first use with
// the settings of the request pool main.
func (l *credLocks) get(main *pgxpool.Pool) (*pgxpool.Pool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("the store is closed")
	}
	if l.pool == nil {
		cfg := main.Config() // a copy
		cfg.MaxConns, cfg.MinConns = CredentialLockConns, 0
		if cfg.ConnConfig.RuntimeParams == nil {
			cfg.ConnConfig.RuntimeParams = map[string]string{}
		}
		cfg.ConnConfig.RuntimeParams["client_connection_check_interval"] = credLockCheckInterval
		p, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			return nil, redact(err)
		}
		l.pool = p
	}
	return l.pool, nil
}

func (l *credLocks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.pool != nil {
		l.pool.Close()
	}
}

// credLockKey is the advisory lock key of a credential: a 64-bit FNV-1a hash of a
// prefix and the pair. Two credentials whose keys collide only wait for each other.
func credLockKey(connectionID, principalID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("gatehouse/credential\x00" + connectionID + "\x00" + principalID))
	return int64(h.Sum64())
}

// LockCredential runs fn while holding the credential's lock across every replica on
// this database, with the credential as stored once the lock is held (nil when there
// is none); see catalog.CredentialStore.
//
// The lock is a session-level advisory lock on a connection of the lock pool, held
// while fn runs; fn's reads and writes go through the request pool and each commits
// when it returns, so a rotated refresh token that fn stored is committed before fn
// returns the new access token to anyone. (A transaction-level lock would tie fn's
// writes to the lock's transaction: committed only on unlock, after fn has already
// answered.) A replica that dies loses its connections and, with them, its locks.
func (db *DB) LockCredential(ctx context.Context, connectionID, principalID string, fn func(ctx context.Context, cur *catalog.OAuthCredential) error) error {
	return db.withAdvisoryLock(ctx, credLockKey(connectionID, principalID), func(ctx context.Context) error {
		cur, err := db.GetCredential(ctx, connectionID, principalID)
		switch {
		case catalog.IsNotFound(err):
			cur = nil
		case err != nil:
			return err
		}
		return fn(ctx, cur)
	})
}

// withAdvisoryLock runs fn while holding the session-level advisory lock key on a
// connection of the lock pool. Waiting (for a lock connection, then for the lock)
// ends with ctx.
func (db *DB) withAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pool, err := db.credLocks.get(db.pool)
	if err != nil {
		return fmt.Errorf("lock credential: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("lock credential: %w", redact(err))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		// A wait cut short leaves the lock in doubt (granted as the cancel arrived?):
		// closing the connection releases whatever it holds.
		discard(conn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("lock credential: %w", redact(err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var released bool
		if err := conn.QueryRow(uctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released); err != nil || !released {
			// Never hand a connection that may still hold the lock back to the pool.
			discard(conn)
			return
		}
		conn.Release()
	}()
	return fn(ctx)
}

// discard closes an acquired connection instead of returning it to its pool.
func discard(conn *pgxpool.Conn) {
	pc := conn.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = pc.Close(ctx)
}
