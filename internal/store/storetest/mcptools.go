package storetest

import (
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The MCP tool subtests pin, beyond catalog.MCPToolStore's doc comments: records are
// keyed by connection and exact name (case matters); a set is written whole or not at
// all, a stale record failing the others; a description of exactly
// MaxMCPToolDescription bytes is kept as given; an approval of a PINNED tool changes
// nothing, not even its version or approver; DeleteConnection removes the records.

// newMCPTool returns a record of the connection with every field set, not yet stored.
func (f *fixture) newMCPTool(connectionID, name string, state catalog.MCPToolState) *catalog.MCPTool {
	now := f.tick()
	t := &catalog.MCPTool{
		ConnectionID: connectionID, Name: name, Description: "the " + name + " tool", State: state,
		PinHash: "sha256:pin-" + name, SeenHash: "sha256:seen-" + name,
		FirstSeen: now, LastSeen: now.Add(30), ChangedAt: now.Add(20), ApprovedBy: "approver-" + name, ApprovedAt: now.Add(10),
	}
	if state == catalog.MCPToolPinned || state == catalog.MCPToolUnpinned {
		t.SeenHash = t.PinHash
	}
	if state == catalog.MCPToolNew {
		t.PinHash, t.ApprovedBy, t.ApprovedAt = "", "", time.Time{}
	}
	return t
}

// mcpTools reads the records of a connection.
func (f *fixture) mcpTools(connectionID string) []*catalog.MCPTool {
	f.t.Helper()
	ts, err := f.s.ListMCPTools(f.ctx, connectionID)
	f.must("ListMCPTools", err)
	return ts
}

func testMCPToolsRoundTrip(f *fixture) {
	owner := f.user("owner@example.com")
	conn := f.connection("mcp", owner.ID)
	if got := f.mcpTools(conn.ID); len(got) != 0 {
		f.t.Errorf("ListMCPTools of a new connection = %d records, want none", len(got))
	}
	if got, err := f.s.ListMCPTools(f.ctx, catalog.NewID()); err != nil || len(got) != 0 {
		f.t.Errorf("ListMCPTools(unknown connection) = %d records, %v; want none, no error", len(got), err)
	}
	// Given out of order; listed by name. Exactly 1 KiB of description, ending in a
	// multi-byte character, is kept whole.
	search := f.newMCPTool(conn.ID, "search", catalog.MCPToolPinned)
	search.Description = strings.Repeat("s", catalog.MaxMCPToolDescription-3) + "€"
	changed := f.newMCPTool(conn.ID, "Search", catalog.MCPToolChanged) // names are case-sensitive
	fresh := f.newMCPTool(conn.ID, "fetch", catalog.MCPToolNew)
	loose := f.newMCPTool(conn.ID, "admin/run", catalog.MCPToolUnpinned)
	loose.ChangedAt, loose.ApprovedBy, loose.ApprovedAt = time.Time{}, "", time.Time{}
	in := []*catalog.MCPTool{search, changed, fresh, loose}
	f.must("PutMCPTools(create)", f.s.PutMCPTools(f.ctx, conn.ID, in))
	for _, t := range in {
		if t.Version != 1 {
			f.t.Errorf("PutMCPTools(create) left %s at version %d, want 1", t.Name, t.Version)
		}
	}
	want := []*catalog.MCPTool{changed, loose, fresh, search} // byte order: "S" < "a" < "f" < "s"
	if d := diff(want, f.mcpTools(conn.ID)); d != "" {
		f.t.Errorf("ListMCPTools (-want +got):\n%s", d)
	}
	got, err := f.s.GetMCPTool(f.ctx, conn.ID, "search")
	f.must("GetMCPTool", err)
	if d := diff(search, got); d != "" {
		f.t.Errorf("GetMCPTool (-want +got):\n%s", d)
	}
	// The caller owns what it got: changing it changes nothing stored.
	got.Description = "changed in memory"
	if again, _ := f.s.GetMCPTool(f.ctx, conn.ID, "search"); again == nil || again.Description != search.Description {
		f.t.Errorf("a record read from the store shares memory with the store")
	}
	_, err = f.s.GetMCPTool(f.ctx, conn.ID, "SEARCH")
	f.wantCode("GetMCPTool(other case)", err, catalog.ResourceDoesNotExist)
	_, err = f.s.GetMCPTool(f.ctx, catalog.NewID(), "search")
	f.wantCode("GetMCPTool(unknown connection)", err, catalog.ResourceDoesNotExist)
	f.must("PutMCPTools(nothing)", f.s.PutMCPTools(f.ctx, conn.ID, nil))
}

func testMCPToolsOptimistic(f *fixture) {
	owner := f.user("owner@example.com")
	conn := f.connection("mcp", owner.ID)
	a, b := f.newMCPTool(conn.ID, "a", catalog.MCPToolPinned), f.newMCPTool(conn.ID, "b", catalog.MCPToolPinned)
	f.must("PutMCPTools(create)", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{a, b}))

	// A replace at the version read succeeds and counts.
	a.State, a.SeenHash, a.LastSeen = catalog.MCPToolChanged, "sha256:other", f.tick()
	f.must("PutMCPTools(replace)", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{a}))
	if a.Version != 2 {
		f.t.Errorf("version after a replace = %d, want 2", a.Version)
	}

	// One stale record fails the whole set: b's fresh replace is not written either.
	before := f.mcpTools(conn.ID)
	staleA := *a
	staleA.Version = 1
	b2 := *b
	b2.Description = "would change"
	err := f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{&b2, &staleA})
	f.wantCode("PutMCPTools(stale)", err, catalog.ResourceAlreadyExists)
	f.wantMessage("PutMCPTools(stale)", err, "changed by someone else")
	if staleA.Version != 1 || b2.Version != b.Version {
		f.t.Errorf("a failed PutMCPTools changed the versions given (%d, %d)", staleA.Version, b2.Version)
	}
	// Creating a record that exists is stale too.
	dup := f.newMCPTool(conn.ID, "b", catalog.MCPToolNew)
	f.wantCode("PutMCPTools(create existing)", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{dup}), catalog.ResourceAlreadyExists)
	// A replace of a record that does not exist is stale as well.
	ghost := f.newMCPTool(conn.ID, "ghost", catalog.MCPToolPinned)
	ghost.Version = 3
	f.wantCode("PutMCPTools(replace missing)", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{ghost}), catalog.ResourceAlreadyExists)
	if d := diff(before, f.mcpTools(conn.ID)); d != "" {
		f.t.Errorf("failed writes changed the records (-before +after):\n%s", d)
	}
}

