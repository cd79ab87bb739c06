package storetest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func g(t catalog.SecurableType, id string, p *catalog.Principal, priv catalog.Privilege) catalog.Grant {
	return catalog.Grant{SecurableType: t, SecurableID: id, PrincipalID: p.ID, Privilege: priv}
}

func sortGrants(gs []catalog.Grant) []catalog.Grant {
	out := slices.Clone(gs)
	slices.SortFunc(out, func(a, b catalog.Grant) int {
		return strings.Compare(
			string(a.SecurableType)+"\x00"+a.SecurableID+"\x00"+a.PrincipalID+"\x00"+string(a.Privilege),
			string(b.SecurableType)+"\x00"+b.SecurableID+"\x00"+b.PrincipalID+"\x00"+string(b.Privilege))
	})
	return out
}

func (f *fixture) wantGrants(what string, t catalog.SecurableType, id string, want ...catalog.Grant) {
	f.t.Helper()
	got, err := f.s.ListGrants(f.ctx, t, id)
	f.must("ListGrants", err)
	if d := diff(sortGrants(want), sortGrants(got)); d != "" {
		f.t.Errorf("%s: grants (-want +got):\n%s", what, d)
	}
}

func testGrantsUpdate(f *fixture) {
	alice, bob, carol := f.user("alice@example.com"), f.user("bob@example.com"), f.user("carol@example.com")
	c := f.connection("github", alice.ID)
	other := f.connection("slack", alice.ID)
	const conn = catalog.SecurableConnection
	f.wantGrants("new connection", conn, c.ID)

	f.must("UpdateGrants", f.s.UpdateGrants(f.ctx, conn, c.ID, []catalog.Grant{
		{PrincipalID: bob.ID, Privilege: catalog.UseConnection},
		{PrincipalID: carol.ID, Privilege: catalog.Manage},
		{PrincipalID: carol.ID, Privilege: catalog.UseConnection},
	}, nil))
	f.wantGrants("after add", conn, c.ID,
		g(conn, c.ID, bob, catalog.UseConnection), g(conn, c.ID, carol, catalog.Manage), g(conn, c.ID, carol, catalog.UseConnection))
	f.wantGrants("other connection", conn, other.ID)

	// Removals then additions, in one call; the grants may carry their securable.
	f.must("UpdateGrants", f.s.UpdateGrants(f.ctx, conn, c.ID,
		[]catalog.Grant{g(conn, c.ID, bob, catalog.AllPrivileges), {PrincipalID: carol.ID, Privilege: catalog.UseConnection}},
		[]catalog.Grant{g(conn, c.ID, bob, catalog.UseConnection), {PrincipalID: carol.ID, Privilege: catalog.UseConnection}, {PrincipalID: carol.ID, Privilege: catalog.Manage}}))
	f.wantGrants("after add and remove", conn, c.ID,
		g(conn, c.ID, bob, catalog.AllPrivileges), g(conn, c.ID, carol, catalog.UseConnection))

	// Adding what exists and removing what does not are not errors.
	f.must("UpdateGrants (idempotent)", f.s.UpdateGrants(f.ctx, conn, c.ID,
		[]catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.AllPrivileges}, {PrincipalID: bob.ID, Privilege: catalog.AllPrivileges}},
		[]catalog.Grant{{PrincipalID: alice.ID, Privilege: catalog.Manage}, {PrincipalID: catalog.NewID(), Privilege: catalog.Manage}}))
	f.must("UpdateGrants (nothing)", f.s.UpdateGrants(f.ctx, conn, c.ID, nil, nil))
	f.wantGrants("after idempotent update", conn, c.ID,
		g(conn, c.ID, bob, catalog.AllPrivileges), g(conn, c.ID, carol, catalog.UseConnection))

	// A group can hold grants.
	eng := f.group("eng")
	f.grant(conn, c.ID, eng.ID, catalog.UseConnection)
	f.wantGrants("group grant", conn, c.ID,
		g(conn, c.ID, bob, catalog.AllPrivileges), g(conn, c.ID, carol, catalog.UseConnection), g(conn, c.ID, eng, catalog.UseConnection))
}

