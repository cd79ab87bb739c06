package storetest

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/google/go-cmp/cmp"
)

// Browser sessions and pending logins name principals by id without creating them: the
// stores keep no foreign key on them (a principal's rows go with DeletePrincipal, and a
// session of a gone principal is refused by the web pages' re-check anyway).

// sessionBase is the clock of these subtests. Stores keep these times to the microsecond
// at least (PostgreSQL's timestamptz keeps no more), so it is on a whole microsecond.
var sessionBase = base.Truncate(time.Microsecond)

// at returns the time n seconds after sessionBase.
func at(n int) time.Time { return sessionBase.Add(time.Duration(n) * time.Second) }

// hashOf is the SHA-256 of a name, standing for a session id or state.
func hashOf(name string) [sha256.Size]byte { return sha256.Sum256([]byte(name)) }

// equalTimes compares times as instants (a store may return them in another zone).
var equalTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func (f *fixture) browserSession(name, principalID string, created, expires time.Time, limit int) *catalog.BrowserSession {
	f.t.Helper()
	s := &catalog.BrowserSession{Key: hashOf(name), PrincipalID: principalID, TokenID: "tok-" + name,
		TokenHash: []byte("hash of " + name), CreatedAt: created, ExpiresAt: expires}
	f.must("create session "+name, f.s.CreateBrowserSession(f.ctx, s, limit))
	return s
}

// liveSession reports whether the session is found at now.
func (f *fixture) liveSession(name string, now time.Time) bool {
	f.t.Helper()
	_, err := f.s.GetBrowserSession(f.ctx, hashOf(name), now)
	if err != nil && !catalog.IsNotFound(err) {
		f.t.Fatalf("get session %s: %v", name, err)
	}
	return err == nil
}

