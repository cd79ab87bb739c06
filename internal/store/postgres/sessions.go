package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// Browser sessions and pending OAuth logins (catalog.BrowserSessionStore,
// catalog.PendingLoginStore), shared by every replica. Writes that enforce a bound take
// a transaction-level advisory lock first, so that two replicas adding rows at once
// cannot both see room for one more; the lock ends with the transaction (or with its
// connection, if the replica dies). Taking a login is one DELETE ... RETURNING: of
// concurrent takes of one state, on any replicas, exactly one gets the row.

// Classes of the two-key advisory locks of this file (the bigint-keyed locks of
// migrations and refreshes are a separate key space).
const (
	lockClassSessions int32 = 0x67680001 // key2: hashtext(principal_id)
	lockClassPending  int32 = 0x67680002 // key2: 0 (the total bound is global)
)

// sessionNullTime maps the zero time to NULL.
func sessionNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateBrowserSession stores s, ending the principal's oldest sessions past
// maxPerPrincipal and dropping up to catalog.ExpiredSweep expired sessions.
func (db *DB) CreateBrowserSession(ctx context.Context, s *catalog.BrowserSession, maxPerPrincipal int) error {
	if err := catalog.CheckBrowserSession(s, maxPerPrincipal); err != nil {
		return err
	}
	return db.write(ctx, "create browser session", func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockClassSessions, s.PrincipalID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM browser_sessions WHERE seq IN
			(SELECT seq FROM browser_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, s.CreatedAt, catalog.ExpiredSweep); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM browser_sessions WHERE principal_id = $1 AND expires_at <= $2", s.PrincipalID, s.CreatedAt); err != nil {
			return err
		}
		// Keep the newest maxPerPrincipal-1, so that with s there are maxPerPrincipal.
		if _, err := tx.Exec(ctx, `DELETE FROM browser_sessions WHERE seq IN
			(SELECT seq FROM browser_sessions WHERE principal_id = $1 ORDER BY seq DESC OFFSET $2)`, s.PrincipalID, maxPerPrincipal-1); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO browser_sessions (key_hash, principal_id, token_id, token_hash, token_expires, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.Key[:], s.PrincipalID, s.TokenID, s.TokenHash, sessionNullTime(s.TokenExpiresAt), s.CreatedAt, s.ExpiresAt)
		if isCode(err, codeUniqueViolation) {
			return alreadyTaken("the browser session exists")
		}
		return err
	})
}

// GetBrowserSession returns the session with the key if it is live at now.
func (db *DB) GetBrowserSession(ctx context.Context, key [sha256.Size]byte, now time.Time) (*catalog.BrowserSession, error) {
	var s catalog.BrowserSession
	var k []byte
	var tokenExpires *time.Time
	err := db.pool.QueryRow(ctx, `SELECT key_hash, principal_id, token_id, token_hash, token_expires, created_at, expires_at
		FROM browser_sessions WHERE key_hash = $1`, key[:]).
		Scan(&k, &s.PrincipalID, &s.TokenID, &s.TokenHash, &tokenExpires, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("the browser session does not exist")
	}
	if err != nil {
		return nil, readErr("get browser session", err)
	}
	copy(s.Key[:], k)
	if tokenExpires != nil {
		s.TokenExpiresAt = tokenExpires.UTC()
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	if !now.Before(s.ExpiresAt) {
		return nil, doesNotExist("the browser session does not exist")
	}
	return &s, nil
}

// DeleteBrowserSession ends the session with the key.
func (db *DB) DeleteBrowserSession(ctx context.Context, key [sha256.Size]byte) error {
	if _, err := db.pool.Exec(ctx, "DELETE FROM browser_sessions WHERE key_hash = $1", key[:]); err != nil {
		return readErr("delete browser session", err)
	}
	return nil
}

// PutPendingLogin stores l after dropping expired logins and, past a bound, the oldest.
func (db *DB) PutPendingLogin(ctx context.Context, l *catalog.PendingLogin, lim catalog.PendingLoginLimits) (int, error) {
	if err := catalog.CheckPendingLogin(l, lim); err != nil {
		return 0, err
	}
	var evicted int
	err := db.write(ctx, "put pending login", func(tx *Tx) error {
		evicted = 0
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockClassPending); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`, []any{l.CreatedAt, catalog.ExpiredSweep}},
			{"DELETE FROM pending_logins WHERE state_hash = $1", []any{l.StateHash[:]}},
			{"DELETE FROM pending_logins WHERE session_hash = $1 AND expires_at < $2", []any{l.SessionHash[:], l.CreatedAt}},
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE session_hash = $1 ORDER BY seq DESC OFFSET $2)`, []any{l.SessionHash[:], lim.MaxPerSession - 1}},
			{"DELETE FROM pending_logins WHERE principal_id = $1 AND expires_at < $2", []any{l.PrincipalID, l.CreatedAt}},
			{`DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins WHERE principal_id = $1 ORDER BY seq DESC OFFSET $2)`, []any{l.PrincipalID, lim.MaxPerPrincipal - 1}},
		} {
			if _, err := tx.Exec(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		// The count the triggers of 0004 keep; FOR UPDATE holds off concurrent takes
		// until this transaction ends, so it stays exact until the insert.
		if err := tx.QueryRow(ctx, "SELECT n FROM pending_login_count FOR UPDATE").Scan(&n); err != nil {
			return err
		}
		if n >= lim.MaxTotal {
			tag, err := tx.Exec(ctx, `DELETE FROM pending_logins WHERE seq IN
				(SELECT seq FROM pending_logins ORDER BY seq LIMIT $1)`, n-lim.MaxTotal+1)
			if err != nil {
				return err
			}
			evicted = int(tag.RowsAffected())
		}
		_, err := tx.Exec(ctx, `INSERT INTO pending_logins
			(state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			l.StateHash[:], l.SessionHash[:], l.PrincipalID, l.ConnectionID, l.Connection, l.TokenURL, l.SealedVerifier, l.CreatedAt, l.ExpiresAt)
		return err
	})
	if err != nil {
		return 0, err
	}
	return evicted, nil
}

// TakePendingLogin removes the login of the state and returns it unless it expired.
func (db *DB) TakePendingLogin(ctx context.Context, stateHash [sha256.Size]byte, now time.Time) (*catalog.PendingLogin, error) {
	var l catalog.PendingLogin
	var st, sh []byte
	err := db.pool.QueryRow(ctx, `DELETE FROM pending_logins WHERE state_hash = $1 RETURNING
		state_hash, session_hash, principal_id, connection_id, connection, token_url, sealed_verifier, created_at, expires_at`, stateHash[:]).
		Scan(&st, &sh, &l.PrincipalID, &l.ConnectionID, &l.Connection, &l.TokenURL, &l.SealedVerifier, &l.CreatedAt, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("the login state is unknown, used or expired")
	}
	if err != nil {
		return nil, readErr("take pending login", err)
	}
	copy(l.StateHash[:], st)
	copy(l.SessionHash[:], sh)
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	if now.After(l.ExpiresAt) {
		return nil, doesNotExist("the login state is unknown, used or expired")
	}
	return &l, nil
}
