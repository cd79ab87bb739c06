package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestForwardRequestBodyLimit: a body over MaxRequestBytes is a 413, refused before the
// upstream is contacted when its length is declared, and broken off when it is not.
func TestForwardRequestBodyLimit(t *testing.T) {
	const limit = 1000
	up := startUpstream(t, echoHandler, false)
	p := newTestProxy(t, Config{MaxRequestBytes: limit}, up)
	tests := []struct {
		name      string
		size      int
		declared  bool
		wantErr   bool
		wantNoHit bool
	}{
		{"declared length over the limit", limit + 1, true, true, true},
		{"declared length far over the limit", 50 * limit, true, true, true},
		{"chunked body over the limit", limit + 1, false, true, false},
		{"chunked body far over the limit", 500 * limit, false, true, false},
		{"declared length at the limit", limit, true, false, false},
		{"chunked body at the limit", limit, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.hits.Load()
			body := strings.Repeat("x", tt.size)
			c := Call{Method: "POST", Path: "/upload", Body: io.MultiReader(strings.NewReader(body)), ContentLength: -1}
			if tt.declared {
				c.ContentLength = int64(tt.size)
			}
			rec := newRecorder()
			out, err := p.Forward(context.Background(), rec, up.target(), c)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Forward: %v", err)
				}
				if got := decodeEcho(t, rec.Body.Bytes()); len(got.Body) != tt.size || out.BytesIn != int64(tt.size) {
					t.Errorf("upstream got %d bytes (BytesIn %d), want %d", len(got.Body), out.BytesIn, tt.size)
				}
				return
			}
			ce := wantError(t, err, catalog.InvalidParameterValue, http.StatusRequestEntityTooLarge)
			assertUntouched(t, rec)
			if !strings.Contains(ce.Message, "1000 bytes") {
				t.Errorf("message %q does not state the limit", ce.Message)
			}
			if hits := up.hits.Load() - before; tt.wantNoHit && hits != 0 {
				t.Errorf("upstream received %d requests, want none", hits)
			}
		})
	}

	t.Run("chunked over the limit through a front server", func(t *testing.T) {
		f := startFront(t, p, up.target(), false, nil)
		res, err := f.Client().Post(f.URL+"/proxy/upload", "text/plain", io.MultiReader(strings.NewReader(strings.Repeat("y", 5*limit))))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", res.StatusCode)
		}
		if r := f.result(t); catalog.CodeOf(r.err) != catalog.InvalidParameterValue || r.out.Status != 0 {
			t.Errorf("Forward = %+v, %v", r.out, r.err)
		}
	})
}

