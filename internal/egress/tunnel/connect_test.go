package tunnel_test

import (
	"encoding/base64"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
)

// TestHTTPSThroughConnect: net/http, configured as HTTPS_PROXY would configure it,
// reaches a TLS server through a tunnel; closing the client's connection ends the tunnel
// cleanly (TLS close_notify through the half-closes) and yields one audit event.
func TestHTTPSThroughConnect(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Errorf("target got Proxy-Authorization")
		}
		io.WriteString(w, "hello over tls")
	}))
	defer target.Close()

	c := e.proxyClient(t, aliceToken, target)
	res, err := c.Get(target.URL + "/x")
	if err != nil {
		t.Fatalf("GET through the proxy: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "hello over tls" {
		t.Fatalf("GET = %d %q, want 200 %q", res.StatusCode, body, "hello over tls")
	}
	if got := e.srv.Active(); got != 1 {
		t.Errorf("Active() with the tunnel open = %d, want 1", got)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()

	ev := e.rec.wait(t, 1)[0]
	dest := strings.TrimPrefix(target.URL, "https://")
	want := summary{Action: "egressTunnel", Principal: "alice@example.com", SourceIP: "127.0.0.1", Decision: catalog.DecisionAllow,
		Status: 200, Params: map[string]string{"method": "CONNECT", "destination": dest}}
	if diff := cmp.Diff(want, summarize(ev)); diff != "" {
		t.Errorf("audit event (-want +got):\n%s", diff)
	}
	for _, k := range []string{"bytes_up", "bytes_down"} {
		if n, err := strconv.Atoi(ev.Params[k]); err != nil || n < 100 {
			t.Errorf("audit %s = %q, want a TLS session's worth of bytes", k, ev.Params[k])
		}
	}
	if _, err := strconv.Atoi(ev.Params["duration_ms"]); err != nil {
		t.Errorf("audit duration_ms = %q, want a number", ev.Params["duration_ms"])
	}
	if diff := cmp.Diff([]dial{{dest, "alice@example.com"}}, e.dialer.calls(), cmp.AllowUnexported(dial{})); diff != "" {
		t.Errorf("dials (-want +got); the principal must reach the dialer through Annotate:\n%s", diff)
	}
	eventually(t, 5*time.Second, func() bool { return e.srv.Active() == 0 },
		func() string { return "Active() stays above 0 after the tunnel closed" })
}

// TestCurl: the real client agents use, with the token in the proxy URL.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	e := newEnv(t, tunnel.Config{})
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello curl")
	}))
	defer target.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: target.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(curl, "-sS", "--max-time", "10", "--noproxy", "",
		"--proxy", "http://x:"+aliceToken+"@"+e.addr, "--cacert", ca, target.URL+"/")
	// No proxy settings of the environment may interfere.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "hello curl" {
		t.Fatalf("curl through the proxy = %q, %v; want %q", out, err, "hello curl")
	}
	ev := e.rec.wait(t, 1)[0]
	if ev.StatusCode != 200 || ev.Principal != "alice@example.com" || ev.Params["method"] != "CONNECT" {
		t.Errorf("audit event = %+v, want an allowed CONNECT by alice", summarize(ev))
	}
}

