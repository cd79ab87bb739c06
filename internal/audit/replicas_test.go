package audit_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// Tests of several recorders (replicas) writing one PostgreSQL log.

func TestMain(m *testing.M) { pgtest.Main(m) }

// openPostgres opens the store on dsn (one replica's pool) and closes it when t ends.
func openPostgres(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// withAppName returns dsn with the connections' application_name set, so that a test
// can find (and kill) one replica's backends.
func withAppName(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse the test DSN: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// wantVerified verifies the whole log with the chain key and wants it intact with n
// events.
func wantVerified(t *testing.T, s catalog.AuditStore, n int) audit.Report {
	t.Helper()
	rep, err := audit.VerifyStore(t.Context(), s, testKey, "")
	if err != nil {
		t.Fatalf("the chain does not verify: %v (report %+v)", err, rep)
	}
	if rep.Events != n || rep.Keyed != n {
		t.Errorf("verified %d events (%d keyed), want %d keyed", rep.Events, rep.Keyed, n)
	}
	return rep
}

// Two replicas' recorders on one database: first taking turns (each batch must link to
// the other's newest event, which a recorder that kept the head in memory would not),
// then writing at once while the chain is verified under their feet.
func TestRecordersOfTwoReplicasWriteOneChain(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	opts := audit.Options{ChainKey: testKey, MaxBatch: 16, MaxDelay: time.Millisecond}
	recs := []*audit.Recorder{newRecorder(t, a, nil, opts), newRecorder(t, b, nil, opts)}

	n := 0
	for turn := range 6 {
		r := recs[turn%2]
		for range 5 {
			r.Record(t.Context(), event(n))
			n++
		}
		flush(t, r)
	}
	wantVerified(t, a, n)

	const perGoroutine, goroutines = 150, 3
	var wg sync.WaitGroup
	for i, r := range recs {
		for g := range goroutines {
			wg.Go(func() {
				for k := range perGoroutine {
					r.Record(t.Context(), event(10000*(i+1)+1000*g+k))
				}
			})
		}
	}
	// Verifying while both write: each pass sees the log as it was when it began.
	verifyErrs := make(chan error, 1)
	go func() {
		for range 5 {
			if _, err := audit.VerifyStore(t.Context(), b, testKey, ""); err != nil {
				verifyErrs <- err
				return
			}
		}
		verifyErrs <- nil
	}()
	wg.Wait()
	for _, r := range recs {
		flush(t, r)
	}
	if err := <-verifyErrs; err != nil {
		t.Errorf("VerifyStore during the writes: %v", err)
	}
	n += len(recs) * goroutines * perGoroutine
	wantVerified(t, b, n)
	for i, r := range recs {
		if st := r.Stats(); st.Lost != 0 || st.Failures != 0 {
			t.Errorf("recorder %d: Stats = %+v, want nothing lost or failed", i, st)
		}
	}
}

// gatedLinkStore holds its first chained append inside the transaction — after the
// append lock is taken and the newest hash read, while link runs — until release is
// closed or the append's context ends; inLink is closed when it gets there.
type gatedLinkStore struct {
	catalog.AuditStore
	once    sync.Once
	inLink  chan struct{}
	release chan struct{}
}

func newGatedLinkStore(s catalog.AuditStore) *gatedLinkStore {
	return &gatedLinkStore{AuditStore: s, inLink: make(chan struct{}), release: make(chan struct{})}
}

func (s *gatedLinkStore) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	return s.AuditStore.AppendAuditChained(ctx, events, func(prev string, e *catalog.AuditEvent) error {
		first := false
		s.once.Do(func() { first = true })
		if first {
			close(s.inLink)
			select {
			case <-s.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return link(prev, e)
	})
}

// waitClosed waits for ch, at most 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A replica whose connection dies in the middle of a batch (its backend killed while
// it holds the append lock) blocks nobody past its death, and its retried batch is
// linked afresh after what the others wrote meanwhile; a replica that gives up in the
// middle of a batch (its context cancelled) stores none of it. The chain verifies.
func TestKilledWriterLeavesChainIntact(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	survivor := openPostgres(t, dsn)
	opts := audit.Options{ChainKey: testKey, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond}
	r := newRecorder(t, survivor, nil, opts)
	r.Record(t.Context(), event(0))
	flush(t, r)

	t.Run("connection killed", func(t *testing.T) {
		const app = "gatehouse-killed-writer"
		gs := newGatedLinkStore(openPostgres(t, withAppName(t, dsn, app)))
		killed := newRecorder(t, gs, nil, opts)
		for i := range 10 {
			killed.Record(t.Context(), event(100+i))
		}
		waitClosed(t, gs.inLink, "the writer to hold the append lock")

		// The survivor's batch waits for the lock.
		for i := range 10 {
			r.Record(t.Context(), event(200+i))
		}
		flushed := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			flushed <- r.Flush(ctx)
		}()

		var n int
		err := survivor.Pool().QueryRow(t.Context(),
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
		if err != nil || n == 0 {
			t.Fatalf("killing the writer's backends: %d killed, %v", n, err)
		}
		if err := <-flushed; err != nil {
			t.Fatalf("the survivor's Flush after the other writer died holding the lock: %v", err)
		}
		close(gs.release)
		flush(t, killed)
		if st := killed.Stats(); st.Failures == 0 || st.Events != 10 {
			t.Errorf("killed writer's Stats = %+v, want its batch failed once and then stored", st)
		}
		rep := wantVerified(t, survivor, 21)
		all := listAll(t, survivor)
		if got := all[len(all)-10].RequestID; got != "req-100" {
			t.Errorf("the retried batch starts with %s, want req-100 after the survivor's batch", got)
		}
		if all[len(all)-1].Hash != rep.Head {
			t.Errorf("verify's head %s is not the newest event's hash", rep.Head)
		}
	})

	t.Run("context cancelled", func(t *testing.T) {
		gs := newGatedLinkStore(openPostgres(t, dsn))
		quitter, err := audit.New(gs, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			quitter.Record(t.Context(), event(300+i))
		}
		waitClosed(t, gs.inLink, "the writer to hold the append lock")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := quitter.Close(ctx); err == nil || !strings.Contains(err.Error(), "not stored") {
			t.Errorf("Close that gives up mid-batch = %v, want events not stored", err)
		}
		for i := range 5 {
			r.Record(t.Context(), event(400+i))
		}
		flush(t, r)
		wantVerified(t, survivor, 26)
		for _, e := range listAll(t, survivor) {
			if strings.HasPrefix(e.RequestID, "req-30") {
				t.Errorf("event %s of the abandoned batch was stored", e.RequestID)
			}
		}
	})
}

// Replicas that start together on a legacy (unkeyed) log, all allowed to anchor it,
// write one anchor between them.
func TestReplicasAnchorLegacyLogOnce(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	db := openPostgres(t, dsn)
	legacy, err := audit.New(db, nil, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		legacy.Record(t.Context(), event(i))
	}
	if err := legacy.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	const replicas = 3
	recs := make([]*audit.Recorder, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range recs {
		s := openPostgres(t, dsn)
		wg.Go(func() {
			recs[i], errs[i] = audit.New(s, nil, audit.Options{ChainKey: testKey, AnchorLegacy: true})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: New: %v", i, err)
		}
		recs[i].Record(t.Context(), event(10+i))
		if err := recs[i].Close(t.Context()); err != nil {
			t.Fatalf("replica %d: Close: %v", i, err)
		}
	}
	anchors := 0
	for _, e := range listAll(t, db) {
		if e.ActionName == audit.ActionAuditChainKeyed {
			anchors++
		}
	}
	if anchors != 1 {
		t.Errorf("%d anchors written, want 1", anchors)
	}
	rep, err := audit.VerifyStore(t.Context(), db, testKey, "")
	if err != nil || rep.Legacy != 3 || rep.Keyed != 1+replicas {
		t.Errorf("VerifyStore = %+v, %v; want 3 legacy and %d keyed events intact", rep, err, 1+replicas)
	}
}

// BenchmarkRecordPostgresReplicas is BenchmarkRecord on PostgreSQL with one recorder
// (replica) or two on one database, each writing half the events: the cost of the
// append lock that makes their batches one chain.
func BenchmarkRecordPostgresReplicas(b *testing.B) {
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			dsn := pgtest.Shared(b).NewDatabase(b)
			recs := make([]*audit.Recorder, replicas)
			for i := range recs {
				db, err := postgres.Open(b.Context(), dsn, postgres.Options{MaxConns: 4})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if recs[i], err = audit.New(db, nil, audit.Options{ChainKey: testKey}); err != nil {
					b.Fatal(err)
				}
				defer recs[i].Close(context.Background())
			}
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					recs[i%replicas].Record(context.Background(), event(i))
				}
			})
			var batches, events int64
			for _, r := range recs {
				if err := r.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				st := r.Stats()
				batches, events = batches+st.Batches, events+st.Events
			}
			b.StopTimer()
			if batches > 0 {
				b.ReportMetric(float64(events)/float64(batches), "events/batch")
			}
		})
	}
}
