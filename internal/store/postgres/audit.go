package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

var _ catalog.AuditStore = (*DB)(nil)

// auditLockKey is the transaction-scoped advisory lock that every append to the audit
// log holds from before it reads the newest hash until it commits: the log's append
// lock, which makes the batches of several replicas one chain, and Seq (drawn under it)
// increase in chain and commit order.
const auditLockKey int64 = 0x6761746568_0003 // "gateh" 0003

const selectAudit = `SELECT seq, event_id, event_time, action_name, principal, source_ip, request_id,
	connection, params, status_code, error_code, decision, prev_hash, hash FROM audit_events`

// insertAudit inserts a batch as arrays, one per column, in one statement. The rows come
// out of the ORDER BY in the batch's order, so the identity draws increasing seqs for
// them in that order; sorting what RETURNING gives back pairs each seq with its event.
const insertAudit = `INSERT INTO audit_events (event_id, event_time, action_name, principal, source_ip,
	request_id, connection, params, status_code, error_code, decision, prev_hash, hash)
SELECT event_id, event_time, action_name, principal, source_ip, request_id, connection,
	params::jsonb, status_code, error_code, decision, prev_hash, hash
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::integer[], $10::text[], $11::text[], $12::text[], $13::text[])
	WITH ORDINALITY AS u(event_id, event_time, action_name, principal, source_ip, request_id, connection,
	params, status_code, error_code, decision, prev_hash, hash, ord)
ORDER BY ord
RETURNING seq`

// AppendAudit stores the events in one transaction, in the order given and as given
// (hashes included), and sets each event's Seq once it has committed (on an error no
// Seq changes, so the caller may retry the same batch). It holds the log's append lock
// too, so that it never interleaves with a chained append.
//
// It announces no change: no cache depends on the audit log.
func (db *DB) AppendAudit(ctx context.Context, events []*catalog.AuditEvent) error {
	return db.appendAudit(ctx, events, nil)
}

// AppendAuditChained is AppendAudit, but links the events to the newest stored one
// inside the transaction, under the log's append lock (catalog.AuditStore), so that
// the recorders of several replicas write one chain.
func (db *DB) AppendAuditChained(ctx context.Context, events []*catalog.AuditEvent, link func(prevHash string, e *catalog.AuditEvent) error) error {
	if link == nil {
		return catalog.Errorf(catalog.InvalidParameterValue, "a chained audit append needs a link function")
	}
	return db.appendAudit(ctx, events, link)
}

// auditBatch is a batch as the column arrays of insertAudit.
type auditBatch struct {
	ids, actions, principals, sources, requests, connections, params []string
	errorCodes, decisions, prevHashes, hashes                        []string
	times, statuses                                                  []int64
}

// appendAudit is AppendAudit, and AppendAuditChained with link.
func (db *DB) appendAudit(ctx context.Context, events []*catalog.AuditEvent, link func(string, *catalog.AuditEvent) error) error {
	if len(events) == 0 {
		return nil
	}
	// Check and encode the whole batch before taking the lock; only the hashes are
	// left for inside the transaction.
	n := len(events)
	b := auditBatch{
		ids: make([]string, n), actions: make([]string, n), principals: make([]string, n),
		sources: make([]string, n), requests: make([]string, n), connections: make([]string, n),
		params: make([]string, n), errorCodes: make([]string, n), decisions: make([]string, n),
		prevHashes: make([]string, n), hashes: make([]string, n), times: make([]int64, n), statuses: make([]int64, n),
	}
	for i, e := range events {
		if err := checkAuditEvent(i, e); err != nil {
			return err
		}
		params := []byte("{}")
		if len(e.Params) > 0 {
			var err error
			if params, err = json.Marshal(e.Params); err != nil {
				return fmt.Errorf("append audit events: %w", err)
			}
		}
		b.ids[i], b.times[i], b.actions[i], b.principals[i] = e.EventID, auditNanos(e.EventTime), e.ActionName, e.Principal
		b.sources[i], b.requests[i], b.connections[i], b.params[i] = e.SourceIP, e.RequestID, e.Connection, string(params)
		b.statuses[i], b.errorCodes[i], b.decisions[i] = int64(e.StatusCode), e.ErrorCode, e.Decision
		b.prevHashes[i], b.hashes[i] = e.PrevHash, e.Hash
	}
	var seqs []int64
	var linkErr error
	err := db.inTx(ctx, func(tx *Tx) error {
		seqs, linkErr = nil, nil
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", auditLockKey); err != nil {
			return fmt.Errorf("append audit events: take the log's lock: %w", redact(err))
		}
		if link != nil {
			// Read committed: this statement starts after the lock was taken, so it
			// sees every batch committed by the lock's previous holders.
			var prev string
			err := tx.QueryRow(ctx, "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1").Scan(&prev)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("append audit events: read the newest hash: %w", redact(err))
			}
			for i, e := range events {
				if linkErr = link(prev, e); linkErr != nil {
					return linkErr
				}
				if err := checkAuditText("hash", e.PrevHash, e.Hash); err != nil {
					return err
				}
				prev = e.Hash
				b.prevHashes[i], b.hashes[i] = e.PrevHash, e.Hash
			}
		}
		rows, err := tx.Query(ctx, insertAudit, b.ids, b.times, b.actions, b.principals, b.sources, b.requests,
			b.connections, b.params, b.statuses, b.errorCodes, b.decisions, b.prevHashes, b.hashes)
		if err != nil {
			return fmt.Errorf("append audit events: %w", redact(err))
		}
		seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("append audit events: %w", redact(err))
		}
		if len(seqs) != n {
			return fmt.Errorf("append audit events: %d rows inserted for %d events", len(seqs), n)
		}
		return nil
	})
	if linkErr != nil {
		return linkErr // as it is
	}
	if err != nil {
		return err
	}
	slices.Sort(seqs)
	for i, e := range events {
		e.Seq = seqs[i]
	}
	return nil
}