// hangUntilDone blocks until the request is given up by the proxy.
func hangUntilDone(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// TestForwardTimeoutsBeforeResponse: every way of not getting an answer in time is a
// 504 (or, for a caller that stops sending its body, a 408) within about its timeout,
// and nothing is written to the caller.
func TestForwardTimeoutsBeforeResponse(t *testing.T) {
	silent := startUpstream(t, hangUntilDone, false)
	reader := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hangUntilDone(w, r)
	}, false)

	// A listener that accepts and never speaks: the TLS handshake never completes.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	var held sync.WaitGroup
	var heldConns []net.Conn
	var heldMu sync.Mutex
	held.Go(func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			heldConns = append(heldConns, c)
			heldMu.Unlock()
		}
	})
	t.Cleanup(func() {
		mute.Close()
		held.Wait()
		heldMu.Lock()
		for _, c := range heldConns {
			c.Close()
		}
		heldMu.Unlock()
	})

	blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}

	const d = 300 * time.Millisecond
	tests := []struct {
		name     string
		cfg      Config
		target   Target
		call     func() Call
		code     catalog.ErrorCode
		status   int
		min, max time.Duration
	}{
		{
			name:   "no response header within HeaderTimeout",
			cfg:    Config{HeaderTimeout: d},
			target: silent.target(),
			call:   func() Call { return Call{Method: "GET", Path: "/slow"} },
			code:   catalog.UpstreamTimeout, status: 504, min: d, max: d + time.Second,
		},
		{
			name:   "no response header after a body, within HeaderTimeout",
			cfg:    Config{HeaderTimeout: d},
			target: reader.target(),
			call: func() Call {
				return Call{Method: "POST", Path: "/slow", Body: strings.NewReader("payload"), ContentLength: 7}
			},
			code: catalog.UpstreamTimeout, status: 504, min: d, max: d + time.Second,
		},
		{
			name:   "TotalTimeout before the response header",
			cfg:    Config{TotalTimeout: d},
			target: silent.target(),
			call:   func() Call { return Call{Method: "GET", Path: "/slow"} },
			code:   catalog.UpstreamTimeout, status: 504, min: d, max: d + time.Second,
		},
		{
			name:   "dial that never connects, within ConnectTimeout",
			cfg:    Config{ConnectTimeout: d, DialContext: blackhole},
			target: Target{Scheme: "https", Host: "api.example.com", AuthHeader: "Authorization", AuthValue: credential},
			call:   func() Call { return Call{Method: "GET", Path: "/"} },
			code:   catalog.UpstreamTimeout, status: 504, min: d, max: d + time.Second,
		},
		{
			name:   "TLS handshake that never completes, within ConnectTimeout",
			cfg:    Config{ConnectTimeout: d},
			target: Target{Scheme: "https", Host: mute.Addr().String(), AuthHeader: "Authorization", AuthValue: credential},
			call:   func() Call { return Call{Method: "GET", Path: "/"} },
			code:   catalog.UpstreamTimeout, status: 504, min: d, max: d + time.Second,
		},
		{
			name:   "caller stops sending its body, within IdleTimeout",
			cfg:    Config{IdleTimeout: d},
			target: reader.target(),
			call: func() Call {
				pr, pw := io.Pipe()
				go func() { _, _ = pw.Write([]byte("start of a body that never ends")) }()
				t.Cleanup(func() { pw.Close() })
				return Call{Method: "POST", Path: "/upload", Body: pr, ContentLength: -1}
			},
			code: catalog.InvalidParameterValue, status: http.StatusRequestTimeout, min: d, max: d + time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProxy(t, tt.cfg, silent, reader)
			rec := newRecorder()
			start := time.Now()
			out, err := p.Forward(context.Background(), rec, tt.target, tt.call())
			elapsed := time.Since(start)
			ce := wantError(t, err, tt.code, tt.status)
			assertUntouched(t, rec)
			if out.Status != 0 {
				t.Errorf("Outcome.Status = %d, want 0", out.Status)
			}
			if elapsed < tt.min || elapsed > tt.max {
				t.Errorf("Forward took %v, want between %v and %v", elapsed, tt.min, tt.max)
			}
			if tt.code == catalog.UpstreamTimeout && !strings.Contains(ce.Message, tt.target.Host) {
				t.Errorf("message %q does not name the host", ce.Message)
			}
		})
	}
}

