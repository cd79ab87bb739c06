package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// established is the answer to a CONNECT whose destination is connected.
const established = "HTTP/1.1 200 Connection Established\r\n\r\n"

// Reasons a tunnel was closed by Gatehouse rather than by one of its ends.
const (
	reasonIdle     = "idle timeout"
	reasonTotal    = "total timeout"
	reasonShutdown = "shutting down"
)

// tunnel serves an authenticated CONNECT that holds a slot: dial, take over the client's
// connection, splice.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request, t *trip) {
	ctx, release := s.track(r.Context(), t)
	defer release()
	upstream, err := s.dial(ctx, t.principal, t.requestID, "tcp", t.destination)
	if err != nil {
		s.dialFailed(w, t, err)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		t.err = err
		s.refuse(w, t, http.StatusHTTPVersionNotSupported, catalog.InvalidParameterValue,
			"CONNECT needs HTTP/1.1", "connection cannot be taken over")
		return
	}
	t.status, t.allowed = http.StatusOK, true

	l := newLink(client, upstream, s.cfg.IdleTimeout, time.Now().Add(s.cfg.TotalTimeout))
	// Close ends the tunnel too.
	stop := context.AfterFunc(s.base, func() { l.abort(reasonShutdown) })
	defer stop()
	// So does a revoke of the access it was opened with.
	stopRevoked := context.AfterFunc(ctx, func() { l.abort(revokedReason(ctx)) })
	defer stopRevoked()

	// The server may have left its own deadlines on the connection.
	_ = client.SetDeadline(time.Time{})
	_ = client.SetWriteDeadline(l.writeDeadline())
	if _, err := io.WriteString(client, established); err != nil {
		l.abort("")
		t.reason = "client gone"
		return
	}
	// Bytes the client sent after its request (say, a TLS ClientHello that did not
	// wait for the 200) are in the server's reader, no longer in the socket: they go
	// first.
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Reader.Peek(n)
		_ = upstream.SetWriteDeadline(l.writeDeadline())
		m, err := upstream.Write(pending)
		t.bytesUp.Add(int64(m))
		if err != nil {
			l.abort("")
			t.reason = "destination gone"
			return
		}
	}
	t.reason = l.splice(&t.bytesUp, &t.bytesDown)
}

// link is the two connections of a tunnel and the timing they share. Each direction reads
// with a deadline at the earliest of the tunnel's end and the last activity (either way)
// plus the idle timeout; a read that times out while the other direction has kept the
// tunnel busy simply reads again.
type link struct {
	client, upstream net.Conn
	end              time.Time    // TotalTimeout from the start
	idle             atomic.Int64 // idle timeout in nanoseconds; shortened after a half-close
	last             atomic.Int64 // unix nanoseconds of the last byte moved either way
	aborted          atomic.Pointer[string]
}

func newLink(client, upstream net.Conn, idle time.Duration, end time.Time) *link {
	l := &link{client: client, upstream: upstream, end: end}
	l.idle.Store(int64(idle))
	l.touch()
	return l
}

func (l *link) touch() { l.last.Store(time.Now().UnixNano()) }

// readDeadline is the deadline of the next read, computed for the idle timeout idle.
func (l *link) readDeadline(idle time.Duration) time.Time {
	d := time.Unix(0, l.last.Load()).Add(idle)
	if l.end.Before(d) {
		return l.end
	}
	return d
}

// writeDeadline bounds a write: a peer that takes no bytes for the idle timeout is gone.
func (l *link) writeDeadline() time.Time {
	d := time.Now().Add(time.Duration(l.idle.Load()))
	if l.end.Before(d) {
		return l.end
	}
	return d
}

// expired returns why the tunnel must end at now, or "".
func (l *link) expired(now time.Time) string {
	switch {
	case !now.Before(l.end):
		return reasonTotal
	case !now.Before(time.Unix(0, l.last.Load()).Add(time.Duration(l.idle.Load()))):
		return reasonIdle
	}
	return ""
}

// abort closes both connections; the first reason given is the one reported.
func (l *link) abort(reason string) {
	l.aborted.CompareAndSwap(nil, &reason)
	l.client.Close()
	l.upstream.Close()
}

// splice copies both ways until both directions have ended, counting the bytes each
// way, and closes both connections. It returns why Gatehouse closed the tunnel, or ""
// when one of its ends did.
//
// When one side finishes sending (EOF), the other connection is half-closed (CloseWrite)
// rather than closed, so that the far end sees the EOF and may still answer: TLS sends
// close_notify both ways. Any other end of a direction (an error, a timeout) closes both
// connections at once.
func (l *link) splice(up, down *atomic.Int64) string {
	type result struct {
		dst    net.Conn
		reason string
		eof    bool
	}
	done := make(chan result, 2)
	go func() {
		reason, eof := l.copy(l.upstream, l.client, up)
		done <- result{l.upstream, reason, eof}
	}()
	go func() {
		reason, eof := l.copy(l.client, l.upstream, down)
		done <- result{l.client, reason, eof}
	}()
	first := <-done
	if cw, ok := first.dst.(interface{ CloseWrite() error }); first.eof && ok && cw.CloseWrite() == nil {
		l.shortenIdle(halfCloseIdle)
	} else {
		l.abort(first.reason)
	}
	second := <-done
	l.abort(second.reason)
	return *l.aborted.Load()
}

// shortenIdle lowers the idle timeout to at most d and wakes the readers, so that a
// read already waiting takes up the new deadline.
func (l *link) shortenIdle(d time.Duration) {
	if d >= time.Duration(l.idle.Load()) {
		return
	}
	l.touch() // the half-close itself: the other side gets the whole of d to answer
	l.idle.Store(int64(d))
	now := time.Now()
	_ = l.client.SetReadDeadline(now)
	_ = l.upstream.SetReadDeadline(now)
}

// copy moves bytes from src to dst until src ends or a write fails. It returns why
// Gatehouse ended the direction ("" when an end did) and whether src ended with EOF.
//
// The bytes move in chunks with io.CopyN, which lets the kernel splice TCP to TCP
// (Linux splice(2): no copy through user space), with the deadlines set per chunk: a
// deadline that fires after some bytes moved is progress, not idleness, and the next
// chunk gets a fresh one.
func (l *link) copy(dst, src net.Conn, n *atomic.Int64) (reason string, eof bool) {
	const chunk = 4 << 20
	for {
		// Set the deadline, then check that the idle timeout it was computed from is
		// still current: shortenIdle may have woken this reader in between, and its
		// wake-up would otherwise be overwritten by the older, later deadline.
		idle := time.Duration(l.idle.Load())
		// A chunk also ends a quarter of the idle time from now, so that a direction
		// trickling bytes reports its progress (touch) often enough for the other,
		// silent direction not to take the tunnel for idle.
		dl := l.readDeadline(idle)
		if q := time.Now().Add(idle / 4); q.Before(dl) {
			dl = q
		}
		if err := src.SetReadDeadline(dl); err != nil {
			return "", false
		}
		if time.Duration(l.idle.Load()) != idle {
			continue
		}
		_ = dst.SetWriteDeadline(l.writeDeadline())
		nc, err := io.CopyN(dst, src, chunk)
		if nc > 0 {
			n.Add(nc)
			l.touch()
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return "", true
		case errors.Is(err, os.ErrDeadlineExceeded):
			if why := l.expired(time.Now()); why != "" {
				return why, false
			}
			// Progress was made, the other direction was busy, or shortenIdle woke
			// the reader: go on.
		default:
			return "", false
		}
	}
}
