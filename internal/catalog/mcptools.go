package catalog

import "context"

// OptMCPPinTools turns tool pinning on for an MCP connection ("true"): each tool's
// definition is pinned on first sight, and a tool whose definition later changes is
// hidden and refused until an owner or MANAGE holder approves it.
const OptMCPPinTools = "mcp_pin_tools"

// MCPToolDefinition is one tool as a tools/list answer defines it, reduced to what
// pinning compares and what people are shown (internal/mcp.ToolDefinitionOf makes it).
type MCPToolDefinition struct {
	Name string
	// Description is the tool's description as listed, for display only (bounded by
	// whoever shows it). It is part of Hash.
	Description string
	// Hash is "sha256:" and the hex digest of the canonical JSON of the tool's name,
	// description and input schema.
	Hash string
}

// MCPToolGate is what the MCP proxy asks about tool pins; internal/governance
// implements it. Both methods fail closed: on an error the proxy hides and refuses.
type MCPToolGate interface {
	// ObserveTools records the tools of one tools/list answer on conn, seen by the
	// principal named, and returns the names the caller must not see, each with the
	// reason. On a connection without mcp_pin_tools it records them too (so that the
	// tools can be listed; the pin follows the definition) and hides nothing.
	ObserveTools(ctx context.Context, conn *Connection, principal string, tools []MCPToolDefinition) (hidden map[string]string, err error)
	// ToolCallable returns "" when a tools/call of tool on conn may reach the upstream,
	// else the reason it may not: on a pinned connection, a tool whose definition
	// changed since it was approved, or one no tools/list has shown yet.
	ToolCallable(ctx context.Context, conn *Connection, tool string) (reason string, err error)
}
