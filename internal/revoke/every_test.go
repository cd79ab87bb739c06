package revoke

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPeriodicRecheck: with no change announced (one whose announcement was lost), an
// entry whose check fails still ends at the next periodic re-check; with Every
// negative, nothing re-checks it.
func TestPeriodicRecheck(t *testing.T) {
	r, _ := newRegistry(t, Options{Every: 10 * time.Millisecond})
	var f flag
	ctx, release := r.Track(context.Background(), f.check)
	defer release()
	f.set(errRevoked)
	waitDone(t, ctx, 5*time.Second)
	if cause := context.Cause(ctx); !errors.Is(cause, errRevoked) {
		t.Fatalf("Cause = %v, want %v", cause, errRevoked)
	}

	never, _ := newRegistry(t, Options{Every: -1})
	if never.every > 0 {
		// Every negative must mean no ticker at all, not the default period.
		t.Fatalf("a registry with Every -1 re-checks every %v", never.every)
	}
	var g flag
	ctx2, release2 := never.Track(context.Background(), g.check)
	defer release2()
	g.set(errRevoked)
	// Let a periodic registry sweep several times meanwhile: Every -1 must not.
	ctx3, release3 := r.Track(context.Background(), g.check)
	defer release3()
	waitDone(t, ctx3, 5*time.Second)
	if ctx2.Err() != nil {
		t.Errorf("an entry of a registry without periodic re-checks ended: %v", context.Cause(ctx2))
	}
}
