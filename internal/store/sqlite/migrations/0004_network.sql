-- 0004_network: the network policy and the network events (docs/api.md, "Network policy").
--
-- network_policy holds at most one row, the deployment's policy (id is always 1; no row
-- means none was ever stored, which is FULL_ACCESS, ENFORCED). policy is a JSON object
-- of the policy's fields (modes, destinations, IP ranges): they are read and written
-- whole, never queried one by one, and a field added later needs no new migration.
-- version counts writes: PutNetworkPolicy replaces the row only when the caller read
-- the current version, so two admins cannot silently overwrite each other.
CREATE TABLE network_policy (
	id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	version    INTEGER NOT NULL,
	policy     TEXT    NOT NULL CHECK (json_valid(policy)),
	updated_at INTEGER NOT NULL DEFAULT 0,
	updated_by TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Denials (and dry-run denials) of outbound connections, appended in batches and never
-- updated. seq is the order of the log (the rowid, as in audit_events). time is Unix
-- nanoseconds. access_type (DROP or DRY_RUN_DENIAL) is checked in Go.
CREATE TABLE network_events (
	seq              INTEGER NOT NULL PRIMARY KEY,
	time             INTEGER NOT NULL,
	destination      TEXT    NOT NULL DEFAULT '',
	resolved_address TEXT    NOT NULL DEFAULT '',
	source           TEXT    NOT NULL DEFAULT '',
	principal        TEXT    NOT NULL DEFAULT '',
	connection       TEXT    NOT NULL DEFAULT '',
	reason           TEXT    NOT NULL DEFAULT '',
	access_type      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ListNetworkEvents by time range (since/until).
CREATE INDEX network_events_time ON network_events (time);
