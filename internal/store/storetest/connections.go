package storetest

import (
	"fmt"
	"math/rand/v2"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func testConnectionCreateGet(f *fixture) {
	alice := f.user("alice@example.com")
	admin := f.user("admin")
	c := f.newConnection("github", alice.ID)
	c.CredentialType = catalog.OAuthM2M
	c.Options = map[string]string{
		catalog.OptHost:          "https://api.github.com",
		catalog.OptClientID:      "client-1",
		catalog.OptTokenEndpoint: "https://github.com/login/oauth/access_token",
		"unicode":                "ünïcødé \"quoted\" \\ {json}",
	}
	c.Secrets = map[string][]byte{
		catalog.OptClientSecret: {0, 1, 2, 0xff, 0xfe},
		"other":                 []byte("sealed"),
	}
	c.Enabled = false
	c.UpdatedAt = f.tick()
	c.UpdatedBy = admin.ID
	f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))
	plain := f.connection("slack", alice.ID)

	for _, want := range []*catalog.Connection{c, plain} {
		got, err := f.s.GetConnection(f.ctx, want.Name)
		f.must("GetConnection", err)
		if d := diff(want, got); d != "" {
			f.t.Errorf("GetConnection(%s) mismatch (-want +got):\n%s", want.Name, d)
		}
		got, err = f.s.GetConnectionByID(f.ctx, want.ID)
		f.must("GetConnectionByID", err)
		if d := diff(want, got); d != "" {
			f.t.Errorf("GetConnectionByID(%s) mismatch (-want +got):\n%s", want.Name, d)
		}
	}

	_, err := f.s.GetConnection(f.ctx, "gitlab")
	f.wantCode("GetConnection(missing)", err, catalog.ResourceDoesNotExist)
	f.wantMessage("GetConnection(missing)", err, "gitlab")
	_, err = f.s.GetConnectionByID(f.ctx, catalog.NewID())
	f.wantCode("GetConnectionByID(missing)", err, catalog.ResourceDoesNotExist)
}

func testConnectionNilMaps(f *fixture) {
	alice := f.user("alice@example.com")
	c := f.newConnection("bare", alice.ID)
	c.Options, c.Secrets = nil, nil
	f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))
	got, err := f.s.GetConnection(f.ctx, "bare")
	f.must("GetConnection", err)
	if got.Options == nil || len(got.Options) != 0 {
		f.t.Errorf("Options = %#v, want an empty map", got.Options)
	}
	if got.Secrets == nil || len(got.Secrets) != 0 {
		f.t.Errorf("Secrets = %#v, want an empty map", got.Secrets)
	}
	got.Options["x"] = "y" // must not panic
	got.Secrets["x"] = nil

	list, err := f.s.ListConnections(f.ctx, "", 10)
	f.must("ListConnections", err)
	if len(list) != 1 || list[0].Options == nil || list[0].Secrets == nil {
		f.t.Errorf("ListConnections = %#v, want one connection with empty, non-nil maps", list)
	}
}

func testConnectionCopies(f *fixture) {
	alice := f.user("alice@example.com")
	c := f.newConnection("github", alice.ID)
	f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))
	want, err := f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)

	// Changing what was passed in or what came out does not change the store.
	c.Options[catalog.OptHost] = "https://evil.example.com"
	c.Secrets[catalog.OptBearerToken][0] = 'X'
	got, err := f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)
	got.Options[catalog.OptHost] = "https://evil.example.com"
	got.Options["new"] = "x"
	got.Secrets[catalog.OptBearerToken][0] = 'X'
	got.Secrets["new"] = []byte("x")
	list, err := f.s.ListConnections(f.ctx, "", 0)
	f.must("ListConnections", err)
	list[0].Options["new"] = "y"
	list[0].Secrets[catalog.OptBearerToken][1] = 'Y'

	again, err := f.s.GetConnectionByID(f.ctx, c.ID)
	f.must("GetConnectionByID", err)
	if d := diff(want, again); d != "" {
		f.t.Errorf("changing returned maps changed the store (-want +got):\n%s", d)
	}
}

