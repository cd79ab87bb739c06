package tunnel_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
)

// TestAbsoluteForm: net/http sends plain-HTTP requests to the proxy in absolute form;
// they reach the destination with the body, and the answer comes back unchanged.
func TestAbsoluteForm(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("X-Gatehouse-Request-Id", "spoofed")
		w.Header().Set("Set-Cookie", "s=1")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	}))
	defer target.Close()

	c := e.proxyClient(t, aliceToken, nil)
	res, err := c.Post(target.URL+"/p/a?q=1", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := "POST /p/a?q=1 ping"; res.StatusCode != http.StatusCreated || string(body) != want {
		t.Errorf("POST through the proxy = %d %q, want 201 %q", res.StatusCode, body, want)
	}
	if res.Header.Get("X-Upstream") != "yes" || res.Header.Get("Set-Cookie") != "s=1" {
		t.Errorf("response header = %v, want the destination's X-Upstream and Set-Cookie", res.Header)
	}
	if id := res.Header.Values("X-Gatehouse-Request-Id"); len(id) != 1 || id[0] == "spoofed" {
		t.Errorf("X-Gatehouse-Request-Id = %q, want Gatehouse's own, not the destination's", id)
	}

	ev := e.rec.wait(t, 1)[0]
	dest := strings.TrimPrefix(target.URL, "http://")
	want := summary{Action: "egressTunnel", Principal: "alice@example.com", SourceIP: "127.0.0.1", Decision: catalog.DecisionAllow,
		Status: 201, Params: map[string]string{"method": "POST", "destination": dest}}
	if diff := cmp.Diff(want, summarize(ev)); diff != "" {
		t.Errorf("audit event (-want +got):\n%s", diff)
	}
	if ev.Params["bytes_up"] != "4" || ev.Params["bytes_down"] != "18" {
		t.Errorf("audit bytes up/down = %s/%s, want 4/18", ev.Params["bytes_up"], ev.Params["bytes_down"])
	}
	if ev.RequestID == "" || ev.RequestID != res.Header.Get("X-Gatehouse-Request-Id") {
		t.Errorf("audit request id %q, response's %q: want the same", ev.RequestID, res.Header.Get("X-Gatehouse-Request-Id"))
	}
	if d := e.dialer.calls(); len(d) != 1 || d[0].principal != "alice@example.com" {
		t.Errorf("dials = %v, want one, for alice", d)
	}

	// Every request dials anew (and so meets the policy); none rides a pooled
	// connection dialed for someone else.
	for range 2 {
		res, err := c.Get(target.URL + "/again")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if d := e.dialer.calls(); len(d) != 3 {
		t.Errorf("dials after three requests = %d, want 3", len(d))
	}
}

// TestForwardedHeaders is the permanent table of what reaches the destination of an
// absolute-form request: the proxy's own headers and the hop-by-hop ones never, the
// caller's end-to-end headers unchanged.
func TestForwardedHeaders(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	got := make(chan http.Header, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	raw := "GET http://" + host + "/h HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Proxy-Authorization: " + basic(aliceToken) + "\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"Proxy_Authorization: Bearer " + aliceToken + "\r\n" +
		"Proxy-Authenticate: Basic\r\n" +
		"Connection: X-Listed, keep-alive\r\n" +
		"X-Listed: 1\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Te: trailers\r\n" +
		"Upgrade: websocket\r\n" +
		"Authorization: Bearer destination-key\r\n" +
		"Cookie: a=b\r\n" +
		"X-Custom: kept\r\n" +
		"User-Agent: agent/1\r\n" +
		"\r\n"
	res, body := e.rawRequest(t, raw)
	if res.StatusCode != 200 {
		t.Fatalf("GET = %d %q, want 200", res.StatusCode, body)
	}
	h := <-got
	tests := []struct {
		header string
		want   string // "" = absent
	}{
		{"Proxy-Authorization", ""},
		{"Proxy_authorization", ""},
		{"Proxy-Connection", ""},
		{"Proxy-Authenticate", ""},
		{"X-Listed", ""},
		{"Keep-Alive", ""},
		{"Te", ""},
		{"Upgrade", ""},
		{"X-Forwarded-For", ""},
		{"Via", ""},
		{"Authorization", "Bearer destination-key"},
		{"Cookie", "a=b"},
		{"X-Custom", "kept"},
		{"User-Agent", "agent/1"},
	}
	for _, tc := range tests {
		var v string
		for k, vv := range h {
			if strings.EqualFold(k, tc.header) {
				v = strings.Join(vv, ",")
			}
		}
		if v != tc.want {
			t.Errorf("destination got %s: %q, want %q", tc.header, v, tc.want)
		}
	}
	for k, vv := range h {
		for _, v := range vv {
			if strings.Contains(v, aliceToken) || strings.Contains(v, basic(aliceToken)[6:]) {
				t.Errorf("destination got the Gatehouse token in %s", k)
			}
		}
	}
}

// TestRedirectNotFollowed: the proxy returns a redirect; it never follows one.
func TestRedirectNotFollowed(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	followed := make(chan struct{}, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed <- struct{}{}
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer target.Close()
	res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/elsewhere" {
		t.Errorf("GET = %d Location %q, want 302 /elsewhere", res.StatusCode, res.Header.Get("Location"))
	}
	select {
	case <-followed:
		t.Errorf("the proxy followed the redirect")
	default:
	}
}

// TestForwardStreams: the answer streams: the caller reads the first event before the
// destination has written the second, and trailers come through.
func TestForwardStreams(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	next := make(chan struct{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
		w.Header().Set("X-Sum", "2")
	}))
	defer target.Close()
	res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first line = %q, %v; want the first event before the second is written", line, err)
	}
	close(next)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest = %q, %v", rest, err)
	}
	if res.Trailer.Get("X-Sum") != "2" {
		t.Errorf("trailer X-Sum = %q, want 2", res.Trailer.Get("X-Sum"))
	}
}

// TestForwardCutShort: a destination that dies mid-body leaves the caller with an error,
// never a body that looks complete.
func TestForwardCutShort(t *testing.T) {
	e := newEnv(t, tunnel.Config{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer target.Close()
	res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Errorf("reading a cut-short answer succeeded, want an error")
	}
	ev := e.rec.wait(t, 1)[0]
	if ev.Params["reason"] != "response cut short" {
		t.Errorf("audit reason = %q, want response cut short", ev.Params["reason"])
	}
}

// TestForwardIdleTimeout: a destination that answers nothing within IdleTimeout is a 504.
func TestForwardIdleTimeout(t *testing.T) {
	e := newEnv(t, tunnel.Config{IdleTimeout: 200 * time.Millisecond})
	done := make(chan struct{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	defer target.Close()
	defer close(done)
	res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("GET to a silent destination = %d, want 504", res.StatusCode)
	}
	ev := e.rec.wait(t, 1)[0]
	if ev.StatusCode != 504 || ev.Params["reason"] != "idle timeout" || ev.Decision != catalog.DecisionAllow {
		t.Errorf("audit event = %s, want 504 idle timeout ALLOW", mustJSON(summarize(ev)))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
