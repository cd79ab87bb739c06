package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ catalog.NetworkStore = (*DB)(nil)

// networkPolicyID names the change PutNetworkPolicy announces: there is one policy.
const networkPolicyID = "default"

// networkEventsLockKey is the transaction advisory lock appends of network events take
// before drawing their seqs, so that seqs follow commit order across replicas.
const networkEventsLockKey int64 = 0x6761746568_0002

// The limits of ListNetworkEvents, as in the SQLite store.
const (
	networkDefaultLimit = 100
	networkMaxLimit     = 1000
)

// networkPolicyJSON is the policy column: the fields of catalog.NetworkPolicy that are
// read and written whole. Unknown fields (written by a newer Gatehouse) are ignored.
type networkPolicyJSON struct {
	RestrictionMode             string   `json:"restriction_mode"`
	EnforcementMode             string   `json:"enforcement_mode"`
	AllowedDestinations         []string `json:"allowed_destinations,omitempty"`
	BlockedDestinations         []string `json:"blocked_destinations,omitempty"`
	AllowConnectionDestinations bool     `json:"allow_connection_destinations,omitempty"`
	AllowedIPRanges             []string `json:"allowed_ip_ranges,omitempty"`
}

// GetNetworkPolicy returns the stored policy, or RESOURCE_DOES_NOT_EXIST when none was
// ever stored. The returned policy shares nothing with the store.
func (db *DB) GetNetworkPolicy(ctx context.Context) (*catalog.NetworkPolicy, error) {
	var (
		p       catalog.NetworkPolicy
		doc     []byte
		updated int64
	)
	err := db.pool.QueryRow(ctx, "SELECT version, policy::text, updated_at, updated_by FROM network_policy WHERE id = 1").
		Scan(&p.Version, &doc, &updated, &p.UpdatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no network policy is stored")
	}
	if err != nil {
		return nil, fmt.Errorf("get network policy: %w", redact(err))
	}
	var j networkPolicyJSON
	if err := json.Unmarshal(doc, &j); err != nil {
		return nil, fmt.Errorf("get network policy: decode: %w", err)
	}
	p.RestrictionMode, p.EnforcementMode = j.RestrictionMode, j.EnforcementMode
	p.AllowedDestinations, p.BlockedDestinations = j.AllowedDestinations, j.BlockedDestinations
	p.AllowConnectionDestinations, p.AllowedIPRanges = j.AllowConnectionDestinations, j.AllowedIPRanges
	p.UpdatedAt = fromUnixNanos(updated)
	return &p, nil
}

// PutNetworkPolicy stores p as the policy when p.Version is the stored version (0 when
// none is stored) and on success sets p.Version to the new version. A stale version is
// RESOURCE_ALREADY_EXISTS naming the stored one. The modes must be one of the catalog's
// constants or empty (FULL_ACCESS, ENFORCED); destinations and ranges are the egress
// package's to normalize. It announces ChangeNetworkPolicy "default".
func (db *DB) PutNetworkPolicy(ctx context.Context, p *catalog.NetworkPolicy) error {
	if err := catalog.CheckNetworkPolicy(p); err != nil {
		return err
	}
	updated, err := unixNanos("updated_at", p.UpdatedAt)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(networkPolicyJSON{
		RestrictionMode:             p.RestrictionMode,
		EnforcementMode:             p.EnforcementMode,
		AllowedDestinations:         p.AllowedDestinations,
		BlockedDestinations:         p.BlockedDestinations,
		AllowConnectionDestinations: p.AllowConnectionDestinations,
		AllowedIPRanges:             p.AllowedIPRanges,
	})
	if err != nil {
		return fmt.Errorf("put network policy: encode: %w", err)
	}
	version := p.Version
	err = db.inTx(ctx, func(tx *Tx) error {
		var tag pgconn.CommandTag
		var err error
		if version == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO network_policy (id, version, policy, updated_at, updated_by)
				VALUES (1, 1, $1::text::jsonb, $2, $3) ON CONFLICT (id) DO NOTHING`, string(doc), updated, p.UpdatedBy)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE network_policy SET version = version + 1, policy = $1::text::jsonb,
				updated_at = $2, updated_by = $3 WHERE id = 1 AND version = $4`, string(doc), updated, p.UpdatedBy, version)
		}
		if err != nil {
			return fmt.Errorf("put network policy: %w", redact(err))
		}
		if tag.RowsAffected() == 0 {
			return staleNetworkPolicy(ctx, tx, version)
		}
		tx.Announce(catalog.ChangeNetworkPolicy, networkPolicyID)
		return nil
	})
	if err != nil {
		return err
	}
	p.Version = version + 1
	return nil
}

