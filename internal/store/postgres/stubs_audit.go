package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Stubs of the audit methods until they are written: delete this file when they are.

// AppendAudit is not implemented yet.
func (db *DB) AppendAudit(_ context.Context, events []*catalog.AuditEvent) error {
	return errNotImplemented
}

// LastAudit is not implemented yet.
func (db *DB) LastAudit(_ context.Context) (*catalog.AuditEvent, error) {
	return nil, errNotImplemented
}

// ListAudit is not implemented yet.
func (db *DB) ListAudit(_ context.Context, f catalog.AuditFilter) ([]*catalog.AuditEvent, error) {
	return nil, errNotImplemented
}
