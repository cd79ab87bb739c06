package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// ---- helpers ----

func openStore(tb testing.TB) (*sqlite.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gatehouse.db")
	db, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, path
}

// newRecorder starts a recorder and closes it when the test ends.
func newRecorder(tb testing.TB, s catalog.AuditStore, log *slog.Logger, opts audit.Options) *audit.Recorder {
	tb.Helper()
	r, err := audit.New(s, log, opts)
	if err != nil {
		tb.Fatalf("audit.New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

// listAll reads the whole log, page by page.
func listAll(tb testing.TB, s catalog.AuditStore) []*catalog.AuditEvent {
	tb.Helper()
	var all []*catalog.AuditEvent
	after := int64(0)
	for {
		page, err := s.ListAudit(tb.Context(), catalog.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			tb.Fatalf("ListAudit: %v", err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

func links(events []*catalog.AuditEvent) []audit.Link {
	out := make([]audit.Link, len(events))
	for i, e := range events {
		out[i] = audit.LinkOf(e)
	}
	return out
}

// wantIntact fails unless the log holds exactly want events, each once, in an intact
// chain.
func wantIntact(tb testing.TB, s catalog.AuditStore, want int) []*catalog.AuditEvent {
	tb.Helper()
	all := listAll(tb, s)
	if len(all) != want {
		tb.Errorf("log holds %d events, want %d", len(all), want)
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.EventID] {
			tb.Errorf("event %s stored twice", e.EventID)
		}
		seen[e.EventID] = true
	}
	if n, err := audit.Verify(links(all)); err != nil {
		tb.Errorf("Verify = %d, %v; want an intact chain", n, err)
	}
	return all
}

func flush(tb testing.TB, r *audit.Recorder) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
}

func event(i int) *catalog.AuditEvent {
	return &catalog.AuditEvent{
		ActionName: catalog.ActionUseConnection,
		Principal:  fmt.Sprintf("user%d@example.com", i%7),
		SourceIP:   "192.0.2.7",
		RequestID:  fmt.Sprintf("req-%d", i),
		Connection: "github",
		Params:     map[string]string{"method": "GET", "path": fmt.Sprintf("/v1/items/%d", i)},
		StatusCode: 200,
		Decision:   catalog.DecisionAllow,
	}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func bufferLog() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// countingStore counts appends (AppendAudit and AppendAuditChained calls).
type countingStore struct {
	catalog.AuditStore
	calls atomic.Int64
}

func (s *countingStore) AppendAudit(ctx context.Context, events []*catalog.AuditEvent) error {
	s.calls.Add(1)
	return s.AuditStore.AppendAudit(ctx, events)
}

func (s *countingStore) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	s.calls.Add(1)
	return s.AuditStore.AppendAuditChained(ctx, events, link)
}

// gatedStore holds every append until release is closed, and says on entered when one
// starts waiting.
type gatedStore struct {
	catalog.AuditStore
	entered chan struct{}
	release chan struct{}
}

func newGatedStore(s catalog.AuditStore) *gatedStore {
	return &gatedStore{AuditStore: s, entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (s *gatedStore) AppendAudit(ctx context.Context, events []*catalog.AuditEvent) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	return s.AuditStore.AppendAudit(ctx, events)
}

func (s *gatedStore) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	return s.AuditStore.AppendAuditChained(ctx, events, link)
}

func (s *gatedStore) gate(ctx context.Context) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flakyStore fails the first failures appends. With commitFirst, each failing call
// stores the batch before it reports the failure: a commit whose answer was lost.
type flakyStore struct {
	catalog.AuditStore
	commitFirst bool
	mu          sync.Mutex
	failures    int
}

func (s *flakyStore) AppendAudit(ctx context.Context, events []*catalog.AuditEvent) error {
	return s.append(func() error { return s.AuditStore.AppendAudit(ctx, events) })
}

func (s *flakyStore) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	return s.append(func() error { return s.AuditStore.AppendAuditChained(ctx, events, link) })
}

func (s *flakyStore) append(store func() error) error {
	s.mu.Lock()
	fail := s.failures > 0
	if fail {
		s.failures--
	}
	s.mu.Unlock()
	if !fail {
		return store()
	}
	if s.commitFirst {
		if err := store(); err != nil {
			return err
		}
		return errors.New("connection reset while reading the commit's answer")
	}
	return errors.New("disk I/O error")
}

// ---- tests ----

func TestRecordFillsAndStores(t *testing.T) {
	db, _ := openStore(t)
	now := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("IST", 5*3600+1800))
	r := newRecorder(t, db, nil, audit.Options{Now: func() time.Time { return now }})

	e := event(1)
	e.ErrorCode = ""
	r.Record(t.Context(), e)
	if e.EventID == "" {
		t.Errorf("Record did not fill EventID")
	}
	if want := now.Truncate(time.Millisecond); !e.EventTime.Equal(want) {
		t.Errorf("EventTime = %v, want %v (the clock, truncated to the millisecond)", e.EventTime, want)
	}
	// The recorder keeps its own copy: changing the caller's event later changes nothing.
	e.Params["path"] = "/changed"
	e.Principal = "mallory"

	given := event(2)
	given.EventID = "given-id"
	given.EventTime = time.Date(2024, 1, 2, 3, 4, 5, 678999999, time.UTC)
	r.Record(t.Context(), given)
	flush(t, r)

	all := wantIntact(t, db, 2)
	if len(all) != 2 {
		t.FailNow()
	}
	if got := all[0]; got.EventID != e.EventID || got.Principal != "user1@example.com" || got.Params["path"] != "/v1/items/1" {
		t.Errorf("stored %+v; want the event as it was when recorded", got)
	}
	if got := all[1]; got.EventID != "given-id" || !got.EventTime.Equal(time.Date(2024, 1, 2, 3, 4, 5, 678000000, time.UTC)) {
		t.Errorf("stored %s at %v; want the given id and time, truncated to the millisecond", got.EventID, got.EventTime)
	}
	if all[0].PrevHash != audit.Genesis || all[1].PrevHash != all[0].Hash {
		t.Errorf("chain = %s→%s, %s→%s; want it to start at Genesis", all[0].PrevHash, all[0].Hash, all[1].PrevHash, all[1].Hash)
	}
}

// The hash covers the event as the API shows it, JSON and all: strings with invalid
// UTF-8 (which JSON encoding replaces) must still verify from the API's view.
func TestChainVerifiesThroughJSON(t *testing.T) {
	db, _ := openStore(t)
	r := newRecorder(t, db, nil, audit.Options{})
	e := event(1)
	e.Principal = "al\xffice"
	e.Params = map[string]string{"k\xfe": "v\xff\xff", "ok": "✓"}
	e.Connection = ""
	r.Record(t.Context(), e)
	r.Record(t.Context(), event(2))
	flush(t, r)

	// What a client of the API gets: the events after a JSON round trip.
	b, err := json.Marshal(links(listAll(t, db)))
	if err != nil {
		t.Fatal(err)
	}
	var viewed []audit.Link
	if err := json.Unmarshal(b, &viewed); err != nil {
		t.Fatal(err)
	}
	if n, err := audit.Verify(viewed); err != nil || n != 2 {
		t.Errorf("Verify of the JSON view = %d, %v; want 2, nil", n, err)
	}
}

func TestRecordRefusesInvalidEvents(t *testing.T) {
	db, _ := openStore(t)
	log, logs := bufferLog()
	r := newRecorder(t, db, log, audit.Options{})
	bad := event(1)
	bad.ActionName = ""
	r.Record(t.Context(), bad)
	outOfRange := event(2)
	outOfRange.EventTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Record(t.Context(), outOfRange)
	r.Record(t.Context(), event(3))
	flush(t, r)
	wantIntact(t, db, 1)
	if got := r.Stats().Lost; got != 2 {
		t.Errorf("Lost = %d, want 2", got)
	}
	if !strings.Contains(logs.String(), "audit event refused") {
		t.Errorf("log does not report the refused events:\n%s", logs)
	}
}

func TestChainContinuesAcrossRecorders(t *testing.T) {
	db, path := openStore(t)
	ctx := t.Context()
	r1, err := audit.New(db, nil, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r1.Record(ctx, event(i))
	}
	if err := r1.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A new process: another handle on the same file.
	db2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	r2, err := audit.New(db2, nil, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r2.Record(ctx, event(10+i))
	}
	if err := r2.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	all := wantIntact(t, db2, 5)
	if len(all) == 5 && all[3].PrevHash != all[2].Hash {
		t.Errorf("the second recorder's first event follows %s, want %s", all[3].PrevHash, all[2].Hash)
	}
}

// Tampering with the stored log, as someone with write access to the file would, is
// found at the right event.
func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		row       int // the row changed (by event id)
		wantIndex int
	}{
		{"principal changed", "UPDATE audit_events SET principal = 'mallory' WHERE event_id = ?", 4, 4},
		{"params changed", `UPDATE audit_events SET params = '{"method":"GET","path":"/admin"}' WHERE event_id = ?`, 5, 5},
		{"time changed", "UPDATE audit_events SET event_time = event_time + 1000000 WHERE event_id = ?", 2, 2},
		{"denial turned into an allow", "UPDATE audit_events SET decision = 'ALLOW', status_code = 200 WHERE event_id = ?", 7, 7},
		{"hash replaced", "UPDATE audit_events SET hash = '" + strings.Repeat("ab", 32) + "' WHERE event_id = ?", 3, 3},
		{"middle event removed", "DELETE FROM audit_events WHERE event_id = ?", 6, 6},
		{"first event removed", "DELETE FROM audit_events WHERE event_id = ?", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openStore(t)
			r := newRecorder(t, db, nil, audit.Options{})
			for i := range 10 {
				e := event(i)
				if i == 7 {
					e.StatusCode, e.ErrorCode, e.Decision = 403, "PERMISSION_DENIED", catalog.DecisionDeny
				}
				r.Record(t.Context(), e)
			}
			flush(t, r)
			before := wantIntact(t, db, 10)

			other, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := other.ExecContext(t.Context(), tt.sql, before[tt.row].EventID); err != nil {
				t.Fatalf("tamper: %v", err)
			}

			after := listAll(t, db)
			n, err := audit.Verify(links(after))
			var ce *audit.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify after tampering = %d, %v; want a *ChainError", n, err)
			}
			if n != tt.wantIndex || ce.Index != tt.wantIndex || ce.EventID != after[tt.wantIndex].EventID {
				t.Errorf("Verify = %d, %v; want the break at #%d (%s)", n, err, tt.wantIndex, after[tt.wantIndex].EventID)
			}
		})
	}
}

