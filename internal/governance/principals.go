package governance

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Principals: users, groups and service principals, for metastore admins only. The
// rules that keep a deployment governable live here: the built-in groups cannot be
// renamed or deleted, the users group is no group's member, an admin cannot deactivate
// or delete themselves, and no change may leave the admins group without an active
// member (lastAdminRule).

// MaxPrincipalNameLen bounds a principal's name, display name and external id.
const MaxPrincipalNameLen = 256

// ValidPrincipalName checks a principal's name; field is how the surface names it.
func ValidPrincipalName(field, v string) error {
	switch {
	case v == "":
		return catalog.Errorf(catalog.InvalidParameterValue, "%s is required", field)
	case len(v) > MaxPrincipalNameLen:
		return catalog.Errorf(catalog.InvalidParameterValue, "%s must be at most %d characters", field, MaxPrincipalNameLen)
	case strings.TrimSpace(v) != v:
		return catalog.Errorf(catalog.InvalidParameterValue, "%s must not start or end with spaces", field)
	case strings.ContainsAny(v, "/\\\"") || hasControl(v):
		return catalog.Errorf(catalog.InvalidParameterValue, "%s must not contain '/', '\\', '\"' or control characters", field)
	}
	return nil
}

// ValidPrincipalText checks a display name or external id: bounded, no control
// characters.
func ValidPrincipalText(field, v string) error {
	if len(v) > MaxPrincipalNameLen || hasControl(v) {
		return catalog.Errorf(catalog.InvalidParameterValue, "%s must be at most %d characters without control characters", field, MaxPrincipalNameLen)
	}
	return nil
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// usersGroupRule is why the built-in users group is no group's member: it holds every
// user and service principal implicitly, so making it a member of a group, admins above
// all, would hand that group's rights to everyone.
const usersGroupRule = "the built-in group users cannot be a member of any group: it contains every user and service principal, so every one of them would get the group's rights"

func isUsersGroup(p *catalog.Principal) bool {
	return p.Kind == catalog.KindGroup && strings.EqualFold(p.Name, catalog.UsersGroup)
}

// IsBuiltinGroup reports whether p is one of the built-in groups (admins, users), which
// cannot be renamed or deleted.
func IsBuiltinGroup(p *catalog.Principal) bool {
	return p.Kind == catalog.KindGroup && (strings.EqualFold(p.Name, catalog.AdminsGroup) || strings.EqualFold(p.Name, catalog.UsersGroup))
}

// ListPrincipals lists the principals of one kind ordered by name; admins only.
func (s *Service) ListPrincipals(ctx context.Context, who *catalog.Principal, kind catalog.PrincipalKind) ([]*catalog.Principal, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	return s.d.Store.ListPrincipals(ctx, kind)
}

// GetPrincipal returns the principal of kind with id; admins only.
func (s *Service) GetPrincipal(ctx context.Context, who *catalog.Principal, kind catalog.PrincipalKind, id string) (*catalog.Principal, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	return s.principalOf(ctx, kind, id)
}

func (s *Service) principalOf(ctx context.Context, kind catalog.PrincipalKind, id string) (*catalog.Principal, error) {
	p, err := s.d.Store.GetPrincipal(ctx, id)
	if (err == nil && p.Kind != kind) || catalog.IsNotFound(err) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "%s %s does not exist", KindWord(kind), truncate(id, 64))
	}
	return p, err
}

// Directory is every principal and the group graph, for a page that shows them all.
type Directory struct {
	Users, Groups, ServicePrincipals []*catalog.Principal
	// Members are the direct members of each group (by group id), ordered by name;
	// MemberOf the groups each principal is a direct member of (by member id).
	Members, MemberOf map[string][]*catalog.Principal
}

