package mcp

import "github.com/gatehouse/gatehouse/internal/catalog"

// AllowList is a connection's mcp_allowed_tools (catalog.MCPAllowList): exact tool names
// and name prefixes. The zero value allows every tool (the option unset).
type AllowList = catalog.MCPAllowList

// ParseAllowList parses mcp_allowed_tools (catalog.ParseMCPAllowList).
func ParseAllowList(s string) (AllowList, error) { return catalog.ParseMCPAllowList(s) }
