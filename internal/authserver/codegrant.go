package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// familyBinding is a refresh-token family as the store keeps it: the secret of its one
// live refresh token (hashed) and its one live access token.
type familyBinding struct {
	ClientID   string `json:"client_id"`
	Resource   string `json:"resource"`
	SecretHash string `json:"secret_hash"`
	TokenID    string `json:"token_id"`
}

// usedBinding remembers a code after its exchange, so a second use revokes what it issued.
type usedBinding struct {
	TokenID  string `json:"token_id"`
	FamilyID string `json:"family_id"`
}

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
	Note(ctx, "client_id", truncateStr(req.Form.Get("client_id"), 256))
	l, err := a.st.TakePendingLogin(ctx, keyOf(codeKey, code), now)
	if catalog.IsNotFound(err) {
		if err := a.revokeUsedCode(ctx, code, now); err != nil {
			return nil, err
		}
		return nil, invalidGrant("the code is unknown, expired or already used", "")
	}
	if err != nil {
		return nil, fmt.Errorf("take code: %w", err)
	}
	var b codeBinding
	if err := json.Unmarshal(l.SealedVerifier, &b); err != nil {
		return nil, fmt.Errorf("decode code binding: %w", err)
	}
	switch {
	case req.Form.Get("client_id") != b.ClientID:
		return nil, invalidGrant("client_id is not the client the code was issued to", "")
	case req.Form.Get("redirect_uri") != b.RedirectURI:
		return nil, invalidGrant("redirect_uri is not the one of the authorization request", "")
	case !pkceOK(req.Form.Get("code_verifier"), b.CodeChallenge):
		return nil, invalidGrant("code_verifier does not match the code_challenge (PKCE)", "")
	}
	if r := req.Form.Get("resource"); r != "" && r != b.Resource {
		return nil, grantErr(http.StatusBadRequest, "invalid_target", "resource is not the one the code was issued for")
	}
	p, err := a.activeUser(ctx, l.PrincipalID)
	if err != nil {
		return nil, err
	}
	familyID, err := randomValue()
	if err != nil {
		return nil, err
	}
	resp, tokenID, fb, err := a.issue(ctx, p, b.ClientID, b.Resource, familyID)
	if err != nil {
		return nil, err
	}
	fl := &catalog.PendingLogin{StateHash: keyOf(familyKey, familyID), SessionHash: keyOf(principalKey, p.ID), PrincipalID: p.ID,
		ConnectionID: l.ConnectionID, Connection: l.Connection, TokenURL: b.RedirectURI, SealedVerifier: fb,
		CreatedAt: now, ExpiresAt: now.Add(RefreshTTL)}
	if _, err := a.st.PutPendingLogin(ctx, fl, codeLimits); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	ub, _ := json.Marshal(usedBinding{TokenID: tokenID, FamilyID: familyID})
	ul := &catalog.PendingLogin{StateHash: keyOf(usedKey, code), SessionHash: keyOf(principalKey, p.ID), PrincipalID: p.ID,
		ConnectionID: l.ConnectionID, Connection: l.Connection, TokenURL: b.RedirectURI, SealedVerifier: ub,
		CreatedAt: now, ExpiresAt: now.Add(AccessTTL)}
	if _, err := a.st.PutPendingLogin(ctx, ul, codeLimits); err != nil {
		return nil, fmt.Errorf("store used code: %w", err)
	}
	return resp, nil
}

// revokeUsedCode revokes what a code issued when it is presented again (RFC 6749 §4.1.2).
func (a *Authorizer) revokeUsedCode(ctx context.Context, code string, now time.Time) error {
	l, err := a.st.TakePendingLogin(ctx, keyOf(usedKey, code), now)
	if catalog.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("take used code: %w", err)
	}
	var u usedBinding
	if err := json.Unmarshal(l.SealedVerifier, &u); err != nil {
		return fmt.Errorf("decode used code: %w", err)
	}
	Note(ctx, "revoked", "code replay")
	a.opts.Log.Warn("authorization code used twice: revoking what it issued", "token_id", u.TokenID, "principal_id", l.PrincipalID)
	return a.revokeFamily(ctx, u.FamilyID, u.TokenID, now)
}

