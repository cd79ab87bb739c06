package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Stubs of the network methods until they are written: delete this file when they are.

// GetNetworkPolicy is not implemented yet.
func (db *DB) GetNetworkPolicy(_ context.Context) (*catalog.NetworkPolicy, error) {
	return nil, errNotImplemented
}

// PutNetworkPolicy is not implemented yet.
func (db *DB) PutNetworkPolicy(_ context.Context, p *catalog.NetworkPolicy) error {
	return errNotImplemented
}

// AppendNetworkEvents is not implemented yet.
func (db *DB) AppendNetworkEvents(_ context.Context, events []*catalog.NetworkEvent) error {
	return errNotImplemented
}

// ListNetworkEvents is not implemented yet.
func (db *DB) ListNetworkEvents(_ context.Context, f catalog.NetworkEventFilter) ([]*catalog.NetworkEvent, error) {
	return nil, errNotImplemented
}