// Directory returns every principal and the group graph in two store reads; admins
// only.
func (s *Service) Directory(ctx context.Context, who *catalog.Principal) (*Directory, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	all, err := s.d.Store.ListPrincipals(ctx, "")
	if err != nil {
		return nil, err
	}
	edges, err := s.d.Store.ListMemberships(ctx)
	if err != nil {
		return nil, err
	}
	d := &Directory{Members: map[string][]*catalog.Principal{}, MemberOf: map[string][]*catalog.Principal{}}
	byID := make(map[string]*catalog.Principal, len(all))
	for _, p := range all {
		byID[p.ID] = p
		switch p.Kind {
		case catalog.KindUser:
			d.Users = append(d.Users, p)
		case catalog.KindGroup:
			d.Groups = append(d.Groups, p)
		case catalog.KindServicePrincipal:
			d.ServicePrincipals = append(d.ServicePrincipals, p)
		}
	}
	for _, e := range edges {
		g, m := byID[e.GroupID], byID[e.MemberID]
		if g == nil || m == nil {
			continue
		}
		d.Members[g.ID] = append(d.Members[g.ID], m)
		d.MemberOf[m.ID] = append(d.MemberOf[m.ID], g)
	}
	for _, m := range []map[string][]*catalog.Principal{d.Members, d.MemberOf} {
		for _, ps := range m {
			sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
		}
	}
	return d, nil
}

// NewPrincipal is what a caller asks for when creating a principal.
type NewPrincipal struct {
	Kind        catalog.PrincipalKind
	Name        string // a service principal without one gets a new application id
	DisplayName string
	ExternalID  string
	Active      *bool // nil means active; groups are always active
	// Members are the ids of a new group's direct members.
	Members []string
}

// resolveMembers checks that each id names a principal that may be a group member (the
// users group may not) and returns their ids; field names the list in messages.
func (s *Service) resolveMembers(ctx context.Context, field string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		p, err := s.d.Store.GetPrincipal(ctx, id)
		if catalog.IsNotFound(err) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d]: principal %s does not exist", field, i, truncate(id, 64))
		}
		if err != nil {
			return nil, err
		}
		if isUsersGroup(p) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s[%d]: %s", field, i, usersGroupRule)
		}
		out = append(out, p.ID)
	}
	return out, nil
}

// CreatePrincipal creates a user, group or service principal; admins only. Name
// validation messages name the field as SCIM does (userName, displayName,
// applicationId).
func (s *Service) CreatePrincipal(ctx context.Context, who *catalog.Principal, req NewPrincipal, rec *Record) (*catalog.Principal, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	if req.Kind == catalog.KindServicePrincipal && req.Name == "" {
		req.Name = catalog.NewID()
	}
	if err := ValidPrincipalName(nameField(req.Kind), req.Name); err != nil {
		return nil, err
	}
	if err := ValidPrincipalText("displayName", req.DisplayName); err != nil {
		return nil, err
	}
	if err := ValidPrincipalText("externalId", req.ExternalID); err != nil {
		return nil, err
	}
	members, err := s.resolveMembers(ctx, "members", req.Members)
	if err != nil {
		return nil, err
	}
	if len(members) > 0 && req.Kind != catalog.KindGroup {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "only groups have members")
	}
	now := s.d.Now()
	p := &catalog.Principal{ID: catalog.NewID(), Kind: req.Kind, Name: req.Name, DisplayName: req.DisplayName, Active: req.Active == nil || *req.Active,
		ExternalID: req.ExternalID, CreatedAt: now, UpdatedAt: now}
	if req.Kind == catalog.KindGroup {
		p.Active, p.DisplayName = true, req.Name
	}
	rec.Set("principal", p.Name)
	rec.Set("kind", string(p.Kind))
	if err := s.d.Store.CreatePrincipal(ctx, p); err != nil {
		return nil, err
	}
	for _, m := range members {
		if err := s.d.Store.AddMember(ctx, p.ID, m); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func nameField(k catalog.PrincipalKind) string {
	switch k {
	case catalog.KindUser:
		return "userName"
	case catalog.KindServicePrincipal:
		return "applicationId"
	}
	return "displayName"
}

// The operations on a group's members.
const (
	MembersAdd     = "add"
	MembersRemove  = "remove"
	MembersReplace = "replace"
)

// MemberOp changes a group's direct members: adds, removes, or replaces them all
// with, the principals of IDs. Each principal added must exist and may not be the
// users group.
type MemberOp struct {
	Op  string
	IDs []string
}

// checkChange refuses changes that would lock the deployment out or break built-ins.
func checkChange(who, p *catalog.Principal, rename, deactivate bool) error {
	if IsBuiltinGroup(p) && rename {
		return catalog.Errorf(catalog.InvalidParameterValue, "the built-in group %s cannot be renamed or deleted", p.Name)
	}
	if p.ID == who.ID && deactivate {
		return catalog.Errorf(catalog.InvalidParameterValue, "you cannot deactivate or delete yourself; ask another admin")
	}
	return nil
}

// UpdatePrincipal replaces old (as read by GetPrincipal) with next and applies the
// member operations in order; admins only. Renaming a built-in group and deactivating
// oneself are refused.
func (s *Service) UpdatePrincipal(ctx context.Context, who, old *catalog.Principal, next catalog.Principal, ops []MemberOp, rec *Record) (*catalog.Principal, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	rec.Set("principal", old.Name)
	next.ID, next.Kind, next.CreatedAt = old.ID, old.Kind, old.CreatedAt
	if old.Kind == catalog.KindGroup {
		next.Active, next.DisplayName = true, next.Name
	}
	deactivate := !next.Active && old.Active
	if err := checkChange(who, old, next.Name != old.Name, deactivate); err != nil {
		return nil, err
	}
	ops = slices.Clone(ops)
	for i, m := range ops {
		if old.Kind != catalog.KindGroup {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "only groups have members")
		}
		switch m.Op {
		case MembersAdd, MembersReplace:
			ids, err := s.resolveMembers(ctx, "members", m.IDs)
			if err != nil {
				return nil, err
			}
			ops[i].IDs = ids
		case MembersRemove:
		default:
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "unsupported operation %q on members", truncate(m.Op, 64))
		}
	}
	if err := s.keepsAnAdmin(ctx, pendingChange{id: old.ID, active: next.Active, deactivate: deactivate, ops: ops}); err != nil {
		return nil, err
	}
	next.UpdatedAt = s.d.Now()
	if next.Name != old.Name {
		rec.Set("new_name", next.Name)
	}
	if next.Active != old.Active {
		rec.Set("active", strconv.FormatBool(next.Active))
	}
	for _, m := range ops {
		rec.Set("members_"+m.Op, strings.Join(m.IDs, ","))
	}
	if err := s.d.Store.UpdatePrincipal(ctx, &next); err != nil {
		return nil, err
	}
	for _, m := range ops {
		var err error
		switch m.Op {
		case MembersAdd:
			for _, id := range m.IDs {
				if err = s.d.Store.AddMember(ctx, old.ID, id); err != nil {
					break
				}
			}
		case MembersRemove:
			for _, id := range m.IDs {
				if err = s.d.Store.RemoveMember(ctx, old.ID, id); err != nil {
					break
				}
			}
		case MembersReplace:
			err = s.setMembers(ctx, old.ID, m.IDs)
		}
		if err != nil {
			return nil, err
		}
	}
	return &next, nil
}

