package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ catalog.CredentialStore = (*DB)(nil)

const selectCredential = `SELECT connection_id, principal_id, access_token, refresh_token, access_expires_at,
	refresh_expires_at, scope, state, reason, authorized_by, last_refreshed_at, last_used_at, created_at, updated_at,
	version FROM oauth_credentials`

// The foreign keys of oauth_credentials (0002_state.sql), named in refusals.
const (
	fkCredentialConnection = "oauth_credentials_connection_fk"
	fkCredentialPrincipal  = "oauth_credentials_principal_fk"
)

// rowScanner is a pgx.Row or pgx.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanCredential(row rowScanner) (*catalog.OAuthCredential, error) {
	var c catalog.OAuthCredential
	var accessExp, refreshExp, refreshed, used, created, updated int64
	var state string
	// pgx copies bytea into new slices, so the caller owns the returned tokens.
	if err := row.Scan(&c.ConnectionID, &c.PrincipalID, &c.AccessToken, &c.RefreshToken, &accessExp, &refreshExp,
		&c.Scope, &state, &c.Reason, &c.AuthorizedBy, &refreshed, &used, &created, &updated, &c.Version); err != nil {
		return nil, err
	}
	c.State = catalog.CredentialState(state)
	// NULL reads back as nil; an empty value (written by another tool) means none too.
	if len(c.AccessToken) == 0 {
		c.AccessToken = nil
	}
	if len(c.RefreshToken) == 0 {
		c.RefreshToken = nil
	}
	c.AccessExpiresAt = fromUnixNanos(accessExp)
	c.RefreshExpiresAt = fromUnixNanos(refreshExp)
	c.LastRefreshedAt = fromUnixNanos(refreshed)
	c.LastUsedAt = fromUnixNanos(used)
	c.CreatedAt = fromUnixNanos(created)
	c.UpdatedAt = fromUnixNanos(updated)
	return &c, nil
}

// nullBytes returns b for a nullable bytea column: NULL when b is empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// GetCredential returns the credential of the connection for the principal ("" for the
// shared one).
func (db *DB) GetCredential(ctx context.Context, connectionID, principalID string) (*catalog.OAuthCredential, error) {
	c, err := scanCredential(db.pool.QueryRow(ctx, selectCredential+" WHERE connection_id = $1 AND principal_id = $2",
		connectionID, principalID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "%s does not exist", catalog.DescribeCredential(connectionID, principalID))
	}
	if err != nil {
		return nil, fmt.Errorf("get credential: %w", redact(err))
	}
	return c, nil
}

