package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// These tests exercise the advisory lock under LockCredential (refresh exactly once)
// without the credentials table: storetest's Credentials/Lock* subtests cover
// LockCredential itself.

// openReplicas opens n stores on one new database, as n replicas would.
func openReplicas(t *testing.T, n int, maxConns int32) []*DB {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	dbs := make([]*DB, n)
	for i := range dbs {
		db, err := Open(t.Context(), dsn, Options{MaxConns: maxConns})
		if err != nil {
			t.Fatalf("Open replica %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	return dbs
}

func TestAdvisoryLockAcrossReplicas(t *testing.T) {
	dbs := openReplicas(t, 3, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	key := credLockKey("conn", "alice")
	const perReplica, rounds = 4, 5
	var inside, overlaps, runs atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*perReplica)
	for _, db := range dbs {
		for range perReplica {
			wg.Go(func() {
				for range rounds {
					err := db.withAdvisoryLock(ctx, key, func(ctx context.Context) error {
						if inside.Add(1) != 1 {
							overlaps.Add(1)
						}
						defer inside.Add(-1)
						runs.Add(1)
						// Work that takes a round trip, so that overlaps have a chance.
						_, err := db.pool.Exec(ctx, "SELECT pg_sleep(0.002)")
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d times two replicas held one credential's lock together", n)
	}
	if n, want := runs.Load(), int64(len(dbs)*perReplica*rounds); n != want {
		t.Errorf("fn ran %d times, want %d", n, want)
	}
}

// A replica that dies while holding a lock (its connection ends) loses the lock.
func TestAdvisoryLockDiesWithConnection(t *testing.T) {
	dbs := openReplicas(t, 2, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	key := credLockKey("conn", "")

	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- dbs[0].withAdvisoryLock(ctx, key, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	// Kill the holder's server connection, as a replica's death would end it.
	var killed int
	err := dbs[1].pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate the lock holder's connection: %d terminated, %v; want 1", killed, err)
	}
	ran := false
	err = dbs[1].withAdvisoryLock(ctx, key, func(context.Context) error {
		ran = true
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("after the holder's connection died: withAdvisoryLock = %v, ran %v; want nil, true", err, ran)
	}
	close(release)
	<-holder // its unlock fails on the dead connection, which is discarded
	// The first replica recovers: its next lock works on a new connection.
	if err := dbs[0].withAdvisoryLock(ctx, key, func(context.Context) error { return nil }); err != nil {
		t.Errorf("the first replica's next lock: %v", err)
	}
}

// A waiter whose context ends returns at once, and what it leaves on the server
// never keeps the lock from the next holder.
func TestAdvisoryLockCancelWhileWaiting(t *testing.T) {
	dbs := openReplicas(t, 2, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	key := credLockKey("conn", "bob")

	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- dbs[0].withAdvisoryLock(ctx, key, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	const patience = 200 * time.Millisecond
	for i := range 3 {
		wctx, wcancel := context.WithTimeout(ctx, patience)
		began := time.Now()
		err := dbs[1].withAdvisoryLock(wctx, key, func(context.Context) error {
			t.Error("the waiter's fn ran while the lock was held")
			return nil
		})
		waited := time.Since(began)
		wcancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiter %d: %v, want context.DeadlineExceeded", i, err)
		}
		if waited > patience+2*time.Second {
			t.Errorf("waiter %d returned %v after its context ended, want promptly", i, waited-patience)
		}
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}
	for i, db := range dbs {
		if err := db.withAdvisoryLock(ctx, key, func(context.Context) error { return nil }); err != nil {
			t.Errorf("replica %d after the waiters gave up: %v", i, err)
		}
	}
}

// Many credentials locked at once use at most CredentialLockConns connections of
// their own and leave the request pool to the work done under the locks.
func TestAdvisoryLockPoolBounded(t *testing.T) {
	db := openReplicas(t, 1, 2)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const credentials = 12
	var holding, most atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, credentials)
	for i := range credentials {
		wg.Go(func() {
			key := credLockKey("conn", string(rune('a'+i)))
			errs <- db.withAdvisoryLock(ctx, key, func(ctx context.Context) error {
				n := holding.Add(1)
				defer holding.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				_, err := db.pool.Exec(ctx, "SELECT pg_sleep(0.01)")
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m := most.Load(); m > CredentialLockConns {
		t.Errorf("%d locks held at once, want at most CredentialLockConns (%d)", m, CredentialLockConns)
	}
	pool, err := db.credLocks.get(db.pool)
	if err != nil {
		t.Fatal(err)
	}
	if n := pool.Stat().TotalConns(); n > CredentialLockConns {
		t.Errorf("the lock pool has %d connections, want at most %d", n, CredentialLockConns)
	}
	if n := db.pool.Stat().MaxConns(); n != 2 {
		t.Errorf("the request pool's size changed to %d", n)
	}
}
