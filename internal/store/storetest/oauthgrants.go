package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// OAuth grants of the authorization server (issue 12, catalog.OAuthGrantStore): codes
// taken once, bounds that refuse rather than evict, rotation as a compare-and-swap, and
// grants that end with their principal.

var grantBase = time.Date(2026, time.December, 1, 12, 0, 0, 0, time.UTC)

func grantAt(n int) time.Time { return grantBase.Add(time.Duration(n) * time.Second) }

func (f *fixture) newCode(name, principalID string, created time.Time) *catalog.OAuthCode {
	return &catalog.OAuthCode{Hash: hashOf("code " + name), PrincipalID: principalID, ClientID: "https://client.example/" + name,
		RedirectURI: "http://127.0.0.1/cb", CodeChallenge: "challenge-" + name, Audience: "https://gh.example/api/2.0/mcp/external/docs",
		CreatedAt: created, ExpiresAt: created.Add(time.Minute)}
}

// newFamily returns a family of principalID with a stored access token, not yet stored.
func (f *fixture) newFamily(name, principalID string, created time.Time) *catalog.OAuthFamily {
	f.t.Helper()
	tk := f.token(principalID)
	return &catalog.OAuthFamily{ID: "fam-" + name, PrincipalID: principalID, ClientID: "https://client.example/" + name,
		Audience: "https://gh.example/api/2.0/mcp/external/docs", SecretHash: hashOf("secret " + name), TokenID: tk.ID,
		CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour), RotatedAt: created}
}

// tokenGone reports whether the token was deleted.
func (f *fixture) tokenGone(id string) bool {
	f.t.Helper()
	_, err := f.s.GetToken(f.ctx, id)
	if err != nil && !catalog.IsNotFound(err) {
		f.t.Fatalf("get token: %v", err)
	}
	return err != nil
}

func testOAuthCodeTakeOnce(f *fixture) {
	u := f.user("alice@example.com")
	c := f.newCode("a", u.ID, grantAt(0))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c, 8))
	f.wantCode("record use of an unused code", f.s.RecordOAuthCodeUse(f.ctx, c.Hash, "fam", "tok", grantAt(3600)), catalog.ResourceDoesNotExist)
	_, err := f.s.TakeUsedOAuthCode(f.ctx, c.Hash, grantAt(1))
	f.wantCode("take the marker of an unused code", err, catalog.ResourceDoesNotExist)
	got, err := f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(1))
	f.must("take code", err)
	if d := diff(c, got); d != "" {
		f.t.Errorf("taken code (-want +got):\n%s", d)
	}
	_, err = f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(2))
	f.wantCode("second take", err, catalog.ResourceDoesNotExist)
	// The used marker outlives the code and names what its exchange issued.
	f.must("record use", f.s.RecordOAuthCodeUse(f.ctx, c.Hash, "fam-1", "tok-1", grantAt(3600)))
	used, err := f.s.TakeUsedOAuthCode(f.ctx, c.Hash, grantAt(600))
	f.must("take used marker", err)
	if used.FamilyID != "fam-1" || used.TokenID != "tok-1" || used.PrincipalID != u.ID || used.ClientID != c.ClientID {
		f.t.Errorf("used marker %+v", used)
	}
	_, err = f.s.TakeUsedOAuthCode(f.ctx, c.Hash, grantAt(601))
	f.wantCode("second take of the marker", err, catalog.ResourceDoesNotExist)
	_, err = f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(602))
	f.wantCode("take after the marker is gone", err, catalog.ResourceDoesNotExist)

	// Concurrent takes of one code: exactly one wins.
	c2 := f.newCode("b", u.ID, grantAt(10))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c2, 8))
	wins := f.race(16, func() error { _, err := f.s.TakeOAuthCode(f.ctx, c2.Hash, grantAt(11)); return err })
	if wins != 1 {
		f.t.Errorf("%d of 16 concurrent takes of one code won, want 1", wins)
	}
}

// race runs fn n times at once and returns how many returned nil; errors other than
// RESOURCE_DOES_NOT_EXIST fail the test.
func (f *fixture) race(n int, fn func() error) int {
	f.t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	wins := 0
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := fn()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !catalog.IsNotFound(err):
				f.t.Errorf("concurrent call: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func testOAuthCodeExpiry(f *fixture) {
	u := f.user("alice@example.com")
	c := f.newCode("a", u.ID, grantAt(0))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c, 8))
	_, err := f.s.TakeOAuthCode(f.ctx, c.Hash, c.ExpiresAt.Add(time.Nanosecond))
	f.wantCode("take after expiry", err, catalog.ResourceDoesNotExist)
	c2 := f.newCode("b", u.ID, grantAt(0))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c2, 8))
	if _, err := f.s.TakeOAuthCode(f.ctx, c2.Hash, c2.ExpiresAt); err != nil {
		f.t.Errorf("take at the expiry instant: %v", err)
	}
	f.must("record use", f.s.RecordOAuthCodeUse(f.ctx, c2.Hash, "fam", "tok", grantAt(100)))
	_, err = f.s.TakeUsedOAuthCode(f.ctx, c2.Hash, grantAt(101))
	f.wantCode("take an expired marker", err, catalog.ResourceDoesNotExist)
}

