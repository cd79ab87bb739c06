package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestForwardReusesUpstreamConnections sends sequential calls through a front server
// (so that the body is a server request body, read through the pump) and counts the
// connections the upstream served them on (by the proxy's address): one for all of them, whatever the method, body or
// answer. A request whose body write never finishes is not put back in the pool, so a
// regression here makes every call dial (and TLS-handshake) anew; that was the MCP
// bench's +3.5 ms per tools/call over HTTP/1.1.
func TestForwardReusesUpstreamConnections(t *testing.T) {
	cases := []struct {
		name   string
		method string
		body   string
		events bool // the upstream answers text/event-stream, as an MCP server does
		http2  bool
	}{
		{name: "GET, JSON answer, HTTP/1.1", method: "GET"},
		{name: "POST with a body, JSON answer, HTTP/1.1", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`},
		{name: "POST with a body, event-stream answer, HTTP/1.1", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, events: true},
		{name: "POST with a 100 KiB body, HTTP/1.1", method: "POST", body: strings.Repeat("x", 100<<10)},
		{name: "POST with a body, event-stream answer, HTTP/2", method: "POST", body: `{"jsonrpc":"2.0","id":1}`, events: true, http2: true},
	}
	const calls = 10
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				got   atomic.Int64 // body bytes the upstream read
				mu    sync.Mutex
				conns = map[string]bool{} // the proxy's side of each connection, host:port
			)
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				conns[r.RemoteAddr] = true
				mu.Unlock()
				n, _ := io.Copy(io.Discard, r.Body)
				got.Add(n)
				if c.events {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "event: message\ndata: {}\n\n")
					w.(http.Flusher).Flush()
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{}`)
			}, c.http2)
			p := newTestProxy(t, Config{}, up)
			f := startFront(t, p, up.target(), false, nil)
			for i := range calls {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req, err := http.NewRequest(c.method, f.URL+"/proxy/x", body)
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.Client().Do(req)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if r := f.result(t); r.err != nil || r.out.Status != http.StatusOK {
					t.Fatalf("call %d: Forward = %d, %v", i, r.out.Status, r.err)
				}
			}
			mu.Lock()
			n := len(conns)
			mu.Unlock()
			if n != 1 {
				t.Errorf("the upstream accepted %d connections for %d sequential calls, want 1 (the pool does not reuse them)", n, calls)
			}
			if want := int64(calls * len(c.body)); got.Load() != want {
				t.Errorf("the upstream read %d body bytes, want %d", got.Load(), want)
			}
		})
	}
}

// TestForwardKeepsConcurrentConnections: 100 callers at once, three rounds. The upstream
// answers a round only once all 100 requests of it are in, so the proxy really holds 100
// connections; they must all go back to the pool and serve the next rounds. A pool that
// keeps fewer idle connections per host than callers (it kept 32) closes the rest after
// each round and dials — a TLS handshake per call — again: throughput fell eightfold past
// 32 concurrent callers.
func TestForwardKeepsConcurrentConnections(t *testing.T) {
	const callers, rounds = 100, 3
	var (
		mu      sync.Mutex
		conns   = map[string]bool{}
		arrived int
		release = make(chan struct{})
	)
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		arrived++
		wait := release
		if arrived == callers {
			arrived = 0
			close(release)
			release = make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-wait:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "ok")
	}, false)
	p := newTestProxy(t, Config{}, up)
	f := startFront(t, p, up.target(), false, nil)
	go func() {
		for range f.results {
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: callers, MaxConnsPerHost: callers}}
	defer client.CloseIdleConnections()
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := client.Get(f.URL + "/proxy/x")
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d", res.StatusCode)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n > callers {
		t.Errorf("the upstream accepted %d connections for %d rounds of %d concurrent calls, want at most %d (idle connections were dropped and dialled again)", n, rounds, callers, callers)
	}
}