// TestGroupCommit: many callers at once make far fewer transactions than events, and
// every event is stored once, in one consistent chain.
func TestGroupCommit(t *testing.T) {
	db, _ := openStore(t)
	cs := &countingStore{AuditStore: db}
	r := newRecorder(t, cs, nil, audit.Options{})
	const goroutines, each = 50, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.Record(t.Context(), event(g*each+i))
			}
		})
	}
	wg.Wait()
	flush(t, r)
	const total = goroutines * each
	calls := cs.calls.Load()
	st := r.Stats()
	t.Logf("%d events in %d AppendAudit calls (%.1f events per batch, largest %d)", total, calls, float64(total)/float64(calls), st.LargestBatch)
	if calls >= total/4 {
		t.Errorf("AppendAudit calls = %d for %d events; want fewer than %d (group commit)", calls, total, total/4)
	}
	if st.Events != total || st.Batches != calls || st.Lost != 0 || st.Failures != 0 {
		t.Errorf("Stats = %+v; want %d events in %d batches, none lost or failed", st, total, calls)
	}
	if st.LargestBatch > audit.DefaultMaxBatch {
		t.Errorf("largest batch = %d, over MaxBatch %d", st.LargestBatch, audit.DefaultMaxBatch)
	}
	wantIntact(t, db, total)
}

