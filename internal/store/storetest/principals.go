package storetest

import (
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func testPrincipalCreateGet(f *fixture) {
	for _, kind := range []catalog.PrincipalKind{catalog.KindUser, catalog.KindServicePrincipal, catalog.KindGroup} {
		p := &catalog.Principal{
			ID:          catalog.NewID(),
			Kind:        kind,
			Name:        "Name-" + string(kind) + "@Example.com",
			DisplayName: "Some " + string(kind),
			Active:      kind != catalog.KindServicePrincipal, // one inactive
			ExternalID:  "ext-" + string(kind),
			CreatedAt:   f.tick(),
			UpdatedAt:   f.tick(),
		}
		f.must("create", f.s.CreatePrincipal(f.ctx, p))

		got, err := f.s.GetPrincipal(f.ctx, p.ID)
		f.must("GetPrincipal", err)
		if d := diff(p, got); d != "" {
			f.t.Errorf("GetPrincipal(%s) mismatch (-want +got):\n%s", kind, d)
		}
		for _, name := range []string{p.Name, "name-" + string(kind) + "@example.com", "NAME-" + string(kind) + "@EXAMPLE.COM"} {
			got, err := f.s.GetPrincipalByName(f.ctx, name)
			f.must("GetPrincipalByName "+name, err)
			if d := diff(p, got); d != "" {
				f.t.Errorf("GetPrincipalByName(%q) mismatch (-want +got):\n%s", name, d)
			}
		}
	}

	// Zero times round-trip as zero.
	p := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindGroup, Name: "no-times"}
	f.must("create without times", f.s.CreatePrincipal(f.ctx, p))
	got, err := f.s.GetPrincipal(f.ctx, p.ID)
	f.must("GetPrincipal", err)
	if !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() {
		f.t.Errorf("zero times came back as %v, %v", got.CreatedAt, got.UpdatedAt)
	}
}

func testPrincipalNameUnique(f *fixture) {
	alice := f.user("alice@example.com")
	for _, kind := range []catalog.PrincipalKind{catalog.KindUser, catalog.KindServicePrincipal, catalog.KindGroup} {
		for _, name := range []string{"alice@example.com", "Alice@Example.COM"} {
			err := f.s.CreatePrincipal(f.ctx, &catalog.Principal{ID: catalog.NewID(), Kind: kind, Name: name, Active: true})
			f.wantCode("create "+string(kind)+" "+name, err, catalog.ResourceAlreadyExists)
			f.wantMessage("create "+string(kind)+" "+name, err, name)
		}
	}
	err := f.s.CreatePrincipal(f.ctx, &catalog.Principal{ID: alice.ID, Kind: catalog.KindUser, Name: "other@example.com"})
	f.wantCode("create with a taken ID", err, catalog.ResourceAlreadyExists)

	list, err := f.s.ListPrincipals(f.ctx, "")
	f.must("ListPrincipals", err)
	if len(list) != 1 {
		f.t.Errorf("ListPrincipals after refused creates = %d principals, want 1", len(list))
	}
}

func testPrincipalMissing(f *fixture) {
	f.user("alice@example.com")
	id := catalog.NewID()
	_, err := f.s.GetPrincipal(f.ctx, id)
	f.wantCode("GetPrincipal(missing)", err, catalog.ResourceDoesNotExist)
	f.wantMessage("GetPrincipal(missing)", err, id)
	_, err = f.s.GetPrincipalByName(f.ctx, "bob@example.com")
	f.wantCode("GetPrincipalByName(missing)", err, catalog.ResourceDoesNotExist)
	f.wantMessage("GetPrincipalByName(missing)", err, "bob@example.com")
	err = f.s.UpdatePrincipal(f.ctx, &catalog.Principal{ID: id, Kind: catalog.KindUser, Name: "bob@example.com"})
	f.wantCode("UpdatePrincipal(missing)", err, catalog.ResourceDoesNotExist)
	err = f.s.DeletePrincipal(f.ctx, id)
	f.wantCode("DeletePrincipal(missing)", err, catalog.ResourceDoesNotExist)
	if _, err := f.s.GetPrincipalByName(f.ctx, "bob@example.com"); !catalog.IsNotFound(err) {
		f.t.Errorf("UpdatePrincipal(missing) created a principal: %v", err)
	}
}

