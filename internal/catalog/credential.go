package catalog

import (
	"context"
	"time"
)

// CredentialState is the state of a connection's credential (docs/architecture.md, "Credential states").
type CredentialState string

// The credential states.
const (
	StateActive         CredentialState = "ACTIVE"
	StateExpiring       CredentialState = "EXPIRING"
	StateNeedsLogin     CredentialState = "NEEDS_LOGIN"
	StateReauthRequired CredentialState = "REAUTH_REQUIRED"
	StateDegraded       CredentialState = "DEGRADED"
	StateMisconfigured  CredentialState = "MISCONFIGURED"
	StateDisabled       CredentialState = "DISABLED"
)

// Sealed field names of OAuth credentials; the additional data of each ciphertext is
// (connection ID, field, principal ID or "" for a shared credential).
const (
	FieldAccessToken  = "access_token"
	FieldRefreshToken = "refresh_token"
)

// OAuthCredential is the token set an OAuth connection holds: shared (PrincipalID "",
// for OAUTH_M2M and OAUTH_U2M) or one user's (OAUTH_U2M_PER_USER).
type OAuthCredential struct {
	ConnectionID string
	PrincipalID  string // "" for the shared credential
	// AccessToken and RefreshToken are sealed; RefreshToken is nil when the provider
	// gave none.
	AccessToken      []byte    `json:"-"`
	RefreshToken     []byte    `json:"-"`
	AccessExpiresAt  time.Time // zero: unknown
	RefreshExpiresAt time.Time // zero: unknown or never
	Scope            string
	State            CredentialState
	Reason           string
	AuthorizedBy     string // principal ID of who logged in (U2M)
	LastRefreshedAt  time.Time
	LastUsedAt       time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Version counts writes; PutCredential with a Version that is not the stored one
	// fails, so two writers cannot silently overwrite each other (0 = create).
	Version int64
}

// CredentialStore keeps OAuth credentials. Writes announce ChangeCredential with the
// connection ID.
type CredentialStore interface {
	// GetCredential returns the credential, or RESOURCE_DOES_NOT_EXIST.
	GetCredential(ctx context.Context, connectionID, principalID string) (*OAuthCredential, error)
	// PutCredential creates (Version 0) or replaces (Version = the stored one) the
	// credential and increments c.Version. A stale Version is RESOURCE_ALREADY_EXISTS
	// ("changed by someone else"): re-read and decide again.
	PutCredential(ctx context.Context, c *OAuthCredential) error
	// DeleteCredential removes it; a missing one is RESOURCE_DOES_NOT_EXIST.
	DeleteCredential(ctx context.Context, connectionID, principalID string) error
	// ListCredentials lists the credentials of one connection, or of all when
	// connectionID is "", ordered by connection then principal.
	ListCredentials(ctx context.Context, connectionID string) ([]*OAuthCredential, error)
	// TouchCredentials records last-used times in one write without changing Version;
	// keys are connection ID + "/" + principal ID.
	TouchCredentials(ctx context.Context, lastUsed map[string]time.Time) error

	// LockCredential (refresh exactly once across replicas) runs fn while holding an
	// exclusive lock on the credential (connection, principal "" for the shared one)
	// that every replica of the deployment respects, and passes fn the credential as
	// stored when the lock was taken (nil when there is none). It waits for the lock
	// until ctx ends, and then returns ctx's error without running fn. fn writes
	// through the store's ordinary methods (PutCredential), whose writes are committed
	// when they return, so what fn stored is visible to the next holder; the lock is
	// released when fn returns, whatever it returns, and fn's error is returned as it
	// is. A replica that dies while holding the lock loses it with its process (and,
	// on PostgreSQL, with its connection). The lock is advisory: writers that do not
	// take it (a login finishing) are kept apart by PutCredential's versions only.
	LockCredential(ctx context.Context, connectionID, principalID string, fn func(ctx context.Context, cur *OAuthCredential) error) error
}
