package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnLimit: the limit bounds the connections the server holds; a connection over
// it waits, unserved, until one ends (closed or hijacked); accepted connections stay
// *net.TCPConn, so half-close and splice keep working.
func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := limitConns(ln, 2)
	accepted := make(chan net.Conn, 8)
	srv := &http.Server{ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted <- c
		}
		lim.ConnState(c, s)
	}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				t.Cleanup(func() { c.Close() }) // held open: only the hijack gave the slot back
			}
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(lim)
	t.Cleanup(func() { srv.Close() })

	get := func(c net.Conn, br *bufio.Reader, path string, within time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(within))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		res, err := http.ReadResponse(br, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return err
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	c1, b1 := dial()
	c2, b2 := dial()
	for i, c := range []struct {
		c net.Conn
		b *bufio.Reader
	}{{c1, b1}, {c2, b2}} {
		if err := get(c.c, c.b, "/", 5*time.Second); err != nil {
			t.Fatalf("connection %d within the limit: %v", i+1, err)
		}
	}
	for range 2 {
		if _, ok := (<-accepted).(*net.TCPConn); !ok {
			t.Error("accepted connection is not a *net.TCPConn")
		}
	}
	c3, b3 := dial()
	if err := get(c3, b3, "/", 300*time.Millisecond); err == nil {
		t.Fatal("a third connection was served with a limit of 2")
	}
	// A hijack gives the slot back: the waiting connection is served.
	if err := get(c2, b2, "/hijack", 5*time.Second); err != nil {
		t.Fatalf("hijack: %v", err)
	}
	c3.Close()
	c4, b4 := dial()
	// c3 (closed by now) takes the freed slot first and ends at once; then c4 is served.
	if err := get(c4, b4, "/", 5*time.Second); err != nil {
		t.Fatalf("connection after a hijack freed a slot: %v", err)
	}
	c1.Close()
	c5, b5 := dial()
	if err := get(c5, b5, "/", 5*time.Second); err != nil {
		t.Fatalf("connection after one closed: %v", err)
	}
}
