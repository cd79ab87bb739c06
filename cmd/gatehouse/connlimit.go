package main

import (
	"net"
	"net/http"
	"sync"
)

// connLimit bounds the connections an http.Server holds open at once
// (--max-connections). It is the listener the server accepts from, and its ConnState
// is the server's ConnState hook.
//
// Past the limit, Accept waits until a connection ends: a new client waits in the
// kernel's listen backlog (its handshake completes, nothing answers it) and is served as
// soon as a slot frees; once the backlog is full the kernel drops further SYNs and
// clients retry. This is golang.org/x/net/netutil.LimitListener's choice, rather than
// accepting and closing at once, which would have the server spend work on every
// connection of a flood and turn away a legitimate client that a moment's wait would
// have served.
//
// Unlike LimitListener it does not wrap the accepted connection: a slot is given back
// when the server reports the connection closed or hijacked. So the connection stays a
// *net.TCPConn, and what net/http and the egress tunnels rely on (CloseWrite for
// half-close, splice(2) between two TCP connections) keeps working. A hijacked
// connection (an egress tunnel) leaves the count; --egress-max-tunnels bounds those.
type connLimit struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// limitConns returns ln bounded to n connections; serve it with an http.Server whose
// ConnState is the returned value's ConnState.
func limitConns(ln net.Listener, n int) *connLimit {
	return &connLimit{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept takes a slot, waiting for one if all are taken, then accepts a connection.
func (l *connLimit) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return c, nil
}

// ConnState gives a connection's slot back when it ends (closed, or hijacked: then it
// is no longer the server's). Each connection reaches exactly one of the two.
func (l *connLimit) ConnState(_ net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		<-l.slots
	}
}

// Close closes the listener and releases an Accept waiting for a slot.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
