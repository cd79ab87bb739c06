package catalog

import (
	"context"
	"time"
)

// Store is everything Gatehouse keeps. Implementations: internal/store/sqlite (embedded,
// the default) and, later, internal/store/postgres. internal/store/storetest holds the
// conformance suite that every implementation passes.
//
// Errors a user may see are *Error values: RESOURCE_DOES_NOT_EXIST for a missing row,
// RESOURCE_ALREADY_EXISTS for a duplicate name, INVALID_PARAMETER_VALUE for a change the
// data forbids (a group cycle, deleting a principal that owns connections).
type Store interface {
	PrincipalStore
	TokenStore
	ConnectionStore
	GrantStore
	MetaStore
	AuditStore
	CredentialStore
	NetworkStore
	MCPToolStore
	// Browser sessions and pending OAuth logins (sessions.go).
	BrowserSessionStore
	PendingLoginStore
	// Workload identity federation (issue 12, federation.go).
	FederationPolicyStore
	// OAuth grants of the authorization server: codes and refresh-token families
	// (issue 12, oauthgrants.go).
	OAuthGrantStore

	// Watch registers fn to be called after every committed change, on this replica and
	// (for shared stores) on every other one. Caches (access decisions, identities) use
	// it so that a revoke bites on the very next request.
	Watch(fn func(Change))
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	Close() error
}

// ChangeKind says what changed.
type ChangeKind int

// The kinds of change a store announces.
const (
	ChangePrincipal     ChangeKind = iota + 1 // ID: principal ID
	ChangeMembership                          // ID: group ID
	ChangeGrant                               // ID: securable ID
	ChangeConnection                          // ID: connection ID
	ChangeToken                               // ID: token ID
	ChangeCredential                          // ID: connection ID
	ChangeNetworkPolicy                       // ID: "default"
	// ChangeAll (scale-out): anything may have changed, drop every cache (ID ""). A
	// shared store announces it after it lost the other replicas' announcements for a
	// while (its listener connection dropped) and listens again.
	ChangeAll
)

// Change is one committed change.
type Change struct {
	Kind ChangeKind
	ID   string
}

// PrincipalStore keeps users, service principals, groups and group membership.
type PrincipalStore interface {
	// CreatePrincipal stores p; p.ID must be set. A name taken by any principal kind is
	// RESOURCE_ALREADY_EXISTS.
	CreatePrincipal(ctx context.Context, p *Principal) error
	GetPrincipal(ctx context.Context, id string) (*Principal, error)
	GetPrincipalByName(ctx context.Context, name string) (*Principal, error)
	// ListPrincipals lists principals of one kind ordered by name; kind "" lists all.
	ListPrincipals(ctx context.Context, kind PrincipalKind) ([]*Principal, error)
	// UpdatePrincipal replaces name, display name, active flag, external ID and
	// UpdatedAt; kind and creation time never change. Name lookups ignore case.
	// Making a principal inactive ends its OAuth grants (OAuthGrantStore).
	UpdatePrincipal(ctx context.Context, p *Principal) error
	// DeletePrincipal removes the principal, its memberships (both ways), its grants,
	// its tokens and its OAuth credentials. A principal that owns connections cannot be deleted
	// (INVALID_PARAMETER_VALUE naming one of them).
	DeletePrincipal(ctx context.Context, id string) error
	// AddMember makes memberID a direct member of groupID. Adding an existing member is
	// not an error. A change that would make a cycle is INVALID_PARAMETER_VALUE.
	AddMember(ctx context.Context, groupID, memberID string) error
	RemoveMember(ctx context.Context, groupID, memberID string) error
	// ListMembers returns the IDs of the direct members of groupID.
	ListMembers(ctx context.Context, groupID string) ([]string, error)
	// ListMemberships returns every edge of the group graph.
	ListMemberships(ctx context.Context) ([]Membership, error)
}

// TokenStore keeps personal access tokens (hashes only).
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token) error
	GetToken(ctx context.Context, id string) (*Token, error)
	GetTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// ListTokens lists the tokens of one principal, or of all principals when
	// principalID is "", ordered by creation time.
	ListTokens(ctx context.Context, principalID string) ([]*Token, error)
	DeleteToken(ctx context.Context, id string) error
	// TouchTokens records last-used times in one write; unknown IDs are ignored.
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error
}

// ConnectionStore keeps connections and their sealed shared secrets.
type ConnectionStore interface {
	// CreateConnection stores c with its Secrets; c.ID must be set. A taken name is
	// RESOURCE_ALREADY_EXISTS.
	CreateConnection(ctx context.Context, c *Connection) error
	// GetConnection finds a connection by (normalized) name.
	GetConnection(ctx context.Context, name string) (*Connection, error)
	GetConnectionByID(ctx context.Context, id string) (*Connection, error)
	// ListConnections returns up to limit connections (all when limit <= 0) with names
	// greater than after, ordered by name.
	ListConnections(ctx context.Context, after string, limit int) ([]*Connection, error)
	// UpdateConnection replaces every field of the connection with c.ID but its
	// creation facts (CreatedAt, CreatedBy), including the name and the whole set of
	// Secrets. Grants follow the ID, so a rename keeps them.
	UpdateConnection(ctx context.Context, c *Connection) error
	// DeleteConnection removes the connection, its secrets and its grants.
	DeleteConnection(ctx context.Context, id string) error
}

// GrantStore keeps privileges on securables.
type GrantStore interface {
	// ListGrants returns the grants on one securable.
	ListGrants(ctx context.Context, t SecurableType, securableID string) ([]Grant, error)
	// ListGrantsOf returns the grants held directly by any of the principals.
	ListGrantsOf(ctx context.Context, principalIDs []string) ([]Grant, error)
	// UpdateGrants applies removals then additions on one securable atomically. Adding a
	// grant that exists or removing one that does not is not an error; a missing
	// securable or grantee, or a privilege not valid on the securable type, is.
	UpdateGrants(ctx context.Context, t SecurableType, securableID string, add, remove []Grant) error
}

// MetaStore keeps small named values of the deployment (a key check, schema facts).
type MetaStore interface {
	// GetMeta returns the value, or RESOURCE_DOES_NOT_EXIST.
	GetMeta(ctx context.Context, key string) ([]byte, error)
	SetMeta(ctx context.Context, key string, value []byte) error
}