func testPrincipalInvalid(f *fixture) {
	for name, p := range map[string]*catalog.Principal{
		"no ID":        {Kind: catalog.KindUser, Name: "a"},
		"no name":      {ID: catalog.NewID(), Kind: catalog.KindUser},
		"unknown kind": {ID: catalog.NewID(), Kind: "ROBOT", Name: "r2d2"},
	} {
		f.wantCode("create principal with "+name, f.s.CreatePrincipal(f.ctx, p), catalog.InvalidParameterValue)
	}
}

func testPrincipalList(f *fixture) {
	byKind := map[catalog.PrincipalKind][]string{
		catalog.KindUser:             {"zoe@example.com", "alice@example.com", "mallory@example.com"},
		catalog.KindServicePrincipal: {"deploy-bot", "billing-agent"},
		catalog.KindGroup:            {"ops", "admins", "users", "eng"},
	}
	var all []string
	// Create interleaved so that insertion order is not name order.
	for i := range 4 {
		for _, kind := range []catalog.PrincipalKind{catalog.KindGroup, catalog.KindUser, catalog.KindServicePrincipal} {
			if i < len(byKind[kind]) {
				f.principal(kind, byKind[kind][i])
				all = append(all, byKind[kind][i])
			}
		}
	}
	names := func(ps []*catalog.Principal) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for kind, want := range byKind {
		got, err := f.s.ListPrincipals(f.ctx, kind)
		f.must("ListPrincipals", err)
		want = slices.Sorted(slices.Values(want))
		if d := diff(want, names(got)); d != "" {
			f.t.Errorf("ListPrincipals(%s) names (-want +got):\n%s", kind, d)
		}
		for _, p := range got {
			if p.Kind != kind {
				f.t.Errorf("ListPrincipals(%s) returned %s of kind %s", kind, p.Name, p.Kind)
			}
		}
	}
	got, err := f.s.ListPrincipals(f.ctx, "")
	f.must("ListPrincipals", err)
	sort.Strings(all)
	if d := diff(all, names(got)); d != "" {
		f.t.Errorf(`ListPrincipals("") names (-want +got):\n%s`, d)
	}
}

func testPrincipalUpdate(f *fixture) {
	alice := f.user("alice@example.com")
	f.user("bob@example.com")

	up := *alice
	up.Name = "alice.smith@example.com"
	up.DisplayName = "Alice Smith"
	up.Active = false
	up.ExternalID = "okta-123"
	up.UpdatedAt = f.tick()
	f.must("UpdatePrincipal", f.s.UpdatePrincipal(f.ctx, &up))
	got, err := f.s.GetPrincipal(f.ctx, alice.ID)
	f.must("GetPrincipal", err)
	if d := diff(&up, got); d != "" {
		f.t.Errorf("after UpdatePrincipal (-want +got):\n%s", d)
	}
	if _, err := f.s.GetPrincipalByName(f.ctx, "alice@example.com"); !catalog.IsNotFound(err) {
		f.t.Errorf("old name still finds the principal: %v", err)
	}

	// Kind and creation time do not change.
	weird := up
	weird.Kind = catalog.KindGroup
	weird.CreatedAt = f.tick()
	f.must("UpdatePrincipal", f.s.UpdatePrincipal(f.ctx, &weird))
	got, err = f.s.GetPrincipal(f.ctx, alice.ID)
	f.must("GetPrincipal", err)
	if got.Kind != catalog.KindUser || !got.CreatedAt.Equal(alice.CreatedAt) {
		f.t.Errorf("UpdatePrincipal changed kind or creation: %s, %v; want %s, %v", got.Kind, got.CreatedAt, catalog.KindUser, alice.CreatedAt)
	}

	// A name taken by another principal, in any case, is refused; a change of case of
	// one's own name is not.
	taken := up
	taken.Name = "BOB@example.com"
	err = f.s.UpdatePrincipal(f.ctx, &taken)
	f.wantCode("rename to a taken name", err, catalog.ResourceAlreadyExists)
	f.wantMessage("rename to a taken name", err, "BOB@example.com")
	recase := up
	recase.Name = "Alice.Smith@example.com"
	f.must("change the case of one's name", f.s.UpdatePrincipal(f.ctx, &recase))
	got, err = f.s.GetPrincipalByName(f.ctx, "alice.smith@example.com")
	f.must("GetPrincipalByName", err)
	if got.Name != recase.Name {
		f.t.Errorf("name = %q, want %q", got.Name, recase.Name)
	}
}

