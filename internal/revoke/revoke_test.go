package revoke

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// fakeStore is a Watcher whose changes the test announces.
type fakeStore struct {
	mu  sync.Mutex
	fns []func(catalog.Change)
}

func (f *fakeStore) Watch(fn func(catalog.Change)) {
	f.mu.Lock()
	f.fns = append(f.fns, fn)
	f.mu.Unlock()
}

func (f *fakeStore) announce(k catalog.ChangeKind) {
	f.mu.Lock()
	fns := append([]func(catalog.Change){}, f.fns...)
	f.mu.Unlock()
	for _, fn := range fns {
		fn(catalog.Change{Kind: k, ID: "x"})
	}
}

// flag is a check whose answer the test flips.
type flag struct {
	fail  atomic.Pointer[error]
	calls atomic.Int64
}

func (f *flag) check(context.Context) error {
	f.calls.Add(1)
	if p := f.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *flag) set(err error) { f.fail.Store(&err) }

func newRegistry(t *testing.T, o Options) (*Registry, *fakeStore) {
	t.Helper()
	st := &fakeStore{}
	r := New(st, o)
	t.Cleanup(func() { _ = r.Close() })
	return r, st
}

// waitDone waits for ctx to end within d.
func waitDone(t *testing.T, ctx context.Context, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ctx.Done():
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("context not cancelled within %s", d)
		return 0
	}
}

var errRevoked = catalog.Errorf(catalog.PermissionDenied, "revoked")

func TestFailingCheckCancelsWithCause(t *testing.T) {
	for _, kind := range []catalog.ChangeKind{catalog.ChangePrincipal, catalog.ChangeMembership, catalog.ChangeGrant,
		catalog.ChangeConnection, catalog.ChangeToken, catalog.ChangeNetworkPolicy, catalog.ChangeAll} {
		t.Run(kindName(kind), func(t *testing.T) {
			r, st := newRegistry(t, Options{Delay: 20 * time.Millisecond})
			var f flag
			ctx, release := r.Track(context.Background(), f.check)
			defer release()
			f.set(errRevoked)
			st.announce(kind)
			waitDone(t, ctx, time.Second)
			if cause := context.Cause(ctx); !errors.Is(cause, errRevoked) {
				t.Fatalf("Cause = %v, want %v", cause, errRevoked)
			}
		})
	}
}

func kindName(k catalog.ChangeKind) string {
	return map[catalog.ChangeKind]string{catalog.ChangePrincipal: "principal", catalog.ChangeMembership: "membership",
		catalog.ChangeGrant: "grant", catalog.ChangeConnection: "connection", catalog.ChangeToken: "token",
		catalog.ChangeNetworkPolicy: "network_policy", catalog.ChangeCredential: "credential", catalog.ChangeAll: "all"}[k]
}

// manual is a registry whose re-checks start when the test says so.
type manual struct {
	*Registry
	st    *fakeStore
	fire  chan time.Time
	asked chan struct{}
	done  chan struct{}
}

