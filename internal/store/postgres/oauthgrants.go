package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// OAuth grants of the authorization server (catalog.OAuthGrantStore, issue 12), shared
// by every replica. A write that enforces a principal's bound takes a transaction-level
// advisory lock of the principal first, so that two replicas adding rows at once cannot
// both see room for one more. Taking a code is one UPDATE ... WHERE NOT used: of
// concurrent takes, on any replicas, the first to update wins and the others, which wait
// for its row and then re-check, find it used. A rotation locks the family's row (FOR
// UPDATE) before comparing its secret, so a concurrent rotation waits and then compares
// against the secret the winner set.

// lockClassOAuth is the advisory lock class of a principal's OAuth grants (key2:
// hashtext(principal_id)); the classes of sessions.go are 0x67680001 and 0x67680002.
const lockClassOAuth int32 = 0x67680003

const oauthCodeColumns = `hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at, family_id, token_id`

const oauthFamilyColumns = `id, principal_id, client_id, audience, secret_hash, token_id, created_at, expires_at, rotated_at`

func scanOAuthCode(row pgx.Row) (*catalog.OAuthCode, error) {
	var c catalog.OAuthCode
	var h []byte
	var created, expires int64
	if err := row.Scan(&h, &c.PrincipalID, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Audience, &created, &expires, &c.FamilyID, &c.TokenID); err != nil {
		return nil, err
	}
	copy(c.Hash[:], h)
	c.CreatedAt, c.ExpiresAt = fromUnixNanos(created), fromUnixNanos(expires)
	return &c, nil
}

func scanOAuthFamily(row pgx.Row) (*catalog.OAuthFamily, error) {
	var f catalog.OAuthFamily
	var h []byte
	var created, expires, rotated int64
	if err := row.Scan(&f.ID, &f.PrincipalID, &f.ClientID, &f.Audience, &h, &f.TokenID, &created, &expires, &rotated); err != nil {
		return nil, err
	}
	copy(f.SecretHash[:], h)
	f.CreatedAt, f.ExpiresAt, f.RotatedAt = fromUnixNanos(created), fromUnixNanos(expires), fromUnixNanos(rotated)
	return &f, nil
}

func scanOAuthFamilyRows(rows pgx.Rows) (*catalog.OAuthFamily, error) { return scanOAuthFamily(rows) }

// lockOAuthPrincipal takes the principal's advisory lock and refuses an unknown one.
func lockOAuthPrincipal(ctx context.Context, tx *Tx, id string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockClassOAuth, id); err != nil {
		return err
	}
	ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", id)
	if err != nil {
		return err
	}
	if !ok {
		return doesNotExist("principal %s does not exist", id)
	}
	return nil
}

