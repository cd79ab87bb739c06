-- 0001_core: principals, memberships, tokens, connections, secrets, grants, meta and the
-- MCP tool pins: the tables of the SQLite store's 0001_init and 0005_mcp_tools.
--
-- Conventions. IDs are text UUIDs. Times are bigint Unix nanoseconds, 0 being the zero
-- time ("never"), exactly as in the SQLite store: timestamptz keeps microseconds only,
-- and the store must give back the instant it was given (a copy from SQLite, too).
-- Sealed values are bytea, stored as the sealed bytes they are. Every compared or
-- ordered text column is COLLATE "C": comparisons and orders are bytewise whatever the
-- database's locale, as SQLite's BINARY collation is. Enumerations are checked in Go,
-- as in the SQLite store.

-- Users, service principals and groups. Names are unique across all kinds and compared
-- without regard to ASCII case (SQLite's NOCASE: only A-Z fold), through name_fold.
CREATE TABLE principals (
	id           text    COLLATE "C" PRIMARY KEY,
	kind         text    NOT NULL,
	name         text    NOT NULL,
	name_fold    text    COLLATE "C" NOT NULL
		GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
	display_name text    NOT NULL DEFAULT '',
	active       boolean NOT NULL DEFAULT true,
	external_id  text    NOT NULL DEFAULT '',
	created_at   bigint  NOT NULL DEFAULT 0,
	updated_at   bigint  NOT NULL DEFAULT 0,
	CONSTRAINT principals_name_fold_key UNIQUE (name_fold)
);

-- ListPrincipals(kind) ordered by name.
CREATE INDEX principals_kind_name ON principals (kind, name_fold);

-- Direct group membership: member_id is a member of group_id. AddMember keeps the graph
-- acyclic under a transaction-scoped advisory lock (memberLockKey in principals.go).
CREATE TABLE memberships (
	group_id  text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	member_id text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, member_id)
);

CREATE INDEX memberships_member ON memberships (member_id);

-- Personal access tokens; only the SHA-256 hash of the secret is stored.
CREATE TABLE tokens (
	id           text   COLLATE "C" PRIMARY KEY,
	principal_id text   COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	hash         bytea  NOT NULL,
	comment      text   NOT NULL DEFAULT '',
	created_by   text   NOT NULL DEFAULT '',
	created_at   bigint NOT NULL DEFAULT 0,
	expires_at   bigint NOT NULL DEFAULT 0,
	last_used_at bigint NOT NULL DEFAULT 0,
	CONSTRAINT tokens_hash_key UNIQUE (hash)
);

CREATE INDEX tokens_principal_created ON tokens (principal_id, created_at, id);
CREATE INDEX tokens_created ON tokens (created_at, id);

-- Connections. The owner cannot be deleted while it owns one (no ON DELETE action:
-- DeletePrincipal refuses first, naming the connection). options is a JSON object of
-- the non-secret options.
CREATE TABLE connections (
	id              text    COLLATE "C" PRIMARY KEY,
	name            text    COLLATE "C" NOT NULL,
	connection_type text    NOT NULL,
	credential_type text    NOT NULL,
	owner_id        text    COLLATE "C" NOT NULL REFERENCES principals (id),
	comment         text    NOT NULL DEFAULT '',
	options         jsonb   NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
	enabled         boolean NOT NULL DEFAULT true,
	created_at      bigint  NOT NULL DEFAULT 0,
	created_by      text    NOT NULL DEFAULT '',
	updated_at      bigint  NOT NULL DEFAULT 0,
	updated_by      text    NOT NULL DEFAULT '',
	CONSTRAINT connections_name_key UNIQUE (name)
);

CREATE INDEX connections_owner ON connections (owner_id, name);

-- Sealed secret options of a connection, one row per field.
CREATE TABLE connection_secrets (
	connection_id text  COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	field         text  COLLATE "C" NOT NULL,
	ciphertext    bytea NOT NULL,
	PRIMARY KEY (connection_id, field)
);

-- Privileges on securables. securable_id is no foreign key: the metastore is a securable
-- without a row; DeleteConnection deletes a connection's grants in its transaction.
CREATE TABLE grants (
	securable_type text COLLATE "C" NOT NULL,
	securable_id   text COLLATE "C" NOT NULL,
	principal_id   text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	privilege      text COLLATE "C" NOT NULL,
	PRIMARY KEY (securable_type, securable_id, principal_id, privilege)
);

CREATE INDEX grants_principal ON grants (principal_id);

-- Small named values of the deployment.
CREATE TABLE meta (
	key   text  COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);

-- The tools of MCP connections and their pins (docs/api.md, "MCP tools"); see the SQLite
-- store's 0005_mcp_tools for the meaning of each column. version counts writes, for
-- PutMCPTools' optimistic replace.
CREATE TABLE mcp_tools (
	connection_id text   COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	name          text   COLLATE "C" NOT NULL,
	description   text   NOT NULL DEFAULT '',
	state         text   NOT NULL,
	pin_hash      text   NOT NULL DEFAULT '',
	seen_hash     text   NOT NULL DEFAULT '',
	first_seen    bigint NOT NULL DEFAULT 0,
	last_seen     bigint NOT NULL DEFAULT 0,
	changed_at    bigint NOT NULL DEFAULT 0,
	approved_by   text   NOT NULL DEFAULT '',
	approved_at   bigint NOT NULL DEFAULT 0,
	version       bigint NOT NULL,
	PRIMARY KEY (connection_id, name)
);
