package identity_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// raceStore plays a second replica that bootstraps the same empty store at the same
// moment: just before this replica creates the principal named `at`, the other one
// bootstraps completely, so this replica's create is RESOURCE_ALREADY_EXISTS.
type raceStore struct {
	*sqlite.DB
	at      string
	other   string // the other replica's token
	started bool
}

func (s *raceStore) CreatePrincipal(ctx context.Context, p *catalog.Principal) error {
	if p.Name == s.at && !s.started {
		s.started = true
		tok, err := identity.Bootstrap(ctx, s.DB, "", time.Now())
		if err != nil {
			return err
		}
		s.other = tok
	}
	return s.DB.CreatePrincipal(ctx, p)
}

// TestBootstrapLosesRace: a replica that loses the race for the built-in groups or the
// admin does not fail: it finds the store bootstrapped and prints no token of its own.
func TestBootstrapLosesRace(t *testing.T) {
	for _, at := range []string{catalog.AdminsGroup, catalog.UsersGroup, "admin"} {
		t.Run(at, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rs := &raceStore{DB: st, at: at}
			tok, err := identity.Bootstrap(ctx, rs, "", time.Now())
			if err != nil {
				t.Fatalf("the replica that lost the race: %v", err)
			}
			if tok != "" || rs.other == "" {
				t.Fatalf("tokens: loser %q, winner %q; want only the winner's", tok, rs.other)
			}
			users, err := st.ListPrincipals(ctx, catalog.KindUser)
			if err != nil || len(users) != 1 || users[0].Name != "admin" {
				t.Fatalf("users after the race: %v (%v), want the one admin", users, err)
			}
		})
	}
}
