package governance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Personal access tokens: a principal's own (create, list, revoke), and admins' tokens
// on behalf of users and service principals. A token's value is returned once, by
// the create operation; the store keeps only its hash.

// Token lifetimes. Every token minted through the operations expires: a lifetime of 0
// means DefaultTokenLifetime, and a longer one may be asked for up to
// MaxTokenLifetime. There is no token that never expires (only the bootstrap admin
// token, which the operator supplies, is outside them).
const (
	// DefaultTokenLifetime is the lifetime of a token created without one.
	DefaultTokenLifetime = 90 * 24 * time.Hour
	// MaxTokenLifetime bounds the lifetime (ten years).
	MaxTokenLifetime = 10 * 365 * 24 * time.Hour
	// maxTokenComment bounds a token's comment.
	maxTokenComment = 1024
)

// NewToken is what a caller asks for when creating a token.
type NewToken struct {
	// LifetimeSeconds 0 means DefaultTokenLifetime.
	LifetimeSeconds int64
	Comment         string
}

// TokenFor names whom an admin mints a token for: a service principal by application
// id, or a user by name (exactly one).
type TokenFor struct {
	ApplicationID string
	UserName      string
}

// TokenInfo is a token as the operations show it: never its value or hash.
type TokenInfo struct {
	Token         *catalog.Token
	OwnerName     string
	CreatedByName string
}

// CreateToken mints a token for who itself and returns its value, shown this once.
func (s *Service) CreateToken(ctx context.Context, who *catalog.Principal, req NewToken, rec *Record) (string, TokenInfo, error) {
	return s.mintToken(ctx, who, who, req, rec)
}

// CreateTokenFor mints a token for a service principal or user; admins only.
func (s *Service) CreateTokenFor(ctx context.Context, who *catalog.Principal, target TokenFor, req NewToken, rec *Record) (string, TokenInfo, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return "", TokenInfo{}, err
	}
	name, kind := target.ApplicationID, catalog.KindServicePrincipal
	switch {
	case target.ApplicationID != "" && target.UserName != "":
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "give application_id or user_name, not both")
	case target.UserName != "":
		name, kind = target.UserName, catalog.KindUser
	case target.ApplicationID == "":
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "application_id (a service principal) or user_name is required")
	}
	p, err := s.d.Store.GetPrincipalByName(ctx, name)
	if err != nil || p.Kind != kind {
		if err == nil || catalog.IsNotFound(err) {
			return "", TokenInfo{}, catalog.Errorf(catalog.ResourceDoesNotExist, "%s %s does not exist", KindWord(kind), truncate(name, 64))
		}
		return "", TokenInfo{}, err
	}
	return s.mintToken(ctx, who, p, req, rec)
}

// KindWord is how messages name a principal kind: user, service principal or group.
func KindWord(k catalog.PrincipalKind) string {
	switch k {
	case catalog.KindUser:
		return "user"
	case catalog.KindServicePrincipal:
		return "service principal"
	}
	return "group"
}

func (s *Service) mintToken(ctx context.Context, who, p *catalog.Principal, req NewToken, rec *Record) (string, TokenInfo, error) {
	lifetime := req.LifetimeSeconds
	if lifetime < 0 {
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "lifetime_seconds must not be negative; leave it out for the default of %d (90 days)", int64(DefaultTokenLifetime/time.Second))
	}
	if lifetime > int64(MaxTokenLifetime/time.Second) {
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "lifetime_seconds must be at most %d (ten years); every token expires", int64(MaxTokenLifetime/time.Second))
	}
	if lifetime == 0 {
		lifetime = int64(DefaultTokenLifetime / time.Second)
	}
	if len(req.Comment) > maxTokenComment {
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "comment must be at most %d characters", maxTokenComment)
	}
	if !p.Active {
		return "", TokenInfo{}, catalog.Errorf(catalog.InvalidParameterValue, "principal %s is deactivated", p.Name)
	}
	now := s.d.Now()
	value := identity.NewTokenValue()
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: identity.HashToken(value), Comment: req.Comment, CreatedBy: who.ID, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(lifetime) * time.Second)}
	rec.Set("token_id", t.ID)
	rec.Set("token_principal", p.Name)
	rec.Set("lifetime_seconds", strconv.FormatInt(lifetime, 10))
	if err := s.d.Store.CreateToken(ctx, t); err != nil {
		return "", TokenInfo{}, err
	}
	info, err := s.tokenInfo(ctx, s.names(), t)
	if err != nil {
		return "", TokenInfo{}, err
	}
	return value, info, nil
}

