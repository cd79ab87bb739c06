-- 0008_federation_policies: workload identity federation (issue 12). A service
-- principal's trusted JWT issuers; audiences is a JSON array of strings.
CREATE TABLE federation_policies (
	id            TEXT    PRIMARY KEY,
	principal_id  TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	issuer        TEXT    NOT NULL,
	audiences     TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	subject_claim TEXT    NOT NULL,
	jwks_json     TEXT    NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE INDEX federation_policies_principal ON federation_policies (principal_id, created_at);
