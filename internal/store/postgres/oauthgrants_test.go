package postgres

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// Two replicas (two Opens of one database) share the authorization server's grants: of
// 20 takes of one code spread over both exactly one wins, of 20 rotations of one family
// with one secret exactly one wins, and a principal's bound holds against concurrent
// sign-ins on both.
func TestOAuthGrantsAcrossReplicas(t *testing.T) {
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
	now := time.Now().UTC()
	u := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := dbs[0].CreatePrincipal(ctx, u); err != nil {
		t.Fatal(err)
	}
	token := func() string {
		t.Helper()
		h := sha256.Sum256([]byte(catalog.NewID()))
		tk := &catalog.Token{ID: catalog.NewID(), PrincipalID: u.ID, Hash: h[:], CreatedAt: now}
		if err := dbs[1].CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
		return tk.ID
	}
	race := func(what string, fn func(i int) error) int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		wins := 0
		start := make(chan struct{})
		for i := range 20 {
			wg.Go(func() {
				<-start
				err := fn(i)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case catalog.CodeOf(err) != catalog.ResourceDoesNotExist && catalog.CodeOf(err) != catalog.RequestLimitExceeded:
					t.Errorf("%s: %v", what, err)
				}
			})
		}
		close(start)
		wg.Wait()
		return wins
	}

	code := &catalog.OAuthCode{Hash: sha256.Sum256([]byte("code")), PrincipalID: u.ID, ClientID: "https://client.example/c",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := dbs[0].PutOAuthCode(ctx, code, 8); err != nil {
		t.Fatal(err)
	}
	if wins := race("take", func(i int) error { _, err := dbs[i%2].TakeOAuthCode(ctx, code.Hash, now); return err }); wins != 1 {
		t.Errorf("%d of 20 takes of one code on two replicas won, want exactly 1", wins)
	}

	fam := &catalog.OAuthFamily{ID: "fam-1", PrincipalID: u.ID, ClientID: "https://client.example/c", SecretHash: sha256.Sum256([]byte("s0")),
		TokenID: token(), CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: now}
	if err := dbs[0].CreateOAuthFamily(ctx, fam, 8); err != nil {
		t.Fatal(err)
	}
	toks := make([]string, 20)
	for i := range toks {
		toks[i] = token()
	}
	wins := race("rotate", func(i int) error {
		_, err := dbs[i%2].RotateOAuthFamily(ctx, catalog.OAuthRotation{FamilyID: fam.ID, OldSecretHash: fam.SecretHash,
			NewSecretHash: sha256.Sum256(fmt.Appendf(nil, "s%d", i+1)), NewTokenID: toks[i], At: now})
		return err
	})
	if wins != 1 {
		t.Errorf("%d of 20 rotations with one secret on two replicas won, want exactly 1", wins)
	}

	// 20 concurrent sign-ins against a bound of 5 (one family already there).
	wins = race("create", func(i int) error {
		return dbs[i%2].CreateOAuthFamily(ctx, &catalog.OAuthFamily{ID: fmt.Sprintf("fam-c%d", i), PrincipalID: u.ID, ClientID: "c",
			TokenID: toks[i], CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: now}, 5)
	})
	list, err := dbs[1].ListOAuthFamilies(ctx, u.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if wins != 4 || len(list) != 5 {
		t.Errorf("%d of 20 concurrent sign-ins won against a bound of 5 with one family (want 4); %d families", wins, len(list))
	}
}
