package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Stubs of the core methods until they are written: delete this file when they are.

// CreatePrincipal is not implemented yet.
func (db *DB) CreatePrincipal(_ context.Context, p *catalog.Principal) error {
	return errNotImplemented
}

// GetPrincipal is not implemented yet.
func (db *DB) GetPrincipal(_ context.Context, id string) (*catalog.Principal, error) {
	return nil, errNotImplemented
}

// GetPrincipalByName is not implemented yet.
func (db *DB) GetPrincipalByName(_ context.Context, name string) (*catalog.Principal, error) {
	return nil, errNotImplemented
}

// ListPrincipals is not implemented yet.
func (db *DB) ListPrincipals(_ context.Context, kind catalog.PrincipalKind) ([]*catalog.Principal, error) {
	return nil, errNotImplemented
}

// UpdatePrincipal is not implemented yet.
func (db *DB) UpdatePrincipal(_ context.Context, p *catalog.Principal) error {
	return errNotImplemented
}

// DeletePrincipal is not implemented yet.
func (db *DB) DeletePrincipal(_ context.Context, id string) error { return errNotImplemented }

// AddMember is not implemented yet.
func (db *DB) AddMember(_ context.Context, groupID, memberID string) error { return errNotImplemented }

// RemoveMember is not implemented yet.
func (db *DB) RemoveMember(_ context.Context, groupID, memberID string) error {
	return errNotImplemented
}

// ListMembers is not implemented yet.
func (db *DB) ListMembers(_ context.Context, groupID string) ([]string, error) {
	return nil, errNotImplemented
}

// ListMemberships is not implemented yet.
func (db *DB) ListMemberships(_ context.Context) ([]catalog.Membership, error) {
	return nil, errNotImplemented
}

// CreateToken is not implemented yet.
func (db *DB) CreateToken(_ context.Context, t *catalog.Token) error { return errNotImplemented }

// GetToken is not implemented yet.
func (db *DB) GetToken(_ context.Context, id string) (*catalog.Token, error) {
	return nil, errNotImplemented
}

// GetTokenByHash is not implemented yet.
func (db *DB) GetTokenByHash(_ context.Context, hash []byte) (*catalog.Token, error) {
	return nil, errNotImplemented
}

// ListTokens is not implemented yet.
func (db *DB) ListTokens(_ context.Context, principalID string) ([]*catalog.Token, error) {
	return nil, errNotImplemented
}

// DeleteToken is not implemented yet.
func (db *DB) DeleteToken(_ context.Context, id string) error { return errNotImplemented }

// TouchTokens is not implemented yet.
func (db *DB) TouchTokens(_ context.Context, lastUsed map[string]time.Time) error {
	return errNotImplemented
}

// CreateConnection is not implemented yet.
func (db *DB) CreateConnection(_ context.Context, c *catalog.Connection) error {
	return errNotImplemented
}

// GetConnection is not implemented yet.
func (db *DB) GetConnection(_ context.Context, name string) (*catalog.Connection, error) {
	return nil, errNotImplemented
}

// GetConnectionByID is not implemented yet.
func (db *DB) GetConnectionByID(_ context.Context, id string) (*catalog.Connection, error) {
	return nil, errNotImplemented
}

// ListConnections is not implemented yet.
func (db *DB) ListConnections(_ context.Context, after string, limit int) ([]*catalog.Connection, error) {
	return nil, errNotImplemented
}

// UpdateConnection is not implemented yet.
func (db *DB) UpdateConnection(_ context.Context, c *catalog.Connection) error {
	return errNotImplemented
}

// DeleteConnection is not implemented yet.
func (db *DB) DeleteConnection(_ context.Context, id string) error { return errNotImplemented }

// ListGrants is not implemented yet.
func (db *DB) ListGrants(_ context.Context, t catalog.SecurableType, securableID string) ([]catalog.Grant, error) {
	return nil, errNotImplemented
}

// ListGrantsOf is not implemented yet.
func (db *DB) ListGrantsOf(_ context.Context, principalIDs []string) ([]catalog.Grant, error) {
	return nil, errNotImplemented
}

// UpdateGrants is not implemented yet.
func (db *DB) UpdateGrants(_ context.Context, t catalog.SecurableType, securableID string, add, remove []catalog.Grant) error {
	return errNotImplemented
}

// GetMeta is not implemented yet.
func (db *DB) GetMeta(_ context.Context, key string) ([]byte, error) { return nil, errNotImplemented }

// SetMeta is not implemented yet.
func (db *DB) SetMeta(_ context.Context, key string, value []byte) error { return errNotImplemented }
