package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The reasons an exchange cancels itself; the first one wins.
var (
	errTooLarge      = errors.New("request body over the limit")
	errHeaderTimeout = errors.New("response header timeout")
	errIdleUpstream  = errors.New("idle timeout: upstream")
	errIdleCaller    = errors.New("idle timeout: caller's request body")
	errTotalTimeout  = errors.New("total timeout")
	errBodyClosed    = errors.New("request body closed")
)

// aLongTimeAgo is a deadline in the past: setting it makes pending and future reads or
// writes on the caller's connection fail at once.
var aLongTimeAgo = time.Unix(1, 0)

type phase int

const (
	phaseConnecting phase = iota // dialing, TLS, writing the request header
	phaseSending                 // streaming the request body: IdleTimeout applies
	phaseAwaiting                // request written, no response yet: HeaderTimeout applies
	phaseStreaming               // response header received: IdleTimeout applies
)

// exchange holds the timers and state of one Forward call.
//
// Each timeout is a timer whose callback cancels the upstream request's context with a
// cause. Cancelling stops whatever is blocked on the upstream (dial, header wait, body
// read or write). What is blocked on the caller cannot be reached through a context, so
// an abort also sets a past deadline on the caller's connection through
// http.ResponseController: the write deadline once the response has started (a stuck
// write to a client that stopped reading fails, and the response is cut short, which is
// the point), the read deadline when a read of the caller's request body is in flight.
type exchange struct {
	p      *Proxy
	w      http.ResponseWriter
	rc     *http.ResponseController
	host   string
	start  time.Time
	parent context.Context // the caller's
	ctx    context.Context // the upstream request's, cancelled by cancel
	cancel context.CancelCauseFunc
	body   *requestBody // nil without a request body; set before any timer starts

	// Set by open for relay and close.
	res       *http.Response
	out       Outcome
	events    bool            // the response is an event stream
	stream    bool            // flushed after every write
	announced map[string]bool // trailers announced in the header

	// last is time.Since(start) at the last body activity in either direction.
	last atomic.Int64

	mu          sync.Mutex
	phase       phase
	connected   bool // a connection to the upstream was obtained (after TLS)
	wroteHeader bool // the response to the caller has started
	cut         bool // the response was aborted
	done        bool
	cause       error // why the exchange cancelled itself
	idle        *time.Timer
	header      *time.Timer
	total       *time.Timer
}

func newExchange(p *Proxy, w http.ResponseWriter, host string, start time.Time) *exchange {
	return &exchange{p: p, w: w, rc: http.NewResponseController(w), host: host, start: start}
}

func (x *exchange) touch() { x.last.Store(int64(time.Since(x.start))) }

func (x *exchange) startTotal(d time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.total = time.AfterFunc(d, func() { x.abort(errTotalTimeout) })
}

// gotConn runs when the transport has a connection (TLS done). With a body, the idle
// clock starts: from now on the body must keep moving.
func (x *exchange) gotConn() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.connected = true
	if x.phase == phaseConnecting && x.body != nil {
		x.phase = phaseSending
		x.armIdleLocked()
	}
}

// wroteRequest runs when the request, body included, has been written: the header
// clock starts. An upstream that answered early has already moved past this phase.
func (x *exchange) wroteRequest() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.connected = true
	if x.phase < phaseAwaiting && !x.done {
		x.phase = phaseAwaiting
		x.header = time.AfterFunc(x.p.cfg.HeaderTimeout, func() {
			x.mu.Lock()
			defer x.mu.Unlock()
			if x.phase == phaseAwaiting {
				x.abortLocked(errHeaderTimeout)
			}
		})
	}
}

// startResponse runs when the upstream's response header arrived, before anything is
// written to the caller. It fails if a timer fired meanwhile, so that nothing is written.
func (x *exchange) startResponse() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cause != nil {
		return x.cause
	}
	x.phase = phaseStreaming
	if x.header != nil {
		// A stream lives for minutes after this: let the stopped timer go.
		x.header.Stop()
		x.header = nil
	}
	x.wroteHeader = true
	x.armIdleLocked()
	return nil
}

