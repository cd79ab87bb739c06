package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// issue 10: MCP over HTTP/2 from callers (--http2-cleartext): h2c with prior knowledge
// through the real server, with Go's own HTTP/2 client (http.Transport.Protocols), as
// a TLS-terminating load balancer that speaks HTTP/2 to its targets would send it.

// h2cClient is an HTTP/2-only client (prior knowledge, no Upgrade) that counts the
// connections it dials and records the protocol of every response.
type h2cClient struct {
	tr     *http.Transport
	dials  atomic.Int64
	mu     sync.Mutex
	protos []string // "METHOD HTTP/x.y" of every response
}

func newH2CClient() *h2cClient {
	c := &h2cClient{}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	var d net.Dialer
	c.tr = &http.Transport{Protocols: &p, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	return c
}

func (c *h2cClient) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.tr.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.protos = append(c.protos, r.Method+" "+resp.Proto)
		c.mu.Unlock()
	}
	return resp, err
}

// seen returns the responses' "METHOD PROTO" so far.
func (c *h2cClient) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.protos...)
}

// openStream opens the session's GET event stream through c and checks that it started
// as one over HTTP/2 (status, content type, the ": ok" comment first).
func (w *mcpWorld) openStreamH2C(t *testing.T, ctx context.Context, c *h2cClient, token, sid string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp := w.getStream(t, ctx, c, token, sid)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.ProtoMajor != 2 {
		resp.Body.Close()
		t.Fatalf("GET stream = %d %s over %s, want 200 text/event-stream over HTTP/2", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Proto)
	}
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != ": ok\n" {
		t.Fatalf("first line %q (%v), want the comment \": ok\"", line, err)
	}
	return resp, rd
}

// getStream sends the session's GET event stream request through c and returns the
// response as it is.
func (w *mcpWorld) getStream(t *testing.T, ctx context.Context, c *h2cClient, token, sid string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", w.endpoint("tools"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET stream over h2c: %v", err)
	}
	return resp
}

// TestMCPH2CEndToEnd: with --http2-cleartext the SDK's Streamable HTTP client, speaking
// HTTP/2 with prior knowledge, gets initialize, tools/list, tools/call and a tool that
// streams progress over SSE through Gatehouse, all on one connection; a GET event stream
// works too (": ok" first, X-Accel-Buffering: no); the upstream sees the connection's
// credential and never alice's token; and HTTP/1.1 callers are still served on the same
// listener.
func TestMCPH2CEndToEnd(t *testing.T) {
	w := newMCPWorld(t, false, "--http2-cleartext")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := newH2CClient()
	var progress atomic.Int64
	c := mcp.NewClient(&mcp.Implementation{Name: "h2c-client", Version: "1.0.0"}, &mcp.ClientOptions{ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
		progress.Add(1)
	}})
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: w.endpoint("tools"), MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: w.alice, base: hc}}}, nil)
	if err != nil {
		t.Fatalf("initialize over h2c: %v", err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if len(tools.Tools) != 2 {
		t.Errorf("tools/list = %d tools, want echo and progress", len(tools.Tools))
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "h2c"}})
	if err != nil {
		t.Fatalf("tools/call echo: %v", err)
	}
	if got := callText(t, res); got != "echo:h2c" {
		t.Errorf("echo = %q, want echo:h2c", got)
	}
	params := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}
	params.SetProgressToken("p1")
	if res, err = cs.CallTool(ctx, params); err != nil {
		t.Fatalf("tools/call progress: %v", err)
	}
	if got := callText(t, res); got != "done" {
		t.Errorf("progress = %q, want done", got)
	}
	// Notifications arrive before the response but are handled asynchronously: wait,
	// bounded.
	for deadline := time.Now().Add(5 * time.Second); progress.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := progress.Load(); n != 3 {
		t.Errorf("client saw %d progress notifications, want 3", n)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}

	sid := w.initRaw(t, w.alice) // over HTTP/1.1, on the same listener
	resp, _ := w.openStreamH2C(t, ctx, hc, w.alice, sid)
	if got := resp.Header.Get("X-Accel-Buffering"); got != "no" {
		t.Errorf("X-Accel-Buffering = %q, want no", got)
	}
	resp.Body.Close()

	seen := hc.seen()
	var posts int
	for _, s := range seen {
		if !strings.HasSuffix(s, " HTTP/2.0") {
			t.Errorf("response %q, want HTTP/2.0", s)
		}
		if strings.HasPrefix(s, "POST ") {
			posts++
		}
	}
	if posts < 4 || !slices.Contains(seen, "GET HTTP/2.0") || !slices.Contains(seen, "DELETE HTTP/2.0") {
		t.Errorf("responses %v: want initialize, tools/list and the calls (POST), the stream (GET) and DELETE", seen)
	}
	if n := hc.dials.Load(); n != 1 {
		t.Errorf("the client dialed %d connections, want 1 (every request multiplexed on it)", n)
	}
	w.assertUpstreamHeaders(t, w.alice, w.ts.Admin)
}