// TestProxyAuthentication: every way of not presenting a valid token is a 407 that
// names both schemes, echoes no token and lets nothing through; the valid token passes
// in either scheme.
func TestProxyAuthentication(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	echo, conns := echoServer(t)
	const badToken = "gth_badbadbadbadbadbadbadbadbadbad99"
	e.secrets = append(e.secrets, badToken, "not-base64!!")
	tests := []struct {
		name          string
		auth          []string
		wantPrincipal string
	}{
		{"no header", nil, ""},
		{"bearer bad token", []string{"Bearer " + badToken}, ""},
		{"basic bad token", []string{basic(badToken)}, ""},
		{"basic token as user, empty password", []string{"Basic " + b64(aliceToken+":")}, ""},
		{"basic without colon", []string{"Basic " + b64(aliceToken)}, ""},
		{"basic not base64", []string{"Basic not-base64!!"}, ""},
		{"bearer empty", []string{"Bearer "}, ""},
		{"other scheme", []string{"Digest " + aliceToken}, ""},
		{"two headers", []string{"Bearer " + aliceToken, basic(aliceToken)}, ""},
		{"deactivated principal", []string{"Bearer " + inactiveToken}, "old-agent"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, res := e.rawConnect(t, echo, "", tc.auth...)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusProxyAuthRequired {
				t.Fatalf("CONNECT = %d %q, want 407", res.StatusCode, body)
			}
			if diff := cmp.Diff([]string{`Basic realm="gatehouse"`, `Bearer realm="gatehouse"`}, res.Header.Values("Proxy-Authenticate")); diff != "" {
				t.Errorf("Proxy-Authenticate (-want +got):\n%s", diff)
			}
			for _, s := range e.secrets {
				if strings.Contains(string(body), s) {
					t.Errorf("407 body %q echoes a token", body)
				}
			}
			ev := e.rec.wait(t, i+1)[i]
			want := summary{Action: "egressTunnel", Principal: tc.wantPrincipal, SourceIP: "127.0.0.1",
				ErrorCode: "UNAUTHENTICATED", Decision: catalog.DecisionDeny, Status: 407,
				Params: map[string]string{"method": "CONNECT", "destination": echo, "reason": ev.Params["reason"]}}
			if diff := cmp.Diff(want, summarize(ev)); diff != "" {
				t.Errorf("audit event (-want +got):\n%s", diff)
			}
			if ev.Params["reason"] == "" {
				t.Errorf("audit event has no reason")
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the target got %d connections from unauthenticated requests, want 0", n)
	}
	if d := e.dialer.calls(); len(d) != 0 {
		t.Errorf("dials = %v, want none", d)
	}

	// Absolute-form requests are authenticated the same way.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the target got an unauthenticated request")
	}))
	defer plain.Close()
	res, err := e.proxyClient(t, badToken, nil).Get(plain.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusProxyAuthRequired || len(res.Header.Values("Proxy-Authenticate")) != 2 {
		t.Errorf("absolute-form GET with a bad token = %d %v, want 407 with both challenges", res.StatusCode, res.Header)
	}

	// And the good token passes in both schemes.
	for _, auth := range []string{"Bearer " + aliceToken, basic(aliceToken), "bearer " + aliceToken} {
		c, br, res := e.rawConnect(t, echo, "ping", auth)
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT with %s... = %d, want 200", auth[:7], res.StatusCode)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
			t.Errorf("echo through tunnel = %q, %v; want ping", buf, err)
		}
		c.Close()
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestPolicyDenied: a destination the network policy refuses is a 403 with the
// policy's message, and the destination sees no connection at all.
func TestPolicyDenied(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	echo, conns := echoServer(t)
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a denied target got a request")
	}))
	targetConns := countConns(target)
	target.Start()
	defer target.Close()
	const msg = "destination 127.0.0.1 is not allowed by the network policy"
	e.dialer.denyAddr(echo, msg)
	e.dialer.denyAddr(target.Listener.Addr().String(), msg)

	_, _, res := e.rawConnect(t, echo, "sneaky bytes", "Bearer "+aliceToken)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), msg) {
		t.Errorf("CONNECT to a denied host = %d %q, want 403 with %q", res.StatusCode, body, msg)
	}

	res2, err := e.proxyClient(t, aliceToken, nil).Get(target.URL + "/secret")
	if err != nil {
		t.Fatal(err)
	}
	body2, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if res2.StatusCode != http.StatusForbidden || !strings.Contains(string(body2), msg) {
		t.Errorf("absolute-form GET to a denied host = %d %q, want 403 with %q", res2.StatusCode, body2, msg)
	}

	evs := e.rec.wait(t, 2)
	for i, method := range []string{"CONNECT", "GET"} {
		dest := echo
		if method == "GET" {
			dest = target.Listener.Addr().String()
		}
		want := summary{Action: "egressTunnel", Principal: "alice@example.com", SourceIP: "127.0.0.1",
			ErrorCode: "NETWORK_POLICY_DENIED", Decision: catalog.DecisionDeny, Status: 403,
			Params: map[string]string{"method": method, "destination": dest, "reason": msg}}
		if diff := cmp.Diff(want, summarize(evs[i])); diff != "" {
			t.Errorf("audit event %d (-want +got):\n%s", i, diff)
		}
		if evs[i].Params["bytes_up"] != "0" {
			t.Errorf("audit bytes_up = %s for a denied %s, want 0", evs[i].Params["bytes_up"], method)
		}
	}
	if n, m := conns.Load(), targetConns.Load(); n != 0 || m != 0 {
		t.Errorf("denied targets got %d and %d connections, want none", n, m)
	}
}

