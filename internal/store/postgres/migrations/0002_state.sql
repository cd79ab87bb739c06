-- 0002_state: OAuth credentials, the network policy and the network events.
--
-- Times are Unix nanoseconds in bigint columns (0: none), not timestamptz: the store's
-- contract is to give times back to the nanosecond, and timestamptz holds microseconds.
--
-- oauth_credentials: one row per (connection, principal); principal_id is '' for a
-- connection's shared credential. principal_ref is the same ID, NULL for the shared one,
-- so that it can reference principals: deleting a principal deletes its credentials, and
-- deleting a connection deletes the connection's (ON DELETE CASCADE on both). A shared
-- credential stays when the principal who authorized it is deleted (the broker marks it
-- REAUTH_REQUIRED). Tokens are the sealed bytes, NULL when none. version counts writes
-- (optimistic concurrency: a stale writer is refused).
CREATE TABLE oauth_credentials (
	connection_id      text   NOT NULL,
	principal_id       text   NOT NULL DEFAULT '',
	principal_ref      text   GENERATED ALWAYS AS (NULLIF(principal_id, '')) STORED,
	access_token       bytea,
	refresh_token      bytea,
	access_expires_at  bigint NOT NULL DEFAULT 0,
	refresh_expires_at bigint NOT NULL DEFAULT 0,
	scope              text   NOT NULL DEFAULT '',
	state              text   NOT NULL CHECK (state IN ('ACTIVE', 'EXPIRING', 'NEEDS_LOGIN',
		'REAUTH_REQUIRED', 'DEGRADED', 'MISCONFIGURED', 'DISABLED')),
	reason             text   NOT NULL DEFAULT '',
	authorized_by      text   NOT NULL DEFAULT '',
	last_refreshed_at  bigint NOT NULL DEFAULT 0,
	last_used_at       bigint NOT NULL DEFAULT 0,
	created_at         bigint NOT NULL DEFAULT 0,
	updated_at         bigint NOT NULL DEFAULT 0,
	version            bigint NOT NULL CHECK (version > 0),
	PRIMARY KEY (connection_id, principal_id)
);

-- The cascades of DeleteConnection and DeletePrincipal. The foreign keys reference the
-- core tables of 0001_core; they are added only when those tables exist, which they do
-- once 0001_core creates them (the condition lets this migration apply on a schema
-- without them, as while the core schema is being written).
DO $$
BEGIN
	IF to_regclass('connections') IS NOT NULL THEN
		ALTER TABLE oauth_credentials ADD CONSTRAINT oauth_credentials_connection_fk
			FOREIGN KEY (connection_id) REFERENCES connections (id) ON DELETE CASCADE;
	END IF;
	IF to_regclass('principals') IS NOT NULL THEN
		ALTER TABLE oauth_credentials ADD CONSTRAINT oauth_credentials_principal_fk
			FOREIGN KEY (principal_ref) REFERENCES principals (id) ON DELETE CASCADE;
	END IF;
END
$$;

-- DeletePrincipal's cascade. The primary key serves GetCredential, ListCredentials in
-- order, and DeleteConnection's cascade.
CREATE INDEX oauth_credentials_principal ON oauth_credentials (principal_ref);

-- network_policy holds at most one row, the deployment's policy (no row: none was ever
-- stored, which is FULL_ACCESS, ENFORCED). policy holds the fields read and written
-- whole (modes, destinations, IP ranges), so a field added later needs no migration.
CREATE TABLE network_policy (
	id         smallint NOT NULL PRIMARY KEY CHECK (id = 1),
	version    bigint   NOT NULL CHECK (version > 0),
	policy     jsonb    NOT NULL CHECK (jsonb_typeof(policy) = 'object'),
	updated_at bigint   NOT NULL DEFAULT 0,
	updated_by text     NOT NULL DEFAULT ''
);

-- Denials of outbound connections, appended in batches, never updated. seq is the order
-- of the log: appends take a transaction advisory lock before drawing their seqs, so seqs
-- are assigned in commit order across replicas and a reader paging with AfterSeq never
-- skips an event committed late with a lower seq.
CREATE TABLE network_events (
	seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time             bigint NOT NULL,
	destination      text   NOT NULL DEFAULT '',
	resolved_address text   NOT NULL DEFAULT '',
	source           text   NOT NULL DEFAULT '',
	principal        text   NOT NULL DEFAULT '',
	connection       text   NOT NULL DEFAULT '',
	reason           text   NOT NULL DEFAULT '',
	access_type      text   NOT NULL CHECK (access_type IN ('DROP', 'DRY_RUN_DENIAL'))
);

-- ListNetworkEvents by time range (since/until).
CREATE INDEX network_events_time ON network_events (time);
