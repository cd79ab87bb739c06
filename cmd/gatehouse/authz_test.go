package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// callers are the columns of the authorization matrix.
var callers = []string{"admin", "owner", "manager", "user", "nested", "nogrant", "deactivated", "expired", "none", "garbage"}

// matrixWorld is the cast of the authorization matrix:
//   - owner (olivia) holds CREATE_CONNECTION and created the connection "github";
//   - manager (mike) holds MANAGE on it; user (ursula) holds USE_CONNECTION directly;
//   - nested (nina) is in team1, inside team2 … inside team5, which holds USE_CONNECTION;
//   - nogrant (nobody) holds nothing; deactivated (dave) held USE_CONNECTION and was
//     deactivated; expired (erin) holds USE_CONNECTION through an expired token.
type matrixWorld struct {
	ts     *testServer
	tokens map[string]string
	ids    map[string]string
}

func newMatrixWorld(t *testing.T) *matrixWorld {
	ts := startServer(t, "", nil)
	w := &matrixWorld{ts: ts, tokens: map[string]string{"admin": ts.Admin, "none": "", "garbage": "gth_notarealtokenatallnotarealtokenatallxx"}, ids: map[string]string{}}
	for role, name := range map[string]string{"owner": "olivia", "manager": "mike", "user": "ursula", "nested": "nina", "nogrant": "nobody", "deactivated": "dave"} {
		w.ids[role], w.tokens[role] = ts.mkUser(name)
	}
	// erin's token expires one second from now.
	var erin struct {
		ID string `json:"id"`
	}
	ts.must("POST", "/api/2.0/preview/scim/v2/Users", ts.Admin, map[string]any{"userName": "erin"}, &erin)
	var tok struct {
		TokenValue string `json:"token_value"`
	}
	ts.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", ts.Admin, map[string]any{"user_name": "erin", "lifetime_seconds": 1}, &tok)
	w.tokens["expired"] = tok.TokenValue
	inner := w.ids["nested"]
	for i := 1; i <= 5; i++ {
		inner = ts.mkGroup(fmt.Sprintf("team%d", i), inner)
	}
	ts.grant("metastore", "default", "olivia", "CREATE_CONNECTION")
	w.makeConnection("github")
	// dave is deactivated after his grant, so the grant exists and must not count.
	ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+w.ids["deactivated"], ts.Admin,
		map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
	time.Sleep(1100 * time.Millisecond) // let erin's token expire
	return w
}

// makeConnection creates a connection owned by olivia with the matrix's grants.
func (w *matrixWorld) makeConnection(name string) {
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.tokens["owner"], map[string]any{
		"name": name, "connection_type": "HTTP",
		"options": map[string]string{"host": "https://api.github.com", "bearer_token": "ghp_matrix"},
	}, nil)
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/"+name, w.tokens["owner"], map[string]any{"changes": []map[string]any{
		{"principal": "mike", "add": []string{"MANAGE"}},
		{"principal": "ursula", "add": []string{"USE_CONNECTION"}},
		{"principal": "team5", "add": []string{"USE_CONNECTION"}},
		{"principal": "dave", "add": []string{"USE_CONNECTION"}},
		{"principal": "erin", "add": []string{"USE_CONNECTION"}},
	}}, nil)
}

