// Package revoke makes a revoke reach what is already open. A long-lived thing opened
// under a set of decisions — a streaming proxied response, an egress tunnel, later an MCP
// stream — is tracked here with a check that re-takes those decisions. Whenever the store
// announces a change that could undo one of them (a principal, a group membership, a
// grant, a connection, a token or the network policy), the registry re-runs the checks
// of everything open, once per burst of changes and never inside the store's callback,
// and cancels the context of every entry whose check now fails, with the failure as the
// cause. A token's expiry needs no change and no polling: the tracked context carries it
// as a deadline.
//
// The registry sits on the hot path of every proxied call, so Track and release are
// cheap: entries live in sharded intrusive lists (a release is an unlink under one
// shard's lock: no hashing, no map growth) and no lock is held while checks run.
package revoke

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
)

// Defaults for the zero values of Options.
const (
	// DefaultDelay is how long a re-check waits after the first change of a burst, so
	// that the changes of one API call (a SCIM PATCH is several) cost one re-check.
	DefaultDelay = 50 * time.Millisecond
	// DefaultCheckTimeout bounds each check.
	DefaultCheckTimeout = 5 * time.Second
)

// numShards spreads entries over independent locks; a power of two.
const numShards = 32

// Check re-takes the decisions an open thing was allowed under. It returns nil while
// they hold, and the reason, a *catalog.Error that callers may show, once one of them
// does not; that error becomes the context's cause. Any other error ends the entry too
// (a check that cannot tell fails closed), with a TEMPORARILY_UNAVAILABLE cause, and
// goes to the log only.
type Check func(ctx context.Context) error

// Watcher announces committed changes; catalog.Store is one.
type Watcher interface {
	Watch(fn func(catalog.Change))
}

// Options configure a Registry; zero fields take defaults.
type Options struct {
	// Delay coalesces changes: a re-check starts Delay after the first change that
	// scheduled it and covers every change up to its start.
	Delay time.Duration
	// CheckTimeout bounds each check; one that runs out fails (closed).
	CheckTimeout time.Duration
	// Workers is how many checks run at once; zero is min(GOMAXPROCS, 4).
	Workers int
	// Log receives one line per entry ended; nil discards.
	Log *slog.Logger
	// Every re-checks every entry this often even when no change was announced
	// (scale-out: a change whose announcement was lost still ends what it revokes, once
	// the caches the checks read expire); zero is freshness.TTL, negative never.
	Every time.Duration
}

// Entry is what Registry.TrackEntry tracks.
type Entry struct {
	// Check re-takes the decisions; required.
	Check Check
	// Expires, when not zero, ends the context at that instant with cause Expired: the
	// expiry of the token the decisions were taken for.
	Expires time.Time
	// Expired is the cause at Expires; nil is a generic UNAUTHENTICATED error.
	Expired error
	// Since is the Generation read before the decisions were taken. When a change was
	// announced in between, the decisions may have read what that change replaced, and
	// the re-check it scheduled may have run before this entry existed, so the entry is
	// re-checked once more. Zero means unknown (no extra re-check).
	Since uint64
}

// Registry is the set of open things and the re-checks that end them. It is safe for
// concurrent use.
type Registry struct {
	delay   time.Duration
	every   time.Duration
	timeout time.Duration
	workers int
	log     *slog.Logger
	// after is time.After and swept is called after each re-check; tests set them to
	// release re-checks by hand and wait for them.
	after func(time.Duration) <-chan time.Time
	swept func()

	gen    atomic.Uint64
	next   atomic.Uint32
	shards [numShards]shard

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	sweeps    atomic.Uint64
}

// shard is one lock and the doubly linked list of its entries.
type shard struct {
	mu   sync.Mutex
	head *entry
	n    int
	_    [40]byte // keeps neighbouring shards' locks off one cache line
}

type entry struct {
	ctx          context.Context
	cancel       context.CancelCauseFunc
	stopDeadline context.CancelFunc
	check        Check
	sh           *shard
	// prev and next link the entry into its shard's list, guarded by sh.mu; linked
	// is false once it has been removed.
	prev, next *entry
	linked     bool
}

