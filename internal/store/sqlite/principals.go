package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

const selectPrincipal = `SELECT id, kind, name, display_name, active, external_id, created_at, updated_at FROM principals`

func scanPrincipal(row scanner) (*catalog.Principal, error) {
	var p catalog.Principal
	var created, updated int64
	if err := row.Scan(&p.ID, &p.Kind, &p.Name, &p.DisplayName, &p.Active, &p.ExternalID, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt = fromNanos(created)
	p.UpdatedAt = fromNanos(updated)
	return &p, nil
}

// CreatePrincipal stores p. Its name must not be taken by any principal of any kind,
// compared without regard to (ASCII) case.
func (db *DB) CreatePrincipal(ctx context.Context, p *catalog.Principal) error {
	if err := catalog.CheckPrincipal(p); err != nil {
		return err
	}
	created, err := nanos("created_at", p.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := nanos("updated_at", p.UpdatedAt)
	if err != nil {
		return err
	}
	return db.update(ctx, "create principal", func(tx *txn) error {
		var id string
		err := tx.QueryRowContext(ctx, "SELECT id FROM principals WHERE id = ? OR name = ? LIMIT 1", p.ID, p.Name).Scan(&id)
		switch {
		case err == nil && id == p.ID:
			return alreadyExists("principal %s already exists", p.ID)
		case err == nil:
			return alreadyExists("a principal named %s already exists", p.Name)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO principals (id, kind, name, display_name, active, external_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, string(p.Kind), p.Name, p.DisplayName, p.Active, p.ExternalID, created, updated)
		if isUnique(err) {
			return alreadyExists("a principal named %s already exists", p.Name)
		}
		if err != nil {
			return err
		}
		tx.emit(catalog.ChangePrincipal, p.ID)
		return nil
	})
}

// GetPrincipal finds a principal by ID.
func (db *DB) GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error) {
	p, err := scanPrincipal(db.principalByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("principal %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get principal: %w", err)
	}
	return p, nil
}

// GetPrincipalByName finds a principal by name, without regard to (ASCII) case.
func (db *DB) GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error) {
	p, err := scanPrincipal(db.r.QueryRowContext(ctx, selectPrincipal+" WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("principal %s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get principal by name: %w", err)
	}
	return p, nil
}

// ListPrincipals lists the principals of one kind, or all when kind is "", ordered by
// name without regard to case.
func (db *DB) ListPrincipals(ctx context.Context, kind catalog.PrincipalKind) ([]*catalog.Principal, error) {
	if kind == "" {
		return queryAll(ctx, db.r, "list principals", scanPrincipal, selectPrincipal+" ORDER BY name")
	}
	return queryAll(ctx, db.r, "list principals", scanPrincipal, selectPrincipal+" WHERE kind = ? ORDER BY name", string(kind))
}

// UpdatePrincipal replaces the name, display name, active flag, external ID and update
// time of the principal with p.ID. Its kind and creation time never change.
func (db *DB) UpdatePrincipal(ctx context.Context, p *catalog.Principal) error {
	if err := catalog.CheckPrincipalUpdate(p); err != nil {
		return err
	}
	updated, err := nanos("updated_at", p.UpdatedAt)
	if err != nil {
		return err
	}
	return db.update(ctx, "update principal", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", p.ID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("principal %s does not exist", p.ID)
		}
		taken, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE name = ? AND id <> ?", p.Name, p.ID)
		if err != nil {
			return err
		}
		if taken {
			return alreadyExists("a principal named %s already exists", p.Name)
		}
		_, err = tx.ExecContext(ctx, `UPDATE principals SET name = ?, display_name = ?, active = ?, external_id = ?, updated_at = ?
			WHERE id = ?`, p.Name, p.DisplayName, p.Active, p.ExternalID, updated, p.ID)
		if isUnique(err) {
			return alreadyExists("a principal named %s already exists", p.Name)
		}
		if err != nil {
			return err
		}
		// OAuth grants (issue 12): an inactive principal's refresh families and codes end.
		if !p.Active {
			if _, err := endOAuthGrants(ctx, tx, p.ID); err != nil {
				return err
			}
		}
		tx.emit(catalog.ChangePrincipal, p.ID)
		return nil
	})
}