// PutOAuthCode stores c unless its principal already holds maxPerPrincipal codes.
func (db *DB) PutOAuthCode(ctx context.Context, c *catalog.OAuthCode, maxPerPrincipal int) error {
	if err := catalog.CheckOAuthCode(c, maxPerPrincipal); err != nil {
		return err
	}
	created, err := unixNanos("created_at", c.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := unixNanos("expires_at", c.ExpiresAt)
	if err != nil {
		return err
	}
	return db.write(ctx, "put authorization code", func(tx *Tx) error {
		if err := lockOAuthPrincipal(ctx, tx, c.PrincipalID); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM oauth_codes WHERE hash IN
				(SELECT hash FROM oauth_codes WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, []any{created, catalog.ExpiredSweep}},
			{"DELETE FROM oauth_codes WHERE principal_id = $1 AND expires_at < $2", []any{c.PrincipalID, created}},
		} {
			if _, err := tx.Exec(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM oauth_codes WHERE principal_id = $1", c.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerPrincipal {
			return catalog.Errorf(catalog.RequestLimitExceeded, "the user has %d authorization codes in progress or used within the hour, the most there may be; they expire within an hour", n)
		}
		_, err := tx.Exec(ctx, `INSERT INTO oauth_codes (hash, principal_id, client_id, redirect_uri, code_challenge, audience, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.Hash[:], c.PrincipalID, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Audience, created, expires)
		switch {
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("the authorization code exists")
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", c.PrincipalID)
		}
		return err
	})
}

// TakeOAuthCode marks an unused, unexpired code used and returns it.
func (db *DB) TakeOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*catalog.OAuthCode, error) {
	at, err := unixNanos("now", now)
	if err != nil {
		return nil, err
	}
	c, err := scanOAuthCode(db.pool.QueryRow(ctx, `UPDATE oauth_codes SET used = true WHERE hash = $1 AND NOT used AND expires_at >= $2 RETURNING `+oauthCodeColumns, hash[:], at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("the authorization code is unknown, used or expired")
	}
	if err != nil {
		return nil, readErr("take authorization code", err)
	}
	return c, nil
}

// RecordOAuthCodeUse records what a used code's exchange issued.
func (db *DB) RecordOAuthCodeUse(ctx context.Context, hash [sha256.Size]byte, familyID, tokenID string, until time.Time) error {
	u, err := unixNanos("until", until)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, "UPDATE oauth_codes SET family_id = $1, token_id = $2, expires_at = $3 WHERE hash = $4 AND used", familyID, tokenID, u, hash[:])
	if err != nil {
		return readErr("record authorization code use", err)
	}
	if tag.RowsAffected() == 0 {
		return doesNotExist("the authorization code is not marked used")
	}
	return nil
}

// TakeUsedOAuthCode removes a used code's marker and returns it.
func (db *DB) TakeUsedOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*catalog.OAuthCode, error) {
	at, err := unixNanos("now", now)
	if err != nil {
		return nil, err
	}
	c, err := scanOAuthCode(db.pool.QueryRow(ctx, `DELETE FROM oauth_codes WHERE hash = $1 AND used AND expires_at >= $2 RETURNING `+oauthCodeColumns, hash[:], at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("no used authorization code")
	}
	if err != nil {
		return nil, readErr("take used authorization code", err)
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
		if ns[i], err = unixNanos(t.name, t.t); err != nil {
			return err
		}
	}
	return db.write(ctx, "create refresh family", func(tx *Tx) error {
		if err := lockOAuthPrincipal(ctx, tx, f.PrincipalID); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM oauth_families WHERE id IN
				(SELECT id FROM oauth_families WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, []any{ns[0], catalog.ExpiredSweep}},
			{"DELETE FROM oauth_families WHERE principal_id = $1 AND expires_at <= $2", []any{f.PrincipalID, ns[0]}},
		} {
			if _, err := tx.Exec(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM oauth_families WHERE principal_id = $1", f.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerPrincipal {
			return catalog.Errorf(catalog.RequestLimitExceeded, "the user has %d signed-in OAuth clients, the most there may be; revoke one first", n)
		}
		_, err := tx.Exec(ctx, `INSERT INTO oauth_families (`+oauthFamilyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, f.ID, f.PrincipalID, f.ClientID, f.Audience, f.SecretHash[:], f.TokenID, ns[0], ns[1], ns[2])
		switch {
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("refresh family %s exists", f.ID)
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", f.PrincipalID)
		}
		return err
	})
}

// RotateOAuthFamily replaces the live secret and access token if the secret is still
// r.OldSecretHash (compare-and-swap on the locked row), deleting the replaced token.
func (db *DB) RotateOAuthFamily(ctx context.Context, r catalog.OAuthRotation) (*catalog.OAuthFamily, error) {
	if err := catalog.CheckOAuthRotation(r); err != nil {
		return nil, err
	}
	at, err := unixNanos("rotated_at", r.At)
	if err != nil {
		return nil, err
	}
	var old *catalog.OAuthFamily
	err = db.write(ctx, "rotate refresh family", func(tx *Tx) error {
		f, err := scanOAuthFamily(tx.QueryRow(ctx, "SELECT "+oauthFamilyColumns+" FROM oauth_families WHERE id = $1 FOR UPDATE", r.FamilyID))
		if errors.Is(err, pgx.ErrNoRows) {
			return doesNotExist("refresh family %s does not exist", r.FamilyID)
		}
		if err != nil {
			return err
		}
		if f.SecretHash != r.OldSecretHash || !r.At.Before(f.ExpiresAt) {
			return doesNotExist("refresh family %s has no such live secret", r.FamilyID)
		}
		if _, err := tx.Exec(ctx, "UPDATE oauth_families SET secret_hash = $1, token_id = $2, rotated_at = $3 WHERE id = $4",
			r.NewSecretHash[:], r.NewTokenID, at, r.FamilyID); err != nil {
			return err
		}
		if err := deleteOAuthTokens(ctx, tx, []string{f.TokenID}); err != nil {
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

// deleteOAuthTokens deletes families' access tokens that are still there.
func deleteOAuthTokens(ctx context.Context, tx *Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	gone, err := txStrings(ctx, tx, "DELETE FROM tokens WHERE id = ANY($1) RETURNING id", ids)
	if err != nil {
		return err
	}
	for _, id := range gone {
		tx.Announce(catalog.ChangeToken, id)
	}
	return nil
}

// GetOAuthFamily returns a live family.
func (db *DB) GetOAuthFamily(ctx context.Context, id string, now time.Time) (*catalog.OAuthFamily, error) {
	f, err := scanOAuthFamily(db.pool.QueryRow(ctx, "SELECT "+oauthFamilyColumns+" FROM oauth_families WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !now.Before(f.ExpiresAt)) {
		return nil, doesNotExist("refresh family %s does not exist", id)
	}
	if err != nil {
		return nil, readErr("get refresh family", err)
	}
	return f, nil
}

// ListOAuthFamilies lists a principal's live families, oldest first.
func (db *DB) ListOAuthFamilies(ctx context.Context, principalID string, now time.Time) ([]*catalog.OAuthFamily, error) {
	at, err := unixNanos("now", now)
	if err != nil {
		return nil, err
	}
	return queryRows(ctx, db, "list refresh families", scanOAuthFamilyRows,
		"SELECT "+oauthFamilyColumns+" FROM oauth_families WHERE principal_id = $1 AND expires_at > $2 ORDER BY created_at, id", principalID, at)
}

// DeleteOAuthFamily ends a family and its live access token.
func (db *DB) DeleteOAuthFamily(ctx context.Context, id string) (*catalog.OAuthFamily, error) {
	var f *catalog.OAuthFamily
	err := db.write(ctx, "delete refresh family", func(tx *Tx) error {
		var err error
		f, err = scanOAuthFamily(tx.QueryRow(ctx, "DELETE FROM oauth_families WHERE id = $1 RETURNING "+oauthFamilyColumns, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return doesNotExist("refresh family %s does not exist", id)
		}
		if err != nil {
			return err
		}
		return deleteOAuthTokens(ctx, tx, []string{f.TokenID})
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// DeleteOAuthGrantsOf ends every family and code of a principal.
func (db *DB) DeleteOAuthGrantsOf(ctx context.Context, principalID string) (int, error) {
	var n int
	err := db.write(ctx, "delete OAuth grants", func(tx *Tx) error {
		var err error
		n, err = endOAuthGrants(ctx, tx, principalID)
		return err
	})
	return n, err
}

// endOAuthGrants deletes a principal's families with their live access tokens, and its
// codes, in tx (DeleteOAuthGrantsOf, and UpdatePrincipal making a principal inactive).
func endOAuthGrants(ctx context.Context, tx *Tx, principalID string) (int, error) {
	ids, err := txStrings(ctx, tx, "DELETE FROM oauth_families WHERE principal_id = $1 RETURNING token_id", principalID)
	if err != nil {
		return 0, err
	}
	if err := deleteOAuthTokens(ctx, tx, ids); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM oauth_codes WHERE principal_id = $1", principalID); err != nil {
		return 0, err
	}
	return len(ids), nil
}