// testOAuthCodeBound: a principal's bound refuses its next code and evicts nothing, its
// own or anyone else's; once its codes expire it has room again.
func testOAuthCodeBound(f *fixture) {
	const limit = 5
	alice, bob := f.user("alice@example.com"), f.user("bob@example.com")
	a := f.newCode("alice", alice.ID, grantAt(0))
	f.must("put alice's code", f.s.PutOAuthCode(f.ctx, a, limit))
	var bobs []*catalog.OAuthCode
	for i := range limit + 3 {
		c := f.newCode(fmt.Sprintf("bob-%d", i), bob.ID, grantAt(1))
		err := f.s.PutOAuthCode(f.ctx, c, limit)
		if i < limit {
			f.must("put bob's code", err)
			bobs = append(bobs, c)
			continue
		}
		f.wantCode("a code past the bound", err, catalog.RequestLimitExceeded)
		f.wantMessage("a code past the bound", err, "authorization codes")
	}
	for _, c := range append(bobs, a) {
		if _, err := f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(2)); err != nil {
			f.t.Errorf("a code within the bound was lost: %v", err)
		}
	}
	// Taken codes are markers that still count until they expire; past that, room.
	f.wantCode("a code while the markers live", f.s.PutOAuthCode(f.ctx, f.newCode("bob-x", bob.ID, grantAt(3)), limit), catalog.RequestLimitExceeded)
	f.must("a code once the others expired", f.s.PutOAuthCode(f.ctx, f.newCode("bob-y", bob.ID, grantAt(120)), limit))
}

func testOAuthCodeRefused(f *fixture) {
	u := f.user("alice@example.com")
	f.wantCode("unknown principal", f.s.PutOAuthCode(f.ctx, f.newCode("a", "nobody", grantAt(0)), 8), catalog.ResourceDoesNotExist)
	f.wantCode("bound zero", f.s.PutOAuthCode(f.ctx, f.newCode("a", u.ID, grantAt(0)), 0), catalog.InvalidParameterValue)
	c := f.newCode("a", u.ID, grantAt(0))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c, 8))
	f.wantCode("same hash again", f.s.PutOAuthCode(f.ctx, c, 8), catalog.ResourceAlreadyExists)
}

func testOAuthFamilyCRUD(f *fixture) {
	u, other := f.user("alice@example.com"), f.user("bob@example.com")
	fa := f.newFamily("a", u.ID, grantAt(0))
	f.must("create family", f.s.CreateOAuthFamily(f.ctx, fa, 8))
	fb := f.newFamily("b", u.ID, grantAt(1))
	f.must("create family", f.s.CreateOAuthFamily(f.ctx, fb, 8))
	fo := f.newFamily("o", other.ID, grantAt(2))
	f.must("create family", f.s.CreateOAuthFamily(f.ctx, fo, 8))
	got, err := f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(5))
	f.must("get family", err)
	if d := diff(fa, got); d != "" {
		f.t.Errorf("family (-want +got):\n%s", d)
	}
	list, err := f.s.ListOAuthFamilies(f.ctx, u.ID, grantAt(5))
	f.must("list families", err)
	if d := diff([]*catalog.OAuthFamily{fa, fb}, list); d != "" {
		f.t.Errorf("alice's families (-want +got):\n%s", d)
	}
	f.wantCode("create a taken ID", f.s.CreateOAuthFamily(f.ctx, f.newFamily("a", u.ID, grantAt(3)), 8), catalog.ResourceAlreadyExists)
	f.wantCode("bound zero", f.s.CreateOAuthFamily(f.ctx, f.newFamily("z", u.ID, grantAt(3)), 0), catalog.InvalidParameterValue)
	nf := f.newFamily("n", u.ID, grantAt(3))
	nf.PrincipalID = "nobody"
	f.wantCode("unknown principal", f.s.CreateOAuthFamily(f.ctx, nf, 8), catalog.ResourceDoesNotExist)

	// Past its expiry a family is neither got nor listed.
	_, err = f.s.GetOAuthFamily(f.ctx, fa.ID, fa.ExpiresAt)
	f.wantCode("get at expiry", err, catalog.ResourceDoesNotExist)
	if list, err := f.s.ListOAuthFamilies(f.ctx, u.ID, fb.ExpiresAt); err != nil || len(list) != 0 {
		f.t.Errorf("families listed past expiry: %v %v", list, err)
	}

	// Deleting a family ends its access token, announced.
	var mu sync.Mutex
	var changes []catalog.Change
	f.s.Watch(func(c catalog.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })
	del, err := f.s.DeleteOAuthFamily(f.ctx, fa.ID)
	f.must("delete family", err)
	if del.TokenID != fa.TokenID || del.ClientID != fa.ClientID {
		f.t.Errorf("deleted family %+v", del)
	}
	if !f.tokenGone(fa.TokenID) {
		f.t.Error("the deleted family's access token lives on")
	}
	mu.Lock()
	announced := false
	for _, c := range changes {
		announced = announced || c == catalog.Change{Kind: catalog.ChangeToken, ID: fa.TokenID}
	}
	mu.Unlock()
	if !announced {
		f.t.Errorf("deleting a family announced %v, not its token", changes)
	}
	_, err = f.s.DeleteOAuthFamily(f.ctx, fa.ID)
	f.wantCode("delete twice", err, catalog.ResourceDoesNotExist)
	_, err = f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(5))
	f.wantCode("get deleted", err, catalog.ResourceDoesNotExist)

	// All of a principal's grants end at once; another's stay.
	c := f.newCode("a", u.ID, grantAt(6))
	f.must("put code", f.s.PutOAuthCode(f.ctx, c, 8))
	n, err := f.s.DeleteOAuthGrantsOf(f.ctx, u.ID)
	f.must("delete grants of alice", err)
	if n != 1 || !f.tokenGone(fb.TokenID) {
		f.t.Errorf("DeleteOAuthGrantsOf ended %d families (want 1); token gone %v", n, f.tokenGone(fb.TokenID))
	}
	_, err = f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(7))
	f.wantCode("take a code of ended grants", err, catalog.ResourceDoesNotExist)
	if _, err := f.s.GetOAuthFamily(f.ctx, fo.ID, grantAt(7)); err != nil || f.tokenGone(fo.TokenID) {
		f.t.Errorf("bob's family after alice's grants ended: %v", err)
	}
}

