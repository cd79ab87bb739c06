package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// auditEvent returns an audit event with every field set, not yet stored. Its time is
// the next tick, so events made in order are in time order too.
func (f *fixture) auditEvent(action, principal, connection string) *catalog.AuditEvent {
	return &catalog.AuditEvent{
		EventID:    catalog.NewID(),
		EventTime:  f.tick(),
		ActionName: action,
		Principal:  principal,
		SourceIP:   "192.0.2.7",
		RequestID:  "req-" + catalog.NewID()[:8],
		Connection: connection,
		Params:     map[string]string{"method": "GET", "path": "/v1/items"},
		StatusCode: 200,
		Decision:   catalog.DecisionAllow,
		PrevHash:   fmt.Sprintf("%064d", f.ticks-1),
		Hash:       fmt.Sprintf("%064d", f.ticks),
	}
}

// appendAudit stores the events as one batch.
func (f *fixture) appendAudit(events ...*catalog.AuditEvent) {
	f.t.Helper()
	f.must("AppendAudit", f.s.AppendAudit(f.ctx, events))
}

// listAudit lists with the filter or stops the subtest.
func (f *fixture) listAudit(filter catalog.AuditFilter) []*catalog.AuditEvent {
	f.t.Helper()
	got, err := f.s.ListAudit(f.ctx, filter)
	f.must(fmt.Sprintf("ListAudit(%+v)", filter), err)
	return got
}