func TestAuthorizationMatrix(t *testing.T) {
	w := newMatrixWorld(t)
	ts := w.ts
	n := 0
	unique := func() string { n++; return "c" + strconv.Itoa(n) }
	patchOp := func(op, path string, value any) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": op, "path": path, "value": value}}}
	}
	type endpoint struct {
		name   string
		method string
		path   string
		body   func() any
		setup  func()
		// want has one status per caller, in the order of callers.
		want string
	}
	const unauth = "401 401 401 401"
	rows := []endpoint{
		{name: "health", method: "GET", path: "/healthz", want: "200 200 200 200 200 200 200 200 200 200"},
		{name: "ready", method: "GET", path: "/readyz", want: "200 200 200 200 200 200 200 200 200 200"},
		{name: "me", method: "GET", path: "/api/2.0/preview/scim/v2/Me", want: "200 200 200 200 200 200 " + unauth},
		{name: "create connection", method: "POST", path: "/api/2.1/unity-catalog/connections",
			body: func() any {
				return map[string]any{"name": unique(), "connection_type": "HTTP", "options": map[string]string{"host": "https://x.example.com", "bearer_token": "t"}}
			},
			want: "200 200 403 403 403 403 " + unauth},
		{name: "list connections", method: "GET", path: "/api/2.1/unity-catalog/connections", want: "200 200 200 200 200 200 " + unauth},
		{name: "get connection", method: "GET", path: "/api/2.1/unity-catalog/connections/github", want: "200 200 200 200 200 403 " + unauth},
		{name: "get missing connection", method: "GET", path: "/api/2.1/unity-catalog/connections/nope", want: "404 404 404 404 404 404 " + unauth},
		{name: "update connection", method: "PATCH", path: "/api/2.1/unity-catalog/connections/github",
			body: func() any { return map[string]any{"comment": "touched"} }, want: "200 200 200 403 403 403 " + unauth},
		{name: "rotate token", method: "PATCH", path: "/api/2.1/unity-catalog/connections/github",
			body: func() any {
				return map[string]any{"options": map[string]string{"host": "https://api.github.com", "bearer_token": "ghp_rotated"}}
			}, want: "200 200 200 403 403 403 " + unauth},
		{name: "delete connection", method: "DELETE", path: "/api/2.1/unity-catalog/connections/doomed",
			setup: func() {
				ts.do("DELETE", "/api/2.1/unity-catalog/connections/doomed", ts.Admin, nil)
				w.makeConnection("doomed")
			}, want: "200 200 200 403 403 403 " + unauth},
		{name: "get permissions", method: "GET", path: "/api/2.1/unity-catalog/permissions/connection/github", want: "200 200 200 200 200 403 " + unauth},
		{name: "update permissions", method: "PATCH", path: "/api/2.1/unity-catalog/permissions/connection/github",
			body: func() any {
				return map[string]any{"changes": []map[string]any{{"principal": "ursula", "add": []string{"USE_CONNECTION"}}}}
			}, want: "200 200 200 403 403 403 " + unauth},
		{name: "own effective permissions", method: "GET", path: "/api/2.1/unity-catalog/effective-permissions/connection/github", want: "200 200 200 200 200 200 " + unauth},
		{name: "others' effective permissions", method: "GET", path: "/api/2.1/unity-catalog/effective-permissions/connection/github?principal=nina", want: "200 200 200 403 200 403 " + unauth},
		{name: "get metastore grants", method: "GET", path: "/api/2.1/unity-catalog/permissions/metastore/default", want: "200 200 200 200 200 200 " + unauth},
		{name: "update metastore grants", method: "PATCH", path: "/api/2.1/unity-catalog/permissions/metastore/default",
			body: func() any {
				return map[string]any{"changes": []map[string]any{{"principal": "olivia", "add": []string{"CREATE_CONNECTION"}}}}
			}, want: "200 403 403 403 403 403 " + unauth},
		{name: "create own token", method: "POST", path: "/api/2.0/token/create", body: func() any { return map[string]any{"comment": "x"} }, want: "200 200 200 200 200 200 " + unauth},
		{name: "list own tokens", method: "GET", path: "/api/2.0/token/list", want: "200 200 200 200 200 200 " + unauth},
		{name: "delete someone else's token via token/delete", method: "POST", path: "/api/2.0/token/delete",
			body: func() any { return map[string]any{"token_id": "not-yours"} }, want: "404 404 404 404 404 404 " + unauth},
		{name: "mint token for others", method: "POST", path: "/api/2.0/token-management/on-behalf-of/tokens",
			body: func() any { return map[string]any{"user_name": "ursula"} }, want: "200 403 403 403 403 403 " + unauth},
		{name: "list all tokens", method: "GET", path: "/api/2.0/token-management/tokens", want: "200 403 403 403 403 403 " + unauth},
		{name: "verify audit chain", method: "GET", path: "/api/2.0/gatehouse/audit/verify", want: "200 403 403 403 403 403 " + unauth},
		{name: "list users", method: "GET", path: "/api/2.0/preview/scim/v2/Users", want: "200 403 403 403 403 403 " + unauth},
		{name: "create user", method: "POST", path: "/api/2.0/preview/scim/v2/Users",
			body: func() any { return map[string]any{"userName": unique() + "@example.com"} }, want: "201 403 403 403 403 403 " + unauth},
		{name: "list groups", method: "GET", path: "/api/2.0/preview/scim/v2/Groups", want: "200 403 403 403 403 403 " + unauth},
		{name: "patch group", method: "PATCH", path: "/api/2.0/preview/scim/v2/Groups/",
			body: func() any { return patchOp("replace", "displayName", "team1") }, want: "200 403 403 403 403 403 " + unauth},
		{name: "list service principals", method: "GET", path: "/api/2.0/preview/scim/v2/ServicePrincipals", want: "200 403 403 403 403 403 " + unauth},
		{name: "create service principal", method: "POST", path: "/api/2.0/preview/scim/v2/ServicePrincipals",
			body: func() any { return map[string]any{"applicationId": unique() + "-agent"} }, want: "201 403 403 403 403 403 " + unauth},
	}
	// Rows whose target is made fresh before each caller: a throwaway user, group,
	// service principal and token.
	var victim string
	mkVictim := func(kind, field string) func() {
		return func() {
			var v struct {
				ID string `json:"id"`
			}
			ts.must("POST", "/api/2.0/preview/scim/v2/"+kind, ts.Admin, map[string]any{field: unique() + "-victim"}, &v)
			victim = v.ID
		}
	}
	var victimToken string
	mkToken := func() {
		var tok struct {
			TokenInfo struct {
				TokenID string `json:"token_id"`
			} `json:"token_info"`
		}
		ts.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", ts.Admin, map[string]any{"user_name": "nobody"}, &tok)
		victimToken = tok.TokenInfo.TokenID
	}
	dyn := []struct {
		name, method, kind, field string
		body                      func() any
		want                      string
	}{
		{"get user", "GET", "Users", "userName", nil, "200 403 403 403 403 403 " + unauth},
		{"put user", "PUT", "Users", "userName", func() any { return map[string]any{"userName": unique() + "-renamed"} }, "200 403 403 403 403 403 " + unauth},
		{"patch user", "PATCH", "Users", "userName", func() any { return patchOp("replace", "displayName", "X") }, "200 403 403 403 403 403 " + unauth},
		{"delete user", "DELETE", "Users", "userName", nil, "204 403 403 403 403 403 " + unauth},
		{"get group", "GET", "Groups", "displayName", nil, "200 403 403 403 403 403 " + unauth},
		{"put group", "PUT", "Groups", "displayName", func() any { return map[string]any{"displayName": unique() + "-g"} }, "200 403 403 403 403 403 " + unauth},
		{"delete group", "DELETE", "Groups", "displayName", nil, "204 403 403 403 403 403 " + unauth},
		{"get service principal", "GET", "ServicePrincipals", "applicationId", nil, "200 403 403 403 403 403 " + unauth},
		{"put service principal", "PUT", "ServicePrincipals", "applicationId", func() any { return map[string]any{"applicationId": unique() + "-sp"} }, "200 403 403 403 403 403 " + unauth},
		{"patch service principal", "PATCH", "ServicePrincipals", "applicationId", func() any { return patchOp("replace", "active", false) }, "200 403 403 403 403 403 " + unauth},
		{"delete service principal", "DELETE", "ServicePrincipals", "applicationId", nil, "204 403 403 403 403 403 " + unauth},
	}
	for _, d := range dyn {
		d := d
		path := "/api/2.0/preview/scim/v2/" + d.kind + "/"
		rows = append(rows, endpoint{name: d.name, method: d.method, path: path, body: d.body, setup: mkVictim(d.kind, d.field), want: d.want})
	}
	rows = append(rows,
		endpoint{name: "revoke any token", method: "DELETE", path: "/api/2.0/token-management/tokens/", setup: mkToken, want: "200 403 403 403 403 403 " + unauth},
		endpoint{name: "effective on metastore", method: "GET", path: "/api/2.1/unity-catalog/effective-permissions/metastore/default", want: "200 200 200 200 200 200 " + unauth},
	)
	var team1 struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	ts.must("GET", `/api/2.0/preview/scim/v2/Groups?filter=displayName%20eq%20%22team1%22`, ts.Admin, nil, &team1)
	for i := range rows {
		if rows[i].name == "patch group" {
			rows[i].path += team1.Resources[0].ID
		}
	}
	for _, row := range rows {
		want := strings.Fields(row.want)
		if len(want) != len(callers) {
			t.Fatalf("row %s has %d statuses, want %d", row.name, len(want), len(callers))
		}
		var got []string
		for _, c := range callers {
			if row.setup != nil {
				row.setup()
			}
			var body any
			if row.body != nil {
				body = row.body()
			}
			path := row.path
			switch {
			case strings.HasSuffix(path, "/scim/v2/Users/"), strings.HasSuffix(path, "/scim/v2/Groups/"), strings.HasSuffix(path, "/scim/v2/ServicePrincipals/"):
				path += victim
			case strings.HasSuffix(path, "/tokens/"):
				path += victimToken
			}
			status, b := ts.do(row.method, path, w.tokens[c], body)
			got = append(got, strconv.Itoa(status))
			if status >= 400 {
				decodeErr(t, b)
			}
		}
		for i, c := range callers {
			if got[i] != want[i] {
				t.Errorf("%s %s (%s) as %s = %s, want %s", row.method, row.path, row.name, c, got[i], want[i])
			}
		}
	}
}

// TestListShowsOnlyVisible checks that list answers hold exactly the connections the
// caller owns or has a privilege on.
func TestListShowsOnlyVisible(t *testing.T) {
	w := newMatrixWorld(t)
	ts := w.ts
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "admins-only", "options": map[string]string{"host": "https://x.example.com", "bearer_token": "t"}}, nil)
	want := map[string]string{"admin": "admins-only,github", "owner": "github", "manager": "github", "user": "github", "nested": "github", "nogrant": ""}
	for who, names := range want {
		var resp struct {
			Connections []struct {
				Name string `json:"name"`
			} `json:"connections"`
		}
		ts.must("GET", "/api/2.1/unity-catalog/connections", w.tokens[who], nil, &resp)
		var got []string
		for _, c := range resp.Connections {
			got = append(got, c.Name)
		}
		if strings.Join(got, ",") != names {
			t.Errorf("list as %s = %q, want %q", who, strings.Join(got, ","), names)
		}
	}
}