func testPrincipalDeleteCascades(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	g1, g2 := f.group("g1"), f.group("g2")
	for _, g := range []*catalog.Principal{g1, g2} {
		f.must("AddMember", f.s.AddMember(f.ctx, g.ID, alice.ID))
		f.must("AddMember", f.s.AddMember(f.ctx, g.ID, bob.ID))
	}
	c := f.connection("github", bob.ID)
	f.grant(catalog.SecurableConnection, c.ID, alice.ID, catalog.UseConnection)
	f.grant(catalog.SecurableConnection, c.ID, bob.ID, catalog.UseConnection)
	f.grant(catalog.SecurableMetastore, catalog.MetastoreID, alice.ID, catalog.CreateConnection)
	at1, at2 := f.token(alice.ID), f.token(alice.ID)
	bt := f.token(bob.ID)

	f.must("DeletePrincipal", f.s.DeletePrincipal(f.ctx, alice.ID))

	if _, err := f.s.GetPrincipal(f.ctx, alice.ID); !catalog.IsNotFound(err) {
		f.t.Errorf("GetPrincipal after delete: %v, want not found", err)
	}
	ms, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	want := []catalog.Membership{{GroupID: g1.ID, MemberID: bob.ID}, {GroupID: g2.ID, MemberID: bob.ID}}
	if d := diff(sortMemberships(want), sortMemberships(ms)); d != "" {
		f.t.Errorf("memberships after delete (-want +got):\n%s", d)
	}
	gs, err := f.s.ListGrantsOf(f.ctx, []string{alice.ID})
	f.must("ListGrantsOf", err)
	if len(gs) != 0 {
		f.t.Errorf("grants of a deleted principal: %v", gs)
	}
	gs, err = f.s.ListGrants(f.ctx, catalog.SecurableConnection, c.ID)
	f.must("ListGrants", err)
	if len(gs) != 1 || gs[0].PrincipalID != bob.ID {
		f.t.Errorf("grants on github after deleting alice = %v, want only bob's", gs)
	}
	for _, tk := range []*catalog.Token{at1, at2} {
		if _, err := f.s.GetToken(f.ctx, tk.ID); !catalog.IsNotFound(err) {
			f.t.Errorf("GetToken of a deleted principal's token: %v, want not found", err)
		}
		if _, err := f.s.GetTokenByHash(f.ctx, tk.Hash); !catalog.IsNotFound(err) {
			f.t.Errorf("GetTokenByHash of a deleted principal's token: %v, want not found", err)
		}
	}
	if _, err := f.s.GetToken(f.ctx, bt.ID); err != nil {
		f.t.Errorf("bob's token after deleting alice: %v", err)
	}
	// The name is free again.
	f.user("alice@example.com")
}

