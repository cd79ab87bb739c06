package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// AccessTTL is the lifetime of an access token issued to an MCP client.
const AccessTTL = time.Hour

// RefreshTTL is the lifetime of a refresh-token family, from the code exchange; each
// rotation keeps it.
const RefreshTTL = 30 * 24 * time.Hour

// Grant types of the authorization code flow.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// Grants returns the authorization_code and refresh_token grants for the token endpoint.
func (a *Authorizer) Grants() []identity.TokenGrant {
	return []identity.TokenGrant{codeGrant{a}, refreshGrant{a}}
}

type codeGrant struct{ a *Authorizer }
type refreshGrant struct{ a *Authorizer }

func (codeGrant) GrantType() string    { return GrantAuthorizationCode }
func (refreshGrant) GrantType() string { return GrantRefreshToken }

func invalidGrant(desc, log string) *identity.GrantError {
	return &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: desc, Log: log}
}

func required(req identity.TokenRequest, names ...string) error {
	for _, n := range names {
		if req.Form.Get(n) == "" {
			return grantErr(http.StatusBadRequest, "invalid_request", n+" is required")
		}
	}
	if req.BasicID != "" || req.Form.Get("client_secret") != "" {
		return grantErr(http.StatusUnauthorized, "invalid_client", "MCP clients are public: no client secret")
	}
	return nil
}

// Exchange answers grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (g codeGrant) Exchange(ctx context.Context, req identity.TokenRequest) (*identity.TokenResponse, error) {
	a := g.a
	if err := required(req, "code", "client_id", "redirect_uri", "code_verifier"); err != nil {
		return nil, err
	}
	code, now := req.Form.Get("code"), a.opts.Now()
	Note(ctx, "client_id", bound.Truncate(req.Form.Get("client_id"), 256))
	hash := keyOf(codeKey, code)
	c, err := a.st.TakeOAuthCode(ctx, hash, now)
	if catalog.IsNotFound(err) {
		if err := a.revokeUsedCode(ctx, hash, now); err != nil {
			return nil, err
		}
		return nil, invalidGrant("the code is unknown, expired or already used", "")
	}
	if err != nil {
		return nil, fmt.Errorf("take code: %w", err)
	}
	switch {
	case req.Form.Get("client_id") != c.ClientID:
		return nil, invalidGrant("client_id is not the client the code was issued to", "")
	case req.Form.Get("redirect_uri") != c.RedirectURI:
		return nil, invalidGrant("redirect_uri is not the one of the authorization request", "")
	case !pkceOK(req.Form.Get("code_verifier"), c.CodeChallenge):
		return nil, invalidGrant("code_verifier does not match the code_challenge (PKCE)", "")
	}
	if r := req.Form.Get("resource"); r != "" && r != c.Audience {
		return nil, grantErr(http.StatusBadRequest, "invalid_target", "resource is not the one the code was issued for")
	}
	p, err := a.activeUser(ctx, c.PrincipalID)
	if err != nil {
		return nil, err
	}
	familyID, err := randomValue()
	if err != nil {
		return nil, err
	}
	resp, tokenID, secretHash, err := a.issue(ctx, p, c.ClientID, c.Audience, familyID)
	if err != nil {
		return nil, err
	}
	f := &catalog.OAuthFamily{ID: familyID, PrincipalID: p.ID, ClientID: c.ClientID, Audience: c.Audience, SecretHash: secretHash,
		TokenID: tokenID, CreatedAt: now, ExpiresAt: now.Add(RefreshTTL), RotatedAt: now}
	if err := a.st.CreateOAuthFamily(ctx, f, catalog.MaxOAuthFamiliesPerPrincipal); err != nil {
		a.dropToken(ctx, tokenID)
		switch catalog.CodeOf(err) {
		case catalog.RequestLimitExceeded:
			return nil, invalidGrant(fmt.Sprintf("the user has %d signed-in OAuth clients, the most there may be: revoke one (or let one expire) first", catalog.MaxOAuthFamiliesPerPrincipal), err.Error())
		case catalog.ResourceDoesNotExist: // the user was deleted meanwhile
			return nil, invalidGrant("the user the grant was issued to is deactivated or gone", "")
		}
		return nil, fmt.Errorf("store refresh family: %w", err)
	}
	if err := a.st.RecordOAuthCodeUse(ctx, hash, familyID, tokenID, now.Add(AccessTTL)); err != nil {
		if !catalog.IsNotFound(err) {
			return nil, fmt.Errorf("record code use: %w", err)
		}
		// A second use of the code took its marker meanwhile: what this use issued is
		// revoked too (RFC 6749 §4.1.2).
		if err := a.endFamily(ctx, familyID); err != nil {
			return nil, err
		}
		Note(ctx, "revoked", "code replay")
		return nil, invalidGrant("the code is unknown, expired or already used", "")
	}
	return resp, nil
}

// revokeUsedCode revokes what a code issued when it is presented again (RFC 6749 §4.1.2).
func (a *Authorizer) revokeUsedCode(ctx context.Context, hash [sha256.Size]byte, now time.Time) error {
	u, err := a.st.TakeUsedOAuthCode(ctx, hash, now)
	if catalog.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("take used code: %w", err)
	}
	Note(ctx, "revoked", "code replay")
	a.opts.Log.Warn("authorization code used twice: revoking what it issued", "token_id", u.TokenID, "principal_id", u.PrincipalID)
	if u.FamilyID != "" {
		if err := a.endFamily(ctx, u.FamilyID); err != nil {
			return err
		}
	}
	if u.TokenID != "" {
		if err := a.st.DeleteToken(ctx, u.TokenID); err != nil && !catalog.IsNotFound(err) {
			return fmt.Errorf("revoke token: %w", err)
		}
	}
	return nil
}

