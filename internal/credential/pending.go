package credential

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// PendingLogin is a started authorization code login, found again by its state when the
// provider sends the browser back.
type PendingLogin struct {
	// SessionHash is the SHA-256 of the browser session id the login was started in;
	// the login finishes only in that session.
	SessionHash  [sha256.Size]byte
	ConnectionID string
	Connection   string
	PrincipalID  string
	// Verifier is the PKCE code verifier: a secret until the code is redeemed. String
	// and GoString leave it out.
	Verifier string
	// Expires is when the state stops working.
	Expires time.Time
	// TokenURL is where the code may be redeemed: the token endpoint when the login
	// started. A destination change meanwhile ends the login (the code and verifier
	// never go to the new endpoint).
	TokenURL string
}

// String describes the login without its verifier.
func (l PendingLogin) String() string {
	return fmt.Sprintf("pending login to %s (%s) by %s, expires %s", l.Connection, l.ConnectionID, l.PrincipalID, l.Expires.UTC().Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the verifier either.
func (l PendingLogin) GoString() string { return l.String() }

// PendingLogins keeps started logins until their redirect comes back. The broker only
// puts and takes; it never lists or scans them, and never holds its own lock while it
// calls them, so a store can live in memory (MemoryPendingLogins) or, later, in the
// shared database without a change to the login flow.
//
// An implementation keeps the OAuth rules for state: every state is
// single-use (Take removes what it returns, whatever the broker then decides) and
// short-lived (never returned past its Expires); the binding to the browser session is
// checked by the broker on what Take returns. It also bounds what it holds, per browser
// session, per principal and in total, evicting the oldest past a bound.
type PendingLogins interface {
	// Put records a login under its state.
	Put(ctx context.Context, state string, l PendingLogin) error
	// Take removes the login of the state and returns it; ok is false when the state
	// is unknown, already taken, evicted or expired.
	Take(ctx context.Context, state string) (l PendingLogin, ok bool, err error)
}

// Bounds of MemoryPendingLogins when its options leave them zero.
const (
	// DefaultMaxPendingLogins bounds the logins held in total: about 45 MB at most
	// (measured: 424 bytes a login).
	DefaultMaxPendingLogins = 100_000
	// DefaultMaxPendingPerSession bounds the logins one browser session holds; a
	// person starts one at a time, and 16 leaves room for abandoned tabs.
	DefaultMaxPendingPerSession = 16
	// DefaultMaxPendingPerPrincipal bounds the logins of one principal across all its
	// sessions, so that signing in again and again does not get round the session bound.
	DefaultMaxPendingPerPrincipal = 64
)

// PendingOptions configure NewMemoryPendingLogins and NewStorePendingLogins: the same
// bounds and clock for both. Zero values take the defaults (DefaultMaxPendingLogins and
// the others).
type PendingOptions struct {
	MaxTotal        int
	MaxPerSession   int
	MaxPerPrincipal int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives a warning (at most once a minute) while the total bound evicts
	// logins; nil discards.
	Log *slog.Logger
}

// withDefaults returns o with every zero value replaced by its default.
func (o PendingOptions) withDefaults() PendingOptions {
	if o.MaxTotal <= 0 {
		o.MaxTotal = DefaultMaxPendingLogins
	}
	if o.MaxPerSession <= 0 {
		o.MaxPerSession = DefaultMaxPendingPerSession
	}
	if o.MaxPerPrincipal <= 0 {
		o.MaxPerPrincipal = DefaultMaxPendingPerPrincipal
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// MemoryPendingLogins is the in-memory PendingLogins of one replica. Every operation is
// O(1): the logins are kept in three intrusive lists in creation order (all of them, per
// session, per principal). Because every login lives for the same TTL, creation order is
// expiry order, so expired logins are dropped from the front of the list on every Put and
// Take, without a scan. Its lock is its own: the proxy path never takes it.
//
// Past a bound the oldest login in that bound is evicted (its state then fails like an
// expired one) rather than the new one refused: a new login is what a person is waiting
// for, and refusing it once the total is full would let anyone who fills it lock every
// honest user out until the TTL runs out, while evicting makes an attacker outrun every
// honest login continuously, across at least MaxTotal/MaxPerPrincipal principals.
//
// Its logins are this process's own: a server uses StorePendingLogins, which every
// replica shares; this one is for tests and tools of one process.
type MemoryPendingLogins struct {
	opts PendingOptions

	mu          sync.Mutex
	byState     map[[sha256.Size]byte]*pendingNode
	all         pendingList
	bySession   map[[sha256.Size]byte]*pendingList
	byPrincipal map[string]*pendingList
	warnedAt    time.Time
	evicted     uint64
}

var _ PendingLogins = (*MemoryPendingLogins)(nil)

// The three lists a node is in, as indexes into its links.
const (
	listAll = iota
	listSession
	listPrincipal
)

type pendingNode struct {
	key   [sha256.Size]byte // SHA-256 of the state
	login PendingLogin
	links [3]struct{ prev, next *pendingNode }
}

// pendingList is a doubly linked list threaded through one of the nodes' links.
type pendingList struct {
	head, tail *pendingNode
	n          int
	k          int // which links
}

func (l *pendingList) pushBack(n *pendingNode) {
	ln := &n.links[l.k]
	ln.prev, ln.next = l.tail, nil
	if l.tail != nil {
		l.tail.links[l.k].next = n
	} else {
		l.head = n
	}
	l.tail = n
	l.n++
}

func (l *pendingList) remove(n *pendingNode) {
	ln := &n.links[l.k]
	if ln.prev != nil {
		ln.prev.links[l.k].next = ln.next
	} else {
		l.head = ln.next
	}
	if ln.next != nil {
		ln.next.links[l.k].prev = ln.prev
	} else {
		l.tail = ln.prev
	}
	ln.prev, ln.next = nil, nil
	l.n--
}

// NewMemoryPendingLogins returns an empty in-memory store.
func NewMemoryPendingLogins(opts PendingOptions) *MemoryPendingLogins {
	opts = opts.withDefaults()
	return &MemoryPendingLogins{
		opts:        opts,
		byState:     map[[sha256.Size]byte]*pendingNode{},
		all:         pendingList{k: listAll},
		bySession:   map[[sha256.Size]byte]*pendingList{},
		byPrincipal: map[string]*pendingList{},
	}
}

// Put records the login, first dropping expired logins and then, past a bound, the
// oldest login of this session, of this principal, or of all.
func (m *MemoryPendingLogins) Put(_ context.Context, state string, l PendingLogin) error {
	key := sha256.Sum256([]byte(state))
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	if old, ok := m.byState[key]; ok {
		// States are 256 random bits, so this is a caller's bug; the old login must
		// not survive under a state that now means another.
		m.unlink(old)
	}
	n := &pendingNode{key: key, login: l}
	sl := m.bySession[l.SessionHash]
	if sl == nil {
		sl = &pendingList{k: listSession}
		m.bySession[l.SessionHash] = sl
	}
	if sl.n >= m.opts.MaxPerSession {
		m.unlink(sl.head)
	}
	pl := m.byPrincipal[l.PrincipalID]
	if pl == nil {
		pl = &pendingList{k: listPrincipal}
		m.byPrincipal[l.PrincipalID] = pl
	}
	if pl.n >= m.opts.MaxPerPrincipal {
		m.unlink(pl.head)
	}
	if m.all.n >= m.opts.MaxTotal {
		m.unlink(m.all.head)
		m.evicted++
		if now.Sub(m.warnedAt) >= time.Minute || now.Before(m.warnedAt) {
			m.warnedAt = now
			m.opts.Log.Warn("pending OAuth logins at the limit: evicting the oldest; logins started long ago fail and must be started again",
				"limit", m.opts.MaxTotal, "evicted_total", m.evicted)
		}
	}
	// unlink may have dropped an emptied list from its map; put them back.
	m.bySession[l.SessionHash], m.byPrincipal[l.PrincipalID] = sl, pl
	m.byState[key] = n
	m.all.pushBack(n)
	sl.pushBack(n)
	pl.pushBack(n)
	return nil
}

// Take removes and returns the login of the state if it is there and not expired.
func (m *MemoryPendingLogins) Take(_ context.Context, state string) (PendingLogin, bool, error) {
	key := sha256.Sum256([]byte(state))
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	n, ok := m.byState[key]
	if !ok {
		return PendingLogin{}, false, nil
	}
	m.unlink(n)
	if now.After(n.login.Expires) {
		return PendingLogin{}, false, nil
	}
	return n.login, true, nil
}

// Len returns how many logins the store holds, expired ones not yet dropped included.
func (m *MemoryPendingLogins) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.all.n
}

// expire drops expired logins from the front of the creation-order list. It stops at
// the first live one, so it costs O(expired), not O(held).
func (m *MemoryPendingLogins) expire(now time.Time) {
	for m.all.head != nil && now.After(m.all.head.login.Expires) {
		m.unlink(m.all.head)
	}
}

// unlink removes a node from the index and all three lists, and drops emptied lists.
func (m *MemoryPendingLogins) unlink(n *pendingNode) {
	delete(m.byState, n.key)
	m.all.remove(n)
	if sl := m.bySession[n.login.SessionHash]; sl != nil {
		sl.remove(n)
		if sl.n == 0 {
			delete(m.bySession, n.login.SessionHash)
		}
	}
	if pl := m.byPrincipal[n.login.PrincipalID]; pl != nil {
		pl.remove(n)
		if pl.n == 0 {
			delete(m.byPrincipal, n.login.PrincipalID)
		}
	}
}
