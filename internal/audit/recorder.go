// Package audit records Gatehouse's audit events (docs/architecture.md, "The audit chain"): a
// Recorder that takes events from request goroutines without blocking them on I/O and
// writes them to a catalog.AuditStore in batches, one transaction each (group commit);
// the hash chain that links every event to the one before it, keyed with an HMAC whose
// key is derived from the master key (ChainKey), one chain however many recorders
// (replicas) write the log; Verifier and VerifyStore, which check it; and HMAC, for the
// places where a secret must be matched without being revealed.
//
// Callers never put a secret into an event: the recorder stores what it is given,
// bounded. Two mechanisms keep a client without a token from making the log grow
// without bound: every string of a stored event is bounded and escaped
// (internal/bound: 256 bytes plus a note of the original length), and unauthenticated
// events (no principal, a source address) past a per-source rate are counted and
// written as one summary event per window (Options.UnauthenticatedRate, SummaryParam).
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Defaults of Options.
const (
	DefaultMaxBatch      = 256
	DefaultMaxDelay      = 5 * time.Millisecond
	DefaultQueueSize     = 8192
	DefaultRetryDelay    = 50 * time.Millisecond
	DefaultMaxRetryDelay = 5 * time.Second
)

// Options tune a Recorder; zero fields take the defaults.
type Options struct {
	// MaxBatch is the most events written in one transaction.
	MaxBatch int
	// MaxDelay is how long the writer waits for more events after the first one of a
	// batch before it writes. It bounds the latency that batching adds.
	MaxDelay time.Duration
	// QueueSize is how many events may wait for the writer. When the queue is full,
	// Record blocks (back-pressure) rather than drop a security record.
	QueueSize int
	// Now is the clock that stamps events; nil means time.Now.
	Now func() time.Time
	// RetryDelay is the wait before the first retry of a failed write; it doubles on
	// each further failure up to MaxRetryDelay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration

	// UnauthenticatedRate is how many unauthenticated events (no principal, a source
	// address: a failed authentication, say) per second one source address may have
	// written one by one, after a first burst of UnauthenticatedBurst. Past it, its
	// events are counted, and once UnauthenticatedWindow has passed since the first
	// counted one, one summary event per kind of event carries the count (see
	// SummaryParam). So a client without a token cannot make the log grow faster than
	// the rate, and nothing it did goes unrecorded. Authenticated events are never
	// aggregated.
	UnauthenticatedRate float64
	// UnauthenticatedBurst defaults to twice the rate (at least 1).
	UnauthenticatedBurst int
	// UnauthenticatedWindow is how long counting lasts before a summary is written.
	UnauthenticatedWindow time.Duration
	// MaxSources bounds the sources whose rate is tracked; past it, new sources share
	// one bucket (summarized with source_ip "overflow").
	MaxSources int
	// SweepInterval is how often the writer writes the summaries of windows that are
	// over. Flush writes them too, and Close writes every pending one.
	SweepInterval time.Duration
	// ChainKey, when set, keys the hash chain (KeyedHashOf; derive it with ChainKey
	// from the master key). Without it events are hashed with HashOf, which anyone
	// who can write the store can recompute: servers always set it.
	ChainKey []byte
	// AnchorLegacy lets a keyed recorder take a log whose newest event is unkeyed (one
	// written before chains were keyed) as a legacy prefix: it writes the keyed
	// ActionAuditChainKeyed event that anchors it. Without it New refuses such a log,
	// because a log rewritten by someone without the key looks the same: accepting
	// legacy events is an operator's decision, taken once when upgrading.
	AnchorLegacy bool
}

// Stats are counters of a Recorder since it was created.
type Stats struct {
	Events       int64 // events stored
	Batches      int64 // successful appends (AppendAuditChained calls)
	LargestBatch int64 // most events in one batch
	Failures     int64 // failed appends (each retried)
	Lost         int64 // events never stored: Record's ctx ended while the queue was full, the recorder was closed, or Close gave up
	Suppressed   int64 // unauthenticated events counted in a summary instead of stored one by one
}

// item is what the queue carries: an event, or a flush marker.
type item struct {
	e     *catalog.AuditEvent
	flush chan struct{} // closed once every event queued before the marker is stored
}

