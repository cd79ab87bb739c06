package httpapi

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

const maxPermissionChanges = 100

// securable resolves {securable_type}/{name} of the permissions paths. c is nil for the
// metastore.
func (s *Server) securable(r *http.Request) (catalog.SecurableType, string, *catalog.Connection, error) {
	switch strings.ToLower(r.PathValue("type")) {
	case "connection":
		c, err := s.lookupConnection(r.Context(), r.PathValue("name"))
		if err != nil {
			return "", "", nil, err
		}
		return catalog.SecurableConnection, c.ID, c, nil
	case "metastore":
		if n := r.PathValue("name"); n != catalog.MetastoreID {
			return "", "", nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Metastore '%s' does not exist; this deployment has one metastore, named default", truncateName(n))
		}
		return catalog.SecurableMetastore, catalog.MetastoreID, nil, nil
	}
	return "", "", nil, catalog.Errorf(catalog.InvalidParameterValue, "securable type %q is not supported; use connection or metastore", truncateName(r.PathValue("type")))
}

// canManageGrants: owner, MANAGE or admin on a connection; admins on the metastore.
func (s *Server) canManageGrants(ctx context.Context, who *identity.Identity, c *catalog.Connection) (bool, error) {
	if c == nil {
		return s.Access.IsAdmin(ctx, who.Principal)
	}
	privs, err := s.Access.Connection(ctx, who.Principal, c)
	return privs.Has(catalog.Manage), err
}

func (s *Server) getPermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	t, id, c, err := s.securable(r)
	if err != nil {
		return err
	}
	if c != nil {
		privs, err := s.Access.Connection(r.Context(), who.Principal, c)
		if err != nil {
			return err
		}
		if privs == 0 {
			return catalog.Errorf(catalog.PermissionDenied, "User %s does not have any privilege on connection %s", who.Principal.Name, c.Name)
		}
	}
	var only string
	if p := r.URL.Query().Get("principal"); p != "" {
		pr, err := s.Store.GetPrincipalByName(r.Context(), p)
		if err != nil {
			return principalNotFound(err, p)
		}
		only = pr.ID
	}
	list, err := s.permissionsList(r.Context(), t, id, only)
	if err != nil {
		return err
	}
	return ok(w, list)
}

func principalNotFound(err error, name string) error {
	if catalog.IsNotFound(err) {
		return catalog.Errorf(catalog.InvalidParameterValue, "principal %s does not exist", truncateName(name))
	}
	return err
}

func (s *Server) permissionsList(ctx context.Context, t catalog.SecurableType, id, only string) (PermissionsList, error) {
	gs, err := s.Store.ListGrants(ctx, t, id)
	if err != nil {
		return PermissionsList{}, err
	}
	byPrincipal := map[string][]string{}
	for _, g := range gs {
		if only != "" && g.PrincipalID != only {
			continue
		}
		byPrincipal[g.PrincipalID] = append(byPrincipal[g.PrincipalID], string(g.Privilege))
	}
	out := PermissionsList{PrivilegeAssignments: []PrivilegeAssignment{}}
	for pid, privs := range byPrincipal {
		names, err := s.principalNames(ctx, pid)
		if err != nil {
			return PermissionsList{}, err
		}
		sort.Strings(privs)
		out.PrivilegeAssignments = append(out.PrivilegeAssignments, PrivilegeAssignment{Principal: names[0], Privileges: privs})
	}
	sort.Slice(out.PrivilegeAssignments, func(i, j int) bool {
		return out.PrivilegeAssignments[i].Principal < out.PrivilegeAssignments[j].Principal
	})
	return out, nil
}

