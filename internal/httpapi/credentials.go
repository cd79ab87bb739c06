package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (s *Server) statusJSON(ctx context.Context, st credential.Status) (CredentialStatus, error) {
	out := CredentialStatus{State: string(st.State), Reason: st.Reason, AccessTokenExpiration: msec(st.AccessExpiresAt),
		RefreshTokenExpiration: msec(st.RefreshExpiresAt), LastRefreshedAt: msec(st.LastRefreshedAt), LastUsedAt: msec(st.LastUsedAt)}
	if st.AuthorizedBy != "" {
		n, err := s.principalNames(ctx, st.AuthorizedBy)
		if err != nil {
			return out, err
		}
		out.AuthorizedBy = n[0]
	}
	return out, nil
}

// userCredential resolves {name}/user-credentials/{principal}: the principal itself,
// or a MANAGE holder of the connection (admins included), may look and disconnect.
func (s *Server) userCredential(r *http.Request, who *identity.Identity) (*catalog.Connection, *catalog.Principal, error) {
	c, err := s.lookupConnection(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, nil, err
	}
	if c.CredentialType != catalog.OAuthU2MPerUser {
		return nil, nil, catalog.Errorf(catalog.InvalidParameterValue, "connection %s uses %s; only OAUTH_U2M_PER_USER connections hold user credentials", c.Name, c.CredentialType)
	}
	name := r.PathValue("principal")
	p := who.Principal
	if !strings.EqualFold(name, who.Principal.Name) {
		privs, err := s.Access.Connection(r.Context(), who.Principal, c)
		if err != nil {
			return nil, nil, err
		}
		if !privs.Has(catalog.Manage) {
			return nil, nil, catalog.Errorf(catalog.PermissionDenied, "User %s may only see and disconnect their own credential of connection %s", who.Principal.Name, c.Name)
		}
		if p, err = s.Store.GetPrincipalByName(r.Context(), name); err != nil {
			return nil, nil, principalNotFound(err, name)
		}
	}
	return c, p, nil
}

func (s *Server) getUserCredential(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, p, err := s.userCredential(r, who)
	if err != nil {
		return err
	}
	st, err := s.Broker.Status(r.Context(), c, p)
	if err != nil {
		return err
	}
	js, err := s.statusJSON(r.Context(), st)
	if err != nil {
		return err
	}
	return ok(w, UserCredentialInfo{Connection: c.Name, Principal: p.Name, CredentialStatus: js})
}

func (s *Server) deleteUserCredential(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, p, err := s.userCredential(r, who)
	if err != nil {
		return err
	}
	note(r, "op", "disconnect")
	note(r, "holder", p.Name)
	if err := s.Broker.Disconnect(r.Context(), c, p.ID); err != nil {
		if catalog.IsNotFound(err) {
			return catalog.Errorf(catalog.ResourceDoesNotExist, "%s has no credential for connection %s", p.Name, c.Name)
		}
		return err
	}
	return ok(w, struct{}{})
}

func (s *Server) inventory(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	items, err := s.Governance.Inventory(r.Context(), who.Principal)
	if err != nil {
		return err
	}
	out := InventoryResponse{Credentials: make([]InventoryItem, 0, len(items))}
	for _, it := range items {
		out.Credentials = append(out.Credentials, InventoryItem{Connection: it.Connection, CredentialType: string(it.CredentialType), Holder: it.Holder,
			State: string(it.State), Reason: it.Reason, AccessTokenExpiration: msec(it.AccessExpiresAt), RefreshTokenExpiration: msec(it.RefreshExpiresAt),
			LastUsedAt: msec(it.LastUsedAt), LastRefreshedAt: msec(it.LastRefreshedAt), AuthorizedBy: it.AuthorizedBy, GranteeCount: it.GranteeCount})
	}
	return ok(w, out)
}

func (s *Server) checkProvider(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, _, err := s.connectionFor(r, who, access.PrivManage, "MANAGE")
	if err != nil {
		return err
	}
	if !c.CredentialType.IsOAuth() {
		return catalog.Errorf(catalog.InvalidParameterValue, "connection %s uses %s; provider checks are for OAuth connections", c.Name, c.CredentialType)
	}
	cfg, err := s.Broker.Config(c)
	if err != nil {
		return err
	}
	checks := s.OAuth.CheckProvider(r.Context(), cfg, s.Broker.RedirectURI(), c.CredentialType == catalog.OAuthM2M)
	out := ProviderCheckResponse{Connection: c.Name, RedirectURI: s.Broker.RedirectURI(), Checks: []ProviderCheck{}}
	for _, ch := range checks {
		out.Checks = append(out.Checks, ProviderCheck{Name: ch.Name, Result: ch.Result, Evidence: ch.Evidence, Fix: ch.Fix})
	}
	return ok(w, out)
}
