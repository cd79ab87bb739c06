package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

const selectToken = `SELECT id, principal_id, hash, comment, created_by, created_at, expires_at, last_used_at, audience FROM tokens`

func scanToken(row scanner) (*catalog.Token, error) {
	var t catalog.Token
	var created, expires, used int64
	if err := row.Scan(&t.ID, &t.PrincipalID, &t.Hash, &t.Comment, &t.CreatedBy, &created, &expires, &used, &t.Audience); err != nil {
		return nil, err
	}
	t.CreatedAt = fromNanos(created)
	t.ExpiresAt = fromNanos(expires)
	t.LastUsedAt = fromNanos(used)
	return &t, nil
}

// CreateToken stores t for an existing principal. Its ID and hash must be new.
func (db *DB) CreateToken(ctx context.Context, t *catalog.Token) error {
	if err := catalog.CheckToken(t); err != nil {
		return err
	}
	var ns [3]int64
	for i, f := range []struct {
		name string
		t    time.Time
	}{{"created_at", t.CreatedAt}, {"expires_at", t.ExpiresAt}, {"last_used_at", t.LastUsedAt}} {
		var err error
		if ns[i], err = nanos(f.name, f.t); err != nil {
			return err
		}
	}
	return db.update(ctx, "create token", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", t.PrincipalID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("principal %s does not exist", t.PrincipalID)
		}
		var id string
		err = tx.QueryRowContext(ctx, "SELECT id FROM tokens WHERE id = ? OR hash = ? LIMIT 1", t.ID, t.Hash).Scan(&id)
		switch {
		case err == nil && id == t.ID:
			return alreadyExists("token %s already exists", t.ID)
		case err == nil:
			// Never say which token: that would confirm a guessed secret.
			return alreadyExists("a token with the same secret already exists")
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, principal_id, hash, comment, created_by, created_at, expires_at, last_used_at, audience)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.PrincipalID, t.Hash, t.Comment, t.CreatedBy, ns[0], ns[1], ns[2], t.Audience)
		if isUnique(err) {
			return alreadyExists("token %s already exists", t.ID)
		}
		if err != nil {
			return err
		}
		tx.emit(catalog.ChangeToken, t.ID)
		return nil
	})
}

// GetToken finds a token by ID.
func (db *DB) GetToken(ctx context.Context, id string) (*catalog.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, selectToken+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("token %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// GetTokenByHash finds a token by the hash of its secret.
func (db *DB) GetTokenByHash(ctx context.Context, hash []byte) (*catalog.Token, error) {
	if len(hash) == 0 {
		return nil, notExist("token does not exist")
	}
	t, err := scanToken(db.tokenByHash.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("token does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("get token by hash: %w", err)
	}
	return t, nil
}

// ListTokens lists the tokens of one principal, or of all when principalID is "",
// ordered by creation time (then ID).
func (db *DB) ListTokens(ctx context.Context, principalID string) ([]*catalog.Token, error) {
	if principalID == "" {
		return queryAll(ctx, db.r, "list tokens", scanToken, selectToken+" ORDER BY created_at, id")
	}
	return queryAll(ctx, db.r, "list tokens", scanToken, selectToken+" WHERE principal_id = ? ORDER BY created_at, id", principalID)
}

// DeleteToken removes a token.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	return db.update(ctx, "delete token", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return notExist("token %s does not exist", id)
		}
		tx.emit(catalog.ChangeToken, id)
		return nil
	})
}

// TouchTokens records last-used times in one write. Unknown IDs and zero times are
// ignored, and a last-used time never moves backwards (batches from several replicas
// may arrive out of order). It announces no change: nothing that a cache keeps depends
// on it.
func (db *DB) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return db.update(ctx, "touch tokens", func(tx *txn) error {
		stmt, err := tx.PrepareContext(ctx, "UPDATE tokens SET last_used_at = max(last_used_at, ?) WHERE id = ?")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, t := range lastUsed {
			ns, err := nanos("last_used_at", t)
			if err != nil {
				return err
			}
			if ns == 0 {
				continue
			}
			if _, err := stmt.ExecContext(ctx, ns, id); err != nil {
				return err
			}
		}
		return nil
	})
}
