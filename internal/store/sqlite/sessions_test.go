package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// BenchmarkGetBrowserSession is the store's share of every browser request: one
// indexed read, among 1000 sessions.
func BenchmarkGetBrowserSession(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "gatehouse.db"))
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
	db, err := Open(ctx, filepath.Join(b.TempDir(), "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const total = 100_000
	now := time.Now()
	if _, err := db.w.ExecContext(ctx, `WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO pending_logins (state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at)
		SELECT randomblob(32), randomblob(32), 'p' || x, 'c', 'conn', 'https://as.example/token', x'01', ?, ? FROM i`,
		total, now.UnixNano(), now.Add(time.Hour).UnixNano()); err != nil {
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