func testGrantsAtomic(f *fixture) {
	alice, bob := f.user("alice@example.com"), f.user("bob@example.com")
	c := f.connection("github", alice.ID)
	const conn = catalog.SecurableConnection
	f.grant(conn, c.ID, bob.ID, catalog.UseConnection)

	err := f.s.UpdateGrants(f.ctx, conn, c.ID,
		[]catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.Manage}, {PrincipalID: catalog.NewID(), Privilege: catalog.UseConnection}},
		[]catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.UseConnection}})
	f.wantCode("UpdateGrants with a missing principal", err, catalog.ResourceDoesNotExist)
	f.wantGrants("after a failed update", conn, c.ID, g(conn, c.ID, bob, catalog.UseConnection))

	err = f.s.UpdateGrants(f.ctx, conn, c.ID,
		[]catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.Manage}, {PrincipalID: bob.ID, Privilege: catalog.CreateConnection}},
		[]catalog.Grant{{PrincipalID: bob.ID, Privilege: catalog.UseConnection}})
	f.wantCode("UpdateGrants with an invalid privilege", err, catalog.InvalidParameterValue)
	f.wantGrants("after a failed update", conn, c.ID, g(conn, c.ID, bob, catalog.UseConnection))
}

func testGrantsRefused(f *fixture) {
	alice := f.user("alice@example.com")
	c := f.connection("github", alice.ID)
	add := func(p catalog.Privilege) []catalog.Grant {
		return []catalog.Grant{{PrincipalID: alice.ID, Privilege: p}}
	}

	for _, tc := range []struct {
		name string
		t    catalog.SecurableType
		id   string
		add  []catalog.Grant
		want catalog.ErrorCode
	}{
		{"CREATE_CONNECTION on a connection", catalog.SecurableConnection, c.ID, add(catalog.CreateConnection), catalog.InvalidParameterValue},
		{"USE_CONNECTION on the metastore", catalog.SecurableMetastore, catalog.MetastoreID, add(catalog.UseConnection), catalog.InvalidParameterValue},
		{"unknown privilege", catalog.SecurableConnection, c.ID, add("OWN_EVERYTHING"), catalog.InvalidParameterValue},
		{"unknown securable type", "TABLE", c.ID, add(catalog.UseConnection), catalog.InvalidParameterValue},
		{"missing connection", catalog.SecurableConnection, catalog.NewID(), add(catalog.UseConnection), catalog.ResourceDoesNotExist},
		{"another metastore", catalog.SecurableMetastore, "other", add(catalog.CreateConnection), catalog.ResourceDoesNotExist},
		{"grant naming another securable", catalog.SecurableConnection, c.ID,
			[]catalog.Grant{{SecurableType: catalog.SecurableConnection, SecurableID: catalog.NewID(), PrincipalID: alice.ID, Privilege: catalog.UseConnection}},
			catalog.InvalidParameterValue},
	} {
		f.wantCode(tc.name, f.s.UpdateGrants(f.ctx, tc.t, tc.id, tc.add, nil), tc.want)
	}
	gs, err := f.s.ListGrantsOf(f.ctx, []string{alice.ID})
	f.must("ListGrantsOf", err)
	if len(gs) != 0 {
		f.t.Errorf("refused updates stored %v", gs)
	}
}

func testGrantsMetastore(f *fixture) {
	alice, bob := f.user("alice@example.com"), f.user("bob@example.com")
	const ms = catalog.SecurableMetastore
	f.wantGrants("empty metastore", ms, catalog.MetastoreID)
	f.grant(ms, catalog.MetastoreID, alice.ID, catalog.CreateConnection)
	f.grant(ms, catalog.MetastoreID, bob.ID, catalog.CreateConnection)
	f.wantGrants("metastore", ms, catalog.MetastoreID,
		g(ms, catalog.MetastoreID, alice, catalog.CreateConnection), g(ms, catalog.MetastoreID, bob, catalog.CreateConnection))
	f.must("revoke", f.s.UpdateGrants(f.ctx, ms, catalog.MetastoreID, nil,
		[]catalog.Grant{{PrincipalID: alice.ID, Privilege: catalog.CreateConnection}}))
	f.wantGrants("after revoke", ms, catalog.MetastoreID, g(ms, catalog.MetastoreID, bob, catalog.CreateConnection))
	// A connection whose ID is "default" is another securable.
	c := f.newConnection("default-conn", alice.ID)
	c.ID = catalog.MetastoreID
	f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))
	f.grant(catalog.SecurableConnection, c.ID, alice.ID, catalog.UseConnection)
	f.wantGrants("metastore after a same-ID connection grant", ms, catalog.MetastoreID, g(ms, catalog.MetastoreID, bob, catalog.CreateConnection))
}

