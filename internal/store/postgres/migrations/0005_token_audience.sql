-- 0005_token_audience: the resource (RFC 8707) a token was issued for ('' = every API).
ALTER TABLE tokens ADD COLUMN audience text NOT NULL DEFAULT '';