// revokeFamily deletes the family's refresh token and its access tokens.
func (a *Authorizer) revokeFamily(ctx context.Context, familyID, tokenID string, now time.Time) error {
	ids := []string{tokenID}
	if l, err := a.st.TakePendingLogin(ctx, keyOf(familyKey, familyID), now); err == nil {
		var fb familyBinding
		if json.Unmarshal(l.SealedVerifier, &fb) == nil {
			ids = append(ids, fb.TokenID)
		}
	} else if !catalog.IsNotFound(err) {
		return fmt.Errorf("take refresh family: %w", err)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if err := a.st.DeleteToken(ctx, id); err != nil && !catalog.IsNotFound(err) {
			return fmt.Errorf("revoke token: %w", err)
		}
	}
	return nil
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

// issue mints an access token of p for resource and a new refresh token of the family,
// returning the answer, the access token's id and the family's new binding.
func (a *Authorizer) issue(ctx context.Context, p *catalog.Principal, clientID, resource, familyID string) (*identity.TokenResponse, string, []byte, error) {
	now := a.opts.Now()
	value := identity.NewTokenValue()
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: identity.HashToken(value),
		Comment: tokenComment(clientID), CreatedBy: p.ID, CreatedAt: now, ExpiresAt: now.Add(AccessTTL), Audience: resource}
	if err := a.st.CreateToken(ctx, t); err != nil {
		return nil, "", nil, fmt.Errorf("store token: %w", err)
	}
	secret, err := randomValue()
	if err != nil {
		return nil, "", nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	fb, err := json.Marshal(familyBinding{ClientID: clientID, Resource: resource, SecretHash: hex.EncodeToString(sum[:]), TokenID: t.ID})
	if err != nil {
		return nil, "", nil, fmt.Errorf("encode refresh family: %w", err)
	}
	Note(ctx, "token_id", t.ID)
	Note(ctx, "resource", resource)
	return &identity.TokenResponse{AccessToken: value, TokenType: "Bearer", ExpiresIn: int64(AccessTTL / time.Second),
		RefreshToken: familyID + "." + secret}, t.ID, fb, nil
}

// Exchange answers grant_type=refresh_token (RFC 6749 §6) with rotation: the refresh
// token is replaced and the access token it last issued revoked; a refresh token
// presented after its rotation revokes the whole family (OAuth 2.1 §4.3.1).
func (g refreshGrant) Exchange(ctx context.Context, req identity.TokenRequest) (*identity.TokenResponse, error) {
	a := g.a
	if err := required(req, "refresh_token", "client_id"); err != nil {
		return nil, err
	}
	now := a.opts.Now()
	Note(ctx, "client_id", truncateStr(req.Form.Get("client_id"), 256))
	familyID, secret, ok := strings.Cut(req.Form.Get("refresh_token"), ".")
	if !ok || familyID == "" || secret == "" {
		return nil, invalidGrant("the refresh token is malformed", "")
	}
	l, err := a.st.TakePendingLogin(ctx, keyOf(familyKey, familyID), now)
	if catalog.IsNotFound(err) {
		return nil, invalidGrant("the refresh token is unknown, expired or revoked", "")
	}
	if err != nil {
		return nil, fmt.Errorf("take refresh family: %w", err)
	}
	var fb familyBinding
	if err := json.Unmarshal(l.SealedVerifier, &fb); err != nil {
		return nil, fmt.Errorf("decode refresh family: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(fb.SecretHash)) != 1 || req.Form.Get("client_id") != fb.ClientID {
		// The family was taken above and is not put back: it is revoked.
		if err := a.st.DeleteToken(ctx, fb.TokenID); err != nil && !catalog.IsNotFound(err) {
			return nil, fmt.Errorf("revoke token: %w", err)
		}
		Note(ctx, "revoked", "refresh token reuse")
		a.opts.Log.Warn("refresh token reused or presented by another client: family revoked", "principal_id", l.PrincipalID, "token_id", fb.TokenID)
		return nil, invalidGrant("the refresh token was already used: every token of its grant is revoked", "")
	}
	if r := req.Form.Get("resource"); r != "" && r != fb.Resource {
		return nil, grantErr(http.StatusBadRequest, "invalid_target", "resource is not the one the refresh token was issued for")
	}
	p, err := a.activeUser(ctx, l.PrincipalID)
	if err != nil {
		return nil, err
	}
	resp, _, nb, err := a.issue(ctx, p, fb.ClientID, fb.Resource, familyID)
	if err != nil {
		return nil, err
	}
	nl := *l
	nl.SealedVerifier, nl.CreatedAt = nb, now
	if _, err := a.st.PutPendingLogin(ctx, &nl, codeLimits); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	if err := a.st.DeleteToken(ctx, fb.TokenID); err != nil && !catalog.IsNotFound(err) {
		return nil, fmt.Errorf("revoke replaced token: %w", err)
	}
	return resp, nil
}
