package httpapi

import (
	"context"
	"net/http"
	"sort"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (s *Server) statusJSON(ctx context.Context, st credential.Status) (CredentialStatus, error) {
	out := statusJSONOf(governance.CredentialStatus{Status: st})
	if st.AuthorizedBy != "" {
		n, err := s.principalNames(ctx, st.AuthorizedBy)
		if err != nil {
			return out, err
		}
		out.AuthorizedBy = n[0]
	}
	return out, nil
}

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
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	ctx := r.Context()
	all, err := s.Store.ListConnections(ctx, "", 0)
	if err != nil {
		return err
	}
	byID := map[string]*catalog.Connection{}
	out := InventoryResponse{Credentials: []InventoryItem{}}
	grantees := func(c *catalog.Connection) (int, error) {
		gs, err := s.Store.ListGrants(ctx, catalog.SecurableConnection, c.ID)
		if err != nil {
			return 0, err
		}
		seen := map[string]bool{}
		for _, g := range gs {
			if g.Privilege == catalog.UseConnection || g.Privilege == catalog.AllPrivileges {
				seen[g.PrincipalID] = true
			}
		}
		return len(seen), nil
	}
	for _, c := range all {
		byID[c.ID] = c
		if c.CredentialType == catalog.BearerToken {
			st, _ := s.Broker.Status(ctx, c, nil)
			n, err := grantees(c)
			if err != nil {
				return err
			}
			out.Credentials = append(out.Credentials, InventoryItem{Connection: c.Name, CredentialType: string(c.CredentialType), Holder: "shared",
				State: string(st.State), Reason: st.Reason, GranteeCount: n})
		}
	}
	sts, conns, err := s.Broker.Inventory(ctx, byID)
	if err != nil {
		return err
	}
	for i, st := range sts {
		c := conns[i]
		js, err := s.statusJSON(ctx, st)
		if err != nil {
			return err
		}
		holder := "shared"
		if st.Holder != "" {
			n, err := s.principalNames(ctx, st.Holder)
			if err != nil {
				return err
			}
			holder = n[0]
		}
		n, err := grantees(c)
		if err != nil {
			return err
		}
		out.Credentials = append(out.Credentials, InventoryItem{Connection: c.Name, CredentialType: string(c.CredentialType), Holder: holder,
			State: js.State, Reason: js.Reason, AccessTokenExpiration: js.AccessTokenExpiration, RefreshTokenExpiration: js.RefreshTokenExpiration,
			LastUsedAt: js.LastUsedAt, LastRefreshedAt: js.LastRefreshedAt, AuthorizedBy: js.AuthorizedBy, GranteeCount: n})
	}
	// A user-to-machine connection nobody has logged in to yet holds no credential,
	// yet it is where a newcomer is stuck: it gets one NEEDS_LOGIN row, whose holder is
	// "shared" or, per user, InventoryNoUserYet. A per-user connection that some users
	// logged in to lists only theirs: the users who have not are not enumerated.
	held := map[string]bool{}
	for _, c := range conns {
		held[c.ID] = true
	}
	for _, c := range all {
		if held[c.ID] || (c.CredentialType != catalog.OAuthU2M && c.CredentialType != catalog.OAuthU2MPerUser) {
			continue
		}
		item := InventoryItem{Connection: c.Name, CredentialType: string(c.CredentialType), Holder: "shared", State: string(catalog.StateNeedsLogin),
			Reason: "nobody has authorized this connection yet; the owner or a MANAGE holder logs in at " + s.Broker.LoginURL(c.Name)}
		if c.CredentialType == catalog.OAuthU2MPerUser {
			item.Holder = InventoryNoUserYet
			item.Reason = "no user has logged in to this connection yet; each user logs in at " + s.Broker.LoginURL(c.Name)
		}
		if !c.Enabled {
			item.State, item.Reason = string(catalog.StateDisabled), "the connection is disabled"
		}
		n, err := grantees(c)
		if err != nil {
			return err
		}
		item.GranteeCount = n
		out.Credentials = append(out.Credentials, item)
	}
	sort.SliceStable(out.Credentials, func(i, j int) bool {
		a, b := out.Credentials[i], out.Credentials[j]
		if a.Connection != b.Connection {
			return a.Connection < b.Connection
		}
		return a.Holder < b.Holder
	})
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