func newManual(t *testing.T) *manual {
	t.Helper()
	m := &manual{st: &fakeStore{}, fire: make(chan time.Time), asked: make(chan struct{}, 16), done: make(chan struct{}, 16)}
	m.Registry = New(m.st, Options{Every: -1})
	// run reads these only once a kick arrives, which happens after this assignment.
	m.after = func(time.Duration) <-chan time.Time { m.asked <- struct{}{}; return m.fire }
	m.swept = func() { m.done <- struct{}{} }
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// sweepOnce lets one scheduled re-check run and waits until it has finished.
func (m *manual) sweepOnce(t *testing.T) {
	t.Helper()
	select {
	case <-m.asked:
	case <-time.After(time.Second):
		t.Fatal("no re-check was scheduled")
	}
	m.fire <- time.Now()
	select {
	case <-m.done:
	case <-time.After(time.Second):
		t.Fatal("re-check did not finish")
	}
}

func TestPassingCheckKeepsOpen(t *testing.T) {
	m := newManual(t)
	var f flag
	ctx, release := m.Track(context.Background(), f.check)
	defer release()
	m.st.announce(catalog.ChangeGrant)
	m.sweepOnce(t)
	wantCalls(t, &f, 1)
	if ctx.Err() != nil {
		t.Fatalf("ctx ended after a passing check: %v", context.Cause(ctx))
	}
}

// wantCalls asserts the number of checks so far; sweepOnce returns only once every
// check of the re-check has returned.
func wantCalls(t *testing.T, f *flag, n int64) {
	t.Helper()
	if got := f.calls.Load(); got != n {
		t.Fatalf("check called %d times, want %d", got, n)
	}
}

func TestCredentialChangeIsIgnored(t *testing.T) {
	m := newManual(t)
	var f flag
	_, release := m.Track(context.Background(), f.check)
	defer release()
	m.st.announce(catalog.ChangeCredential)
	if len(m.kick) != 0 {
		t.Fatal("a credential change scheduled a re-check")
	}
	if g := m.Generation(); g != 1 {
		t.Fatalf("Generation = %d after a credential change, want 1", g)
	}
}

func TestReleaseRemoves(t *testing.T) {
	m := newManual(t)
	var kept, gone flag
	_, r1 := m.Track(context.Background(), kept.check)
	defer r1()
	ctx, r2 := m.Track(context.Background(), gone.check)
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
	r2()
	r2() // twice is fine
	if m.Len() != 1 {
		t.Fatalf("Len after release = %d, want 1", m.Len())
	}
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("released ctx cause = %v, want context.Canceled", context.Cause(ctx))
	}
	m.st.announce(catalog.ChangeToken)
	m.sweepOnce(t)
	wantCalls(t, &kept, 1)
	if n := gone.calls.Load(); n != 0 {
		t.Fatalf("released entry checked %d times", n)
	}
}

func TestDeadlineAtTokenExpiry(t *testing.T) {
	r, _ := newRegistry(t, Options{})
	var f flag
	expired := catalog.Errorf(catalog.Unauthenticated, "access token t1 expired")
	at := time.Now().Add(50 * time.Millisecond)
	ctx, release := r.TrackEntry(context.Background(), Entry{Check: f.check, Expires: at, Expired: expired})
	defer release()
	if d, ok := ctx.Deadline(); !ok || !d.Equal(at) {
		t.Fatalf("Deadline = %v %v, want %v", d, ok, at)
	}
	waitDone(t, ctx, time.Second)
	if now := time.Now(); now.Before(at) {
		t.Fatalf("ended at %v, before the expiry %v", now, at)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, expired) {
		t.Fatalf("Cause = %v, want %v", cause, expired)
	}
	if f.calls.Load() != 0 {
		t.Fatal("expiry polled the check")
	}
}

func TestBurstCoalesces(t *testing.T) {
	m := newManual(t)
	var f flag
	_, release := m.Track(context.Background(), f.check)
	defer release()
	for range 100 {
		m.st.announce(catalog.ChangeMembership)
	}
	m.sweepOnce(t)
	wantCalls(t, &f, 1)
	if len(m.kick) != 0 || len(m.asked) != 0 {
		t.Fatal("another re-check is still due after the burst was covered")
	}
	if n := m.sweeps.Load(); n != 1 {
		t.Fatalf("sweeps = %d, want 1", n)
	}
}

func TestChangeDuringSweepSchedulesAnother(t *testing.T) {
	m := newManual(t)
	var f flag
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	_, release := m.Track(context.Background(), func(ctx context.Context) error {
		entered <- struct{}{}
		<-block
		return f.check(ctx)
	})
	defer release()
	m.st.announce(catalog.ChangeGrant)
	<-m.asked
	m.fire <- time.Now()
	<-entered
	m.st.announce(catalog.ChangeGrant) // while the check runs
	close(block)
	<-m.done       // the first re-check has finished (else sweepOnce would take its signal)
	m.sweepOnce(t) // a second re-check was scheduled and covers the second change
	<-entered
	wantCalls(t, &f, 2)
}

func TestStaleDecisionIsRechecked(t *testing.T) {
	m := newManual(t)
	var f flag
	since := m.Generation()
	m.st.announce(catalog.ChangePrincipal) // between the decisions and Track
	m.sweepOnce(t)                         // the change's re-check runs before the entry exists
	f.set(errRevoked)
	ctx, release := m.TrackEntry(context.Background(), Entry{Check: f.check, Since: since})
	defer release()
	m.sweepOnce(t)
	waitDone(t, ctx, time.Second)
}

