package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestSCIMKeepsAnAdmin: through SCIM, PATCH, PUT and DELETE that would leave the admins
// group without an active member are refused (400 INVALID_PARAMETER_VALUE saying why and
// what to do) and change nothing: the one admin leaving admins, a PUT that empties it,
// leaving or deleting the nested group that makes them an admin. With a second admin
// the same requests go through, and two admins removing each other one after the other
// leave one.
func TestSCIMKeepsAnAdmin(t *testing.T) {
	ts := startServer(t, "", nil)
	const scim = "/api/2.0/preview/scim/v2"
	var me struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	}
	ts.must("GET", scim+"/Me", ts.Admin, nil, &me)
	var found struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	ts.must("GET", scim+`/Groups?filter=displayName%20eq%20%22admins%22`, ts.Admin, nil, &found)
	if len(found.Resources) != 1 {
		t.Fatalf("admins group: %d found", len(found.Resources))
	}
	admins := found.Resources[0].ID
	patch := func(op, member string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": op, "path": "members", "value": []map[string]string{{"value": member}}}}}
	}
	members := func(group string) string {
		t.Helper()
		var g struct {
			Members []struct {
				Value string `json:"value"`
			} `json:"members"`
		}
		ts.must("GET", scim+"/Groups/"+group, ts.Admin, nil, &g)
		var ids []string
		for _, m := range g.Members {
			ids = append(ids, m.Value)
		}
		return strings.Join(ids, ",")
	}
	refused := func(name, method, path, token string, body any) {
		t.Helper()
		status, b := ts.do(method, path, token, body)
		if status != http.StatusBadRequest {
			t.Fatalf("%s = %d %s, want 400", name, status, b)
		}
		e := decodeErr(t, b)
		if e.ErrorCode != "INVALID_PARAMETER_VALUE" || !strings.Contains(e.Message, "without an active member") ||
			!strings.Contains(e.Message, "make another user or service principal an admin first") {
			t.Errorf("%s: %+v, want INVALID_PARAMETER_VALUE saying why and what to do", name, e)
		}
	}

	refused("PATCH: the one admin leaves admins", "PATCH", scim+"/Groups/"+admins, ts.Admin, patch("remove", me.ID))
	refused("PUT: admins emptied", "PUT", scim+"/Groups/"+admins, ts.Admin, map[string]any{"displayName": "admins", "members": []any{}})
	if got := members(admins); got != me.ID {
		t.Fatalf("admins after the refusals = %q, want only %s", got, me.ID)
	}

	// The admin is an admin through the group ops only.
	ops := ts.mkGroup("ops", me.ID)
	ts.must("PATCH", scim+"/Groups/"+admins, ts.Admin, patch("add", ops), nil)
	ts.must("PATCH", scim+"/Groups/"+admins, ts.Admin, patch("remove", me.ID), nil)
	refused("PATCH: leave ops", "PATCH", scim+"/Groups/"+ops, ts.Admin, patch("remove", me.ID))
	refused("PUT: ops emptied", "PUT", scim+"/Groups/"+ops, ts.Admin, map[string]any{"displayName": "ops", "members": []any{}})
	refused("DELETE: ops", "DELETE", scim+"/Groups/"+ops, ts.Admin, nil)
	if members(admins) != ops || members(ops) != me.ID {
		t.Fatalf("a refused change changed the groups: admins %q, ops %q", members(admins), members(ops))
	}

	// With bob an admin too, ops may go; then the two remove each other in turn.
	bob, bobToken := ts.mkUser("bob@example.com")
	ts.must("PATCH", scim+"/Groups/"+admins, ts.Admin, patch("add", bob), nil)
	ts.must("PATCH", scim+"/Groups/"+admins, ts.Admin, patch("add", me.ID), nil)
	if status, b := ts.do("DELETE", scim+"/Groups/"+ops, ts.Admin, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE ops with two admins = %d %s", status, b)
	}
	ts.must("PATCH", scim+"/Groups/"+admins, ts.Admin, patch("remove", bob), nil)
	if status, b := ts.do("PATCH", scim+"/Groups/"+admins, bobToken, patch("remove", me.ID)); status != http.StatusForbidden {
		t.Errorf("bob, removed, removes the admin = %d %s, want 403", status, b)
	}
	refused("PATCH: the admin, alone again, leaves", "PATCH", scim+"/Groups/"+admins, ts.Admin, patch("remove", me.ID))
	if got := members(admins); got != me.ID {
		t.Errorf("admins at the end = %q, want only %s", got, me.ID)
	}
}
