package tunnel_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Tokens of the fake authenticator. None of them may ever appear in a log line or an
// audit event.
const (
	aliceToken    = "gth_alicealicealicealicealicealice0001"
	inactiveToken = "gth_inactiveinactiveinactiveinactive02"
)

// principalKey is where the test's Annotate puts the principal for the dialer to see.
type principalKey struct{}

// fakeDialer dials 127.0.0.1 only, refuses the destinations in deny as the network
// policy would, and remembers every dial with the principal its context carried.
type fakeDialer struct {
	mu    sync.Mutex
	deny  map[string]string // host:port or host → policy message
	dials []dial
}

type dial struct {
	addr, principal string
}

func (f *fakeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, _ := ctx.Value(principalKey{}).(string)
	f.mu.Lock()
	f.dials = append(f.dials, dial{addr, p})
	msg, denied := f.deny[addr]
	if !denied {
		msg, denied = f.deny[host]
	}
	f.mu.Unlock()
	if denied {
		return nil, catalog.Errorf(catalog.NetworkPolicyDenied, "%s", msg)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("fake dialer: tests reach only 127.0.0.1, not %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (f *fakeDialer) denyAddr(addr, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deny == nil {
		f.deny = map[string]string{}
	}
	f.deny[addr] = msg
}

func (f *fakeDialer) calls() []dial {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dial(nil), f.dials...)
}

// fakeAuth knows alice and a deactivated service principal.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (*identity.Identity, error) {
	switch token {
	case aliceToken:
		return &identity.Identity{TokenID: "t1", Principal: &catalog.Principal{ID: "p1", Kind: catalog.KindUser, Name: "alice@example.com", Active: true}}, nil
	case inactiveToken:
		return &identity.Identity{TokenID: "t2", Principal: &catalog.Principal{ID: "p2", Kind: catalog.KindServicePrincipal, Name: "old-agent", Active: false}}, nil
	}
	return nil, catalog.Errorf(catalog.Unauthenticated, "invalid access token")
}

// recorder collects audit events.
type recorder struct {
	mu     sync.Mutex
	events []*catalog.AuditEvent
}

func (r *recorder) Record(_ context.Context, e *catalog.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []*catalog.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*catalog.AuditEvent(nil), r.events...)
}

// wait returns the events once there are at least n.
func (r *recorder) wait(t *testing.T, n int) []*catalog.AuditEvent {
	t.Helper()
	var got []*catalog.AuditEvent
	eventually(t, 5*time.Second, func() bool { got = r.all(); return len(got) >= n },
		func() string { return fmt.Sprintf("%d audit events, want %d", len(got), n) })
	return got
}

// lockedBuffer is a log sink that tests may read while the server writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a running egress proxy with its fakes.
type env struct {
	srv    *tunnel.Server
	proxy  *httptest.Server
	addr   string // host:port of the proxy
	dialer *fakeDialer
	rec    *recorder
	logs   *lockedBuffer
	// secrets may appear in no log line and no audit event; tests add the bad tokens
	// they send.
	secrets []string
}

func newEnv(t *testing.T, cfg tunnel.Config) *env {
	t.Helper()
	e := &env{dialer: &fakeDialer{}, rec: &recorder{}, logs: &lockedBuffer{},
		secrets: []string{aliceToken, inactiveToken}}
	cfg.Log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Annotate = func(ctx context.Context, principal string) context.Context {
		return context.WithValue(ctx, principalKey{}, principal)
	}
	e.srv = tunnel.New(cfg, e.dialer, fakeAuth{}, e.rec)
	e.proxy = httptest.NewServer(e.srv)
	e.addr = e.proxy.Listener.Addr().String()
	// Cleanups run last-in first-out: the secret check runs after everything closed.
	t.Cleanup(func() { e.checkNoSecrets(t) })
	t.Cleanup(func() {
		e.proxy.Close()
		_ = e.srv.Close()
		eventually(t, 5*time.Second, func() bool { return e.srv.Active() == 0 },
			func() string { return fmt.Sprintf("Active() = %d after Close, want 0", e.srv.Active()) })
	})
	return e
}

func (e *env) checkNoSecrets(t *testing.T) {
	t.Helper()
	logs := e.logs.String()
	if len(e.rec.all()) > 0 && !strings.Contains(logs, "egress ") {
		t.Errorf("nothing was logged: the secret check below would prove nothing")
	}
	for _, s := range e.secrets {
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte("x:" + s))}
		for _, f := range forms {
			if strings.Contains(logs, f) {
				t.Errorf("the log contains a token (%q):\n%s", f, logs)
			}
			for _, ev := range e.rec.all() {
				if dump := fmt.Sprintf("%+v", *ev); strings.Contains(dump, f) {
					t.Errorf("an audit event contains a token (%q): %s", f, dump)
				}
			}
		}
	}
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+token))
}

// proxyClient is a net/http client that reaches everything through the egress proxy
// with the token in the proxy URL, as HTTPS_PROXY=http://x:TOKEN@host:port does.
func (e *env) proxyClient(t *testing.T, token string, tlsTarget *httptest.Server) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(mustURL(t, "http://x:"+token+"@"+e.addr))}
	if tlsTarget != nil {
		tr.TLSClientConfig = tlsTarget.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// rawConnect opens a connection to the proxy and sends CONNECT target with the given
// Proxy-Authorization values, followed by extra bytes in the same write. It returns the
// connection, a reader positioned after the response head, and the response.
func (e *env) rawConnect(t *testing.T, target string, extra string, auth ...string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	for _, a := range auth {
		fmt.Fprintf(&b, "Proxy-Authorization: %s\r\n", a)
	}
	b.WriteString("\r\n" + extra)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("read CONNECT response: %v", err)
	}
	return c, br, res
}

// rawRequest sends raw bytes to the proxy and reads one response.
func (e *env) rawRequest(t *testing.T, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

// echoServer accepts TCP connections on loopback and echoes what it reads. When the
// client half-closes, it writes "bye" and closes.
func echoServer(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	return tcpServer(t, func(c net.Conn) {
		_, _ = io.Copy(c, c)
		_, _ = io.WriteString(c, "bye")
	})
}

// tcpServer runs serve for every connection to a loopback listener and counts them.
func tcpServer(t *testing.T, serve func(net.Conn)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				serve(c)
			}()
		}
	}()
	return ln.Addr().String(), &n
}

// countConns counts the connections an httptest server accepts.
func countConns(s *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func eventually(t *testing.T, within time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// readAll reads c until EOF or error and returns what came and how it ended.
func readAll(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

// summary is the part of an audit event that tests compare; the counters and the
// duration are checked separately.
type summary struct {
	Action, Principal, SourceIP, Connection, ErrorCode, Decision string
	Status                                                       int
	Params                                                       map[string]string
}

func summarize(e *catalog.AuditEvent) summary {
	p := map[string]string{}
	for k, v := range e.Params {
		switch k {
		case "bytes_up", "bytes_down", "duration_ms":
		default:
			p[k] = v
		}
	}
	return summary{Action: e.ActionName, Principal: e.Principal, SourceIP: e.SourceIP, Connection: e.Connection,
		ErrorCode: e.ErrorCode, Decision: e.Decision, Status: e.StatusCode, Params: p}
}