func TestFreshDecisionIsNotRechecked(t *testing.T) {
	m := newManual(t)
	var f flag
	_, release := m.TrackEntry(context.Background(), Entry{Check: f.check, Since: m.Generation()})
	defer release()
	if len(m.kick) != 0 {
		t.Fatal("tracking with a current generation scheduled a re-check")
	}
}

func TestSlowCheckTimesOutClosed(t *testing.T) {
	r, st := newRegistry(t, Options{Delay: time.Millisecond, CheckTimeout: 20 * time.Millisecond})
	ctx, release := r.Track(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	defer release()
	st.announce(catalog.ChangeToken)
	waitDone(t, ctx, time.Second)
	if catalog.CodeOf(context.Cause(ctx)) != catalog.TemporarilyUnavailable {
		t.Fatalf("Cause = %v, want TEMPORARILY_UNAVAILABLE for a check that could not tell", context.Cause(ctx))
	}
}

// TestConcurrentTrackAndRevoke runs Track/release from many goroutines while changes
// arrive; under -race it proves the registry's locking, and at the end every failing
// entry still open has been cancelled and every released one is gone.
func TestConcurrentTrackAndRevoke(t *testing.T) {
	r, st := newRegistry(t, Options{Delay: time.Millisecond})
	var wg sync.WaitGroup
	stopChanges := make(chan struct{})
	var changers sync.WaitGroup
	changers.Go(func() {
		for {
			select {
			case <-stopChanges:
				return
			default:
				st.announce(catalog.ChangeGrant)
				runtime.Gosched()
			}
		}
	})
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ctx, release := r.Track(context.Background(), func(context.Context) error {
					if (g+i)%2 == 0 {
						return errRevoked
					}
					return nil
				})
				_ = ctx.Err()
				release()
			}
		})
	}
	wg.Wait()
	close(stopChanges)
	changers.Wait()
	if n := r.Len(); n != 0 {
		t.Fatalf("Len = %d after every release, want 0", n)
	}
	// One held entry that fails is ended by the next re-check.
	ctx, release := r.Track(context.Background(), func(context.Context) error { return errRevoked })
	defer release()
	st.announce(catalog.ChangeToken)
	waitDone(t, ctx, time.Second)
}

func TestParentEndEndsTracked(t *testing.T) {
	r, _ := newRegistry(t, Options{})
	parent, cancel := context.WithCancel(context.Background())
	ctx, release := r.Track(parent, func(context.Context) error { return nil })
	defer release()
	cancel()
	waitDone(t, ctx, time.Second)
}

func BenchmarkTrackRelease(b *testing.B) {
	r := New(&fakeStore{}, Options{})
	defer r.Close()
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	check := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, release := r.TrackEntry(parent, Entry{Check: check, Expires: time.Now().Add(time.Hour), Since: r.Generation()})
			release()
		}
	})
}

func BenchmarkTrackReleaseNoExpiry(b *testing.B) {
	r := New(&fakeStore{}, Options{})
	defer r.Close()
	check := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_, release := r.Track(context.Background(), check)
		release()
	}
}

func BenchmarkWithCancelBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, cancel := context.WithCancelCause(context.Background())
		cancel(nil)
	}
}

// TestReleaseInAnyOrder: entries leave their shard's list from the head, the middle or
// the tail, and a re-check sees exactly the ones left.
func TestReleaseInAnyOrder(t *testing.T) {
	m := newManual(t)
	flags := make([]flag, 3*numShards)
	releases := make([]func(), len(flags))
	for i := range flags {
		_, releases[i] = m.Track(context.Background(), flags[i].check)
	}
	kept := map[int]bool{}
	for i := range flags {
		if i%3 == 1 {
			kept[i] = true
			continue
		}
		releases[i]()
	}
	if got, want := m.Len(), len(kept); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	m.st.announce(catalog.ChangeGrant)
	m.sweepOnce(t)
	for i := range flags {
		want := int64(0)
		if kept[i] {
			want = 1
		}
		if got := flags[i].calls.Load(); got != want {
			t.Errorf("entry %d checked %d times, want %d", i, got, want)
		}
	}
	for i := range releases {
		releases[i]()
	}
	if m.Len() != 0 {
		t.Fatalf("Len = %d after releasing everything", m.Len())
	}
}
