package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// ListGrants returns the grants on one securable, ordered by principal ID and
// privilege, in one statement.
func (db *DB) ListGrants(ctx context.Context, t catalog.SecurableType, securableID string) ([]catalog.Grant, error) {
	return queryRows(ctx, db, "list grants", func(r pgx.Rows) (catalog.Grant, error) {
		g := catalog.Grant{SecurableType: t, SecurableID: securableID}
		var priv string
		err := r.Scan(&g.PrincipalID, &priv)
		g.Privilege = catalog.Privilege(priv)
		return g, err
	}, `SELECT principal_id, privilege FROM grants
		WHERE securable_type = $1 AND securable_id = $2 ORDER BY principal_id, privilege`, string(t), securableID)
}

// ListGrantsOf returns the grants held directly by any of the principals, ordered by
// securable type, securable ID, principal ID and privilege.
func (db *DB) ListGrantsOf(ctx context.Context, principalIDs []string) ([]catalog.Grant, error) {
	if len(principalIDs) == 0 {
		return []catalog.Grant{}, nil
	}
	// One array parameter however many principals: the statement text stays the same.
	return queryRows(ctx, db, "list grants of", func(r pgx.Rows) (catalog.Grant, error) {
		var g catalog.Grant
		var typ, priv string
		err := r.Scan(&typ, &g.SecurableID, &g.PrincipalID, &priv)
		g.SecurableType, g.Privilege = catalog.SecurableType(typ), catalog.Privilege(priv)
		return g, err
	}, `SELECT securable_type, securable_id, principal_id, privilege FROM grants
		WHERE principal_id = ANY ($1::text[])
		ORDER BY securable_type, securable_id, principal_id, privilege`, principalIDs)
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
	return db.write(ctx, "update grants", func(tx *Tx) error {
		switch t {
		case catalog.SecurableConnection:
			// FOR SHARE holds the connection until commit: a DeleteConnection at the
			// same moment waits (and then deletes these grants) or has committed (and
			// this finds no row), so no grant outlives its connection.
			ok, err := rowExists(ctx, tx, "SELECT 1 FROM connections WHERE id = $1 FOR SHARE", securableID)
			if err != nil {
				return err
			}
			if !ok {
				return doesNotExist("connection with ID %s does not exist", securableID)
			}
		case catalog.SecurableMetastore:
			if securableID != catalog.MetastoreID {
				return doesNotExist("metastore %s does not exist", securableID)
			}
		}
		changed := false
		for _, g := range remove {
			tag, err := tx.Exec(ctx, `DELETE FROM grants
				WHERE securable_type = $1 AND securable_id = $2 AND principal_id = $3 AND privilege = $4`,
				string(t), securableID, g.PrincipalID, string(g.Privilege))
			if err != nil {
				return err
			}
			changed = changed || tag.RowsAffected() > 0
		}
		for _, g := range add {
			ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", g.PrincipalID)
			if err != nil {
				return err
			}
			if !ok {
				return doesNotExist("principal %s does not exist", g.PrincipalID)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO grants (securable_type, securable_id, principal_id, privilege)
				VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, string(t), securableID, g.PrincipalID, string(g.Privilege))
			if isCode(err, codeForeignKeyViolation) {
				return doesNotExist("principal %s does not exist", g.PrincipalID)
			}
			if err != nil {
				return err
			}
			changed = changed || tag.RowsAffected() > 0
		}
		if changed {
			tx.Announce(catalog.ChangeGrant, securableID)
		}
		return nil
	})
}