// TestForwardUpstreamErrors: an upstream that cannot be reached or trusted is a 502 that
// names the host and nothing else.
func TestForwardUpstreamErrors(t *testing.T) {
	up := startUpstream(t, echoHandler, false)
	bigHeader := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("b", 4096))
		w.WriteHeader(200)
	}, false)
	plain := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(plain.Close)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tgt := func(host string) Target {
		return Target{Scheme: "https", Host: host, AuthHeader: "Authorization", AuthValue: credential}
	}
	_, port, _ := net.SplitHostPort(up.addr())
	tests := []struct {
		name    string
		cfg     Config
		target  Target
		code    catalog.ErrorCode
		status  int
		message string
	}{
		{"closed port", Config{}, tgt(closedAddr), catalog.UpstreamError, 502, "refused the connection"},
		{"untrusted certificate", Config{RootCAs: x509.NewCertPool()}, up.target(), catalog.UpstreamError, 502, "unknown authority; if it is a private CA, give it to the server with --upstream-ca-file"},
		{"certificate for another host", Config{}, tgt("localhost:" + port), catalog.UpstreamError, 502, "not valid for this host"},
		{"upstream that does not speak TLS", Config{}, tgt(plain.Listener.Addr().String()), catalog.UpstreamError, 502, "does not speak TLS"},
		{"response header over MaxResponseHeaderBytes", Config{MaxResponseHeaderBytes: 1024}, bigHeader.target(), catalog.UpstreamError, 502, "larger than 1024 bytes"},
		{"unresolvable host", Config{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}
		}}, tgt("nowhere.invalid"), catalog.UpstreamError, 502, "could not be resolved"},
		{"network policy denial from DialContext passes through", Config{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, catalog.Errorf(catalog.NetworkPolicyDenied, "destination %s is blocked by the network policy", addr)
		}}, tgt("blocked.example:443"), catalog.NetworkPolicyDenied, 403, "blocked by the network policy"},
		{"http target without AllowHTTP", Config{}, Target{Scheme: "http", Host: plain.Listener.Addr().String()}, catalog.InvalidParameterValue, 400, "http://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProxy(t, tt.cfg, up, bigHeader)
			rec := newRecorder()
			_, err := p.Forward(context.Background(), rec, tt.target, Call{Method: "GET", Path: "/x", RawQuery: "token=query-secret"})
			ce := wantError(t, err, tt.code, tt.status)
			assertUntouched(t, rec)
			if !strings.Contains(ce.Message, tt.message) {
				t.Errorf("message %q, want it to say %q", ce.Message, tt.message)
			}
			if tt.code == catalog.UpstreamError && !strings.Contains(ce.Message, tt.target.Host) {
				t.Errorf("message %q does not name the host %s", ce.Message, tt.target.Host)
			}
			if strings.Contains(ce.Message, "query-secret") || strings.Contains(ce.Message, "/x") {
				t.Errorf("message %q shows the path or query", ce.Message)
			}
		})
	}

	t.Run("http target with AllowHTTP", func(t *testing.T) {
		p := newTestProxy(t, Config{AllowHTTP: true})
		rec := newRecorder()
		if _, err := p.Forward(context.Background(), rec, Target{Scheme: "http", Host: plain.Listener.Addr().String(), AuthHeader: "X-Api-Key", AuthValue: "k"}, Call{Method: "GET", Path: "/x"}); err != nil {
			t.Fatalf("Forward: %v", err)
		}
		if got := decodeEcho(t, rec.Body.Bytes()); got.Header.Get("X-Api-Key") != "k" {
			t.Errorf("credential did not arrive over http")
		}
	})

	t.Run("invalid targets are server errors", func(t *testing.T) {
		p := newTestProxy(t, Config{}, up)
		for _, bad := range []Target{
			{Scheme: "ftp", Host: up.addr()},
			{Scheme: "https", Host: ""},
			{Scheme: "https", Host: "user@" + up.addr()},
			{Scheme: "https", Host: up.addr() + "/path"},
			{Scheme: "https", Host: up.addr(), BasePath: "v1"},
			{Scheme: "https", Host: up.addr(), BasePath: "/v1/"},
			{Scheme: "https", Host: up.addr(), BasePath: "/v1/../admin"},
			{Scheme: "https", Host: up.addr(), AuthHeader: "Authorization", AuthValue: "Bearer s3cret\r\nX-Injected: 1"},
			{Scheme: "https", Host: up.addr(), AuthHeader: "Bad Header", AuthValue: credential},
		} {
			_, err := p.Forward(context.Background(), newRecorder(), bad, Call{Method: "GET", Path: "/"})
			if err == nil || catalog.CodeOf(err) != catalog.InternalError {
				t.Errorf("Forward(%#v) = %v, want an internal error", bad, err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q leaks the credential", err)
			}
		}
		if n := up.hits.Load(); n != 0 {
			t.Errorf("upstream received %d requests, want none", n)
		}
	})
}

// TestForwardAbortsBrokenResponses: once the response has started, a failure cuts it
// short so that the client sees an error, never a silently truncated success.
func TestForwardAbortsBrokenResponses(t *testing.T) {
	stall := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("partial "))
		_ = http.NewResponseController(w).Flush()
		hangUntilDone(w, r)
	}
	short := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte("only this much"))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // the upstream dies short of its Content-Length
	}
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			if _, err := w.Write([]byte("data: tick\n\n")); err != nil {
				return
			}
			_ = http.NewResponseController(w).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
	const d = 300 * time.Millisecond
	tests := []struct {
		name    string
		handler http.HandlerFunc
		cfg     Config
		code    catalog.ErrorCode
	}{
		{"upstream stalls mid-body (IdleTimeout)", stall, Config{IdleTimeout: d}, catalog.UpstreamTimeout},
		{"upstream dies short of its Content-Length", short, Config{}, catalog.UpstreamError},
		{"stream outlives TotalTimeout", endless, Config{TotalTimeout: 2 * d}, catalog.UpstreamTimeout},
	}
	for _, tt := range tests {
		for _, front2 := range []bool{false, true} {
			name := tt.name + " HTTP/1.1 caller"
			if front2 {
				name = tt.name + " HTTP/2 caller"
			}
			t.Run(name, func(t *testing.T) {
				up := startUpstream(t, tt.handler, false)
				p := newTestProxy(t, tt.cfg, up)
				f := startFront(t, p, up.target(), front2, nil)
				// The client must see a failure: either no response at all (a known-length
				// response may still sit in the server's buffer when it is cut), or the
				// upstream's status and then a broken body.
				start := time.Now()
				res, err := f.Client().Get(f.URL + "/proxy/x")
				if err == nil {
					if res.StatusCode != 200 {
						t.Fatalf("status = %d, want the upstream's 200", res.StatusCode)
					}
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
					if err == nil {
						t.Errorf("reading the body succeeded; want an error for a broken response")
					}
				}
				if elapsed := time.Since(start); elapsed > 3*time.Second {
					t.Errorf("the abort took %v", elapsed)
				}
				r := f.result(t)
				if r.out.Status != 200 || catalog.CodeOf(r.err) != tt.code {
					t.Errorf("Forward = status %d, %v; want status 200 and %s", r.out.Status, r.err, tt.code)
				}
			})
		}
	}
}

