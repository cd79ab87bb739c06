package console

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addFuncs(template.FuncMap{"dict": dict})
	addRoutes(
		route{"GET /principals", (*Console).principals},
		route{"POST /principals/create", (*Console).principalCreate},
		route{"POST /principals/{id}/active", (*Console).principalActive},
		route{"POST /principals/{id}/members", (*Console).principalMembers},
		route{"POST /principals/{id}/delete", (*Console).principalDelete},
	)
}

// principalDone are the fixed messages of a change that succeeded, by the done
// parameter of the redirect (never text from the request).
var principalDone = map[string]string{
	"created": "The principal was created.", "activated": "The principal was activated.",
	"deactivated": "The principal was deactivated; its tokens and sessions stop working at once.",
	"members":     "The group's members were changed.", "deleted": "The principal was deleted.",
}

type principalsData struct {
	Dir  *governance.Directory
	Self string // the viewer's id: no deactivate or delete button for oneself
	// AddOptions are, per group id, the principals that may be added to it: not the
	// group itself, not its members, never the users group.
	AddOptions map[string][]*catalog.Principal
}

// principals lists users, groups with their members, and service principals, with the
// admin actions; admins only, as the SCIM API.
func (c *Console) principals(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.principalsPage(w, r, v, http.StatusOK, "")
}

func (c *Console) principalsPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, formErr string) {
	dir, err := c.d.Gov.Directory(r.Context(), v.P)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := &principalsData{Dir: dir, Self: v.P.ID, AddOptions: map[string][]*catalog.Principal{}}
	for _, g := range dir.Groups {
		member := map[string]bool{g.ID: true}
		for _, m := range dir.Members[g.ID] {
			member[m.ID] = true
		}
		for _, list := range [][]*catalog.Principal{dir.Users, dir.Groups, dir.ServicePrincipals} {
			for _, p := range list {
				if !member[p.ID] && !(p.Kind == catalog.KindGroup && strings.EqualFold(p.Name, catalog.UsersGroup)) {
					d.AddOptions[g.ID] = append(d.AddOptions[g.ID], p)
				}
			}
		}
	}
	p := &page{Title: "Principals", Nav: "principals", Data: d, Error: formErr, Flash: principalDone[r.URL.Query().Get("done")]}
	c.render(w, r, status, v, "principals.html", p)
}

func kindOf(s string) (catalog.PrincipalKind, bool) {
	switch k := catalog.PrincipalKind(s); k {
	case catalog.KindUser, catalog.KindGroup, catalog.KindServicePrincipal:
		return k, true
	}
	return "", false
}

// changed finishes a principal change: the audit record the SCIM API writes, then the
// page again with a message.
func (c *Console) changed(w http.ResponseWriter, r *http.Request, v *viewer, rec *governance.Record, err error, done string) {
	c.audit(r, v, catalog.ActionPrincipalChange, rec, err)
	if err != nil {
		c.principalsPage(w, r, v, http.StatusBadRequest, c.errMessage(r, err))
		return
	}
	redirect(w, "/principals?done="+done)
}

func (c *Console) principalCreate(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	kind, ok := kindOf(r.PostFormValue("kind"))
	var err error
	if !ok {
		err = catalog.Errorf(catalog.InvalidParameterValue, "kind must be USER, GROUP or SERVICE_PRINCIPAL")
	} else {
		_, err = c.d.Gov.CreatePrincipal(r.Context(), v.P, governance.NewPrincipal{Kind: kind, Name: strings.TrimSpace(r.PostFormValue("name")),
			DisplayName: strings.TrimSpace(r.PostFormValue("display_name"))}, &rec)
	}
	c.changed(w, r, v, &rec, err, "created")
}

func (c *Console) principalActive(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	active := r.PostFormValue("active") == "true"
	kind, ok := kindOf(r.PostFormValue("kind"))
	var err error
	if !ok {
		err = catalog.Errorf(catalog.InvalidParameterValue, "kind must be USER or SERVICE_PRINCIPAL")
	} else {
		_, err = c.d.Gov.SetPrincipalActive(r.Context(), v.P, kind, r.PathValue("id"), active, &rec)
	}
	done := "activated"
	if !active {
		done = "deactivated"
	}
	c.changed(w, r, v, &rec, err, done)
}

func (c *Console) principalMembers(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	op := r.PostFormValue("op")
	var err error
	if op != governance.MembersAdd && op != governance.MembersRemove {
		err = catalog.Errorf(catalog.InvalidParameterValue, "op must be add or remove")
	} else {
		_, err = c.d.Gov.ChangeMembers(r.Context(), v.P, r.PathValue("id"), governance.MemberOp{Op: op, IDs: []string{r.PostFormValue("member")}}, &rec)
	}
	c.changed(w, r, v, &rec, err, "members")
}

func (c *Console) principalDelete(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	kind, ok := kindOf(r.PostFormValue("kind"))
	var err error
	switch {
	case !ok:
		err = catalog.Errorf(catalog.InvalidParameterValue, "kind must be USER, GROUP or SERVICE_PRINCIPAL")
	case r.PostFormValue("confirm") != "on":
		err = catalog.Errorf(catalog.InvalidParameterValue, "tick the confirmation box to delete a principal")
	default:
		err = c.d.Gov.DeletePrincipal(r.Context(), v.P, kind, r.PathValue("id"), &rec)
	}
	c.changed(w, r, v, &rec, err, "deleted")
}

// dict makes a map of key, value pairs, for a sub-template that needs more than one
// value.
func dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			m[k] = kv[i+1]
		}
	}
	return m
}
