package credential

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// recordingPending is a catalog.PendingLoginStore that keeps what it is given, so that a
// test can look at the rows and tamper with them.
type recordingPending struct {
	rows map[[sha256.Size]byte]*catalog.PendingLogin
	lim  catalog.PendingLoginLimits
}

func (r *recordingPending) PutPendingLogin(_ context.Context, l *catalog.PendingLogin, lim catalog.PendingLoginLimits) (int, error) {
	c := *l
	r.rows[l.StateHash], r.lim = &c, lim
	return 0, nil
}

func (r *recordingPending) TakePendingLogin(_ context.Context, h [sha256.Size]byte, now time.Time) (*catalog.PendingLogin, error) {
	l, ok := r.rows[h]
	delete(r.rows, h)
	if !ok || now.After(l.ExpiresAt) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no such state")
	}
	return l, nil
}

func TestStorePendingLoginsSealsVerifier(t *testing.T) {
	ctx := context.Background()
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	rec := &recordingPending{rows: map[[sha256.Size]byte]*catalog.PendingLogin{}}
	s := NewStorePendingLogins(rec, kr, PendingOptions{Now: clock.Now})
	want := PendingLogin{SessionHash: sha256.Sum256([]byte("sess")), ConnectionID: "c1", Connection: "github", PrincipalID: "p-alice",
		Verifier: "verifier-0123456789-abcdefghijklmnopqrstuvwxyz", Expires: clock.Now().Add(time.Minute), TokenURL: "https://as.example/token"}
	if err := s.Put(ctx, "state-1", want); err != nil {
		t.Fatal(err)
	}
	if rec.lim != (catalog.PendingLoginLimits{MaxTotal: DefaultMaxPendingLogins, MaxPerSession: DefaultMaxPendingPerSession, MaxPerPrincipal: DefaultMaxPendingPerPrincipal}) {
		t.Errorf("limits passed to the store = %+v, want the defaults", rec.lim)
	}
	row := rec.rows[sha256.Sum256([]byte("state-1"))]
	if row == nil {
		t.Fatal("the login is not stored under the SHA-256 of its state")
	}
	if bytes.Contains(row.SealedVerifier, []byte(want.Verifier)) || strings.Contains(row.Connection+row.TokenURL, want.Verifier) {
		t.Error("the verifier reaches the store in clear")
	}
	got, ok, err := s.Take(ctx, "state-1")
	if err != nil || !ok {
		t.Fatalf("Take = %v, %v", ok, err)
	}
	if got != want {
		t.Errorf("Take = %#v, want %#v (verifier %q, want %q)", got, want, got.Verifier, want.Verifier)
	}
	if _, ok, err := s.Take(ctx, "state-1"); ok || err != nil {
		t.Errorf("second Take = %v, %v; want not found", ok, err)
	}

	// A sealed verifier moved to another state's row does not open.
	for _, st := range []string{"a", "b"} {
		l := want
		l.Verifier = "verifier-of-" + st
		if err := s.Put(ctx, st, l); err != nil {
			t.Fatal(err)
		}
	}
	ha, hb := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	rec.rows[ha].SealedVerifier, rec.rows[hb].SealedVerifier = rec.rows[hb].SealedVerifier, rec.rows[ha].SealedVerifier
	if _, ok, err := s.Take(ctx, "a"); ok || err == nil {
		t.Errorf("Take of a row holding another state's verifier = %v, %v; want an error", ok, err)
	}

	// Expiry is the store's: past it the login is gone.
	if err := s.Put(ctx, "late", want); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, ok, err := s.Take(ctx, "late"); ok || err != nil {
		t.Errorf("Take after expiry = %v, %v; want not found", ok, err)
	}
}
