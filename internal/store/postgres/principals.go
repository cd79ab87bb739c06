package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The helpers of the core tables (principals, tokens, connections, grants, meta, MCP
// tools) come first in this file; the principal methods follow.

// write runs fn in a transaction (db.inTx: committed, retried on a serialization
// failure, its announcements made after the commit). A *catalog.Error from fn is
// returned as it is; other errors are wrapped with op, without anything that could
// quote the DSN.
func (db *DB) write(ctx context.Context, op string, fn func(tx *Tx) error) error {
	err := db.inTx(ctx, fn)
	if err == nil {
		return nil
	}
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", op, redact(err))
}

// readErr wraps the error of a read with op.
func readErr(op string, err error) error {
	return fmt.Errorf("%s: %w", op, redact(err))
}

// rowExists reports whether query returns a row.
func rowExists(ctx context.Context, q pgx.Tx, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// constraintOf returns the name of the constraint a PostgreSQL error violated, or "".
func constraintOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}

// Times are stored as Unix nanoseconds, as in the SQLite store; the zero time is 0.

// unixNanos returns t as Unix nanoseconds, or an error when t is outside the years
// 1678-2262 that int64 nanoseconds can hold.
func unixNanos(field string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	ns := t.UnixNano()
	if !time.Unix(0, ns).Equal(t) {
		return 0, invalidValue("%s %s is out of range", field, t.UTC().Format(time.RFC3339))
	}
	return ns, nil
}

// fromUnixNanos is the inverse of unixNanos, in UTC.
func fromUnixNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func doesNotExist(format string, args ...any) error {
	return catalog.Errorf(catalog.ResourceDoesNotExist, format, args...)
}

func alreadyTaken(format string, args ...any) error {
	return catalog.Errorf(catalog.ResourceAlreadyExists, format, args...)
}

func invalidValue(format string, args ...any) error {
	return catalog.Errorf(catalog.InvalidParameterValue, format, args...)
}

// queryRows runs a read query on the pool and scans every row with scan.
func queryRows[T any](ctx context.Context, db *DB, op string, scan func(pgx.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, readErr(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, readErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(op, err)
	}
	return out, nil
}

// txStrings returns the first column of every row of query, run in tx.
func txStrings(ctx context.Context, tx *Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// foldName is the SQL of SQLite's NOCASE on a parameter: A-Z to a-z, nothing else. The
// principals table keeps the same fold of each name in name_fold (0001_core.sql).
func foldName(param string) string {
	return "translate(" + param + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

// memberLockKey is the transaction-scoped advisory lock that AddMember holds while it
// checks for a cycle and adds the edge: two replicas adding a→b and b→a at once would
// each see no cycle under READ COMMITTED.
const memberLockKey int64 = 0x6761746568_10 // "gateh" 10

const selectPrincipal = `SELECT id, kind, name, display_name, active, external_id, created_at, updated_at FROM principals`

func scanPrincipal(row pgx.Row) (*catalog.Principal, error) {
	var p catalog.Principal
	var kind string
	var created, updated int64
	if err := row.Scan(&p.ID, &kind, &p.Name, &p.DisplayName, &p.Active, &p.ExternalID, &created, &updated); err != nil {
		return nil, err
	}
	p.Kind = catalog.PrincipalKind(kind)
	p.CreatedAt = fromUnixNanos(created)
	p.UpdatedAt = fromUnixNanos(updated)
	return &p, nil
}

func scanPrincipalRows(rows pgx.Rows) (*catalog.Principal, error) { return scanPrincipal(rows) }

// CreatePrincipal stores p. Its name must not be taken by any principal of any kind,
// compared without regard to (ASCII) case.
func (db *DB) CreatePrincipal(ctx context.Context, p *catalog.Principal) error {
	if err := catalog.CheckPrincipal(p); err != nil {
		return err
	}
	created, err := unixNanos("created_at", p.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := unixNanos("updated_at", p.UpdatedAt)
	if err != nil {
		return err
	}
	return db.write(ctx, "create principal", func(tx *Tx) error {
		var id string
		err := tx.QueryRow(ctx, "SELECT id FROM principals WHERE id = $1 OR name_fold = "+foldName("$2")+" LIMIT 1", p.ID, p.Name).Scan(&id)
		switch {
		case err == nil && id == p.ID:
			return alreadyTaken("principal %s already exists", p.ID)
		case err == nil:
			return alreadyTaken("a principal named %s already exists", p.Name)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO principals (id, kind, name, display_name, active, external_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, string(p.Kind), p.Name, p.DisplayName, p.Active, p.ExternalID, created, updated)
		if isCode(err, codeUniqueViolation) {
			// A race lost to another writer.
			if constraintOf(err) == "principals_pkey" {
				return alreadyTaken("principal %s already exists", p.ID)
			}
			return alreadyTaken("a principal named %s already exists", p.Name)
		}
		if err != nil {
			return err
		}
		tx.Announce(catalog.ChangePrincipal, p.ID)
		return nil
	})
}

// GetPrincipal finds a principal by ID.
func (db *DB) GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error) {
	p, err := scanPrincipal(db.pool.QueryRow(ctx, selectPrincipal+" WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("principal %s does not exist", id)
	}
	if err != nil {
		return nil, readErr("get principal", err)
	}
	return p, nil
}

// GetPrincipalByName finds a principal by name, without regard to (ASCII) case.
func (db *DB) GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error) {
	p, err := scanPrincipal(db.pool.QueryRow(ctx, selectPrincipal+" WHERE name_fold = "+foldName("$1"), name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("principal %s does not exist", name)
	}
	if err != nil {
		return nil, readErr("get principal by name", err)
	}
	return p, nil
}

// ListPrincipals lists the principals of one kind, or all when kind is "", ordered by
// name without regard to (ASCII) case.
func (db *DB) ListPrincipals(ctx context.Context, kind catalog.PrincipalKind) ([]*catalog.Principal, error) {
	if kind == "" {
		return queryRows(ctx, db, "list principals", scanPrincipalRows, selectPrincipal+" ORDER BY name_fold")
	}
	return queryRows(ctx, db, "list principals", scanPrincipalRows, selectPrincipal+" WHERE kind = $1 ORDER BY name_fold", string(kind))
}

// UpdatePrincipal replaces the name, display name, active flag, external ID and update
// time of the principal with p.ID. Its kind and creation time never change.
func (db *DB) UpdatePrincipal(ctx context.Context, p *catalog.Principal) error {
	if err := catalog.CheckPrincipalUpdate(p); err != nil {
		return err
	}
	updated, err := unixNanos("updated_at", p.UpdatedAt)
	if err != nil {
		return err
	}
	return db.write(ctx, "update principal", func(tx *Tx) error {
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", p.ID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("principal %s does not exist", p.ID)
		}
		taken, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE name_fold = "+foldName("$1")+" AND id <> $2", p.Name, p.ID)
		if err != nil {
			return err
		}
		if taken {
			return alreadyTaken("a principal named %s already exists", p.Name)
		}
		tag, err := tx.Exec(ctx, `UPDATE principals SET name = $1, display_name = $2, active = $3, external_id = $4, updated_at = $5
			WHERE id = $6`, p.Name, p.DisplayName, p.Active, p.ExternalID, updated, p.ID)
		if isCode(err, codeUniqueViolation) {
			return alreadyTaken("a principal named %s already exists", p.Name)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return doesNotExist("principal %s does not exist", p.ID)
		}
		// OAuth grants (issue 12): an inactive principal's refresh families and codes end.
		if !p.Active {
			if _, err := endOAuthGrants(ctx, tx, p.ID); err != nil {
				return err
			}
		}
		tx.Announce(catalog.ChangePrincipal, p.ID)
		return nil
	})
}

// DeletePrincipal removes the principal with its memberships (both ways), grants,
// tokens and per-user OAuth credentials. It refuses while the principal owns a
// connection.
func (db *DB) DeletePrincipal(ctx context.Context, id string) error {
	return db.write(ctx, "delete principal", func(tx *Tx) error {
		// FOR UPDATE: a connection created for this owner meanwhile waits for this
		// transaction and then fails its foreign key.
		var name string
		err := tx.QueryRow(ctx, "SELECT name FROM principals WHERE id = $1 FOR UPDATE", id).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return doesNotExist("principal %s does not exist", id)
		}
		if err != nil {
			return err
		}
		var conn string
		err = tx.QueryRow(ctx, "SELECT name FROM connections WHERE owner_id = $1 ORDER BY name LIMIT 1", id).Scan(&conn)
		if err == nil {
			return invalidValue("principal %s owns connection %s; transfer the ownership of its connections before deleting it", name, conn)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}

		// Collect what the cascades will change, to announce it.
		tx.Announce(catalog.ChangePrincipal, id)
		queries := []struct {
			kind  catalog.ChangeKind
			query string
		}{
			{catalog.ChangeMembership, "SELECT group_id FROM memberships WHERE member_id = $1 UNION SELECT $1 FROM memberships WHERE group_id = $1"},
			{catalog.ChangeGrant, "SELECT DISTINCT securable_id FROM grants WHERE principal_id = $1"},
			{catalog.ChangeToken, "SELECT id FROM tokens WHERE principal_id = $1"},
		}
		// oauth_credentials (0002_state.sql) has no foreign key on principal_id ('' is
		// the shared credential): the principal's credentials are deleted here, in the
		// same transaction, once that table exists.
		// Browser sessions and pending logins (0004_sessions.sql) have no foreign key
		// either: they go in this transaction too, once their tables exist.
		var haveCredentials, haveSessions, haveLogins bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('oauth_credentials') IS NOT NULL,
			to_regclass('browser_sessions') IS NOT NULL, to_regclass('pending_logins') IS NOT NULL`).Scan(
			&haveCredentials, &haveSessions, &haveLogins); err != nil {
			return err
		}
		if haveCredentials {
			queries = append(queries, struct {
				kind  catalog.ChangeKind
				query string
			}{catalog.ChangeCredential, "SELECT DISTINCT connection_id FROM oauth_credentials WHERE principal_id = $1"})
		}
		for _, q := range queries {
			ids, err := txStrings(ctx, tx, q.query, id)
			if err != nil {
				return err
			}
			for _, x := range ids {
				tx.Announce(q.kind, x)
			}
		}
		for _, d := range []struct {
			have  bool
			table string
		}{{haveCredentials, "oauth_credentials"}, {haveSessions, "browser_sessions"}, {haveLogins, "pending_logins"}} {
			if !d.have {
				continue
			}
			if _, err := tx.Exec(ctx, "DELETE FROM "+d.table+" WHERE principal_id = $1", id); err != nil {
				return err
			}
		}
		// memberships, grants and tokens go by ON DELETE CASCADE.
		_, err = tx.Exec(ctx, "DELETE FROM principals WHERE id = $1", id)
		if isCode(err, codeForeignKeyViolation) {
			return invalidValue("principal %s owns a connection; transfer the ownership of its connections before deleting it", name)
		}
		return err
	})
}

// AddMember makes memberID a direct member of the group groupID. Adding an existing
// member is not an error; a change that would make a cycle is refused.
func (db *DB) AddMember(ctx context.Context, groupID, memberID string) error {
	return db.write(ctx, "add member", func(tx *Tx) error {
		// Every AddMember of every replica queues here, so the cycle check below
		// sees the edges committed by the others.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", memberLockKey); err != nil {
			return err
		}
		var groupName, memberName, kind, memberKind string
		err := tx.QueryRow(ctx, "SELECT name, kind FROM principals WHERE id = $1", groupID).Scan(&groupName, &kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return doesNotExist("principal %s does not exist", groupID)
		}
		if err != nil {
			return err
		}
		if err := catalog.CheckGroup(groupName, catalog.PrincipalKind(kind)); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, "SELECT name, kind FROM principals WHERE id = $1", memberID).Scan(&memberName, &memberKind)
		if errors.Is(err, pgx.ErrNoRows) {
			return doesNotExist("principal %s does not exist", memberID)
		}
		if err != nil {
			return err
		}
		if err := catalog.CheckMember(memberName, catalog.PrincipalKind(memberKind)); err != nil {
			return err
		}
		// The new edge group → member closes a cycle exactly when the group is already
		// the member itself or one of its (transitive) members. UNION (not UNION ALL)
		// makes the walk terminate even on a graph that somehow has a cycle.
		cycle := groupID == memberID
		if !cycle {
			cycle, err = rowExists(ctx, tx, `WITH RECURSIVE below(id) AS (
					SELECT member_id FROM memberships WHERE group_id = $1
					UNION
					SELECT m.member_id FROM memberships m JOIN below b ON m.group_id = b.id
				)
				SELECT 1 FROM below WHERE id = $2 LIMIT 1`, memberID, groupID)
			if err != nil {
				return err
			}
		}
		if cycle {
			return invalidValue("adding %s to group %s would make a cycle", memberName, groupName)
		}
		tag, err := tx.Exec(ctx, "INSERT INTO memberships (group_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", groupID, memberID)
		if isCode(err, codeForeignKeyViolation) {
			return doesNotExist("principal %s or %s does not exist", groupID, memberID)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			tx.Announce(catalog.ChangeMembership, groupID)
		}
		return nil
	})
}

// RemoveMember removes memberID from the direct members of groupID. Removing a principal
// that is not a direct member is not an error; a missing group is.
func (db *DB) RemoveMember(ctx context.Context, groupID, memberID string) error {
	return db.write(ctx, "remove member", func(tx *Tx) error {
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", groupID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("principal %s does not exist", groupID)
		}
		tag, err := tx.Exec(ctx, "DELETE FROM memberships WHERE group_id = $1 AND member_id = $2", groupID, memberID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			tx.Announce(catalog.ChangeMembership, groupID)
		}
		return nil
	})
}

// ListMembers returns the IDs of the direct members of groupID, ordered by ID.
func (db *DB) ListMembers(ctx context.Context, groupID string) ([]string, error) {
	// One statement, so that "group exists" and "its members" come from one snapshot.
	rows, err := db.pool.Query(ctx, `SELECT m.member_id FROM principals p
		LEFT JOIN memberships m ON m.group_id = p.id
		WHERE p.id = $1 ORDER BY m.member_id`, groupID)
	if err != nil {
		return nil, readErr("list members", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		return nil, readErr("list members", err)
	}
	if len(ids) == 0 {
		return nil, doesNotExist("principal %s does not exist", groupID)
	}
	out := []string{}
	for _, m := range ids {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// ListMemberships returns every edge of the group graph, ordered by group and member ID.
func (db *DB) ListMemberships(ctx context.Context) ([]catalog.Membership, error) {
	return queryRows(ctx, db, "list memberships", func(r pgx.Rows) (catalog.Membership, error) {
		var m catalog.Membership
		err := r.Scan(&m.GroupID, &m.MemberID)
		return m, err
	}, "SELECT group_id, member_id FROM memberships ORDER BY group_id, member_id")
}
