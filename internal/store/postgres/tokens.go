package postgres

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

const selectToken = `SELECT id, principal_id, hash, comment, created_by, created_at, expires_at, last_used_at, audience FROM tokens`

func scanToken(row pgx.Row) (*catalog.Token, error) {
	var t catalog.Token
	var created, expires, used int64
	if err := row.Scan(&t.ID, &t.PrincipalID, &t.Hash, &t.Comment, &t.CreatedBy, &created, &expires, &used, &t.Audience); err != nil {
		return nil, err
	}
	t.CreatedAt = fromUnixNanos(created)
	t.ExpiresAt = fromUnixNanos(expires)
	t.LastUsedAt = fromUnixNanos(used)
	return &t, nil
}

func scanTokenRows(rows pgx.Rows) (*catalog.Token, error) { return scanToken(rows) }

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
		if ns[i], err = unixNanos(f.name, f.t); err != nil {
			return err
		}
	}
	return db.write(ctx, "create token", func(tx *Tx) error {
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", t.PrincipalID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("principal %s does not exist", t.PrincipalID)
		}
		var id string
		err = tx.QueryRow(ctx, "SELECT id FROM tokens WHERE id = $1 OR hash = $2 LIMIT 1", t.ID, t.Hash).Scan(&id)
		switch {
		case err == nil && id == t.ID:
			return alreadyTaken("token %s already exists", t.ID)
		case err == nil:
			// Never say which token: that would confirm a guessed secret.
			return alreadyTaken("a token with the same secret already exists")
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO tokens (id, principal_id, hash, comment, created_by, created_at, expires_at, last_used_at, audience)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.PrincipalID, t.Hash, t.Comment, t.CreatedBy, ns[0], ns[1], ns[2], t.Audience)
		switch {
		case isCode(err, codeUniqueViolation) && constraintOf(err) == "tokens_hash_key":
			return alreadyTaken("a token with the same secret already exists")
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("token %s already exists", t.ID)
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", t.PrincipalID)
		case err != nil:
			return err
		}
		tx.Announce(catalog.ChangeToken, t.ID)
		return nil
	})
}

// GetToken finds a token by ID.
func (db *DB) GetToken(ctx context.Context, id string) (*catalog.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, selectToken+" WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("token %s does not exist", id)
	}
	if err != nil {
		return nil, readErr("get token", err)
	}
	return t, nil
}

// GetTokenByHash finds a token by the hash of its secret, in one statement.
func (db *DB) GetTokenByHash(ctx context.Context, hash []byte) (*catalog.Token, error) {
	if len(hash) == 0 {
		return nil, doesNotExist("token does not exist")
	}
	t, err := scanToken(db.pool.QueryRow(ctx, selectToken+" WHERE hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("token does not exist")
	}
	if err != nil {
		return nil, readErr("get token by hash", err)
	}
	return t, nil
}

// ListTokens lists the tokens of one principal, or of all when principalID is "",
// ordered by creation time (then ID).
func (db *DB) ListTokens(ctx context.Context, principalID string) ([]*catalog.Token, error) {
	if principalID == "" {
		return queryRows(ctx, db, "list tokens", scanTokenRows, selectToken+" ORDER BY created_at, id")
	}
	return queryRows(ctx, db, "list tokens", scanTokenRows, selectToken+" WHERE principal_id = $1 ORDER BY created_at, id", principalID)
}

// DeleteToken removes a token.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	return db.write(ctx, "delete token", func(tx *Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM tokens WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return doesNotExist("token %s does not exist", id)
		}
		tx.Announce(catalog.ChangeToken, id)
		return nil
	})
}

// TouchTokens records last-used times in one statement. Unknown IDs and zero times are
// ignored, and a last-used time never moves backwards (batches from several replicas
// may arrive out of order). It announces no change: nothing that a cache keeps depends
// on it.
func (db *DB) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	ids := make([]string, 0, len(lastUsed))
	for id, t := range lastUsed {
		if !t.IsZero() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// One order for every replica's batch, so that two batches lock their rows in the
	// same order rather than deadlock.
	sort.Strings(ids)
	ns := make([]int64, len(ids))
	for i, id := range ids {
		var err error
		if ns[i], err = unixNanos("last_used_at", lastUsed[id]); err != nil {
			return err
		}
	}
	return db.write(ctx, "touch tokens", func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tokens t SET last_used_at = v.ns
			FROM (SELECT id, ns FROM unnest($1::text[], $2::bigint[]) AS u(id, ns) ORDER BY id) v
			WHERE t.id = v.id AND t.last_used_at < v.ns`, ids, ns)
		return err
	})
}
