package identity_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// TestRecoverAdmin: whatever became of the user admin (never created, deactivated,
// taken out of admins), RecoverAdmin leaves it an active member of admins with a new
// token that authenticates; a name admin held by something else is refused.
func TestRecoverAdmin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	admin := func(t *testing.T, st *sqlite.DB) *catalog.Principal {
		p, err := st.GetPrincipalByName(context.Background(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name        string
		setup       func(t *testing.T, st *sqlite.DB)
		created     bool
		reactivated bool
		wantErr     string
	}{
		{name: "empty store", setup: func(*testing.T, *sqlite.DB) {}, created: true},
		{name: "admin with a lost token", setup: bootstrapped},
		{name: "admin deactivated", setup: func(t *testing.T, st *sqlite.DB) {
			bootstrapped(t, st)
			p := admin(t, st)
			p.Active = false
			if err := st.UpdatePrincipal(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}, reactivated: true},
		{name: "admin out of admins", setup: func(t *testing.T, st *sqlite.DB) {
			bootstrapped(t, st)
			g, _ := st.GetPrincipalByName(context.Background(), catalog.AdminsGroup)
			if err := st.RemoveMember(context.Background(), g.ID, admin(t, st).ID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "admin deleted", setup: func(t *testing.T, st *sqlite.DB) {
			bootstrapped(t, st)
			if err := st.DeletePrincipal(context.Background(), admin(t, st).ID); err != nil {
				t.Fatal(err)
			}
		}, created: true},
		{name: "name taken by a group", setup: func(t *testing.T, st *sqlite.DB) {
			if err := st.CreatePrincipal(context.Background(), &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindGroup, Name: "admin", Active: true, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "taken by a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			tc.setup(t, st)
			r, err := identity.RecoverAdmin(ctx, st, now, now.Add(24*time.Hour))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RecoverAdmin = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Created != tc.created || r.Reactivated != tc.reactivated {
				t.Fatalf("created %v reactivated %v, want %v %v", r.Created, r.Reactivated, tc.created, tc.reactivated)
			}
			p := admin(t, st)
			if !p.Active || p.Kind != catalog.KindUser {
				t.Fatalf("admin = %+v, want an active user", p)
			}
			g, _ := st.GetPrincipalByName(ctx, catalog.AdminsGroup)
			members, err := st.ListMembers(ctx, g.ID)
			if err != nil || !slices.Contains(members, p.ID) {
				t.Fatalf("admins members = %v, %v; want admin in it", members, err)
			}
			tok, err := st.GetTokenByHash(ctx, identity.HashToken(r.Token))
			if err != nil || tok.PrincipalID != p.ID || !tok.ExpiresAt.Equal(now.Add(24*time.Hour)) {
				t.Fatalf("stored token = %+v, %v", tok, err)
			}
		})
	}
}

func bootstrapped(t *testing.T, st *sqlite.DB) {
	t.Helper()
	if _, err := identity.Bootstrap(context.Background(), st, "", time.Now()); err != nil {
		t.Fatal(err)
	}
}