func testPrincipalDeleteGroup(f *fixture) {
	parent, g, child := f.group("parent"), f.group("g"), f.group("child")
	u := f.user("u@example.com")
	f.must("AddMember", f.s.AddMember(f.ctx, parent.ID, g.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, g.ID, child.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, g.ID, u.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, child.ID, u.ID))

	f.must("DeletePrincipal(group)", f.s.DeletePrincipal(f.ctx, g.ID))
	ms, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	want := []catalog.Membership{{GroupID: child.ID, MemberID: u.ID}}
	if d := diff(want, ms); d != "" {
		f.t.Errorf("memberships after deleting a group (-want +got):\n%s", d)
	}
	members, err := f.s.ListMembers(f.ctx, parent.ID)
	f.must("ListMembers", err)
	if len(members) != 0 {
		f.t.Errorf("ListMembers(parent) = %v, want none", members)
	}
}

func testPrincipalDeleteOwner(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c := f.connection("github", alice.ID)
	f.token(alice.ID)

	err := f.s.DeletePrincipal(f.ctx, alice.ID)
	f.wantCode("delete an owner", err, catalog.InvalidParameterValue)
	f.wantMessage("delete an owner", err, "github")
	if _, err := f.s.GetPrincipal(f.ctx, alice.ID); err != nil {
		f.t.Errorf("refused delete removed the principal: %v", err)
	}
	if ts, _ := f.s.ListTokens(f.ctx, alice.ID); len(ts) != 1 {
		f.t.Errorf("refused delete removed tokens: %d left, want 1", len(ts))
	}

	c.OwnerID = bob.ID
	f.must("transfer ownership", f.s.UpdateConnection(f.ctx, c))
	f.must("delete after transfer", f.s.DeletePrincipal(f.ctx, alice.ID))
}

func testMembersAddListRemove(f *fixture) {
	g := f.group("eng")
	a, b := f.user("a@example.com"), f.user("b@example.com")
	sp := f.principal(catalog.KindServicePrincipal, "bot")

	members, err := f.s.ListMembers(f.ctx, g.ID)
	f.must("ListMembers", err)
	if len(members) != 0 {
		f.t.Errorf("ListMembers(new group) = %v", members)
	}
	for _, m := range []*catalog.Principal{a, b, sp, a} { // a twice: idempotent
		f.must("AddMember", f.s.AddMember(f.ctx, g.ID, m.ID))
	}
	members, err = f.s.ListMembers(f.ctx, g.ID)
	f.must("ListMembers", err)
	if d := diff(sorted(a.ID, b.ID, sp.ID), sorted(members...)); d != "" {
		f.t.Errorf("ListMembers (-want +got):\n%s", d)
	}
	ms, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	if len(ms) != 3 {
		f.t.Errorf("ListMemberships = %v, want 3 edges", ms)
	}

	f.must("RemoveMember", f.s.RemoveMember(f.ctx, g.ID, a.ID))
	f.must("RemoveMember of a non-member", f.s.RemoveMember(f.ctx, g.ID, a.ID))
	members, err = f.s.ListMembers(f.ctx, g.ID)
	f.must("ListMembers", err)
	if d := diff(sorted(b.ID, sp.ID), sorted(members...)); d != "" {
		f.t.Errorf("ListMembers after remove (-want +got):\n%s", d)
	}
	if _, err := f.s.GetPrincipal(f.ctx, a.ID); err != nil {
		f.t.Errorf("RemoveMember deleted the principal: %v", err)
	}
}

func testMembersRefused(f *fixture) {
	g := f.group("eng")
	u, v := f.user("u@example.com"), f.user("v@example.com")
	missing := catalog.NewID()

	err := f.s.AddMember(f.ctx, u.ID, v.ID)
	f.wantCode("AddMember to a user", err, catalog.InvalidParameterValue)
	err = f.s.AddMember(f.ctx, missing, u.ID)
	f.wantCode("AddMember to a missing group", err, catalog.ResourceDoesNotExist)
	err = f.s.AddMember(f.ctx, g.ID, missing)
	f.wantCode("AddMember of a missing principal", err, catalog.ResourceDoesNotExist)
	err = f.s.RemoveMember(f.ctx, missing, u.ID)
	f.wantCode("RemoveMember from a missing group", err, catalog.ResourceDoesNotExist)
	_, err = f.s.ListMembers(f.ctx, missing)
	f.wantCode("ListMembers of a missing group", err, catalog.ResourceDoesNotExist)
	// The built-in users group holds everyone: as a member of admins (or any group) it
	// would give that group's rights to every user.
	users, admins := f.group(catalog.UsersGroup), f.group(catalog.AdminsGroup)
	err = f.s.AddMember(f.ctx, admins.ID, users.ID)
	f.wantMessage("AddMember of users to admins", err, "users cannot be a member")
	f.wantCode("AddMember of users to admins", err, catalog.InvalidParameterValue)
	err = f.s.AddMember(f.ctx, g.ID, users.ID)
	f.wantCode("AddMember of users to a group", err, catalog.InvalidParameterValue)

	ms, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	if len(ms) != 0 {
		f.t.Errorf("refused AddMember calls stored %v", ms)
	}
}

