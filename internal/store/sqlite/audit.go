package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

var _ catalog.AuditStore = (*DB)(nil)

const selectAudit = `SELECT seq, event_id, event_time, action_name, principal, source_ip, request_id,
	connection, params, status_code, error_code, decision, prev_hash, hash FROM audit_events`

const insertAuditHead = `INSERT INTO audit_events (event_id, event_time, action_name, principal, source_ip,
	request_id, connection, params, status_code, error_code, decision, prev_hash, hash) VALUES `

// auditColumns is the number of columns insertAuditHead names.
const auditColumns = 13

// AppendAudit stores the events in one transaction, in the order given and as given,
// and sets each event's Seq once the transaction has committed (on an error no Seq
// changes, so the caller may retry the same batch). One transaction per batch is the
// point: the audit writer groups the events of many requests into one commit, one fsync.
//
// It announces no change: no cache depends on the audit log.
func (db *DB) AppendAudit(ctx context.Context, events []*catalog.AuditEvent) error {
	return db.appendAudit(ctx, events, nil)
}

// AppendAuditChained is AppendAudit, but links the events to the newest stored one
// inside the transaction (catalog.AuditStore): the single write connection, whose
// transactions begin immediate, is the log's append lock, within this process and
// against any other process writing the same file.
func (db *DB) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(prevHash string, e *catalog.AuditEvent) error) error {
	if link == nil {
		return invalid("a chained audit append needs a link function")
	}
	return db.appendAudit(ctx, events, link)
}

// auditHashColumn is the index of prev_hash in a row of insertAuditHead; hash follows.
const auditHashColumn = 11

// appendAudit is AppendAudit, and AppendAuditChained with link.
func (db *DB) appendAudit(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	if len(events) == 0 {
		return nil
	}
	// Check and encode the whole batch before writing any of it (and, chained, before
	// taking the lock); only the hashes are left for inside the transaction.
	rows := make([][]any, len(events))
	for i, e := range events {
		if err := catalog.CheckAuditEvent(i, e); err != nil {
			return err
		}
		ns, err := nanos("event_time", e.EventTime)
		if err != nil {
			return err
		}
		params := []byte("{}")
		if len(e.Params) > 0 {
			if params, err = json.Marshal(e.Params); err != nil {
				return err
			}
		}
		rows[i] = []any{e.EventID, ns, e.ActionName, e.Principal, e.SourceIP, e.RequestID,
			e.Connection, string(params), e.StatusCode, e.ErrorCode, e.Decision, e.PrevHash, e.Hash}
	}
	var seqs []int64
	var linkErr error
	err := db.update(ctx, "append audit events", func(tx *txn) error {
		if link != nil {
			prev, err := lastAuditHash(ctx, tx)
			if err != nil {
				return err
			}
			for i, e := range events {
				if linkErr = link(prev, e); linkErr != nil {
					return linkErr
				}
				prev = e.Hash
				rows[i][auditHashColumn], rows[i][auditHashColumn+1] = e.PrevHash, e.Hash
			}
		}
		var err error
		seqs, err = appendLog(ctx, tx, insertAuditHead, auditColumns, rows, db.auditChunk)
		return err
	})
	if linkErr != nil {
		return linkErr // as it is, not wrapped
	}
	if err != nil {
		return err
	}
	for i, e := range events {
		e.Seq = seqs[i]
	}
	return nil
}

// lastAuditHash returns the newest event's hash, "" for an empty log.
func lastAuditHash(ctx context.Context, tx *txn) (string, error) {
	var h string
	err := tx.QueryRowContext(ctx, "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1").Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the newest audit hash: %w", err)
	}
	return h, nil
}

// LastAudit returns the event with the highest Seq, or RESOURCE_DOES_NOT_EXIST when the
// log is empty.
func (db *DB) LastAudit(ctx context.Context) (*catalog.AuditEvent, error) {
	e, err := scanAudit(db.r.QueryRowContext(ctx, selectAudit+" ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("the audit log is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("last audit event: %w", err)
	}
	return e, nil
}

// ListAudit returns the events matching f in Seq order: Since inclusive, Until
// exclusive, Principal, Connection and Action exact, Seq greater than AfterSeq (and
// less than BeforeSeq when set), at most Limit of them (100 when Limit <= 0, never more
// than 1000). Descending lists newest first; the seq index serves both directions.
func (db *DB) ListAudit(ctx context.Context, f catalog.AuditFilter) ([]*catalog.AuditEvent, error) {
	tail, args, err := logQuery{afterSeq: f.AfterSeq, beforeSeq: f.BeforeSeq, desc: f.Descending, timeColumn: "event_time", since: f.Since, until: f.Until, limit: f.Limit,
		equal: [][2]string{{"principal", f.Principal}, {"connection", f.Connection}, {"action_name", f.Action}, {"decision", f.Decision}}}.sql()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db.r, "list audit events", scanAudit, selectAudit+tail, args...)
}

func scanAudit(s scanner) (*catalog.AuditEvent, error) {
	var e catalog.AuditEvent
	var ns int64
	var params string
	if err := s.Scan(&e.Seq, &e.EventID, &ns, &e.ActionName, &e.Principal, &e.SourceIP, &e.RequestID,
		&e.Connection, &params, &e.StatusCode, &e.ErrorCode, &e.Decision, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.EventTime = fromNanos(ns)
	if params != "" && params != "{}" {
		if err := json.Unmarshal([]byte(params), &e.Params); err != nil {
			return nil, fmt.Errorf("audit event %s: params: %w", e.EventID, err)
		}
	}
	return &e, nil
}
