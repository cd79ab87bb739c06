package storetest

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// watcher records the changes a store announces. Announcements may arrive
// asynchronously (a shared store may deliver its own changes through its notification
// channel), so the suite synchronizes with a sentinel: sync makes one change to a
// principal of its own and waits for its announcement; whatever arrived before it is
// the announcement of the operations since the previous sync. This relies only on a
// store announcing its own changes in commit order.
type watcher struct {
	f        *fixture
	sentinel *catalog.Principal

	mu   sync.Mutex
	got  []catalog.Change
	next int // index in got of the first change not yet returned by sync
}

// watch registers a watcher on the fixture's store.
func (f *fixture) watch() *watcher {
	f.t.Helper()
	w := &watcher{f: f}
	f.s.Watch(w.record)
	w.sentinel = f.principal(catalog.KindGroup, "watch-sentinel")
	w.wait()
	return w
}

func (w *watcher) record(c catalog.Change) {
	w.mu.Lock()
	w.got = append(w.got, c)
	w.mu.Unlock()
}

// sync returns the changes announced since the previous sync.
func (w *watcher) sync() []catalog.Change {
	w.f.t.Helper()
	s := *w.sentinel
	s.DisplayName = fmt.Sprint("sync ", time.Now().UnixNano())
	w.f.must("update the watch sentinel", w.f.s.UpdatePrincipal(w.f.ctx, &s))
	return w.wait()
}

// wait waits for the sentinel's next announcement and returns the changes before it.
func (w *watcher) wait() []catalog.Change {
	w.f.t.Helper()
	mark := catalog.Change{Kind: catalog.ChangePrincipal, ID: w.sentinel.ID}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		if i := slices.Index(w.got[w.next:], mark); i >= 0 {
			out := slices.Clone(w.got[w.next : w.next+i])
			w.next += i + 1
			w.mu.Unlock()
			return out
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			w.f.t.Fatalf("the store did not announce a change to principal %s within 10s", w.sentinel.ID)
		}
		time.Sleep(time.Millisecond)
	}
}

// expect checks that the changes since the previous sync include want.
func (w *watcher) expect(what string, want ...catalog.Change) {
	w.f.t.Helper()
	got := w.sync()
	for _, c := range want {
		if !slices.Contains(got, c) {
			w.f.t.Errorf("%s: announced %v, want it to include %v", what, got, c)
		}
	}
}

// expectNone checks that nothing was announced since the previous sync.
func (w *watcher) expectNone(what string) {
	w.f.t.Helper()
	if got := w.sync(); len(got) != 0 {
		w.f.t.Errorf("%s: announced %v, want nothing", what, got)
	}
}

func change(kind catalog.ChangeKind, id string) catalog.Change {
	return catalog.Change{Kind: kind, ID: id}
}

func testWatchChanges(f *fixture) {
	w := f.watch()
	const conn, ms = catalog.SecurableConnection, catalog.SecurableMetastore

	alice := f.user("alice@example.com")
	w.expect("CreatePrincipal", change(catalog.ChangePrincipal, alice.ID))
	bob := f.user("bob@example.com")
	eng := f.group("eng")
	w.expect("CreatePrincipal", change(catalog.ChangePrincipal, bob.ID), change(catalog.ChangePrincipal, eng.ID))

	up := *alice
	up.Active = false
	f.must("UpdatePrincipal", f.s.UpdatePrincipal(f.ctx, &up))
	w.expect("UpdatePrincipal", change(catalog.ChangePrincipal, alice.ID))

	f.must("AddMember", f.s.AddMember(f.ctx, eng.ID, alice.ID))
	w.expect("AddMember", change(catalog.ChangeMembership, eng.ID))
	f.must("RemoveMember", f.s.RemoveMember(f.ctx, eng.ID, alice.ID))
	w.expect("RemoveMember", change(catalog.ChangeMembership, eng.ID))

	tk := f.token(alice.ID)
	w.expect("CreateToken", change(catalog.ChangeToken, tk.ID))
	f.must("DeleteToken", f.s.DeleteToken(f.ctx, tk.ID))
	w.expect("DeleteToken", change(catalog.ChangeToken, tk.ID))
	tk = f.token(alice.ID)
	w.sync()
	f.must("TouchTokens", f.s.TouchTokens(f.ctx, map[string]time.Time{tk.ID: f.tick()}))
	w.expectNone("TouchTokens")
	f.must("SetMeta", f.s.SetMeta(f.ctx, "k", []byte("v")))
	w.expectNone("SetMeta")

	c := f.connection("github", alice.ID)
	w.expect("CreateConnection", change(catalog.ChangeConnection, c.ID))
	c.Enabled = false
	f.must("UpdateConnection", f.s.UpdateConnection(f.ctx, c))
	w.expect("UpdateConnection", change(catalog.ChangeConnection, c.ID))

	f.grant(conn, c.ID, bob.ID, catalog.UseConnection)
	w.expect("UpdateGrants(connection)", change(catalog.ChangeGrant, c.ID))
	f.must("UpdateGrants", f.s.UpdateGrants(f.ctx, conn, c.ID, nil, []catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.UseConnection}}))
	w.expect("UpdateGrants(revoke)", change(catalog.ChangeGrant, c.ID))
	f.grant(ms, catalog.MetastoreID, bob.ID, catalog.CreateConnection)
	w.expect("UpdateGrants(metastore)", change(catalog.ChangeGrant, catalog.MetastoreID))

	// Deleting a principal announces the principal, the groups it left and the
	// securables whose grants it lost.
	f.must("AddMember", f.s.AddMember(f.ctx, eng.ID, bob.ID))
	f.grant(conn, c.ID, bob.ID, catalog.UseConnection)
	f.token(bob.ID)
	w.sync()
	f.must("DeletePrincipal", f.s.DeletePrincipal(f.ctx, bob.ID))
	w.expect("DeletePrincipal",
		change(catalog.ChangePrincipal, bob.ID),
		change(catalog.ChangeMembership, eng.ID),
		change(catalog.ChangeGrant, c.ID),
		change(catalog.ChangeGrant, catalog.MetastoreID))

	// Deleting a group announces its own membership too.
	f.must("AddMember", f.s.AddMember(f.ctx, eng.ID, alice.ID))
	w.sync()
	f.must("DeletePrincipal(group)", f.s.DeletePrincipal(f.ctx, eng.ID))
	w.expect("DeletePrincipal(group)", change(catalog.ChangePrincipal, eng.ID), change(catalog.ChangeMembership, eng.ID))

	f.grant(conn, c.ID, alice.ID, catalog.Manage)
	w.sync()
	f.must("DeleteConnection", f.s.DeleteConnection(f.ctx, c.ID))
	w.expect("DeleteConnection", change(catalog.ChangeConnection, c.ID), change(catalog.ChangeGrant, c.ID))
}