// Recorder writes audit events to a store in the background. One writer goroutine takes
// events from a queue, groups them into batches of up to MaxBatch (waiting at most
// MaxDelay for a batch to fill) and stores each batch with one AppendAuditChained call,
// which chains each event to the one before it inside the store's transaction.
//
// So several Recorders may write one log (the replicas of a deployment on PostgreSQL, or
// a server and an admin command on SQLite): each batch links to the newest event
// stored, whoever wrote it, under the log's append lock, and the log stays one chain.
// A batch whose write failed is linked afresh when it is retried: its events are the
// same, their links may not be.
//
// A Recorder is safe for concurrent use.
type Recorder struct {
	store catalog.AuditStore
	log   *slog.Logger
	opts  Options
	agg   *aggregator

	queue chan item
	// mu guards closed. Senders (Record, Flush) hold it for reading while they send, so
	// that Close, holding it for writing, can close the queue with no send in flight.
	mu     sync.RWMutex
	closed bool

	ctx    context.Context // the writer's; cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has returned
	err    error         // why the writer lost events; read after done

	closeOnce sync.Once
	head      string       // hash of the newest event this recorder stored; the writer's alone
	hasher    *keyedHasher // the writer's alone; nil without a chain key
	// linkFn is r.link, made once rather than per batch.
	linkFn func(prevHash string, e *catalog.AuditEvent) error

	events, batches, largest, failures, lost atomic.Int64
}

// New returns a Recorder that appends to store, continuing the chain from the newest
// stored event (or from Genesis on an empty log), and starts its writer. Close stops it.
// With a chain key it first checks that the newest event is keyed (see
// Options.AnchorLegacy); every later batch links to whatever event is newest when it is
// stored.
func New(store catalog.AuditStore, log *slog.Logger, opts Options) (*Recorder, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = DefaultRetryDelay
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = DefaultMaxRetryDelay
	}
	opts.MaxRetryDelay = max(opts.MaxRetryDelay, opts.RetryDelay)
	if opts.UnauthenticatedRate <= 0 || math.IsNaN(opts.UnauthenticatedRate) || math.IsInf(opts.UnauthenticatedRate, 0) {
		opts.UnauthenticatedRate = DefaultUnauthenticatedRate
	}
	if opts.UnauthenticatedBurst <= 0 {
		opts.UnauthenticatedBurst = max(1, int(math.Ceil(math.Min(2*opts.UnauthenticatedRate, 1<<30))))
	}
	if opts.UnauthenticatedWindow <= 0 {
		opts.UnauthenticatedWindow = DefaultUnauthenticatedWindow
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = DefaultMaxSources
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	ctx, cancel := context.WithCancel(context.Background())
	head := Genesis
	last, err := store.LastAudit(ctx)
	switch {
	case catalog.IsNotFound(err):
	case err != nil:
		cancel()
		return nil, fmt.Errorf("audit recorder: read the newest event: %w", err)
	default:
		head = last.Hash
		if len(opts.ChainKey) > 0 {
			if head, err = continueKeyed(ctx, store, log, opts, last); err != nil {
				cancel()
				return nil, err
			}
		}
	}
	r := &Recorder{
		store:  store,
		log:    log,
		opts:   opts,
		agg:    newAggregator(opts.UnauthenticatedRate, opts.UnauthenticatedBurst, opts.UnauthenticatedWindow, opts.MaxSources),
		queue:  make(chan item, opts.QueueSize),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		head:   head,
	}
	r.linkFn = r.link
	go r.run()
	return r, nil
}

// ErrUnkeyedLog is what New returns, wrapped, for a keyed recorder whose log's newest
// event has an unkeyed hash while Options.AnchorLegacy is off.
var ErrUnkeyedLog = errors.New("the newest audit event has an unkeyed hash")

// errHeadMoved is what the anchor's link returns when the newest event is no longer the
// legacy head that continueKeyed decided on: another writer appended in between.
var errHeadMoved = errors.New("the newest audit event changed")

// maxAnchorAttempts bounds how often continueKeyed decides again because another writer
// appended between its read of the newest event and its anchor.
const maxAnchorAttempts = 5