// PutCredential creates the credential (c.Version 0) or replaces every field of the
// stored one (c.Version equal to the stored version), and on success sets c.Version to
// the new version. Anything else, a create of an existing credential or a replace of
// one written (or deleted) since c was read, is RESOURCE_ALREADY_EXISTS: the caller
// re-reads and decides again. A create needs an existing connection and, for a per-user
// credential, an existing principal (the foreign keys check it, so a create racing a
// delete of either cannot leave a credential behind). Empty tokens are stored as none.
// LastUsedAt never moves backwards: touches do not change the version, so a writer
// that read before a touch must not undo it. It announces ChangeCredential with the
// connection ID.
func (db *DB) PutCredential(ctx context.Context, c *catalog.OAuthCredential) error {
	if err := catalog.CheckCredential(c); err != nil {
		return err
	}
	name := catalog.DescribeCredential(c.ConnectionID, c.PrincipalID)
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
		if ns[i], err = unixNanos(f.name, f.t); err != nil {
			return err
		}
	}
	version := c.Version
	err := db.inTx(ctx, func(tx *Tx) error {
		var tag pgconn.CommandTag
		var err error
		if version == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO oauth_credentials (connection_id, principal_id, access_token,
				refresh_token, access_expires_at, refresh_expires_at, scope, state, reason, authorized_by,
				last_refreshed_at, last_used_at, created_at, updated_at, version)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)
				ON CONFLICT (connection_id, principal_id) DO NOTHING`,
				c.ConnectionID, c.PrincipalID, nullBytes(c.AccessToken), nullBytes(c.RefreshToken), ns[0], ns[1],
				c.Scope, string(c.State), c.Reason, c.AuthorizedBy, ns[2], ns[3], ns[4], ns[5])
		} else {
			tag, err = tx.Exec(ctx, `UPDATE oauth_credentials SET access_token = $1, refresh_token = $2,
				access_expires_at = $3, refresh_expires_at = $4, scope = $5, state = $6, reason = $7, authorized_by = $8,
				last_refreshed_at = $9, last_used_at = GREATEST(last_used_at, $10), created_at = $11, updated_at = $12,
				version = version + 1
				WHERE connection_id = $13 AND principal_id = $14 AND version = $15`,
				nullBytes(c.AccessToken), nullBytes(c.RefreshToken), ns[0], ns[1], c.Scope, string(c.State), c.Reason,
				c.AuthorizedBy, ns[2], ns[3], ns[4], ns[5], c.ConnectionID, c.PrincipalID, version)
		}
		if err != nil {
			return credentialWriteError(err, c.ConnectionID, c.PrincipalID)
		}
		if tag.RowsAffected() == 0 {
			return catalog.Errorf(catalog.ResourceAlreadyExists, "%s was changed by someone else; read it again", name)
		}
		tx.Announce(catalog.ChangeCredential, c.ConnectionID)
		return nil
	})
	if err != nil {
		return err
	}
	c.Version = version + 1
	return nil
}

// credentialWriteError maps a foreign key violation to the missing owner; other errors
// are wrapped as they are (PostgreSQL's messages quote keys, never the tokens, which no
// constraint covers).
func credentialWriteError(err error, connectionID, principalID string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeForeignKeyViolation {
		switch pe.ConstraintName {
		case fkCredentialPrincipal:
			return catalog.Errorf(catalog.ResourceDoesNotExist, "principal %s does not exist", principalID)
		default:
			return catalog.Errorf(catalog.ResourceDoesNotExist, "connection with ID %s does not exist", connectionID)
		}
	}
	return fmt.Errorf("put credential: %w", redact(err))
}

// DeleteCredential removes the credential of the connection for the principal ("" for
// the shared one), announcing ChangeCredential.
func (db *DB) DeleteCredential(ctx context.Context, connectionID, principalID string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM oauth_credentials WHERE connection_id = $1 AND principal_id = $2",
			connectionID, principalID)
		if err != nil {
			return fmt.Errorf("delete credential: %w", redact(err))
		}
		if tag.RowsAffected() == 0 {
			return catalog.Errorf(catalog.ResourceDoesNotExist, "%s does not exist", catalog.DescribeCredential(connectionID, principalID))
		}
		tx.Announce(catalog.ChangeCredential, connectionID)
		return nil
	})
}

// ListCredentials lists the credentials of one connection, or of all when connectionID
// is "", ordered by connection ID then principal ID (the shared credential first). IDs
// compare byte by byte (COLLATE "C"), as in the SQLite store.
func (db *DB) ListCredentials(ctx context.Context, connectionID string) ([]*catalog.OAuthCredential, error) {
	var rows pgx.Rows
	var err error
	if connectionID == "" {
		rows, err = db.pool.Query(ctx, selectCredential+` ORDER BY connection_id COLLATE "C", principal_id COLLATE "C"`)
	} else {
		rows, err = db.pool.Query(ctx, selectCredential+` WHERE connection_id = $1 ORDER BY principal_id COLLATE "C"`, connectionID)
	}
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", redact(err))
	}
	defer rows.Close()
	var out []*catalog.OAuthCredential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials: %w", redact(err))
	}
	return out, nil
}

// TouchCredentials records last-used times in one statement. Keys are connection ID +
// "/" + principal ID (the first "/" separates them; "conn/" is the shared credential).
// Unknown keys and zero times are ignored, and a last-used time never moves backwards
// (batches from several replicas may arrive out of order). Neither Version nor
// UpdatedAt changes and no change is announced: nothing a cache keeps depends on it.
// Rows are updated in key order, so two replicas' batches cannot deadlock.
func (db *DB) TouchCredentials(ctx context.Context, lastUsed map[string]time.Time) error {
	keys := make([]string, 0, len(lastUsed))
	for k, t := range lastUsed {
		if strings.Contains(k, "/") && !t.IsZero() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	conns, principals, times := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		conns[i], principals[i], _ = strings.Cut(k, "/")
		ns, err := unixNanos("last_used_at", lastUsed[k])
		if err != nil {
			return err
		}
		times[i] = ns
	}
	return db.inTx(ctx, func(tx *Tx) error {
		// Lock the rows in key order first: UPDATE ... FROM may visit them in any order.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM oauth_credentials o
			JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(c, p, i) ON o.connection_id = u.c AND o.principal_id = u.p
			ORDER BY u.i FOR UPDATE OF o`, conns, principals); err != nil {
			return fmt.Errorf("touch credentials: %w", redact(err))
		}
		if _, err := tx.Exec(ctx, `UPDATE oauth_credentials o SET last_used_at = GREATEST(o.last_used_at, u.t)
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(c, p, t)
			WHERE o.connection_id = u.c AND o.principal_id = u.p`, conns, principals, times); err != nil {
			return fmt.Errorf("touch credentials: %w", redact(err))
		}
		return nil
	})
}
