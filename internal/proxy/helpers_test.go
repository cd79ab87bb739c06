package proxy

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// credential is the injected secret; no error, log or caller-visible byte may hold it.
const credential = "Bearer s3cret-credential-7f3a"

// upstream is a loopback TLS server that counts the requests it receives.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func startUpstream(tb testing.TB, h http.HandlerFunc, http2 bool) *upstream {
	tb.Helper()
	u := &upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	u.EnableHTTP2 = http2
	u.Config.ErrorLog = log.New(io.Discard, "", 0)
	u.StartTLS()
	tb.Cleanup(u.Close)
	return u
}

func (u *upstream) addr() string { return u.Listener.Addr().String() }

func (u *upstream) target() Target {
	return Target{Scheme: "https", Host: u.addr(), AuthHeader: "Authorization", AuthValue: credential}
}

// newTestProxy returns a proxy that trusts the given upstreams unless cfg says otherwise.
func newTestProxy(tb testing.TB, cfg Config, ups ...*upstream) *Proxy {
	tb.Helper()
	if cfg.RootCAs == nil {
		cfg.RootCAs = x509.NewCertPool()
		for _, u := range ups {
			cfg.RootCAs.AddCert(u.Certificate())
		}
	}
	p := New(cfg)
	tb.Cleanup(p.CloseIdleConnections)
	return p
}

// echo is what the echo upstream saw.
type echo struct {
	Method     string
	RequestURI string
	RawQuery   string
	Host       string
	Proto      string
	Header     http.Header
	Body       []byte
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the proxy broke the request off; nobody reads this answer
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echo{
		Method: r.Method, RequestURI: r.RequestURI, RawQuery: r.URL.RawQuery,
		Host: r.Host, Proto: r.Proto, Header: r.Header, Body: body,
	})
}

func decodeEcho(t *testing.T, body []byte) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode echo: %v (body %.200q)", err, body)
	}
	return e
}

// newRecorder is a ResponseWriter with the request id the HTTP layer sets first.
func newRecorder() *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Gatehouse-Request-Id", "req-123")
	return rec
}

// assertUntouched fails if Forward wrote anything to rec.
func assertUntouched(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Body.Len() != 0 || rec.Flushed || len(rec.Header()) != 1 || rec.Header().Get("X-Gatehouse-Request-Id") != "req-123" {
		t.Errorf("Forward wrote to the response before failing: header %v, %d body bytes", rec.Header(), rec.Body.Len())
	}
}

// wantError checks that err is a *catalog.Error with the code and status, and that its
// message holds no secret.
func wantError(t *testing.T, err error, code catalog.ErrorCode, status int) *catalog.Error {
	t.Helper()
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Forward error = %v, want a *catalog.Error %s", err, code)
	}
	if ce.Code != code || ce.HTTPStatus() != status {
		t.Fatalf("Forward error = %s (%d), want %s (%d)", ce, ce.HTTPStatus(), code, status)
	}
	if strings.Contains(ce.Message, "s3cret") {
		t.Fatalf("error message %q leaks the credential", ce.Message)
	}
	return ce
}

// front is the HTTP layer in miniature: it serves /proxy/{path...}, sets the request id
// and forwards every request to one target, reporting each Forward result.
type front struct {
	*httptest.Server
	results chan result
}

type result struct {
	out Outcome
	err error
}

func startFront(tb testing.TB, p *Proxy, tgt Target, http2 bool, wrapBody func(io.Reader) io.Reader) *front {
	tb.Helper()
	f := &front{results: make(chan result, 16)}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Gatehouse-Request-Id", "req-123")
		var body io.Reader = r.Body
		if wrapBody != nil {
			body = wrapBody(body)
		}
		out, err := p.Forward(r.Context(), w, tgt, Call{
			Method:        r.Method,
			Path:          strings.TrimPrefix(r.URL.EscapedPath(), "/proxy"),
			RawQuery:      r.URL.RawQuery,
			Header:        r.Header,
			Body:          body,
			ContentLength: r.ContentLength,
		})
		if err != nil && out.Status == 0 {
			var ce *catalog.Error
			if errors.As(err, &ce) {
				w.WriteHeader(ce.HTTPStatus())
				_, _ = io.WriteString(w, string(ce.Code)+": "+ce.Message)
			} else {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}
		f.results <- result{out, err}
	}))
	f.EnableHTTP2 = http2
	f.Config.ErrorLog = log.New(io.Discard, "", 0)
	if http2 {
		f.StartTLS()
	} else {
		f.Start()
	}
	tb.Cleanup(f.Close)
	return f
}

func (f *front) result(t *testing.T) result {
	t.Helper()
	select {
	case r := <-f.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the front handler reported no Forward result")
		return result{}
	}
}