func testMCPToolsRefused(f *fixture) {
	owner := f.user("owner@example.com")
	conn := f.connection("mcp", owner.ID)
	good := func() *catalog.MCPTool { return f.newMCPTool(conn.ID, "ok", catalog.MCPToolPinned) }
	tests := []struct {
		name   string
		conn   string
		mutate func(t *catalog.MCPTool)
		want   catalog.ErrorCode
	}{
		{"unknown connection", catalog.NewID(), func(t *catalog.MCPTool) { t.ConnectionID = "" }, catalog.ResourceDoesNotExist},
		{"record of another connection", conn.ID, func(t *catalog.MCPTool) { t.ConnectionID = catalog.NewID() }, catalog.InvalidParameterValue},
		{"empty name", conn.ID, func(t *catalog.MCPTool) { t.Name = "" }, catalog.InvalidParameterValue},
		{"name too long", conn.ID, func(t *catalog.MCPTool) { t.Name = strings.Repeat("n", catalog.MaxMCPToolName+1) }, catalog.InvalidParameterValue},
		{"description too long", conn.ID, func(t *catalog.MCPTool) { t.Description = strings.Repeat("d", catalog.MaxMCPToolDescription+1) }, catalog.InvalidParameterValue},
		{"unknown state", conn.ID, func(t *catalog.MCPTool) { t.State = "APPROVED" }, catalog.InvalidParameterValue},
		{"negative version", conn.ID, func(t *catalog.MCPTool) { t.Version = -1 }, catalog.InvalidParameterValue},
	}
	for _, tc := range tests {
		t := good()
		tc.mutate(t)
		if tc.name == "unknown connection" {
			t.ConnectionID = tc.conn
		}
		// A valid record beside the refused one is not written either.
		other := f.newMCPTool(tc.conn, "other", catalog.MCPToolPinned)
		err := f.s.PutMCPTools(f.ctx, tc.conn, []*catalog.MCPTool{other, t})
		f.wantCode("PutMCPTools("+tc.name+")", err, tc.want)
	}
	twice := []*catalog.MCPTool{good(), good()}
	f.wantCode("PutMCPTools(a name twice)", f.s.PutMCPTools(f.ctx, conn.ID, twice), catalog.InvalidParameterValue)
	if got := f.mcpTools(conn.ID); len(got) != 0 {
		f.t.Errorf("refused writes stored %d records, want none", len(got))
	}
}

