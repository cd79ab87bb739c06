package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// Change notification across replicas. Every transaction that announces changes sends
// them with pg_notify on changesChannel before it commits, so PostgreSQL delivers them
// exactly when (and only if) it commits. A payload is "<replica> <kind> <id>": the
// sending replica's random ID (a replica skips its own: its watchers were called right
// after its commit), the catalog.ChangeKind as a number, and the changed thing's ID, never
// a row. Each DB listens on a connection of its own, outside the pool.
//
// The cache epoch (CacheEpoch) tells caches whether they may serve: it is odd while the
// listener is down (changes of other replicas may go unheard), and moves to the next even
// number once the listener LISTENs again, just before catalog.ChangeAll is announced.

// changesChannel is the NOTIFY channel of catalog changes.
const changesChannel = "gatehouse_changes"

// Listener timing: how long it waits for a notification before it pings the connection
// (a dead TCP peer says nothing: silence is bounded by listenIdle+listenPing, within the
// caches' 5 s TTL plus a ping), and the reconnect backoff.
const (
	listenIdle       = 5 * time.Second
	listenPing       = 5 * time.Second
	reconnectMin     = 20 * time.Millisecond
	reconnectMax     = 5 * time.Second
	listenConnectMax = 10 * time.Second
)

func newReplicaID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// notifyPayload is the payload of one change.
func notifyPayload(replica string, c catalog.Change) string {
	return replica + " " + strconv.Itoa(int(c.Kind)) + " " + c.ID
}

// parsePayload reads a payload; ok is false for one that is not well formed (it is
// then ignored: the channel is ours, but anyone with the database may NOTIFY on it).
func parsePayload(p string) (replica string, c catalog.Change, ok bool) {
	replica, rest, ok := strings.Cut(p, " ")
	if !ok || replica == "" {
		return "", catalog.Change{}, false
	}
	kind, id, ok := strings.Cut(rest, " ")
	if !ok {
		return "", catalog.Change{}, false
	}
	k, err := strconv.Atoi(kind)
	if err != nil || k <= 0 || k > int(catalog.ChangeAll) {
		return "", catalog.Change{}, false
	}
	return replica, catalog.Change{Kind: catalog.ChangeKind(k), ID: id}, true
}

// sendNotifications queues the changes of tx for delivery at its commit.
func (db *DB) sendNotifications(ctx context.Context, tx pgx.Tx, changes []catalog.Change) error {
	if len(changes) == 0 {
		return nil
	}
	payloads := make([]string, len(changes))
	for i, c := range changes {
		payloads[i] = notifyPayload(db.replica, c)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", changesChannel, payloads); err != nil {
		return fmt.Errorf("notify changes: %w", redact(err))
	}
	return nil
}

// CacheEpoch is the cache epoch (see package freshness): odd while this replica may miss
// other replicas' changes. One atomic load.
func (db *DB) CacheEpoch() uint64 { return db.epoch.Load() }

// Deaf reports whether the listener is down.
func (db *DB) Deaf() bool { return db.epoch.Load()&1 == 1 }

// listen connects the listener and LISTENs. The epoch is not touched.
func (db *DB) listen(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, listenConnectMax)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, db.listenConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("listen for changes: %w", redact(err))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen for changes: %w", redact(err))
	}
	return conn, nil
}

// startListener LISTENs once (Open fails if it cannot) and runs the listener loop.
func (db *DB) startListener(ctx context.Context) error {
	db.epoch.Store(1) // deaf until the first LISTEN
	conn, err := db.listen(ctx)
	if err != nil {
		return err
	}
	db.listenerPID.Store(conn.PgConn().PID())
	db.epoch.Add(1)
	lctx, cancel := context.WithCancel(context.Background())
	db.stopListen = cancel
	db.listenDone = make(chan struct{})
	go db.listenLoop(lctx, conn)
	return nil
}

// listenLoop calls the watchers for other replicas' changes until ctx ends, and
// reconnects (with backoff) whenever the connection fails.
func (db *DB) listenLoop(ctx context.Context, conn *pgx.Conn) {
	defer close(db.listenDone)
	for {
		err := db.receive(ctx, conn)
		_ = conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		// Deaf from now on: caches stop serving until we hear again.
		db.epoch.Add(1)
		db.listenerPID.Store(0)
		db.log.Warn("postgres store: lost the change listener; caches are bypassed until it is back", "err", err)
		conn = db.reconnect(ctx)
		if conn == nil {
			return
		}
		db.listenerPID.Store(conn.PgConn().PID())
		// Changes made while we were deaf were not heard: every cache starts over. The
		// epoch moves first, so that nothing read before the LISTEN is served again.
		db.epoch.Add(1)
		db.log.Info("postgres store: the change listener is back; every cache starts over")
		db.announce(catalog.Change{Kind: catalog.ChangeAll})
	}
}

// reconnect LISTENs again, backing off between attempts; nil when ctx ends.
func (db *DB) reconnect(ctx context.Context) *pgx.Conn {
	wait := reconnectMin
	for {
		if hook := db.beforeReconnect.Load(); hook != nil {
			(*hook)()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		conn, err := db.listen(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		db.log.Warn("postgres store: reconnect the change listener", "err", err, "retry_in", wait)
		wait = min(2*wait, reconnectMax)
	}
}

// receive delivers notifications until the connection fails or ctx ends.
func (db *DB) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if conn.IsClosed() || !errors.Is(err, context.DeadlineExceeded) {
				return redact(err)
			}
			// Idle: make sure the peer is still there.
			pctx, cancel := context.WithTimeout(ctx, listenPing)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", redact(err))
			}
			continue
		}
		if n.Channel != changesChannel {
			continue
		}
		replica, c, ok := parsePayload(n.Payload)
		if !ok {
			db.log.Warn("postgres store: ignored a malformed change notification", "bytes", len(n.Payload))
			continue
		}
		if replica == db.replica {
			continue
		}
		db.announce(c)
	}
}

// stopListener ends the listener loop and waits for it.
func (db *DB) stopListener() {
	if db.stopListen == nil {
		return
	}
	db.stopListen()
	<-db.listenDone
}