func testGrantsOf(f *fixture) {
	alice, bob, carol := f.user("alice@example.com"), f.user("bob@example.com"), f.user("carol@example.com")
	eng := f.group("eng")
	c1, c2 := f.connection("github", alice.ID), f.connection("slack", alice.ID)
	const conn, ms = catalog.SecurableConnection, catalog.SecurableMetastore
	f.grant(conn, c1.ID, bob.ID, catalog.UseConnection)
	f.grant(conn, c1.ID, eng.ID, catalog.Manage)
	f.grant(conn, c2.ID, eng.ID, catalog.UseConnection)
	f.grant(conn, c2.ID, carol.ID, catalog.UseConnection)
	f.grant(ms, catalog.MetastoreID, eng.ID, catalog.CreateConnection)

	for _, tc := range []struct {
		name string
		ids  []string
		want []catalog.Grant
	}{
		{"none", nil, nil},
		{"unknown", []string{catalog.NewID()}, nil},
		{"alice (owner, no grants)", []string{alice.ID}, nil},
		{"bob", []string{bob.ID}, []catalog.Grant{g(conn, c1.ID, bob, catalog.UseConnection)}},
		{"bob and eng", []string{bob.ID, eng.ID, bob.ID}, []catalog.Grant{
			g(conn, c1.ID, bob, catalog.UseConnection), g(conn, c1.ID, eng, catalog.Manage),
			g(conn, c2.ID, eng, catalog.UseConnection), g(ms, catalog.MetastoreID, eng, catalog.CreateConnection),
		}},
	} {
		got, err := f.s.ListGrantsOf(f.ctx, tc.ids)
		f.must("ListGrantsOf", err)
		if d := diff(sortGrants(tc.want), sortGrants(got)); d != "" || len(got) != len(tc.want) {
			f.t.Errorf("ListGrantsOf(%s) (-want +got):\n%s", tc.name, d)
		}
	}

	// Many principals at once.
	ids := []string{carol.ID}
	for range 2000 {
		ids = append(ids, catalog.NewID())
	}
	got, err := f.s.ListGrantsOf(f.ctx, ids)
	f.must("ListGrantsOf(2001 principals)", err)
	if d := diff([]catalog.Grant{g(conn, c2.ID, carol, catalog.UseConnection)}, got); d != "" {
		f.t.Errorf("ListGrantsOf(2001 principals) (-want +got):\n%s", d)
	}
}

func testMeta(f *fixture) {
	_, err := f.s.GetMeta(f.ctx, "key-check")
	f.wantCode("GetMeta(missing)", err, catalog.ResourceDoesNotExist)

	for _, v := range [][]byte{[]byte("v1"), {0, 1, 2, 0xff}, []byte("a longer value that replaces the shorter one")} {
		f.must("SetMeta", f.s.SetMeta(f.ctx, "key-check", v))
		got, err := f.s.GetMeta(f.ctx, "key-check")
		f.must("GetMeta", err)
		if !bytes.Equal(got, v) {
			f.t.Errorf("GetMeta = %q, want %q", got, v)
		}
	}
	f.must("SetMeta(empty)", f.s.SetMeta(f.ctx, "empty", nil))
	got, err := f.s.GetMeta(f.ctx, "empty")
	f.must("GetMeta(empty)", err)
	if len(got) != 0 {
		f.t.Errorf("GetMeta(empty) = %q", got)
	}
	got, err = f.s.GetMeta(f.ctx, "key-check")
	f.must("GetMeta", err)
	got[0] = 'X'
	again, err := f.s.GetMeta(f.ctx, "key-check")
	f.must("GetMeta", err)
	if again[0] == 'X' {
		f.t.Errorf("changing a returned value changed the store")
	}
}

func testPing(f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	f.must("Ping", f.s.Ping(ctx))
}
