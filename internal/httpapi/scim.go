package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// The SCIM 2.0 (RFC 7644) subset: Users, Groups and ServicePrincipals, admins only, and
// /Me for everyone.

// scimFilter is a parsed `attribute eq "value"` filter, the one form clients use to find
// a principal by name.
type scimFilter struct {
	attr  string // lower case
	value string
}

// parseSCIMFilter parses `attr eq "value"` (attr: id, userName, displayName,
// applicationId, externalId). Anything else is a clear 400.
func parseSCIMFilter(s string) (*scimFilter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	bad := catalog.Errorf(catalog.InvalidParameterValue, "filter: only `attribute eq \"value\"` is supported (attributes: id, userName, displayName, applicationId, externalId)")
	attr, rest, found := strings.Cut(s, " ")
	if !found {
		return nil, bad
	}
	rest = strings.TrimLeft(rest, " ")
	op, val, found := strings.Cut(rest, " ")
	if !found || !strings.EqualFold(op, "eq") {
		return nil, bad
	}
	val = strings.TrimSpace(val)
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return nil, bad
	}
	unq, err := strconv.Unquote(val)
	if err != nil {
		return nil, bad
	}
	a := strings.ToLower(attr)
	switch a {
	case "id", "username", "displayname", "applicationid", "externalid":
	default:
		return nil, bad
	}
	return &scimFilter{attr: a, value: unq}, nil
}

func (f *scimFilter) match(p *catalog.Principal) bool {
	if f == nil {
		return true
	}
	switch f.attr {
	case "id":
		return p.ID == f.value
	case "username", "applicationid":
		return strings.EqualFold(p.Name, f.value)
	case "displayname":
		if p.Kind == catalog.KindGroup {
			return strings.EqualFold(p.Name, f.value)
		}
		return p.DisplayName == f.value
	case "externalid":
		return p.ExternalID == f.value
	}
	return false
}

func scimList[T any](w http.ResponseWriter, r *http.Request, all []T) error {
	q := r.URL.Query()
	start, count := 1, len(all)
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return catalog.Errorf(catalog.InvalidParameterValue, "startIndex must be a number")
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return catalog.Errorf(catalog.InvalidParameterValue, "count must be a non-negative number")
		}
		count = n
	}
	page := []T{}
	if start-1 < len(all) {
		page = all[start-1 : min(len(all), start-1+count)]
	}
	return ok(w, SCIMList[T]{Schemas: []string{SchemaListResponse}, TotalResults: len(all), StartIndex: start, ItemsPerPage: len(page), Resources: page})
}

// directGroups returns the groups p is a direct member of, as SCIM references.
func (s *Server) directGroups(ctx context.Context, id string) ([]SCIMRef, error) {
	edges, err := s.Store.ListMemberships(ctx)
	if err != nil {
		return nil, err
	}
	var out []SCIMRef
	for _, e := range edges {
		if e.MemberID != id {
			continue
		}
		names, err := s.principalNames(ctx, e.GroupID)
		if err != nil {
			return nil, err
		}
		out = append(out, SCIMRef{Value: e.GroupID, Display: names[0], Type: "Group"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Display < out[j].Display })
	return out, nil
}

func scimType(k catalog.PrincipalKind) string {
	switch k {
	case catalog.KindUser:
		return "User"
	case catalog.KindServicePrincipal:
		return "ServicePrincipal"
	}
	return "Group"
}

func (s *Server) scimUser(ctx context.Context, p *catalog.Principal) (SCIMUser, error) {
	groups, err := s.directGroups(ctx, p.ID)
	if err != nil {
		return SCIMUser{}, err
	}
	active := p.Active
	u := SCIMUser{Schemas: []string{SchemaUser}, ID: p.ID, UserName: p.Name, DisplayName: p.DisplayName, Active: &active, ExternalID: p.ExternalID, Groups: groups}
	if strings.Contains(p.Name, "@") {
		u.Emails = []SCIMEmail{{Value: p.Name, Type: "work", Primary: true}}
	}
	return u, nil
}

func (s *Server) scimServicePrincipal(ctx context.Context, p *catalog.Principal) (SCIMServicePrincipal, error) {
	groups, err := s.directGroups(ctx, p.ID)
	if err != nil {
		return SCIMServicePrincipal{}, err
	}
	active := p.Active
	return SCIMServicePrincipal{Schemas: []string{SchemaServicePrincipal}, ID: p.ID, ApplicationID: p.Name, DisplayName: p.DisplayName, Active: &active, ExternalID: p.ExternalID, Groups: groups}, nil
}

func (s *Server) scimGroup(ctx context.Context, p *catalog.Principal) (SCIMGroup, error) {
	ids, err := s.Store.ListMembers(ctx, p.ID)
	if err != nil {
		return SCIMGroup{}, err
	}
	g := SCIMGroup{Schemas: []string{SchemaGroup}, ID: p.ID, DisplayName: p.Name, ExternalID: p.ExternalID}
	for _, id := range ids {
		m, err := s.Store.GetPrincipal(ctx, id)
		if err != nil {
			return SCIMGroup{}, err
		}
		g.Members = append(g.Members, SCIMRef{Value: m.ID, Display: m.Name, Type: scimType(m.Kind)})
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Display < g.Members[j].Display })
	if g.Groups, err = s.directGroups(ctx, p.ID); err != nil {
		return SCIMGroup{}, err
	}
	return g, nil
}