// continueKeyed returns the head a keyed recorder continues from. A legacy (unkeyed)
// newest event is refused unless opts.AnchorLegacy; with it, it is followed at once,
// before anything else is recorded, by an ActionAuditChainKeyed event keyed and chained
// to it, which anchors the legacy prefix (see Verifier). The anchor is appended only if
// that legacy event is still the newest inside the append's transaction: when another
// writer (a replica starting at the same moment, which may have written the anchor
// itself) appended first, the newest event is read and judged again. A newest event
// that matches neither hash is logged: the chain is already broken there, and
// verification will say so; recording goes on.
func continueKeyed(ctx context.Context, store catalog.AuditStore, log *slog.Logger, opts Options, last *catalog.AuditEvent) (string, error) {
	for attempt := 1; ; attempt++ {
		l := LinkOf(last)
		switch {
		case hmac256Equal(KeyedHashOf(opts.ChainKey, l.PrevHash, l.Canonical), l.Hash):
			return last.Hash, nil
		case HashOf(l.PrevHash, l.Canonical) != l.Hash:
			log.Error("audit: the newest audit event's hash matches neither this server's chain key nor the unkeyed chain: the log was changed, or written under another master key; run gatehouse audit verify",
				"event_id", last.EventID, "hash", last.Hash)
			return last.Hash, nil
		case !opts.AnchorLegacy:
			return "", fmt.Errorf("audit recorder: %w (event_id %s): the log was written by a version of Gatehouse without keyed chains, or rewritten by someone without the master key; "+
				"once you have checked it (gatehouse audit verify of the older version), start the server once with --audit-anchor-legacy-chain to keep its events as the unkeyed start of the log", ErrUnkeyedLog, last.EventID)
		}
		e := prepare(&catalog.AuditEvent{
			EventID:    catalog.NewID(),
			EventTime:  opts.Now().Truncate(time.Millisecond),
			ActionName: ActionAuditChainKeyed,
			Params:     map[string]string{"legacy_head": last.Hash, "chain": "hmac-sha256"},
			Decision:   catalog.DecisionAllow,
		})
		err := store.AppendAuditChained(ctx, []*catalog.AuditEvent{e}, func(prev string, e *catalog.AuditEvent) error {
			if prev != last.Hash {
				return errHeadMoved
			}
			e.PrevHash = prev
			e.Hash = KeyedHashOf(opts.ChainKey, e.PrevHash, LinkOf(e).Canonical)
			return nil
		})
		if err == nil {
			log.Warn("audit: the unkeyed events of the log are kept as its legacy start; the hash chain is keyed from now on", "legacy_head", last.Hash, "head_hash", e.Hash)
			return e.Hash, nil
		}
		if !errors.Is(err, errHeadMoved) {
			return "", fmt.Errorf("audit recorder: start the keyed chain: %w", err)
		}
		if attempt >= maxAnchorAttempts {
			return "", fmt.Errorf("audit recorder: start the keyed chain: other writers kept appending (%d attempts)", attempt)
		}
		if last, err = store.LastAudit(ctx); err != nil {
			return "", fmt.Errorf("audit recorder: read the newest event: %w", err)
		}
	}
}

// Record queues e for storage and returns without waiting for it to be stored, and
// without I/O. It fills in e.EventID (catalog.NewID) and e.EventTime (the clock) when
// they are empty; the recorder then keeps its own copy, so the caller may reuse e.
//
// The stored copy differs from e in ways that keep records bounded and the chain
// verifiable from the API's JSON: the time is truncated to the millisecond (the API
// shows milliseconds) and in UTC; every string (params keys and values too) is bounded
// by bound.String — at most 256 bytes plus a note of the original length, control
// characters and invalid UTF-8 escaped, so it is valid UTF-8 that JSON keeps as it is;
// and at most MaxParams params are kept, the others counted in "params_omitted".
//
// When the queue is full, Record blocks until there is room or ctx ends: a burst slows
// callers down rather than losing security records. If ctx ends first the event is
// lost, and that is logged (without its params). So pass a context that ends only when
// the caller truly cannot wait any longer, not one that a client ends by hanging up.
//
// An unauthenticated event (no principal, a source address) past its source's rate is
// counted for a summary instead of queued (Options.UnauthenticatedRate).
//
// An event without an action name, or with a time outside the years 1678-2262, is a
// programming error: it is logged and dropped, since the store would refuse it and hold
// up every event behind it.
func (r *Recorder) Record(ctx context.Context, e *catalog.AuditEvent) {
	if e.EventID == "" {
		e.EventID = catalog.NewID()
	}
	if e.EventTime.IsZero() {
		e.EventTime = r.opts.Now().Truncate(time.Millisecond)
	}
	c := prepare(e)
	if c.ActionName == "" || !time.Unix(0, c.EventTime.UnixNano()).Equal(c.EventTime) {
		r.lost.Add(1)
		r.log.Error("audit event refused: it has no action name or its time is out of range", lostAttrs(c)...)
		return
	}

	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.lose(c, "the audit recorder is closed")
		return
	}
	// Counted under the read lock, so that Close, which writes every pending summary
	// once it holds the lock, sees every count.
	if unauthenticated(c) && !r.agg.admit(c, r.opts.Now()) {
		return
	}
	select {
	case r.queue <- item{e: c}:
		return
	default:
	}
	select {
	case r.queue <- item{e: c}:
	case <-ctx.Done():
		r.lose(c, "the audit queue is full and the caller's context ended: "+ctx.Err().Error())
	case <-r.done:
		r.lose(c, "the audit writer has stopped")
	}
}

