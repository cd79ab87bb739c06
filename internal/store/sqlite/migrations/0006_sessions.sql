-- 0006_sessions: browser sessions of the web pages and pending OAuth logins, kept in the
-- store so that every replica knows them (a login started on one finishes on another).
--
-- Neither table holds a secret as it is: key_hash is the SHA-256 of the session id (the
-- cookie value), token_hash the stored form of the token the browser signed in with (as
-- in tokens), state_hash the SHA-256 of the OAuth state, and sealed_verifier the PKCE
-- verifier sealed with the keyring, bound to its state. principal_id is not a foreign key
-- (the PostgreSQL schema has none either): a deleted or deactivated principal's sessions
-- end on their next request (the web pages re-check the principal and token), and
-- DeletePrincipal removes the rows. seq is insertion order, the order in which the
-- bounds evict. Times are Unix nanoseconds.
CREATE TABLE browser_sessions (
	seq           INTEGER PRIMARY KEY,
	key_hash      BLOB    NOT NULL UNIQUE,
	principal_id  TEXT    NOT NULL,
	token_id      TEXT    NOT NULL,
	token_hash    BLOB    NOT NULL,
	token_expires INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX browser_sessions_principal ON browser_sessions (principal_id, seq);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

CREATE TABLE pending_logins (
	seq             INTEGER PRIMARY KEY,
	state_hash      BLOB    NOT NULL UNIQUE,
	session_hash    BLOB    NOT NULL,
	principal_id    TEXT    NOT NULL,
	connection_id   TEXT    NOT NULL,
	connection      TEXT    NOT NULL,
	token_url       TEXT    NOT NULL,
	sealed_verifier BLOB    NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_logins_session ON pending_logins (session_hash, seq);
CREATE INDEX pending_logins_principal ON pending_logins (principal_id, seq);
CREATE INDEX pending_logins_expiry ON pending_logins (expires_at);
