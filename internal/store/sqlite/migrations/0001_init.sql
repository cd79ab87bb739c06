-- 0001_init: the first schema of the Gatehouse catalog.
--
-- Conventions: times are INTEGER Unix nanoseconds (0 is the zero time, "never");
-- booleans are INTEGER 0/1; IDs are TEXT UUIDs. Tables are STRICT so that a type
-- mistake in Go fails loudly instead of storing a string in an INTEGER column.
-- Enumerations (principal kind, credential type, securable type, privilege) are
-- checked in Go rather than by CHECK constraints: SQLite cannot alter a CHECK without
-- rebuilding the table, and new values will come.

-- Users, service principals and groups. Names are unique across all kinds and
-- compared case-insensitively (ASCII), so that Alice@Example.com and alice@example.com
-- cannot be two principals.
CREATE TABLE principals (
	id           TEXT    NOT NULL PRIMARY KEY,
	kind         TEXT    NOT NULL,
	name         TEXT    NOT NULL COLLATE NOCASE UNIQUE,
	display_name TEXT    NOT NULL DEFAULT '',
	active       INTEGER NOT NULL DEFAULT 1,
	external_id  TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL DEFAULT 0,
	updated_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- ListPrincipals(kind) ordered by name.
CREATE INDEX principals_kind_name ON principals (kind, name);

-- Direct group membership: member_id is a member of group_id. The graph is kept
-- acyclic by AddMember inside its write transaction.
CREATE TABLE memberships (
	group_id  TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	member_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, member_id)
) STRICT, WITHOUT ROWID;

-- The groups of a member (cycle checks, cascades on delete).
CREATE INDEX memberships_member ON memberships (member_id);

-- Personal access tokens; only the SHA-256 hash of the secret is stored.
CREATE TABLE tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	principal_id TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	hash         BLOB    NOT NULL UNIQUE,
	comment      TEXT    NOT NULL DEFAULT '',
	created_by   TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL DEFAULT 0,
	expires_at   INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0
) STRICT;

-- ListTokens(principal) ordered by creation; cascades on principal delete.
CREATE INDEX tokens_principal_created ON tokens (principal_id, created_at);
-- ListTokens("") ordered by creation.
CREATE INDEX tokens_created ON tokens (created_at);

-- Connections. The owner cannot be deleted while it owns one (no ON DELETE action:
-- DeletePrincipal refuses first, with a message naming the connection).
-- options is a JSON object of the non-secret options.
CREATE TABLE connections (
	id              TEXT    NOT NULL PRIMARY KEY,
	name            TEXT    NOT NULL UNIQUE,
	connection_type TEXT    NOT NULL,
	credential_type TEXT    NOT NULL,
	owner_id        TEXT    NOT NULL REFERENCES principals (id),
	comment         TEXT    NOT NULL DEFAULT '',
	options         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
	enabled         INTEGER NOT NULL DEFAULT 1,
	created_at      INTEGER NOT NULL DEFAULT 0,
	created_by      TEXT    NOT NULL DEFAULT '',
	updated_at      INTEGER NOT NULL DEFAULT 0,
	updated_by      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- DeletePrincipal's owner check and the foreign key's own check.
CREATE INDEX connections_owner ON connections (owner_id);

-- Sealed secret options of a connection, one row per field.
CREATE TABLE connection_secrets (
	connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	field         TEXT NOT NULL,
	ciphertext    BLOB NOT NULL,
	PRIMARY KEY (connection_id, field)
) STRICT, WITHOUT ROWID;

-- Privileges on securables. securable_id is not a foreign key because the metastore is
-- a securable without a row; DeleteConnection deletes a connection's grants in its own
-- transaction. The primary key serves ListGrants(type, id).
CREATE TABLE grants (
	securable_type TEXT NOT NULL,
	securable_id   TEXT NOT NULL,
	principal_id   TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	privilege      TEXT NOT NULL,
	PRIMARY KEY (securable_type, securable_id, principal_id, privilege)
) STRICT, WITHOUT ROWID;

-- ListGrantsOf(principals) and cascades on principal delete.
CREATE INDEX grants_principal ON grants (principal_id);

-- Small named values of the deployment.
CREATE TABLE meta (
	key   TEXT NOT NULL PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