func testConnectionRefused(f *fixture) {
	alice := f.user("alice@example.com")
	c := f.connection("github", alice.ID)

	dup := f.newConnection("github", alice.ID)
	err := f.s.CreateConnection(f.ctx, dup)
	f.wantCode("CreateConnection with a taken name", err, catalog.ResourceAlreadyExists)
	f.wantMessage("CreateConnection with a taken name", err, "github")
	dupID := f.newConnection("gitlab", alice.ID)
	dupID.ID = c.ID
	f.wantCode("CreateConnection with a taken ID", f.s.CreateConnection(f.ctx, dupID), catalog.ResourceAlreadyExists)
	orphan := f.newConnection("jira", catalog.NewID())
	f.wantCode("CreateConnection with a missing owner", f.s.CreateConnection(f.ctx, orphan), catalog.ResourceDoesNotExist)

	list, err := f.s.ListConnections(f.ctx, "", 0)
	f.must("ListConnections", err)
	if len(list) != 1 {
		f.t.Errorf("refused creates stored connections: %d, want 1", len(list))
	}
	got, err := f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)
	if d := diff(c, got); d != "" {
		f.t.Errorf("refused creates changed github (-want +got):\n%s", d)
	}

	missing := f.newConnection("nope", alice.ID)
	f.wantCode("UpdateConnection(missing)", f.s.UpdateConnection(f.ctx, missing), catalog.ResourceDoesNotExist)
	f.wantCode("DeleteConnection(missing)", f.s.DeleteConnection(f.ctx, missing.ID), catalog.ResourceDoesNotExist)
	if _, err := f.s.GetConnection(f.ctx, "nope"); !catalog.IsNotFound(err) {
		f.t.Errorf("UpdateConnection(missing) created it: %v", err)
	}
}

func testConnectionUpdate(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c := f.newConnection("github", alice.ID)
	c.Secrets = map[string][]byte{
		"keep":    []byte("k1"),
		"change":  []byte("c1"),
		"removed": []byte("r1"),
	}
	f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))

	up, err := f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)
	up.CredentialType = catalog.OAuthU2MPerUser
	up.OwnerID = bob.ID
	up.Comment = "now per user"
	up.Options = map[string]string{catalog.OptHost: "https://api.github.com", catalog.OptClientID: "cid"}
	up.Secrets = map[string][]byte{
		"keep":   []byte("k1"),
		"change": []byte("c2"),
		"added":  []byte("a1"),
	}
	up.Enabled = false
	up.UpdatedAt = f.tick()
	up.UpdatedBy = bob.ID
	f.must("UpdateConnection", f.s.UpdateConnection(f.ctx, up))
	got, err := f.s.GetConnectionByID(f.ctx, c.ID)
	f.must("GetConnectionByID", err)
	if d := diff(up, got); d != "" {
		f.t.Errorf("after UpdateConnection (-want +got):\n%s", d)
	}

	// An empty set of secrets removes them all.
	up.Secrets = nil
	up.Options = nil
	f.must("UpdateConnection", f.s.UpdateConnection(f.ctx, up))
	got, err = f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)
	if len(got.Secrets) != 0 || len(got.Options) != 0 || got.Secrets == nil || got.Options == nil {
		f.t.Errorf("after clearing: Options %#v, Secrets %#v; want empty maps", got.Options, got.Secrets)
	}
}

func testConnectionUpdateKeepsCreation(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c := f.connection("github", alice.ID)
	up := *c
	up.CreatedAt = f.tick()
	up.CreatedBy = bob.ID
	up.UpdatedAt = f.tick()
	up.UpdatedBy = bob.ID
	f.must("UpdateConnection", f.s.UpdateConnection(f.ctx, &up))
	got, err := f.s.GetConnection(f.ctx, "github")
	f.must("GetConnection", err)
	if !got.CreatedAt.Equal(c.CreatedAt) || got.CreatedBy != c.CreatedBy {
		f.t.Errorf("creation = %v by %s, want %v by %s (unchanged)", got.CreatedAt, got.CreatedBy, c.CreatedAt, c.CreatedBy)
	}
	if !got.UpdatedAt.Equal(up.UpdatedAt) || got.UpdatedBy != bob.ID {
		f.t.Errorf("update = %v by %s, want %v by %s", got.UpdatedAt, got.UpdatedBy, up.UpdatedAt, bob.ID)
	}
}

func testConnectionRename(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c := f.connection("github", alice.ID)
	other := f.connection("gitlab", alice.ID)
	f.grant(catalog.SecurableConnection, c.ID, bob.ID, catalog.UseConnection)
	f.grant(catalog.SecurableConnection, c.ID, bob.ID, catalog.Manage)
	before, err := f.s.ListGrants(f.ctx, catalog.SecurableConnection, c.ID)
	f.must("ListGrants", err)

	renamed := *c
	renamed.Name = "github-enterprise"
	f.must("rename", f.s.UpdateConnection(f.ctx, &renamed))
	_, err = f.s.GetConnection(f.ctx, "github")
	f.wantCode("GetConnection(old name)", err, catalog.ResourceDoesNotExist)
	got, err := f.s.GetConnection(f.ctx, "github-enterprise")
	f.must("GetConnection(new name)", err)
	if got.ID != c.ID {
		f.t.Errorf("renamed connection has ID %s, want %s", got.ID, c.ID)
	}
	if d := diff(c.Secrets, got.Secrets); d != "" {
		f.t.Errorf("rename changed the secrets (-want +got):\n%s", d)
	}
	after, err := f.s.ListGrants(f.ctx, catalog.SecurableConnection, c.ID)
	f.must("ListGrants", err)
	if d := diff(sortGrants(before), sortGrants(after)); d != "" {
		f.t.Errorf("rename changed the grants (-before +after):\n%s", d)
	}

	taken := renamed
	taken.Name = other.Name
	err = f.s.UpdateConnection(f.ctx, &taken)
	f.wantCode("rename to a taken name", err, catalog.ResourceAlreadyExists)
	f.wantMessage("rename to a taken name", err, other.Name)
	// The old name is free.
	f.connection("github", alice.ID)
}

