package governance

import (
	"context"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// MaxPermissionChanges bounds the changes of one UpdatePermissions.
const MaxPermissionChanges = 100

// Securable is what a permissions operation is about: a connection or the metastore.
type Securable struct {
	Type catalog.SecurableType
	ID   string
	// Connection is the connection; nil for the metastore.
	Connection *catalog.Connection
}

// FindSecurable resolves a securable type ("connection", "metastore", any case) and
// name as the permissions paths name them.
func (s *Service) FindSecurable(ctx context.Context, typ, name string) (Securable, error) {
	switch strings.ToLower(typ) {
	case "connection":
		c, err := s.lookup(ctx, name)
		if err != nil {
			return Securable{}, err
		}
		return Securable{Type: catalog.SecurableConnection, ID: c.ID, Connection: c}, nil
	case "metastore":
		if name != catalog.MetastoreID {
			return Securable{}, catalog.Errorf(catalog.ResourceDoesNotExist, "Metastore '%s' does not exist; this deployment has one metastore, named default", truncate(name, 64))
		}
		return Securable{Type: catalog.SecurableMetastore, ID: catalog.MetastoreID}, nil
	}
	return Securable{}, catalog.Errorf(catalog.InvalidParameterValue, "securable type %q is not supported; use connection or metastore", truncate(typ, 64))
}

// canManageGrants: owner, MANAGE or admin on a connection; admins on the metastore.
func (s *Service) canManageGrants(ctx context.Context, who *catalog.Principal, c *catalog.Connection) (bool, error) {
	if c == nil {
		return s.d.Access.IsAdmin(ctx, who)
	}
	privs, err := s.d.Access.Connection(ctx, who, c)
	return privs.Has(catalog.Manage), err
}

// ManagedSecurable returns the securable if who may change its grants, else
// PERMISSION_DENIED. Surfaces call it before they read a request body;
// UpdatePermissions calls it again itself.
func (s *Service) ManagedSecurable(ctx context.Context, who *catalog.Principal, typ, name string) (Securable, error) {
	sec, err := s.FindSecurable(ctx, typ, name)
	if err != nil {
		return Securable{}, err
	}
	allowed, err := s.canManageGrants(ctx, who, sec.Connection)
	if err != nil {
		return Securable{}, err
	}
	if !allowed {
		if sec.Connection == nil {
			return Securable{}, catalog.Errorf(catalog.PermissionDenied, "User %s is not a metastore admin", who.Name)
		}
		return Securable{}, catalog.Errorf(catalog.PermissionDenied, "User %s does not have MANAGE on connection %s", who.Name, sec.Connection.Name)
	}
	return sec, nil
}

// PrivilegeAssignment is one principal's privileges on a securable.
type PrivilegeAssignment struct {
	Principal  string
	Privileges []string
}

// Permissions lists the grants on a securable, by principal name, each principal's
// privileges sorted; only principal's when principal (a name) is given. On a
// connection who needs some privilege on it.
func (s *Service) Permissions(ctx context.Context, who *catalog.Principal, typ, name, principal string) ([]PrivilegeAssignment, error) {
	sec, err := s.FindSecurable(ctx, typ, name)
	if err != nil {
		return nil, err
	}
	if c := sec.Connection; c != nil {
		privs, err := s.d.Access.Connection(ctx, who, c)
		if err != nil {
			return nil, err
		}
		if privs == 0 {
			return nil, catalog.Errorf(catalog.PermissionDenied, "User %s does not have any privilege on connection %s", who.Name, c.Name)
		}
	}
	var only string
	if principal != "" {
		pr, err := s.d.Store.GetPrincipalByName(ctx, principal)
		if err != nil {
			return nil, PrincipalNotFound(err, principal)
		}
		only = pr.ID
	}
	return s.permissionsList(ctx, sec, only)
}

func (s *Service) permissionsList(ctx context.Context, sec Securable, only string) ([]PrivilegeAssignment, error) {
	gs, err := s.d.Store.ListGrants(ctx, sec.Type, sec.ID)
	if err != nil {
		return nil, err
	}
	byPrincipal := map[string][]string{}
	for _, g := range gs {
		if only != "" && g.PrincipalID != only {
			continue
		}
		byPrincipal[g.PrincipalID] = append(byPrincipal[g.PrincipalID], string(g.Privilege))
	}
	out := []PrivilegeAssignment{}
	for pid, privs := range byPrincipal {
		names, err := s.PrincipalNames(ctx, pid)
		if err != nil {
			return nil, err
		}
		sort.Strings(privs)
		out = append(out, PrivilegeAssignment{Principal: names[0], Privileges: privs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out, nil
}

// PermissionChange adds and removes privileges of one principal (by name). Privilege
// names are matched in any case, with spaces for underscores.
type PermissionChange struct {
	Principal string
	Add       []string
	Remove    []string
}

// UpdatePermissions applies changes to the grants of a securable in one store
// transaction and returns the grants after; who needs owner, MANAGE or admin on a
// connection, admin on the metastore. Between 1 and MaxPermissionChanges changes; an
// unknown principal or a privilege the securable does not have refuses all of them.
// The record gets securable_type, securable (the metastore) and changes ("add PRIV
// name;remove PRIV name...", as far as they were read).
func (s *Service) UpdatePermissions(ctx context.Context, who *catalog.Principal, typ, name string, changes []PermissionChange, rec *Record) ([]PrivilegeAssignment, error) {
	sec, err := s.ManagedSecurable(ctx, who, typ, name)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "changes: at least one change is required")
	}
	if len(changes) > MaxPermissionChanges {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "changes: at most %d per request", MaxPermissionChanges)
	}
	t := sec.Type
	var add, remove []catalog.Grant
	var summary []string
	defer func() { rec.Set("changes", strings.Join(summary, ";")) }()
	rec.Set("securable_type", string(t))
	if sec.Connection == nil {
		rec.Set("securable", catalog.MetastoreID)
	}
	for i, ch := range changes {
		if ch.Principal == "" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "changes[%d].principal: required", i)
		}
		p, err := s.d.Store.GetPrincipalByName(ctx, ch.Principal)
		if err != nil {
			return nil, PrincipalNotFound(err, ch.Principal)
		}
		for _, list := range []struct {
			privs []string
			into  *[]catalog.Grant
			field string
		}{{ch.Add, &add, "add"}, {ch.Remove, &remove, "remove"}} {
			for _, pv := range list.privs {
				priv := catalog.Privilege(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(pv), " ", "_")))
				if !catalog.ValidPrivilege(t, priv) {
					return nil, catalog.Errorf(catalog.InvalidParameterValue, "changes[%d].%s: %q is not a privilege on a %s; the privileges on a %s are %s",
						i, list.field, truncate(pv, 64), strings.ToLower(string(t)), strings.ToLower(string(t)), catalog.PrivilegeList(t))
				}
				*list.into = append(*list.into, catalog.Grant{SecurableType: t, SecurableID: sec.ID, PrincipalID: p.ID, Privilege: priv})
				summary = append(summary, list.field+" "+string(priv)+" "+p.Name)
			}
		}
	}
	if err := s.d.Store.UpdateGrants(ctx, t, sec.ID, add, remove); err != nil {
		return nil, err
	}
	return s.permissionsList(ctx, sec, "")
}

