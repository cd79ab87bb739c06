package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// Federation policies (issue 12, workload identity federation).

const selectFederationPolicy = `SELECT id, principal_id, issuer, audiences, subject, subject_claim, jwks_json, created_at, updated_at FROM federation_policies`

func scanFederationPolicy(row pgx.Row) (*catalog.FederationPolicy, error) {
	var p catalog.FederationPolicy
	var auds string
	var created, updated int64
	if err := row.Scan(&p.ID, &p.PrincipalID, &p.Issuer, &auds, &p.Subject, &p.SubjectClaim, &p.JWKSJSON, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(auds), &p.Audiences); err != nil {
		return nil, fmt.Errorf("federation policy %s: audiences: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = fromUnixNanos(created), fromUnixNanos(updated)
	return &p, nil
}

func scanFederationPolicyRows(rows pgx.Rows) (*catalog.FederationPolicy, error) {
	return scanFederationPolicy(rows)
}

func federationPolicyValues(p *catalog.FederationPolicy) (string, int64, int64, error) {
	if err := catalog.CheckFederationPolicy(p); err != nil {
		return "", 0, 0, err
	}
	auds, err := json.Marshal(append([]string{}, p.Audiences...))
	if err != nil {
		return "", 0, 0, fmt.Errorf("encode audiences: %w", err)
	}
	c, err := unixNanos("created_at", p.CreatedAt)
	if err != nil {
		return "", 0, 0, err
	}
	u, err := unixNanos("updated_at", p.UpdatedAt)
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
	return db.write(ctx, "create federation policy", func(tx *Tx) error {
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM principals WHERE id = $1", p.PrincipalID)
		if err != nil {
			return err
		}
		if !ok {
			return doesNotExist("principal %s does not exist", p.PrincipalID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO federation_policies (id, principal_id, issuer, audiences, subject, subject_claim, jwks_json, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, p.ID, p.PrincipalID, p.Issuer, auds, p.Subject, p.SubjectClaim, p.JWKSJSON, c, u)
		switch {
		case isCode(err, codeUniqueViolation):
			return alreadyTaken("federation policy %s already exists", p.ID)
		case isCode(err, codeForeignKeyViolation):
			return doesNotExist("principal %s does not exist", p.PrincipalID)
		}
		return err
	})
}

// GetFederationPolicy finds a policy by ID.
func (db *DB) GetFederationPolicy(ctx context.Context, id string) (*catalog.FederationPolicy, error) {
	p, err := scanFederationPolicy(db.pool.QueryRow(ctx, selectFederationPolicy+" WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("federation policy %s does not exist", id)
	}
	if err != nil {
		return nil, readErr("get federation policy", err)
	}
	return p, nil
}

// ListFederationPolicies lists the policies of one principal, oldest first.
func (db *DB) ListFederationPolicies(ctx context.Context, principalID string) ([]*catalog.FederationPolicy, error) {
	return queryRows(ctx, db, "list federation policies", scanFederationPolicyRows,
		selectFederationPolicy+" WHERE principal_id = $1 ORDER BY created_at, id", principalID)
}

// UpdateFederationPolicy replaces what a policy says; principal and creation stay.
func (db *DB) UpdateFederationPolicy(ctx context.Context, p *catalog.FederationPolicy) error {
	auds, _, u, err := federationPolicyValues(p)
	if err != nil {
		return err
	}
	return db.write(ctx, "update federation policy", func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE federation_policies SET issuer = $1, audiences = $2, subject = $3, subject_claim = $4, jwks_json = $5, updated_at = $6 WHERE id = $7`,
			p.Issuer, auds, p.Subject, p.SubjectClaim, p.JWKSJSON, u, p.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return doesNotExist("federation policy %s does not exist", p.ID)
		}
		return nil
	})
}

// DeleteFederationPolicy removes a policy.
func (db *DB) DeleteFederationPolicy(ctx context.Context, id string) error {
	return db.write(ctx, "delete federation policy", func(tx *Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM federation_policies WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return doesNotExist("federation policy %s does not exist", id)
		}
		return nil
	})
}
