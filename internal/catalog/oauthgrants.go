package catalog

import (
	"context"
	"crypto/sha256"
	"time"
)

// OAuth grants of Gatehouse's own authorization server (issue 12, internal/authserver):
// the authorization codes MCP clients (and the CLI) exchange, and the refresh-token
// families those exchanges start. They have a store of their own, not the pending
// logins': a user's codes and families are bounded per user and refused past the bound,
// never evicted to make room, so no one can end another user's sign-ins by filling a
// table.

// OAuthCode is an authorization code as the store keeps it. The code itself is never
// stored: Hash is its SHA-256 (domain-separated by the authorization server).
type OAuthCode struct {
	Hash          [sha256.Size]byte
	PrincipalID   string // the user who consented
	ClientID      string
	RedirectURI   string
	CodeChallenge string // PKCE S256
	Audience      string // the resource the code was issued for
	CreatedAt     time.Time
	// ExpiresAt is when the code stops working; once the code is used, when its used
	// marker is forgotten.
	ExpiresAt time.Time
	// FamilyID and TokenID are what the code's exchange issued (RecordOAuthCodeUse), so
	// that a second use revokes them; empty until then.
	FamilyID string
	TokenID  string
}

// OAuthFamily is a refresh-token family: the grant one code exchange started, renewed
// by rotation. It has one live refresh secret (kept as SecretHash, its SHA-256) and one
// live access token (TokenID, a token of the tokens table).
type OAuthFamily struct {
	ID          string
	PrincipalID string
	ClientID    string
	Audience    string
	SecretHash  [sha256.Size]byte
	TokenID     string
	CreatedAt   time.Time
	// ExpiresAt is when the family ends (rotation keeps it); it is not returned after it.
	ExpiresAt time.Time
	// RotatedAt is the last rotation; CreatedAt until the first.
	RotatedAt time.Time
}

// OAuthRotation replaces a family's live refresh secret and access token.
type OAuthRotation struct {
	FamilyID string
	// OldSecretHash must be the family's live secret hash for the rotation to happen.
	OldSecretHash [sha256.Size]byte
	NewSecretHash [sha256.Size]byte
	NewTokenID    string
	At            time.Time
}

// Bounds of the OAuth grants of one principal.
const (
	// MaxOAuthCodesPerPrincipal bounds a principal's unexpired codes and used-code
	// markers: past it a new code is refused (REQUEST_LIMIT_EXCEEDED).
	MaxOAuthCodesPerPrincipal = 1024
	// MaxOAuthFamiliesPerPrincipal bounds a principal's live refresh families: past it
	// a new sign-in is refused (REQUEST_LIMIT_EXCEEDED) until one is revoked or expires.
	MaxOAuthFamiliesPerPrincipal = 256
)

// OAuthGrantStore keeps authorization codes and refresh-token families. A code is
// single-use across every replica; a rotation is a compare-and-swap on the live secret,
// so of two concurrent rotations with one secret, on any replicas, exactly one wins.
// Deleting a principal deletes its codes and families; making it inactive
// (UpdatePrincipal) ends its families (with their live access tokens) and codes.
//
// Ending a family (DeleteOAuthFamily, DeleteOAuthGrantsOf) also deletes its live access
// token, and a rotation deletes the access token it replaces, in the same transaction:
// a family is its refresh secret and its one access token.
type OAuthGrantStore interface {
	// PutOAuthCode stores c. It first drops up to ExpiredSweep expired codes (as of
	// c.CreatedAt) and the principal's expired codes; a principal already holding
	// maxPerPrincipal is REQUEST_LIMIT_EXCEEDED and nothing is stored. An unknown
	// principal is RESOURCE_DOES_NOT_EXIST; a taken hash RESOURCE_ALREADY_EXISTS.
	PutOAuthCode(ctx context.Context, c *OAuthCode, maxPerPrincipal int) error
	// TakeOAuthCode marks the code used and returns it, if it is unused and not
	// expired at now; otherwise RESOURCE_DOES_NOT_EXIST. Of several concurrent calls for
	// one code, on any replicas, at most one returns it.
	TakeOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*OAuthCode, error)
	// RecordOAuthCodeUse records on a used code what its exchange issued, and keeps its
	// marker until until. A code that is not (or no longer) marked used is
	// RESOURCE_DOES_NOT_EXIST: a second use took the marker meanwhile.
	RecordOAuthCodeUse(ctx context.Context, hash [sha256.Size]byte, familyID, tokenID string, until time.Time) error
	// TakeUsedOAuthCode removes a used code's marker and returns it (with what its
	// exchange issued), if it has not expired at now; otherwise RESOURCE_DOES_NOT_EXIST.
	TakeUsedOAuthCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) (*OAuthCode, error)

	// CreateOAuthFamily stores f. It first drops up to ExpiredSweep expired families
	// (as of f.CreatedAt) and the principal's expired families; a principal already
	// holding maxPerPrincipal live families is REQUEST_LIMIT_EXCEEDED and nothing is
	// stored. An unknown principal is RESOURCE_DOES_NOT_EXIST; a taken ID
	// RESOURCE_ALREADY_EXISTS.
	CreateOAuthFamily(ctx context.Context, f *OAuthFamily, maxPerPrincipal int) error
	// RotateOAuthFamily sets the family's live secret hash, access token and RotatedAt
	// if its live secret hash is r.OldSecretHash and it is live at r.At, deletes the
	// access token it replaces, and returns the family as it was before. A family that
	// is gone, expired, or whose secret is no longer r.OldSecretHash (another rotation
	// won) is RESOURCE_DOES_NOT_EXIST and nothing changes.
	RotateOAuthFamily(ctx context.Context, r OAuthRotation) (*OAuthFamily, error)
	// GetOAuthFamily returns the family if it is live at now (now is before its
	// ExpiresAt); otherwise RESOURCE_DOES_NOT_EXIST.
	GetOAuthFamily(ctx context.Context, id string, now time.Time) (*OAuthFamily, error)
	// ListOAuthFamilies lists the principal's families live at now, oldest first.
	ListOAuthFamilies(ctx context.Context, principalID string, now time.Time) ([]*OAuthFamily, error)
	// DeleteOAuthFamily ends the family and deletes its live access token, returning
	// the family as it was; an unknown one is RESOURCE_DOES_NOT_EXIST.
	DeleteOAuthFamily(ctx context.Context, id string) (*OAuthFamily, error)
	// DeleteOAuthGrantsOf ends every family of the principal (with their live access
	// tokens) and deletes its codes; it returns how many families it ended.
	DeleteOAuthGrantsOf(ctx context.Context, principalID string) (int, error)
}