func testConnectionDelete(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	c := f.connection("github", alice.ID)
	keep := f.connection("slack", alice.ID)
	f.grant(catalog.SecurableConnection, c.ID, bob.ID, catalog.UseConnection)
	f.grant(catalog.SecurableConnection, keep.ID, bob.ID, catalog.UseConnection)
	f.grant(catalog.SecurableMetastore, catalog.MetastoreID, bob.ID, catalog.CreateConnection)

	f.must("DeleteConnection", f.s.DeleteConnection(f.ctx, c.ID))
	_, err := f.s.GetConnection(f.ctx, "github")
	f.wantCode("GetConnection after delete", err, catalog.ResourceDoesNotExist)
	_, err = f.s.GetConnectionByID(f.ctx, c.ID)
	f.wantCode("GetConnectionByID after delete", err, catalog.ResourceDoesNotExist)
	gs, err := f.s.ListGrants(f.ctx, catalog.SecurableConnection, c.ID)
	f.must("ListGrants", err)
	if len(gs) != 0 {
		f.t.Errorf("grants on a deleted connection: %v", gs)
	}
	gs, err = f.s.ListGrantsOf(f.ctx, []string{bob.ID})
	f.must("ListGrantsOf", err)
	if len(gs) != 2 {
		f.t.Errorf("bob's grants after deleting github = %v, want slack and metastore", gs)
	}
	f.wantCode("DeleteConnection again", f.s.DeleteConnection(f.ctx, c.ID), catalog.ResourceDoesNotExist)

	// A new connection with the same ID and name starts with nothing of the old one.
	again := f.newConnection("github", alice.ID)
	again.ID = c.ID
	again.Secrets = nil
	f.must("recreate", f.s.CreateConnection(f.ctx, again))
	got, err := f.s.GetConnectionByID(f.ctx, c.ID)
	f.must("GetConnectionByID", err)
	if len(got.Secrets) != 0 {
		f.t.Errorf("recreated connection has the old secrets: %d fields", len(got.Secrets))
	}
	gs, err = f.s.ListGrants(f.ctx, catalog.SecurableConnection, c.ID)
	f.must("ListGrants", err)
	if len(gs) != 0 {
		f.t.Errorf("recreated connection has the old grants: %v", gs)
	}
}

func testConnectionPagination(f *fixture) {
	alice := f.user("alice@example.com")
	const n = 25
	for _, i := range rand.Perm(n) {
		c := f.newConnection(fmt.Sprintf("conn-%02d", i), alice.ID)
		c.Secrets["i"] = []byte{byte(i)}
		f.must("CreateConnection", f.s.CreateConnection(f.ctx, c))
	}
	var names []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > n {
			f.t.Fatalf("pagination does not end")
		}
		page, err := f.s.ListConnections(f.ctx, after, 10)
		f.must("ListConnections", err)
		if len(page) > 10 {
			f.t.Fatalf("ListConnections(%q, 10) returned %d", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			names = append(names, c.Name)
			var i int
			if _, err := fmt.Sscanf(c.Name, "conn-%d", &i); err != nil || len(c.Secrets["i"]) != 1 || c.Secrets["i"][0] != byte(i) || len(c.Secrets) != 2 {
				f.t.Errorf("%s: secrets %v do not belong to it", c.Name, c.Secrets)
			}
			if c.Options[catalog.OptHost] != "https://"+c.Name+".example.com" {
				f.t.Errorf("%s: options %v do not belong to it", c.Name, c.Options)
			}
		}
		after = page[len(page)-1].Name
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("conn-%02d", i))
	}
	if d := diff(want, names); d != "" {
		f.t.Errorf("paged names (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		after string
		limit int
		want  int
		first string
	}{
		{"", 10, 10, "conn-00"},
		{"conn-09", 10, 10, "conn-10"},
		{"conn-19", 10, 5, "conn-20"},
		{"conn-24", 10, 0, ""},
		{"conn-05x", 3, 3, "conn-06"}, // after need not be a stored name
		{"", 0, n, "conn-00"},         // no limit
		{"", 100, n, "conn-00"},
	} {
		page, err := f.s.ListConnections(f.ctx, tc.after, tc.limit)
		f.must("ListConnections", err)
		if len(page) != tc.want || (tc.want > 0 && page[0].Name != tc.first) {
			first := ""
			if len(page) > 0 {
				first = page[0].Name
			}
			f.t.Errorf("ListConnections(%q, %d) = %d starting at %q, want %d starting at %q",
				tc.after, tc.limit, len(page), first, tc.want, tc.first)
		}
	}
}
