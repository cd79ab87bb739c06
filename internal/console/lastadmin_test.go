package console

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestPrincipalFormsKeepAnAdmin: through the principals page's forms, root (the one
// admin) cannot remove themselves from admins, nor leave or delete the nested group that
// makes them an admin; each refusal is a 400 page saying why and what to do, with an
// audit record of the refusal, and changes nothing. Once olivia is an admin too, the
// same forms go through.
func TestPrincipalFormsKeepAnAdmin(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	admins := w.p[catalog.AdminsGroup].ID
	members := func(op, group, member string) (string, url.Values) {
		return "/principals/" + group + "/members", url.Values{"op": {op}, "member": {member}}
	}
	post := func(name, path string, form url.Values, want int) {
		t.Helper()
		rw := w.req(t, "root", "POST", path, form)
		if rw.Code != want {
			t.Fatalf("%s = %d, want %d:\n%s", name, rw.Code, want, rw.Body)
		}
		if want != 400 {
			return
		}
		if body := rw.Body.String(); !strings.Contains(body, "without an active member") || !strings.Contains(body, "gatehouse admin recover") {
			t.Errorf("%s: the page does not say why:\n%s", name, body)
		}
		if e := w.lastEvent(); e.ActionName != catalog.ActionPrincipalChange || e.ErrorCode != string(catalog.InvalidParameterValue) {
			t.Errorf("%s: audit record %+v, want a refused principal change", name, e)
		}
	}
	isMember := func(group, member string) bool {
		t.Helper()
		ms, err := w.st.ListMembers(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m == member {
				return true
			}
		}
		return false
	}
	root := w.p["root"].ID

	p, f := members("remove", admins, root)
	post("root leaves admins", p, f, 400)
	if !isMember(admins, root) {
		t.Fatal("root left admins")
	}

	// root an admin through the group ops only.
	post("create ops", "/principals/create", url.Values{"kind": {"GROUP"}, "name": {"ops"}}, 303)
	ops, err := w.st.GetPrincipalByName(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	p, f = members("add", ops.ID, root)
	post("root joins ops", p, f, 303)
	p, f = members("add", admins, ops.ID)
	post("ops joins admins", p, f, 303)
	p, f = members("remove", admins, root)
	post("root leaves admins, ops remains", p, f, 303)

	p, f = members("remove", ops.ID, root)
	post("root leaves ops", p, f, 400)
	p, f = members("remove", admins, ops.ID)
	post("ops leaves admins", p, f, 400)
	deleteOps := url.Values{"kind": {"GROUP"}, "confirm": {"on"}}
	post("delete ops", "/principals/"+ops.ID+"/delete", deleteOps, 400)
	if !isMember(ops.ID, root) || !isMember(admins, ops.ID) {
		t.Fatal("a refused change changed the group graph")
	}

	p, f = members("add", admins, w.p["olivia"].ID)
	post("olivia joins admins", p, f, 303)
	post("delete ops, olivia remains", "/principals/"+ops.ID+"/delete", deleteOps, 303)
	if _, err := w.st.GetPrincipal(ctx, ops.ID); !catalog.IsNotFound(err) {
		t.Errorf("ops after its deletion: %v", err)
	}
}
