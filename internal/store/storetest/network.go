package storetest

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// networkPolicy returns a policy with every field set, version 0, not yet stored.
func (f *fixture) networkPolicy() *catalog.NetworkPolicy {
	return &catalog.NetworkPolicy{
		RestrictionMode:             catalog.RestrictedAccess,
		EnforcementMode:             catalog.DryRun,
		AllowedDestinations:         []string{"api.github.com", "*.slack.com", "xn--bcher-kva.example"},
		BlockedDestinations:         []string{"evil.example.com"},
		AllowConnectionDestinations: true,
		AllowedIPRanges:             []string{"10.0.0.0/8", "fd00::/8"},
		UpdatedAt:                   f.tick(),
		UpdatedBy:                   catalog.NewID(),
	}
}

// putPolicy stores p or stops the subtest.
func (f *fixture) putPolicy(p *catalog.NetworkPolicy) {
	f.t.Helper()
	f.must(fmt.Sprintf("PutNetworkPolicy(version %d)", p.Version), f.s.PutNetworkPolicy(f.ctx, p))
}

// getPolicy reads the policy or stops the subtest.
func (f *fixture) getPolicy() *catalog.NetworkPolicy {
	f.t.Helper()
	p, err := f.s.GetNetworkPolicy(f.ctx)
	f.must("GetNetworkPolicy", err)
	return p
}

func testNetworkPolicyMissing(f *fixture) {
	_, err := f.s.GetNetworkPolicy(f.ctx)
	f.wantCode("GetNetworkPolicy on a new store", err, catalog.ResourceDoesNotExist)
}

func testNetworkPolicyRoundTrip(f *fixture) {
	p := f.networkPolicy()
	f.putPolicy(p)
	if p.Version != 1 {
		f.t.Errorf("first PutNetworkPolicy set Version %d, want 1", p.Version)
	}
	if d := diff(p, f.getPolicy()); d != "" {
		f.t.Errorf("GetNetworkPolicy after the first put (-want +got):\n%s", d)
	}
	if got := f.getPolicy(); !got.UpdatedAt.Equal(p.UpdatedAt) {
		f.t.Errorf("UpdatedAt = %v, want %v (to the nanosecond)", got.UpdatedAt, p.UpdatedAt)
	}

	// A replace is whole: fields left empty are emptied.
	next := &catalog.NetworkPolicy{
		Version:         p.Version,
		RestrictionMode: catalog.FullAccess,
		EnforcementMode: catalog.Enforced,
		UpdatedAt:       f.tick(),
		UpdatedBy:       "admin-id",
	}
	f.putPolicy(next)
	if next.Version != 2 {
		f.t.Errorf("second PutNetworkPolicy set Version %d, want 2", next.Version)
	}
	if d := diff(next, f.getPolicy()); d != "" {
		f.t.Errorf("GetNetworkPolicy after the second put (-want +got):\n%s", d)
	}

	// The zero policy (empty modes) is stored as it is.
	zero := &catalog.NetworkPolicy{Version: next.Version}
	f.putPolicy(zero)
	if d := diff(&catalog.NetworkPolicy{Version: 3}, f.getPolicy()); d != "" {
		f.t.Errorf("GetNetworkPolicy after storing the zero policy (-want +got):\n%s", d)
	}
}

// testNetworkPolicyCopies: the store keeps no reference to what it is given or returns.
func testNetworkPolicyCopies(f *fixture) {
	p := f.networkPolicy()
	f.putPolicy(p)
	want := f.getPolicy()

	p.AllowedDestinations[0] = "changed.example.com"
	p.AllowedIPRanges[0] = "0.0.0.0/0"
	got := f.getPolicy()
	got.BlockedDestinations[0] = "changed.example.com"
	got.AllowedDestinations = append(got.AllowedDestinations, "more.example.com")
	if d := diff(want, f.getPolicy()); d != "" {
		f.t.Errorf("policy changed by changing slices given or returned (-want +got):\n%s", d)
	}
}