// DeletePrincipal removes the principal with its memberships (both ways), grants,
// tokens and per-user OAuth credentials. It refuses while the principal owns a
// connection.
func (db *DB) DeletePrincipal(ctx context.Context, id string) error {
	return db.update(ctx, "delete principal", func(tx *txn) error {
		var name string
		err := tx.QueryRowContext(ctx, "SELECT name FROM principals WHERE id = ?", id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("principal %s does not exist", id)
		}
		if err != nil {
			return err
		}
		var conn string
		err = tx.QueryRowContext(ctx, "SELECT name FROM connections WHERE owner_id = ? ORDER BY name LIMIT 1", id).Scan(&conn)
		if err == nil {
			return invalid("principal %s owns connection %s; transfer the ownership of its connections before deleting it", name, conn)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}

		// Collect what the cascades will change, to announce it.
		tx.emit(catalog.ChangePrincipal, id)
		for _, q := range []struct {
			kind  catalog.ChangeKind
			query string
		}{
			{catalog.ChangeMembership, "SELECT DISTINCT group_id FROM memberships WHERE member_id = ?1 UNION SELECT ?1 FROM memberships WHERE group_id = ?1"},
			{catalog.ChangeGrant, "SELECT DISTINCT securable_id FROM grants WHERE principal_id = ?"},
			{catalog.ChangeToken, "SELECT id FROM tokens WHERE principal_id = ?"},
			{catalog.ChangeCredential, "SELECT DISTINCT connection_id FROM oauth_credentials WHERE principal_id = ?"},
		} {
			ids, err := queryStrings(ctx, tx, q.query, id)
			if err != nil {
				return err
			}
			for _, x := range ids {
				tx.emit(q.kind, x)
			}
		}
		// oauth_credentials.principal_id is no foreign key ('' is the shared credential),
		// so the principal's credentials are deleted here, in the same transaction.
		if _, err := tx.ExecContext(ctx, "DELETE FROM oauth_credentials WHERE principal_id = ?", id); err != nil {
			return err
		}
		// Browser sessions and pending logins (0006) have no foreign key either.
		for _, q := range []string{"DELETE FROM browser_sessions WHERE principal_id = ?", "DELETE FROM pending_logins WHERE principal_id = ?"} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		// memberships, grants and tokens go by ON DELETE CASCADE.
		_, err = tx.ExecContext(ctx, "DELETE FROM principals WHERE id = ?", id)
		return err
	})
}

// AddMember makes memberID a direct member of the group groupID. Adding an existing
// member is not an error; a change that would make a cycle is refused.
func (db *DB) AddMember(ctx context.Context, groupID, memberID string) error {
	return db.update(ctx, "add member", func(tx *txn) error {
		var groupName, memberName string
		var kind catalog.PrincipalKind
		err := tx.QueryRowContext(ctx, "SELECT name, kind FROM principals WHERE id = ?", groupID).Scan(&groupName, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("principal %s does not exist", groupID)
		}
		if err != nil {
			return err
		}
		if err := catalog.CheckGroup(groupName, kind); err != nil {
			return err
		}
		var memberKind catalog.PrincipalKind
		err = tx.QueryRowContext(ctx, "SELECT name, kind FROM principals WHERE id = ?", memberID).Scan(&memberName, &memberKind)
		if errors.Is(err, sql.ErrNoRows) {
			return notExist("principal %s does not exist", memberID)
		}
		if err != nil {
			return err
		}
		if err := catalog.CheckMember(memberName, memberKind); err != nil {
			return err
		}
		// The new edge group → member closes a cycle exactly when the group is already
		// the member itself or one of its (transitive) members. UNION (not UNION ALL)
		// makes the walk terminate even on a graph that somehow has a cycle.
		cycle := groupID == memberID
		if !cycle {
			cycle, err = exists(ctx, tx, `WITH RECURSIVE below(id) AS (
					SELECT member_id FROM memberships WHERE group_id = ?1
					UNION
					SELECT m.member_id FROM memberships m JOIN below b ON m.group_id = b.id
				)
				SELECT 1 FROM below WHERE id = ?2 LIMIT 1`, memberID, groupID)
			if err != nil {
				return err
			}
		}
		if cycle {
			return invalid("adding %s to group %s would make a cycle", memberName, groupName)
		}
		res, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO memberships (group_id, member_id) VALUES (?, ?)", groupID, memberID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			tx.emit(catalog.ChangeMembership, groupID)
		}
		return nil
	})
}

// RemoveMember removes memberID from the direct members of groupID. Removing a principal
// that is not a direct member is not an error; a missing group is.
func (db *DB) RemoveMember(ctx context.Context, groupID, memberID string) error {
	return db.update(ctx, "remove member", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", groupID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("principal %s does not exist", groupID)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM memberships WHERE group_id = ? AND member_id = ?", groupID, memberID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			tx.emit(catalog.ChangeMembership, groupID)
		}
		return nil
	})
}

// ListMembers returns the IDs of the direct members of groupID, ordered by ID.
func (db *DB) ListMembers(ctx context.Context, groupID string) ([]string, error) {
	// One statement, so that "group exists" and "its members" come from one snapshot.
	rows, err := db.r.QueryContext(ctx, `SELECT m.member_id FROM principals p
		LEFT JOIN memberships m ON m.group_id = p.id
		WHERE p.id = ? ORDER BY m.member_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	found := false
	out := []string{}
	for rows.Next() {
		found = true
		var m sql.NullString
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		if m.Valid {
			out = append(out, m.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	if !found {
		return nil, notExist("principal %s does not exist", groupID)
	}
	return out, nil
}

// ListMemberships returns every edge of the group graph, ordered by group and member ID.
func (db *DB) ListMemberships(ctx context.Context) ([]catalog.Membership, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT group_id, member_id FROM memberships ORDER BY group_id, member_id")
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	defer rows.Close()
	out := []catalog.Membership{}
	for rows.Next() {
		var m catalog.Membership
		if err := rows.Scan(&m.GroupID, &m.MemberID); err != nil {
			return nil, fmt.Errorf("list memberships: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return out, nil
}

// queryStrings returns the first column of every row of query.
func queryStrings(ctx context.Context, tx *txn, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
