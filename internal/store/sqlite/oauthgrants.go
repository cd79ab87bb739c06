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

// OAuth grants of the authorization server (catalog.OAuthGrantStore, issue 12). The one
// write connection serializes every write, so a bound's count holds until the insert, a
// take returns a code once and a rotation's compare-and-swap cannot interleave.

const selectOAuthCode = `SELECT hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at, family_id, token_id FROM oauth_codes`

const selectOAuthFamily = `SELECT id, principal_id, client_id, audience, secret_hash, token_id, created_at, expires_at, rotated_at FROM oauth_families`

func scanOAuthCode(row scanner) (*catalog.OAuthCode, error) {
	var c catalog.OAuthCode
	var h []byte
	var created, expires int64
	if err := row.Scan(&h, &c.PrincipalID, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Audience, &created, &expires, &c.FamilyID, &c.TokenID); err != nil {
		return nil, err
	}
	copy(c.Hash[:], h)
	c.CreatedAt, c.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &c, nil
}

func scanOAuthFamily(row scanner) (*catalog.OAuthFamily, error) {
	var f catalog.OAuthFamily
	var h []byte
	var created, expires, rotated int64
	if err := row.Scan(&f.ID, &f.PrincipalID, &f.ClientID, &f.Audience, &h, &f.TokenID, &created, &expires, &rotated); err != nil {
		return nil, err
	}
	copy(f.SecretHash[:], h)
	f.CreatedAt, f.ExpiresAt, f.RotatedAt = fromNanos(created), fromNanos(expires), fromNanos(rotated)
	return &f, nil
}

// checkOAuthPrincipal refuses a row for a principal that does not exist.
func checkOAuthPrincipal(ctx context.Context, tx *txn, id string) error {
	ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", id)
	if err != nil {
		return err
	}
	if !ok {
		return notExist("principal %s does not exist", id)
	}
	return nil
}