// MaxParams is the most request_params an event keeps: past it, the params after the
// first MaxParams in key order are dropped and counted in a "params_omitted" param.
const MaxParams = 32

// paramsOmitted is the param that counts the params a stored event left out.
const paramsOmitted = "params_omitted"

// prepare returns the copy of e that the recorder stores. Every string in it goes
// through bound.String, so that no request-supplied value (a connection name, a path,
// a header value, a principal name as given) makes a record larger than a bounded size
// or puts a control character into it; the hash is computed later, over these bounded
// values, so the chain verifies from what is stored.
func prepare(e *catalog.AuditEvent) *catalog.AuditEvent {
	c := *e
	c.Seq, c.PrevHash, c.Hash = 0, "", ""
	c.EventTime = e.EventTime.Truncate(time.Millisecond).UTC()
	for _, s := range []*string{&c.EventID, &c.ActionName, &c.Principal, &c.SourceIP, &c.RequestID, &c.Connection, &c.ErrorCode, &c.Decision} {
		*s = bound.String(*s)
	}
	c.Params = boundParams(e.Params)
	return &c
}

// boundParams returns a bounded copy of params (nil for none): at most MaxParams of
// them, keys and values bounded. When there are more, or when two keys are the same
// once bounded, the ones left out are counted in paramsOmitted rather than lost
// without a trace.
func boundParams(params map[string]string) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, min(len(params), MaxParams+1))
	if len(params) <= MaxParams {
		omitted := 0
		for k, v := range params {
			if !addParam(out, k, v) {
				omitted++
			}
		}
		if omitted > 0 {
			out[paramsOmitted] = strconv.Itoa(omitted)
		}
		return out
	}
	omitted := 0
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if len(out) >= MaxParams || !addParam(out, k, params[k]) {
			omitted++
		}
	}
	out[paramsOmitted] = strconv.Itoa(omitted)
	return out
}

// addParam adds the bounded k and v to out, unless a param of that bounded key is
// there already.
func addParam(out map[string]string, k, v string) bool {
	k = bound.String(k)
	if _, dup := out[k]; dup {
		return false
	}
	out[k] = bound.String(v)
	return true
}

func lostAttrs(e *catalog.AuditEvent) []any {
	return []any{"event_id", e.EventID, "action_name", e.ActionName, "principal", e.Principal,
		"connection", e.Connection, "request_id", e.RequestID, "event_time", e.EventTime}
}

// lose logs that e will never be stored. Params are left out of the log line: they are
// the part of an event most likely to hold something sensitive.
func (r *Recorder) lose(e *catalog.AuditEvent, why string) {
	r.lost.Add(1)
	r.log.Error("audit record lost: "+why, lostAttrs(e)...)
}

// Flush waits until every event recorded before the call is stored, or ctx ends. It
// also makes the writer write its current batch at once, without waiting MaxDelay, and
// the summaries of aggregation windows that are over by the clock; events counted in a
// window still open are stored with its summary, when it closes or at Close.
func (r *Recorder) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return fmt.Errorf("flush audit events: %w", ctx.Err())
		}
	}
	select {
	case r.queue <- item{flush: ch}:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return fmt.Errorf("flush audit events: %w", ctx.Err())
	case <-r.done:
		r.mu.RUnlock()
		return r.stoppedErr()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit events: %w", ctx.Err())
	case <-r.done:
		select {
		case <-ch:
			return nil
		default:
			return r.stoppedErr()
		}
	}
}

