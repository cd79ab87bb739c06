-- 0003_credentials: OAuth credentials of connections (docs/architecture.md,
-- "Credential states").
--
-- One row per token set: the shared credential of a connection (principal_id '', for
-- OAUTH_M2M and OAUTH_U2M) or one user's (OAUTH_U2M_PER_USER). principal_id is not a
-- foreign key because '' is not a principal; DeletePrincipal deletes a principal's rows
-- in its own transaction. access_token and refresh_token are sealed ciphertexts whose
-- additional data binds them to (connection, field, principal); NULL means none (a
-- provider that gives no refresh token, a shared credential nobody has authorized yet).
-- version counts writes: PutCredential replaces a row only when the caller read the
-- current version, so two writers (two replicas refreshing at once, a refresh racing a
-- re-login) cannot silently overwrite each other. state is checked in Go, as the
-- enumerations of 0001 are.
CREATE TABLE oauth_credentials (
	connection_id      TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	principal_id       TEXT    NOT NULL DEFAULT '',
	access_token       BLOB,
	refresh_token      BLOB,
	access_expires_at  INTEGER NOT NULL DEFAULT 0,
	refresh_expires_at INTEGER NOT NULL DEFAULT 0,
	scope              TEXT    NOT NULL DEFAULT '',
	state              TEXT    NOT NULL,
	reason             TEXT    NOT NULL DEFAULT '',
	authorized_by      TEXT    NOT NULL DEFAULT '',
	last_refreshed_at  INTEGER NOT NULL DEFAULT 0,
	last_used_at       INTEGER NOT NULL DEFAULT 0,
	created_at         INTEGER NOT NULL DEFAULT 0,
	updated_at         INTEGER NOT NULL DEFAULT 0,
	version            INTEGER NOT NULL,
	PRIMARY KEY (connection_id, principal_id)
) STRICT;

-- DeletePrincipal's delete of a user's credentials. The primary key serves
-- GetCredential, ListCredentials(connection), ListCredentials("") in order, and the
-- cascade on connection delete.
CREATE INDEX oauth_credentials_principal ON oauth_credentials (principal_id);
