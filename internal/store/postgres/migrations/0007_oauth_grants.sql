-- 0007_oauth_grants: the authorization server's codes and refresh-token families (issue
-- 12), in tables of their own rather than among the pending logins, whose bounds evict:
-- these are bounded per principal (under an advisory lock per principal) and refused
-- past the bound.
--
-- Neither table holds a secret as it is: hash is the SHA-256 of the code, secret_hash
-- the SHA-256 of the family's live refresh secret. token_id names the family's live
-- access token in tokens (no foreign key: a token deleted elsewhere leaves the family,
-- whose rotation then has nothing to delete). A used code stays as a marker (used)
-- naming what its exchange issued, so that a second use revokes it. Times are Unix
-- nanoseconds, as in tokens.
CREATE TABLE oauth_codes (
	hash           bytea   PRIMARY KEY CHECK (octet_length(hash) = 32),
	principal_id   text    COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id      text    NOT NULL,
	redirect_uri   text    NOT NULL,
	code_challenge text    NOT NULL,
	audience       text    NOT NULL,
	created_at     bigint  NOT NULL,
	expires_at     bigint  NOT NULL,
	used           boolean NOT NULL DEFAULT false,
	family_id      text    NOT NULL DEFAULT '',
	token_id       text    NOT NULL DEFAULT ''
);
CREATE INDEX oauth_codes_principal ON oauth_codes (principal_id, expires_at);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_families (
	id           text   COLLATE "C" PRIMARY KEY,
	principal_id text   COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id    text   NOT NULL,
	audience     text   NOT NULL,
	secret_hash  bytea  NOT NULL CHECK (octet_length(secret_hash) = 32),
	token_id     text   COLLATE "C" NOT NULL,
	created_at   bigint NOT NULL,
	expires_at   bigint NOT NULL,
	rotated_at   bigint NOT NULL
);
CREATE INDEX oauth_families_principal ON oauth_families (principal_id, created_at);
CREATE INDEX oauth_families_expiry ON oauth_families (expires_at);