// TestMCPH2CRevokeClosesStream: removing alice's grant closes her open h2c event stream
// within a second, by ending that stream, not the connection: her next request goes
// over the same connection and is refused by Gatehouse.
func TestMCPH2CRevokeClosesStream(t *testing.T) {
	w := newMCPWorld(t, false, "--http2-cleartext")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := newH2CClient()
	resp, rd := w.openStreamH2C(t, ctx, hc, w.alice, w.initRaw(t, w.alice))
	defer resp.Body.Close()
	ended := make(chan time.Time, 1)
	go func() {
		_, _ = io.Copy(io.Discard, rd)
		ended <- time.Now()
	}()
	select {
	case <-ended:
		t.Fatal("the h2c stream ended before the grant was removed: the test would prove nothing")
	case <-time.After(200 * time.Millisecond):
	}
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/tools", w.ts.Admin,
		map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "remove": []string{"USE_CONNECTION"}}}}, nil)
	changed := time.Now()
	select {
	case at := <-ended:
		if d := at.Sub(changed); d > time.Second {
			t.Errorf("the stream closed %v after the grant was removed, want within 1s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the h2c stream is still open 5s after the grant was removed")
	}
	before := w.up.hits.Load()
	req, err := http.NewRequestWithContext(ctx, "POST", w.endpoint("tools"), strings.NewReader(mcpToolsList))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.alice)
	for k, v := range mcpPostHeader {
		req.Header.Set(k, v)
	}
	resp2, err := hc.RoundTrip(req)
	if err != nil {
		t.Fatalf("next request: %v", err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusForbidden || w.up.hits.Load() != before {
		t.Errorf("after the revoke: %d (upstream hits +%d), want 403 from Gatehouse", resp2.StatusCode, w.up.hits.Load()-before)
	}
	if n := hc.dials.Load(); n != 1 {
		t.Errorf("the client dialed %d connections, want 1: the revoke ends the stream, not the connection", n)
	}
}

// TestMCPH2CStreamsInFlightBound: HTTP/2 requests in flight across the server are
// bounded by --max-connections (here 3): with three event streams open on one h2c
// connection a fourth request is answered 503 TEMPORARILY_UNAVAILABLE with Retry-After
// by Gatehouse, without reaching the upstream, while HTTP/1.1 requests are still
// served; once a stream closes, the next one is served.
func TestMCPH2CStreamsInFlightBound(t *testing.T) {
	w := newMCPWorld(t, false, "--http2-cleartext", "--max-connections", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := newH2CClient()
	sids := make([]string, 4)
	for i := range sids {
		sids[i] = w.initRaw(t, w.alice)
	}
	var open []*http.Response
	for _, sid := range sids[:3] {
		resp, _ := w.openStreamH2C(t, ctx, hc, w.alice, sid)
		open = append(open, resp)
	}
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	before := w.up.hits.Load()
	resp := w.getStream(t, ctx, hc, w.alice, sids[3])
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e apiErr // no request id: the refusal comes before the API assigns one
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || e.ErrorCode != "TEMPORARILY_UNAVAILABLE" || e.Message == "" {
		t.Errorf("fourth HTTP/2 request = %d (Retry-After %q) %s, want 503 TEMPORARILY_UNAVAILABLE with Retry-After: 1", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if w.up.hits.Load() != before {
		t.Error("the refused request reached the upstream")
	}
	if r, b := w.raw(t, "POST", "/api/2.0/mcp/external/tools", w.alice, mcpToolsList,
		map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Mcp-Session-Id": sids[0], "MCP-Protocol-Version": "2025-06-18"}); r.StatusCode != http.StatusOK {
		t.Errorf("HTTP/1.1 tools/list beside three HTTP/2 streams = %d %s, want 200", r.StatusCode, b)
	}
	open[0].Body.Close()
	// The closed stream's handler ends asynchronously: retry, bounded.
	var status int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp := w.getStream(t, ctx, hc, w.alice, sids[3])
		status = resp.StatusCode
		if status != http.StatusServiceUnavailable {
			open = append(open, resp)
			break
		}
		resp.Body.Close()
	}
	if status != http.StatusOK {
		t.Errorf("after one stream closed: %d, want 200", status)
	}
}

// TestMCPH2CRefusalKeepsConnection: a request refused before its body is read (a bad
// token) ends with Connection: close over HTTP/1.1; over HTTP/2 it must end only its
// stream, not the connection a balancer shares between callers (net/http turns
// Connection: close into GOAWAY). The refused caller and alice's next call use one
// connection.
func TestMCPH2CRefusalKeepsConnection(t *testing.T) {
	w := newMCPWorld(t, false, "--http2-cleartext")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := newH2CClient()
	sid := w.initRaw(t, w.alice)
	post := func(token string) int {
		req, err := http.NewRequestWithContext(ctx, "POST", w.endpoint("tools"), strings.NewReader(mcpToolsList))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		for k, v := range mcpPostHeader {
			req.Header.Set(k, v)
		}
		resp, err := hc.RoundTrip(req)
		if err != nil {
			t.Fatalf("POST over h2c: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("gth_not-a-token"); got != http.StatusUnauthorized {
		t.Errorf("bad token = %d, want 401", got)
	}
	if got := post(w.alice); got != http.StatusOK {
		t.Errorf("alice after the refusal = %d, want 200", got)
	}
	if n := hc.dials.Load(); n != 1 {
		t.Errorf("the client dialed %d connections, want 1: the refusal must not end the connection", n)
	}
}

// TestH2CConnectionsFreeTheirSlot: an h2c connection takes a --max-connections slot
// and gives it back when it closes (net/http reports StateClosed for it as for an
// HTTP/1.1 one). With --max-connections 2, one slot held by the test's own HTTP/1.1
// keep-alive connection, five h2c connections one after the other are each served.
func TestH2CConnectionsFreeTheirSlot(t *testing.T) {
	ts := startServer(t, "", nil, "--http2-cleartext", "--max-connections", "2")
	for i := range 5 {
		hc := newH2CClient()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/2.1/unity-catalog/connections", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.RoundTrip(req)
		if err != nil {
			cancel()
			t.Fatalf("h2c connection %d was not served: %v", i+1, err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusUnauthorized || resp.ProtoMajor != 2 {
			t.Errorf("connection %d: %d over %s, want 401 over HTTP/2", i+1, resp.StatusCode, resp.Proto)
		}
		hc.tr.CloseIdleConnections()
	}
	if code, _ := ts.do("GET", "/api/2.1/unity-catalog/connections", ts.Admin, nil); code != http.StatusOK {
		t.Errorf("HTTP/1.1 after the h2c connections = %d, want 200", code)
	}
}

// rawH2 is a minimal HTTP/2 client written frame by frame, to send what a well-behaved
// client would not: more streams than the server allows.
type rawH2 struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
}

const (
	h2Data, h2Headers, h2RSTStream, h2Settings, h2GoAway = 0x0, 0x1, 0x3, 0x4, 0x7
	h2EndStream, h2EndHeaders, h2Ack                     = 0x1, 0x4, 0x1
)

// dialRawH2 sends the preface and settings and acknowledges the server's, which it
// returns: the SETTINGS frame's payload.
func dialRawH2(t *testing.T, addr string) (*rawH2, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	h := &rawH2{t: t, conn: c, rd: bufio.NewReader(c)}
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	h.write(h2Settings, 0, 0, nil)
	settings := h.until(func(typ, flags byte, _ uint32, _ []byte) bool { return typ == h2Settings && flags&h2Ack == 0 })
	h.write(h2Settings, h2Ack, 0, nil)
	return h, settings
}

func (h *rawH2) write(typ, flags byte, stream uint32, payload []byte) {
	h.t.Helper()
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	if _, err := h.conn.Write(append(hdr, payload...)); err != nil {
		h.t.Fatalf("write frame: %v", err)
	}
}

// until reads frames until match accepts one, and returns that frame's payload; a
// GOAWAY fails the test (the connection must survive).
func (h *rawH2) until(match func(typ, flags byte, stream uint32, payload []byte) bool) []byte {
	h.t.Helper()
	for range 10000 {
		var hdr [9]byte
		if _, err := io.ReadFull(h.rd, hdr[:]); err != nil {
			h.t.Fatalf("read frame: %v", err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		payload := make([]byte, n)
		if _, err := io.ReadFull(h.rd, payload); err != nil {
			h.t.Fatalf("read frame: %v", err)
		}
		typ, flags, stream := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
		if typ == h2GoAway {
			h.t.Fatalf("the server sent GOAWAY (payload %x)", payload)
		}
		if match(typ, flags, stream, payload) {
			return payload
		}
	}
	h.t.Fatal("no matching frame in 10000")
	return nil
}

// get opens stream with a GET of target's path and the headers, in one HEADERS frame
// of HPACK literals (never indexed, no Huffman coding: each name and value under 127
// bytes).
func (h *rawH2) get(stream uint32, target string, header map[string]string) {
	h.t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		h.t.Fatal(err)
	}
	var block []byte
	lit := func(name, value string) {
		if len(name) >= 127 || len(value) >= 127 {
			h.t.Fatalf("header %s too long for this encoder", name)
		}
		block = append(block, 0x10, byte(len(name)))
		block = append(block, name...)
		block = append(block, byte(len(value)))
		block = append(block, value...)
	}
	lit(":method", "GET")
	lit(":scheme", "http")
	lit(":authority", u.Host)
	lit(":path", u.Path)
	for k, v := range header {
		lit(strings.ToLower(k), v)
	}
	h.write(h2Headers, h2EndStream|h2EndHeaders, stream, block)
}

// response waits for stream's response HEADERS and reports whether its status is 200
// (Go's encoder sends ":status: 200" as the static table's entry 8, byte 0x88); a
// RST_STREAM of it fails the test.
func (h *rawH2) response(stream uint32) bool {
	h.t.Helper()
	var reset bool
	p := h.until(func(typ, _ byte, s uint32, _ []byte) bool {
		reset = typ == h2RSTStream && s == stream
		return s == stream && (typ == h2Headers || reset)
	})
	if reset {
		h.t.Fatalf("stream %d was reset (code %d), want a response", stream, binary.BigEndian.Uint32(p))
	}
	return len(p) > 0 && p[0] == 0x88
}

// TestH2CMaxConcurrentStreams: --http2-max-concurrent-streams 2 is what the server
// advertises and enforces per connection: a client that opens a third stream while two
// event streams are open has it reset (RST_STREAM PROTOCOL_ERROR, or REFUSED_STREAM
// before it acknowledged the settings) without the connection ending, and once it
// cancels one stream a new one is served on the same connection.
func TestH2CMaxConcurrentStreams(t *testing.T) {
	w := newMCPWorld(t, false, "--http2-cleartext", "--http2-max-concurrent-streams", "2")
	sids := make([]string, 4)
	for i := range sids {
		sids[i] = w.initRaw(t, w.alice)
	}
	u, err := url.Parse(w.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	h, settings := dialRawH2(t, u.Host)
	var advertised uint32
	for i := 0; i+6 <= len(settings); i += 6 {
		if binary.BigEndian.Uint16(settings[i:]) == 0x3 { // SETTINGS_MAX_CONCURRENT_STREAMS
			advertised = binary.BigEndian.Uint32(settings[i+2:])
		}
	}
	if advertised != 2 {
		t.Errorf("the server advertises SETTINGS_MAX_CONCURRENT_STREAMS %d, want 2", advertised)
	}
	hdr := func(sid string) map[string]string {
		return map[string]string{"authorization": "Bearer " + w.alice, "accept": "text/event-stream", "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
	}
	target := w.endpoint("tools")
	for i, id := range []uint32{1, 3} {
		h.get(id, target, hdr(sids[i]))
		if !h.response(id) {
			t.Fatalf("stream %d: the event stream did not answer 200", id)
		}
	}
	h.get(5, target, hdr(sids[2]))
	p := h.until(func(typ, _ byte, s uint32, _ []byte) bool {
		if s == 5 && typ == h2Headers {
			t.Fatal("the third stream was served past the limit of 2")
		}
		return s == 5 && typ == h2RSTStream
	})
	if code := binary.BigEndian.Uint32(p); code != 0x1 && code != 0x7 {
		t.Errorf("the third stream was reset with code %d, want PROTOCOL_ERROR (1) or REFUSED_STREAM (7)", code)
	}
	h.write(h2RSTStream, 0, 1, binary.BigEndian.AppendUint32(nil, 0x8)) // CANCEL
	h.get(7, target, hdr(sids[3]))
	if !h.response(7) {
		t.Error("after one stream was cancelled, a new stream on the same connection did not answer 200")
	}
}

// TestHTTP2CleartextConfig: the two flags and their variables are read and bounded.
func TestHTTP2CleartextConfig(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		args        []string
		wantErr     string
		wantOn      bool
		wantStreams int
	}{
		{name: "default off", wantStreams: defaultHTTP2MaxStreams},
		{name: "variables", env: map[string]string{"GATEHOUSE_HTTP2_CLEARTEXT": "true", "GATEHOUSE_HTTP2_MAX_CONCURRENT_STREAMS": "1000"}, wantOn: true, wantStreams: 1000},
		{name: "flags", args: []string{"--http2-cleartext", "--http2-max-concurrent-streams", "7"}, wantOn: true, wantStreams: 7},
		{name: "not a bool", env: map[string]string{"GATEHOUSE_HTTP2_CLEARTEXT": "maybe"}, wantErr: "http2-cleartext:"},
		{name: "zero streams", args: []string{"--http2-max-concurrent-streams", "0"}, wantErr: "http2-max-concurrent-streams:"},
		{name: "too many streams", args: []string{"--http2-max-concurrent-streams", fmt.Sprint(maxHTTP2MaxStreams + 1)}, wantErr: "http2-max-concurrent-streams:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := serverCommand(&env{getenv: func(string) string { return "" }})
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadServerConfig(cmd.Flags(), func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP2Cleartext != tc.wantOn || cfg.HTTP2MaxStreams != tc.wantStreams {
				t.Errorf("cleartext %v, streams %d; want %v, %d", cfg.HTTP2Cleartext, cfg.HTTP2MaxStreams, tc.wantOn, tc.wantStreams)
			}
		})
	}
}