// TestBackPressure: when the store stalls and the queue is full, Record blocks rather
// than drop; a caller whose context ends gives up, and that is logged without params.
func TestBackPressure(t *testing.T) {
	db, _ := openStore(t)
	gs := newGatedStore(db)
	log, logs := bufferLog()
	r := newRecorder(t, gs, log, audit.Options{QueueSize: 4, MaxBatch: 1, MaxDelay: time.Millisecond})

	r.Record(t.Context(), event(0))
	<-gs.entered // the writer holds event 0 and waits on the store
	for i := 1; i <= 4; i++ {
		r.Record(t.Context(), event(i)) // fills the queue without blocking
	}

	returned := make(chan struct{})
	go func() {
		r.Record(context.Background(), event(5))
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Record returned although the queue is full")
	case <-time.After(100 * time.Millisecond):
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	lost := event(6)
	lost.Params = map[string]string{"secretish": "canary-8c1f"}
	start := time.Now()
	r.Record(ctx, lost)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("Record with a full queue returned after %v; want it to wait for its context", d)
	}
	if got := r.Stats().Lost; got != 1 {
		t.Errorf("Lost = %d, want 1", got)
	}
	out := logs.String()
	if !strings.Contains(out, "audit record lost") || !strings.Contains(out, lost.EventID) {
		t.Errorf("log does not report the lost record %s:\n%s", lost.EventID, out)
	}
	if strings.Contains(out, "canary-8c1f") {
		t.Errorf("the log of a lost record contains its params:\n%s", out)
	}

	close(gs.release)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Record still blocked after the store recovered")
	}
	flush(t, r)
	wantIntact(t, db, 6)
}