func (s *Service) setMembers(ctx context.Context, groupID string, members []string) error {
	cur, err := s.d.Store.ListMembers(ctx, groupID)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, m := range members {
		want[m] = true
		if err := s.d.Store.AddMember(ctx, groupID, m); err != nil {
			return err
		}
	}
	for _, m := range cur {
		if !want[m] {
			if err := s.d.Store.RemoveMember(ctx, groupID, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetPrincipalActive activates or deactivates a user or service principal at once;
// admins only.
func (s *Service) SetPrincipalActive(ctx context.Context, who *catalog.Principal, kind catalog.PrincipalKind, id string, active bool, rec *Record) (*catalog.Principal, error) {
	old, err := s.GetPrincipal(ctx, who, kind, id)
	if err != nil {
		return nil, err
	}
	if kind == catalog.KindGroup {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "active must be true or false, on a user or service principal")
	}
	next := *old
	next.Active = active
	return s.UpdatePrincipal(ctx, who, old, next, nil, rec)
}

// ChangeMembers adds or removes direct members of a group; admins only.
func (s *Service) ChangeMembers(ctx context.Context, who *catalog.Principal, groupID string, op MemberOp, rec *Record) (*catalog.Principal, error) {
	g, err := s.GetPrincipal(ctx, who, catalog.KindGroup, groupID)
	if err != nil {
		return nil, err
	}
	return s.UpdatePrincipal(ctx, who, g, *g, []MemberOp{op}, rec)
}

// DeletePrincipal deletes a principal; admins only. The built-in groups and the
// caller themselves cannot be deleted.
func (s *Service) DeletePrincipal(ctx context.Context, who *catalog.Principal, kind catalog.PrincipalKind, id string, rec *Record) error {
	p, err := s.GetPrincipal(ctx, who, kind, id)
	if err != nil {
		return err
	}
	if err := checkChange(who, p, true, true); err != nil {
		return err
	}
	rec.Set("principal", p.Name)
	if err := s.keepsAnAdmin(ctx, pendingChange{id: p.ID, deleted: true}); err != nil {
		return err
	}
	rec.Set("deleted", "true")
	return s.d.Store.DeletePrincipal(ctx, p.ID)
}

// lastAdminRule is why a change that would leave the admins group without an active
// member is refused: no one could manage the deployment any more (principals, grants,
// the audit log) until an operator ran gatehouse admin recover on the server's machine.
const lastAdminRule = "this change would leave the admins group without an active member, and no one could manage the deployment until an operator runs gatehouse admin recover; make another user or service principal an admin first, then make the change"

// pendingChange is a principal change as the last-admin rule sees it: the principal
// deleted, or deactivated, or (a group) its direct members changed by ops in order.
type pendingChange struct {
	id         string
	deleted    bool
	deactivate bool
	active     bool // the principal's active flag after the change
	ops        []MemberOp
}

// shrinks reports whether the change can take an admin away: adding members or
// activating never does.
func (c pendingChange) shrinks() bool {
	if c.deleted || c.deactivate {
		return true
	}
	for _, m := range c.ops {
		if m.Op != MembersAdd {
			return true
		}
	}
	return false
}

// keepsAnAdmin refuses a change after which no active user or service principal would
// be a metastore admin (INVALID_PARAMETER_VALUE, lastAdminRule). It reads the principals
// and the group graph, applies the change to them in memory, and asks an authorizer
// over that view (access.IsAdmin: direct members, and members of nested groups, the one
// resolution every decision uses) whether anyone is still an admin.
//
// The store has no transaction spanning this read and the write that follows, so two
// admins removing each other at the same instant can both pass: each check reads the
// other still there. The window is the few milliseconds between a check's reads and the
// other change's commit; a request that comes after a committed change is refused (its
// caller is no longer an admin, or the check sees the change). Recovery from that race is
// gatehouse admin recover.
func (s *Service) keepsAnAdmin(ctx context.Context, c pendingChange) error {
	if !c.shrinks() {
		return nil
	}
	all, err := s.d.Store.ListPrincipals(ctx, "")
	if err != nil {
		return err
	}
	edges, err := s.d.Store.ListMemberships(ctx)
	if err != nil {
		return err
	}
	v := &adminsView{}
	for _, p := range all {
		if p.ID == c.id {
			if c.deleted {
				continue
			}
			cp := *p
			cp.Active = cp.Kind == catalog.KindGroup || c.active
			p = &cp
		}
		v.principals = append(v.principals, p)
	}
	members := map[string]bool{}
	for _, e := range edges {
		switch {
		case c.deleted && (e.GroupID == c.id || e.MemberID == c.id):
		case e.GroupID == c.id:
			members[e.MemberID] = true
		default:
			v.edges = append(v.edges, e)
		}
	}
	for _, m := range c.ops {
		if m.Op == MembersReplace {
			members = map[string]bool{}
		}
		for _, id := range m.IDs {
			members[id] = m.Op != MembersRemove
		}
	}
	for id, in := range members {
		if in {
			v.edges = append(v.edges, catalog.Membership{GroupID: c.id, MemberID: id})
		}
	}
	az := access.New(v)
	for _, p := range v.principals {
		if p.Kind == catalog.KindGroup || !p.Active {
			continue
		}
		admin, err := az.IsAdmin(ctx, p)
		if err != nil {
			return err
		}
		if admin {
			return nil
		}
	}
	return catalog.Errorf(catalog.InvalidParameterValue, "%s", lastAdminRule)
}

// adminsView is the principals and group graph as a pending change would leave them,
// as an access.Store, for keepsAnAdmin. It holds no grants and announces no change.
type adminsView struct {
	principals []*catalog.Principal
	edges      []catalog.Membership
}

func (v *adminsView) GetPrincipalByName(_ context.Context, name string) (*catalog.Principal, error) {
	for _, p := range v.principals {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "principal %s does not exist", truncate(name, 64))
}

func (v *adminsView) ListMemberships(context.Context) ([]catalog.Membership, error) {
	return v.edges, nil
}

func (v *adminsView) ListGrants(context.Context, catalog.SecurableType, string) ([]catalog.Grant, error) {
	return nil, nil
}

func (v *adminsView) Watch(func(catalog.Change)) {}
