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

-- pending_login_count holds the number of rows of pending_logins, kept exact by
-- statement triggers on every insert and delete (whoever runs it: a take, a bound, a
-- principal's deletion), so that the total bound of a put costs one row read instead of
-- a count(*) of up to 100 000 rows (measured: 30 ms). A put reads it FOR UPDATE under
-- its advisory lock. (TRUNCATE is not counted: never truncate pending_logins.)
CREATE TABLE pending_login_count (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	n   bigint  NOT NULL
);
INSERT INTO pending_login_count (one, n) VALUES (true, 0);

CREATE FUNCTION pending_logins_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pending_login_count SET n = n + (SELECT count(*) FROM new_rows);
	RETURN NULL;
END
$$;

CREATE FUNCTION pending_logins_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM old_rows) THEN
		UPDATE pending_login_count SET n = n - (SELECT count(*) FROM old_rows);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER pending_logins_counted_insert AFTER INSERT ON pending_logins
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pending_logins_count_insert();
CREATE TRIGGER pending_logins_counted_delete AFTER DELETE ON pending_logins
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pending_logins_count_delete();
