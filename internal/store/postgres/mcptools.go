package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

var _ catalog.MCPToolStore = (*DB)(nil)

const selectMCPTool = `SELECT connection_id, name, description, state, pin_hash, seen_hash, first_seen, last_seen,
	changed_at, approved_by, approved_at, version FROM mcp_tools`

func scanMCPTool(row pgx.Row) (*catalog.MCPTool, error) {
	var t catalog.MCPTool
	var state string
	var first, last, changed, approved int64
	if err := row.Scan(&t.ConnectionID, &t.Name, &t.Description, &state, &t.PinHash, &t.SeenHash, &first, &last,
		&changed, &t.ApprovedBy, &approved, &t.Version); err != nil {
		return nil, err
	}
	t.State = catalog.MCPToolState(state)
	t.FirstSeen, t.LastSeen, t.ChangedAt, t.ApprovedAt = fromUnixNanos(first), fromUnixNanos(last), fromUnixNanos(changed), fromUnixNanos(approved)
	return &t, nil
}

func scanMCPToolRows(rows pgx.Rows) (*catalog.MCPTool, error) { return scanMCPTool(rows) }

// ListMCPTools returns the tool records of the connection ordered by name.
func (db *DB) ListMCPTools(ctx context.Context, connectionID string) ([]*catalog.MCPTool, error) {
	return queryRows(ctx, db, "list mcp tools", scanMCPToolRows, selectMCPTool+" WHERE connection_id = $1 ORDER BY name", connectionID)
}

// GetMCPTool returns one tool record, or RESOURCE_DOES_NOT_EXIST.
func (db *DB) GetMCPTool(ctx context.Context, connectionID, name string) (*catalog.MCPTool, error) {
	t, err := scanMCPTool(db.pool.QueryRow(ctx, selectMCPTool+" WHERE connection_id = $1 AND name = $2", connectionID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("MCP tool %q of connection %s does not exist", bound.Truncate(name, 64), connectionID)
	}
	if err != nil {
		return nil, readErr("get mcp tool", err)
	}
	return t, nil
}

// PutMCPTools creates (Version 0) or replaces (Version = the stored one) the records in
// one transaction, all or none; see catalog.MCPToolStore.
func (db *DB) PutMCPTools(ctx context.Context, connectionID string, tools []*catalog.MCPTool) error {
	if len(tools) == 0 {
		return nil
	}
	if err := catalog.CheckMCPTools(connectionID, tools); err != nil {
		return err
	}
	type row struct {
		t  *catalog.MCPTool
		ns [4]int64
	}
	rows := make([]row, len(tools))
	for i, t := range tools {
		rows[i].t = t
		for j, f := range []struct {
			name string
			at   time.Time
		}{{"first_seen", t.FirstSeen}, {"last_seen", t.LastSeen}, {"changed_at", t.ChangedAt}, {"approved_at", t.ApprovedAt}} {
			var err error
			if rows[i].ns[j], err = unixNanos(f.name, f.at); err != nil {
				return err
			}
		}
	}
	err := db.write(ctx, "put mcp tools", func(tx *Tx) error {
		// FOR SHARE: a DeleteConnection at the same moment waits or has committed.
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM connections WHERE id = $1 FOR SHARE", connectionID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("connection with ID %s does not exist", connectionID)
		}
		for _, r := range rows {
			t := r.t
			var n int64
			if t.Version == 0 {
				tag, err := tx.Exec(ctx, `INSERT INTO mcp_tools (connection_id, name, description, state, pin_hash,
					seen_hash, first_seen, last_seen, changed_at, approved_by, approved_at, version)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) ON CONFLICT (connection_id, name) DO NOTHING`,
					connectionID, t.Name, t.Description, string(t.State), t.PinHash, t.SeenHash, r.ns[0], r.ns[1], r.ns[2], t.ApprovedBy, r.ns[3])
				if err != nil {
					return err
				}
				n = tag.RowsAffected()
			} else {
				tag, err := tx.Exec(ctx, `UPDATE mcp_tools SET description = $1, state = $2, pin_hash = $3, seen_hash = $4,
					first_seen = $5, last_seen = $6, changed_at = $7, approved_by = $8, approved_at = $9, version = version + 1
					WHERE connection_id = $10 AND name = $11 AND version = $12`,
					t.Description, string(t.State), t.PinHash, t.SeenHash, r.ns[0], r.ns[1], r.ns[2], t.ApprovedBy, r.ns[3],
					connectionID, t.Name, t.Version)
				if err != nil {
					return err
				}
				n = tag.RowsAffected()
			}
			if n == 0 {
				return alreadyTaken("MCP tool %q of connection %s was changed by someone else; read it again", bound.Truncate(t.Name, 64), connectionID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		r.t.Version++
	}
	return nil
}

// ApproveMCPTools pins the named tools at their last seen definition, all or none; see
// catalog.MCPToolStore.
func (db *DB) ApproveMCPTools(ctx context.Context, connectionID string, names []string, by string, at time.Time) ([]*catalog.MCPTool, error) {
	ns, err := unixNanos("approved_at", at)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, "approve mcp tools", func(tx *Tx) error {
		for _, name := range names {
			ok, err := rowExists(ctx, tx, "SELECT 1 FROM mcp_tools WHERE connection_id = $1 AND name = $2", connectionID, name)
			if err != nil {
				return err
			}
			if !ok {
				return doesNotExist("MCP tool %q of connection %s does not exist", bound.Truncate(name, 64), connectionID)
			}
			if _, err := tx.Exec(ctx, `UPDATE mcp_tools SET pin_hash = seen_hash, state = $1, approved_by = $2,
				approved_at = $3, version = version + 1 WHERE connection_id = $4 AND name = $5 AND state <> $1`,
				string(catalog.MCPToolPinned), by, ns, connectionID, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.ListMCPTools(ctx, connectionID)
}

// DeleteMCPTools removes every tool record of the connection.
func (db *DB) DeleteMCPTools(ctx context.Context, connectionID string) (int, error) {
	var n int64
	err := db.write(ctx, "delete mcp tools", func(tx *Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM mcp_tools WHERE connection_id = $1", connectionID)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
