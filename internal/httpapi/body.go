package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// The API's request bodies are bounded as the browser surfaces' are, by package
// reqbody; the names below keep the API's call sites short.

// DefaultBodyTimeout bounds the arrival of an API request body when Deps.BodyTimeout is
// zero.
const DefaultBodyTimeout = reqbody.DefaultTimeout

// hasBody reports whether the request announces a body (reqbody.Has).
func hasBody(r *http.Request) bool { return reqbody.Has(r) }

// refuseUnread ends the connection of a request refused before its body was read,
// except over HTTP/2 (reqbody.RefuseUnread). Call it before writing the refusal.
func refuseUnread(w http.ResponseWriter, r *http.Request) { reqbody.RefuseUnread(w, r) }

// bodyDeadline bounds how long the body may take to arrive, d from now; a read past it
// fails with a 408 *catalog.Error (reqbody.Deadline).
func bodyDeadline(w http.ResponseWriter, r *http.Request, d time.Duration) {
	reqbody.Deadline(w, r, d)
}
