package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

var _ catalog.NetworkStore = (*DB)(nil)

// networkPolicyID names the change PutNetworkPolicy announces: there is one policy.
const networkPolicyID = "default"

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
		doc     string
		updated int64
	)
	err := db.r.QueryRowContext(ctx, "SELECT version, policy, updated_at, updated_by FROM network_policy WHERE id = 1").
		Scan(&p.Version, &doc, &updated, &p.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("no network policy is stored")
	}
	if err != nil {
		return nil, fmt.Errorf("get network policy: %w", err)
	}
	var j networkPolicyJSON
	if err := json.Unmarshal([]byte(doc), &j); err != nil {
		return nil, fmt.Errorf("get network policy: decode: %w", err)
	}
	p.RestrictionMode, p.EnforcementMode = j.RestrictionMode, j.EnforcementMode
	p.AllowedDestinations, p.BlockedDestinations = j.AllowedDestinations, j.BlockedDestinations
	p.AllowConnectionDestinations, p.AllowedIPRanges = j.AllowConnectionDestinations, j.AllowedIPRanges
	p.UpdatedAt = fromNanos(updated)
	return &p, nil
}

// PutNetworkPolicy stores p as the policy when p.Version is the stored version (0 when
// none is stored) and on success sets p.Version to the new version. A stale version is
// RESOURCE_ALREADY_EXISTS: the caller re-reads and decides again. The modes must be one
// of the catalog's constants or empty (the zero policy's meaning: FULL_ACCESS,
// ENFORCED); the store does not check destinations or ranges, which the egress package
// normalizes before they get here. It announces ChangeNetworkPolicy "default".
func (db *DB) PutNetworkPolicy(ctx context.Context, p *catalog.NetworkPolicy) error {
	if err := catalog.CheckNetworkPolicy(p); err != nil {
		return err
	}
	updated, err := nanos("updated_at", p.UpdatedAt)
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
	err = db.update(ctx, "put network policy", func(tx *txn) error {
		var res sql.Result
		var err error
		if version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO network_policy (id, version, policy, updated_at, updated_by)
				VALUES (1, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, string(doc), updated, p.UpdatedBy)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE network_policy SET version = version + 1, policy = ?,
				updated_at = ?, updated_by = ? WHERE id = 1 AND version = ?`, string(doc), updated, p.UpdatedBy, version)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return staleNetworkPolicy(ctx, tx, version)
		}
		tx.emit(catalog.ChangeNetworkPolicy, networkPolicyID)
		return nil
	})
	if err != nil {
		return err
	}
	p.Version = version + 1
	return nil
}

// staleNetworkPolicy is the error of a put whose version is not the stored one; it says
// which version is stored, so that the message tells the admin what happened.
func staleNetworkPolicy(ctx context.Context, tx *txn, version int64) error {
	var current int64
	err := tx.QueryRowContext(ctx, "SELECT version FROM network_policy WHERE id = 1").Scan(&current)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return alreadyExists("network policy version %d is stale: no policy is stored (use version 0); read it again", version)
	case err != nil:
		return err
	}
	return alreadyExists("network policy version %d is stale: the stored version is %d (changed by someone else); read it again", version, current)
}

const selectNetworkEvent = `SELECT seq, time, destination, resolved_address, source, principal, connection,
	reason, access_type FROM network_events`

const insertNetworkEventHead = `INSERT INTO network_events (time, destination, resolved_address, source,
	principal, connection, reason, access_type) VALUES `

// networkColumns is the number of columns insertNetworkEventHead names.
const networkColumns = 8

// AppendNetworkEvents stores the events in one transaction, in the order given, and sets
// each event's Seq once the transaction has committed (on an error no Seq changes, so the
// caller may retry the same batch). Every event needs a time and an access type of DROP
// or DRY_RUN_DENIAL; a batch with one bad event stores none. It announces no change: no
// cache depends on the events.
func (db *DB) AppendNetworkEvents(ctx context.Context, events []*catalog.NetworkEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		if err := catalog.CheckNetworkEvent(i, e); err != nil {
			return err
		}
		ns, err := nanos("time", e.Time)
		if err != nil {
			return err
		}
		rows[i] = []any{ns, e.Destination, e.ResolvedAddress, e.Source, e.Principal, e.Connection, e.Reason, e.AccessType}
	}
	var seqs []int64
	err := db.update(ctx, "append network events", func(tx *txn) error {
		var err error
		seqs, err = appendLog(ctx, tx, insertNetworkEventHead, networkColumns, rows, nil)
		return err
	})
	if err != nil {
		return err
	}
	for i, e := range events {
		e.Seq = seqs[i]
	}
	return nil
}

// ListNetworkEvents returns the events matching f in Seq order: Since inclusive, Until
// exclusive, Source, Principal and AccessType exact, Seq greater than AfterSeq, at most
// Limit of them (100 when Limit <= 0, never more than 1000).
func (db *DB) ListNetworkEvents(ctx context.Context, f catalog.NetworkEventFilter) ([]*catalog.NetworkEvent, error) {
	tail, args, err := logQuery{afterSeq: f.AfterSeq, timeColumn: "time", since: f.Since, until: f.Until, limit: f.Limit,
		equal: [][2]string{{"source", f.Source}, {"principal", f.Principal}, {"access_type", f.AccessType}}}.sql()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db.r, "list network events", scanNetworkEvent, selectNetworkEvent+tail, args...)
}

func scanNetworkEvent(s scanner) (*catalog.NetworkEvent, error) {
	var e catalog.NetworkEvent
	var ns int64
	if err := s.Scan(&e.Seq, &ns, &e.Destination, &e.ResolvedAddress, &e.Source, &e.Principal, &e.Connection,
		&e.Reason, &e.AccessType); err != nil {
		return nil, err
	}
	e.Time = fromNanos(ns)
	return &e, nil
}
