package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// statusJSONOf is the API JSON of a credential status.
func statusJSONOf(st governance.CredentialStatus) CredentialStatus {
	return CredentialStatus{State: string(st.State), Reason: st.Reason, AccessTokenExpiration: msec(st.AccessExpiresAt),
		RefreshTokenExpiration: msec(st.RefreshExpiresAt), LastRefreshedAt: msec(st.LastRefreshedAt), LastUsedAt: msec(st.LastUsedAt),
		AuthorizedBy: st.AuthorizedByName}
}

func (s *Server) getUserCredential(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, p, st, err := s.Governance.UserCredential(r.Context(), who.Principal, r.PathValue("name"), r.PathValue("principal"))
	if err != nil {
		return err
	}
	return ok(w, UserCredentialInfo{Connection: c.Name, Principal: p.Name, CredentialStatus: statusJSONOf(st)})
}

func (s *Server) deleteUserCredential(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, p, _, err := s.Governance.UserCredential(r.Context(), who.Principal, r.PathValue("name"), r.PathValue("principal"))
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
	pc, err := s.Governance.CheckProvider(r.Context(), who.Principal, r.PathValue("name"))
	if err != nil {
		return err
	}
	out := ProviderCheckResponse{Connection: pc.Connection, RedirectURI: pc.RedirectURI, Checks: []ProviderCheck{}}
	for _, ch := range pc.Checks {
		out.Checks = append(out.Checks, ProviderCheck{Name: ch.Name, Result: ch.Result, Evidence: ch.Evidence, Fix: ch.Fix})
	}
	return ok(w, out)
}
