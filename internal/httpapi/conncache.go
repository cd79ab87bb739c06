package httpapi

import (
	"context"
	"sync"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// connCache keeps connections by name so that a call through one costs no store read.
// Any connection change the store announces empties it (changes are rare, calls are
// not), so a disable, an option change or a rotation is seen by the very next call;
// gen keeps a read that raced a change from refilling it stale. Cached connections are
// shared: nobody may modify one (handlers copy before changing).
type connCache struct {
	mu     sync.RWMutex
	byName map[string]*catalog.Connection
	gen    uint64
}

const maxCachedConnections = 100000

func newConnCache(s catalog.Store) *connCache {
	c := &connCache{byName: map[string]*catalog.Connection{}}
	s.Watch(func(ch catalog.Change) {
		if ch.Kind == catalog.ChangeConnection {
			c.mu.Lock()
			c.byName = map[string]*catalog.Connection{}
			c.gen++
			c.mu.Unlock()
		}
	})
	return c
}

func (c *connCache) get(ctx context.Context, s catalog.Store, name string) (*catalog.Connection, error) {
	c.mu.RLock()
	conn, ok := c.byName[name]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return conn, nil
	}
	conn, err := s.GetConnection(ctx, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.byName) >= maxCachedConnections {
			c.byName = map[string]*catalog.Connection{}
		}
		c.byName[name] = conn
	}
	c.mu.Unlock()
	return conn, nil
}
