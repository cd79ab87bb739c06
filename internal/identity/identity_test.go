package identity_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

func TestNewTokenValue(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		v := identity.NewTokenValue()
		if !strings.HasPrefix(v, identity.TokenPrefix) || len(v) != len(identity.TokenPrefix)+52 {
			t.Fatalf("token %q: want prefix %s and 52 base32 characters (256 bits)", v, identity.TokenPrefix)
		}
		if seen[v] {
			t.Fatalf("token repeated")
		}
		seen[v] = true
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	admin, err := identity.Bootstrap(ctx, st, "", now)
	if err != nil || admin == "" {
		t.Fatalf("Bootstrap = %q, %v", admin, err)
	}
	if again, err := identity.Bootstrap(ctx, st, "", now); err != nil || again != "" {
		t.Fatalf("second Bootstrap = %q, %v; want no new token", again, err)
	}
	a := identity.NewAuthenticator(st, clock, slog.New(slog.DiscardHandler))
	id, err := a.Authenticate(ctx, admin)
	if err != nil || id.Principal.Name != "admin" {
		t.Fatalf("Authenticate(admin) = %+v, %v", id, err)
	}
	// The store holds only the hash.
	tok, err := st.GetToken(ctx, id.TokenID)
	if err != nil || string(tok.Hash) == admin || strings.Contains(string(tok.Hash), admin) {
		t.Fatalf("stored token: %v", err)
	}
	// last-used is recorded on Flush.
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, _ = st.GetToken(ctx, id.TokenID); !tok.LastUsedAt.Equal(now) {
		t.Errorf("LastUsedAt = %v, want %v", tok.LastUsedAt, now)
	}
	// An expiring token.
	u := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice", Active: true}
	if err := st.CreatePrincipal(ctx, u); err != nil {
		t.Fatal(err)
	}
	v := identity.NewTokenValue()
	if err := st.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: u.ID, Hash: identity.HashToken(v), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		token   string
		advance time.Duration
		want    string // "" = accepted, else part of the message
	}{
		{"valid", v, 0, ""},
		{"empty", "", 0, "no access token"},
		{"no prefix", "abc", 0, "invalid access token"},
		{"unknown", identity.NewTokenValue(), 0, "invalid access token"},
		{"huge", identity.TokenPrefix + strings.Repeat("a", 10000), 0, "invalid access token"},
		{"expired", v, time.Hour, "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(tc.advance)
			_, err := a.Authenticate(ctx, tc.token)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Authenticate = %v, want accepted", err)
				}
				return
			}
			if err == nil || catalog.CodeOf(err) != catalog.Unauthenticated || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Authenticate = %v, want UNAUTHENTICATED with %q", err, tc.want)
			}
		})
	}
	now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u.Active = false
	if err := st.UpdatePrincipal(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, v); err == nil || !strings.Contains(err.Error(), "deactivated") {
		t.Fatalf("deactivated principal: %v, want refused", err)
	}
}

func TestBootstrapTokenFromEnvironment(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := identity.Bootstrap(ctx, st, "short", time.Now()); err == nil {
		t.Fatal("a short bootstrap token was accepted")
	}
	want := identity.NewTokenValue()
	got, err := identity.Bootstrap(ctx, st, want, time.Now())
	if err != nil || got != want {
		t.Fatalf("Bootstrap = %q, %v; want the given token", got, err)
	}
}

// TestRecheck: an identity authenticated earlier stops holding when its token is
// deleted or expires or its principal is deactivated, and holds otherwise.
func TestRecheck(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		revoke func(t *testing.T, st *sqlite.DB, p *catalog.Principal, tokenID string, now *time.Time)
		want   string // "" = still valid
	}{
		{"unchanged", func(*testing.T, *sqlite.DB, *catalog.Principal, string, *time.Time) {}, ""},
		{"token deleted", func(t *testing.T, st *sqlite.DB, _ *catalog.Principal, id string, _ *time.Time) {
			if err := st.DeleteToken(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}, "was deleted"},
		{"token expired", func(_ *testing.T, _ *sqlite.DB, _ *catalog.Principal, _ string, now *time.Time) {
			*now = base.Add(time.Hour)
		}, "expired"},
		{"principal deactivated", func(t *testing.T, st *sqlite.DB, p *catalog.Principal, _ string, _ *time.Time) {
			p.Active = false
			if err := st.UpdatePrincipal(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}, "deactivated"},
		{"principal deleted", func(t *testing.T, st *sqlite.DB, p *catalog.Principal, _ string, _ *time.Time) {
			if err := st.DeletePrincipal(context.Background(), p.ID); err != nil {
				t.Fatal(err)
			}
		}, "was deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := base
			a := identity.NewAuthenticator(st, func() time.Time { return now }, slog.New(slog.DiscardHandler))
			p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice", Active: true}
			if err := st.CreatePrincipal(ctx, p); err != nil {
				t.Fatal(err)
			}
			v := identity.NewTokenValue()
			tok := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: identity.HashToken(v), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			id, err := a.Authenticate(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			if !id.ExpiresAt.Equal(tok.ExpiresAt) {
				t.Fatalf("ExpiresAt = %v, want %v", id.ExpiresAt, tok.ExpiresAt)
			}
			if err := a.Recheck(ctx, id); err != nil {
				t.Fatalf("Recheck before the change = %v", err)
			}
			tc.revoke(t, st, p, tok.ID, &now)
			err = a.Recheck(ctx, id)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Recheck = %v, want nil", err)
				}
				return
			}
			if catalog.CodeOf(err) != catalog.Unauthenticated || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recheck = %v, want UNAUTHENTICATED with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), v) {
				t.Fatal("Recheck's error carries the token")
			}
		})
	}
	t.Run("identity without token", func(t *testing.T) {
		a := identity.NewAuthenticator(nopStore{}, nil, slog.New(slog.DiscardHandler))
		if err := a.Recheck(context.Background(), &identity.Identity{Principal: &catalog.Principal{ID: "p"}}); catalog.CodeOf(err) != catalog.Unauthenticated {
			t.Fatalf("Recheck(no token) = %v, want UNAUTHENTICATED", err)
		}
	})
}

type nopStore struct{ identity.Store }

func (nopStore) Watch(func(catalog.Change)) {}
