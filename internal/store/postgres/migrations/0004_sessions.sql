-- 0004_sessions: browser sessions of the web pages and pending OAuth logins, shared by
-- every replica (a login started on one finishes on another; a sign-out on one ends the
-- session on all).
--
-- Neither table holds a secret as it is: key_hash is the SHA-256 of the session id (the
-- cookie value), token_hash the stored form of the token the browser signed in with (as
-- in tokens), state_hash the SHA-256 of the OAuth state, and sealed_verifier the PKCE
-- verifier sealed with the keyring, bound to its state. principal_id is not a foreign key
-- to principals: a gone or deactivated principal's sessions end on their next request
-- (the web pages re-check principal and token) and DeletePrincipal removes the rows. seq
-- is insertion order, the order in which the bounds evict.
CREATE TABLE browser_sessions (
	seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
	principal_id  text        NOT NULL,
	token_id      text        NOT NULL,
	token_hash    bytea       NOT NULL,
	token_expires timestamptz,
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL
);
CREATE INDEX browser_sessions_principal ON browser_sessions (principal_id, seq);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

CREATE TABLE pending_logins (
	seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	state_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(state_hash) = 32),
	session_hash    bytea       NOT NULL CHECK (octet_length(session_hash) = 32),
	principal_id    text        NOT NULL,
	connection_id   text        NOT NULL,
	connection      text        NOT NULL,
	token_url       text        NOT NULL,
	sealed_verifier bytea       NOT NULL,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL
);
CREATE INDEX pending_logins_session ON pending_logins (session_hash, seq);
CREATE INDEX pending_logins_principal ON pending_logins (principal_id, seq);
CREATE INDEX pending_logins_expiry ON pending_logins (expires_at);
