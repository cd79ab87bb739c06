-- 0007_token_audience: the resource (RFC 8707) a token was issued for ('' = every API).
ALTER TABLE tokens ADD COLUMN audience TEXT NOT NULL DEFAULT '';
