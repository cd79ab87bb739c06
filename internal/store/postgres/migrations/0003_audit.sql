-- 0003_audit: the audit log (docs/architecture.md, "The audit chain").
--
-- One row per event, appended in batches (group commit) by the audit writer of each
-- replica, and never updated or deleted by Gatehouse. Every append holds the
-- transaction-scoped advisory lock of the log (auditLockKey in audit.go) from before it
-- reads the newest hash until it commits, so the batches of several replicas form one
-- chain and seq, drawn under the lock, increases in chain order and in commit order:
-- a reader paging by seq never finds a smaller seq committed behind it.
-- prev_hash/hash chain each row to the one before it; `gatehouse audit verify` checks it.
-- event_time is Unix nanoseconds, as in the SQLite store (timestamptz keeps
-- microseconds, and the store gives times back to the nanosecond). params is a JSON
-- object of string values (never a secret; at most an HMAC of one). event_id has no
-- unique index, as in the SQLite store: it is random and unique by construction.
CREATE TABLE audit_events (
	seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id    text    NOT NULL,
	event_time  bigint  NOT NULL,
	action_name text    NOT NULL,
	principal   text    NOT NULL DEFAULT '',
	source_ip   text    NOT NULL DEFAULT '',
	request_id  text    NOT NULL DEFAULT '',
	connection  text    NOT NULL DEFAULT '',
	params      jsonb   NOT NULL DEFAULT '{}',
	status_code integer NOT NULL DEFAULT 0,
	error_code  text    NOT NULL DEFAULT '',
	decision    text    NOT NULL DEFAULT '',
	prev_hash   text    NOT NULL DEFAULT '',
	hash        text    NOT NULL DEFAULT ''
);

-- ListAudit by time range (since/until).
CREATE INDEX audit_events_time ON audit_events (event_time);
-- ListAudit by principal, connection or action, in seq order.
CREATE INDEX audit_events_principal ON audit_events (principal, seq);
CREATE INDEX audit_events_connection ON audit_events (connection, seq);
CREATE INDEX audit_events_action ON audit_events (action_name, seq);
