package identity_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// TestAuthenticateAudience: a token with an audience is good for exactly that resource
// and refused (ErrWrongAudience) everywhere else, Authenticate included; a token
// without one is good for every resource.
func TestAuthenticateAudience(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice", Active: true}
	if err := st.CreatePrincipal(ctx, u); err != nil {
		t.Fatal(err)
	}
	const tools = "https://gh.example/api/2.0/mcp/external/tools"
	mint := func(aud string) string {
		v := identity.NewTokenValue()
		if err := st.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: u.ID, Hash: identity.HashToken(v), CreatedAt: now, Audience: aud}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	bound, plain := mint(tools), mint("")
	a := identity.NewAuthenticator(st, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	tests := []struct {
		name     string
		token    string
		resource string
		ok       bool
	}{
		{"bound at its resource", bound, tools, true},
		{"bound at another connection", bound, "https://gh.example/api/2.0/mcp/external/other", false},
		{"bound at a prefix of its resource", bound, "https://gh.example/api/2.0/mcp/external/tool", false},
		{"bound at a longer resource", bound, tools + "s", false},
		{"bound at another host", bound, "https://evil.example/api/2.0/mcp/external/tools", false},
		{"bound on the APIs", bound, "", false},
		{"plain at a resource", plain, tools, true},
		{"plain on the APIs", plain, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache and must be the same.
			for i := range 2 {
				id, err := a.AuthenticateResource(ctx, tc.token, tc.resource)
				if tc.ok {
					if err != nil || id.Principal.ID != u.ID {
						t.Fatalf("try %d: AuthenticateResource = %v, %v; want alice", i, id, err)
					}
					continue
				}
				if !errors.Is(err, identity.ErrWrongAudience) || catalog.CodeOf(err) != catalog.Unauthenticated || id != nil {
					t.Fatalf("try %d: AuthenticateResource = %v, %v; want ErrWrongAudience", i, id, err)
				}
			}
		})
	}
	if _, err := a.Authenticate(ctx, bound); !errors.Is(err, identity.ErrWrongAudience) {
		t.Errorf("Authenticate(bound) = %v, want ErrWrongAudience", err)
	}
	if id, err := a.AuthenticateResource(ctx, bound, tools); err != nil || id.Audience != tools {
		t.Errorf("identity of a bound token: %+v, %v; want Audience %s", id, err, tools)
	}
}
