package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

const selectGrantsOn = `SELECT principal_id, privilege FROM grants
	WHERE securable_type = ? AND securable_id = ? ORDER BY principal_id, privilege`

// ListGrants returns the grants on one securable, ordered by principal ID and privilege.
func (db *DB) ListGrants(ctx context.Context, t catalog.SecurableType, securableID string) ([]catalog.Grant, error) {
	rows, err := db.grantsOn.QueryContext(ctx, string(t), securableID)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	defer rows.Close()
	out := []catalog.Grant{}
	for rows.Next() {
		g := catalog.Grant{SecurableType: t, SecurableID: securableID}
		if err := rows.Scan(&g.PrincipalID, &g.Privilege); err != nil {
			return nil, fmt.Errorf("list grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return out, nil
}

// ListGrantsOf returns the grants held directly by any of the principals, ordered by
// securable type, securable ID, principal ID and privilege.
func (db *DB) ListGrantsOf(ctx context.Context, principalIDs []string) ([]catalog.Grant, error) {
	out := []catalog.Grant{}
	if len(principalIDs) == 0 {
		return out, nil
	}
	// One parameter however many principals: the statement text stays the same (the
	// driver can reuse it) and no limit on bound variables applies.
	ids, err := json.Marshal(principalIDs)
	if err != nil {
		return nil, fmt.Errorf("list grants of: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT securable_type, securable_id, principal_id, privilege FROM grants
		WHERE principal_id IN (SELECT value FROM json_each(?))
		ORDER BY securable_type, securable_id, principal_id, privilege`, string(ids))
	if err != nil {
		return nil, fmt.Errorf("list grants of: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g catalog.Grant
		if err := rows.Scan(&g.SecurableType, &g.SecurableID, &g.PrincipalID, &g.Privilege); err != nil {
			return nil, fmt.Errorf("list grants of: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list grants of: %w", err)
	}
	return out, nil
}

// UpdateGrants applies removals then additions on one securable in one transaction.
// Adding a grant that exists or removing one that does not is not an error. The
// securable must exist (a connection, or the metastore), every added privilege must be
// valid on its type and every grantee must exist. The SecurableType and SecurableID of
// the grants in add and remove may be left empty; when set they must match t and
// securableID.
func (db *DB) UpdateGrants(ctx context.Context, t catalog.SecurableType, securableID string, add, remove []catalog.Grant) error {
	if err := catalog.CheckGrantUpdate(t, securableID, add, remove); err != nil {
		return err
	}
	return db.update(ctx, "update grants", func(tx *txn) error {
		switch t {
		case catalog.SecurableConnection:
			// Checked in the transaction, so that a grant cannot outlive a connection
			// deleted at the same moment.
			ok, err := exists(ctx, tx, "SELECT 1 FROM connections WHERE id = ?", securableID)
			if err != nil {
				return err
			}
			if !ok {
				return notExist("connection with ID %s does not exist", securableID)
			}
		case catalog.SecurableMetastore:
			if securableID != catalog.MetastoreID {
				return notExist("metastore %s does not exist", securableID)
			}
		}
		changed := false
		for _, g := range remove {
			res, err := tx.ExecContext(ctx, `DELETE FROM grants
				WHERE securable_type = ? AND securable_id = ? AND principal_id = ? AND privilege = ?`,
				string(t), securableID, g.PrincipalID, string(g.Privilege))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				changed = true
			}
		}
		for _, g := range add {
			var one int
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM principals WHERE id = ?", g.PrincipalID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notExist("principal %s does not exist", g.PrincipalID)
			}
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO grants (securable_type, securable_id, principal_id, privilege)
				VALUES (?, ?, ?, ?)`, string(t), securableID, g.PrincipalID, string(g.Privilege))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				changed = true
			}
		}
		if changed {
			tx.emit(catalog.ChangeGrant, securableID)
		}
		return nil
	})
}