// notifyReader reports when a Read that was blocked returns.
type notifyReader struct {
	r        io.Reader
	mu       sync.Mutex
	inRead   bool
	returned chan struct{}
}

func (n *notifyReader) Read(p []byte) (int, error) {
	n.mu.Lock()
	n.inRead = true
	n.mu.Unlock()
	k, err := n.r.Read(p)
	n.mu.Lock()
	n.inRead = false
	n.mu.Unlock()
	if err != nil {
		select {
		case n.returned <- struct{}{}:
		default:
		}
	}
	return k, err
}

// TestForwardCallerStallsBody: a caller that stops sending its body gets a 408, and the
// read blocked on its connection is released, so that nothing reads the body after
// Forward returned.
func TestForwardCallerStallsBody(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hangUntilDone(w, r)
	}, false)
	const d = 300 * time.Millisecond
	p := newTestProxy(t, Config{IdleTimeout: d}, up)
	nr := &notifyReader{returned: make(chan struct{}, 1)}
	f := startFront(t, p, up.target(), false, func(r io.Reader) io.Reader { nr.r = r; return nr })

	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("the beginning of a body")) }()
	req, _ := http.NewRequest("POST", f.URL+"/proxy/upload", pr)
	start := time.Now()
	res, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408", res.StatusCode)
	}
	if elapsed := time.Since(start); elapsed < d || elapsed > d+2*time.Second {
		t.Errorf("answer after %v, want about %v", elapsed, d)
	}
	r := f.result(t)
	wantError(t, r.err, catalog.InvalidParameterValue, http.StatusRequestTimeout)
	select {
	case <-nr.returned:
	case <-time.After(2 * time.Second):
		t.Errorf("the read of the caller's body is still blocked after Forward returned")
	}
}

// TestForwardCallerGoesAway: when the caller cancels, the upstream request stops at once.
func TestForwardCallerGoesAway(t *testing.T) {
	upstreamDone := make(chan struct{})
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(upstreamDone)
	}, false)
	p := newTestProxy(t, Config{}, up)
	f := startFront(t, p, up.target(), false, nil)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/proxy/slow", nil)
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := f.Client().Do(req); err == nil {
		t.Fatal("request succeeded; want it canceled")
	}
	canceled := time.Now()
	r := f.result(t)
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Forward error = %v, want context.Canceled", r.err)
	}
	select {
	case <-upstreamDone:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream request was not stopped")
	}
	if elapsed := time.Since(canceled); elapsed > time.Second {
		t.Errorf("stopping the upstream took %v", elapsed)
	}
}

// TestForwardEarlyResponse: an upstream that answers without reading the body (a 401
// before a large upload, say) is passed on at once, even while the caller is still
// sending, and Forward does not wait for the rest of the body.
func TestForwardEarlyResponse(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1 upstream", true: "HTTP/2 upstream"}[h2], func(t *testing.T) {
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				// Without this, Go's HTTP/1 server drains the unread body before it
				// answers; servers that answer early behave like this.
				_ = http.NewResponseController(w).EnableFullDuplex()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"message":"Bad credentials"}`)
			}, h2)
			p := newTestProxy(t, Config{}, up)
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			go func() { _, _ = pw.Write(make([]byte, 64<<10)) }() // then the caller stalls

			rec := newRecorder()
			start := time.Now()
			out, err := p.Forward(context.Background(), rec, up.target(), Call{Method: "PUT", Path: "/upload", Body: pr, ContentLength: -1})
			if err != nil {
				t.Fatalf("Forward: %v", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Forward took %v, want it not to wait for the body", elapsed)
			}
			if rec.Code != http.StatusUnauthorized || out.Status != http.StatusUnauthorized || rec.Body.String() != `{"message":"Bad credentials"}` {
				t.Errorf("got %d %q, want the upstream's 401", rec.Code, rec.Body.String())
			}
		})
	}
}