// auditNanos is t in Unix nanoseconds, 0 for the zero time (as the SQLite store).
func auditNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// checkAuditEvent refuses an event the table cannot hold as it is: no event id or
// action name, a time outside what Unix nanoseconds hold, or text PostgreSQL refuses
// (a NUL byte or invalid UTF-8, which a text column cannot store).
func checkAuditEvent(i int, e *catalog.AuditEvent) error {
	if err := catalog.CheckAuditEvent(i, e); err != nil {
		return err
	}
	if !e.EventTime.IsZero() && !time.Unix(0, e.EventTime.UnixNano()).Equal(e.EventTime) {
		return catalog.Errorf(catalog.InvalidParameterValue, "audit event %s: event_time %s is out of range", e.EventID, e.EventTime.UTC().Format(time.RFC3339))
	}
	if err := checkAuditText(e.EventID, e.EventID, e.ActionName, e.Principal, e.SourceIP, e.RequestID,
		e.Connection, e.ErrorCode, e.Decision, e.PrevHash, e.Hash); err != nil {
		return err
	}
	for k, v := range e.Params {
		if err := checkAuditText(e.EventID, k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkAuditText refuses a NUL byte or invalid UTF-8 in any of the strings (event
// names the event in the error; the strings themselves are not quoted).
func checkAuditText(event string, ss ...string) error {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return catalog.Errorf(catalog.InvalidParameterValue, "audit event %s holds a NUL byte or invalid UTF-8, which the store cannot keep", event)
		}
	}
	return nil
}

// LastAudit returns the event with the highest Seq, or RESOURCE_DOES_NOT_EXIST when the
// log is empty.
func (db *DB) LastAudit(ctx context.Context) (*catalog.AuditEvent, error) {
	e, err := scanAudit(db.pool.QueryRow(ctx, selectAudit+" ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "the audit log is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("last audit event: %w", redact(err))
	}
	return e, nil
}

// Page sizes of ListAudit, as in the SQLite store.
const (
	auditDefaultLimit = 100
	auditMaxLimit     = 1000
)

// ListAudit returns the events matching f in Seq order: Since inclusive, Until
// exclusive, Principal, Connection and Action exact, Seq greater than AfterSeq (and
// less than BeforeSeq when set), at most Limit of them (100 when Limit <= 0, never more
// than 1000). Descending lists newest first; the seq index serves both directions.
func (db *DB) ListAudit(ctx context.Context, f catalog.AuditFilter) ([]*catalog.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	for _, bound := range []struct {
		op string
		t  time.Time
	}{{">=", f.Since}, {"<", f.Until}} {
		if bound.t.IsZero() {
			continue
		}
		ns := bound.t.UnixNano()
		if !time.Unix(0, ns).Equal(bound.t) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "time bound %s is out of range", bound.t.UTC().Format(time.RFC3339))
		}
		add("event_time "+bound.op+" ?", ns)
	}
	for _, c := range [][2]string{{"principal", f.Principal}, {"connection", f.Connection}, {"action_name", f.Action}, {"decision", f.Decision}} {
		if c[1] == "" {
			continue
		}
		if err := checkAuditText("filter", c[1]); err != nil {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "the %s filter holds a NUL byte or invalid UTF-8", c[0])
		}
		add(c[0]+" = ?", c[1])
	}
	limit := f.Limit
	if limit <= 0 {
		limit = auditDefaultLimit
	}
	q := selectAudit
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Descending {
		q += " ORDER BY seq DESC"
	} else {
		q += " ORDER BY seq"
	}
	args = append(args, min(limit, auditMaxLimit))
	q += " LIMIT $" + strconv.Itoa(len(args))

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", redact(err))
	}
	defer rows.Close()
	var out []*catalog.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", redact(err))
	}
	return out, nil
}

// scanAudit reads one row of selectAudit.
func scanAudit(row pgx.Row) (*catalog.AuditEvent, error) {
	var e catalog.AuditEvent
	var ns int64
	var status int32
	var params []byte
	if err := row.Scan(&e.Seq, &e.EventID, &ns, &e.ActionName, &e.Principal, &e.SourceIP, &e.RequestID,
		&e.Connection, &params, &status, &e.ErrorCode, &e.Decision, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	if ns != 0 {
		e.EventTime = time.Unix(0, ns).UTC()
	}
	e.StatusCode = int(status)
	if len(params) > 0 && string(params) != "{}" {
		if err := json.Unmarshal(params, &e.Params); err != nil {
			return nil, fmt.Errorf("audit event %s: params: %w", e.EventID, err)
		}
	}
	return &e, nil
}