func testWatchFailedWrites(f *fixture) {
	alice := f.user("alice@example.com")
	a, b := f.group("a"), f.group("b")
	f.must("AddMember", f.s.AddMember(f.ctx, a.ID, b.ID))
	c := f.connection("github", alice.ID)
	tk := f.token(alice.ID)
	w := f.watch()

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"CreatePrincipal(duplicate)", f.s.CreatePrincipal(f.ctx, &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "ALICE@example.com"})},
		{"UpdatePrincipal(missing)", f.s.UpdatePrincipal(f.ctx, &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "x"})},
		{"DeletePrincipal(owner)", f.s.DeletePrincipal(f.ctx, alice.ID)},
		{"AddMember(cycle)", f.s.AddMember(f.ctx, b.ID, a.ID)},
		{"AddMember(not a group)", f.s.AddMember(f.ctx, alice.ID, a.ID)},
		{"CreateToken(duplicate)", f.s.CreateToken(f.ctx, tk)},
		{"DeleteToken(missing)", f.s.DeleteToken(f.ctx, catalog.NewID())},
		{"CreateConnection(duplicate)", f.s.CreateConnection(f.ctx, f.newConnection("github", alice.ID))},
		{"UpdateConnection(missing)", f.s.UpdateConnection(f.ctx, f.newConnection("gitlab", alice.ID))},
		{"DeleteConnection(missing)", f.s.DeleteConnection(f.ctx, catalog.NewID())},
		{"UpdateGrants(missing principal)", f.s.UpdateGrants(f.ctx, catalog.SecurableConnection, c.ID,
			[]catalog.Grant{{PrincipalID: alice.ID, Privilege: catalog.Manage}, {PrincipalID: catalog.NewID(), Privilege: catalog.Manage}}, nil)},
	} {
		if tc.err == nil {
			f.t.Errorf("%s succeeded, want an error", tc.name)
		}
		w.expectNone(tc.name)
	}
}

func testWatchSeveral(f *fixture) {
	var mu sync.Mutex
	counts := make([]int, 3)
	for i := range counts {
		f.s.Watch(func(c catalog.Change) {
			mu.Lock()
			counts[i]++
			mu.Unlock()
		})
	}
	w := f.watch()
	f.user("alice@example.com")
	w.sync()
	mu.Lock()
	defer mu.Unlock()
	// Each saw the sentinel's creation and update and alice's creation, at least.
	for i, n := range counts {
		if n < 3 || n != counts[0] {
			f.t.Errorf("watcher %d saw %d changes, watcher 0 saw %d; want the same, at least 3", i, n, counts[0])
		}
	}
}

func testWatchCallbackUsesStore(f *fixture) {
	var mu sync.Mutex
	var names []string
	var errs []error
	f.s.Watch(func(c catalog.Change) {
		if c.Kind != catalog.ChangePrincipal {
			return
		}
		// A cache reloading on a change must not deadlock the store.
		p, err := f.s.GetPrincipal(f.ctx, c.ID)
		var ms []catalog.Membership
		if err == nil {
			ms, err = f.s.ListMemberships(f.ctx)
			_ = ms
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		names = append(names, p.Name)
	})
	done := make(chan error, 1)
	go func() {
		p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true}
		done <- f.s.CreatePrincipal(f.ctx, p)
	}()
	select {
	case err := <-done:
		f.must("CreatePrincipal", err)
	case <-time.After(20 * time.Second):
		f.t.Fatalf("a callback that reads the store deadlocked it")
	}
	// The announcement may come after the write returns (a shared store's notification).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(names) + len(errs)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		f.t.Errorf("reads from a callback failed: %v", errs)
	}
	if !slices.Contains(names, "alice@example.com") {
		f.t.Errorf("callback read %v, want alice@example.com among them", names)
	}
}
