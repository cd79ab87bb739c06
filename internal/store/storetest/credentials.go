package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The credential subtests pin, beyond catalog.CredentialStore's doc comments: a create
// needs an existing connection and, for a per-user credential, an existing principal;
// a replace of a credential deleted since it was read is "changed by someone else"
// (RESOURCE_ALREADY_EXISTS), like any stale version; empty tokens read back as nil;
// a last-used time never moves backwards, not even through PutCredential (touches do
// not change Version, so a writer that read before a touch must not undo it);
// DeleteConnection removes the connection's credentials and DeletePrincipal the
// principal's, while a shared credential that a deleted principal authorized stays
// (the broker marks it REAUTH_REQUIRED).

// newCredential returns a credential of the connection for the principal ("" for the
// shared one) with every field set but the refresh token's expiry, not yet stored.
func (f *fixture) newCredential(connectionID, principalID string) *catalog.OAuthCredential {
	now := f.tick()
	who := principalID
	if who == "" {
		who = "shared"
	}
	return &catalog.OAuthCredential{
		ConnectionID:    connectionID,
		PrincipalID:     principalID,
		AccessToken:     []byte("sealed-access:" + connectionID + "/" + who),
		RefreshToken:    []byte("sealed-refresh:" + connectionID + "/" + who),
		AccessExpiresAt: now.Add(time.Hour),
		Scope:           "openid offline_access repo",
		State:           catalog.StateActive,
		AuthorizedBy:    principalID,
		LastRefreshedAt: now,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
}

func (f *fixture) credential(connectionID, principalID string) *catalog.OAuthCredential {
	f.t.Helper()
	c := f.newCredential(connectionID, principalID)
	f.must("PutCredential(create)", f.s.PutCredential(f.ctx, c))
	return c
}

// getCredential reads a credential that must exist.
func (f *fixture) getCredential(connectionID, principalID string) *catalog.OAuthCredential {
	f.t.Helper()
	c, err := f.s.GetCredential(f.ctx, connectionID, principalID)
	f.must(fmt.Sprintf("GetCredential(%s, %q)", connectionID, principalID), err)
	return c
}

// wantNoTokens reports an error whose message contains token bytes of any of cs.
func (f *fixture) wantNoTokens(what string, err error, cs ...*catalog.OAuthCredential) {
	f.t.Helper()
	if err == nil {
		return
	}
	for _, c := range cs {
		for _, tok := range [][]byte{c.AccessToken, c.RefreshToken} {
			if len(tok) > 0 && strings.Contains(err.Error(), string(tok)) {
				f.t.Errorf("%s: error reveals a token: %v", what, err)
			}
		}
	}
}

func testCredentialRoundTrip(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)

	// Every field set, times in a zone that is not UTC with nanoseconds.
	c := f.newCredential(conn.ID, alice.ID)
	c.RefreshExpiresAt = f.tick().Add(30 * 24 * time.Hour)
	c.State = catalog.StateExpiring
	c.Reason = "the refresh token expires in 23h"
	c.LastUsedAt = f.tick()
	f.must("PutCredential(create)", f.s.PutCredential(f.ctx, c))
	if c.Version != 1 {
		f.t.Errorf("Version after create = %d, want 1", c.Version)
	}
	if d := diff(c, f.getCredential(conn.ID, alice.ID)); d != "" {
		f.t.Errorf("GetCredential after create (-want +got):\n%s", d)
	}

	// Replace every field; the refresh token goes away (a provider without
	// offline_access), zero times stay zero.
	up := *f.getCredential(conn.ID, alice.ID)
	up.AccessToken = []byte("sealed-access:v2")
	up.RefreshToken = nil
	up.AccessExpiresAt = f.tick().Add(time.Hour)
	up.RefreshExpiresAt = time.Time{}
	up.Scope = "openid"
	up.State = catalog.StateReauthRequired
	up.Reason = "invalid_grant: consent revoked"
	up.AuthorizedBy = "someone-else"
	up.LastRefreshedAt = f.tick()
	up.LastUsedAt = f.tick()
	up.CreatedAt = f.tick()
	up.UpdatedAt = f.tick()
	f.must("PutCredential(replace)", f.s.PutCredential(f.ctx, &up))
	if up.Version != 2 {
		f.t.Errorf("Version after replace = %d, want 2", up.Version)
	}
	got := f.getCredential(conn.ID, alice.ID)
	if d := diff(&up, got); d != "" {
		f.t.Errorf("GetCredential after replace (-want +got):\n%s", d)
	}
	if got.RefreshToken != nil {
		f.t.Errorf("RefreshToken = %q, want nil", got.RefreshToken)
	}
	if !got.RefreshExpiresAt.IsZero() {
		f.t.Errorf("RefreshExpiresAt = %v, want zero", got.RefreshExpiresAt)
	}
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{
		{"AccessExpiresAt", got.AccessExpiresAt, up.AccessExpiresAt},
		{"LastRefreshedAt", got.LastRefreshedAt, up.LastRefreshedAt},
		{"LastUsedAt", got.LastUsedAt, up.LastUsedAt},
		{"CreatedAt", got.CreatedAt, up.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, up.UpdatedAt},
	} {
		if !tc.got.Equal(tc.want) {
			f.t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	// A credential with no tokens at all (nobody has logged in yet); empty slices
	// count as none.
	shared := f.newCredential(conn.ID, "")
	shared.AccessToken = []byte{}
	shared.RefreshToken = []byte{}
	shared.State = catalog.StateNeedsLogin
	f.must("PutCredential(shared, no tokens)", f.s.PutCredential(f.ctx, shared))
	got = f.getCredential(conn.ID, "")
	if got.AccessToken != nil || got.RefreshToken != nil {
		f.t.Errorf("empty tokens read back as %q, %q; want nil, nil", got.AccessToken, got.RefreshToken)
	}

	// Returned credentials are the caller's: changing one, or the written struct,
	// changes nothing stored.
	got = f.getCredential(conn.ID, alice.ID)
	got.AccessToken[0] ^= 0xff
	got.Scope = "changed"
	up.AccessToken[0] ^= 0xff
	again := f.getCredential(conn.ID, alice.ID)
	if string(again.AccessToken) != "sealed-access:v2" || again.Scope != "openid" {
		f.t.Errorf("changing returned or written structs changed the store: %q, %q", again.AccessToken, again.Scope)
	}
	list, err := f.s.ListCredentials(f.ctx, conn.ID)
	f.must("ListCredentials", err)
	for _, c := range list {
		if c.PrincipalID == alice.ID {
			c.AccessToken[0] ^= 0xff
		}
	}
	if again := f.getCredential(conn.ID, alice.ID); string(again.AccessToken) != "sealed-access:v2" {
		f.t.Errorf("changing a listed credential changed the store: %q", again.AccessToken)
	}
}

func testCredentialSharedAndPerUser(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	conn := f.connection("github", alice.ID)
	shared := f.credential(conn.ID, "")
	ofAlice := f.credential(conn.ID, alice.ID)
	ofBob := f.credential(conn.ID, bob.ID)
	for _, want := range []*catalog.OAuthCredential{shared, ofAlice, ofBob} {
		if d := diff(want, f.getCredential(conn.ID, want.PrincipalID)); d != "" {
			f.t.Errorf("GetCredential(%q) (-want +got):\n%s", want.PrincipalID, d)
		}
	}

	f.must("DeleteCredential(alice)", f.s.DeleteCredential(f.ctx, conn.ID, alice.ID))
	_, err := f.s.GetCredential(f.ctx, conn.ID, alice.ID)
	f.wantCode("GetCredential(alice) after delete", err, catalog.ResourceDoesNotExist)
	for _, want := range []*catalog.OAuthCredential{shared, ofBob} {
		if d := diff(want, f.getCredential(conn.ID, want.PrincipalID)); d != "" {
			f.t.Errorf("GetCredential(%q) after deleting alice's (-want +got):\n%s", want.PrincipalID, d)
		}
	}
	f.must("DeleteCredential(shared)", f.s.DeleteCredential(f.ctx, conn.ID, ""))
	_, err = f.s.GetCredential(f.ctx, conn.ID, "")
	f.wantCode("GetCredential(shared) after delete", err, catalog.ResourceDoesNotExist)
	f.getCredential(conn.ID, bob.ID)
}

func testCredentialOptimistic(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	f.credential(conn.ID, alice.ID)

	// Two replicas refresh from the same read.
	first := f.getCredential(conn.ID, alice.ID)
	second := f.getCredential(conn.ID, alice.ID)
	first.AccessToken = []byte("sealed-access:first")
	first.Reason = "first"
	f.must("PutCredential(first)", f.s.PutCredential(f.ctx, first))
	if first.Version != 2 {
		f.t.Errorf("first writer's Version = %d, want 2", first.Version)
	}
	second.AccessToken = []byte("sealed-access:second")
	second.RefreshToken = []byte("sealed-refresh:second")
	second.Reason = "second"
	err := f.s.PutCredential(f.ctx, second)
	f.wantCode("PutCredential(second, stale)", err, catalog.ResourceAlreadyExists)
	f.wantMessage("PutCredential(second, stale)", err, "changed by someone else", conn.ID, alice.ID)
	f.wantNoTokens("PutCredential(second, stale)", err, first, second)
	if second.Version != 1 {
		f.t.Errorf("a failed PutCredential changed Version to %d, want 1", second.Version)
	}
	if got := f.getCredential(conn.ID, alice.ID); got.Reason != "first" || got.Version != 2 {
		f.t.Errorf("after the stale write: Reason %q Version %d, want first 2", got.Reason, got.Version)
	}

	// Re-read and decide again: now it succeeds.
	second = f.getCredential(conn.ID, alice.ID)
	second.Reason = "second"
	f.must("PutCredential(second, re-read)", f.s.PutCredential(f.ctx, second))
	if got := f.getCredential(conn.ID, alice.ID); got.Reason != "second" || got.Version != 3 || second.Version != 3 {
		f.t.Errorf("after re-read: Reason %q Version %d (struct %d), want second 3", got.Reason, got.Version, second.Version)
	}

	// A version from the future is as wrong as a stale one.
	future := f.getCredential(conn.ID, alice.ID)
	future.Version = 99
	f.wantCode("PutCredential(future version)", f.s.PutCredential(f.ctx, future), catalog.ResourceAlreadyExists)

	// Deleted since it was read: the re-read says it is gone.
	stale := f.getCredential(conn.ID, alice.ID)
	f.must("DeleteCredential", f.s.DeleteCredential(f.ctx, conn.ID, alice.ID))
	err = f.s.PutCredential(f.ctx, stale)
	f.wantCode("PutCredential(deleted since read)", err, catalog.ResourceAlreadyExists)
	_, err = f.s.GetCredential(f.ctx, conn.ID, alice.ID)
	f.wantCode("GetCredential after delete", err, catalog.ResourceDoesNotExist)
}

func testCredentialCreateTwice(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	for _, principal := range []string{"", alice.ID} {
		orig := f.credential(conn.ID, principal)
		dup := f.newCredential(conn.ID, principal)
		dup.AccessToken = []byte("sealed-access:dup")
		dup.Reason = "dup"
		err := f.s.PutCredential(f.ctx, dup)
		f.wantCode(fmt.Sprintf("PutCredential(create %q twice)", principal), err, catalog.ResourceAlreadyExists)
		f.wantMessage("PutCredential(create twice)", err, "changed by someone else", conn.ID)
		f.wantNoTokens("PutCredential(create twice)", err, orig, dup)
		if dup.Version != 0 {
			f.t.Errorf("a refused create set Version to %d", dup.Version)
		}
		if d := diff(orig, f.getCredential(conn.ID, principal)); d != "" {
			f.t.Errorf("a refused create changed the credential (-want +got):\n%s", d)
		}
	}
}

func testCredentialRefused(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	f.credential(conn.ID, "")

	for _, tc := range []struct {
		name string
		c    *catalog.OAuthCredential
		want catalog.ErrorCode
	}{
		{"missing connection", f.newCredential(catalog.NewID(), ""), catalog.ResourceDoesNotExist},
		{"missing connection, per user", f.newCredential(catalog.NewID(), alice.ID), catalog.ResourceDoesNotExist},
		{"missing principal", f.newCredential(conn.ID, catalog.NewID()), catalog.ResourceDoesNotExist},
		{"no connection ID", f.newCredential("", alice.ID), catalog.InvalidParameterValue},
		{"unknown state", func() *catalog.OAuthCredential {
			c := f.newCredential(conn.ID, alice.ID)
			c.State = "SLEEPY"
			return c
		}(), catalog.InvalidParameterValue},
		{"no state", func() *catalog.OAuthCredential {
			c := f.newCredential(conn.ID, alice.ID)
			c.State = ""
			return c
		}(), catalog.InvalidParameterValue},
		{"negative version", func() *catalog.OAuthCredential {
			c := f.newCredential(conn.ID, alice.ID)
			c.Version = -1
			return c
		}(), catalog.InvalidParameterValue},
		{"time out of range", func() *catalog.OAuthCredential {
			c := f.newCredential(conn.ID, alice.ID)
			c.AccessExpiresAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			return c
		}(), catalog.InvalidParameterValue},
	} {
		version := tc.c.Version
		err := f.s.PutCredential(f.ctx, tc.c)
		f.wantCode("PutCredential("+tc.name+")", err, tc.want)
		f.wantNoTokens("PutCredential("+tc.name+")", err, tc.c)
		if tc.c.Version != version {
			f.t.Errorf("PutCredential(%s) changed Version to %d", tc.name, tc.c.Version)
		}
	}

	_, err := f.s.GetCredential(f.ctx, conn.ID, alice.ID)
	f.wantCode("GetCredential(missing)", err, catalog.ResourceDoesNotExist)
	_, err = f.s.GetCredential(f.ctx, catalog.NewID(), "")
	f.wantCode("GetCredential(missing connection)", err, catalog.ResourceDoesNotExist)
	f.wantCode("DeleteCredential(missing)", f.s.DeleteCredential(f.ctx, conn.ID, alice.ID), catalog.ResourceDoesNotExist)
	f.wantCode("DeleteCredential(missing connection)", f.s.DeleteCredential(f.ctx, catalog.NewID(), ""), catalog.ResourceDoesNotExist)

	all, err := f.s.ListCredentials(f.ctx, "")
	f.must("ListCredentials", err)
	if len(all) != 1 {
		f.t.Errorf("refused writes stored credentials: %d, want 1", len(all))
	}
}

func testCredentialList(f *fixture) {
	owner := f.user("owner@example.com")
	users := []*catalog.Principal{f.user("alice@example.com"), f.user("bob@example.com"), f.user("carol@example.com")}
	c1, c2 := f.connection("github", owner.ID), f.connection("gitlab", owner.ID)
	empty := f.connection("jira", owner.ID)

	var all []*catalog.OAuthCredential
	// Created out of order: the list follows the IDs.
	for _, conn := range []*catalog.Connection{c2, c1} {
		for _, i := range []int{2, 0, 1} {
			all = append(all, f.credential(conn.ID, users[i].ID))
		}
	}
	all = append(all, f.credential(c2.ID, ""))
	sorted := func(cs []*catalog.OAuthCredential) []*catalog.OAuthCredential {
		out := slices.Clone(cs)
		slices.SortFunc(out, func(a, b *catalog.OAuthCredential) int {
			if c := strings.Compare(a.ConnectionID, b.ConnectionID); c != 0 {
				return c
			}
			return strings.Compare(a.PrincipalID, b.PrincipalID)
		})
		return out
	}
	of := func(connID string) []*catalog.OAuthCredential {
		var out []*catalog.OAuthCredential
		for _, c := range all {
			if c.ConnectionID == connID {
				out = append(out, c)
			}
		}
		return sorted(out)
	}

	got, err := f.s.ListCredentials(f.ctx, "")
	f.must("ListCredentials", err)
	if d := diff(sorted(all), got); d != "" {
		f.t.Errorf(`ListCredentials("") (-want +got):\n%s`, d)
	}
	for _, conn := range []*catalog.Connection{c1, c2, empty} {
		got, err := f.s.ListCredentials(f.ctx, conn.ID)
		f.must("ListCredentials", err)
		if d := diff(of(conn.ID), got); d != "" {
			f.t.Errorf("ListCredentials(%s) (-want +got):\n%s", conn.Name, d)
		}
	}
	got, err = f.s.ListCredentials(f.ctx, catalog.NewID())
	f.must("ListCredentials(missing connection)", err)
	if len(got) != 0 {
		f.t.Errorf("ListCredentials(missing connection) = %d credentials, want 0", len(got))
	}
}

func testCredentialCascade(f *fixture) {
	owner := f.user("owner@example.com")
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c1, c2 := f.connection("github", owner.ID), f.connection("gitlab", owner.ID)
	for _, conn := range []*catalog.Connection{c1, c2} {
		for _, p := range []string{"", alice.ID, bob.ID} {
			f.credential(conn.ID, p)
		}
	}
	// The shared credential of c2 was authorized by alice.
	shared := f.getCredential(c2.ID, "")
	shared.AuthorizedBy = alice.ID
	f.must("PutCredential", f.s.PutCredential(f.ctx, shared))

	keys := func() []string {
		f.t.Helper()
		cs, err := f.s.ListCredentials(f.ctx, "")
		f.must("ListCredentials", err)
		var out []string
		for _, c := range cs {
			out = append(out, c.ConnectionID+"/"+c.PrincipalID)
		}
		slices.Sort(out)
		return out
	}
	want := func(ks ...string) []string { slices.Sort(ks); return ks }

	f.must("DeleteConnection", f.s.DeleteConnection(f.ctx, c1.ID))
	if d := diff(want(c2.ID+"/", c2.ID+"/"+alice.ID, c2.ID+"/"+bob.ID), keys()); d != "" {
		f.t.Errorf("credentials after DeleteConnection (-want +got):\n%s", d)
	}
	_, err := f.s.GetCredential(f.ctx, c1.ID, "")
	f.wantCode("GetCredential of a deleted connection", err, catalog.ResourceDoesNotExist)

	f.must("DeletePrincipal", f.s.DeletePrincipal(f.ctx, alice.ID))
	if d := diff(want(c2.ID+"/", c2.ID+"/"+bob.ID), keys()); d != "" {
		f.t.Errorf("credentials after DeletePrincipal (-want +got):\n%s", d)
	}
	if got := f.getCredential(c2.ID, ""); got.AuthorizedBy != alice.ID {
		f.t.Errorf("the shared credential alice authorized: AuthorizedBy %q, want %q", got.AuthorizedBy, alice.ID)
	}
	// A refused DeletePrincipal keeps the principal's credentials.
	f.credential(c2.ID, owner.ID)
	f.wantCode("DeletePrincipal(owner)", f.s.DeletePrincipal(f.ctx, owner.ID), catalog.InvalidParameterValue)
	f.getCredential(c2.ID, owner.ID)
}

func testCredentialTouch(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	conn := f.connection("github", alice.ID)
	shared := f.credential(conn.ID, "")
	ofAlice := f.credential(conn.ID, alice.ID)
	ofBob := f.credential(conn.ID, bob.ID)
	key := func(c *catalog.OAuthCredential) string { return c.ConnectionID + "/" + c.PrincipalID }

	u1, u2 := f.tick(), f.tick()
	f.must("TouchCredentials", f.s.TouchCredentials(f.ctx, map[string]time.Time{
		key(shared):                     u1,
		key(ofAlice):                    u2,
		key(ofBob):                      {}, // zero: ignored
		conn.ID + "/" + catalog.NewID(): u2, // unknown principal: ignored
		catalog.NewID() + "/":           u2, // unknown connection: ignored
		conn.ID:                         u2, // not a key: ignored
		"":                              u2,
	}))
	f.must("TouchCredentials(empty)", f.s.TouchCredentials(f.ctx, nil))
	check := func(what string, c *catalog.OAuthCredential, want time.Time) {
		f.t.Helper()
		got := f.getCredential(c.ConnectionID, c.PrincipalID)
		if !got.LastUsedAt.Equal(want) {
			f.t.Errorf("%s: LastUsedAt of %s = %v, want %v", what, key(c), got.LastUsedAt, want)
		}
		// Nothing else changes, Version and UpdatedAt included.
		got.LastUsedAt = c.LastUsedAt
		if d := diff(c, got); d != "" {
			f.t.Errorf("%s changed more than LastUsedAt of %s (-want +got):\n%s", what, key(c), d)
		}
	}
	check("TouchCredentials", shared, u1)
	check("TouchCredentials", ofAlice, u2)
	check("TouchCredentials", ofBob, time.Time{})
	if all, err := f.s.ListCredentials(f.ctx, ""); err != nil || len(all) != 3 {
		f.t.Errorf("TouchCredentials of unknown keys: %d credentials, %v; want 3", len(all), err)
	}

	// Later wins; an older report (another replica's late batch) does not go back.
	u3 := f.tick()
	f.must("TouchCredentials", f.s.TouchCredentials(f.ctx, map[string]time.Time{key(shared): u3, key(ofAlice): u1}))
	check("TouchCredentials(later)", shared, u3)
	check("TouchCredentials(earlier)", ofAlice, u2)

	// A writer that read before the touch still succeeds (Version did not change) and
	// does not undo it.
	ofAlice.Reason = "refreshed"
	f.must("PutCredential after a touch", f.s.PutCredential(f.ctx, ofAlice))
	if got := f.getCredential(conn.ID, alice.ID); !got.LastUsedAt.Equal(u2) || got.Reason != "refreshed" {
		f.t.Errorf("PutCredential after a touch: LastUsedAt %v Reason %q, want %v refreshed", got.LastUsedAt, got.Reason, u2)
	}
	// A later LastUsedAt through PutCredential is kept.
	ofAlice.LastUsedAt = f.tick()
	f.must("PutCredential(LastUsedAt)", f.s.PutCredential(f.ctx, ofAlice))
	check("PutCredential(LastUsedAt)", ofAlice, ofAlice.LastUsedAt)
}

func testCredentialWatch(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c1, c2 := f.connection("github", alice.ID), f.connection("gitlab", alice.ID)
	w := f.watch()

	shared := f.credential(c1.ID, "")
	w.expect("PutCredential(create)", change(catalog.ChangeCredential, c1.ID))
	shared.State = catalog.StateDegraded
	f.must("PutCredential(replace)", f.s.PutCredential(f.ctx, shared))
	w.expect("PutCredential(replace)", change(catalog.ChangeCredential, c1.ID))
	f.credential(c2.ID, bob.ID)
	w.expect("PutCredential(per user)", change(catalog.ChangeCredential, c2.ID))
	f.must("DeleteCredential", f.s.DeleteCredential(f.ctx, c1.ID, ""))
	w.expect("DeleteCredential", change(catalog.ChangeCredential, c1.ID))

	ofBob := f.credential(c1.ID, bob.ID)
	w.sync()
	f.must("TouchCredentials", f.s.TouchCredentials(f.ctx, map[string]time.Time{c1.ID + "/" + bob.ID: f.tick()}))
	w.expectNone("TouchCredentials")

	// Failed writes announce nothing.
	stale := *ofBob
	stale.Version = 99
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"PutCredential(stale)", f.s.PutCredential(f.ctx, &stale)},
		{"PutCredential(create twice)", f.s.PutCredential(f.ctx, f.newCredential(c1.ID, bob.ID))},
		{"PutCredential(missing connection)", f.s.PutCredential(f.ctx, f.newCredential(catalog.NewID(), ""))},
		{"PutCredential(missing principal)", f.s.PutCredential(f.ctx, f.newCredential(c1.ID, catalog.NewID()))},
		{"DeleteCredential(missing)", f.s.DeleteCredential(f.ctx, c1.ID, alice.ID)},
	} {
		if tc.err == nil {
			f.t.Errorf("%s succeeded, want an error", tc.name)
		}
		w.expectNone(tc.name)
	}

	// Deleting a principal announces every connection it loses a credential of.
	w.sync()
	f.must("DeletePrincipal", f.s.DeletePrincipal(f.ctx, bob.ID))
	w.expect("DeletePrincipal",
		change(catalog.ChangePrincipal, bob.ID),
		change(catalog.ChangeCredential, c1.ID),
		change(catalog.ChangeCredential, c2.ID))
}

