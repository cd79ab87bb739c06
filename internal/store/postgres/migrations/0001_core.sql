-- 0001_core: principals, memberships, tokens, connections, secrets, grants, meta.
SELECT 1;