// testOAuthFamilyBound: the bound refuses the next sign-in, evicts nothing, and an
// expired family makes room.
func testOAuthFamilyBound(f *fixture) {
	const limit = 4
	alice, bob := f.user("alice@example.com"), f.user("bob@example.com")
	b := f.newFamily("bob", bob.ID, grantAt(0))
	f.must("create bob's family", f.s.CreateOAuthFamily(f.ctx, b, limit))
	for i := range limit {
		f.must("create alice's family", f.s.CreateOAuthFamily(f.ctx, f.newFamily(fmt.Sprintf("alice-%d", i), alice.ID, grantAt(1+i)), limit))
	}
	err := f.s.CreateOAuthFamily(f.ctx, f.newFamily("alice-x", alice.ID, grantAt(10)), limit)
	f.wantCode("a family past the bound", err, catalog.RequestLimitExceeded)
	f.wantMessage("a family past the bound", err, "revoke")
	list, err := f.s.ListOAuthFamilies(f.ctx, alice.ID, grantAt(11))
	f.must("list", err)
	if len(list) != limit {
		f.t.Errorf("alice has %d families after a refusal, want %d", len(list), limit)
	}
	if _, err := f.s.GetOAuthFamily(f.ctx, b.ID, grantAt(11)); err != nil {
		f.t.Errorf("bob's family after alice's refusal: %v", err)
	}
	// The first of alice's families expires: room for one more.
	late := grantAt(1).Add(30*24*time.Hour + time.Second)
	f.must("a family once one expired", f.s.CreateOAuthFamily(f.ctx, f.newFamily("alice-y", alice.ID, late), limit))
}