// staleNetworkPolicy is the error of a put whose version is not the stored one.
func staleNetworkPolicy(ctx context.Context, tx *Tx, version int64) error {
	var current int64
	err := tx.QueryRow(ctx, "SELECT version FROM network_policy WHERE id = 1").Scan(&current)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return catalog.Errorf(catalog.ResourceAlreadyExists, "network policy version %d is stale: no policy is stored (use version 0); read it again", version)
	case err != nil:
		return fmt.Errorf("put network policy: %w", redact(err))
	}
	return catalog.Errorf(catalog.ResourceAlreadyExists, "network policy version %d is stale: the stored version is %d (changed by someone else); read it again", version, current)
}

const selectNetworkEvent = `SELECT seq, time, destination, resolved_address, source, principal, connection,
	reason, access_type FROM network_events`

// AppendNetworkEvents stores the events in one transaction, in the order given, and sets
// each event's Seq once the transaction has committed (on an error no Seq changes, so the
// caller may retry the same batch). Every event needs a time and an access type of DROP
// or DRY_RUN_DENIAL; a batch with one bad event stores none. It announces no change.
func (db *DB) AppendNetworkEvents(ctx context.Context, events []*catalog.NetworkEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	times := make([]int64, n)
	cols := [7][]string{}
	for i := range cols {
		cols[i] = make([]string, n)
	}
	for i, e := range events {
		if err := catalog.CheckNetworkEvent(i, e); err != nil {
			return err
		}
		ns, err := unixNanos("time", e.Time)
		if err != nil {
			return err
		}
		times[i] = ns
		for j, v := range []string{e.Destination, e.ResolvedAddress, e.Source, e.Principal, e.Connection, e.Reason, e.AccessType} {
			cols[j][i] = v
		}
	}
	seqs := make([]int64, 0, n)
	err := db.inTx(ctx, func(tx *Tx) error {
		seqs = seqs[:0]
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", networkEventsLockKey); err != nil {
			return fmt.Errorf("append network events: lock: %w", redact(err))
		}
		rows, err := tx.Query(ctx, `INSERT INTO network_events (time, destination, resolved_address, source,
			principal, connection, reason, access_type)
			SELECT t, d, ra, s, p, c, r, a FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
				$6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u(t, d, ra, s, p, c, r, a, i) ORDER BY i
			RETURNING seq`, times, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
		if err != nil {
			return fmt.Errorf("append network events: %w", redact(err))
		}
		defer rows.Close()
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				return fmt.Errorf("append network events: %w", err)
			}
			seqs = append(seqs, s)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("append network events: %w", redact(err))
		}
		if len(seqs) != n {
			return fmt.Errorf("append network events: %d of %d rows inserted", len(seqs), n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// RETURNING gives the rows in no promised order, but the identity values were drawn
	// in insertion order (ORDER BY i) under the lock: sorted, they are the events' seqs.
	slices.Sort(seqs)
	for i, e := range events {
		e.Seq = seqs[i]
	}
	return nil
}

// ListNetworkEvents returns the events matching f in Seq order: Since inclusive, Until
// exclusive, Source, Principal and AccessType exact, Seq greater than AfterSeq, at most
// Limit of them (100 when Limit <= 0, never more than 1000).
func (db *DB) ListNetworkEvents(ctx context.Context, f catalog.NetworkEventFilter) ([]*catalog.NetworkEvent, error) {
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.AfterSeq > 0 {
		arg("seq > $%d", f.AfterSeq)
	}
	if !f.Since.IsZero() {
		ns, err := unixNanos("since", f.Since)
		if err != nil {
			return nil, err
		}
		arg("time >= $%d", ns)
	}
	if !f.Until.IsZero() {
		ns, err := unixNanos("until", f.Until)
		if err != nil {
			return nil, err
		}
		arg("time < $%d", ns)
	}
	for _, c := range [][2]string{{"source", f.Source}, {"principal", f.Principal}, {"access_type", f.AccessType}} {
		if c[1] != "" {
			arg(c[0]+" = $%d", c[1])
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = networkDefaultLimit
	}
	q := selectNetworkEvent
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, min(limit, networkMaxLimit))
	q += fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list network events: %w", redact(err))
	}
	defer rows.Close()
	var out []*catalog.NetworkEvent
	for rows.Next() {
		var e catalog.NetworkEvent
		var ns int64
		if err := rows.Scan(&e.Seq, &ns, &e.Destination, &e.ResolvedAddress, &e.Source, &e.Principal, &e.Connection,
			&e.Reason, &e.AccessType); err != nil {
			return nil, fmt.Errorf("list network events: %w", err)
		}
		e.Time = fromUnixNanos(ns)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list network events: %w", redact(err))
	}
	return out, nil
}