// PutOAuthCode stores c unless its principal already holds maxPerPrincipal codes.
func (db *DB) PutOAuthCode(ctx context.Context, c *catalog.OAuthCode, maxPerPrincipal int) error {
	if err := catalog.CheckOAuthCode(c, maxPerPrincipal); err != nil {
		return err
	}
	created, err := nanos("created_at", c.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := nanos("expires_at", c.ExpiresAt)
	if err != nil {
		return err
	}
	return db.update(ctx, "put authorization code", func(tx *txn) error {
		if err := checkOAuthPrincipal(ctx, tx, c.PrincipalID); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM oauth_codes WHERE hash IN
				(SELECT hash FROM oauth_codes WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, []any{created, catalog.ExpiredSweep}},
			{"DELETE FROM oauth_codes WHERE principal_id = ? AND expires_at < ?", []any{c.PrincipalID, created}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM oauth_codes WHERE principal_id = ?", c.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerPrincipal {
			return catalog.Errorf(catalog.RequestLimitExceeded, "the user has %d authorization codes in progress or used within the hour, the most there may be; they expire within an hour", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_codes (hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Hash[:], c.PrincipalID, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Audience, created, expires)
		if isUnique(err) {
			return alreadyExists("the authorization code exists")
		}
		return err
	})
}

// TakeOAuthCode marks an unused, unexpired code used and returns it.
func (db *DB) TakeOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*catalog.OAuthCode, error) {
	at, err := nanos("now", now)
	if err != nil {
		return nil, err
	}
	var c *catalog.OAuthCode
	err = db.update(ctx, "take authorization code", func(tx *txn) error {
		var err error
		c, err = scanOAuthCode(tx.QueryRowContext(ctx, `UPDATE oauth_codes SET used = 1 WHERE hash = ? AND used = 0 AND expires_at >= ? RETURNING
			hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at, family_id, token_id`, hash[:], at))
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("the authorization code is unknown, used or expired")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RecordOAuthCodeUse records what a used code's exchange issued.
func (db *DB) RecordOAuthCodeUse(ctx context.Context, hash [sha256.Size]byte, familyID, tokenID string, until time.Time) error {
	u, err := nanos("until", until)
	if err != nil {
		return err
	}
	return db.update(ctx, "record authorization code use", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, "UPDATE oauth_codes SET family_id = ?, token_id = ?, expires_at = ? WHERE hash = ? AND used = 1", familyID, tokenID, u, hash[:])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notExist("the authorization code is not marked used")
		}
		return nil
	})
}

// TakeUsedOAuthCode removes a used code's marker and returns it.
func (db *DB) TakeUsedOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*catalog.OAuthCode, error) {
	at, err := nanos("now", now)
	if err != nil {
		return nil, err
	}
	var c *catalog.OAuthCode
	err = db.update(ctx, "take used authorization code", func(tx *txn) error {
		var err error
		c, err = scanOAuthCode(tx.QueryRowContext(ctx, `DELETE FROM oauth_codes WHERE hash = ? AND used = 1 AND expires_at >= ? RETURNING
			hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at, family_id, token_id`, hash[:], at))
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("no used authorization code")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CreateOAuthFamily stores f unless its principal already holds maxPerPrincipal live
// families.
func (db *DB) CreateOAuthFamily(ctx context.Context, f *catalog.OAuthFamily, maxPerPrincipal int) error {
	if err := catalog.CheckOAuthFamily(f, maxPerPrincipal); err != nil {
		return err
	}
	var ns [3]int64
	for i, t := range []struct {
		name string
		t    time.Time
	}{{"created_at", f.CreatedAt}, {"expires_at", f.ExpiresAt}, {"rotated_at", f.RotatedAt}} {
		var err error
		if ns[i], err = nanos(t.name, t.t); err != nil {
			return err
		}
	}
	return db.update(ctx, "create refresh family", func(tx *txn) error {
		if err := checkOAuthPrincipal(ctx, tx, f.PrincipalID); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM oauth_families WHERE id IN
				(SELECT id FROM oauth_families WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, []any{ns[0], catalog.ExpiredSweep}},
			{"DELETE FROM oauth_families WHERE principal_id = ? AND expires_at <= ?", []any{f.PrincipalID, ns[0]}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM oauth_families WHERE principal_id = ?", f.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerPrincipal {
			return catalog.Errorf(catalog.RequestLimitExceeded, "the user has %d signed-in OAuth clients, the most there may be; revoke one first", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_families (id, principal_id, client_id, audience, secret_hash, token_id, created_at, expires_at, rotated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.PrincipalID, f.ClientID, f.Audience, f.SecretHash[:], f.TokenID, ns[0], ns[1], ns[2])
		if isUnique(err) {
			return alreadyExists("refresh family %s exists", f.ID)
		}
		return err
	})
}

// RotateOAuthFamily replaces the live secret and access token if the secret is still
// r.OldSecretHash (compare-and-swap), deleting the replaced access token.
func (db *DB) RotateOAuthFamily(ctx context.Context, r catalog.OAuthRotation) (*catalog.OAuthFamily, error) {
	if err := catalog.CheckOAuthRotation(r); err != nil {
		return nil, err
	}
	at, err := nanos("rotated_at", r.At)
	if err != nil {
		return nil, err
	}
	var old *catalog.OAuthFamily
	err = db.update(ctx, "rotate refresh family", func(tx *txn) error {
		f, err := scanOAuthFamily(tx.QueryRowContext(ctx, selectOAuthFamily+" WHERE id = ?", r.FamilyID))
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("refresh family %s does not exist", r.FamilyID)
		}
		if err != nil {
			return err
		}
		if f.SecretHash != r.OldSecretHash || !r.At.Before(f.ExpiresAt) {
			return notExist("refresh family %s has no such live secret", r.FamilyID)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE oauth_families SET secret_hash = ?, token_id = ?, rotated_at = ? WHERE id = ?",
			r.NewSecretHash[:], r.NewTokenID, at, r.FamilyID); err != nil {
			return err
		}
		if err := deleteOAuthToken(ctx, tx, f.TokenID); err != nil {
			return err
		}
		old = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

// deleteOAuthToken deletes a family's access token, if it is still there.
func deleteOAuthToken(ctx context.Context, tx *txn, id string) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n > 0 {
		tx.emit(catalog.ChangeToken, id)
	}
	return nil
}

// GetOAuthFamily returns a live family.
func (db *DB) GetOAuthFamily(ctx context.Context, id string, now time.Time) (*catalog.OAuthFamily, error) {
	f, err := scanOAuthFamily(db.r.QueryRowContext(ctx, selectOAuthFamily+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !now.Before(f.ExpiresAt)) {
		return nil, notExist("refresh family %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get refresh family: %w", err)
	}
	return f, nil
}

// ListOAuthFamilies lists a principal's live families, oldest first.
func (db *DB) ListOAuthFamilies(ctx context.Context, principalID string, now time.Time) ([]*catalog.OAuthFamily, error) {
	at, err := nanos("now", now)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db.r, "list refresh families", scanOAuthFamily,
		selectOAuthFamily+" WHERE principal_id = ? AND expires_at > ? ORDER BY created_at, id", principalID, at)
}

// DeleteOAuthFamily ends a family and its live access token.
func (db *DB) DeleteOAuthFamily(ctx context.Context, id string) (*catalog.OAuthFamily, error) {
	var f *catalog.OAuthFamily
	err := db.update(ctx, "delete refresh family", func(tx *txn) error {
		var err error
		f, err = scanOAuthFamily(tx.QueryRowContext(ctx, "DELETE FROM oauth_families WHERE id = ? RETURNING id, principal_id, client_id, audience, secret_hash, token_id, created_at, expires_at, rotated_at", id))
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("refresh family %s does not exist", id)
		}
		if err != nil {
			return err
		}
		return deleteOAuthToken(ctx, tx, f.TokenID)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// DeleteOAuthGrantsOf ends every family and code of a principal.
func (db *DB) DeleteOAuthGrantsOf(ctx context.Context, principalID string) (int, error) {
	var n int
	err := db.update(ctx, "delete OAuth grants", func(tx *txn) error {
		var err error
		n, err = endOAuthGrants(ctx, tx, principalID)
		return err
	})
	return n, err
}

// endOAuthGrants deletes a principal's families with their live access tokens, and its
// codes, in tx (DeleteOAuthGrantsOf, and UpdatePrincipal making a principal inactive).
func endOAuthGrants(ctx context.Context, tx *txn, principalID string) (int, error) {
	ids, err := queryStrings(ctx, tx, "DELETE FROM oauth_families WHERE principal_id = ? RETURNING token_id", principalID)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := deleteOAuthToken(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM oauth_codes WHERE principal_id = ?", principalID); err != nil {
		return 0, err
	}
	return len(ids), nil
}
