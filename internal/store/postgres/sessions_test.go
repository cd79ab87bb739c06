package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// Two replicas (two Opens of one database) share sessions and pending logins: a session
// created on one is found on the other and ends there when the other deletes it, and of
// 20 takes of one state spread over both, exactly one wins.
func TestSessionsAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Shared(t).NewDatabase(t)
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, dsn, Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	a, b := dbs[0], dbs[1]
	now := time.Now()
	key := sha256.Sum256([]byte("session id"))
	s := &catalog.BrowserSession{Key: key, PrincipalID: "p1", TokenID: "t1", TokenHash: []byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateBrowserSession(ctx, s, 32); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBrowserSession(ctx, key, now); err != nil {
		t.Fatalf("a session created on A is not found on B: %v", err)
	}
	if err := b.DeleteBrowserSession(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetBrowserSession(ctx, key, now); !catalog.IsNotFound(err) {
		t.Fatalf("a session deleted on B is still found on A: %v", err)
	}

	state := sha256.Sum256([]byte("state"))
	l := &catalog.PendingLogin{StateHash: state, PrincipalID: "p1", ConnectionID: "c1", Connection: "github", SealedVerifier: []byte{1},
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if _, err := a.PutPendingLogin(ctx, l, catalog.PendingLoginLimits{MaxTotal: 10, MaxPerSession: 10, MaxPerPrincipal: 10}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	wins := 0
	start := make(chan struct{})
	for i := range 20 {
		wg.Go(func() {
			<-start
			_, err := dbs[i%2].TakePendingLogin(ctx, state, now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !catalog.IsNotFound(err):
				t.Errorf("take: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of 20 takes of one state on two replicas won, want exactly 1", wins)
	}
}

// The row count the total bound reads stays exact whoever inserts or deletes: puts with
// evictions on two replicas, concurrent takes, and a plain DELETE (as DeletePrincipal
// does).
func TestPendingLoginCount(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Shared(t).NewDatabase(t)
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, dsn, Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	check := func(when string) {
		t.Helper()
		var n, rows int
		if err := dbs[0].Pool().QueryRow(ctx, "SELECT (SELECT n FROM pending_login_count), (SELECT count(*) FROM pending_logins)").Scan(&n, &rows); err != nil {
			t.Fatal(err)
		}
		if n != rows {
			t.Errorf("%s: pending_login_count says %d, the table holds %d", when, n, rows)
		}
	}
	now := time.Now()
	lim := catalog.PendingLoginLimits{MaxTotal: 30, MaxPerSession: 3, MaxPerPrincipal: 5}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				l := &catalog.PendingLogin{StateHash: sha256.Sum256(fmt.Append(nil, w, "/", i)), SessionHash: sha256.Sum256(fmt.Append(nil, w, "/", i%4)),
					PrincipalID: fmt.Sprint("p", i%7), ConnectionID: "c", SealedVerifier: []byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if _, err := dbs[w%2].PutPendingLogin(ctx, l, lim); err != nil {
					t.Errorf("put: %v", err)
				}
				if i%3 == 0 {
					_, err := dbs[(w+1)%2].TakePendingLogin(ctx, sha256.Sum256(fmt.Append(nil, (w+1)%4, "/", i)), now)
					if err != nil && !catalog.IsNotFound(err) {
						t.Errorf("take: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	check("after concurrent puts and takes")
	var held int
	if err := dbs[0].Pool().QueryRow(ctx, "SELECT count(*) FROM pending_logins").Scan(&held); err != nil || held > lim.MaxTotal {
		t.Errorf("%d logins held (%v), over the total bound of %d", held, err, lim.MaxTotal)
	}
	if _, err := dbs[1].Pool().Exec(ctx, "DELETE FROM pending_logins WHERE principal_id = 'p1'"); err != nil {
		t.Fatal(err)
	}
	check("after a plain delete")
}

// BenchmarkGetBrowserSession is the store's share of every browser request: one
// indexed read, among 1000 sessions.
func BenchmarkGetBrowserSession(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.Shared(b).NewDatabase(b), Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for i := range 1000 {
		s := &catalog.BrowserSession{Key: sha256.Sum256(fmt.Append(nil, i)), PrincipalID: fmt.Sprint("p", i%100), TokenID: "t", TokenHash: []byte{1},
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateBrowserSession(ctx, s, 32); err != nil {
			b.Fatal(err)
		}
	}
	key := sha256.Sum256(fmt.Append(nil, 500))
	for b.Loop() {
		if _, err := db.GetBrowserSession(ctx, key, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutPendingLoginFull is the cost of starting a login while the store holds
// the default total bound of logins (100 000): every put then evicts the oldest.
func BenchmarkPutPendingLoginFull(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.Shared(b).NewDatabase(b), Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const total = 100_000
	now := time.Now()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO pending_logins
		(state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at)
		SELECT sha256(('s' || i)::bytea), sha256(('x' || i)::bytea), 'p' || i, 'c', 'conn', 'https://as.example/token', '\x01', $1, $2
		FROM generate_series(1, $3) AS i`, now, now.Add(time.Hour), total); err != nil {
		b.Fatal(err)
	}
	// As autovacuum would after such a growth: the plans below rest on the statistics.
	if _, err := db.Pool().Exec(ctx, "ANALYZE pending_logins"); err != nil {
		b.Fatal(err)
	}
	lim := catalog.PendingLoginLimits{MaxTotal: total, MaxPerSession: 16, MaxPerPrincipal: 64}
	i := 0
	for b.Loop() {
		i++
		l := &catalog.PendingLogin{StateHash: sha256.Sum256(fmt.Append(nil, "new", i)), SessionHash: sha256.Sum256(fmt.Append(nil, "sess", i)),
			PrincipalID: fmt.Sprint("q", i), ConnectionID: "c", Connection: "conn", SealedVerifier: []byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		n, err := db.PutPendingLogin(ctx, l, lim)
		if err != nil || n != 1 {
			b.Fatalf("put = %d evicted, %v; want 1", n, err)
		}
	}
}