func (x *exchange) armIdleLocked() {
	x.touch()
	d := x.p.cfg.IdleTimeout
	if x.idle == nil {
		x.idle = time.AfterFunc(d, x.idleFired)
	} else {
		x.idle.Reset(d)
	}
}

// idleFired checks, rather than resets, the idle clock: body reads and writes only
// store a timestamp, and the timer re-arms itself for the time left.
func (x *exchange) idleFired() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done || x.cause != nil || (x.phase != phaseSending && x.phase != phaseStreaming) {
		return
	}
	d := x.p.cfg.IdleTimeout
	if quiet := time.Since(x.start) - time.Duration(x.last.Load()); quiet < d {
		x.idle.Reset(d - quiet)
		return
	}
	cause := errIdleUpstream
	if x.body != nil && x.body.reading() {
		cause = errIdleCaller // we are waiting for the caller, not the upstream
	}
	x.abortLocked(cause)
}

func (x *exchange) abort(cause error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.abortLocked(cause)
}

func (x *exchange) abortLocked(cause error) {
	if x.done || x.cause != nil {
		return
	}
	x.cause = cause
	x.cancel(cause)
	if x.wroteHeader {
		x.cutLocked()
	}
	if x.body != nil && x.body.close() && cause != errTooLarge {
		_ = x.rc.SetReadDeadline(aLongTimeAgo)
	}
}

