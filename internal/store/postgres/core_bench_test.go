package postgres

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// BenchmarkRequestLookups measures the store reads on a request's path when a cache
// misses (token by hash, principal, connection by name, grants on it): one statement
// each, through the pool's statement cache.
func BenchmarkRequestLookups(b *testing.B) {
	db, err := Open(b.Context(), pgtest.Shared(b).NewDatabase(b), Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	ctx := b.Context()
	now := time.Now()
	p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "bench@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := db.CreatePrincipal(ctx, p); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("bench"))
	if err := db.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: h[:], CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	c := &catalog.Connection{ID: catalog.NewID(), Name: "bench", ConnectionType: "HTTP", CredentialType: catalog.BearerToken, OwnerID: p.ID,
		Options: map[string]string{catalog.OptHost: "https://api.example.com"}, Secrets: map[string][]byte{catalog.OptBearerToken: []byte("sealed")}, Enabled: true}
	if err := db.CreateConnection(ctx, c); err != nil {
		b.Fatal(err)
	}
	if err := db.UpdateGrants(ctx, catalog.SecurableConnection, c.ID, []catalog.Grant{{PrincipalID: p.ID, Privilege: catalog.UseConnection}}, nil); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"TokenByHash", func() error { _, err := db.GetTokenByHash(ctx, h[:]); return err }},
		{"Principal", func() error { _, err := db.GetPrincipal(ctx, p.ID); return err }},
		{"ConnectionByName", func() error { _, err := db.GetConnection(ctx, c.Name); return err }},
		{"GrantsOn", func() error { _, err := db.ListGrants(ctx, catalog.SecurableConnection, c.ID); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
