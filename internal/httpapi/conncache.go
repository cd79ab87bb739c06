package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
	"github.com/gatehouse/gatehouse/internal/mcp"
)

// connCache keeps connections by name so that a call through one costs no store read.
// Any connection change the store announces empties it (changes are rare, calls are
// not), so a disable, an option change or a rotation is seen by the very next call;
// gen keeps a read that raced a change from refilling it stale. Cached connections are
// shared: nobody may modify one (handlers copy before changing). Scale-out: an entry is
// served for freshness.TTL at most, never while or after the store was deaf to other
// replicas' changes, and ChangeAll empties the cache.
type connCache struct {
	mu     sync.RWMutex
	byName map[string]cachedConn
	gen    uint64
	fresh  *freshness.Clock
}

type cachedConn struct {
	entry *connEntry
	stamp freshness.Stamp // taken before the read
}

// connEntry is a connection as the cache serves it, with what the proxy derives from it
// once per version rather than once per call: a change empties the cache, so the next
// call reads the new version and derives it again.
type connEntry struct {
	conn *catalog.Connection
	// allow is the connection's mcp_allowed_tools as parsed; allowErr is why a stored
	// list does not parse (the MCP proxy then refuses every call).
	allow    mcp.AllowList
	allowErr error
}

func newConnEntry(conn *catalog.Connection) *connEntry {
	allow, err := mcp.ParseAllowList(conn.Options[catalog.OptMCPAllowedTools])
	return &connEntry{conn: conn, allow: allow, allowErr: err}
}

const maxCachedConnections = 100000

func newConnCache(s catalog.Store) *connCache { return newConnCacheClock(s, nil) }

// newConnCacheClock is newConnCache with a clock (nil: time.Now), for tests.
func newConnCacheClock(s catalog.Store, now func() time.Time) *connCache {
	c := &connCache{byName: map[string]cachedConn{}, fresh: freshness.New(s, now, 0)}
	s.Watch(func(ch catalog.Change) {
		if ch.Kind == catalog.ChangeConnection || ch.Kind == catalog.ChangeAll {
			c.mu.Lock()
			c.byName = map[string]cachedConn{}
			c.gen++
			c.mu.Unlock()
		}
	})
	return c
}

// get returns the connection named name.
func (c *connCache) get(ctx context.Context, s catalog.Store, name string) (*catalog.Connection, error) {
	e, err := c.entry(ctx, s, name)
	if err != nil {
		return nil, err
	}
	return e.conn, nil
}

// entry returns the connection named name with what is derived from it.
func (c *connCache) entry(ctx context.Context, s catalog.Store, name string) (*connEntry, error) {
	c.mu.RLock()
	e, ok := c.byName[name]
	gen := c.gen
	c.mu.RUnlock()
	if ok && c.fresh.Fresh(e.stamp) {
		return e.entry, nil
	}
	stamp := c.fresh.Stamp()
	conn, err := s.GetConnection(ctx, name)
	if err != nil {
		return nil, err
	}
	ce := newConnEntry(conn)
	c.mu.Lock()
	if c.gen == gen {
		if len(c.byName) >= maxCachedConnections {
			c.byName = map[string]cachedConn{}
		}
		c.byName[name] = cachedConn{entry: ce, stamp: stamp}
	}
	c.mu.Unlock()
	return ce, nil
}
