-- 0002_audit: the audit log (docs/architecture.md, "The audit chain").
--
-- One row per event, appended in batches by the one audit writer (group commit) and
-- never updated or deleted by Gatehouse. seq is the order of the log (the rowid: a
-- plain INTEGER PRIMARY KEY, not AUTOINCREMENT, which would cost a second write per
-- row; removing the newest rows by hand would let their seqs be reused, and the hash
-- chain would show the removal anyway). event_id has no index: it is random and
-- unique by construction, and a unique index on it was the costliest write of a row.
-- prev_hash/hash chain each row to the one before it; `gatehouse audit verify` checks it.
-- params is a JSON object of string values (never a secret; at most an HMAC of one).
CREATE TABLE audit_events (
	seq         INTEGER NOT NULL PRIMARY KEY,
	event_id    TEXT    NOT NULL,
	event_time  INTEGER NOT NULL,
	action_name TEXT    NOT NULL,
	principal   TEXT    NOT NULL DEFAULT '',
	source_ip   TEXT    NOT NULL DEFAULT '',
	request_id  TEXT    NOT NULL DEFAULT '',
	connection  TEXT    NOT NULL DEFAULT '',
	params      TEXT    NOT NULL DEFAULT '{}',
	status_code INTEGER NOT NULL DEFAULT 0,
	error_code  TEXT    NOT NULL DEFAULT '',
	decision    TEXT    NOT NULL DEFAULT '',
	prev_hash   TEXT    NOT NULL DEFAULT '',
	hash        TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ListAudit by time range (since/until).
CREATE INDEX audit_events_time ON audit_events (event_time);
-- ListAudit by principal, connection or action, in seq order.
CREATE INDEX audit_events_principal ON audit_events (principal, seq);
CREATE INDEX audit_events_connection ON audit_events (connection, seq);
CREATE INDEX audit_events_action ON audit_events (action_name, seq);