// TestUnreachable: a destination that refuses the connection is a 502.
func TestUnreachable(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	_, _, res := e.rawConnect(t, closed, "", basic(aliceToken))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("CONNECT to a closed port = %d %q, want 502", res.StatusCode, body)
	}
	res2, err := e.proxyClient(t, aliceToken, nil).Get("http://" + closed + "/")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusBadGateway {
		t.Errorf("absolute-form GET to a closed port = %d, want 502", res2.StatusCode)
	}
	for i, ev := range e.rec.wait(t, 2) {
		if ev.StatusCode != 502 || ev.ErrorCode != "UPSTREAM_ERROR" || ev.Params["reason"] == "" || ev.Principal != "alice@example.com" {
			t.Errorf("audit event %d = %+v, want 502 UPSTREAM_ERROR by alice with a reason", i, summarize(ev))
		}
	}
	if e.srv.Active() != 0 {
		t.Errorf("Active() = %d after failed dials, want 0 (slots released)", e.srv.Active())
	}
}

// TestNotAProxyRequest: origin-form requests and malformed targets are 400s and reach no
// dialer.
func TestNotAProxyRequest(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	tests := []struct {
		name, raw, wantBody string
	}{
		{"origin form", "GET / HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer " + aliceToken + "\r\n\r\n", "this is an egress proxy"},
		{"origin form without auth", "GET /api HTTP/1.1\r\nHost: x\r\n\r\n", "this is an egress proxy"},
		{"https absolute form", "GET https://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n", "use CONNECT"},
		{"connect without port", "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", "host:port"},
		{"connect path", "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", "host:port"},
		{"connect userinfo", "CONNECT u@127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n", "host:port"},
		{"connect port 0", "CONNECT 127.0.0.1:0 HTTP/1.1\r\nHost: x\r\n\r\n", "host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := e.rawRequest(t, tc.raw)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.wantBody) {
				t.Errorf("%q = %d %q, want 400 with %q", tc.raw, res.StatusCode, body, tc.wantBody)
			}
		})
	}
	if d := e.dialer.calls(); len(d) != 0 {
		t.Errorf("dials = %v, want none", d)
	}
}

