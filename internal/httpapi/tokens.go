package httpapi

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Token lifetimes (governance's): lifetime_seconds 0 or left out means
// DefaultTokenLifetime, and a longer one may be asked for up to MaxTokenLifetime.
const (
	// DefaultTokenLifetime is the lifetime of a token created without lifetime_seconds.
	DefaultTokenLifetime = governance.DefaultTokenLifetime
	// MaxTokenLifetime bounds lifetime_seconds (ten years).
	MaxTokenLifetime = governance.MaxTokenLifetime
)

func (s *Server) requireAdmin(ctx context.Context, who *identity.Identity) error {
	return s.Governance.RequireAdmin(ctx, who.Principal)
}

func tokenInfo(t governance.TokenInfo) TokenInfo {
	exp := int64(-1)
	if !t.Token.ExpiresAt.IsZero() {
		exp = t.Token.ExpiresAt.UnixMilli()
	}
	return TokenInfo{TokenID: t.Token.ID, CreationTime: msec(t.Token.CreatedAt), ExpiryTime: exp, Comment: t.Token.Comment,
		OwnerID: t.Token.PrincipalID, OwnerName: t.OwnerName, CreatedByUsername: t.CreatedByName, LastUsedTime: msec(t.Token.LastUsedAt)}
}

// minted answers with a new token's value, shown this once.
func minted(w http.ResponseWriter, r *http.Request, rec *governance.Record, value string, info governance.TokenInfo, err error) error {
	noteRecord(r, rec)
	if err != nil {
		return err
	}
	return ok(w, CreateTokenResponse{TokenValue: value, TokenInfo: tokenInfo(info)})
}

func tokenList(w http.ResponseWriter, ts []governance.TokenInfo, err error) error {
	if err != nil {
		return err
	}
	out := ListTokensResponse{TokenInfos: make([]TokenInfo, 0, len(ts))}
	for _, t := range ts {
		out.TokenInfos = append(out.TokenInfos, tokenInfo(t))
	}
	return ok(w, out)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var req CreateTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var rec governance.Record
	value, info, err := s.Governance.CreateToken(r.Context(), who.Principal, governance.NewToken{LifetimeSeconds: req.LifetimeSeconds, Comment: req.Comment}, &rec)
	return minted(w, r, &rec, value, info, err)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ts, err := s.Governance.ListTokens(r.Context(), who.Principal)
	return tokenList(w, ts, err)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var req DeleteTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var rec governance.Record
	err := s.Governance.DeleteToken(r.Context(), who.Principal, req.TokenID, &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	return ok(w, struct{}{})
}

func (s *Server) createOBOToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	// The admin check comes before the body is read: a non-admin learns nothing from it.
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	var req CreateOBOTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var rec governance.Record
	value, info, err := s.Governance.CreateTokenFor(r.Context(), who.Principal, governance.TokenFor{ApplicationID: req.ApplicationID, UserName: req.UserName},
		governance.NewToken{LifetimeSeconds: req.LifetimeSeconds, Comment: req.Comment}, &rec)
	return minted(w, r, &rec, value, info, err)
}

func (s *Server) listAllTokens(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ts, err := s.Governance.ListAllTokens(r.Context(), who.Principal)
	return tokenList(w, ts, err)
}

func (s *Server) deleteAnyToken(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var rec governance.Record
	err := s.Governance.DeleteAnyToken(r.Context(), who.Principal, r.PathValue("id"), &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	return ok(w, struct{}{})
}
