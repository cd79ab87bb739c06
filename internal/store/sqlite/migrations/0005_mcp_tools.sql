-- 0005_mcp_tools: the tools of MCP connections and their pins (docs/api.md, "MCP tools").
--
-- One row per (connection, tool name), created when a tools/list answer first shows the
-- tool; rows die with their connection. pin_hash and seen_hash are "sha256:<hex>" of the
-- tool's canonical definition (pin_hash '' for a NEW tool, which has no pin yet);
-- description is the one last seen, at most 1 KiB (cut in Go). state (PINNED, CHANGED,
-- NEW, UNPINNED) is checked in Go, as the enumerations of 0001 are. approved_by is a
-- principal ID, not a foreign key: an approval stays on record after its approver is
-- deleted. version counts writes: PutMCPTools replaces a row only when the caller read
-- the current version, so an approval and a concurrent tools/list on another replica
-- cannot silently undo each other. Times are Unix nanoseconds (0: never).
CREATE TABLE mcp_tools (
	connection_id TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
	name          TEXT    NOT NULL,
	description   TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL,
	pin_hash      TEXT    NOT NULL DEFAULT '',
	seen_hash     TEXT    NOT NULL DEFAULT '',
	first_seen    INTEGER NOT NULL DEFAULT 0,
	last_seen     INTEGER NOT NULL DEFAULT 0,
	changed_at    INTEGER NOT NULL DEFAULT 0,
	approved_by   TEXT    NOT NULL DEFAULT '',
	approved_at   INTEGER NOT NULL DEFAULT 0,
	version       INTEGER NOT NULL,
	PRIMARY KEY (connection_id, name)
) STRICT, WITHOUT ROWID;