// TestTunnelLimit: MaxTunnels bounds open tunnels; a slot comes back when a tunnel
// closes.
func TestTunnelLimit(t *testing.T) {
	e := newEnv(t, tunnel.Config{MaxTunnels: 2})
	echo, _ := echoServer(t)
	open := func() (net.Conn, *http.Response) {
		c, br, res := e.rawConnect(t, echo, "", "Bearer "+aliceToken)
		if res.StatusCode == 200 {
			io.WriteString(c, "hi")
			buf := make([]byte, 2)
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "hi" {
				t.Fatalf("echo = %q, %v", buf, err)
			}
		}
		return c, res
	}
	c1, r1 := open()
	_, r2 := open()
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("first two CONNECTs = %d, %d; want 200, 200", r1.StatusCode, r2.StatusCode)
	}
	if got := e.srv.Active(); got != 2 {
		t.Errorf("Active() = %d, want 2", got)
	}
	_, r3 := open()
	body, _ := io.ReadAll(r3.Body)
	if r3.StatusCode != http.StatusTooManyRequests || strings.TrimSpace(string(body)) != "too many tunnels" {
		t.Errorf("third CONNECT = %d %q, want 429 %q", r3.StatusCode, body, "too many tunnels")
	}
	ev := e.rec.wait(t, 1)[0]
	if ev.StatusCode != 429 || ev.Decision != catalog.DecisionDeny || ev.ErrorCode != "REQUEST_LIMIT_EXCEEDED" {
		t.Errorf("audit event = %+v, want 429 DENY", summarize(ev))
	}

	c1.Close()
	eventually(t, 5*time.Second, func() bool { return e.srv.Active() == 1 },
		func() string { return "Active() = " + strconv.Itoa(e.srv.Active()) + " after closing a tunnel, want 1" })
	_, r4 := open()
	if r4.StatusCode != 200 {
		t.Errorf("CONNECT after a tunnel closed = %d, want 200", r4.StatusCode)
	}
	if got := e.srv.Active(); got != 2 {
		t.Errorf("Active() = %d, want 2", got)
	}
}

// TestLimitCountsRequests: an absolute-form request in flight holds a slot too.
func TestLimitCountsRequests(t *testing.T) {
	e := newEnv(t, tunnel.Config{MaxTunnels: 1})
	echo, _ := echoServer(t)
	release := make(chan struct{})
	started := make(chan struct{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	_, _, res := e.rawConnect(t, echo, "", "Bearer "+aliceToken)
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("CONNECT while a request is in flight with MaxTunnels=1 = %d, want 429", res.StatusCode)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return e.srv.Active() == 0 },
		func() string { return "the request's slot was not released" })
}