// endFamily deletes a refresh family with its live access token; a family already gone
// is not an error.
func (a *Authorizer) endFamily(ctx context.Context, familyID string) error {
	if _, err := a.st.DeleteOAuthFamily(ctx, familyID); err != nil && !catalog.IsNotFound(err) {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return nil
}

// dropToken deletes an access token a refused exchange minted; a failure is logged (the
// token expires within AccessTTL and was never handed out).
func (a *Authorizer) dropToken(ctx context.Context, id string) {
	if err := a.st.DeleteToken(context.WithoutCancel(ctx), id); err != nil && !catalog.IsNotFound(err) {
		a.opts.Log.Error("delete an access token never handed out", "token_id", id, "err", err)
	}
}

func (a *Authorizer) activeUser(ctx context.Context, id string) (*catalog.Principal, error) {
	p, err := a.st.GetPrincipal(ctx, id)
	if catalog.IsNotFound(err) || (err == nil && (!p.Active || p.Kind == catalog.KindGroup)) {
		return nil, invalidGrant("the user the grant was issued to is deactivated or gone", "")
	}
	if err != nil {
		return nil, fmt.Errorf("read principal: %w", err)
	}
	NotePrincipal(ctx, p.Name)
	return p, nil
}

// secretHash is the stored form of a refresh secret.
func secretHash(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// issue mints an access token of p for resource and a new refresh secret of the family,
// returning the answer, the access token's id and the secret's hash.
func (a *Authorizer) issue(ctx context.Context, p *catalog.Principal, clientID, resource, familyID string) (*identity.TokenResponse, string, [sha256.Size]byte, error) {
	now := a.opts.Now()
	value := identity.NewTokenValue()
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: identity.HashToken(value),
		Comment: tokenComment(clientID), CreatedBy: p.ID, CreatedAt: now, ExpiresAt: now.Add(AccessTTL), Audience: resource}
	if err := a.st.CreateToken(ctx, t); err != nil {
		return nil, "", [sha256.Size]byte{}, fmt.Errorf("store token: %w", err)
	}
	secret, err := randomValue()
	if err != nil {
		a.dropToken(ctx, t.ID)
		return nil, "", [sha256.Size]byte{}, err
	}
	Note(ctx, "token_id", t.ID)
	Note(ctx, "resource", resource)
	return &identity.TokenResponse{AccessToken: value, TokenType: "Bearer", ExpiresIn: int64(AccessTTL / time.Second),
		RefreshToken: familyID + "." + secret}, t.ID, secretHash(secret), nil
}

// Exchange answers grant_type=refresh_token (RFC 6749 §6) with rotation: the refresh
// token is replaced and the access token it last issued revoked; a refresh token
// presented after its rotation revokes the whole family (OAuth 2.1 §4.3.1), and so does
// the loser of two concurrent rotations with one refresh token (the store's
// compare-and-swap lets exactly one win).
func (g refreshGrant) Exchange(ctx context.Context, req identity.TokenRequest) (*identity.TokenResponse, error) {
	a := g.a
	if err := required(req, "refresh_token", "client_id"); err != nil {
		return nil, err
	}
	now := a.opts.Now()
	Note(ctx, "client_id", bound.Truncate(req.Form.Get("client_id"), 256))
	familyID, secret, ok := strings.Cut(req.Form.Get("refresh_token"), ".")
	if !ok || familyID == "" || secret == "" {
		return nil, invalidGrant("the refresh token is malformed", "")
	}
	f, err := a.st.GetOAuthFamily(ctx, familyID, now)
	if catalog.IsNotFound(err) {
		return nil, invalidGrant("the refresh token is unknown, expired or revoked", "")
	}
	if err != nil {
		return nil, fmt.Errorf("read refresh family: %w", err)
	}
	sum := secretHash(secret)
	if subtle.ConstantTimeCompare(sum[:], f.SecretHash[:]) != 1 || req.Form.Get("client_id") != f.ClientID {
		return nil, a.reused(ctx, f)
	}
	if r := req.Form.Get("resource"); r != "" && r != f.Audience {
		return nil, grantErr(http.StatusBadRequest, "invalid_target", "resource is not the one the refresh token was issued for")
	}
	p, err := a.activeUser(ctx, f.PrincipalID)
	if err != nil {
		var ge *identity.GrantError
		if errors.As(err, &ge) {
			// A deactivated or gone user's family ends here, whatever ended it elsewhere.
			if err := a.endFamily(ctx, f.ID); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	resp, tokenID, next, err := a.issue(ctx, p, f.ClientID, f.Audience, familyID)
	if err != nil {
		return nil, err
	}
	_, err = a.st.RotateOAuthFamily(ctx, catalog.OAuthRotation{FamilyID: f.ID, OldSecretHash: sum, NewSecretHash: next, NewTokenID: tokenID, At: now})
	if catalog.IsNotFound(err) {
		// Another rotation with this refresh token won (or the family ended meanwhile).
		a.dropToken(ctx, tokenID)
		return nil, a.reused(ctx, f)
	}
	if err != nil {
		a.dropToken(ctx, tokenID)
		return nil, fmt.Errorf("rotate refresh family: %w", err)
	}
	return resp, nil
}

// reused revokes a family whose refresh token was presented again, or by another client.
func (a *Authorizer) reused(ctx context.Context, f *catalog.OAuthFamily) error {
	if err := a.endFamily(ctx, f.ID); err != nil {
		return err
	}
	Note(ctx, "revoked", "refresh token reuse")
	a.opts.Log.Warn("refresh token reused or presented by another client: family revoked", "principal_id", f.PrincipalID, "token_id", f.TokenID)
	return invalidGrant("the refresh token was already used: every token of its grant is revoked", "")
}
