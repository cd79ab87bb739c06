// Command mcpstreams is the MCP benchmark's client. It has two modes:
//
//	-streams N  opens N MCP sessions (initialize, notifications/initialized) and, in each,
//	            the session's idle GET event stream; once every stream has answered 200 it
//	            prints "open N" and holds them until stdin closes or a signal arrives.
//	-calls N    connects once with the official Go SDK's Streamable HTTP client and makes
//	            N sequential tools/call requests of the echo tool, then prints
//	            "calls N p50_ms p99_ms mean_ms".
//
// The endpoint is -url (Gatehouse's /api/2.0/mcp/external/{name} or the server itself);
// -token is sent as a bearer token and -ca trusts an HTTPS server's certificate. With
// -h2c N the client speaks HTTP/2 with prior knowledge to an http:// URL (Gatehouse with
// --http2-cleartext), as a load balancer does to its targets: the streams are spread
// round-robin over N clients, each holding its own connection (a client opens another
// only if the server's stream limit is reached); -calls uses one.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const protocolVersion = "2025-11-25"

func main() {
	url := flag.String("url", "", "MCP endpoint")
	token := flag.String("token", "", "bearer token")
	caFile := flag.String("ca", "", "PEM file of the server's certificate (HTTPS)")
	streams := flag.Int("streams", 0, "idle GET event streams to open and hold")
	calls := flag.Int("calls", 0, "sequential tools/call requests to time")
	warmup := flag.Int("warmup", 50, "untimed calls before the timed ones")
	parallel := flag.Int("parallel", 16, "streams opened at once")
	timeout := flag.Duration("timeout", 120*time.Second, "bound on the whole run")
	h2c := flag.Int("h2c", 0, "speak HTTP/2 with prior knowledge over this many connections (0: HTTP/1.1)")
	flag.Parse()
	if err := run(*url, *token, *caFile, *streams, *calls, *warmup, *parallel, *h2c, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mcpstreams:", err)
		os.Exit(1)
	}
}

func run(url, token, caFile string, streams, calls, warmup, parallel, h2c int, timeout time.Duration) error {
	if url == "" || (streams > 0) == (calls > 0) {
		return errors.New("need -url and exactly one of -streams N or -calls N")
	}
	if h2c > 0 {
		if !strings.HasPrefix(url, "http://") {
			return errors.New("-h2c needs an http:// URL")
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if calls > 0 {
			return timeCalls(ctx, &http.Client{Transport: bearer{token: token, base: h2cTransport()}}, url, calls, warmup)
		}
		clients := make([]*http.Client, h2c)
		for i := range clients {
			clients[i] = &http.Client{Transport: h2cTransport()}
		}
		return holdStreams(ctx, clients, url, token, streams, parallel, timeout)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: parallel, ForceAttemptHTTP2: false}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("read ca: no certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if calls > 0 {
		return timeCalls(ctx, &http.Client{Transport: bearer{token: token, base: tr}}, url, calls, warmup)
	}
	return holdStreams(ctx, []*http.Client{{Transport: tr}}, url, token, streams, parallel, timeout)
}

// h2cTransport speaks only HTTP/2 with prior knowledge (Go's own client, no x/net).
func h2cTransport() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p}
}

// bearer adds the token to every request of the SDK client.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token == "" {
		return b.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func timeCalls(ctx context.Context, hc *http.Client, url string, calls, warmup int) error {
	c := mcp.NewClient(&mcp.Implementation{Name: "bench-client", Version: "1.0.0"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer cs.Close()
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}}
	call := func() error {
		res, err := cs.CallTool(ctx, params)
		if err != nil {
			return fmt.Errorf("tools/call: %w", err)
		}
		if res.IsError || len(res.Content) != 1 {
			return fmt.Errorf("tools/call: unexpected result %+v", res)
		}
		if t, ok := res.Content[0].(*mcp.TextContent); !ok || t.Text != "hello" {
			return fmt.Errorf("tools/call: unexpected content %+v", res.Content[0])
		}
		return nil
	}
	for range warmup {
		if err := call(); err != nil {
			return err
		}
	}
	d := make([]time.Duration, 0, calls)
	for range calls {
		start := time.Now()
		if err := call(); err != nil {
			return err
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	ms := func(x time.Duration) string { return fmt.Sprintf("%.3f", float64(x)/float64(time.Millisecond)) }
	fmt.Printf("calls %d %s %s %s\n", calls, ms(d[len(d)/2]), ms(d[(len(d)*99+99)/100-1]), ms(sum/time.Duration(len(d))))
	return nil
}

// holdStreams opens n sessions and their GET streams, stream i through client i mod
// len(clients), reports, and holds them.
func holdStreams(ctx context.Context, clients []*http.Client, url, token string, n, parallel int, timeout time.Duration) error {
	var (
		mu     sync.Mutex
		bodies []io.Closer
		opened atomic.Int64
		first  error
		wg     sync.WaitGroup
	)
	jobs := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range jobs {
				body, err := openStream(ctx, clients[i%len(clients)], url, token, i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if body != nil {
					bodies = append(bodies, body)
				}
				mu.Unlock()
				if err == nil {
					opened.Add(1)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	if first != nil {
		return fmt.Errorf("%d of %d streams open: %w", opened.Load(), n, first)
	}
	fmt.Printf("open %d\n", opened.Load())
	// Hold until stdin closes, a signal arrives or the bound passes.
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	case <-ctx.Done():
		return fmt.Errorf("held streams past %s", timeout)
	}
	return nil
}

// openStream initializes one session and opens its GET stream; it returns the stream's body
// once the stream answered 200 with text/event-stream.
func openStream(ctx context.Context, hc *http.Client, url, token string, i int) (io.Closer, error) {
	post := func(body, session string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w", i, err)
		}
		setHeaders(req, token, session)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w", i, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("stream %d: POST: %s: %s", i, resp.Status, bytes.TrimSpace(b))
		}
		return resp, nil
	}
	resp, err := post(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"bench-streams","version":"1.0.0"}}}`, protocolVersion), "")
	if err != nil {
		return nil, err
	}
	session := resp.Header.Get("Mcp-Session-Id")
	if session == "" {
		return nil, fmt.Errorf("stream %d: initialize answered without Mcp-Session-Id", i)
	}
	if _, err := post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, session); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("stream %d: %w", i, err)
	}
	setHeaders(req, token, session)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stream %d: GET: %w", i, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("stream %d: GET: %s %s: %s", i, resp.Status, resp.Header.Get("Content-Type"), bytes.TrimSpace(b))
	}
	return resp.Body, nil
}

func setHeaders(req *http.Request, token, session string) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", protocolVersion)
	}
}
