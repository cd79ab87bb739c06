package catalog

import (
	"context"
	"time"
	"unicode/utf8"
)

// MCPToolState is where a tool of an MCP connection stands against its pin.
type MCPToolState string

// The tool states.
const (
	// MCPToolPinned: the definition last seen is the pinned one; the tool is shown and
	// callable.
	MCPToolPinned MCPToolState = "PINNED"
	// MCPToolChanged: the definition last seen differs from the pin; on a pinning
	// connection the tool is hidden and refused until someone approves it.
	MCPToolChanged MCPToolState = "CHANGED"
	// MCPToolNew: a name that appeared on a pinning connection after its tools were
	// first pinned (a renamed tool is a new name); hidden and refused until approved.
	MCPToolNew MCPToolState = "NEW"
	// MCPToolUnpinned: the connection does not pin its tools; the pin follows each
	// definition seen.
	MCPToolUnpinned MCPToolState = "UNPINNED"
)

// Valid reports whether s is a known tool state.
func (s MCPToolState) Valid() bool {
	switch s {
	case MCPToolPinned, MCPToolChanged, MCPToolNew, MCPToolUnpinned:
		return true
	}
	return false
}

// Bounds of what a tool record keeps of what an MCP server said.
const (
	// MaxMCPToolDescription is the most bytes of a tool's description a record keeps
	// (BoundMCPToolDescription cuts it on a character boundary); the pin's hash covers
	// the whole description.
	MaxMCPToolDescription = 1024
	// MaxMCPToolName is the longest tool name that is recorded; a longer one is never
	// pinned, so a pinning connection hides it.
	MaxMCPToolName = 256
	// MaxMCPTools is the most tool records one connection keeps; on a pinning
	// connection, tools past it are hidden.
	MaxMCPTools = 1000
)

// MCPTool is what Gatehouse records of one tool of an MCP connection.
type MCPTool struct {
	ConnectionID string
	Name         string
	// Description is the description last seen, at most MaxMCPToolDescription bytes.
	Description string
	State       MCPToolState
	// PinHash is the approved definition's hash (MCPToolDefinition.Hash); "" for a NEW
	// tool, which has none yet.
	PinHash string
	// SeenHash is the hash of the definition last seen.
	SeenHash  string
	FirstSeen time.Time
	LastSeen  time.Time
	// ChangedAt is when a definition other than the one seen before was last seen
	// (zero: never).
	ChangedAt time.Time
	// ApprovedBy is the ID of the principal who last approved the tool; ApprovedAt when.
	ApprovedBy string
	ApprovedAt time.Time
	// Version counts writes of the record: PutMCPTools replaces a record only when the
	// caller read the current version (0 = create).
	Version int64
}

// MCPToolStore keeps the tool records of MCP connections; a connection's records die
// with it. Tool names are compared exactly (case-sensitive). Writes announce no Change:
// nothing cached depends on the records (the proxy reads them from the store).
type MCPToolStore interface {
	// ListMCPTools returns the records of the connection ordered by name (byte order:
	// "B" before "a"); none (not an error) for a connection without records or one that
	// does not exist.
	ListMCPTools(ctx context.Context, connectionID string) ([]*MCPTool, error)
	// GetMCPTool returns one record, or RESOURCE_DOES_NOT_EXIST.
	GetMCPTool(ctx context.Context, connectionID, name string) (*MCPTool, error)
	// PutMCPTools creates (Version 0) or replaces (Version = the stored one) every record
	// given, all of the same connection, in one transaction, and on success increments
	// each one's Version. A stale Version, or a create of a record that exists, is
	// RESOURCE_ALREADY_EXISTS ("changed by someone else") and nothing is written; so is
	// nothing for a connection that does not exist (RESOURCE_DOES_NOT_EXIST). A record
	// with an unknown state, an empty or too long name, or a description longer than
	// MaxMCPToolDescription is INVALID_PARAMETER_VALUE.
	PutMCPTools(ctx context.Context, connectionID string, tools []*MCPTool) error
	// ApproveMCPTools pins the named tools at the definition last seen, in one
	// transaction: pin = seen hash, state PINNED, approved by and at. A tool already
	// PINNED is left as it is. A name without a record is RESOURCE_DOES_NOT_EXIST
	// naming it, and then nothing changes. It returns the connection's records after.
	ApproveMCPTools(ctx context.Context, connectionID string, names []string, by string, at time.Time) ([]*MCPTool, error)
	// DeleteMCPTools removes every record of the connection and returns how many there
	// were.
	DeleteMCPTools(ctx context.Context, connectionID string) (int, error)
}

// BoundMCPToolDescription returns at most MaxMCPToolDescription bytes of d, cut before
// a character that would not fit whole. Bytes that are not UTF-8 are cut at the limit:
// the cut looks back at most one character's length.
func BoundMCPToolDescription(d string) string {
	if len(d) <= MaxMCPToolDescription {
		return d
	}
	n := MaxMCPToolDescription
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(d[i]) {
			return d[:i]
		}
	}
	return d[:n]
}
