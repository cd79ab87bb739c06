package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

var _ catalog.MCPToolStore = (*DB)(nil)

const selectMCPTool = `SELECT connection_id, name, description, state, pin_hash, seen_hash, first_seen, last_seen,
	changed_at, approved_by, approved_at, version FROM mcp_tools`

func scanMCPTool(row scanner) (*catalog.MCPTool, error) {
	var t catalog.MCPTool
	var first, last, changed, approved int64
	if err := row.Scan(&t.ConnectionID, &t.Name, &t.Description, &t.State, &t.PinHash, &t.SeenHash, &first, &last,
		&changed, &t.ApprovedBy, &approved, &t.Version); err != nil {
		return nil, err
	}
	t.FirstSeen, t.LastSeen, t.ChangedAt, t.ApprovedAt = fromNanos(first), fromNanos(last), fromNanos(changed), fromNanos(approved)
	return &t, nil
}

// ListMCPTools returns the tool records of the connection ordered by name.
func (db *DB) ListMCPTools(ctx context.Context, connectionID string) ([]*catalog.MCPTool, error) {
	return queryAll(ctx, db.r, "list mcp tools", scanMCPTool, selectMCPTool+" WHERE connection_id = ? ORDER BY name", connectionID)
}

// GetMCPTool returns one tool record, or RESOURCE_DOES_NOT_EXIST.
func (db *DB) GetMCPTool(ctx context.Context, connectionID, name string) (*catalog.MCPTool, error) {
	t, err := scanMCPTool(db.r.QueryRowContext(ctx, selectMCPTool+" WHERE connection_id = ? AND name = ?", connectionID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("MCP tool %q of connection %s does not exist", bound.Truncate(name, 64), connectionID)
	}
	if err != nil {
		return nil, fmt.Errorf("get mcp tool: %w", err)
	}
	return t, nil
}

// PutMCPTools creates (Version 0) or replaces (Version = the stored one) the records in
// one transaction; see catalog.MCPToolStore.
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
			if rows[i].ns[j], err = nanos(f.name, f.at); err != nil {
				return err
			}
		}
	}
	err := db.update(ctx, "put mcp tools", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM connections WHERE id = ?", connectionID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("connection with ID %s does not exist", connectionID)
		}
		for _, r := range rows {
			t := r.t
			var res sql.Result
			if t.Version == 0 {
				res, err = tx.ExecContext(ctx, `INSERT INTO mcp_tools (connection_id, name, description, state, pin_hash,
					seen_hash, first_seen, last_seen, changed_at, approved_by, approved_at, version)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (connection_id, name) DO NOTHING`,
					connectionID, t.Name, t.Description, string(t.State), t.PinHash, t.SeenHash, r.ns[0], r.ns[1], r.ns[2], t.ApprovedBy, r.ns[3])
			} else {
				res, err = tx.ExecContext(ctx, `UPDATE mcp_tools SET description = ?, state = ?, pin_hash = ?, seen_hash = ?,
					first_seen = ?, last_seen = ?, changed_at = ?, approved_by = ?, approved_at = ?, version = version + 1
					WHERE connection_id = ? AND name = ? AND version = ?`,
					t.Description, string(t.State), t.PinHash, t.SeenHash, r.ns[0], r.ns[1], r.ns[2], t.ApprovedBy, r.ns[3],
					connectionID, t.Name, t.Version)
			}
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				return alreadyExists("MCP tool %q of connection %s was changed by someone else; read it again", bound.Truncate(t.Name, 64), connectionID)
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
	ns, err := nanos("approved_at", at)
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, "approve mcp tools", func(tx *txn) error {
		for _, name := range names {
			ok, err := exists(ctx, tx, "SELECT 1 FROM mcp_tools WHERE connection_id = ? AND name = ?", connectionID, name)
			if err != nil {
				return err
			}
			if !ok {
				return notExist("MCP tool %q of connection %s does not exist", bound.Truncate(name, 64), connectionID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE mcp_tools SET pin_hash = seen_hash, state = ?, approved_by = ?,
				approved_at = ?, version = version + 1 WHERE connection_id = ? AND name = ? AND state <> ?`,
				string(catalog.MCPToolPinned), by, ns, connectionID, name, string(catalog.MCPToolPinned)); err != nil {
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
	err := db.update(ctx, "delete mcp tools", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM mcp_tools WHERE connection_id = ?", connectionID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