func TestStoreErrorsAreRetried(t *testing.T) {
	for _, commitFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("commitFirst=%v", commitFirst), func(t *testing.T) {
			db, _ := openStore(t)
			fs := &flakyStore{AuditStore: db, failures: 3, commitFirst: commitFirst}
			log, logs := bufferLog()
			r := newRecorder(t, fs, log, audit.Options{RetryDelay: time.Millisecond, MaxRetryDelay: 4 * time.Millisecond})
			var wg sync.WaitGroup
			for g := range 5 {
				wg.Go(func() {
					for i := range 20 {
						r.Record(t.Context(), event(g*20+i))
					}
				})
			}
			wg.Wait()
			flush(t, r)
			wantIntact(t, db, 100)
			st := r.Stats()
			if st.Events != 100 || st.Lost != 0 {
				t.Errorf("Stats = %+v; want 100 events stored, none lost", st)
			}
			// With commitFirst, the first failure's batch is found stored, so there is
			// only one failure.
			wantFailures := int64(3)
			if commitFirst {
				wantFailures = 1
			}
			if st.Failures != wantFailures {
				t.Errorf("Failures = %d, want %d", st.Failures, wantFailures)
			}
			if !strings.Contains(logs.String(), "retrying") {
				t.Errorf("store errors are not logged:\n%s", logs)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	t.Run("writes at once", func(t *testing.T) {
		db, _ := openStore(t)
		r := newRecorder(t, db, nil, audit.Options{MaxDelay: time.Hour, MaxBatch: 1000})
		if err := r.Flush(t.Context()); err != nil {
			t.Fatalf("Flush with nothing recorded: %v", err)
		}
		for i := range 3 {
			r.Record(t.Context(), event(i))
		}
		start := time.Now()
		flush(t, r)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Flush took %v; want it not to wait for MaxDelay", d)
		}
		wantIntact(t, db, 3)
	})
	t.Run("concurrent with recording", func(t *testing.T) {
		db, _ := openStore(t)
		r := newRecorder(t, db, nil, audit.Options{})
		var wg sync.WaitGroup
		var stop atomic.Bool
		for g := range 4 {
			wg.Go(func() {
				for i := 0; i < 2000 && !stop.Load(); i++ {
					r.Record(t.Context(), event(g*100000+i))
				}
			})
		}
		for range 20 {
			mine := event(-1)
			r.Record(t.Context(), mine)
			flush(t, r)
			// Everything recorded before Flush is readable after it. (Only these
			// events have the principal user-1@example.com.)
			got, err := db.ListAudit(t.Context(), catalog.AuditFilter{Principal: mine.Principal})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || got[len(got)-1].EventID != mine.EventID {
				t.Fatalf("event %s recorded before Flush is not stored after it", mine.EventID)
			}
		}
		stop.Store(true)
		wg.Wait()
		flush(t, r)
		wantIntact(t, db, int(r.Stats().Events))
	})
	t.Run("gives up with its context", func(t *testing.T) {
		db, _ := openStore(t)
		gs := newGatedStore(db)
		r := newRecorder(t, gs, nil, audit.Options{})
		r.Record(t.Context(), event(1))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := r.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Flush with a stalled store = %v, want context.DeadlineExceeded", err)
		}
		close(gs.release)
		flush(t, r)
		wantIntact(t, db, 1)
	})
}