func testSessionCreateGet(f *fixture) {
	p := catalog.NewID()
	want := &catalog.BrowserSession{Key: hashOf("a"), PrincipalID: p, TokenID: "tok-1", TokenHash: []byte{1, 2, 3},
		TokenExpiresAt: at(7200), CreatedAt: at(0), ExpiresAt: at(3600)}
	f.must("create", f.s.CreateBrowserSession(f.ctx, want, 32))
	noExpiry := f.browserSession("b", p, at(1), at(3600), 32)

	got, err := f.s.GetBrowserSession(f.ctx, hashOf("a"), at(10))
	f.must("get", err)
	if d := cmp.Diff(want, got, equalTimes); d != "" {
		f.t.Errorf("session (-want +got):\n%s", d)
	}
	got, err = f.s.GetBrowserSession(f.ctx, hashOf("b"), at(10))
	f.must("get b", err)
	if !got.TokenExpiresAt.IsZero() {
		f.t.Errorf("a token that never expires reads back as expiring at %v", got.TokenExpiresAt)
	}
	if d := cmp.Diff(noExpiry, got, equalTimes); d != "" {
		f.t.Errorf("session b (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		key  string
		now  time.Time
		live bool
	}{
		{"unknown key", "c", at(10), false},
		{"just before expiry", "a", at(3600).Add(-time.Microsecond), true},
		{"at expiry", "a", at(3600), false},
		{"after expiry", "a", at(4000), false},
	} {
		_, err := f.s.GetBrowserSession(f.ctx, hashOf(tc.key), tc.now)
		switch {
		case tc.live && err != nil:
			f.t.Errorf("%s: %v, want the session", tc.name, err)
		case !tc.live:
			f.wantCode(tc.name, err, catalog.ResourceDoesNotExist)
		}
	}
}

func testSessionRefused(f *fixture) {
	f.browserSession("a", catalog.NewID(), at(0), at(60), 32)
	dup := &catalog.BrowserSession{Key: hashOf("a"), PrincipalID: catalog.NewID(), TokenID: "t", TokenHash: []byte{1}, CreatedAt: at(1), ExpiresAt: at(60)}
	f.wantCode("create a taken key", f.s.CreateBrowserSession(f.ctx, dup, 32), catalog.ResourceAlreadyExists)
	for _, tc := range []struct {
		name  string
		s     catalog.BrowserSession
		limit int
	}{
		{"no principal", catalog.BrowserSession{Key: hashOf("x"), TokenID: "t", TokenHash: []byte{1}, CreatedAt: at(1), ExpiresAt: at(60)}, 32},
		{"no token", catalog.BrowserSession{Key: hashOf("x"), PrincipalID: "p", CreatedAt: at(1), ExpiresAt: at(60)}, 32},
		{"no bound", catalog.BrowserSession{Key: hashOf("x"), PrincipalID: "p", TokenID: "t", TokenHash: []byte{1}, CreatedAt: at(1), ExpiresAt: at(60)}, 0},
	} {
		f.wantCode(tc.name, f.s.CreateBrowserSession(f.ctx, &tc.s, tc.limit), catalog.InvalidParameterValue)
	}
	if f.liveSession("x", at(2)) {
		f.t.Error("a refused session was stored")
	}
	got, err := f.s.GetBrowserSession(f.ctx, hashOf("a"), at(2))
	f.must("get a", err)
	if got.TokenID != "tok-a" {
		f.t.Errorf("the refused duplicate replaced the session: token %q", got.TokenID)
	}
}

// The bound counts live sessions only and ends the principal's oldest, no one else's.
func testSessionPerPrincipalBound(f *fixture) {
	const limit = 4
	p, other := catalog.NewID(), catalog.NewID()
	f.browserSession("expired", p, at(0), at(5), limit)
	f.browserSession("other", other, at(1), at(3600), limit)
	for i := range limit {
		f.browserSession(fmt.Sprint("p", i), p, at(10+i), at(3600), limit)
	}
	if f.liveSession("expired", at(4)) {
		f.t.Error("an expired session of the principal survived a sign-in after its expiry")
	}
	for i := range limit {
		if !f.liveSession(fmt.Sprint("p", i), at(20)) {
			f.t.Errorf("session p%d ended, but the principal holds only %d live ones", i, limit)
		}
	}
	f.browserSession("p4", p, at(20), at(3600), limit)
	f.browserSession("p5", p, at(21), at(3600), limit)
	for i, want := range []bool{false, false, true, true, true, true} {
		if got := f.liveSession(fmt.Sprint("p", i), at(30)); got != want {
			f.t.Errorf("session p%d live = %v, want %v (the oldest past %d end)", i, got, want, limit)
		}
	}
	if !f.liveSession("other", at(30)) {
		f.t.Error("another principal's session ended")
	}
}

// Creating a session drops expired sessions of every principal.
func testSessionExpiredPurged(f *fixture) {
	for i := range 3 {
		f.browserSession(fmt.Sprint("old", i), catalog.NewID(), at(i), at(10), 32)
	}
	f.browserSession("live", catalog.NewID(), at(5), at(100), 32)
	f.browserSession("new", catalog.NewID(), at(50), at(100), 32)
	for i := range 3 {
		// Asked with a clock before their expiry: only a deleted row is not found.
		if f.liveSession(fmt.Sprint("old", i), at(6)) {
			f.t.Errorf("expired session old%d is still stored after a later sign-in", i)
		}
	}
	if !f.liveSession("live", at(60)) {
		f.t.Error("a live session was purged")
	}
}

func testSessionDelete(f *fixture) {
	p := catalog.NewID()
	f.browserSession("a", p, at(0), at(60), 32)
	f.browserSession("b", p, at(1), at(60), 32)
	f.must("delete", f.s.DeleteBrowserSession(f.ctx, hashOf("a")))
	if f.liveSession("a", at(2)) {
		f.t.Error("a deleted session is still found")
	}
	if !f.liveSession("b", at(2)) {
		f.t.Error("deleting one session ended another")
	}
	f.must("delete again", f.s.DeleteBrowserSession(f.ctx, hashOf("a")))
	f.must("delete unknown", f.s.DeleteBrowserSession(f.ctx, hashOf("nothing")))
}

// pendingLimits are roomy bounds for subtests that do not test them.
var pendingLimits = catalog.PendingLoginLimits{MaxTotal: 1000, MaxPerSession: 16, MaxPerPrincipal: 64}

func (f *fixture) pendingLogin(state, session, principalID string, created time.Time, lim catalog.PendingLoginLimits) int {
	f.t.Helper()
	l := &catalog.PendingLogin{StateHash: hashOf(state), SessionHash: hashOf(session), PrincipalID: principalID,
		ConnectionID: "conn-id", Connection: "conn", TokenURL: "https://as.example.com/token",
		SealedVerifier: []byte("sealed " + state), CreatedAt: created, ExpiresAt: created.Add(600 * time.Second)}
	n, err := f.s.PutPendingLogin(f.ctx, l, lim)
	f.must("put login "+state, err)
	return n
}

// takeLogin takes the state at now and reports whether it was there.
func (f *fixture) takeLogin(state string, now time.Time) bool {
	f.t.Helper()
	_, err := f.s.TakePendingLogin(f.ctx, hashOf(state), now)
	if err != nil && !catalog.IsNotFound(err) {
		f.t.Fatalf("take %s: %v", state, err)
	}
	return err == nil
}

func testPendingPutTake(f *fixture) {
	want := &catalog.PendingLogin{StateHash: hashOf("s"), SessionHash: hashOf("sess"), PrincipalID: catalog.NewID(),
		ConnectionID: catalog.NewID(), Connection: "github", TokenURL: "https://github.com/login/oauth/access_token",
		SealedVerifier: []byte{0, 1, 2, 255}, CreatedAt: at(0), ExpiresAt: at(600)}
	_, err := f.s.PutPendingLogin(f.ctx, want, pendingLimits)
	f.must("put", err)
	got, err := f.s.TakePendingLogin(f.ctx, hashOf("s"), at(1))
	f.must("take", err)
	if d := cmp.Diff(want, got, equalTimes); d != "" {
		f.t.Errorf("login (-want +got):\n%s", d)
	}
	_, err = f.s.TakePendingLogin(f.ctx, hashOf("s"), at(2))
	f.wantCode("take again", err, catalog.ResourceDoesNotExist)
	_, err = f.s.TakePendingLogin(f.ctx, hashOf("unknown"), at(2))
	f.wantCode("take unknown", err, catalog.ResourceDoesNotExist)

	// A second Put under one state replaces the first.
	p := catalog.NewID()
	f.pendingLogin("r", "sess", p, at(3), pendingLimits)
	l := &catalog.PendingLogin{StateHash: hashOf("r"), SessionHash: hashOf("sess"), PrincipalID: p, ConnectionID: "c2", Connection: "second",
		TokenURL: "https://as.example.com/token", SealedVerifier: []byte{9}, CreatedAt: at(4), ExpiresAt: at(604)}
	_, err = f.s.PutPendingLogin(f.ctx, l, pendingLimits)
	f.must("put again", err)
	got, err = f.s.TakePendingLogin(f.ctx, hashOf("r"), at(5))
	f.must("take replaced", err)
	if got.Connection != "second" {
		f.t.Errorf("take after a second put returned the login to %s, want second", got.Connection)
	}
	if f.takeLogin("r", at(5)) {
		f.t.Error("a replaced state was taken twice")
	}

	for _, tc := range []struct {
		name string
		l    catalog.PendingLogin
		lim  catalog.PendingLoginLimits
	}{
		{"no verifier", catalog.PendingLogin{StateHash: hashOf("x"), PrincipalID: "p", ConnectionID: "c", CreatedAt: at(1), ExpiresAt: at(60)}, pendingLimits},
		{"no principal", catalog.PendingLogin{StateHash: hashOf("x"), ConnectionID: "c", SealedVerifier: []byte{1}, CreatedAt: at(1), ExpiresAt: at(60)}, pendingLimits},
		{"zero bound", catalog.PendingLogin{StateHash: hashOf("x"), PrincipalID: "p", ConnectionID: "c", SealedVerifier: []byte{1}, CreatedAt: at(1), ExpiresAt: at(60)},
			catalog.PendingLoginLimits{MaxTotal: 1, MaxPerSession: 0, MaxPerPrincipal: 1}},
	} {
		_, err := f.s.PutPendingLogin(f.ctx, &tc.l, tc.lim)
		f.wantCode(tc.name, err, catalog.InvalidParameterValue)
	}
	if f.takeLogin("x", at(2)) {
		f.t.Error("a refused login was stored")
	}
}

// Of 20 concurrent takes of one state, exactly one gets the login.
func testPendingSingleUse(f *fixture) {
	f.pendingLogin("s", "sess", catalog.NewID(), at(0), pendingLimits)
	const takers = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	var errs []error
	start := make(chan struct{})
	for range takers {
		wg.Go(func() {
			<-start
			_, err := f.s.TakePendingLogin(f.ctx, hashOf("s"), at(1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !catalog.IsNotFound(err):
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		f.t.Errorf("take: %v", err)
	}
	if wins != 1 {
		f.t.Errorf("%d of %d concurrent takes of one state got the login, want exactly 1", wins, takers)
	}
}

func testPendingExpiry(f *fixture) {
	p := catalog.NewID()
	f.pendingLogin("a", "sess", p, at(0), pendingLimits) // expires at(600)
	f.pendingLogin("b", "sess", p, at(0), pendingLimits)
	if !f.takeLogin("a", at(600)) {
		f.t.Error("a login taken at its expiry instant was refused (it expires after it)")
	}
	if f.takeLogin("b", at(600).Add(time.Microsecond)) {
		f.t.Error("an expired login was returned")
	}
	if f.takeLogin("b", at(1)) {
		f.t.Error("taking an expired login did not remove it")
	}

	// Expired logins of anyone go on a later put.
	for i := range 3 {
		f.pendingLogin(fmt.Sprint("old", i), fmt.Sprint("sess", i), catalog.NewID(), at(i), pendingLimits)
	}
	f.pendingLogin("live", "sess-live", catalog.NewID(), at(500), pendingLimits)
	f.pendingLogin("new", "sess-new", catalog.NewID(), at(700), pendingLimits)
	for i := range 3 {
		if f.takeLogin(fmt.Sprint("old", i), at(10)) {
			f.t.Errorf("expired login old%d was still stored after a later put", i)
		}
	}
	if !f.takeLogin("live", at(701)) {
		f.t.Error("a live login was dropped with the expired ones")
	}
}

// Past each bound the oldest login within it is evicted, and only that one.
func testPendingBounds(f *fixture) {
	lim := catalog.PendingLoginLimits{MaxTotal: 8, MaxPerSession: 2, MaxPerPrincipal: 3}
	p, q := catalog.NewID(), catalog.NewID()
	tick := 0
	put := func(state, session, principal string) int {
		tick++
		return f.pendingLogin(state, session, principal, at(tick), lim)
	}
	// Per session: the third login of session s1 evicts its first.
	put("s1-a", "s1", p)
	put("q-a", "q1", q)
	put("s1-b", "s1", p)
	put("s1-c", "s1", p)
	// Per principal: p holds s1-b, s1-c; its fourth across sessions evicts its oldest
	// (s1-b) once s2-a and s2-b make four.
	put("s2-a", "s2", p)
	put("s2-b", "s2", p)
	// Total: 8 at most; q's logins fill it (q1 holds 2 at most, so many sessions).
	n := 0
	for i := range 4 {
		n += put(fmt.Sprint("q-", i), fmt.Sprint("qs", i), catalog.NewID())
	}
	// Held now: q-a, s1-c, s2-a, s2-b, q-0..q-3 = 8; one more evicts the oldest, q-a.
	if n != 0 {
		f.t.Errorf("the total bound evicted %d logins before it was reached", n)
	}
	if got := put("last", "qs9", catalog.NewID()); got != 1 {
		f.t.Errorf("put past the total bound reports %d evicted, want 1", got)
	}
	for _, tc := range []struct {
		state string
		held  bool
	}{
		{"s1-a", false}, // the session's oldest
		{"s1-b", false}, // the principal's oldest
		{"q-a", false},  // the oldest of all
		{"s1-c", true},
		{"s2-a", true},
		{"s2-b", true},
		{"q-0", true},
		{"q-3", true},
		{"last", true},
	} {
		if got := f.takeLogin(tc.state, at(100)); got != tc.held {
			f.t.Errorf("login %s held = %v, want %v", tc.state, got, tc.held)
		}
	}
}