// auditIDs returns the event IDs, for short failure messages.
func auditIDs(events []*catalog.AuditEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

func testAuditAppendList(f *fixture) {
	first := []*catalog.AuditEvent{
		f.auditEvent(catalog.ActionCreateConnection, "alice@example.com", "github"),
		f.auditEvent(catalog.ActionUseConnection, "billing-agent", "github"),
		f.auditEvent(catalog.ActionTokenCreate, "admin", ""),
	}
	first[2].Params = nil
	first[1].StatusCode, first[1].ErrorCode, first[1].Decision = 403, string(catalog.PermissionDenied), catalog.DecisionDeny
	f.appendAudit(first...)
	for i, e := range first {
		if e.Seq <= 0 {
			f.t.Errorf("event %d: Seq = %d after AppendAudit, want it assigned", i, e.Seq)
		}
		if i > 0 && e.Seq <= first[i-1].Seq {
			f.t.Errorf("event %d: Seq = %d, not after %d: the store must keep the batch's order", i, e.Seq, first[i-1].Seq)
		}
	}
	second := []*catalog.AuditEvent{f.auditEvent(catalog.ActionDeleteConnection, "alice@example.com", "github")}
	f.appendAudit(second...)
	if second[0].Seq <= first[2].Seq {
		f.t.Errorf("second batch Seq = %d, not after the first batch's %d", second[0].Seq, first[2].Seq)
	}

	want := append(first, second...)
	got := f.listAudit(catalog.AuditFilter{})
	if d := diff(want, got); d != "" {
		f.t.Errorf("ListAudit mismatch (-want +got):\n%s", d)
	}
	last, err := f.s.LastAudit(f.ctx)
	f.must("LastAudit", err)
	if d := diff(second[0], last); d != "" {
		f.t.Errorf("LastAudit mismatch (-want +got):\n%s", d)
	}

	f.must("AppendAudit of no events", f.s.AppendAudit(f.ctx, nil))
	if got := f.listAudit(catalog.AuditFilter{}); len(got) != len(want) {
		f.t.Errorf("after an empty batch: %d events, want %d", len(got), len(want))
	}
}

func testAuditLastEmpty(f *fixture) {
	_, err := f.s.LastAudit(f.ctx)
	f.wantCode("LastAudit on an empty log", err, catalog.ResourceDoesNotExist)
	if got := f.listAudit(catalog.AuditFilter{}); len(got) != 0 {
		f.t.Errorf("ListAudit on an empty log = %v, want none", auditIDs(got))
	}
}

func testAuditParams(f *fixture) {
	e := f.auditEvent(catalog.ActionUpdateConnection, "alice@example.com", "github")
	e.Params = map[string]string{
		"options":        `{"host":"https://api.github.com"}`,
		"empty":          "",
		"unicode":        "grüße ✓ \u2028",
		"quote\"key":     "line1\nline2\ttab",
		"client_secret":  "hmac-sha256:0123abcd",
		"with spaces in": "  padded  ",
	}
	f.appendAudit(e)
	got := f.listAudit(catalog.AuditFilter{})
	if len(got) != 1 {
		f.t.Fatalf("ListAudit = %d events, want 1", len(got))
	}
	if d := diff(e.Params, got[0].Params); d != "" {
		f.t.Errorf("params round trip (-want +got):\n%s", d)
	}
	if !got[0].EventTime.Equal(e.EventTime) {
		f.t.Errorf("EventTime = %v, want %v (to the nanosecond)", got[0].EventTime, e.EventTime)
	}
}

func testAuditFilters(f *fixture) {
	a := f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "github")
	b := f.auditEvent(catalog.ActionUseConnection, "bob@example.com", "github")
	c := f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "slack")
	d := f.auditEvent(catalog.ActionTokenCreate, "alice@example.com", "")
	e := f.auditEvent(catalog.ActionUpdatePermissions, "admin", "github")
	b.Decision = catalog.DecisionDeny // the console's decision filter (issue 13)
	f.appendAudit(a, b, c)
	f.appendAudit(d, e)

	tests := []struct {
		name   string
		filter catalog.AuditFilter
		want   []*catalog.AuditEvent
	}{
		{"none", catalog.AuditFilter{}, []*catalog.AuditEvent{a, b, c, d, e}},
		{"principal", catalog.AuditFilter{Principal: "alice@example.com"}, []*catalog.AuditEvent{a, c, d}},
		{"principal is exact", catalog.AuditFilter{Principal: "alice"}, nil},
		{"connection", catalog.AuditFilter{Connection: "github"}, []*catalog.AuditEvent{a, b, e}},
		{"action", catalog.AuditFilter{Action: catalog.ActionUseConnection}, []*catalog.AuditEvent{a, b, c}},
		{"principal and connection", catalog.AuditFilter{Principal: "alice@example.com", Connection: "github"}, []*catalog.AuditEvent{a}},
		{"since is inclusive", catalog.AuditFilter{Since: c.EventTime}, []*catalog.AuditEvent{c, d, e}},
		{"until is exclusive", catalog.AuditFilter{Until: c.EventTime}, []*catalog.AuditEvent{a, b}},
		{"since and until", catalog.AuditFilter{Since: b.EventTime, Until: e.EventTime}, []*catalog.AuditEvent{b, c, d}},
		{"since in another zone", catalog.AuditFilter{Since: d.EventTime.UTC()}, []*catalog.AuditEvent{d, e}},
		{"since a nanosecond later", catalog.AuditFilter{Since: d.EventTime.Add(time.Nanosecond)}, []*catalog.AuditEvent{e}},
		{"after seq", catalog.AuditFilter{AfterSeq: b.Seq}, []*catalog.AuditEvent{c, d, e}},
		{"after seq and principal", catalog.AuditFilter{AfterSeq: a.Seq, Principal: "alice@example.com"}, []*catalog.AuditEvent{c, d}},
		{"after the last", catalog.AuditFilter{AfterSeq: e.Seq}, nil},
		{"limit", catalog.AuditFilter{Limit: 2}, []*catalog.AuditEvent{a, b}},
		{"limit with a filter", catalog.AuditFilter{Connection: "github", Limit: 2}, []*catalog.AuditEvent{a, b}},
		{"nothing matches", catalog.AuditFilter{Action: catalog.ActionOAuthLogin}, nil},
		{"decision", catalog.AuditFilter{Decision: catalog.DecisionDeny}, []*catalog.AuditEvent{b}},
		{"decision and principal", catalog.AuditFilter{Decision: catalog.DecisionDeny, Principal: "alice@example.com"}, nil},
		{"descending", catalog.AuditFilter{Descending: true}, []*catalog.AuditEvent{e, d, c, b, a}},
		{"descending limit is the newest", catalog.AuditFilter{Descending: true, Limit: 2}, []*catalog.AuditEvent{e, d}},
		{"descending before seq", catalog.AuditFilter{Descending: true, BeforeSeq: d.Seq}, []*catalog.AuditEvent{c, b, a}},
		{"descending before seq with a filter", catalog.AuditFilter{Descending: true, BeforeSeq: e.Seq, Principal: "alice@example.com", Limit: 2}, []*catalog.AuditEvent{d, c}},
		{"descending between seqs", catalog.AuditFilter{Descending: true, AfterSeq: a.Seq, BeforeSeq: d.Seq}, []*catalog.AuditEvent{c, b}},
		{"descending since", catalog.AuditFilter{Descending: true, Since: c.EventTime}, []*catalog.AuditEvent{e, d, c}},
		{"descending before the first", catalog.AuditFilter{Descending: true, BeforeSeq: a.Seq}, nil},
	}
	for _, tc := range tests {
		got := f.listAudit(tc.filter)
		if d := diff(auditIDs(tc.want), auditIDs(got)); d != "" {
			f.t.Errorf("%s: ListAudit(%+v) event ids (-want +got):\n%s", tc.name, tc.filter, d)
		}
	}
}

