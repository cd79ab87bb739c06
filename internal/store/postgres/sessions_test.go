package postgres

import (
	"crypto/sha256"
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
