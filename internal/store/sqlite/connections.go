package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// selectConnection reads connections joined with their secrets: one row per secret (or
// one row with NULL secret columns), so that a connection and its secrets always come
// from the same snapshot in one statement. The caller appends WHERE and ORDER BY.
const selectConnection = `SELECT c.id, c.name, c.connection_type, c.credential_type, c.owner_id, c.comment, c.options,
	c.enabled, c.created_at, c.created_by, c.updated_at, c.updated_by, s.field, s.ciphertext
	FROM connections c LEFT JOIN connection_secrets s ON s.connection_id = c.id`

// scanConnections reads the rows of a selectConnection query, ordered so that the rows
// of one connection are adjacent.
func scanConnections(rows *sql.Rows) ([]*catalog.Connection, error) {
	out := []*catalog.Connection{}
	var cur *catalog.Connection
	for rows.Next() {
		var c catalog.Connection
		var options string
		var created, updated int64
		var field sql.NullString
		var ciphertext []byte
		if err := rows.Scan(&c.ID, &c.Name, &c.ConnectionType, &c.CredentialType, &c.OwnerID, &c.Comment, &options,
			&c.Enabled, &created, &c.CreatedBy, &updated, &c.UpdatedBy, &field, &ciphertext); err != nil {
			return nil, err
		}
		if cur == nil || cur.ID != c.ID {
			if err := json.Unmarshal([]byte(options), &c.Options); err != nil {
				return nil, fmt.Errorf("connection %s: decode options: %w", c.ID, err)
			}
			if c.Options == nil {
				c.Options = map[string]string{}
			}
			c.Secrets = map[string][]byte{}
			c.CreatedAt = fromNanos(created)
			c.UpdatedAt = fromNanos(updated)
			cur = &c
			out = append(out, cur)
		}
		if field.Valid {
			if ciphertext == nil {
				ciphertext = []byte{}
			}
			cur.Secrets[field.String] = ciphertext
		}
	}
	return out, rows.Err()
}