func (s *Service) tokenInfo(ctx context.Context, n *names, t *catalog.Token) (TokenInfo, error) {
	owner, err := n.of(ctx, t.PrincipalID)
	if err != nil {
		return TokenInfo{}, err
	}
	by, err := n.of(ctx, t.CreatedBy)
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{Token: t, OwnerName: owner, CreatedByName: by}, nil
}

func (s *Service) listTokens(ctx context.Context, principalID string) ([]TokenInfo, error) {
	ts, err := s.d.Store.ListTokens(ctx, principalID)
	if err != nil {
		return nil, err
	}
	n := s.names()
	out := make([]TokenInfo, 0, len(ts))
	for _, t := range ts {
		info, err := s.tokenInfo(ctx, n, t)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// ListTokens lists who's own tokens.
func (s *Service) ListTokens(ctx context.Context, who *catalog.Principal) ([]TokenInfo, error) {
	return s.listTokens(ctx, who.ID)
}

// ListAllTokens lists every principal's tokens; admins only.
func (s *Service) ListAllTokens(ctx context.Context, who *catalog.Principal) ([]TokenInfo, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	return s.listTokens(ctx, "")
}

// DeleteToken revokes one of who's own tokens. Another principal's token does not
// exist, as far as who may learn.
func (s *Service) DeleteToken(ctx context.Context, who *catalog.Principal, id string, rec *Record) error {
	rec.Set("token_id", id)
	t, err := s.d.Store.GetToken(ctx, id)
	if catalog.IsNotFound(err) || (err == nil && t.PrincipalID != who.ID) {
		return catalog.Errorf(catalog.ResourceDoesNotExist, "token %s does not exist", truncate(id, 64))
	}
	if err != nil {
		return err
	}
	if err := s.d.Store.DeleteToken(ctx, t.ID); err != nil {
		return err
	}
	return s.endFamilyOf(ctx, t, rec)
}

// endFamilyOf ends the OAuth refresh-token family whose live access token t was (a token
// an MCP client or `gatehouse auth login` got from /oidc/v1/token), so that revoking the
// token also stops the client from refreshing it into a new one. A personal access token
// belongs to no family: nothing changes.
func (s *Service) endFamilyOf(ctx context.Context, t *catalog.Token, rec *Record) error {
	fams, err := s.d.Store.ListOAuthFamilies(ctx, t.PrincipalID, s.d.Now())
	if err != nil {
		return fmt.Errorf("revoke token: find its sign-in: %w", err)
	}
	for _, f := range fams {
		if f.TokenID != t.ID {
			continue
		}
		if _, err := s.d.Store.DeleteOAuthFamily(ctx, f.ID); err != nil && !catalog.IsNotFound(err) {
			return fmt.Errorf("revoke token: end its sign-in: %w", err)
		}
		rec.Set("client_id", f.ClientID)
		rec.Set("ended_refresh_family", "true")
	}
	return nil
}

// DeleteAnyToken revokes any principal's token; admins only.
func (s *Service) DeleteAnyToken(ctx context.Context, who *catalog.Principal, id string, rec *Record) error {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return err
	}
	rec.Set("token_id", id)
	t, err := s.d.Store.GetToken(ctx, id)
	if err == nil {
		err = s.d.Store.DeleteToken(ctx, id)
	}
	if err != nil {
		if catalog.IsNotFound(err) {
			return catalog.Errorf(catalog.ResourceDoesNotExist, "token %s does not exist", truncate(id, 64))
		}
		return err
	}
	return s.endFamilyOf(ctx, t, rec)
}
