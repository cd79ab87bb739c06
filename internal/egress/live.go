package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// A policy change must reach the connections that are already open, not only the next
// dial: a tunnel or a pooled upstream connection opened under the old policy would
// otherwise keep reaching a destination the new one refuses, for as long as it lives.
// So the Dialer keeps the set of live connections it made, each with the name and port
// it was asked for and the address it dialed, and CloseDenied re-decides every one with
// the same rules as a dial (decide), pinned to the dialed address (no DNS: the address
// is what the connection reaches), closing and recording those now denied.

// liveSet is the Dialer's set of open connections.
type liveSet struct {
	mu sync.Mutex
	m  map[*liveConn]struct{}

	pending atomic.Bool // a CloseDenied pass is queued
	run     sync.Mutex  // one pass at a time
}

// liveConn is a connection the Dialer made; Close takes it out of the set.
type liveConn struct {
	net.Conn
	d       *Dialer
	network string
	host    string
	port    int
	addr    netip.Addr
	src     Source
	closed  atomic.Bool
}

// track wraps a connection just dialed and adds it to the live set.
func (d *Dialer) track(ctx context.Context, conn net.Conn, network, host string, port int, addr netip.Addr) net.Conn {
	c := &liveConn{Conn: conn, d: d, network: network, host: host, port: port, addr: addr, src: SourceFrom(ctx)}
	d.live.mu.Lock()
	if d.live.m == nil {
		d.live.m = map[*liveConn]struct{}{}
	}
	d.live.m[c] = struct{}{}
	d.live.mu.Unlock()
	return c
}

// Close closes the connection and forgets it.
func (c *liveConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.d.live.mu.Lock()
		delete(c.d.live.m, c)
		c.d.live.mu.Unlock()
	}
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection, as *net.TCPConn does (the egress tunnel
// relies on it to pass an EOF on).
func (c *liveConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom lets io.Copy into the connection use the TCP connection's own ReadFrom
// (splice(2) from another TCP connection).
func (c *liveConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// LiveConnections is the number of open connections the Dialer made.
func (d *Dialer) LiveConnections() int {
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	return len(d.live.m)
}

type pinnedKey struct{}

// lookup resolves name, except in a re-decision of a live connection, whose answer is
// the address it dialed.
func (d *Dialer) lookup(ctx context.Context, family, name string) ([]netip.Addr, error) {
	if a, ok := ctx.Value(pinnedKey{}).(netip.Addr); ok {
		return []netip.Addr{a}, nil
	}
	return d.o.Resolver.LookupNetIP(ctx, family, name)
}

// CloseDenied re-decides every live connection under the current policy and closes
// those it now denies, recording each denial as a network event attributed to the
// connection's source, like a dial denial. Under DRY_RUN nothing is closed and a
// connection the rules would refuse is recorded as a DRY_RUN_DENIAL, as a dial would
// be. It runs in the background (call it from a change notification) and coalesces:
// calls during a pass queue one more pass.
func (d *Dialer) CloseDenied() {
	if !d.live.pending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		d.live.run.Lock()
		defer d.live.run.Unlock()
		d.live.pending.Store(false)
		d.closeDenied(context.Background())
	}()
}

// closeDenied is one pass of CloseDenied; it returns how many connections it closed.
func (d *Dialer) closeDenied(ctx context.Context) int {
	d.live.mu.Lock()
	all := make([]*liveConn, 0, len(d.live.m))
	for c := range d.live.m {
		all = append(all, c)
	}
	d.live.mu.Unlock()
	n := 0
	for _, c := range all {
		if c.closed.Load() {
			continue
		}
		cctx := WithSource(context.WithValue(ctx, pinnedKey{}, c.addr), c.src)
		_, _, err := d.decide(cctx, c.network, c.host, c.port)
		var ce *catalog.Error
		if errors.As(err, &ce) && ce.Code == catalog.NetworkPolicyDenied {
			_ = c.Close()
			n++
		}
	}
	return n
}
