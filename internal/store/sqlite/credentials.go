package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

var _ catalog.CredentialStore = (*DB)(nil)

const selectCredential = `SELECT connection_id, principal_id, access_token, refresh_token, access_expires_at,
	refresh_expires_at, scope, state, reason, authorized_by, last_refreshed_at, last_used_at, created_at, updated_at,
	version FROM oauth_credentials`

// credentialByKey is GetCredential's query, on the path of every OAuth call. It is
// meant to be prepared once on the read pool with the other hot statements in DB.open
// (sqlite.go); until then GetCredential runs it unprepared.
const credentialByKey = selectCredential + " WHERE connection_id = ? AND principal_id = ?"

func scanCredential(row scanner) (*catalog.OAuthCredential, error) {
	var c catalog.OAuthCredential
	var accessExp, refreshExp, refreshed, used, created, updated int64
	// Scanning into a []byte copies, so the caller owns the returned tokens.
	if err := row.Scan(&c.ConnectionID, &c.PrincipalID, &c.AccessToken, &c.RefreshToken, &accessExp, &refreshExp,
		&c.Scope, &c.State, &c.Reason, &c.AuthorizedBy, &refreshed, &used, &created, &updated, &c.Version); err != nil {
		return nil, err
	}
	// NULL reads back as nil; an empty blob (written by another tool) means none too.
	if len(c.AccessToken) == 0 {
		c.AccessToken = nil
	}
	if len(c.RefreshToken) == 0 {
		c.RefreshToken = nil
	}
	c.AccessExpiresAt = fromNanos(accessExp)
	c.RefreshExpiresAt = fromNanos(refreshExp)
	c.LastRefreshedAt = fromNanos(refreshed)
	c.LastUsedAt = fromNanos(used)
	c.CreatedAt = fromNanos(created)
	c.UpdatedAt = fromNanos(updated)
	return &c, nil
}

// blob returns b for a nullable BLOB column: NULL when b is empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// checkCredentialOwners fails unless the connection and (for a per-user credential) the
// principal of a new credential exist.
func checkCredentialOwners(ctx context.Context, tx *txn, connectionID, principalID string) error {
	ok, err := exists(ctx, tx, "SELECT 1 FROM connections WHERE id = ?", connectionID)
	if err != nil {
		return err
	}
	if !ok {
		return notExist("connection with ID %s does not exist", connectionID)
	}
	if principalID == "" {
		return nil
	}
	ok, err = exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", principalID)
	if err != nil {
		return err
	}
	if !ok {
		return notExist("principal %s does not exist", principalID)
	}
	return nil
}

