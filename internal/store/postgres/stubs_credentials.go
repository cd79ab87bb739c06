package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Stubs of the credentials methods until they are written: delete this file when they are.

// GetCredential is not implemented yet.
func (db *DB) GetCredential(_ context.Context, connectionID, principalID string) (*catalog.OAuthCredential, error) {
	return nil, errNotImplemented
}

// PutCredential is not implemented yet.
func (db *DB) PutCredential(_ context.Context, c *catalog.OAuthCredential) error {
	return errNotImplemented
}

// DeleteCredential is not implemented yet.
func (db *DB) DeleteCredential(_ context.Context, connectionID, principalID string) error {
	return errNotImplemented
}

// ListCredentials is not implemented yet.
func (db *DB) ListCredentials(_ context.Context, connectionID string) ([]*catalog.OAuthCredential, error) {
	return nil, errNotImplemented
}

// TouchCredentials is not implemented yet.
func (db *DB) TouchCredentials(_ context.Context, lastUsed map[string]time.Time) error {
	return errNotImplemented
}