// testCredentialConcurrency runs read-modify-write loops on one credential from several
// goroutines, retrying on conflict, and checks that no write was lost. Run it with -race.
func testCredentialConcurrency(f *fixture) {
	const writers, writes = 8, 15
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)

	// Everyone creates the same credential at once: exactly one create wins.
	created := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		c := f.newCredential(conn.ID, "") // f.tick is not for concurrent use
		c.Reason = fmt.Sprintf("created by %d", i)
		wg.Go(func() {
			<-start
			created[i] = f.s.PutCredential(f.ctx, c)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range created {
		switch {
		case err == nil:
			won++
		case catalog.CodeOf(err) != catalog.ResourceAlreadyExists:
			f.t.Errorf("create %d: %v, want RESOURCE_ALREADY_EXISTS", i, err)
		}
	}
	if won != 1 {
		f.t.Fatalf("%d of %d concurrent creates succeeded, want exactly 1", won, writers)
	}
	f.must("PutCredential(reset)", func() error {
		c := f.getCredential(conn.ID, "")
		c.Reason = ""
		return f.s.PutCredential(f.ctx, c)
	}())
	initial := f.getCredential(conn.ID, "").Version

	// Read-modify-write: each successful write appends its mark to Reason.
	errs := make([]error, writers)
	conflicts := make([]int, writers)
	for i := range writers {
		wg.Go(func() {
			for n := 0; n < writes; {
				c, err := f.s.GetCredential(f.ctx, conn.ID, "")
				if err != nil {
					errs[i] = err
					return
				}
				c.Reason += fmt.Sprintf("w%d.%d;", i, n)
				c.AccessToken = fmt.Appendf(nil, "sealed-access:%d.%d", i, n)
				err = f.s.PutCredential(f.ctx, c)
				switch {
				case err == nil:
					n++
				case catalog.CodeOf(err) == catalog.ResourceAlreadyExists:
					conflicts[i]++
				default:
					errs[i] = fmt.Errorf("writer %d, write %d: %w", i, n, err)
					return
				}
			}
		})
	}
	// Touches run alongside and must never make a writer conflict or lose a write.
	stop := make(chan struct{})
	var toucher sync.WaitGroup
	toucher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := f.s.TouchCredentials(f.ctx, map[string]time.Time{conn.ID + "/": time.Now()}); err != nil {
				f.t.Errorf("TouchCredentials: %v", err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	toucher.Wait()
	for _, err := range errs {
		if err != nil {
			f.t.Error(err)
		}
	}

	got := f.getCredential(conn.ID, "")
	if want := initial + writers*writes; got.Version != want {
		f.t.Errorf("final Version = %d, want %d (%d successful writes after version %d)", got.Version, want, writers*writes, initial)
	}
	marks := strings.Split(strings.TrimSuffix(got.Reason, ";"), ";")
	seen := make(map[string]bool)
	for _, m := range marks {
		if seen[m] {
			f.t.Errorf("write %s recorded twice", m)
		}
		seen[m] = true
	}
	for i := range writers {
		for n := range writes {
			if m := fmt.Sprintf("w%d.%d", i, n); !seen[m] {
				f.t.Errorf("write %s was lost", m)
			}
		}
	}
	total := 0
	for _, n := range conflicts {
		total += n
	}
	f.t.Logf("%d writes, %d conflicts retried", writers*writes, total)
}
