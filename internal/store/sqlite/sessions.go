package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Browser sessions and pending OAuth logins (catalog.BrowserSessionStore,
// catalog.PendingLoginStore). Every bound and purge runs in the write transaction that
// adds a row, which the single write connection serializes; reads are one indexed
// statement on the read pool.

const selectBrowserSession = `SELECT key_hash, principal_id, token_id, token_hash, token_expires, created_at, expires_at FROM browser_sessions`

// CreateBrowserSession stores s, ending the principal's oldest sessions past
// maxPerPrincipal and dropping up to catalog.ExpiredSweep expired sessions.
func (db *DB) CreateBrowserSession(ctx context.Context, s *catalog.BrowserSession, maxPerPrincipal int) error {
	if err := catalog.CheckBrowserSession(s, maxPerPrincipal); err != nil {
		return err
	}
	created, err := nanos("created_at", s.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := nanos("expires_at", s.ExpiresAt)
	if err != nil {
		return err
	}
	tokenExpires, err := nanos("token_expires", s.TokenExpiresAt)
	if err != nil {
		return err
	}
	return db.update(ctx, "create browser session", func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM browser_sessions WHERE seq IN
			(SELECT seq FROM browser_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, created, catalog.ExpiredSweep); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM browser_sessions WHERE principal_id = ? AND expires_at <= ?", s.PrincipalID, created); err != nil {
			return err
		}
		// Keep the newest maxPerPrincipal-1, so that with s there are maxPerPrincipal.
		if _, err := tx.ExecContext(ctx, `DELETE FROM browser_sessions WHERE seq IN
			(SELECT seq FROM browser_sessions WHERE principal_id = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`, s.PrincipalID, maxPerPrincipal-1); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO browser_sessions (key_hash, principal_id, token_id, token_hash, token_expires, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, s.Key[:], s.PrincipalID, s.TokenID, s.TokenHash, tokenExpires, created, expires)
		if isUnique(err) {
			return alreadyExists("the browser session exists")
		}
		return err
	})
}

// GetBrowserSession returns the session with the key if it is live at now.
func (db *DB) GetBrowserSession(ctx context.Context, key [sha256.Size]byte, now time.Time) (*catalog.BrowserSession, error) {
	var s catalog.BrowserSession
	var k []byte
	var tokenExpires, created, expires int64
	err := db.r.QueryRowContext(ctx, selectBrowserSession+" WHERE key_hash = ?", key[:]).
		Scan(&k, &s.PrincipalID, &s.TokenID, &s.TokenHash, &tokenExpires, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("the browser session does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("get browser session: %w", err)
	}
	copy(s.Key[:], k)
	s.TokenExpiresAt, s.CreatedAt, s.ExpiresAt = fromNanos(tokenExpires), fromNanos(created), fromNanos(expires)
	if !now.Before(s.ExpiresAt) {
		return nil, notExist("the browser session does not exist")
	}
	return &s, nil
}

// DeleteBrowserSession ends the session with the key.
func (db *DB) DeleteBrowserSession(ctx context.Context, key [sha256.Size]byte) error {
	return db.update(ctx, "delete browser session", func(tx *txn) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM browser_sessions WHERE key_hash = ?", key[:])
		return err
	})
}

// PutPendingLogin stores l after dropping expired logins and, past a bound, the oldest.
func (db *DB) PutPendingLogin(ctx context.Context, l *catalog.PendingLogin, lim catalog.PendingLoginLimits) (int, error) {
	if err := catalog.CheckPendingLogin(l, lim); err != nil {
		return 0, err
	}
	created, err := nanos("created_at", l.CreatedAt)
	if err != nil {
		return 0, err
	}
	expires, err := nanos("expires_at", l.ExpiresAt)
	if err != nil {
		return 0, err
	}
	var evicted int
	err = db.update(ctx, "put pending login", func(tx *txn) error {
		evicted = 0
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, []any{created, catalog.ExpiredSweep}},
			{"DELETE FROM pending_logins WHERE state_hash = ?", []any{l.StateHash[:]}},
			{"DELETE FROM pending_logins WHERE session_hash = ? AND expires_at < ?", []any{l.SessionHash[:], created}},
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE session_hash = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`, []any{l.SessionHash[:], lim.MaxPerSession - 1}},
			{"DELETE FROM pending_logins WHERE principal_id = ? AND expires_at < ?", []any{l.PrincipalID, created}},
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE principal_id = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`, []any{l.PrincipalID, lim.MaxPerPrincipal - 1}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM pending_logins").Scan(&n); err != nil {
			return err
		}
		if n >= lim.MaxTotal {
			res, err := tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins ORDER BY seq LIMIT ?)`, n-lim.MaxTotal+1)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			evicted = int(m)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pending_logins
			(state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.StateHash[:], l.SessionHash[:], l.PrincipalID, l.ConnectionID, l.Connection, l.TokenURL, l.SealedVerifier, created, expires)
		return err
	})
	if err != nil {
		return 0, err
	}
	return evicted, nil
}

// TakePendingLogin removes the login of the state and returns it unless it expired.
// The write connection serializes takes, so one state is returned once.
func (db *DB) TakePendingLogin(ctx context.Context, stateHash [sha256.Size]byte, now time.Time) (*catalog.PendingLogin, error) {
	var l catalog.PendingLogin
	var found bool
	err := db.update(ctx, "take pending login", func(tx *txn) error {
		var st, sh []byte
		var created, expires int64
		err := tx.QueryRowContext(ctx, `DELETE FROM pending_logins WHERE state_hash = ? RETURNING
			state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at`, stateHash[:]).
			Scan(&st, &sh, &l.PrincipalID, &l.ConnectionID, &l.Connection, &l.TokenURL, &l.SealedVerifier, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		copy(l.StateHash[:], st)
		copy(l.SessionHash[:], sh)
		l.CreatedAt, l.ExpiresAt = fromNanos(created), fromNanos(expires)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found || now.After(l.ExpiresAt) {
		return nil, notExist("the login state is unknown, used or expired")
	}
	return &l, nil
}