func testMCPToolsApprove(f *fixture) {
	owner := f.user("owner@example.com")
	conn := f.connection("mcp", owner.ID)
	pinned := f.newMCPTool(conn.ID, "pinned", catalog.MCPToolPinned)
	changed := f.newMCPTool(conn.ID, "changed", catalog.MCPToolChanged)
	fresh := f.newMCPTool(conn.ID, "fresh", catalog.MCPToolNew)
	f.must("PutMCPTools", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{pinned, changed, fresh}))
	before := f.mcpTools(conn.ID)

	// All or nothing: an unknown name (here a case variant) refuses the whole approval.
	_, err := f.s.ApproveMCPTools(f.ctx, conn.ID, []string{"changed", "Fresh"}, owner.ID, f.tick())
	f.wantCode("ApproveMCPTools(unknown name)", err, catalog.ResourceDoesNotExist)
	f.wantMessage("ApproveMCPTools(unknown name)", err, "Fresh")
	if d := diff(before, f.mcpTools(conn.ID)); d != "" {
		f.t.Errorf("a refused approval changed the records (-before +after):\n%s", d)
	}
	_, err = f.s.ApproveMCPTools(f.ctx, catalog.NewID(), []string{"changed"}, owner.ID, f.tick())
	f.wantCode("ApproveMCPTools(unknown connection)", err, catalog.ResourceDoesNotExist)

	at := f.tick()
	got, err := f.s.ApproveMCPTools(f.ctx, conn.ID, []string{"fresh", "changed", "pinned"}, owner.ID, at)
	f.must("ApproveMCPTools", err)
	wantChanged, wantFresh := *changed, *fresh
	for _, w := range []*catalog.MCPTool{&wantChanged, &wantFresh} {
		w.State, w.PinHash, w.ApprovedBy, w.ApprovedAt, w.Version = catalog.MCPToolPinned, w.SeenHash, owner.ID, at, w.Version+1
	}
	// The PINNED tool is left exactly as it was: version and approver too.
	want := []*catalog.MCPTool{&wantChanged, &wantFresh, pinned}
	if d := diff(want, got); d != "" {
		f.t.Errorf("ApproveMCPTools returned (-want +got):\n%s", d)
	}
	if d := diff(want, f.mcpTools(conn.ID)); d != "" {
		f.t.Errorf("records after ApproveMCPTools (-want +got):\n%s", d)
	}
	// A writer that read before the approval cannot undo it.
	changed.State = catalog.MCPToolChanged
	f.wantCode("PutMCPTools(read before the approval)", f.s.PutMCPTools(f.ctx, conn.ID, []*catalog.MCPTool{changed}), catalog.ResourceAlreadyExists)
}

func testMCPToolsDelete(f *fixture) {
	owner := f.user("owner@example.com")
	c1, c2 := f.connection("one", owner.ID), f.connection("two", owner.ID)
	f.must("PutMCPTools(one)", f.s.PutMCPTools(f.ctx, c1.ID, []*catalog.MCPTool{
		f.newMCPTool(c1.ID, "a", catalog.MCPToolPinned), f.newMCPTool(c1.ID, "b", catalog.MCPToolNew)}))
	kept := []*catalog.MCPTool{f.newMCPTool(c2.ID, "a", catalog.MCPToolPinned)}
	f.must("PutMCPTools(two)", f.s.PutMCPTools(f.ctx, c2.ID, kept))
	n, err := f.s.DeleteMCPTools(f.ctx, c1.ID)
	f.must("DeleteMCPTools", err)
	if n != 2 {
		f.t.Errorf("DeleteMCPTools = %d, want 2", n)
	}
	if got := f.mcpTools(c1.ID); len(got) != 0 {
		f.t.Errorf("records after DeleteMCPTools: %d, want none", len(got))
	}
	if d := diff(kept, f.mcpTools(c2.ID)); d != "" {
		f.t.Errorf("DeleteMCPTools touched another connection (-want +got):\n%s", d)
	}
	if n, err := f.s.DeleteMCPTools(f.ctx, c1.ID); n != 0 || err != nil {
		f.t.Errorf("DeleteMCPTools again = %d, %v; want 0, nil", n, err)
	}
	// Records start afresh after a delete.
	f.must("PutMCPTools(after delete)", f.s.PutMCPTools(f.ctx, c1.ID, []*catalog.MCPTool{f.newMCPTool(c1.ID, "a", catalog.MCPToolNew)}))
}

func testMCPToolsCascade(f *fixture) {
	owner := f.user("owner@example.com")
	c1, c2 := f.connection("one", owner.ID), f.connection("two", owner.ID)
	f.must("PutMCPTools(one)", f.s.PutMCPTools(f.ctx, c1.ID, []*catalog.MCPTool{f.newMCPTool(c1.ID, "a", catalog.MCPToolPinned)}))
	kept := []*catalog.MCPTool{f.newMCPTool(c2.ID, "a", catalog.MCPToolPinned)}
	f.must("PutMCPTools(two)", f.s.PutMCPTools(f.ctx, c2.ID, kept))
	f.must("DeleteConnection", f.s.DeleteConnection(f.ctx, c1.ID))
	if got := f.mcpTools(c1.ID); len(got) != 0 {
		f.t.Errorf("records of a deleted connection: %d, want none", len(got))
	}
	_, err := f.s.GetMCPTool(f.ctx, c1.ID, "a")
	f.wantCode("GetMCPTool of a deleted connection", err, catalog.ResourceDoesNotExist)
	if d := diff(kept, f.mcpTools(c2.ID)); d != "" {
		f.t.Errorf("DeleteConnection touched another connection's records (-want +got):\n%s", d)
	}
	// A new connection of the same name has none of the old one's records.
	again := f.connection("one", owner.ID)
	if got := f.mcpTools(again.ID); len(got) != 0 {
		f.t.Errorf("a recreated connection inherited %d records", len(got))
	}
}