func testNetworkPolicyOptimistic(f *fixture) {
	first := f.networkPolicy()
	f.putPolicy(first) // version 1

	// Two admins read version 1; the first write wins, the second is stale.
	a, b := f.getPolicy(), f.getPolicy()
	a.BlockedDestinations = append(a.BlockedDestinations, "a.example.com")
	b.BlockedDestinations = append(b.BlockedDestinations, "b.example.com")
	f.putPolicy(a)
	err := f.s.PutNetworkPolicy(f.ctx, b)
	f.wantCode("PutNetworkPolicy with a stale version", err, catalog.ResourceAlreadyExists)
	if b.Version != 1 {
		f.t.Errorf("failed PutNetworkPolicy changed Version to %d, want 1", b.Version)
	}
	if d := diff(a, f.getPolicy()); d != "" {
		f.t.Errorf("after the stale put (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"version 0 (create) when a policy is stored", 0},
		{"a version never stored", 99},
		{"the version before", 1},
	} {
		p := f.networkPolicy()
		p.Version = tc.version
		err := f.s.PutNetworkPolicy(f.ctx, p)
		f.wantCode("PutNetworkPolicy with "+tc.name, err, catalog.ResourceAlreadyExists)
		if p.Version != tc.version {
			f.t.Errorf("PutNetworkPolicy with %s: Version changed to %d on failure", tc.name, p.Version)
		}
	}

	// Re-reading and writing again works.
	c := f.getPolicy()
	c.EnforcementMode = catalog.Enforced
	f.putPolicy(c)
	if c.Version != 3 {
		f.t.Errorf("Version after re-read and put = %d, want 3", c.Version)
	}
}

// testNetworkPolicyStaleOnEmpty: a put with a version when nothing is stored is stale
// too, not a create.
func testNetworkPolicyStaleOnEmpty(f *fixture) {
	p := f.networkPolicy()
	p.Version = 1
	err := f.s.PutNetworkPolicy(f.ctx, p)
	f.wantCode("PutNetworkPolicy(version 1) with no policy stored", err, catalog.ResourceAlreadyExists)
	_, err = f.s.GetNetworkPolicy(f.ctx)
	f.wantCode("GetNetworkPolicy after the refused put", err, catalog.ResourceDoesNotExist)
}

func testNetworkPolicyRefused(f *fixture) {
	for _, tc := range []struct {
		name   string
		change func(p *catalog.NetworkPolicy)
	}{
		{"negative version", func(p *catalog.NetworkPolicy) { p.Version = -1 }},
		{"unknown restriction mode", func(p *catalog.NetworkPolicy) { p.RestrictionMode = "RESTRICTED" }},
		{"restriction mode in lower case", func(p *catalog.NetworkPolicy) { p.RestrictionMode = "full_access" }},
		{"unknown enforcement mode", func(p *catalog.NetworkPolicy) { p.EnforcementMode = "ENFORCING" }},
		{"an enforcement mode as restriction mode", func(p *catalog.NetworkPolicy) { p.RestrictionMode = catalog.DryRun }},
	} {
		p := f.networkPolicy()
		tc.change(p)
		f.wantCode("PutNetworkPolicy with "+tc.name, f.s.PutNetworkPolicy(f.ctx, p), catalog.InvalidParameterValue)
	}
	_, err := f.s.GetNetworkPolicy(f.ctx)
	f.wantCode("GetNetworkPolicy after refused puts", err, catalog.ResourceDoesNotExist)
}

func testNetworkPolicyWatch(f *fixture) {
	w := f.watch()
	want := change(catalog.ChangeNetworkPolicy, "default")

	p := f.networkPolicy()
	f.putPolicy(p)
	w.expect("PutNetworkPolicy(create)", want)
	p.EnforcementMode = catalog.Enforced
	f.putPolicy(p)
	w.expect("PutNetworkPolicy(replace)", want)

	stale := f.networkPolicy()
	stale.Version = 1
	if err := f.s.PutNetworkPolicy(f.ctx, stale); err == nil {
		f.t.Errorf("PutNetworkPolicy(stale) succeeded, want an error")
	}
	w.expectNone("PutNetworkPolicy(stale)")
	bad := f.getPolicy()
	bad.RestrictionMode = "NONE"
	if err := f.s.PutNetworkPolicy(f.ctx, bad); err == nil {
		f.t.Errorf("PutNetworkPolicy(bad mode) succeeded, want an error")
	}
	w.expectNone("PutNetworkPolicy(bad mode)")

	f.appendNetwork(f.networkEvent(catalog.SourceEgress, "alice@example.com", catalog.AccessDrop))
	w.expectNone("AppendNetworkEvents")
}

// networkEvent returns an event with every field set, not yet stored. Its time is the
// next tick, so events made in order are in time order too.
func (f *fixture) networkEvent(source, principal, accessType string) *catalog.NetworkEvent {
	return &catalog.NetworkEvent{
		Time:            f.tick(),
		Destination:     fmt.Sprintf("host-%d.example.com:443", f.ticks),
		ResolvedAddress: "192.0.2.10",
		Source:          source,
		Principal:       principal,
		Connection:      "github",
		Reason:          "destination is not in the allowed list",
		AccessType:      accessType,
	}
}

// appendNetwork stores the events as one batch.
func (f *fixture) appendNetwork(events ...*catalog.NetworkEvent) {
	f.t.Helper()
	f.must("AppendNetworkEvents", f.s.AppendNetworkEvents(f.ctx, events))
}

// listNetwork lists with the filter or stops the subtest.
func (f *fixture) listNetwork(filter catalog.NetworkEventFilter) []*catalog.NetworkEvent {
	f.t.Helper()
	got, err := f.s.ListNetworkEvents(f.ctx, filter)
	f.must(fmt.Sprintf("ListNetworkEvents(%+v)", filter), err)
	return got
}

// networkSeqs returns the events' Seqs, for short failure messages.
func networkSeqs(events []*catalog.NetworkEvent) []int64 {
	seqs := make([]int64, len(events))
	for i, e := range events {
		seqs[i] = e.Seq
	}
	return seqs
}

func testNetworkEventsAppendList(f *fixture) {
	first := []*catalog.NetworkEvent{
		f.networkEvent(catalog.SourceProxy, "alice@example.com", catalog.AccessDrop),
		f.networkEvent(catalog.SourceOAuth, "", catalog.AccessDryRunDenial),
		f.networkEvent(catalog.SourceEgress, "billing-agent", catalog.AccessDrop),
	}
	first[1].ResolvedAddress, first[1].Connection = "", ""
	first[2].Reason = "grüße ✓ \u2028 \"quoted\"\nline"
	f.appendNetwork(first...)
	for i, e := range first {
		if e.Seq <= 0 {
			f.t.Errorf("event %d: Seq = %d after AppendNetworkEvents, want it assigned", i, e.Seq)
		}
		if i > 0 && e.Seq <= first[i-1].Seq {
			f.t.Errorf("event %d: Seq = %d, not after %d: the store must keep the batch's order", i, e.Seq, first[i-1].Seq)
		}
	}
	second := []*catalog.NetworkEvent{f.networkEvent(catalog.SourceEgress, "alice@example.com", catalog.AccessDrop)}
	f.appendNetwork(second...)
	if second[0].Seq <= first[2].Seq {
		f.t.Errorf("second batch Seq = %d, not after the first batch's %d", second[0].Seq, first[2].Seq)
	}

	want := append(first, second...)
	got := f.listNetwork(catalog.NetworkEventFilter{})
	if d := diff(want, got); d != "" {
		f.t.Errorf("ListNetworkEvents mismatch (-want +got):\n%s", d)
	}
	for i := range got {
		if i < len(want) && !got[i].Time.Equal(want[i].Time) {
			f.t.Errorf("event %d: Time = %v, want %v (to the nanosecond)", i, got[i].Time, want[i].Time)
		}
	}

	f.must("AppendNetworkEvents of no events", f.s.AppendNetworkEvents(f.ctx, nil))
	if got := f.listNetwork(catalog.NetworkEventFilter{}); len(got) != len(want) {
		f.t.Errorf("after an empty batch: %d events, want %d", len(got), len(want))
	}
}

func testNetworkEventsFilters(f *fixture) {
	a := f.networkEvent(catalog.SourceProxy, "alice@example.com", catalog.AccessDrop)
	b := f.networkEvent(catalog.SourceEgress, "bob@example.com", catalog.AccessDrop)
	c := f.networkEvent(catalog.SourceEgress, "alice@example.com", catalog.AccessDryRunDenial)
	d := f.networkEvent(catalog.SourceOAuth, "alice@example.com", catalog.AccessDrop)
	e := f.networkEvent(catalog.SourceEgress, "admin", catalog.AccessDryRunDenial)
	f.appendNetwork(a, b, c)
	f.appendNetwork(d, e)

	tests := []struct {
		name   string
		filter catalog.NetworkEventFilter
		want   []*catalog.NetworkEvent
	}{
		{"none", catalog.NetworkEventFilter{}, []*catalog.NetworkEvent{a, b, c, d, e}},
		{"source", catalog.NetworkEventFilter{Source: catalog.SourceEgress}, []*catalog.NetworkEvent{b, c, e}},
		{"principal", catalog.NetworkEventFilter{Principal: "alice@example.com"}, []*catalog.NetworkEvent{a, c, d}},
		{"principal is exact", catalog.NetworkEventFilter{Principal: "alice"}, nil},
		{"access type", catalog.NetworkEventFilter{AccessType: catalog.AccessDryRunDenial}, []*catalog.NetworkEvent{c, e}},
		{"source and principal", catalog.NetworkEventFilter{Source: catalog.SourceEgress, Principal: "alice@example.com"}, []*catalog.NetworkEvent{c}},
		{"since is inclusive", catalog.NetworkEventFilter{Since: c.Time}, []*catalog.NetworkEvent{c, d, e}},
		{"until is exclusive", catalog.NetworkEventFilter{Until: c.Time}, []*catalog.NetworkEvent{a, b}},
		{"since and until", catalog.NetworkEventFilter{Since: b.Time, Until: e.Time}, []*catalog.NetworkEvent{b, c, d}},
		{"since in another zone", catalog.NetworkEventFilter{Since: d.Time.UTC()}, []*catalog.NetworkEvent{d, e}},
		{"since a nanosecond later", catalog.NetworkEventFilter{Since: d.Time.Add(time.Nanosecond)}, []*catalog.NetworkEvent{e}},
		{"after seq", catalog.NetworkEventFilter{AfterSeq: b.Seq}, []*catalog.NetworkEvent{c, d, e}},
		{"after seq and access type", catalog.NetworkEventFilter{AfterSeq: a.Seq, AccessType: catalog.AccessDrop}, []*catalog.NetworkEvent{b, d}},
		{"after the last", catalog.NetworkEventFilter{AfterSeq: e.Seq}, nil},
		{"limit", catalog.NetworkEventFilter{Limit: 2}, []*catalog.NetworkEvent{a, b}},
		{"limit with a filter", catalog.NetworkEventFilter{Source: catalog.SourceEgress, Limit: 2}, []*catalog.NetworkEvent{b, c}},
		{"nothing matches", catalog.NetworkEventFilter{Source: "mcp"}, nil},
	}
	for _, tc := range tests {
		got := f.listNetwork(tc.filter)
		if d := diff(networkSeqs(tc.want), networkSeqs(got)); d != "" {
			f.t.Errorf("%s: ListNetworkEvents(%+v) seqs (-want +got):\n%s", tc.name, tc.filter, d)
		}
	}
}

func testNetworkEventsPagination(f *fixture) {
	var want []*catalog.NetworkEvent
	for i := range 25 {
		access := catalog.AccessDrop
		if i%3 == 0 {
			access = catalog.AccessDryRunDenial
		}
		want = append(want, f.networkEvent(catalog.SourceEgress, "alice@example.com", access))
	}
	// Batches of different sizes: pages must not depend on how events were committed.
	f.appendNetwork(want[:1]...)
	f.appendNetwork(want[1:12]...)
	f.appendNetwork(want[12:]...)

	for _, filter := range []catalog.NetworkEventFilter{{}, {AccessType: catalog.AccessDrop}} {
		var expect []*catalog.NetworkEvent
		for _, e := range want {
			if filter.AccessType == "" || e.AccessType == filter.AccessType {
				expect = append(expect, e)
			}
		}
		var got []*catalog.NetworkEvent
		filter.Limit = 7
		for pages := 0; ; pages++ {
			if pages > len(want) {
				f.t.Fatalf("pagination with %+v does not end", filter)
			}
			page := f.listNetwork(filter)
			if len(page) > filter.Limit {
				f.t.Fatalf("page of %d events, over the limit of %d", len(page), filter.Limit)
			}
			got = append(got, page...)
			if len(page) < filter.Limit {
				break
			}
			filter.AfterSeq = page[len(page)-1].Seq
		}
		if d := diff(networkSeqs(expect), networkSeqs(got)); d != "" {
			f.t.Errorf("paging with access type %q (-want +got):\n%s", filter.AccessType, d)
		}
	}
}

func testNetworkEventsLimits(f *fixture) {
	var events []*catalog.NetworkEvent
	for range 1005 {
		events = append(events, f.networkEvent(catalog.SourceEgress, "alice@example.com", catalog.AccessDrop))
	}
	f.appendNetwork(events...)
	for _, tc := range []struct{ limit, want int }{
		{0, 100},
		{-1, 100},
		{1, 1},
		{1000, 1000},
		{5000, 1000},
	} {
		if got := f.listNetwork(catalog.NetworkEventFilter{Limit: tc.limit}); len(got) != tc.want {
			f.t.Errorf("ListNetworkEvents(Limit: %d) = %d events, want %d", tc.limit, len(got), tc.want)
		}
	}
	// The whole batch went in, in order.
	if got := f.listNetwork(catalog.NetworkEventFilter{AfterSeq: events[999].Seq}); len(got) != 5 || got[4].Seq != events[1004].Seq {
		f.t.Errorf("after event 999: %v, want the last 5 events", networkSeqs(got))
	}
}

// testNetworkEventsBatchAtomic: a batch is one transaction, so a batch with one bad
// event stores none of them and assigns no Seq.
func testNetworkEventsBatchAtomic(f *fixture) {
	stored := f.networkEvent(catalog.SourceProxy, "alice@example.com", catalog.AccessDrop)
	f.appendNetwork(stored)

	for _, tc := range []struct {
		name   string
		change func(e *catalog.NetworkEvent)
	}{
		{"an unknown access type", func(e *catalog.NetworkEvent) { e.AccessType = "DENY" }},
		{"no access type", func(e *catalog.NetworkEvent) { e.AccessType = "" }},
		{"no time", func(e *catalog.NetworkEvent) { e.Time = time.Time{} }},
	} {
		fresh := f.networkEvent(catalog.SourceEgress, "bob@example.com", catalog.AccessDrop)
		bad := f.networkEvent(catalog.SourceEgress, "bob@example.com", catalog.AccessDrop)
		tc.change(bad)
		err := f.s.AppendNetworkEvents(f.ctx, []*catalog.NetworkEvent{fresh, bad})
		f.wantCode("AppendNetworkEvents with "+tc.name, err, catalog.InvalidParameterValue)
		if fresh.Seq != 0 || bad.Seq != 0 {
			f.t.Errorf("failed AppendNetworkEvents with %s assigned Seq %d, %d; want none", tc.name, fresh.Seq, bad.Seq)
		}
	}
	if got := f.listNetwork(catalog.NetworkEventFilter{}); len(got) != 1 || got[0].Seq != stored.Seq {
		f.t.Errorf("after failed batches: %v, want only %d", networkSeqs(got), stored.Seq)
	}
}