func testAuditPagination(f *fixture) {
	var want []*catalog.AuditEvent
	for i := range 25 {
		action := catalog.ActionUseConnection
		if i%3 == 0 {
			action = catalog.ActionOAuthRefresh
		}
		want = append(want, f.auditEvent(action, "alice@example.com", "github"))
	}
	// Batches of different sizes: pages must not depend on how events were committed.
	f.appendAudit(want[:1]...)
	f.appendAudit(want[1:12]...)
	f.appendAudit(want[12:]...)

	for _, filter := range []catalog.AuditFilter{{}, {Action: catalog.ActionUseConnection}} {
		var expect []*catalog.AuditEvent
		for _, e := range want {
			if filter.Action == "" || e.ActionName == filter.Action {
				expect = append(expect, e)
			}
		}
		var got []*catalog.AuditEvent
		filter.Limit = 7
		for pages := 0; ; pages++ {
			if pages > len(want) {
				f.t.Fatalf("pagination with %+v does not end", filter)
			}
			page := f.listAudit(filter)
			if len(page) > filter.Limit {
				f.t.Fatalf("page of %d events, over the limit of %d", len(page), filter.Limit)
			}
			got = append(got, page...)
			if len(page) < filter.Limit {
				break
			}
			filter.AfterSeq = page[len(page)-1].Seq
		}
		if d := diff(auditIDs(expect), auditIDs(got)); d != "" {
			f.t.Errorf("paging with action %q (-want +got):\n%s", filter.Action, d)
		}
	}
}

func testAuditLimits(f *fixture) {
	var events []*catalog.AuditEvent
	for range 1005 {
		events = append(events, f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "github"))
	}
	f.appendAudit(events...)
	for _, tc := range []struct{ limit, want int }{
		{0, 100},
		{-1, 100},
		{1, 1},
		{1000, 1000},
		{5000, 1000},
	} {
		if got := f.listAudit(catalog.AuditFilter{Limit: tc.limit}); len(got) != tc.want {
			f.t.Errorf("ListAudit(Limit: %d) = %d events, want %d", tc.limit, len(got), tc.want)
		}
	}
}

// testAuditBatchAtomic: a batch is one transaction, so a batch with one bad event
// stores none of them and assigns no Seq.
func testAuditBatchAtomic(f *fixture) {
	stored := f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "github")
	f.appendAudit(stored)

	fresh := f.auditEvent(catalog.ActionUseConnection, "bob@example.com", "github")
	dup := f.auditEvent(catalog.ActionUseConnection, "bob@example.com", "github")
	dup.ActionName = ""
	err := f.s.AppendAudit(f.ctx, []*catalog.AuditEvent{fresh, dup})
	f.wantCode("AppendAudit with an event without an action", err, catalog.InvalidParameterValue)
	if fresh.Seq != 0 || dup.Seq != 0 {
		f.t.Errorf("failed AppendAudit assigned Seq %d, %d; want none", fresh.Seq, dup.Seq)
	}
	if got := f.listAudit(catalog.AuditFilter{}); len(got) != 1 || got[0].EventID != stored.EventID {
		f.t.Errorf("after a failed batch: %v, want only %s", auditIDs(got), stored.EventID)
	}
	// The same batch, fixed, goes in.
	dup.ActionName = catalog.ActionUseConnection
	f.appendAudit(fresh, dup)
	if got := f.listAudit(catalog.AuditFilter{}); len(got) != 3 {
		f.t.Errorf("after retrying the batch: %d events, want 3", len(got))
	}
}

// testLink is the link function of the chained-append tests: a hash of the previous
// hash and the event's id, so that every stored link can be recomputed.
func testLink(prev string, e *catalog.AuditEvent) error {
	e.PrevHash = prev
	sum := sha256.Sum256([]byte(prev + "/" + e.EventID))
	e.Hash = hex.EncodeToString(sum[:])
	return nil
}

