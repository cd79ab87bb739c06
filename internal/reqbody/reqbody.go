// Package reqbody bounds the reading of an HTTP request body, for every surface that
// reads one (the REST API, the sign-in pages, the web console): how long it may take to
// arrive (Deadline), how a posted form is read within a size and a time (ReadForm), and
// how a request refused before its body was read ends without waiting for that body
// (RefuseUnread). It decides nothing about the answer: each surface writes its own (a
// JSON error, an HTML page) from the error or the refusal.
//
// A client that announces a body and sends it slowly, or not at all, must not hold a
// connection, a goroutine and a buffer for as long as it likes: that is what the bounds
// here are for.
package reqbody

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// DefaultTimeout is how long a request body may take to arrive when a surface is given
// no timeout (--request-body-timeout's default).
const DefaultTimeout = 30 * time.Second

// Has reports whether the request announces a body (a Content-Length above zero, or
// chunked).
func Has(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// RefuseUnread marks the response to a request refused before its body was read as the
// last on its connection. Otherwise net/http, to reuse the connection, would first read
// and discard up to 256 KiB of the body before sending the answer: a client that
// announces a body and sends none would hold the refusal, and the connection, for as long
// as it likes. With Connection: close the answer goes out at once and the unread body
// is never waited for.
//
// Closing is not enough on its own: net/http, finishing the request, still reads up to
// 256 KiB of a small unread body before it closes the connection. A read deadline in
// the past makes that read fail at once, so the connection ends as soon as the answer
// is out. Nothing else reads the connection: the body was never read, so net/http has
// not started its background read.
//
// Over HTTP/2 (issue 10, --http2-cleartext) neither is needed and Connection: close
// would be wrong: net/http resets just this stream once the answer is out, while
// Connection: close would have it send GOAWAY for the whole connection, which a
// balancer shares between many callers.
//
// Call it before writing the answer: it sets a header.
func RefuseUnread(w http.ResponseWriter, r *http.Request) {
	if Has(r) && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(aLongTimeAgo)
	}
}

// aLongTimeAgo is a deadline in the past: reads under it fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// Deadline bounds how long the request body may take to arrive: it sets a read deadline
// on the caller's connection d from now, so that a client that stops sending half way
// is cut after d, and a read past it fails with a 408 *catalog.Error. The body's end
// clears the deadline (see timedBody). It applies only to a request with a body: for
// one without, net/http is already reading the connection in the background (to notice
// a client that hangs up), and a deadline there would cancel the request when it fired.
func Deadline(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if !Has(r) {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
	r.Body = &timedBody{ReadCloser: r.Body, w: w, timeout: d}
}

// ReadForm reads a posted form (r.ParseForm) within its bounds: at most limit bytes of
// body, arriving within timeout (Deadline). A form that fails to read (too large, too
// slow, malformed) is refused with RefuseUnread, so the connection ends instead of
// waiting for the rest, and the error says why; the caller writes the answer. A form
// read to its end leaves no deadline behind.
func ReadForm(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) error {
	Deadline(w, r, timeout)
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		RefuseUnread(w, r)
		return fmt.Errorf("read form: %w", err)
	}
	return nil
}

// timedBody is a request body read under the deadline Deadline set. Its end (EOF)
// clears the deadline: net/http starts its background read of the connection once the
// body is read, and the deadline firing there, while the handler still works, would
// cancel the request (net/http of Go 1.26 clears it itself when it starts that read
// over HTTP/1.1; this does not rely on it). After any other error the deadline stays, so that nothing waits
// any longer for the rest of a body that failed. A read that hit the deadline becomes a
// 408 the caller is told about.
type timedBody struct {
	io.ReadCloser
	w       http.ResponseWriter
	timeout time.Duration
	ended   bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil || b.ended {
		return n, err
	}
	b.ended = true
	switch {
	case err == io.EOF:
		_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, timeoutError(b.timeout)
	}
	return n, err
}

// timeoutError is the 408 of a request body that did not arrive in time.
func timeoutError(d time.Duration) *catalog.Error {
	return &catalog.Error{Code: catalog.InvalidParameterValue, Status: http.StatusRequestTimeout,
		Message: fmt.Sprintf("the request body did not arrive within %s", d)}
}