// cutLocked aborts the response to the caller, so that it cannot be mistaken for a
// complete one: HTTP/1 closes the connection before the final chunk (or short of the
// Content-Length), HTTP/2 resets the stream. A writer that supports no deadline is
// hijacked and closed where it can be.
func (x *exchange) cutLocked() {
	if x.cut {
		return
	}
	x.cut = true
	if err := x.rc.SetWriteDeadline(aLongTimeAgo); errors.Is(err, http.ErrNotSupported) {
		if conn, _, err := x.rc.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// failStreaming aborts a response that has started and says why. It classifies first:
// cutting the response makes the server cancel the caller's context.
func (x *exchange) failStreaming(err error, parent context.Context, upstreamSide bool) error {
	err = x.classify(err, parent, upstreamSide)
	x.mu.Lock()
	x.cutLocked()
	x.mu.Unlock()
	return err
}

// classify turns a failure into the error Forward returns. upstreamSide is false for
// failures writing to the caller, which mean the caller went away.
//
// The exchange's own cause is checked first: aborting sets deadlines on the caller's
// connection, and the server answers those by cancelling the caller's context, which
// must not then be mistaken for the caller going away.
func (x *exchange) classify(err error, parent context.Context, upstreamSide bool) error {
	x.mu.Lock()
	cause, connected, started := x.cause, x.connected, x.wroteHeader
	x.mu.Unlock()
	if cause != nil {
		return x.causeError(cause)
	}
	if parent.Err() != nil {
		return fmt.Errorf("proxy to %s: the caller went away: %w", x.host, context.Cause(parent))
	}
	if x.body != nil {
		if rerr := x.body.readErr(); rerr != nil {
			var mbe *http.MaxBytesError
			if errors.As(rerr, &mbe) {
				return catalog.TooLarge(mbe.Limit)
			}
			if started {
				return fmt.Errorf("proxy to %s: reading the caller's request body: %w", x.host, rerr)
			}
			return catalog.Errorf(catalog.InvalidParameterValue, "the request body could not be read")
		}
	}
	if !upstreamSide {
		return fmt.Errorf("proxy to %s: %w", x.host, err)
	}
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return ce
	}
	if started {
		return catalog.Errorf(catalog.UpstreamError, "upstream %s broke off the response", x.host)
	}
	return upstreamError(x.host, connected, err, x.p.cfg.ConnectTimeout, x.p.cfg.MaxResponseHeaderBytes)
}

func (x *exchange) causeError(cause error) *catalog.Error {
	cfg := &x.p.cfg
	switch cause {
	case errTooLarge:
		return catalog.TooLarge(cfg.MaxRequestBytes)
	case errHeaderTimeout:
		return catalog.Errorf(catalog.UpstreamTimeout, "upstream %s sent no response header within %s", x.host, cfg.HeaderTimeout)
	case errIdleUpstream:
		return catalog.Errorf(catalog.UpstreamTimeout, "no data moved to or from upstream %s for %s", x.host, cfg.IdleTimeout)
	case errIdleCaller:
		return &catalog.Error{Code: catalog.InvalidParameterValue, Status: http.StatusRequestTimeout,
			Message: fmt.Sprintf("the request body stalled: nothing arrived from the caller for %s", cfg.IdleTimeout)}
	default:
		return catalog.Errorf(catalog.UpstreamTimeout, "the call to upstream %s did not complete within %s", x.host, cfg.TotalTimeout)
	}
}

// finish stops the timers and releases the upstream request. If a timer fired after the
// body was copied, the response was cut, so the call did not succeed.
func (x *exchange) finish(err error) error {
	x.mu.Lock()
	x.done = true
	cause := x.cause
	for _, t := range []*time.Timer{x.idle, x.header, x.total} {
		if t != nil {
			t.Stop()
		}
	}
	inFlight := x.body != nil && x.body.close()
	x.mu.Unlock()
	if inFlight {
		// The transport is still blocked reading the caller's body (the upstream
		// answered without reading it all). Unblock it, so that nothing reads the body
		// after Forward returned.
		_ = x.rc.SetReadDeadline(aLongTimeAgo)
	}
	x.cancel(nil)
	if err == nil && cause != nil {
		return x.causeError(cause)
	}
	return err
}

// requestBody streams the caller's body to the transport. It counts bytes, enforces
// MaxRequestBytes (reading at most one byte past it, like http.MaxBytesReader), feeds
// the idle clock, and never closes the caller's reader.
//
// A read of the caller's body can block for as long as the caller likes, and Go's HTTP/1
// transport does not return from RoundTrip, even when its context is cancelled, until
// the read it is in returns. So reads that may block run in a pump goroutine, and Read
// waits for the pump or for stop, which an abort, Close (the HTTP/2 transport's way of
// unblocking a body write) or the end of Forward closes. The transport is then released
// at once; the pump's own read ends when the caller's does, which the exchange hastens
// with a read deadline on the caller's connection.
type requestBody struct {
	r      io.Reader
	max    int64
	length int64 // the declared length, or -1: sizes the pump's buffer
	x      *exchange

	mu       sync.Mutex
	n        int64 // bytes handed to the transport
	inRead   bool  // a read of r is in flight
	err      error // the first error reading r, other than EOF
	final    error // the first error (EOF included) a read returned; later reads return it
	stopOnce sync.Once
	stop     chan struct{}
	started  bool
	want     chan int        // sizes asked of the pump
	got      chan pumpResult // its answers; buffered, so that the pump never waits
	buf      []byte          // the pump's buffer, handed over through got
}

type pumpResult struct {
	n   int
	err error
}

// pumpBufferSize is the largest buffer the pump reads the caller's body into.
const pumpBufferSize = 32 << 10

// newRequestBody reads r for the transport; length is the body's declared length, or -1.
func newRequestBody(r io.Reader, max, length int64, x *exchange) *requestBody {
	return &requestBody{r: r, max: max, length: length, x: x, stop: make(chan struct{})}
}

// nonBlocking reports whether reading r can never block, so that no pump is needed.
func nonBlocking(r io.Reader) bool {
	switch r.(type) {
	case *bytes.Reader, *strings.Reader, *bytes.Buffer:
		return true
	}
	return false
}

func (b *requestBody) Read(p []byte) (int, error) {
	select {
	case <-b.stop:
		return 0, errBodyClosed
	default:
	}
	b.mu.Lock()
	if b.n > b.max {
		b.mu.Unlock()
		return 0, errTooLarge
	}
	if b.final != nil {
		// The pump has ended. The HTTP/1 transport reads once more after a body of known
		// length (to find extra bytes): that read must answer at once, or the request
		// never finishes writing and its connection is not reused — every call would
		// dial, and wait 50 ms, anew.
		err := b.final
		b.mu.Unlock()
		return 0, err
	}
	if rem := b.max - b.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	var (
		n   int
		err error
	)
	if nonBlocking(b.r) {
		b.mu.Unlock()
		n, err = b.r.Read(p)
	} else {
		if !b.started {
			b.started = true
			b.want = make(chan int, 1)
			b.got = make(chan pumpResult, 1)
			// A body of known length gets a buffer of its size and one byte (the read
			// that finds its end), not 32 KiB: most calls (a JSON-RPC request, say)
			// send a few hundred bytes.
			size := int64(pumpBufferSize)
			if b.length >= 0 && b.length < size {
				size = b.length + 1
			}
			b.buf = make([]byte, size)
			go b.pump()
		}
		b.mu.Unlock()
		select {
		case b.want <- min(len(p), len(b.buf)):
		case <-b.stop:
			return 0, errBodyClosed
		}
		select {
		case r := <-b.got:
			n, err = copy(p, b.buf[:r.n]), r.err
		case <-b.stop:
			return 0, errBodyClosed
		}
	}

	b.mu.Lock()
	b.n += int64(n)
	if err != nil && b.final == nil {
		b.final = err
	}
	over := b.n > b.max
	if over {
		n -= int(b.n - b.max)
	} else if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	if n > 0 {
		b.x.touch()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The per-read deadline fired: the caller stopped sending (408).
		b.x.abort(errIdleCaller)
	}
	if over {
		b.x.abort(errTooLarge)
		return n, errTooLarge
	}
	return n, err
}

// pump reads the caller's body on Read's behalf, one read per request.
func (b *requestBody) pump() {
	for {
		var size int
		select {
		case size = <-b.want:
		case <-b.stop:
			return
		}
		b.mu.Lock()
		select {
		case <-b.stop:
			b.mu.Unlock()
			return
		default:
		}
		b.inRead = true
		// Each read of the caller's body gets the idle timeout as the read deadline of
		// the caller's connection, so that a client that trickles nothing is cut by the
		// socket itself, whatever the exchange's timers are doing, while a large upload
		// that keeps moving is never cut. Under b.mu, so that it cannot overwrite the
		// past deadline of an abort (close, then reading, take b.mu after stop closed).
		_ = b.x.rc.SetReadDeadline(time.Now().Add(b.x.p.cfg.IdleTimeout))
		b.mu.Unlock()
		n, err := b.r.Read(b.buf[:size])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The per-read deadline fired: the caller stopped sending (408). Said here,
			// while inRead still holds, so that the exchange's idle timer, firing at the
			// same moment, cannot take the stall for the upstream's (504).
			b.x.abort(errIdleCaller)
		}
		b.mu.Lock()
		b.inRead = false
		if err == io.EOF {
			// The body has ended. net/http now reads the connection in the background
			// (to notice a client that hangs up) for as long as the response streams: a
			// deadline left behind would cancel the request when it fired. After any
			// other error the deadline stays: nothing must wait for the rest of a body
			// that failed (net/http would, to discard it, before answering).
			select {
			case <-b.stop:
			default:
				_ = b.x.rc.SetReadDeadline(time.Time{})
			}
		}
		b.mu.Unlock()
		b.got <- pumpResult{n, err}
		if err != nil {
			return
		}
	}
}

// Close is called by the transport; the caller's reader stays open.
func (b *requestBody) Close() error {
	b.close()
	return nil
}

// close stops further reads, releases a Read waiting for the pump, and reports whether
// a read of the caller's body is still in flight.
func (b *requestBody) close() bool {
	b.stopOnce.Do(func() { close(b.stop) })
	return b.reading()
}

func (b *requestBody) reading() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inRead
}

func (b *requestBody) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// count is the number of body bytes handed to the transport.
func (b *requestBody) count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return min(b.n, b.max)
}