// TestPipelinedBytes: bytes the client sends right behind its CONNECT, before the 200,
// reach the destination first.
func TestPipelinedBytes(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	echo, _ := echoServer(t)
	c, br, res := e.rawConnect(t, echo, "early bytes|", "Bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
	}
	io.WriteString(c, "late")
	buf := make([]byte, len("early bytes|late"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "early bytes|late" {
		t.Errorf("echo = %q, %v; want %q", buf, err, "early bytes|late")
	}
	c.Close()
	ev := e.rec.wait(t, 1)[0]
	// Down: the echo and the echo server's "bye" on EOF (the close reached it as a
	// half-close, and its answer still went through).
	if ev.Params["bytes_up"] != "16" || ev.Params["bytes_down"] != "19" {
		t.Errorf("audit bytes up/down = %s/%s, want 16/19", ev.Params["bytes_up"], ev.Params["bytes_down"])
	}
}

// TestHalfClose: a client that finishes sending (CloseWrite) still gets the
// destination's answer, then the tunnel ends normally.
func TestHalfClose(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	echo, _ := echoServer(t)
	c, br, res := e.rawConnect(t, echo, "", "Bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
	}
	io.WriteString(c, "abc")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(br)
	if err != nil || got != "abcbye" {
		t.Errorf("after half-close, read %q, %v; want %q then EOF", got, err, "abcbye")
	}
	ev := e.rec.wait(t, 1)[0]
	want := map[string]string{"bytes_up": "3", "bytes_down": "6", "reason": ""}
	for k, v := range want {
		if ev.Params[k] != v {
			t.Errorf("audit %s = %q, want %q", k, ev.Params[k], v)
		}
	}
}

// TestIdleTimeout: a silent tunnel is closed after IdleTimeout; traffic in one direction
// alone keeps it open.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := newEnv(t, tunnel.Config{IdleTimeout: idle})
	echo, _ := echoServer(t)
	// maxGap is the longest the ticker took between two ticks: on a starved machine it
	// may exceed the idle timeout, and then the tunnel is right to close.
	var maxGap atomic.Int64
	tickerDone := make(chan struct{}, 1)
	ticker, _ := tcpServer(t, func(c net.Conn) {
		defer func() { tickerDone <- struct{}{} }()
		last := time.Now()
		for i := 0; i < 15; i++ { // 15 × 60ms: three times the idle timeout
			if gap := time.Since(last); int64(gap) > maxGap.Load() {
				maxGap.Store(int64(gap))
			}
			last = time.Now()
			if _, err := io.WriteString(c, "t"); err != nil {
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
	})

	t.Run("silent", func(t *testing.T) {
		c, br, res := e.rawConnect(t, echo, "x", "Bearer "+aliceToken)
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
		}
		start := time.Now()
		got, _ := readAll(br)
		if el := time.Since(start); got != "x" || el < idle/2 || el > 5*time.Second {
			t.Errorf("silent tunnel read %q and closed after %v, want %q and about %v", got, el, "x", idle)
		}
		c.Close()
		ev := e.rec.wait(t, 1)[0]
		if ev.Params["reason"] != "idle timeout" || ev.Params["bytes_up"] != "1" || ev.Params["bytes_down"] != "1" {
			t.Errorf("audit params = %v, want reason idle timeout and 1 byte each way", ev.Params)
		}
	})
	t.Run("one-way traffic", func(t *testing.T) {
		c, br, res := e.rawConnect(t, ticker, "", "Bearer "+aliceToken)
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
		}
		// The client sends nothing; the destination's ticks keep the tunnel alive
		// until the destination closes.
		got, _ := readAll(br)
		c.Close()
		ev := e.rec.wait(t, 2)[1]
		<-tickerDone
		if gap := time.Duration(maxGap.Load()); gap >= idle*9/10 {
			t.Skipf("the ticker stalled for %v, near the idle timeout %v: the machine is too busy for this test", gap, idle)
		}
		if got != strings.Repeat("t", 15) {
			t.Errorf("read %q, want 15 ticks: the tunnel was cut while the destination was sending", got)
		}
		if ev.Params["reason"] != "" {
			t.Errorf("audit reason = %q, want none (the destination closed)", ev.Params["reason"])
		}
	})
}

// TestTotalTimeout: a busy tunnel still ends after TotalTimeout.
func TestTotalTimeout(t *testing.T) {
	const total = 400 * time.Millisecond
	e := newEnv(t, tunnel.Config{TotalTimeout: total, IdleTimeout: time.Minute})
	echo, _ := echoServer(t)
	c, br, res := e.rawConnect(t, echo, "", "Bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
	}
	start := time.Now()
	buf := make([]byte, 1)
	var err error
	for time.Since(start) < 5*time.Second {
		if _, err = io.WriteString(c, "p"); err != nil {
			break
		}
		if _, err = io.ReadFull(br, buf); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if el := time.Since(start); err == nil || el < total/2 || el > 4*time.Second {
		t.Errorf("busy tunnel ended after %v (%v), want about %v", el, err, total)
	}
	ev := e.rec.wait(t, 1)[0]
	if ev.Params["reason"] != "total timeout" {
		t.Errorf("audit reason = %q, want total timeout", ev.Params["reason"])
	}
}

// TestClose: Close ends open tunnels and refuses new ones.
func TestClose(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	echo, _ := echoServer(t)
	c, br, res := e.rawConnect(t, echo, "", "Bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Fatalf("CONNECT = %d, want 200", res.StatusCode)
	}
	e.srv.Close()
	if _, err := readAll(br); err != nil {
		t.Logf("read after Close: %v", err)
	}
	c.Close()
	ev := e.rec.wait(t, 1)[0]
	if ev.Params["reason"] != "shutting down" {
		t.Errorf("audit reason = %q, want shutting down", ev.Params["reason"])
	}
	_, _, res = e.rawConnect(t, echo, "", "Bearer "+aliceToken)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("CONNECT after Close = %d, want 503", res.StatusCode)
	}
}
