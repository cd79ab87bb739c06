package catalog

import (
	"context"
	"time"
)

// FederationPolicy (workload identity federation, issue 12) lets a workload sign in as a
// service principal with a JWT from an outside issuer (a Kubernetes service-account
// token, a CI OIDC token) at POST /oidc/v1/token. The JWT must be signed by the issuer
// (keys from JWKSJSON when set, else from the issuer's discovery document), name Issuer
// exactly as iss, carry one of Audiences in aud, and carry Subject exactly in the claim
// SubjectClaim.
type FederationPolicy struct {
	ID           string
	PrincipalID  string // the service principal
	Issuer       string
	Audiences    []string
	Subject      string
	SubjectClaim string // "sub" unless set
	// JWKSJSON is a JSON Web Key Set (public keys only) for issuers Gatehouse cannot
	// reach (a private cluster); "" means the issuer's discovery document.
	JWKSJSON  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FederationPolicyStore keeps federation policies. A missing policy is
// RESOURCE_DOES_NOT_EXIST; a policy of an unknown principal too. Deleting a principal
// deletes its policies.
type FederationPolicyStore interface {
	// CreateFederationPolicy stores p; p.ID must be set.
	CreateFederationPolicy(ctx context.Context, p *FederationPolicy) error
	GetFederationPolicy(ctx context.Context, id string) (*FederationPolicy, error)
	// ListFederationPolicies lists the policies of one principal, oldest first.
	ListFederationPolicies(ctx context.Context, principalID string) ([]*FederationPolicy, error)
	// UpdateFederationPolicy replaces issuer, audiences, subject, subject claim, JWKS and
	// UpdatedAt; the principal and the creation time never change.
	UpdateFederationPolicy(ctx context.Context, p *FederationPolicy) error
	DeleteFederationPolicy(ctx context.Context, id string) error
}
