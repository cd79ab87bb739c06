package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Token lifetimes. Every token minted through the API expires: lifetime_seconds 0 or
// left out means DefaultTokenLifetime, and a longer one may be asked for up to
// MaxTokenLifetime. There is no token that never expires (only the bootstrap admin
// token, which the operator supplies, is outside this API).
const (
	// DefaultTokenLifetime is the lifetime of a token created without lifetime_seconds.
	DefaultTokenLifetime = 90 * 24 * time.Hour
	// MaxTokenLifetime bounds lifetime_seconds (ten years).
	MaxTokenLifetime = 10 * 365 * 24 * time.Hour
)

func (s *Server) requireAdmin(ctx context.Context, who *identity.Identity) error {
	admin, err := s.Access.IsAdmin(ctx, who.Principal)
	if err != nil {
		return err
	}
	if !admin {
		return catalog.Errorf(catalog.PermissionDenied, "User %s is not a metastore admin", who.Principal.Name)
	}
	return nil
}

// mintToken creates a token for p and answers with its value, shown this once.
func (s *Server) mintToken(w http.ResponseWriter, r *http.Request, who *identity.Identity, p *catalog.Principal, lifetime int64, comment string) error {
	if lifetime < 0 {
		return catalog.Errorf(catalog.InvalidParameterValue, "lifetime_seconds must not be negative; leave it out for the default of %d (90 days)", int64(DefaultTokenLifetime/time.Second))
	}
	if lifetime > int64(MaxTokenLifetime/time.Second) {
		return catalog.Errorf(catalog.InvalidParameterValue, "lifetime_seconds must be at most %d (ten years); every token expires", int64(MaxTokenLifetime/time.Second))
	}
	if lifetime == 0 {
		lifetime = int64(DefaultTokenLifetime / time.Second)
	}
	if len(comment) > 1024 {
		return catalog.Errorf(catalog.InvalidParameterValue, "comment must be at most 1024 characters")
	}
	if !p.Active {
		return catalog.Errorf(catalog.InvalidParameterValue, "principal %s is deactivated", p.Name)
	}
	now := s.Now()
	value := identity.NewTokenValue()
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: p.ID, Hash: identity.HashToken(value), Comment: comment, CreatedBy: who.Principal.ID, CreatedAt: now}
	t.ExpiresAt = now.Add(time.Duration(lifetime) * time.Second)
	note(r, "token_id", t.ID)
	note(r, "token_principal", p.Name)
	note(r, "lifetime_seconds", strconv.FormatInt(lifetime, 10))
	if err := s.Store.CreateToken(r.Context(), t); err != nil {
		return err
	}
	info, err := s.tokenInfo(r.Context(), t)
	if err != nil {
		return err
	}
	return ok(w, CreateTokenResponse{TokenValue: value, TokenInfo: info})
}

func (s *Server) tokenInfo(ctx context.Context, t *catalog.Token) (TokenInfo, error) {
	names, err := s.principalNames(ctx, t.PrincipalID, t.CreatedBy)
	if err != nil {
		return TokenInfo{}, err
	}
	exp := int64(-1)
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.UnixMilli()
	}
	return TokenInfo{TokenID: t.ID, CreationTime: msec(t.CreatedAt), ExpiryTime: exp, Comment: t.Comment,
		OwnerID: t.PrincipalID, OwnerName: names[0], CreatedByUsername: names[1], LastUsedTime: msec(t.LastUsedAt)}, nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var req CreateTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	return s.mintToken(w, r, who, who.Principal, req.LifetimeSeconds, req.Comment)
}

func (s *Server) listTokensOf(w http.ResponseWriter, r *http.Request, principalID string) error {
	ts, err := s.Store.ListTokens(r.Context(), principalID)
	if err != nil {
		return err
	}
	out := ListTokensResponse{TokenInfos: []TokenInfo{}}
	for _, t := range ts {
		info, err := s.tokenInfo(r.Context(), t)
		if err != nil {
			return err
		}
		out.TokenInfos = append(out.TokenInfos, info)
	}
	return ok(w, out)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	return s.listTokensOf(w, r, who.Principal.ID)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var req DeleteTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	note(r, "token_id", req.TokenID)
	t, err := s.Store.GetToken(r.Context(), req.TokenID)
	if catalog.IsNotFound(err) || (err == nil && t.PrincipalID != who.Principal.ID) {
		return catalog.Errorf(catalog.ResourceDoesNotExist, "token %s does not exist", truncateName(req.TokenID))
	}
	if err != nil {
		return err
	}
	if err := s.Store.DeleteToken(r.Context(), t.ID); err != nil {
		return err
	}
	return ok(w, struct{}{})
}

func (s *Server) createOBOToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	var req CreateOBOTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name, kind := req.ApplicationID, catalog.KindServicePrincipal
	switch {
	case req.ApplicationID != "" && req.UserName != "":
		return catalog.Errorf(catalog.InvalidParameterValue, "give application_id or user_name, not both")
	case req.UserName != "":
		name, kind = req.UserName, catalog.KindUser
	case req.ApplicationID == "":
		return catalog.Errorf(catalog.InvalidParameterValue, "application_id (a service principal) or user_name is required")
	}
	p, err := s.Store.GetPrincipalByName(r.Context(), name)
	if err != nil || p.Kind != kind {
		if err == nil || catalog.IsNotFound(err) {
			return catalog.Errorf(catalog.ResourceDoesNotExist, "%s %s does not exist", kindWord(kind), truncateName(name))
		}
		return err
	}
	return s.mintToken(w, r, who, p, req.LifetimeSeconds, req.Comment)
}

func kindWord(k catalog.PrincipalKind) string {
	switch k {
	case catalog.KindUser:
		return "user"
	case catalog.KindServicePrincipal:
		return "service principal"
	}
	return "group"
}

func (s *Server) listAllTokens(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	return s.listTokensOf(w, r, "")
}

func (s *Server) deleteAnyToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	id := r.PathValue("id")
	note(r, "token_id", id)
	if err := s.Store.DeleteToken(r.Context(), id); err != nil {
		if catalog.IsNotFound(err) {
			return catalog.Errorf(catalog.ResourceDoesNotExist, "token %s does not exist", truncateName(id))
		}
		return err
	}
	return ok(w, struct{}{})
}
