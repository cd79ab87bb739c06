package reqbody_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// wait bounds every wait of these tests for an answer that must come.
const wait = 10 * time.Second

// serve starts h on a loopback server that speaks HTTP/1.1 and HTTP/2 with prior
// knowledge (h2c, as --http2-cleartext serves it).
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawConn is an HTTP/1.1 client connection that writes exactly what the test says: a
// body can be announced and never sent.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// send writes a request head announcing a body of length bytes (none: no body), then
// the first part of that body.
func (rc *rawConn) send(method, contentType string, length int, part string) {
	rc.t.Helper()
	head := method + " / HTTP/1.1\r\nHost: gatehouse.test\r\n"
	if contentType != "" {
		head += "Content-Type: " + contentType + "\r\n"
	}
	if length >= 0 {
		head += "Content-Length: " + strconv.Itoa(length) + "\r\n"
	}
	if _, err := io.WriteString(rc.c, head+"\r\n"+part); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads one response; the wait bounds it.
func (rc *rawConn) response() *http.Response {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.rd, nil)
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// closed reports whether the server ended the connection (rather than the wait
// running out).
func (rc *rawConn) closed() bool {
	_, err := rc.rd.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// refuse answers 401 without reading the body, as a surface refusing a caller does.
func refuse(w http.ResponseWriter, r *http.Request) {
	reqbody.RefuseUnread(w, r)
	w.WriteHeader(http.StatusUnauthorized)
}

// TestRefuseUnreadHTTP1: a request refused before its announced body arrives is
// answered at once and its connection ends (without RefuseUnread net/http would wait
// for the body to discard it first, and the answer would never come); a request without
// a body keeps its connection.
func TestRefuseUnreadHTTP1(t *testing.T) {
	addr := serve(t, refuse)
	for _, tc := range []struct {
		name      string
		method    string
		length    int // -1: no Content-Length
		wantClose bool
	}{
		{"announced body never sent", "POST", 100 << 10, true},
		{"small announced body never sent", "POST", 10, true},
		{"no body", "GET", -1, false},
		{"empty body", "POST", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send(tc.method, "", tc.length, "")
			resp := rc.response()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			if got := resp.Close; got != tc.wantClose {
				t.Errorf("Connection: close = %v, want %v (header %q)", got, tc.wantClose, resp.Header.Get("Connection"))
			}
			if tc.wantClose {
				if !rc.closed() {
					t.Error("the connection is still open after the refusal")
				}
				return
			}
			// Still usable: a second request on it is answered.
			rc.send("GET", "", -1, "")
			if resp := rc.response(); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("second request = %d, want 401", resp.StatusCode)
			}
		})
	}
}

// TestRefuseUnreadHTTP2: over h2c a refusal before the body ends only its stream: no
// Connection: close (net/http would turn it into GOAWAY for a connection a balancer
// shares), and the next request goes on the same connection.
func TestRefuseUnreadHTTP2(t *testing.T) {
	addr := serve(t, refuse)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	var dials atomic.Int64
	var d net.Dialer
	tr := &http.Transport{Protocols: &p, DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, a)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range 2 {
		req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", strings.NewReader(strings.Repeat("a", 64<<10)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusUnauthorized || resp.Close {
			t.Errorf("request %d = %d over %s, close %v; want 401 over HTTP/2 without close", i, resp.StatusCode, resp.Proto, resp.Close)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialed %d connections, want 1: the refusal must not end the connection", n)
	}
}

// result is what a test handler saw.
type result struct {
	err      error
	form     string // the form's "a" field
	canceled bool   // the request's context ended while the handler waited
}