// New returns a registry that re-checks on the changes w announces. Create it after
// the caches it relies on (the authenticator, the access index) have subscribed to w:
// callbacks run in subscription order, so theirs have run when its re-check is
// scheduled. Close stops it.
func New(w Watcher, o Options) *Registry {
	if o.Delay <= 0 {
		o.Delay = DefaultDelay
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Workers <= 0 {
		o.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Every == 0 {
		o.Every = freshness.TTL
	}
	r := &Registry{delay: o.Delay, every: o.Every, timeout: o.CheckTimeout, workers: o.Workers, log: o.Log, after: time.After,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	r.gen.Store(1)
	if w != nil {
		w.Watch(r.changed)
	}
	go r.run()
	return r
}

// relevant reports whether a change of kind k can undo a decision an open thing was
// allowed under. Credential changes (OAuth tokens refreshed) cannot; ChangeAll
// (anything may have changed) can.
func relevant(k catalog.ChangeKind) bool {
	switch k {
	case catalog.ChangePrincipal, catalog.ChangeMembership, catalog.ChangeGrant,
		catalog.ChangeConnection, catalog.ChangeToken, catalog.ChangeNetworkPolicy, catalog.ChangeAll:
		return true
	}
	return false
}

// changed is the store callback: it only counts and schedules, never checks.
func (r *Registry) changed(c catalog.Change) {
	if relevant(c.Kind) {
		r.gen.Add(1)
		r.schedule()
	}
}

// Changed schedules a re-check of every entry, as a relevant store change does.
func (r *Registry) Changed() {
	r.gen.Add(1)
	r.schedule()
}

// Generation counts the relevant changes announced so far; read it before taking the
// decisions an entry is tracked for (Entry.Since).
func (r *Registry) Generation() uint64 { return r.gen.Load() }

func (r *Registry) schedule() {
	select {
	case r.kick <- struct{}{}:
	default: // a re-check is already due; it will see this change too
	}
}

// Track tracks an open thing and returns its context, which is cancelled with the
// check's error as its cause when a later re-check fails, and release, which the owner
// calls when the thing ends (it also cancels the context). Release may be called more
// than once.
func (r *Registry) Track(ctx context.Context, check Check) (context.Context, func()) {
	return r.TrackEntry(ctx, Entry{Check: check})
}

// TrackEntry is Track with the token's expiry as a deadline and the generation the
// decisions were taken at.
func (r *Registry) TrackEntry(ctx context.Context, e Entry) (context.Context, func()) {
	x := &entry{check: e.Check, sh: &r.shards[r.next.Add(1)%numShards]}
	x.ctx, x.cancel = context.WithCancelCause(ctx)
	if !e.Expires.IsZero() {
		cause := e.Expired
		if cause == nil {
			cause = catalog.Errorf(catalog.Unauthenticated, "the access token expired")
		}
		x.ctx, x.stopDeadline = context.WithDeadlineCause(x.ctx, e.Expires, cause)
	}
	sh := x.sh
	sh.mu.Lock()
	x.next, x.linked = sh.head, true
	if sh.head != nil {
		sh.head.prev = x
	}
	sh.head = x
	sh.n++
	sh.mu.Unlock()
	if e.Since != 0 && r.gen.Load() != e.Since {
		r.schedule()
	}
	return x.ctx, x.release
}

func (x *entry) release() {
	sh := x.sh
	sh.mu.Lock()
	if x.linked {
		if x.prev != nil {
			x.prev.next = x.next
		} else {
			sh.head = x.next
		}
		if x.next != nil {
			x.next.prev = x.prev
		}
		x.prev, x.next, x.linked = nil, nil, false
		sh.n--
	}
	sh.mu.Unlock()
	x.cancel(context.Canceled)
	if x.stopDeadline != nil {
		x.stopDeadline()
	}
}

// Len is the number of entries tracked.
func (r *Registry) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}

// Close stops the re-checks; entries stay as they are.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() { close(r.stop) })
	<-r.done
	return nil
}

func (r *Registry) run() {
	defer close(r.done)
	var periodic <-chan time.Time
	if r.every > 0 {
		t := time.NewTicker(r.every)
		defer t.Stop()
		periodic = t.C
	}
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-periodic:
			// No change heard for a while: re-check anyway, in case one was lost. A tick is
			// not a change: the generation stays, so calls decided just before it are not
			// swept again for it.
			r.sweep()
			if r.swept != nil {
				r.swept()
			}
			continue
		}
		select {
		case <-r.stop:
			return
		case <-r.after(r.delay):
		}
		// The changes that came during the delay are covered by this re-check.
		select {
		case <-r.kick:
		default:
		}
		r.sweep()
		if r.swept != nil {
			r.swept()
		}
	}
}

// sweep runs every entry's check, with no lock held, and ends the entries that fail.
func (r *Registry) sweep() {
	r.sweeps.Add(1)
	var all []*entry
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for x := sh.head; x != nil; x = x.next {
			all = append(all, x)
		}
		sh.mu.Unlock()
	}
	if len(all) == 0 {
		return
	}
	jobs := make(chan *entry)
	var wg sync.WaitGroup
	for range min(r.workers, len(all)) {
		wg.Go(func() {
			for x := range jobs {
				r.recheck(x)
			}
		})
	}
	for _, x := range all {
		jobs <- x
	}
	close(jobs)
	wg.Wait()
}

func (r *Registry) recheck(x *entry) {
	if x.ctx.Err() != nil {
		return // already ended
	}
	// The check keeps the context's values (request id, source), not its end.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), r.timeout)
	err := x.check(ctx)
	cancel()
	if err == nil {
		return
	}
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		// A check that cannot tell (the store failed, the check ran out of time) fails
		// closed. Its detail goes to the log only; the cause, which callers may show,
		// says what happened in words a user may see.
		r.log.Warn("revoke: a re-check failed; ending the open call or tunnel", "err", err)
		x.cancel(errUnchecked)
		return
	}
	r.log.Info("revoke: ending an open call or tunnel", "reason", ce.Message)
	x.cancel(ce)
}

// errUnchecked is the cause for an entry whose check failed without a decision.
var errUnchecked = catalog.Errorf(catalog.TemporarilyUnavailable, "access could not be re-checked after a change, so the call was ended; try again")
