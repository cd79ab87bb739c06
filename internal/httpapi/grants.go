package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (s *Server) getPermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	list, err := s.Governance.Permissions(r.Context(), who.Principal, r.PathValue("type"), r.PathValue("name"), r.URL.Query().Get("principal"))
	if err != nil {
		return err
	}
	return ok(w, permissionsJSON(list))
}

func permissionsJSON(list []governance.PrivilegeAssignment) PermissionsList {
	out := PermissionsList{PrivilegeAssignments: make([]PrivilegeAssignment, 0, len(list))}
	for _, a := range list {
		out.PrivilegeAssignments = append(out.PrivilegeAssignments, PrivilegeAssignment{Principal: a.Principal, Privileges: a.Privileges})
	}
	return out
}

func (s *Server) updatePermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	typ, name := r.PathValue("type"), r.PathValue("name")
	// Refused callers are refused before their body is read.
	if _, err := s.Governance.ManagedSecurable(r.Context(), who.Principal, typ, name); err != nil {
		return err
	}
	var req UpdatePermissions
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	changes := make([]governance.PermissionChange, 0, len(req.Changes))
	for _, ch := range req.Changes {
		changes = append(changes, governance.PermissionChange{Principal: ch.Principal, Add: ch.Add, Remove: ch.Remove})
	}
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	list, err := s.Governance.UpdatePermissions(r.Context(), who.Principal, typ, name, changes, rec)
	if err != nil {
		return err
	}
	return ok(w, permissionsJSON(list))
}

func (s *Server) getEffectivePermissions(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	target, privs, err := s.Governance.EffectivePermissions(r.Context(), who.Principal, r.PathValue("type"), r.PathValue("name"), r.URL.Query().Get("principal"))
	if err != nil {
		return err
	}
	out := EffectivePermissionsList{PrivilegeAssignments: []EffectivePrivilegeAssignment{}}
	a := EffectivePrivilegeAssignment{Principal: target, Privileges: []EffectivePrivilege{}}
	for _, p := range privs {
		a.Privileges = append(a.Privileges, EffectivePrivilege{Privilege: string(p.Privilege), InheritedFromType: p.InheritedFromType, InheritedFromName: p.InheritedFromName})
	}
	if len(a.Privileges) > 0 {
		out.PrivilegeAssignments = append(out.PrivilegeAssignments, a)
	}
	return ok(w, out)
}