// testOAuthFamilyRotate: a rotation is a compare-and-swap on the live secret; of
// concurrent rotations with one secret exactly one wins.
func testOAuthFamilyRotate(f *fixture) {
	u := f.user("alice@example.com")
	fa := f.newFamily("a", u.ID, grantAt(0))
	f.must("create family", f.s.CreateOAuthFamily(f.ctx, fa, 8))
	next := f.token(u.ID)
	r := catalog.OAuthRotation{FamilyID: fa.ID, OldSecretHash: fa.SecretHash, NewSecretHash: hashOf("secret 2"), NewTokenID: next.ID, At: grantAt(10)}
	old, err := f.s.RotateOAuthFamily(f.ctx, r)
	f.must("rotate", err)
	if old.TokenID != fa.TokenID || old.SecretHash != fa.SecretHash {
		f.t.Errorf("rotation returned %+v, want the family as it was", old)
	}
	if !f.tokenGone(fa.TokenID) || f.tokenGone(next.ID) {
		f.t.Error("rotation did not replace the access token")
	}
	got, err := f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(11))
	f.must("get", err)
	want := *fa
	want.SecretHash, want.TokenID, want.RotatedAt = r.NewSecretHash, next.ID, r.At
	if d := diff(&want, got); d != "" {
		f.t.Errorf("rotated family (-want +got):\n%s", d)
	}
	// The old secret again: nothing changes.
	again := r
	again.NewSecretHash, again.NewTokenID = hashOf("secret 3"), f.token(u.ID).ID
	_, err = f.s.RotateOAuthFamily(f.ctx, again)
	f.wantCode("rotate with a replaced secret", err, catalog.ResourceDoesNotExist)
	if got, _ := f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(12)); got == nil || got.TokenID != next.ID || f.tokenGone(next.ID) {
		f.t.Errorf("a refused rotation changed the family: %+v", got)
	}
	expired := catalog.OAuthRotation{FamilyID: fa.ID, OldSecretHash: r.NewSecretHash, NewSecretHash: hashOf("secret 4"), NewTokenID: again.NewTokenID, At: fa.ExpiresAt}
	_, err = f.s.RotateOAuthFamily(f.ctx, expired)
	f.wantCode("rotate at expiry", err, catalog.ResourceDoesNotExist)

	// Concurrent rotations with one secret: one wins, its secret is the live one.
	const n = 12
	toks := make([]string, n)
	for i := range toks {
		toks[i] = f.token(u.ID).ID
	}
	var mu sync.Mutex
	var winner = -1
	var i int
	wins := f.race(n, func() error {
		mu.Lock()
		k := i
		i++
		mu.Unlock()
		_, err := f.s.RotateOAuthFamily(f.ctx, catalog.OAuthRotation{FamilyID: fa.ID, OldSecretHash: r.NewSecretHash,
			NewSecretHash: hashOf(fmt.Sprintf("racer %d", k)), NewTokenID: toks[k], At: grantAt(20)})
		if err == nil {
			mu.Lock()
			winner = k
			mu.Unlock()
		}
		return err
	})
	if wins != 1 {
		f.t.Fatalf("%d of %d concurrent rotations with one secret won, want 1", wins, n)
	}
	got, err = f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(21))
	f.must("get", err)
	if got.SecretHash != hashOf(fmt.Sprintf("racer %d", winner)) || got.TokenID != toks[winner] || !f.tokenGone(next.ID) {
		f.t.Errorf("after the race the family is %+v, want racer %d's", got, winner)
	}
}

// testOAuthGrantsEndWithPrincipal: deactivating a principal ends its families (and
// their access tokens) and codes; deleting one deletes them.
func testOAuthGrantsEndWithPrincipal(f *fixture) {
	for _, how := range []string{"deactivate", "delete"} {
		u := f.user(how + "@example.com")
		keep := f.user("keep-" + how + "@example.com")
		fa := f.newFamily(how, u.ID, grantAt(0))
		f.must("create family", f.s.CreateOAuthFamily(f.ctx, fa, 8))
		fk := f.newFamily("keep-"+how, keep.ID, grantAt(0))
		f.must("create family", f.s.CreateOAuthFamily(f.ctx, fk, 8))
		c := f.newCode(how, u.ID, grantAt(0))
		f.must("put code", f.s.PutOAuthCode(f.ctx, c, 8))
		if how == "deactivate" {
			next := *u
			next.Active, next.UpdatedAt = false, f.tick()
			f.must("deactivate", f.s.UpdatePrincipal(f.ctx, &next))
		} else {
			f.must("delete", f.s.DeletePrincipal(f.ctx, u.ID))
		}
		if _, err := f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(1)); !catalog.IsNotFound(err) {
			f.t.Errorf("%s: the family lives on: %v", how, err)
		}
		if !f.tokenGone(fa.TokenID) {
			f.t.Errorf("%s: the family's access token lives on", how)
		}
		if _, err := f.s.TakeOAuthCode(f.ctx, c.Hash, grantAt(1)); !catalog.IsNotFound(err) {
			f.t.Errorf("%s: the code lives on: %v", how, err)
		}
		if _, err := f.s.GetOAuthFamily(f.ctx, fk.ID, grantAt(1)); err != nil {
			f.t.Errorf("%s: another user's family ended: %v", how, err)
		}
	}
	// Another change of an active principal keeps its grants.
	u := f.user("rename@example.com")
	fa := f.newFamily("rename", u.ID, grantAt(0))
	f.must("create family", f.s.CreateOAuthFamily(f.ctx, fa, 8))
	next := *u
	next.DisplayName, next.UpdatedAt = "Renamed", f.tick()
	f.must("update", f.s.UpdatePrincipal(f.ctx, &next))
	if _, err := f.s.GetOAuthFamily(f.ctx, fa.ID, grantAt(1)); err != nil {
		f.t.Errorf("a display name change ended the family: %v", err)
	}
}
