package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The credential lock subtests (refresh exactly once across replicas) pin
// catalog.CredentialStore.LockCredential: two holders of one credential's lock never
// overlap, and each sees what the one before it stored; locks of different
// credentials do not wait for each other; the lock is released whatever fn returns,
// and fn's error comes back as it is; a waiter whose context ends stops waiting at
// once, without running fn, and leaves the lock usable.

// lockWait bounds every wait of these subtests: a lock that works answers in
// milliseconds, one that does not would hang the suite.
const lockWait = 10 * time.Second

func testCredentialLockExclusive(f *fixture) {
	const holders, rounds = 6, 5
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	templates := make([]*catalog.OAuthCredential, holders*rounds)
	for i := range templates {
		templates[i] = f.newCredential(conn.ID, alice.ID) // f.tick is not for concurrent use
	}

	ctx, cancel := context.WithTimeout(f.ctx, 4*lockWait)
	defer cancel()
	var inside, overlaps, runs atomic.Int64
	errs := make([]error, holders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for h := range holders {
		wg.Go(func() {
			<-start
			for r := range rounds {
				err := f.s.LockCredential(ctx, conn.ID, alice.ID, func(ctx context.Context, cur *catalog.OAuthCredential) error {
					if inside.Add(1) != 1 {
						overlaps.Add(1)
					}
					defer inside.Add(-1)
					runs.Add(1)
					// Read-modify-write of what the previous holder stored: under the
					// lock it can never be stale.
					next := templates[h*rounds+r]
					if cur != nil {
						next.Version = cur.Version
						next.Reason = cur.Reason
					}
					next.Reason += fmt.Sprintf("[%d.%d]", h, r)
					return f.s.PutCredential(ctx, next)
				})
				if err != nil {
					errs[h] = fmt.Errorf("round %d: %w", r, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for h, err := range errs {
		if err != nil {
			f.t.Errorf("holder %d: %v", h, err)
		}
	}
	if n := overlaps.Load(); n != 0 {
		f.t.Errorf("%d times a holder ran while another held the same lock", n)
	}
	if n := runs.Load(); n != holders*rounds {
		f.t.Errorf("fn ran %d times, want %d", n, holders*rounds)
	}
	got := f.getCredential(conn.ID, alice.ID)
	if got.Version != holders*rounds {
		f.t.Errorf("after %d locked writes the version is %d, want %d (a write was lost or refused)", holders*rounds, got.Version, holders*rounds)
	}
	for h := range holders {
		for r := range rounds {
			if mark := fmt.Sprintf("[%d.%d]", h, r); !strings.Contains(got.Reason, mark) {
				f.t.Errorf("reason %q lacks %s: a holder did not see its predecessor's write", got.Reason, mark)
			}
		}
	}
}

func testCredentialLockCurrent(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	ctx, cancel := context.WithTimeout(f.ctx, lockWait)
	defer cancel()

	var first *catalog.OAuthCredential
	stored := f.newCredential(conn.ID, "")
	f.must("LockCredential(first)", f.s.LockCredential(ctx, conn.ID, "", func(ctx context.Context, cur *catalog.OAuthCredential) error {
		first = cur
		return f.s.PutCredential(ctx, stored)
	}))
	if first != nil {
		f.t.Errorf("LockCredential of a credential never stored passed %+v, want nil", first)
	}
	var second *catalog.OAuthCredential
	f.must("LockCredential(second)", f.s.LockCredential(ctx, conn.ID, "", func(_ context.Context, cur *catalog.OAuthCredential) error {
		second = cur
		return nil
	}))
	if second == nil {
		f.t.Fatal("the second holder got nil, want what the first stored")
	}
	if d := diff(stored, second); d != "" {
		f.t.Errorf("the second holder's credential differs from what the first stored (-stored +got):\n%s", d)
	}
}

func testCredentialLockKeys(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	github := f.connection("github", alice.ID)
	jira := f.connection("jira", alice.ID)
	ctx, cancel := context.WithTimeout(f.ctx, lockWait)
	defer cancel()

	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- f.s.LockCredential(ctx, github.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-holder:
		f.t.Fatalf("LockCredential(github, alice) ended before fn ran: %v", err)
	}
	// While (github, alice) is held, every other pair's lock is free.
	for _, k := range []struct{ name, conn, principal string }{
		{"same connection, another user", github.ID, bob.ID},
		{"same connection, shared", github.ID, ""},
		{"another connection, same user", jira.ID, alice.ID},
	} {
		ran := false
		err := f.s.LockCredential(ctx, k.conn, k.principal, func(context.Context, *catalog.OAuthCredential) error {
			ran = true
			return nil
		})
		if err != nil || !ran {
			f.t.Errorf("%s: LockCredential = %v, ran %v while another credential's lock was held; want nil, true", k.name, err, ran)
		}
	}
	close(release)
	if err := <-holder; err != nil {
		f.t.Errorf("LockCredential(github, alice): %v", err)
	}
}

func testCredentialLockError(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	ctx, cancel := context.WithTimeout(f.ctx, lockWait)
	defer cancel()

	errFn := errors.New("fn failed")
	for i := range 3 {
		err := f.s.LockCredential(ctx, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error { return errFn })
		if !errors.Is(err, errFn) {
			f.t.Fatalf("attempt %d: LockCredential = %v, want fn's error", i, err)
		}
	}
	ran := false
	f.must("LockCredential after failed holders", f.s.LockCredential(ctx, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
		ran = true
		return nil
	}))
	if !ran {
		f.t.Error("fn did not run after holders that failed")
	}
}

func testCredentialLockCancel(f *fixture) {
	alice := f.user("alice@example.com")
	conn := f.connection("github", alice.ID)
	ctx, cancel := context.WithTimeout(f.ctx, 2*lockWait)
	defer cancel()

	// A context that has ended already never runs fn, even with the lock free.
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	err := f.s.LockCredential(done, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
		f.t.Error("fn ran with a canceled context")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		f.t.Errorf("LockCredential(canceled context) = %v, want context.Canceled", err)
	}

	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- f.s.LockCredential(ctx, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-holder:
		f.t.Fatalf("holder ended before fn ran: %v", err)
	}
	// The waiter gives up when its context ends, long before the holder lets go.
	const patience = 200 * time.Millisecond
	wctx, wcancel := context.WithTimeout(ctx, patience)
	began := time.Now()
	err = f.s.LockCredential(wctx, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
		f.t.Error("the waiter's fn ran while the lock was held")
		return nil
	})
	waited := time.Since(began)
	wcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		f.t.Errorf("waiter: LockCredential = %v, want context.DeadlineExceeded", err)
	}
	if waited > patience+2*time.Second {
		f.t.Errorf("waiter returned %v after its context ended, want promptly", waited-patience)
	}
	close(release)
	if err := <-holder; err != nil {
		f.t.Errorf("holder: %v", err)
	}
	// The waiter that gave up left nothing behind: the lock is free.
	ran := false
	f.must("LockCredential after a waiter gave up", f.s.LockCredential(ctx, conn.ID, alice.ID, func(context.Context, *catalog.OAuthCredential) error {
		ran = true
		return nil
	}))
	if !ran {
		f.t.Error("fn did not run after a waiter gave up")
	}
}
