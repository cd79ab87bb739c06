package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// connectionColumns are read from connections c joined with their secrets s: one row per
// secret (or one row with NULL secret columns), so that a connection and its secrets
// always come from the same snapshot in one statement.
const connectionColumns = `c.id, c.name, c.connection_type, c.credential_type, c.owner_id, c.comment, c.options,
	c.enabled, c.created_at, c.created_by, c.updated_at, c.updated_by, s.field, s.ciphertext`

const selectConnection = `SELECT ` + connectionColumns + `
	FROM connections c LEFT JOIN connection_secrets s ON s.connection_id = c.id`

// scanConnections reads the rows of a connectionColumns query, ordered so that the rows
// of one connection are adjacent, and closes them.
func scanConnections(rows pgx.Rows) ([]*catalog.Connection, error) {
	defer rows.Close()
	out := []*catalog.Connection{}
	var cur *catalog.Connection
	for rows.Next() {
		var c catalog.Connection
		var credType string
		var options []byte
		var created, updated int64
		var field *string
		var ciphertext []byte
		if err := rows.Scan(&c.ID, &c.Name, &c.ConnectionType, &credType, &c.OwnerID, &c.Comment, &options,
			&c.Enabled, &created, &c.CreatedBy, &updated, &c.UpdatedBy, &field, &ciphertext); err != nil {
			return nil, err
		}
		if cur == nil || cur.ID != c.ID {
			if err := json.Unmarshal(options, &c.Options); err != nil {
				return nil, fmt.Errorf("connection %s: decode options: %w", c.ID, err)
			}
			if c.Options == nil {
				c.Options = map[string]string{}
			}
			c.CredentialType = catalog.CredentialType(credType)
			c.Secrets = map[string][]byte{}
			c.CreatedAt = fromUnixNanos(created)
			c.UpdatedAt = fromUnixNanos(updated)
			cur = &c
			out = append(out, cur)
		}
		if field != nil {
			if ciphertext == nil {
				ciphertext = []byte{}
			}
			cur.Secrets[*field] = ciphertext
		}
	}
	return out, rows.Err()
}

// getConnection runs a selectConnection query expected to find at most one connection.
func (db *DB) getConnection(ctx context.Context, where string, key string) (*catalog.Connection, error) {
	rows, err := db.pool.Query(ctx, selectConnection+" WHERE "+where+" ORDER BY s.field", key)
	if err != nil {
		return nil, err
	}
	cs, err := scanConnections(rows)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return cs[0], nil
}

// GetConnection finds a connection by its name, compared bytewise as in the SQLite
// store (the layers above normalize names before they reach the store).
func (db *DB) GetConnection(ctx context.Context, name string) (*catalog.Connection, error) {
	c, err := db.getConnection(ctx, "c.name = $1", name)
	if err != nil {
		return nil, readErr("get connection", err)
	}
	if c == nil {
		return nil, doesNotExist("connection %s does not exist", name)
	}
	return c, nil
}

// GetConnectionByID finds a connection by ID.
func (db *DB) GetConnectionByID(ctx context.Context, id string) (*catalog.Connection, error) {
	c, err := db.getConnection(ctx, "c.id = $1", id)
	if err != nil {
		return nil, readErr("get connection", err)
	}
	if c == nil {
		return nil, doesNotExist("connection with ID %s does not exist", id)
	}
	return c, nil
}

// ListConnections returns up to limit connections with names greater than after,
// ordered by name. A limit of 0 or less means no limit.
func (db *DB) ListConnections(ctx context.Context, after string, limit int) ([]*catalog.Connection, error) {
	var lim *int64 // NULL: no limit
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := db.pool.Query(ctx, `SELECT `+connectionColumns+`
		FROM (SELECT * FROM connections WHERE name > $1 ORDER BY name LIMIT $2) c
		LEFT JOIN connection_secrets s ON s.connection_id = c.id
		ORDER BY c.name, s.field`, after, lim)
	if err != nil {
		return nil, readErr("list connections", err)
	}
	cs, err := scanConnections(rows)
	if err != nil {
		return nil, readErr("list connections", err)
	}
	return cs, nil
}