// TestReadForm: a form is read within its size and time bounds; one too large, too
// slow or malformed is an error (a stalled one a 408 *catalog.Error) and its connection
// ends; once one is read to its end, the handler may take longer than the timeout
// without its request being cancelled or its connection closed.
func TestReadForm(t *testing.T) {
	const (
		limit   = 64
		timeout = 50 * time.Millisecond
	)
	got := make(chan result, 1)
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		err := reqbody.ReadForm(w, r, limit, timeout)
		res := result{err: err, form: r.PostFormValue("a")}
		if err == nil {
			// Work for several timeouts: the timeout bounds the form's arrival, not the
			// handler.
			select {
			case <-r.Context().Done():
				res.canceled = true
			case <-time.After(4 * timeout):
			}
		}
		got <- res
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name        string
		contentType string
		length      int    // announced
		body        string // sent
		wantErr     func(error) bool
		wantForm    string
	}{
		{name: "form within the limit", contentType: form, length: 5, body: "a=xyz", wantForm: "xyz"},
		{name: "form of exactly the limit", contentType: form, length: limit, body: "a=" + strings.Repeat("b", limit-2), wantForm: strings.Repeat("b", limit-2)},
		{name: "form over the limit", contentType: form, length: limit + 1, body: "a=" + strings.Repeat("b", limit-1), wantErr: func(err error) bool {
			var mbe *http.MaxBytesError
			return errors.As(err, &mbe)
		}},
		{name: "form that stalls", contentType: form, length: 50, body: "a=x", wantErr: func(err error) bool {
			var ce *catalog.Error
			return errors.As(err, &ce) && ce.HTTPStatus() == http.StatusRequestTimeout && strings.Contains(ce.Message, timeout.String())
		}},
		{name: "malformed form", contentType: form, length: 4, body: "a=%z", wantErr: func(err error) bool { return err != nil }},
		{name: "no body", length: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			method := "POST"
			if tc.length < 0 {
				method = "GET"
			}
			rc.send(method, tc.contentType, tc.length, tc.body)
			var res result
			select {
			case res = <-got:
			case <-time.After(wait):
				t.Fatal("the handler never ran to its end")
			}
			resp := rc.response()
			if tc.wantErr != nil {
				if res.err == nil || !tc.wantErr(res.err) {
					t.Fatalf("ReadForm = %v, want the error of a %s", res.err, tc.name)
				}
				if resp.StatusCode != http.StatusBadRequest || !resp.Close || !rc.closed() {
					t.Errorf("refusal = %d, close %v; want 400 and the connection ended", resp.StatusCode, resp.Close)
				}
				return
			}
			if res.err != nil {
				t.Fatalf("ReadForm = %v, want nil", res.err)
			}
			if res.form != tc.wantForm {
				t.Errorf("a = %q, want %q", res.form, tc.wantForm)
			}
			if res.canceled {
				t.Error("the request was cancelled after its form was read: a read deadline stayed behind")
			}
			if resp.StatusCode != http.StatusNoContent || resp.Close {
				t.Errorf("answer = %d, close %v; want 204 on a connection kept open", resp.StatusCode, resp.Close)
			}
		})
	}
}

// TestDeadline: a body that stops arriving is cut at the deadline with a 408
// *catalog.Error, whatever reads it (here io.ReadAll, as the API's proxy does).
func TestDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	got := make(chan error, 1)
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		reqbody.Deadline(w, r, timeout)
		_, err := io.ReadAll(r.Body)
		got <- err
		w.WriteHeader(http.StatusRequestTimeout)
	})
	rc := dialRaw(t, addr)
	rc.send("POST", "application/json", 100, `{"a":`)
	var err error
	select {
	case err = <-got:
	case <-time.After(wait):
		t.Fatal("the stalled body was never cut")
	}
	var ce *catalog.Error
	if !errors.As(err, &ce) || ce.HTTPStatus() != http.StatusRequestTimeout || ce.Code != catalog.InvalidParameterValue {
		t.Fatalf("read error = %v, want a 408 INVALID_PARAMETER_VALUE", err)
	}
	if resp := rc.response(); resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408", resp.StatusCode)
	}
}