// GetCredential returns the credential of the connection for the principal ("" for the
// shared one). It runs on every call through an OAuth connection whose token is not
// cached.
func (db *DB) GetCredential(ctx context.Context, connectionID, principalID string) (*catalog.OAuthCredential, error) {
	c, err := scanCredential(db.credentialByKeyStmt.QueryRowContext(ctx, connectionID, principalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("%s does not exist", catalog.DescribeCredential(connectionID, principalID))
	}
	if err != nil {
		return nil, fmt.Errorf("get credential: %w", err)
	}
	return c, nil
}

// PutCredential creates the credential (c.Version 0) or replaces every field of the
// stored one (c.Version equal to the stored version), and on success sets c.Version to
// the new version. Anything else, a create of an existing credential or a replace of
// one written (or deleted) since c was read, is RESOURCE_ALREADY_EXISTS: the caller
// re-reads and decides again. A create needs an existing connection and, for a per-user
// credential, an existing principal, so that a write racing DeletePrincipal cannot
// leave a credential nobody can delete. Empty tokens are stored as none (nil). The one
// field not simply replaced is LastUsedAt, which never moves backwards: touches do not
// change the version, so a writer that read before a touch must not undo it.
func (db *DB) PutCredential(ctx context.Context, c *catalog.OAuthCredential) error {
	if err := catalog.CheckCredential(c); err != nil {
		return err
	}
	var ns [6]int64
	for i, f := range []struct {
		name string
		t    time.Time
	}{
		{"access_expires_at", c.AccessExpiresAt}, {"refresh_expires_at", c.RefreshExpiresAt},
		{"last_refreshed_at", c.LastRefreshedAt}, {"last_used_at", c.LastUsedAt},
		{"created_at", c.CreatedAt}, {"updated_at", c.UpdatedAt},
	} {
		var err error
		if ns[i], err = nanos(f.name, f.t); err != nil {
			return err
		}
	}
	version := c.Version
	name := catalog.DescribeCredential(c.ConnectionID, c.PrincipalID)
	err := db.update(ctx, "put credential", func(tx *txn) error {
		var res sql.Result
		var err error
		if version == 0 {
			if err := checkCredentialOwners(ctx, tx, c.ConnectionID, c.PrincipalID); err != nil {
				return err
			}
			res, err = tx.ExecContext(ctx, `INSERT INTO oauth_credentials (connection_id, principal_id, access_token,
				refresh_token, access_expires_at, refresh_expires_at, scope, state, reason, authorized_by,
				last_refreshed_at, last_used_at, created_at, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
				ON CONFLICT (connection_id, principal_id) DO NOTHING`,
				c.ConnectionID, c.PrincipalID, blob(c.AccessToken), blob(c.RefreshToken), ns[0], ns[1],
				c.Scope, string(c.State), c.Reason, c.AuthorizedBy, ns[2], ns[3], ns[4], ns[5])
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE oauth_credentials SET access_token = ?, refresh_token = ?,
				access_expires_at = ?, refresh_expires_at = ?, scope = ?, state = ?, reason = ?, authorized_by = ?,
				last_refreshed_at = ?, last_used_at = max(last_used_at, ?), created_at = ?, updated_at = ?, version = version + 1
				WHERE connection_id = ? AND principal_id = ? AND version = ?`,
				blob(c.AccessToken), blob(c.RefreshToken), ns[0], ns[1], c.Scope, string(c.State), c.Reason,
				c.AuthorizedBy, ns[2], ns[3], ns[4], ns[5], c.ConnectionID, c.PrincipalID, version)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return alreadyExists("%s was changed by someone else; read it again", name)
		}
		tx.emit(catalog.ChangeCredential, c.ConnectionID)
		return nil
	})
	if err != nil {
		return err
	}
	c.Version = version + 1
	return nil
}

// DeleteCredential removes the credential of the connection for the principal ("" for
// the shared one).
func (db *DB) DeleteCredential(ctx context.Context, connectionID, principalID string) error {
	return db.update(ctx, "delete credential", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM oauth_credentials WHERE connection_id = ? AND principal_id = ?",
			connectionID, principalID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return notExist("%s does not exist", catalog.DescribeCredential(connectionID, principalID))
		}
		tx.emit(catalog.ChangeCredential, connectionID)
		return nil
	})
}

// ListCredentials lists the credentials of one connection, or of all when connectionID
// is "", ordered by connection ID then principal ID (the shared credential first).
func (db *DB) ListCredentials(ctx context.Context, connectionID string) ([]*catalog.OAuthCredential, error) {
	if connectionID == "" {
		return queryAll(ctx, db.r, "list credentials", scanCredential, selectCredential+" ORDER BY connection_id, principal_id")
	}
	return queryAll(ctx, db.r, "list credentials", scanCredential, selectCredential+" WHERE connection_id = ? ORDER BY principal_id", connectionID)
}

// TouchCredentials records last-used times in one write. Keys are connection ID + "/" +
// principal ID (the first "/" separates them; "conn/" is the shared credential).
// Unknown keys and zero times are ignored, and a last-used time never moves backwards
// (batches from several replicas may arrive out of order). Neither Version nor
// UpdatedAt changes, so a touch never makes a concurrent PutCredential fail, and no
// change is announced: nothing that a cache keeps depends on it.
func (db *DB) TouchCredentials(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return db.update(ctx, "touch credentials", func(tx *txn) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE oauth_credentials SET last_used_at = max(last_used_at, ?)
			WHERE connection_id = ? AND principal_id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for key, t := range lastUsed {
			connectionID, principalID, ok := strings.Cut(key, "/")
			if !ok {
				continue
			}
			ns, err := nanos("last_used_at", t)
			if err != nil {
				return err
			}
			if ns == 0 {
				continue
			}
			if _, err := stmt.ExecContext(ctx, ns, connectionID, principalID); err != nil {
				return err
			}
		}
		return nil
	})
}