// connectionArgs checks c and returns the values written for it: options JSON,
// created_at and updated_at.
func connectionArgs(c *catalog.Connection) (options []byte, created, updated int64, err error) {
	if err := catalog.CheckConnection(c); err != nil {
		return nil, 0, 0, err
	}
	opts := c.Options
	if opts == nil {
		opts = map[string]string{}
	}
	if options, err = json.Marshal(opts); err != nil {
		return nil, 0, 0, fmt.Errorf("encode options: %w", err)
	}
	if created, err = unixNanos("created_at", c.CreatedAt); err != nil {
		return nil, 0, 0, err
	}
	if updated, err = unixNanos("updated_at", c.UpdatedAt); err != nil {
		return nil, 0, 0, err
	}
	return options, created, updated, nil
}

// checkOwner fails unless the owner of a connection is an existing principal.
func checkOwner(ctx context.Context, tx *Tx, ownerID string) error {
	ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", ownerID)
	if err != nil {
		return err
	}
	if !ok {
		return doesNotExist("principal %s does not exist", ownerID)
	}
	return nil
}

// insertSecrets writes the sealed secrets of connection id, as the bytes they are, in
// one statement.
func insertSecrets(ctx context.Context, tx *Tx, id string, secrets map[string][]byte) error {
	if len(secrets) == 0 {
		return nil
	}
	fields := make([]string, 0, len(secrets))
	for f := range secrets {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	cts := make([][]byte, len(fields))
	for i, f := range fields {
		if cts[i] = secrets[f]; cts[i] == nil {
			cts[i] = []byte{}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO connection_secrets (connection_id, field, ciphertext)
		SELECT $1, f, ct FROM unnest($2::text[], $3::bytea[]) AS u(f, ct)`, id, fields, cts); err != nil {
		return fmt.Errorf("store secrets: %w", err)
	}
	return nil
}

// CreateConnection stores c with its secrets. The name and ID must be new and the owner
// must exist.
func (db *DB) CreateConnection(ctx context.Context, c *catalog.Connection) error {
	options, created, updated, err := connectionArgs(c)
	if err != nil {
		return err
	}
	return db.write(ctx, "create connection", func(tx *Tx) error {
		var id string
		err := tx.QueryRow(ctx, "SELECT id FROM connections WHERE name = $1 OR id = $2 LIMIT 1", c.Name, c.ID).Scan(&id)
		switch {
		case err == nil && id == c.ID:
			return alreadyTaken("connection with ID %s already exists", c.ID)
		case err == nil:
			return alreadyTaken("connection %s already exists", c.Name)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if err := checkOwner(ctx, tx, c.OwnerID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO connections (id, name, connection_type, credential_type, owner_id, comment,
			options, enabled, created_at, created_by, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			c.ID, c.Name, c.ConnectionType, string(c.CredentialType), c.OwnerID, c.Comment,
			string(options), c.Enabled, created, c.CreatedBy, updated, c.UpdatedBy)
		switch {
		case isCode(err, codeUniqueViolation) && constraintOf(err) == "connections_pkey":
			return alreadyTaken("connection with ID %s already exists", c.ID)
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("connection %s already exists", c.Name)
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", c.OwnerID)
		case err != nil:
			return err
		}
		if err := insertSecrets(ctx, tx, c.ID, c.Secrets); err != nil {
			return err
		}
		tx.Announce(catalog.ChangeConnection, c.ID)
		return nil
	})
}

// SetConnectionOption sets the non-secret option key of the connection with id to
// value, in one transaction, only while every option in expect has the value given
// there ("" meaning unset); it reports whether it did. Nothing else changes: not the
// secrets, not the other options, not the update time or author. The credential
// broker uses it to store the exchange method a first login found without racing an
// admin's update.
func (db *DB) SetConnectionOption(ctx context.Context, id, key, value string, expect map[string]string) (bool, error) {
	if err := catalog.CheckPlainOption(key); err != nil {
		return false, err
	}
	set := false
	err := db.write(ctx, "set connection option", func(tx *Tx) error {
		set = false
		var raw []byte
		// FOR UPDATE: an admin's UpdateConnection waits, or has committed and is read.
		err := tx.QueryRow(ctx, "SELECT options FROM connections WHERE id = $1 FOR UPDATE", id).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		opts := map[string]string{}
		if err := json.Unmarshal(raw, &opts); err != nil {
			return fmt.Errorf("decode options: %w", err)
		}
		for k, v := range expect {
			if opts[k] != v {
				return nil
			}
		}
		opts[key] = value
		b, err := json.Marshal(opts)
		if err != nil {
			return fmt.Errorf("encode options: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE connections SET options = $1 WHERE id = $2", string(b), id); err != nil {
			return err
		}
		tx.Announce(catalog.ChangeConnection, id)
		set = true
		return nil
	})
	return set, err
}

// UpdateConnection replaces the connection with c.ID: name, types, owner, comment,
// options, enabled flag, update time and author, and the whole set of secrets (fields
// not in c.Secrets are deleted). The creation time and creator never change. Grants
// follow the ID, so a rename keeps them.
func (db *DB) UpdateConnection(ctx context.Context, c *catalog.Connection) error {
	options, _, updated, err := connectionArgs(c)
	if err != nil {
		return err
	}
	return db.write(ctx, "update connection", func(tx *Tx) error {
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM connections WHERE id = $1 FOR UPDATE", c.ID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("connection with ID %s does not exist", c.ID)
		}
		taken, err := rowExists(ctx, tx, "SELECT 1 FROM connections WHERE name = $1 AND id <> $2", c.Name, c.ID)
		if err != nil {
			return err
		}
		if taken {
			return alreadyTaken("connection %s already exists", c.Name)
		}
		if err := checkOwner(ctx, tx, c.OwnerID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE connections SET name = $1, connection_type = $2, credential_type = $3, owner_id = $4,
			comment = $5, options = $6, enabled = $7, updated_at = $8, updated_by = $9 WHERE id = $10`,
			c.Name, c.ConnectionType, string(c.CredentialType), c.OwnerID, c.Comment, string(options), c.Enabled,
			updated, c.UpdatedBy, c.ID)
		switch {
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("connection %s already exists", c.Name)
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", c.OwnerID)
		case err != nil:
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM connection_secrets WHERE connection_id = $1", c.ID); err != nil {
			return err
		}
		if err := insertSecrets(ctx, tx, c.ID, c.Secrets); err != nil {
			return err
		}
		tx.Announce(catalog.ChangeConnection, c.ID)
		return nil
	})
}

// DeleteConnection removes the connection, its secrets and its grants.
func (db *DB) DeleteConnection(ctx context.Context, id string) error {
	return db.write(ctx, "delete connection", func(tx *Tx) error {
		// The connection row first: its lock makes an UpdateGrants on it wait (see
		// there), so the grants deleted next are all there are.
		tag, err := tx.Exec(ctx, "DELETE FROM connections WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return doesNotExist("connection with ID %s does not exist", id)
		}
		// Secrets (and MCP tools, OAuth credentials) go by ON DELETE CASCADE.
		if _, err := tx.Exec(ctx, "DELETE FROM grants WHERE securable_type = $1 AND securable_id = $2",
			string(catalog.SecurableConnection), id); err != nil {
			return err
		}
		tx.Announce(catalog.ChangeConnection, id)
		tx.Announce(catalog.ChangeGrant, id)
		return nil
	})
}
