package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Stubs of the MCP tool pin methods until they are written: delete this file when they are.

// ListMCPTools is not implemented yet.
func (db *DB) ListMCPTools(_ context.Context, connectionID string) ([]*catalog.MCPTool, error) {
	return nil, errNotImplemented
}

// GetMCPTool is not implemented yet.
func (db *DB) GetMCPTool(_ context.Context, connectionID, name string) (*catalog.MCPTool, error) {
	return nil, errNotImplemented
}

// PutMCPTools is not implemented yet.
func (db *DB) PutMCPTools(_ context.Context, connectionID string, tools []*catalog.MCPTool) error {
	return errNotImplemented
}

// ApproveMCPTools is not implemented yet.
func (db *DB) ApproveMCPTools(_ context.Context, connectionID string, names []string, by string, at time.Time) ([]*catalog.MCPTool, error) {
	return nil, errNotImplemented
}

// DeleteMCPTools is not implemented yet.
func (db *DB) DeleteMCPTools(_ context.Context, connectionID string) (int, error) {
	return 0, errNotImplemented
}