func (s *Server) updatePermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	t, id, c, err := s.securable(r)
	if err != nil {
		return err
	}
	allowed, err := s.canManageGrants(r.Context(), who, c)
	if err != nil {
		return err
	}
	if !allowed {
		if c == nil {
			return catalog.Errorf(catalog.PermissionDenied, "User %s is not a metastore admin", who.Principal.Name)
		}
		return catalog.Errorf(catalog.PermissionDenied, "User %s does not have MANAGE on connection %s", who.Principal.Name, c.Name)
	}
	var req UpdatePermissions
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if len(req.Changes) == 0 {
		return catalog.Errorf(catalog.InvalidParameterValue, "changes: at least one change is required")
	}
	if len(req.Changes) > maxPermissionChanges {
		return catalog.Errorf(catalog.InvalidParameterValue, "changes: at most %d per request", maxPermissionChanges)
	}
	var add, remove []catalog.Grant
	var summary []string
	defer func() { note(r, "changes", strings.Join(summary, ";")) }()
	note(r, "securable_type", string(t))
	if c == nil {
		note(r, "securable", catalog.MetastoreID)
	}
	for i, ch := range req.Changes {
		if ch.Principal == "" {
			return catalog.Errorf(catalog.InvalidParameterValue, "changes[%d].principal: required", i)
		}
		p, err := s.Store.GetPrincipalByName(r.Context(), ch.Principal)
		if err != nil {
			return principalNotFound(err, ch.Principal)
		}
		for _, list := range []struct {
			privs []string
			into  *[]catalog.Grant
			field string
		}{{ch.Add, &add, "add"}, {ch.Remove, &remove, "remove"}} {
			for _, pv := range list.privs {
				priv := catalog.Privilege(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(pv), " ", "_")))
				if !catalog.ValidPrivilege(t, priv) {
					return catalog.Errorf(catalog.InvalidParameterValue, "changes[%d].%s: %q is not a privilege on a %s; the privileges on a %s are %s",
						i, list.field, truncateName(pv), strings.ToLower(string(t)), strings.ToLower(string(t)), catalog.PrivilegeList(t))
				}
				*list.into = append(*list.into, catalog.Grant{SecurableType: t, SecurableID: id, PrincipalID: p.ID, Privilege: priv})
				summary = append(summary, list.field+" "+string(priv)+" "+p.Name)
			}
		}
	}
	if err := s.Store.UpdateGrants(r.Context(), t, id, add, remove); err != nil {
		return err
	}
	list, err := s.permissionsList(r.Context(), t, id, "")
	if err != nil {
		return err
	}
	return ok(w, list)
}

func (s *Server) getEffectivePermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	_, _, c, err := s.securable(r)
	if err != nil {
		return err
	}
	target := who.Principal
	if name := r.URL.Query().Get("principal"); name != "" && !strings.EqualFold(name, who.Principal.Name) {
		// Looking at someone else's privileges needs the right to manage the grants.
		allowed, err := s.canManageGrants(r.Context(), who, c)
		if err != nil {
			return err
		}
		if !allowed {
			return catalog.Errorf(catalog.PermissionDenied, "User %s may only see their own effective privileges here", who.Principal.Name)
		}
		target, err = s.Store.GetPrincipalByName(r.Context(), name)
		if err != nil {
			return principalNotFound(err, name)
		}
	}
	srcs, err := s.Access.Effective(r.Context(), target, c)
	if err != nil {
		return err
	}
	out := EffectivePermissionsList{PrivilegeAssignments: []EffectivePrivilegeAssignment{}}
	a := EffectivePrivilegeAssignment{Principal: target.Name, Privileges: []EffectivePrivilege{}}
	for _, src := range srcs {
		ep := EffectivePrivilege{Privilege: string(src.Privilege), InheritedFromType: src.Type}
		if src.ID != "" {
			names, err := s.principalNames(r.Context(), src.ID)
			if err != nil {
				return err
			}
			ep.InheritedFromName = names[0]
		}
		a.Privileges = append(a.Privileges, ep)
	}
	if len(a.Privileges) > 0 {
		out.PrivilegeAssignments = append(out.PrivilegeAssignments, a)
	}
	return ok(w, out)
}
