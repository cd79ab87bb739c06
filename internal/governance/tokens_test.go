package governance

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestRevokingATokenEndsItsSignIn: a token an OAuth client got from /oidc/v1/token (an MCP
// client, gatehouse auth login) is the live access token of a refresh family. Revoking it —
// by its owner or by an admin — ends the family too, so the client cannot refresh it into a
// new token; revoking a personal access token ends nobody's family.
func TestRevokingATokenEndsItsSignIn(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	now := time.Now()
	mint := func(owner string) *catalog.Token {
		t.Helper()
		tok := &catalog.Token{ID: catalog.NewID(), PrincipalID: w.p[owner].ID, Hash: []byte(catalog.NewID() + "0123456789abcdef0123"),
			CreatedBy: w.p[owner].ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := w.st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	family := func(owner string, tok *catalog.Token) *catalog.OAuthFamily {
		t.Helper()
		f := &catalog.OAuthFamily{ID: catalog.NewID(), PrincipalID: w.p[owner].ID, ClientID: "gatehouse-cli",
			SecretHash: sha256.Sum256([]byte(tok.ID)), TokenID: tok.ID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), RotatedAt: now}
		if err := w.st.CreateOAuthFamily(ctx, f, catalog.MaxOAuthFamiliesPerPrincipal); err != nil {
			t.Fatal(err)
		}
		return f
	}
	live := func(f *catalog.OAuthFamily) bool {
		_, err := w.st.GetOAuthFamily(ctx, f.ID, time.Now())
		if err != nil && !catalog.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	oliviaCLI := mint("olivia")
	oliviaFam := family("olivia", oliviaCLI)
	oliviaOther := family("olivia", mint("olivia"))
	pat := mint("olivia")

	// A personal access token: no family ends.
	if err := w.svc.DeleteToken(ctx, w.p["olivia"], pat.ID, nil); err != nil {
		t.Fatal(err)
	}
	if !live(oliviaFam) || !live(oliviaOther) {
		t.Fatal("revoking a personal access token ended a sign-in")
	}
	// Her CLI's token, by her: its family ends, her other sign-in stays.
	var rec Record
	if err := w.svc.DeleteToken(ctx, w.p["olivia"], oliviaCLI.ID, &rec); err != nil {
		t.Fatal(err)
	}
	if live(oliviaFam) {
		t.Error("the revoked token's refresh family is still live: the client could refresh it")
	}
	if !live(oliviaOther) {
		t.Error("revoking one token ended another sign-in")
	}
	if rec.Params["ended_refresh_family"] != "true" || rec.Params["client_id"] != "gatehouse-cli" {
		t.Errorf("the record does not say the sign-in ended: %v", rec.Params)
	}
	// Mike's token, by an admin.
	mikeTok := mint("mike")
	mikeFam := family("mike", mikeTok)
	if err := w.svc.DeleteAnyToken(ctx, w.p["root"], mikeTok.ID, nil); err != nil {
		t.Fatal(err)
	}
	if live(mikeFam) {
		t.Error("an admin's revoke left the token's refresh family live")
	}
	// Someone else's token is still not hers to revoke, and ends nothing.
	other := mint("mike")
	otherFam := family("mike", other)
	if err := w.svc.DeleteToken(ctx, w.p["olivia"], other.ID, nil); !catalog.IsNotFound(err) {
		t.Fatalf("olivia revoking mike's token = %v, want RESOURCE_DOES_NOT_EXIST", err)
	}
	if !live(otherFam) {
		t.Error("a refused revoke ended a sign-in")
	}
}