// principalKindRoutes serves one SCIM resource type.
type principalKindRoutes struct {
	s    *Server
	kind catalog.PrincipalKind
}

func (k principalKindRoutes) render(ctx context.Context, p *catalog.Principal) (any, error) {
	switch k.kind {
	case catalog.KindUser:
		return k.s.scimUser(ctx, p)
	case catalog.KindServicePrincipal:
		return k.s.scimServicePrincipal(ctx, p)
	}
	return k.s.scimGroup(ctx, p)
}

func (k principalKindRoutes) list(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := k.s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	f, err := parseSCIMFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	ps, err := k.s.Governance.ListPrincipals(r.Context(), who.Principal, k.kind)
	if err != nil {
		return err
	}
	var all []any
	for _, p := range ps {
		if !f.match(p) {
			continue
		}
		v, err := k.render(r.Context(), p)
		if err != nil {
			return err
		}
		all = append(all, v)
	}
	return scimList(w, r, all)
}

func (k principalKindRoutes) getOne(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	p, err := k.s.Governance.GetPrincipal(r.Context(), who.Principal, k.kind, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := k.render(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, v)
}

// principalFields are the writable fields of any SCIM principal body.
type principalFields struct {
	name, display, externalID string
	active                    *bool
	members                   []SCIMRef
	hasMembers                bool
}

func (k principalKindRoutes) decode(r *http.Request) (principalFields, error) {
	var f principalFields
	switch k.kind {
	case catalog.KindUser:
		var u SCIMUser
		if err := decodeSCIM(r, &u); err != nil {
			return f, err
		}
		f = principalFields{name: u.UserName, display: u.DisplayName, externalID: u.ExternalID, active: u.Active}
		if err := governance.ValidPrincipalName("userName", f.name); err != nil {
			return f, err
		}
	case catalog.KindServicePrincipal:
		var sp SCIMServicePrincipal
		if err := decodeSCIM(r, &sp); err != nil {
			return f, err
		}
		f = principalFields{name: sp.ApplicationID, display: sp.DisplayName, externalID: sp.ExternalID, active: sp.Active}
		if f.name != "" {
			if err := governance.ValidPrincipalName("applicationId", f.name); err != nil {
				return f, err
			}
		}
	default:
		var g SCIMGroup
		if err := decodeSCIM(r, &g); err != nil {
			return f, err
		}
		f = principalFields{name: g.DisplayName, externalID: g.ExternalID, members: g.Members, hasMembers: g.Members != nil}
		if err := governance.ValidPrincipalName("displayName", f.name); err != nil {
			return f, err
		}
	}
	if err := governance.ValidPrincipalText("displayName", f.display); err != nil {
		return f, err
	}
	if err := governance.ValidPrincipalText("externalId", f.externalID); err != nil {
		return f, err
	}
	return f, nil
}

// decodeSCIM decodes a SCIM body. SCIM clients send read-only attributes back (meta,
// groups, schemas) and the RFC tells servers to ignore them, so unknown fields are
// tolerated here, unlike in the rest of the API.
func decodeSCIM(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

func memberIDs(refs []SCIMRef) []string {
	ids := make([]string, len(refs))
	for i, m := range refs {
		ids[i] = m.Value
	}
	return ids
}

func (k principalKindRoutes) create(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ctx := r.Context()
	// The admin check comes before the body is read: a non-admin learns nothing from it.
	if err := k.s.requireAdmin(ctx, who); err != nil {
		return err
	}
	f, err := k.decode(r)
	if err != nil {
		return err
	}
	var rec governance.Record
	p, err := k.s.Governance.CreatePrincipal(ctx, who.Principal, governance.NewPrincipal{Kind: k.kind, Name: f.name, DisplayName: f.display,
		ExternalID: f.externalID, Active: f.active, Members: memberIDs(f.members)}, &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	v, err := k.render(ctx, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (k principalKindRoutes) put(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ctx := r.Context()
	p, err := k.s.Governance.GetPrincipal(ctx, who.Principal, k.kind, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := k.decode(r)
	if err != nil {
		return err
	}
	if f.name == "" {
		f.name = p.Name
	}
	next := *p
	next.Name, next.ExternalID = f.name, f.externalID
	if k.kind != catalog.KindGroup {
		next.DisplayName = f.display
		next.Active = f.active == nil || *f.active
	}
	var ops []governance.MemberOp
	if f.hasMembers {
		ops = append(ops, governance.MemberOp{Op: governance.MembersReplace, IDs: memberIDs(f.members)})
	}
	var rec governance.Record
	updated, err := k.s.Governance.UpdatePrincipal(ctx, who.Principal, p, next, ops, &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	v, err := k.render(ctx, updated)
	if err != nil {
		return err
	}
	return ok(w, v)
}

func (k principalKindRoutes) delete(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var rec governance.Record
	err := k.s.Governance.DeletePrincipal(r.Context(), who.Principal, k.kind, r.PathValue("id"), &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patch applies SCIM PatchOp operations: replace of active, displayName, userName,
// applicationId, externalId (with a path, or a value object without one); add, remove
// and replace of group members.
func (k principalKindRoutes) patch(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	ctx := r.Context()
	p, err := k.s.Governance.GetPrincipal(ctx, who.Principal, k.kind, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req SCIMPatch
	if err := decodeSCIM(r, &req); err != nil {
		return err
	}
	if len(req.Operations) == 0 {
		return catalog.Errorf(catalog.InvalidParameterValue, "Operations: at least one operation is required")
	}
	next := *p
	var mops []governance.MemberOp
	for i, op := range req.Operations {
		verb := strings.ToLower(op.Op)
		path := strings.TrimSpace(op.Path)
		lpath := strings.ToLower(path)
		switch {
		case strings.HasPrefix(lpath, "members"):
			if k.kind != catalog.KindGroup {
				return catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: only groups have members", i)
			}
			ids, err := k.memberIDs(i, verb, path, op.Value)
			if err != nil {
				return err
			}
			mops = append(mops, governance.MemberOp{Op: verb, IDs: ids})
		case verb == "replace" || verb == "add":
			attrs := map[string]any{}
			if path == "" {
				obj, isObj := op.Value.(map[string]any)
				if !isObj {
					return catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: a %s without a path needs an object value", i, verb)
				}
				attrs = obj
			} else {
				attrs[path] = op.Value
			}
			for a, v := range attrs {
				if err := k.applyAttr(i, &next, a, v); err != nil {
					return err
				}
			}
		default:
			return catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: unsupported operation %q on %q", i, truncateName(op.Op), truncateName(path))
		}
	}
	var rec governance.Record
	updated, err := k.s.Governance.UpdatePrincipal(ctx, who.Principal, p, next, mops, &rec)
	noteRecord(r, &rec)
	if err != nil {
		return err
	}
	v, err := k.render(ctx, updated)
	if err != nil {
		return err
	}
	return ok(w, v)
}

func (k principalKindRoutes) applyAttr(i int, p *catalog.Principal, attr string, v any) error {
	str := func() (string, error) {
		s, isStr := v.(string)
		if !isStr {
			return "", catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: %s must be a string", i, attr)
		}
		return s, nil
	}
	switch strings.ToLower(attr) {
	case "active":
		b, isBool := v.(bool)
		if s, isStr := v.(string); isStr && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
			b, isBool = strings.EqualFold(s, "true"), true
		}
		if !isBool || k.kind == catalog.KindGroup {
			return catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: active must be true or false, on a user or service principal", i)
		}
		p.Active = b
	case "displayname":
		s, err := str()
		if err != nil {
			return err
		}
		if k.kind == catalog.KindGroup {
			if err := governance.ValidPrincipalName("displayName", s); err != nil {
				return err
			}
			p.Name = s
		}
		p.DisplayName = s
	case "username", "applicationid":
		s, err := str()
		if err != nil {
			return err
		}
		if err := governance.ValidPrincipalName(attr, s); err != nil {
			return err
		}
		p.Name = s
	case "externalid":
		s, err := str()
		if err != nil {
			return err
		}
		p.ExternalID = s
	default:
		return catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: attribute %q cannot be changed", i, truncateName(attr))
	}
	return nil
}

// memberIDs reads the members an operation names: in the value as [{"value": id}], or
// in the path as members[value eq "id"].
func (k principalKindRoutes) memberIDs(i int, verb, path string, v any) ([]string, error) {
	if verb != "add" && verb != "remove" && verb != "replace" {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: unsupported operation %q on members", i, truncateName(verb))
	}
	var refs []SCIMRef
	if open := strings.IndexByte(path, '['); open >= 0 {
		if !strings.HasSuffix(path, "]") || verb != "remove" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: a member filter in the path works only with remove", i)
		}
		id, err := parseMemberValueFilter(path[open+1 : len(path)-1])
		if err != nil {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: path must look like members[value eq \"ID\"]", i)
		}
		refs = append(refs, SCIMRef{Value: id})
	} else if path != "" && !strings.EqualFold(path, "members") {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: unsupported path %q", i, truncateName(path))
	} else {
		b, _ := json.Marshal(v)
		if err := json.Unmarshal(b, &refs); err != nil {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "Operations[%d]: value must be a list of {\"value\": ID}", i)
		}
	}
	return memberIDs(refs), nil
}

// parseMemberValueFilter parses `value eq "ID"`.
func parseMemberValueFilter(s string) (string, error) {
	attr, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	op, val, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if !strings.EqualFold(attr, "value") || !strings.EqualFold(op, "eq") {
		return "", catalog.Errorf(catalog.InvalidParameterValue, "bad member filter")
	}
	v, err := strconv.Unquote(strings.TrimSpace(val))
	if err != nil {
		return "", catalog.Errorf(catalog.InvalidParameterValue, "bad member filter")
	}
	return v, nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	p := who.Principal
	groups, err := s.Access.Groups(r.Context(), p)
	if err != nil {
		return err
	}
	me := SCIMMe{Schemas: []string{SchemaUser}, ID: p.ID, DisplayName: p.DisplayName, Active: p.Active, Groups: []SCIMRef{}}
	if p.Kind == catalog.KindServicePrincipal {
		me.Schemas, me.ApplicationID = []string{SchemaServicePrincipal}, p.Name
	} else {
		me.UserName = p.Name
	}
	for _, g := range groups {
		names, err := s.principalNames(r.Context(), g)
		if err != nil {
			return err
		}
		me.Groups = append(me.Groups, SCIMRef{Value: g, Display: names[0], Type: "Group"})
	}
	sort.Slice(me.Groups, func(i, j int) bool { return me.Groups[i].Display < me.Groups[j].Display })
	return ok(w, me)
}