func TestClose(t *testing.T) {
	t.Run("stores everything first", func(t *testing.T) {
		db, _ := openStore(t)
		log, logs := bufferLog()
		r, err := audit.New(db, log, audit.Options{MaxDelay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			r.Record(t.Context(), event(i))
		}
		if err := r.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		all := wantIntact(t, db, 300)

		late := event(1000)
		r.Record(t.Context(), late)
		if r.Stats().Lost != 1 || !strings.Contains(logs.String(), late.EventID) {
			t.Errorf("Record after Close: Lost = %d, log:\n%s; want the record reported lost", r.Stats().Lost, logs)
		}
		if err := r.Flush(t.Context()); err != nil {
			t.Errorf("Flush after a clean Close = %v, want nil", err)
		}
		if err := r.Close(t.Context()); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		// Close logs the head of the chain, to keep a copy outside the store.
		if head := all[len(all)-1].Hash; !strings.Contains(logs.String(), head) {
			t.Errorf("Close did not log the chain's head %s", head)
		}
	})
	t.Run("gives up with its context", func(t *testing.T) {
		db, _ := openStore(t)
		gs := newGatedStore(db)
		log, logs := bufferLog()
		r, err := audit.New(gs, log, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			r.Record(t.Context(), event(i))
		}
		<-gs.entered
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err = r.Close(ctx)
		if err == nil || !strings.Contains(err.Error(), "not stored") {
			t.Errorf("Close with a stalled store = %v; want an error saying events were not stored", err)
		}
		if err2 := r.Close(t.Context()); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("second Close = %v, want the first one's %v", err2, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for r.Stats().Lost != 5 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := r.Stats().Lost; got != 5 {
			t.Errorf("Lost = %d, want 5", got)
		}
		if n := strings.Count(logs.String(), "audit record lost"); n != 5 {
			t.Errorf("log reports %d lost records, want 5:\n%s", n, logs)
		}
	})
}

// BenchmarkRecord measures Record from many goroutines into SQLite, including the
// time to store everything (the writer is the bottleneck once the queue is full).
func BenchmarkRecord(b *testing.B) {
	db, _ := openStore(b)
	cs := &countingStore{AuditStore: db}
	r, err := audit.New(cs, nil, audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(context.Background(), event(int(n.Add(1))))
		}
	})
	if err := r.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := r.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/batch")
	}
	b.ReportMetric(float64(st.LargestBatch), "largest-batch")
}

// discardStore stores nothing; it isolates the recorder's own cost.
type discardStore struct{}

func (discardStore) AppendAudit(context.Context, []*catalog.AuditEvent) error { return nil }

// AppendAuditChained links the events, as a store does, and stores nothing.
func (discardStore) AppendAuditChained(_ context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	prev := ""
	for _, e := range events {
		if err := link(prev, e); err != nil {
			return err
		}
		prev = e.Hash
	}
	return nil
}
func (discardStore) LastAudit(context.Context) (*catalog.AuditEvent, error) {
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "empty")
}
func (discardStore) ListAudit(context.Context, catalog.AuditFilter) ([]*catalog.AuditEvent, error) {
	return nil, nil
}

// BenchmarkRecordOverhead is BenchmarkRecord with a store that does nothing: the cost
// of Record itself (copy, enqueue) and of the writer's batching and hashing.
func BenchmarkRecordOverhead(b *testing.B) {
	r, err := audit.New(discardStore{}, nil, audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	e := event(1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := *e
			r.Record(context.Background(), &c)
		}
	})
	if err := r.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := r.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/batch")
	}
}