func (r *Recorder) stoppedErr() error {
	if r.err != nil {
		return r.err
	}
	return errors.New("flush audit events: the audit writer has stopped")
}

// Close stops taking events, stores every event already taken and the summary of every
// aggregation window still open, and stops the writer.
// If ctx ends first, Close gives up: the events not yet stored are lost (and logged),
// and it returns an error saying how many. Later calls return the same result.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		go func() {
			// Waits for senders in flight, which finish once the writer makes room
			// (or, if Close gives up, once the writer has stopped).
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			close(r.queue)
			// The writer takes everything up to the close, unless Close gave up;
			// then what it left behind is lost, and said so.
			<-r.done
			for it := range r.queue {
				if it.e != nil {
					r.lose(it.e, "the recorder was closed before it could be stored")
				}
			}
			// Empty unless Close gave up before the writer wrote the summaries.
			for _, e := range r.agg.sweep(r.opts.Now(), true) {
				r.lose(e, "the recorder was closed before this summary could be stored (suppressed "+e.Params["suppressed"]+")")
			}
		}()
	})
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	r.cancel()
	return r.err
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		Events:       r.events.Load(),
		Batches:      r.batches.Load(),
		LargestBatch: r.largest.Load(),
		Failures:     r.failures.Load(),
		Lost:         r.lost.Load(),
		Suppressed:   r.agg.suppressedCount(),
	}
}

