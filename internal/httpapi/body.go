package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// DefaultBodyTimeout bounds the arrival of an API request body when Deps.BodyTimeout is
// zero.
const DefaultBodyTimeout = 30 * time.Second

// hasBody reports whether the request announces a body (a Content-Length above zero, or
// chunked).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// refuseUnread marks the response to a request refused before its body was read as the
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
func refuseUnread(w http.ResponseWriter, r *http.Request) {
	if hasBody(r) && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(aLongTimeAgo)
	}
}

// aLongTimeAgo is a deadline in the past: reads under it fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// bodyDeadline bounds how long the request body may take to arrive: it sets a read
// deadline on the caller's connection d from now, so that a client that stops sending
// half way is cut after d. It applies only to a request with a body: for one without,
// net/http is already reading the connection in the background (to notice a client that
// hangs up), and a deadline there would cancel the request when it fired.
func bodyDeadline(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if !hasBody(r) {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
	r.Body = &timedBody{ReadCloser: r.Body, w: w, timeout: d}
}

// timedBody is a request body read under the deadline bodyDeadline set. Its end (EOF)
// clears the deadline: net/http starts its background read of the connection once the
// body is read, and the deadline firing there, while the handler still works, would
// cancel the request. After any other error the deadline stays, so that nothing waits
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
		return n, bodyTimeoutError(b.timeout)
	}
	return n, err
}

// bodyTimeoutError is the 408 of a request body that did not arrive in time.
func bodyTimeoutError(d time.Duration) *catalog.Error {
	return &catalog.Error{Code: catalog.InvalidParameterValue, Status: http.StatusRequestTimeout,
		Message: fmt.Sprintf("the request body did not arrive within %s", d)}
}
