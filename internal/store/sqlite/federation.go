package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Federation policies (issue 12, workload identity federation).

const selectFederationPolicy = `SELECT id, principal_id, issuer, audiences, subject, subject_claim, jwks_json, created_at, updated_at FROM federation_policies`

func scanFederationPolicy(row scanner) (*catalog.FederationPolicy, error) {
	var p catalog.FederationPolicy
	var auds string
	var created, updated int64
	if err := row.Scan(&p.ID, &p.PrincipalID, &p.Issuer, &auds, &p.Subject, &p.SubjectClaim, &p.JWKSJSON, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(auds), &p.Audiences); err != nil {
		return nil, fmt.Errorf("federation policy %s: audiences: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &p, nil
}

func federationPolicyValues(p *catalog.FederationPolicy) (string, int64, int64, error) {
	if err := catalog.CheckFederationPolicy(p); err != nil {
		return "", 0, 0, err
	}
	auds, err := json.Marshal(append([]string{}, p.Audiences...))
	if err != nil {
		return "", 0, 0, fmt.Errorf("encode audiences: %w", err)
	}
	c, err := nanos("created_at", p.CreatedAt)
	if err != nil {
		return "", 0, 0, err
	}
	u, err := nanos("updated_at", p.UpdatedAt)
	if err != nil {
		return "", 0, 0, err
	}
	return string(auds), c, u, nil
}

// CreateFederationPolicy stores p for an existing principal.
func (db *DB) CreateFederationPolicy(ctx context.Context, p *catalog.FederationPolicy) error {
	auds, c, u, err := federationPolicyValues(p)
	if err != nil {
		return err
	}
	return db.update(ctx, "create federation policy", func(tx *txn) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE id = ?", p.PrincipalID)
		if err != nil {
			return err
		}
		if !ok {
			return notExist("principal %s does not exist", p.PrincipalID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO federation_policies (id, principal_id, issuer, audiences, subject, subject_claim, jwks_json, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.PrincipalID, p.Issuer, auds, p.Subject, p.SubjectClaim, p.JWKSJSON, c, u)
		if isUnique(err) {
			return alreadyExists("federation policy %s already exists", p.ID)
		}
		return err
	})
}

// GetFederationPolicy finds a policy by ID.
func (db *DB) GetFederationPolicy(ctx context.Context, id string) (*catalog.FederationPolicy, error) {
	p, err := scanFederationPolicy(db.r.QueryRowContext(ctx, selectFederationPolicy+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("federation policy %s does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get federation policy: %w", err)
	}
	return p, nil
}

// ListFederationPolicies lists the policies of one principal, oldest first.
func (db *DB) ListFederationPolicies(ctx context.Context, principalID string) ([]*catalog.FederationPolicy, error) {
	rows, err := db.r.QueryContext(ctx, selectFederationPolicy+" WHERE principal_id = ? ORDER BY created_at, id", principalID)
	if err != nil {
		return nil, fmt.Errorf("list federation policies: %w", err)
	}
	defer rows.Close()
	var out []*catalog.FederationPolicy
	for rows.Next() {
		p, err := scanFederationPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("list federation policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list federation policies: %w", err)
	}
	return out, nil
}

// UpdateFederationPolicy replaces what a policy says; principal and creation stay.
func (db *DB) UpdateFederationPolicy(ctx context.Context, p *catalog.FederationPolicy) error {
	auds, _, u, err := federationPolicyValues(p)
	if err != nil {
		return err
	}
	return db.update(ctx, "update federation policy", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE federation_policies SET issuer = ?, audiences = ?, subject = ?, subject_claim = ?, jwks_json = ?, updated_at = ? WHERE id = ?`,
			p.Issuer, auds, p.Subject, p.SubjectClaim, p.JWKSJSON, u, p.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notExist("federation policy %s does not exist", p.ID)
		}
		return nil
	})
}

// DeleteFederationPolicy removes a policy.
func (db *DB) DeleteFederationPolicy(ctx context.Context, id string) error {
	return db.update(ctx, "delete federation policy", func(tx *txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM federation_policies WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notExist("federation policy %s does not exist", id)
		}
		return nil
	})
}
