package httpapi

import (
	"context"
	"net/http"
)

// MCPToolsView is an MCP connection's tools as GET .../mcp-tools answers them: whether
// the connection pins its tools and every tool recorded, sorted by name.
type MCPToolsView struct {
	Connection string        `json:"connection"`
	PinTools   bool          `json:"pin_tools"`
	Tools      []MCPToolView `json:"tools"`
}

// MCPToolView is one tool of an MCP connection. Hashes are "sha256:<hex>" of the
// tool's canonical definition (name, description, input schema); times are RFC 3339 in
// UTC; optional fields are left out when empty.
type MCPToolView struct {
	Name string `json:"name"`
	// Description is the one last seen, at most 1 KiB.
	Description string `json:"description"`
	// Allowed reports whether the connection's mcp_allowed_tools lets agents see and
	// call the tool at all.
	Allowed bool `json:"allowed"`
	// State is PINNED, CHANGED, NEW or UNPINNED.
	State string `json:"state"`
	// Pin is the approved definition's hash ("" for a NEW tool); Seen the last seen one's.
	Pin        string `json:"pin"`
	Seen       string `json:"seen"`
	FirstSeen  string `json:"first_seen"`
	LastSeen   string `json:"last_seen"`
	ChangedAt  string `json:"changed_at,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
	ApprovedAt string `json:"approved_at,omitempty"`
}

// ApproveMCPToolsRequest is the body of POST .../mcp-tools/approve.
type ApproveMCPToolsRequest struct {
	Tools []string `json:"tools"`
}

// MCPTools returns the tools of the MCP connection name, with their pins and states.
func (c *Client) MCPTools(ctx context.Context, name string) (*MCPToolsView, error) {
	p, err := clientPath("/api/2.0/gatehouse/connections", name, "mcp-tools")
	if err != nil {
		return nil, err
	}
	var out MCPToolsView
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveMCPTools approves the named tools of the MCP connection name at the definition
// each was last seen with (owner, MANAGE or admin), and returns the tools after.
func (c *Client) ApproveMCPTools(ctx context.Context, name string, tools []string) (*MCPToolsView, error) {
	p, err := clientPath("/api/2.0/gatehouse/connections", name, "mcp-tools", "approve")
	if err != nil {
		return nil, err
	}
	var out MCPToolsView
	if err := c.do(ctx, http.MethodPost, p, nil, ApproveMCPToolsRequest{Tools: tools}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