// EffectivePrivilege is one privilege a principal holds and where it comes from.
type EffectivePrivilege struct {
	Privilege catalog.Privilege
	// InheritedFromType and InheritedFromName name the source: the securable, a
	// group, the metastore or the admins (see access.Effective).
	InheritedFromType string
	InheritedFromName string
}

// EffectivePermissions lists the privileges principal (a name; "" or who's own name
// means who) holds on a securable, with their sources. Looking at someone else's needs
// the right to manage the securable's grants. It returns the principal's name too.
func (s *Service) EffectivePermissions(ctx context.Context, who *catalog.Principal, typ, name, principal string) (string, []EffectivePrivilege, error) {
	sec, err := s.FindSecurable(ctx, typ, name)
	if err != nil {
		return "", nil, err
	}
	target := who
	if principal != "" && !strings.EqualFold(principal, who.Name) {
		allowed, err := s.canManageGrants(ctx, who, sec.Connection)
		if err != nil {
			return "", nil, err
		}
		if !allowed {
			return "", nil, catalog.Errorf(catalog.PermissionDenied, "User %s may only see their own effective privileges here", who.Name)
		}
		target, err = s.d.Store.GetPrincipalByName(ctx, principal)
		if err != nil {
			return "", nil, PrincipalNotFound(err, principal)
		}
	}
	srcs, err := s.d.Access.Effective(ctx, target, sec.Connection)
	if err != nil {
		return "", nil, err
	}
	out := []EffectivePrivilege{}
	for _, src := range srcs {
		ep := EffectivePrivilege{Privilege: src.Privilege, InheritedFromType: src.Type}
		if src.ID != "" {
			names, err := s.PrincipalNames(ctx, src.ID)
			if err != nil {
				return "", nil, err
			}
			ep.InheritedFromName = names[0]
		}
		out = append(out, ep)
	}
	return target.Name, out, nil
}