// testAuditChainedRules: a chained append links to the newest stored event (one that
// AppendAudit stored as given included), passes "" on an empty log, and an error of
// link stores nothing and comes back as it is.
func testAuditChainedRules(f *fixture) {
	var prevs []string
	record := func(prev string, e *catalog.AuditEvent) error {
		prevs = append(prevs, prev)
		return testLink(prev, e)
	}
	first := []*catalog.AuditEvent{f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "github"), f.auditEvent(catalog.ActionUseConnection, "bob@example.com", "github")}
	f.must("AppendAuditChained on an empty log", f.s.AppendAuditChained(f.ctx, first, record))
	if d := diff([]string{"", first[0].Hash}, prevs); d != "" {
		f.t.Errorf("link's prevHash on an empty log (-want +got):\n%s", d)
	}
	if first[0].Seq <= 0 || first[1].Seq <= first[0].Seq {
		f.t.Errorf("Seqs %d, %d: want them assigned, increasing", first[0].Seq, first[1].Seq)
	}

	copied := f.auditEvent(catalog.ActionTokenCreate, "admin", "")
	copied.PrevHash, copied.Hash = first[1].Hash, "copied-as-given"
	f.appendAudit(copied)
	prevs = nil
	next := f.auditEvent(catalog.ActionUseConnection, "alice@example.com", "slack")
	f.must("AppendAuditChained after AppendAudit", f.s.AppendAuditChained(f.ctx, []*catalog.AuditEvent{next}, record))
	if d := diff([]string{"copied-as-given"}, prevs); d != "" {
		f.t.Errorf("link's prevHash after AppendAudit (-want +got):\n%s", d)
	}

	boom := errors.New("link refused")
	bad := []*catalog.AuditEvent{f.auditEvent(catalog.ActionUseConnection, "carol@example.com", "github"), f.auditEvent(catalog.ActionUseConnection, "carol@example.com", "github")}
	calls := 0
	err := f.s.AppendAuditChained(f.ctx, bad, func(prev string, e *catalog.AuditEvent) error {
		if calls++; calls == 2 {
			return boom
		}
		return testLink(prev, e)
	})
	if !errors.Is(err, boom) {
		f.t.Errorf("AppendAuditChained with a failing link = %v, want its error", err)
	}
	if bad[0].Seq != 0 || bad[1].Seq != 0 {
		f.t.Errorf("a failed chained append assigned Seq %d, %d", bad[0].Seq, bad[1].Seq)
	}
	want := []*catalog.AuditEvent{first[0], first[1], copied, next}
	if d := diff(auditIDs(want), auditIDs(f.listAudit(catalog.AuditFilter{}))); d != "" {
		f.t.Errorf("log after a failed chained append (-want +got):\n%s", d)
	}
	last, err := f.s.LastAudit(f.ctx)
	f.must("LastAudit", err)
	if d := diff(next, last); d != "" {
		f.t.Errorf("LastAudit after chained appends (-want +got):\n%s", d)
	}
}

// testAuditChained runs ChainedAppend with two writers on the subtest's one store.
func testAuditChained(f *fixture) { ChainedAppend(f.t, f.s, f.s) }

// ChainedAppend checks that the AppendAuditChained batches of two concurrent writers,
// one through a and one through b (one store, or two handles on one database, as two
// replicas have), make one chain: every event's prev_hash is the hash of the event
// before it in Seq order, the first one's is "", each batch is whole and in its order,
// and nothing is lost. A store runs it with two handles from its own tests.
func ChainedAppend(t *testing.T, a, b catalog.AuditStore) {
	t.Helper()
	const batches, size = 25, 4
	f := &fixture{t: t, ctx: t.Context()}
	writers := []catalog.AuditStore{a, b}
	made := make([][][]*catalog.AuditEvent, len(writers))
	for w := range writers {
		for range batches {
			var batch []*catalog.AuditEvent
			for range size {
				batch = append(batch, f.auditEvent(catalog.ActionUseConnection, fmt.Sprintf("writer-%d", w), "github"))
			}
			made[w] = append(made[w], batch)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(writers))
	for w, s := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range made[w] {
				if err := s.AppendAuditChained(t.Context(), batch, testLink); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: AppendAuditChained: %v", w, err)
		}
	}

	var all []*catalog.AuditEvent
	for after := int64(0); len(all) <= len(writers)*batches*size; {
		page, err := a.ListAudit(t.Context(), catalog.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	if want := len(writers) * batches * size; len(all) != want {
		t.Fatalf("the log holds %d events, want %d", len(all), want)
	}
	pos := make(map[string]int, len(all))
	prev := ""
	for i, e := range all {
		pos[e.EventID] = i
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("event %d: Seq %d after %d", i, e.Seq, all[i-1].Seq)
		}
		if e.PrevHash != prev {
			t.Fatalf("event %d (%s): prev_hash %q, want the hash before it %q: the chain forked", i, e.EventID, e.PrevHash, prev)
		}
		c := *e
		if err := testLink(prev, &c); err != nil || c.Hash != e.Hash {
			t.Fatalf("event %d (%s): hash %q, want %q", i, e.EventID, e.Hash, c.Hash)
		}
		prev = e.Hash
	}
	for w := range made {
		for j, batch := range made[w] {
			p, ok := pos[batch[0].EventID]
			for k, e := range batch {
				if !ok || pos[e.EventID] != p+k {
					t.Fatalf("writer %d batch %d: event %d is at %d, want %d: a batch was split or reordered", w, j, k, pos[e.EventID], p+k)
				}
				if e.Seq != all[p+k].Seq || e.Hash != all[p+k].Hash {
					t.Fatalf("writer %d batch %d: event %d has Seq %d hash %s, the stored one %d %s", w, j, k, e.Seq, e.Hash, all[p+k].Seq, all[p+k].Hash)
				}
			}
		}
	}
}
