-- 0006_federation_policies: workload identity federation (issue 12). A service
-- principal's trusted JWT issuers; audiences is a JSON array of strings.
CREATE TABLE federation_policies (
	id            text   COLLATE "C" PRIMARY KEY,
	principal_id  text   COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	issuer        text   NOT NULL,
	audiences     text   NOT NULL,
	subject       text   NOT NULL,
	subject_claim text   NOT NULL,
	jwks_json     text   NOT NULL DEFAULT '',
	created_at    bigint NOT NULL,
	updated_at    bigint NOT NULL
);
CREATE INDEX federation_policies_principal ON federation_policies (principal_id, created_at);
