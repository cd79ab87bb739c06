package sqlite

import (
	"context"
	"sync"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// LockCredential runs fn while holding the credential's lock, with the credential as
// stored once the lock is held (nil when there is none); see
// catalog.CredentialStore. One process serves a data directory, so the lock is a
// mutex of this process, one per credential, that a waiter can stop waiting for
// when ctx ends.
func (db *DB) LockCredential(ctx context.Context, connectionID, principalID string, fn func(ctx context.Context, cur *catalog.OAuthCredential) error) error {
	key := connectionID + "\x00" + principalID
	unlock, err := db.credLocks.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := db.GetCredential(ctx, connectionID, principalID)
	switch {
	case catalog.IsNotFound(err):
		cur = nil
	case err != nil:
		return err
	}
	return fn(ctx, cur)
}

// keyLocks is a set of mutexes by key that a waiter can give up on. Its zero value is
// ready to use; a key's entry lives only while someone holds or waits for it.
type keyLocks struct {
	mu   sync.Mutex
	keys map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // one slot: full while held
	refs int           // holders and waiters
}

// lock takes the key's lock, waiting until it is free or ctx ends, and returns the
// function that releases it.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.keys == nil {
		l.keys = map[string]*keyLock{}
	}
	k := l.keys[key]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1)}
		l.keys[key] = k
	}
	k.refs++
	l.mu.Unlock()

	select {
	case k.held <- struct{}{}:
		return func() {
			<-k.held
			l.release(key, k)
		}, nil
	case <-ctx.Done():
		l.release(key, k)
		return nil, ctx.Err()
	}
}

func (l *keyLocks) release(key string, k *keyLock) {
	l.mu.Lock()
	k.refs--
	if k.refs == 0 {
		delete(l.keys, key)
	}
	l.mu.Unlock()
}
