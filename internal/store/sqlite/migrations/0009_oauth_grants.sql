-- 0009_oauth_grants: the authorization server's codes and refresh-token families (issue
-- 12), in tables of their own rather than among the pending logins, whose bounds evict:
-- these are bounded per principal and refused past the bound.
--
-- Neither table holds a secret as it is: hash is the SHA-256 of the code, secret_hash
-- the SHA-256 of the family's live refresh secret. token_id names the family's live
-- access token in tokens (no foreign key: a token deleted elsewhere leaves the family,
-- whose rotation then has nothing to delete). A used code stays as a marker (used = 1)
-- naming what its exchange issued, so that a second use revokes it. Times are Unix
-- nanoseconds.
CREATE TABLE oauth_codes (
	hash           BLOB    PRIMARY KEY CHECK (length(hash) = 32),
	principal_id   TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id      TEXT    NOT NULL,
	redirect_uri   TEXT    NOT NULL,
	code_challenge TEXT    NOT NULL,
	audience       TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	used           INTEGER NOT NULL DEFAULT 0,
	family_id      TEXT    NOT NULL DEFAULT '',
	token_id       TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX oauth_codes_principal ON oauth_codes (principal_id, expires_at);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_families (
	id           TEXT    PRIMARY KEY,
	principal_id TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id    TEXT    NOT NULL,
	audience     TEXT    NOT NULL,
	secret_hash  BLOB    NOT NULL CHECK (length(secret_hash) = 32),
	token_id     TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	rotated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_families_principal ON oauth_families (principal_id, created_at);
CREATE INDEX oauth_families_expiry ON oauth_families (expires_at);