func testMembersNested(f *fixture) {
	org, eng, backend := f.group("org"), f.group("eng"), f.group("backend")
	u := f.user("u@example.com")
	f.must("AddMember", f.s.AddMember(f.ctx, org.ID, eng.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, eng.ID, backend.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, backend.ID, u.ID))
	// A diamond is not a cycle.
	f.must("AddMember (diamond)", f.s.AddMember(f.ctx, org.ID, backend.ID))
	f.must("AddMember (diamond)", f.s.AddMember(f.ctx, eng.ID, u.ID))

	ms, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	want := []catalog.Membership{
		{GroupID: org.ID, MemberID: eng.ID},
		{GroupID: eng.ID, MemberID: backend.ID},
		{GroupID: backend.ID, MemberID: u.ID},
		{GroupID: org.ID, MemberID: backend.ID},
		{GroupID: eng.ID, MemberID: u.ID},
	}
	if d := diff(sortMemberships(want), sortMemberships(ms)); d != "" {
		f.t.Errorf("ListMemberships (-want +got):\n%s", d)
	}
	members, err := f.s.ListMembers(f.ctx, org.ID)
	f.must("ListMembers", err)
	if d := diff(sorted(eng.ID, backend.ID), sorted(members...)); d != "" {
		f.t.Errorf("ListMembers(org) lists direct members only (-want +got):\n%s", d)
	}
}

func testMembersCycles(f *fixture) {
	a, b, c, d := f.group("a"), f.group("b"), f.group("c"), f.group("d")
	f.must("AddMember", f.s.AddMember(f.ctx, a.ID, b.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, b.ID, c.ID))
	f.must("AddMember", f.s.AddMember(f.ctx, c.ID, d.ID))
	before, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)

	for _, tc := range []struct {
		name          string
		group, member *catalog.Principal
	}{
		{"self", a, a},
		{"2-cycle", b, a},
		{"3-cycle", c, a},
		{"4-cycle", d, a},
		{"inner 2-cycle", d, c},
	} {
		err := f.s.AddMember(f.ctx, tc.group.ID, tc.member.ID)
		f.wantCode("AddMember "+tc.name, err, catalog.InvalidParameterValue)
		f.wantMessage("AddMember "+tc.name, err, "cycle", tc.group.Name, tc.member.Name)
	}
	after, err := f.s.ListMemberships(f.ctx)
	f.must("ListMemberships", err)
	if d := diff(sortMemberships(before), sortMemberships(after)); d != "" {
		f.t.Errorf("refused cycles changed the graph (-before +after):\n%s", d)
	}
	// Shortcuts down the chain are fine.
	f.must("AddMember a ∋ d", f.s.AddMember(f.ctx, a.ID, d.ID))
}

func sorted(s ...string) []string {
	return slices.Sorted(slices.Values(s))
}

func sortMemberships(ms []catalog.Membership) []catalog.Membership {
	out := slices.Clone(ms)
	sort.Slice(out, func(i, j int) bool {
		if out[i].GroupID != out[j].GroupID {
			return out[i].GroupID < out[j].GroupID
		}
		return out[i].MemberID < out[j].MemberID
	})
	return out
}
