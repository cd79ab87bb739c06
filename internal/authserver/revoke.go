package authserver

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Token revocation (RFC 7009) for MCP clients and the CLI: POST /oidc/v1/revoke with a
// form of token, optional token_type_hint, and client_id (public clients: no secret).
//
//   - A refresh token of the client ends its family: the refresh token and the family's
//     live access token.
//   - An access token that is the live access token of one of the client's families
//     ends that token and its family.
//   - Anything else — an unknown, expired or already revoked token, a refresh token
//     rotated away, a token of another client, a token no refresh family issued (a
//     personal access token) — is answered 200 and changes nothing, as RFC 7009 §2.2
//     has it: the answer never tells a client whether a token it does not hold exists.

// RevokePath is the revocation endpoint's path.
const RevokePath = "/oidc/v1/revoke"

// Token type hints (RFC 7009 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Revoker answers revocation requests. A Server whose grants include a Revoker (the
// refresh_token grant of an Authorizer) serves POST RevokePath with it. Revoke returns nil
// for every token it does not revoke, and a *identity.GrantError for a bad request.
type Revoker interface {
	Revoke(ctx context.Context, req identity.TokenRequest) error
}

// Revokes reports whether s serves the revocation endpoint.
func (s *Server) Revokes() bool { return s.revoker != nil }

// serveRevoke reads a revocation request and hands it to the revoker.
func (s *Server) serveRevoke(ctx context.Context, w http.ResponseWriter, r *http.Request, info catalog.RequestInfo) error {
	if s.revoker == nil {
		return grantErr(http.StatusNotFound, "invalid_request", "this server revokes no tokens")
	}
	req, err := s.readRequest(w, r, info, "revocation")
	if err != nil {
		return err
	}
	return s.revoker.Revoke(ctx, req)
}

// Revoke answers one revocation request (RFC 7009 §2.1): it tries the token as the hint
// says first, then as the other kind.
func (g refreshGrant) Revoke(ctx context.Context, req identity.TokenRequest) error {
	a := g.a
	if err := required(req, "token", "client_id"); err != nil {
		return err
	}
	token, clientID, hint := req.Form.Get("token"), req.Form.Get("client_id"), req.Form.Get("token_type_hint")
	Note(ctx, "client_id", bound.Truncate(clientID, 256))
	switch hint {
	case "", HintAccessToken, HintRefreshToken:
		if hint != "" {
			Note(ctx, "token_type_hint", hint)
		}
	default:
		// An unknown hint is ignored (RFC 7009 §2.1: the server may ignore it).
		Note(ctx, "token_type_hint", "other")
	}
	Note(ctx, "revoked", "none")
	tries := []func(context.Context, string, string) (bool, error){a.revokeRefresh, a.revokeAccess}
	if hint == HintAccessToken {
		tries[0], tries[1] = tries[1], tries[0]
	}
	for _, try := range tries {
		done, err := try(ctx, token, clientID)
		if err != nil || done {
			return err
		}
	}
	return nil
}

// revokeRefresh ends the family of a live refresh token of the client.
func (a *Authorizer) revokeRefresh(ctx context.Context, token, clientID string) (bool, error) {
	familyID, secret, ok := strings.Cut(token, ".")
	if !ok || familyID == "" || secret == "" || strings.HasPrefix(token, identity.TokenPrefix) {
		return false, nil
	}
	f, err := a.st.GetOAuthFamily(ctx, familyID, a.opts.Now())
	if catalog.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read refresh family: %w", err)
	}
	sum := secretHash(secret)
	if subtle.ConstantTimeCompare(sum[:], f.SecretHash[:]) != 1 {
		return false, nil // rotated away, or not a refresh token at all: nothing to do
	}
	return a.revokeFamilyOf(ctx, f, clientID, HintRefreshToken)
}

// revokeAccess ends the family whose live access token the token is, if it is the
// client's.
func (a *Authorizer) revokeAccess(ctx context.Context, token, clientID string) (bool, error) {
	t, err := a.st.GetTokenByHash(ctx, identity.HashToken(token))
	if catalog.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read token: %w", err)
	}
	fams, err := a.st.ListOAuthFamilies(ctx, t.PrincipalID, a.opts.Now())
	if err != nil {
		return false, fmt.Errorf("list refresh families: %w", err)
	}
	for _, f := range fams {
		if f.TokenID == t.ID {
			return a.revokeFamilyOf(ctx, f, clientID, HintAccessToken)
		}
	}
	return false, nil // not a token a refresh family issued: not this endpoint's to revoke
}

// revokeFamilyOf ends f if clientID is its client; a token of another client is left
// alone (and the answer is 200 all the same).
func (a *Authorizer) revokeFamilyOf(ctx context.Context, f *catalog.OAuthFamily, clientID, kind string) (bool, error) {
	if clientID != f.ClientID {
		a.opts.Log.Warn("revocation of another client's token refused", "principal_id", f.PrincipalID, "token_id", f.TokenID)
		Note(ctx, "refused", "token of another client")
		return true, nil
	}
	if err := a.endFamily(ctx, f.ID); err != nil {
		return false, err
	}
	if p, err := a.st.GetPrincipal(ctx, f.PrincipalID); err == nil {
		NotePrincipal(ctx, p.Name)
	}
	Note(ctx, "revoked", kind)
	Note(ctx, "token_id", f.TokenID)
	return true, nil
}