// getConnection runs a prepared selectConnection query expected to find one connection.
func getConnection(ctx context.Context, stmt *sql.Stmt, key string) (*catalog.Connection, error) {
	rows, err := stmt.QueryContext(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cs, err := scanConnections(rows)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return cs[0], nil
}

// GetConnection finds a connection by its (normalized) name.
func (db *DB) GetConnection(ctx context.Context, name string) (*catalog.Connection, error) {
	c, err := getConnection(ctx, db.connectionByName, name)
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	if c == nil {
		return nil, notExist("connection %s does not exist", name)
	}
	return c, nil
}

// GetConnectionByID finds a connection by ID.
func (db *DB) GetConnectionByID(ctx context.Context, id string) (*catalog.Connection, error) {
	c, err := getConnection(ctx, db.connectionByID, id)
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	if c == nil {
		return nil, notExist("connection with ID %s does not exist", id)
	}
	return c, nil
}

// ListConnections returns up to limit connections with names greater than after,
// ordered by name. A limit of 0 or less means no limit.
func (db *DB) ListConnections(ctx context.Context, after string, limit int) ([]*catalog.Connection, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.r.QueryContext(ctx, `SELECT c.id, c.name, c.connection_type, c.credential_type, c.owner_id, c.comment, c.options,
		c.enabled, c.created_at, c.created_by, c.updated_at, c.updated_by, s.field, s.ciphertext
		FROM (SELECT * FROM connections WHERE name > ? ORDER BY name LIMIT ?) c
		LEFT JOIN connection_secrets s ON s.connection_id = c.id
		ORDER BY c.name, s.field`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	cs, err := scanConnections(rows)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return cs, nil
}

// connectionArgs checks c and returns the values written for it: options JSON,
// created_at and updated_at.
func connectionArgs(c *catalog.Connection) (options string, created, updated int64, err error) {
	if err := catalog.CheckConnection(c); err != nil {
		return "", 0, 0, err
	}
	opts := c.Options
	if opts == nil {
		opts = map[string]string{}
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return "", 0, 0, fmt.Errorf("encode options: %w", err)
	}
	if created, err = nanos("created_at", c.CreatedAt); err != nil {
		return "", 0, 0, err
	}
	if updated, err = nanos("updated_at", c.UpdatedAt); err != nil {
		return "", 0, 0, err
	}
	return string(b), created, updated, nil
}

// checkOwner fails unless the owner of a connection is an existing principal.
func checkOwner(ctx context.Context, tx *txn, ownerID string) error {
	ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", ownerID)
	if err != nil {
		return err
	}
	if !ok {
		return notExist("principal %s does not exist", ownerID)
	}
	return nil
}

// insertSecrets writes the secrets of connection id.
func insertSecrets(ctx context.Context, tx *txn, id string, secrets map[string][]byte) error {
	if len(secrets) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO connection_secrets (connection_id, field, ciphertext) VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for field, ct := range secrets {
		if ct == nil {
			ct = []byte{}
		}
		if _, err := stmt.ExecContext(ctx, id, field, ct); err != nil {
			return fmt.Errorf("store secret %s: %w", field, err)
		}
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
	return db.update(ctx, "create connection", func(tx *txn) error {
		var id string
		err := tx.QueryRowContext(ctx, "SELECT id FROM connections WHERE name = ? OR id = ? LIMIT 1", c.Name, c.ID).Scan(&id)
		switch {
		case err == nil && id == c.ID:
			return alreadyExists("connection with ID %s already exists", c.ID)
		case err == nil:
			return alreadyExists("connection %s already exists", c.Name)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if err := checkOwner(ctx, tx, c.OwnerID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO connections (id, name, connection_type, credential_type, owner_id, comment,
			options, enabled, created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.ConnectionType, string(c.CredentialType), c.OwnerID, c.Comment,
			options, c.Enabled, created, c.CreatedBy, updated, c.UpdatedBy)
		if isUnique(err) {
			return alreadyExists("connection %s already exists", c.Name)
		}
		if err != nil {
			return err
		}
		if err := insertSecrets(ctx, tx, c.ID, c.Secrets); err != nil {
			return err
		}
		tx.emit(catalog.ChangeConnection, c.ID)
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
	err := db.update(ctx, "set connection option", func(tx *txn) error {
		var raw string
		err := tx.QueryRowContext(ctx, "SELECT options FROM connections WHERE id = ?", id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		opts := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &opts); err != nil {
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
		if _, err := tx.ExecContext(ctx, "UPDATE connections SET options = ? WHERE id = ?", string(b), id); err != nil {
			return err
		}
		tx.emit(catalog.ChangeConnection, id)
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
	return db.update(ctx, "update connection", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM connections WHERE id = ?", c.ID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("connection with ID %s does not exist", c.ID)
		}
		taken, err := exists(ctx, tx, "SELECT 1 FROM connections WHERE name = ? AND id <> ?", c.Name, c.ID)
		if err != nil {
			return err
		}
		if taken {
			return alreadyExists("connection %s already exists", c.Name)
		}
		if err := checkOwner(ctx, tx, c.OwnerID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE connections SET name = ?, connection_type = ?, credential_type = ?, owner_id = ?,
			comment = ?, options = ?, enabled = ?, updated_at = ?, updated_by = ? WHERE id = ?`,
			c.Name, c.ConnectionType, string(c.CredentialType), c.OwnerID, c.Comment, options, c.Enabled,
			updated, c.UpdatedBy, c.ID)
		if isUnique(err) {
			return alreadyExists("connection %s already exists", c.Name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM connection_secrets WHERE connection_id = ?", c.ID); err != nil {
			return err
		}
		if err := insertSecrets(ctx, tx, c.ID, c.Secrets); err != nil {
			return err
		}
		tx.emit(catalog.ChangeConnection, c.ID)
		return nil
	})
}

// DeleteConnection removes the connection, its secrets and its grants.
func (db *DB) DeleteConnection(ctx context.Context, id string) error {
	return db.update(ctx, "delete connection", func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE securable_type = ? AND securable_id = ?",
			string(catalog.SecurableConnection), id); err != nil {
			return err
		}
		// Secrets go by ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, "DELETE FROM connections WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return notExist("connection with ID %s does not exist", id) // rolls back the grant delete
		}
		tx.emit(catalog.ChangeConnection, id)
		tx.emit(catalog.ChangeGrant, id)
		return nil
	})
}