// run is the writer: it takes a first item, gathers more until the batch is full, the
// delay has passed, a flush marker arrives or the queue closes, and stores the batch.
func (r *Recorder) run() {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sweep := time.NewTicker(r.opts.SweepInterval)
	defer sweep.Stop()
	batch := make([]*catalog.AuditEvent, 0, r.opts.MaxBatch)
	var flushes []chan struct{}
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-r.queue:
		case <-sweep.C:
			if !r.writeSummaries(false) {
				return
			}
			continue
		case <-r.ctx.Done():
			r.giveUp(nil)
			return
		}
		if !ok {
			if r.writeSummaries(true) {
				r.log.Info("audit recorder closed", "head_hash", r.head, "events", r.events.Load())
			}
			return
		}
		open := true
		add := func(it item) {
			if it.flush != nil {
				flushes = append(flushes, it.flush)
			} else {
				batch = append(batch, it.e)
			}
		}
		add(it)
		if len(flushes) == 0 {
			timer.Reset(r.opts.MaxDelay)
		gather:
			for len(batch) < r.opts.MaxBatch {
				select {
				case it, ok = <-r.queue:
					if !ok {
						open = false
						break gather
					}
					add(it)
					if it.flush != nil {
						break gather
					}
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		if !r.write(batch) {
			r.giveUp(batch)
			return
		}
		// A flush also writes the summaries whose window is over, so that what it
		// waits for includes them.
		if len(flushes) > 0 && !r.writeSummaries(false) {
			return
		}
		for _, ch := range flushes {
			close(ch)
		}
		clear(batch)
		batch, flushes = batch[:0], flushes[:0]
		if !open {
			if r.writeSummaries(true) {
				r.log.Info("audit recorder closed", "head_hash", r.head, "events", r.events.Load())
			}
			return
		}
	}
}

// writeSummaries writes the summaries of the windows that are over (every pending one
// when all is set), MaxBatch at a time. It returns false if the writer has to stop:
// then the summaries not stored are lost, and said so.
func (r *Recorder) writeSummaries(all bool) bool {
	sums := r.agg.sweep(r.opts.Now(), all)
	for len(sums) > 0 {
		n := min(len(sums), r.opts.MaxBatch)
		if !r.write(sums[:n]) {
			r.giveUp(sums)
			return false
		}
		sums = sums[n:]
	}
	return true
}

// link is the writer's link function for AppendAuditChained: it chains e to the event
// before it (prevHash, "" for an empty log, whose first event follows Genesis) with the
// keyed hash (or the unkeyed one without a chain key). It runs under the store's append
// lock, so it only hashes.
func (r *Recorder) link(prevHash string, e *catalog.AuditEvent) error {
	if prevHash == "" {
		prevHash = Genesis
	}
	e.PrevHash = prevHash
	if len(r.opts.ChainKey) > 0 {
		if r.hasher == nil {
			r.hasher = newKeyedHasher(r.opts.ChainKey)
		}
		e.Hash = r.hasher.sum(prevHash, LinkOf(e).Canonical)
	} else {
		e.Hash = HashOf(prevHash, LinkOf(e).Canonical)
	}
	return nil
}

// write stores the batch, chained to the newest stored event, retrying with backoff
// until it is stored or the writer's context ends (false). A retry stores the same
// events in the same order, linked afresh inside its own transaction: another writer
// may have appended since the failed attempt, and the chain stays whole either way.
func (r *Recorder) write(batch []*catalog.AuditEvent) bool {
	if len(batch) == 0 {
		return true
	}
	delay := r.opts.RetryDelay
	wait := func() bool {
		t := time.NewTimer(delay)
		defer t.Stop()
		delay = min(2*delay, r.opts.MaxRetryDelay)
		select {
		case <-t.C:
			return true
		case <-r.ctx.Done():
			return false
		}
	}
retry:
	for attempt := 1; ; attempt++ {
		err := r.store.AppendAuditChained(r.ctx, batch, r.linkFn)
		if err == nil {
			break
		}
		r.failures.Add(1)
		if r.ctx.Err() != nil {
			return false
		}
		r.log.Error("audit: storing events failed; retrying", "events", len(batch), "attempt", attempt, "retry_in", delay, "err", err)
		// A write that failed may still have committed (a lost answer to a commit):
		// storing it again would duplicate it, so look first, until the store answers.
		for {
			if !wait() {
				return false
			}
			found, err := r.stored(batch)
			if err == nil && found {
				break retry
			}
			if err == nil {
				break
			}
			r.log.Error("audit: looking for a batch whose write failed failed; retrying", "events", len(batch), "retry_in", delay, "err", err)
		}
	}
	r.head = batch[len(batch)-1].Hash
	n := int64(len(batch))
	r.events.Add(n)
	r.batches.Add(1)
	if n > r.largest.Load() {
		r.largest.Store(n)
	}
	return true
}

// maxStoredPages bounds how many pages of look-alike events stored reads.
const maxStoredPages = 100

// stored reports whether the batch, whose write was reported as failed, did commit: it
// did if its last event is in the log (a batch is one transaction). Other writers may
// have appended after it, so the event is looked up among those of its exact time and
// fields rather than taken to be the newest.
func (r *Recorder) stored(batch []*catalog.AuditEvent) (bool, error) {
	end := batch[len(batch)-1]
	if end.Hash == "" {
		return false, nil // never linked: no attempt got as far as the lock
	}
	f := catalog.AuditFilter{Since: end.EventTime, Until: end.EventTime.Add(time.Nanosecond), Action: end.ActionName,
		Principal: end.Principal, Connection: end.Connection, Limit: 1000}
	for range maxStoredPages {
		page, err := r.store.ListAudit(r.ctx, f)
		if err != nil {
			return false, err
		}
		for _, e := range page {
			if e.EventID == end.EventID {
				// The committed attempt was the last one (each retry looks first), so
				// the batch's links are those stored; take the stored hash anyway.
				end.Hash = e.Hash
				return true, nil
			}
		}
		if len(page) < f.Limit {
			return false, nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
	// So many events alike that the look gives up: storing the batch again risks a
	// duplicate (linked into the chain like any event), which is better than a writer
	// that stops.
	r.log.Warn("audit: too many events alike to tell whether a failed write committed; storing it again", "event_id", end.EventID)
	return false, nil
}

// giveUp records that the writer stopped, because Close gave up, with batch and the
// events still queued not stored. The queued ones are logged as they are drained, once
// the queue is closed.
func (r *Recorder) giveUp(batch []*catalog.AuditEvent) {
	for _, e := range batch {
		r.lose(e, "the recorder was closed before it could be stored")
	}
	r.err = fmt.Errorf("close audit recorder: gave up with %d events not stored", len(batch)+len(r.queue))
}
