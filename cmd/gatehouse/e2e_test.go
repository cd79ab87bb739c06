package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// TestCanarySecretsNeverLeak creates connections of every credential type with canary
// secrets, uses every read and write path, and then scans every response, the server's
// log output and the raw bytes of the SQLite files for any canary.
func TestCanarySecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	canaries := []string{"CANARY-bearer-7f3a9c", "CANARY-m2m-secret-41d2", "CANARY-u2m-secret-9be1", "CANARY-peruser-secret-0c77", "CANARY-rotated-5521"}
	// OAuth connections talk to their token endpoint at creation (discovery, and a
	// first token for machine-to-machine), so they get a real one on loopback.
	as := oauthtest.New(t, oauthtest.Options{Clients: []oauthtest.Client{
		{ID: "m2m", Secret: canaries[1]}, {ID: "u2m", Secret: canaries[2]}, {ID: "peruser", Secret: canaries[3]}}})
	ts := startServer(t, dir, map[string]string{"GATEHOUSE_LOG_LEVEL": "debug"}, "--upstream-ca-file", as.CAFile)
	clientOf := map[string]string{canaries[1]: "m2m", canaries[2]: "u2m", canaries[3]: "peruser"}
	oauth := func(secret string) map[string]string {
		return map[string]string{"host": "https://api.example.com", "client_id": clientOf[secret], "client_secret": secret,
			"token_endpoint": as.URL + "/token", "authorization_endpoint": as.URL + "/authorize"}
	}
	m2m := oauth(canaries[1])
	delete(m2m, "authorization_endpoint")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "bearer", "options": map[string]string{"host": "https://api.example.com", "bearer_token": canaries[0]}}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "m2m", "options": m2m}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "u2m", "credential_type": "OAUTH_U2M", "options": oauth(canaries[2])}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "peruser", "credential_type": "OAUTH_U2M_PER_USER", "options": oauth(canaries[3])}, nil)
	// Reads, updates (secret kept, secret rotated), a failed duplicate create and a
	// failed validation that carries the secret.
	for _, n := range []string{"bearer", "m2m", "u2m", "peruser"} {
		ts.must("GET", "/api/2.1/unity-catalog/connections/"+n, ts.Admin, nil, nil)
		ts.must("PATCH", "/api/2.1/unity-catalog/connections/"+n, ts.Admin, map[string]any{"comment": "c"}, nil)
	}
	ts.must("GET", "/api/2.1/unity-catalog/connections", ts.Admin, nil, nil)
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/bearer", ts.Admin, map[string]any{"options": map[string]string{"host": "https://api.example.com", "base_path": "/v2"}}, nil)
	ts.must("PATCH", "/api/2.1/unity-catalog/connections/bearer", ts.Admin, map[string]any{"options": map[string]string{"host": "https://api.example.com", "bearer_token": canaries[4]}}, nil)
	ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "bearer", "options": map[string]string{"host": "https://api.example.com", "bearer_token": canaries[0]}})
	ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "bad", "options": map[string]string{"host": "http://api.example.com", "bearer_token": canaries[0]}})
	ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "bad2", "options": map[string]string{"host": "https://api.example.com", "bearer_token": canaries[0] + "\n"}})
	ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, `{"name":"bad3","options":{"host":"https://x.example.com","bearer_token":"`+canaries[0]+`"}, "extra": 1}`)
	ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, `{"name":"bad4","options":{"bearer_token":`+canaries[0]+`}}`)
	// The CLI too.
	if out, err := ts.cli(ts.Admin, "", "connections", "get", "bearer", "-o", "json"); err != nil {
		t.Fatalf("cli get: %v %s", err, out)
	}
	if out, err := ts.cli(ts.Admin, "", "connections", "list"); err != nil {
		t.Fatalf("cli list: %v %s", err, out)
	}
	ts.Stop()

	scan := map[string][]byte{"responses and CLI output": []byte(ts.responses.String()), "server log": []byte(ts.Stderr.String() + ts.Stdout.String())}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	dbFiles := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scan[f] = b
		if strings.Contains(f, ".db") {
			dbFiles++
		}
	}
	if dbFiles == 0 {
		t.Fatalf("no database files in %s: %v", dir, files)
	}
	if !strings.Contains(ts.Stderr.String(), "request") {
		t.Fatalf("the server logged nothing; the scan would prove nothing")
	}
	for where, b := range scan {
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("canary %s found in %s", c, where)
			}
			if bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(c)))) {
				t.Errorf("base64 of canary %s found in %s", c, where)
			}
		}
	}
}

// snapshot returns a digest of everything the API shows an admin, to prove that
// refused requests change nothing.
func (ts *testServer) snapshot() string {
	ts.t.Helper()
	h := sha256.New()
	var conns struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	ts.must("GET", "/api/2.1/unity-catalog/connections?max_results=1000", ts.Admin, nil, &conns)
	paths := []string{}
	for _, c := range conns.Connections {
		paths = append(paths, "/api/2.1/unity-catalog/permissions/connection/"+c.Name)
	}
	for _, p := range append(paths, []string{
		"/api/2.1/unity-catalog/connections?max_results=1000",
		"/api/2.1/unity-catalog/permissions/metastore/default",
		"/api/2.0/preview/scim/v2/Users", "/api/2.0/preview/scim/v2/Groups", "/api/2.0/preview/scim/v2/ServicePrincipals",
		"/api/2.0/token-management/tokens",
	}...) {
		status, b := ts.do("GET", p, ts.Admin, nil)
		if status != 200 {
			ts.t.Fatalf("snapshot GET %s = %d %s", p, status, b)
		}
		// Token last-used times move with every request; they are not state we guard.
		var v any
		_ = json.Unmarshal(b, &v)
		stripKey(v, "last_used_time")
		nb, _ := json.Marshal(v)
		fmt.Fprintf(h, "%s\n%s\n", p, nb)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func stripKey(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, key)
		for _, e := range x {
			stripKey(e, key)
		}
	case []any:
		for _, e := range x {
			stripKey(e, key)
		}
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	ts := startServer(t, "", map[string]string{"GATEHOUSE_MAX_BODY_BYTES": "4096"})
	ts.mkUser("alice@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "github", "options": map[string]string{"host": "https://api.github.com", "bearer_token": "t"}}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "gitlab", "options": map[string]string{"host": "https://gitlab.com", "bearer_token": "t"}}, nil)
	ts.grant("connection", "github", "alice@example.com", "USE_CONNECTION")
	before := ts.snapshot()
	conn := func(name string, opts map[string]string) map[string]any {
		return map[string]any{"name": name, "connection_type": "HTTP", "options": opts}
	}
	bearer := func(host string) map[string]string { return map[string]string{"host": host, "bearer_token": "t"} }
	const create = "/api/2.1/unity-catalog/connections"
	withBase := func(bp string) map[string]string {
		return map[string]string{"host": "https://a.example.com", "bearer_token": "t", "base_path": bp}
	}
	groupID := func(name string) string {
		var out struct {
			Resources []struct {
				ID string `json:"id"`
			} `json:"Resources"`
		}
		ts.must("GET", `/api/2.0/preview/scim/v2/Groups?filter=displayName%20eq%20%22`+name+`%22`, ts.Admin, nil, &out)
		if len(out.Resources) != 1 {
			t.Fatalf("group %s: %d found", name, len(out.Resources))
		}
		return out.Resources[0].ID
	}
	usersID, adminsID := groupID("users"), groupID("admins")
	addMembers := func(op string, ids ...string) map[string]any {
		var v []map[string]string
		for _, id := range ids {
			v = append(v, map[string]string{"value": id})
		}
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": op, "path": "members", "value": v}}}
	}
	const groups = "/api/2.0/preview/scim/v2/Groups"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		msg    string
	}{
		{"malformed JSON", "POST", create, `{"name": "x", `, 400, "malformed JSON"},
		{"not JSON at all", "POST", create, `hello`, 400, "malformed JSON at byte"},
		{"empty body", "POST", create, ``, 400, "request body is empty"},
		{"array body", "POST", create, `[]`, 400, "must be a JSON object"},
		{"two objects", "POST", create, `{"name":"a","options":{"host":"https://a.example.com","bearer_token":"t"}}{}`, 400, "exactly one JSON object"},
		{"wrong type for name", "POST", create, `{"name": 5, "options": {}}`, 400, "field name: expected a string, got number"},
		{"wrong type for option", "POST", create, `{"name": "x", "options": {"port": 443}}`, 400, "field options: expected a string, got number"},
		{"unknown field", "POST", create, `{"name": "x", "optoins": {}}`, 400, `unknown field "optoins"`},
		{"oversized body", "POST", create, `{"name":"x","comment":"` + strings.Repeat("a", 5000) + `"}`, 413, "larger than the limit of 4096 bytes"},
		{"invalid name", "POST", create, conn("bad name!", bearer("https://a.example.com")), 400, "name \"bad name!\": use only letters"},
		{"empty name", "POST", create, conn("", bearer("https://a.example.com")), 400, "name: must not be empty"},
		{"host with path", "POST", create, conn("x", bearer("https://a.example.com/v1")), 400, "options.host: must be a scheme and host only"},
		{"host with userinfo", "POST", create, conn("x", bearer("https://user:pw@a.example.com")), 400, "options.host: must not contain user information"},
		{"http host", "POST", create, conn("x", bearer("http://a.example.com")), 400, "options.host: must use https"},
		{"ftp host", "POST", create, conn("x", bearer("ftp://a.example.com")), 400, "options.host: scheme \"ftp\" is not allowed"},
		{"duplicate name", "POST", create, conn("github", bearer("https://a.example.com")), 409, "Connection 'github' already exists"},
		{"duplicate name other case", "POST", create, conn("GitHub", bearer("https://a.example.com")), 409, "already exists"},
		{"missing credential type", "POST", create, conn("x", map[string]string{"host": "https://a.example.com"}), 400, "credential_type is required"},
		{"u2m needs type", "POST", create, conn("x", map[string]string{"host": "https://a.example.com", "client_id": "a", "client_secret": "b", "token_endpoint": "https://i.example.com/t", "authorization_endpoint": "https://i.example.com/a"}), 400, "OAUTH_U2M_PER_USER"},
		{"wrong connection type", "POST", create, map[string]any{"name": "x", "connection_type": "MYSQL", "options": bearer("https://a.example.com")}, 400, "connection_type must be HTTP"},
		{"is_mcp change", "PATCH", create + "/github", map[string]any{"options": map[string]string{"host": "https://api.github.com", "is_mcp_connection": "true"}}, 400, "is_mcp_connection cannot be changed after creation; drop and recreate the connection"},
		{"rename to taken", "PATCH", create + "/github", map[string]any{"new_name": "GitLab"}, 409, "already exists"},
		{"update with bad host", "PATCH", create + "/github", map[string]any{"options": map[string]string{"host": "https://a.example.com/x"}}, 400, "options.host"},
		{"owner that does not exist", "PATCH", create + "/github", map[string]any{"owner": "ghost"}, 400, "owner: principal ghost does not exist"},
		{"grant unknown privilege", "PATCH", "/api/2.1/unity-catalog/permissions/connection/github", map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "add": []string{"SELECT"}}}}, 400, "\"SELECT\" is not a privilege on a connection"},
		{"grant to unknown principal", "PATCH", "/api/2.1/unity-catalog/permissions/connection/github", map[string]any{"changes": []map[string]any{{"principal": "ghost", "add": []string{"USE_CONNECTION"}}}}, 400, "principal ghost does not exist"},
		{"half-bad grant batch", "PATCH", "/api/2.1/unity-catalog/permissions/connection/github", map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "remove": []string{"USE_CONNECTION"}}, {"principal": "ghost", "add": []string{"USE_CONNECTION"}}}}, 400, "principal ghost does not exist"},
		{"create connection privilege on connection", "PATCH", "/api/2.1/unity-catalog/permissions/connection/github", map[string]any{"changes": []map[string]any{{"principal": "alice@example.com", "add": []string{"CREATE_CONNECTION"}}}}, 400, "not a privilege on a connection"},
		{"base_path with a quote", "POST", create, conn("x", withBase(`/a"b`)), 400, `options.base_path: contains '"' at byte 2`},
		{"base_path unencoded non-ASCII", "POST", create, conn("x", withBase("/ü")), 400, "options.base_path: contains a non-ASCII character"},
		{"base_path with a space", "POST", create, conn("x", withBase("/a b")), 400, "options.base_path: contains a space"},
		{"base_path with a query", "POST", create, conn("x", withBase("/v1?x=1")), 400, "options.base_path: contains '?'"},
		{"base_path with a fragment", "POST", create, conn("x", withBase("/v1#x")), 400, "options.base_path: contains '#'"},
		{"base_path with bad escape", "POST", create, conn("x", withBase("/%zz")), 400, "options.base_path: contains '%'"},
		{"base_path with control char", "POST", create, conn("x", withBase("/a\x01")), 400, "options.base_path: contains a control character"},
		{"base_path dot-semicolon segment", "POST", create, conn("x", withBase("/v1/..;x")), 400, "options.base_path: must not contain empty, '.' or '..' segments"},
		{"update to an unsendable base_path", "PATCH", create + "/github", map[string]any{"options": map[string]string{"host": "https://api.github.com", "base_path": `/a"b`}}, 400, "options.base_path"},
		{"users into admins by PATCH add", "PATCH", groups + "/" + adminsID, addMembers("add", usersID), 400, "members[0]: the built-in group users cannot be a member of any group"},
		{"users into admins by PATCH replace", "PATCH", groups + "/" + adminsID, addMembers("replace", usersID), 400, "the built-in group users cannot be a member of any group"},
		{"users into admins by PUT", "PUT", groups + "/" + adminsID, map[string]any{"displayName": "admins", "members": []map[string]string{{"value": usersID}}}, 400, "the built-in group users cannot be a member of any group"},
		{"users into a new group by POST", "POST", groups, map[string]any{"displayName": "everyone", "members": []map[string]string{{"value": usersID}}}, 400, "the built-in group users cannot be a member of any group"},
		{"duplicate user", "POST", "/api/2.0/preview/scim/v2/Users", map[string]any{"userName": "ALICE@example.com"}, 409, "already exists"},
		{"user name taken by group", "POST", "/api/2.0/preview/scim/v2/Users", map[string]any{"userName": "admins"}, 409, "already exists"},
		{"user without name", "POST", "/api/2.0/preview/scim/v2/Users", map[string]any{"displayName": "x"}, 400, "userName is required"},
		{"user name with slash", "POST", "/api/2.0/preview/scim/v2/Users", map[string]any{"userName": "a/b"}, 400, "must not contain '/'"},
		{"negative lifetime", "POST", "/api/2.0/token/create", map[string]any{"lifetime_seconds": -1}, 400, "lifetime_seconds must not be negative"},
		{"bad page token", "GET", create + "?page_token=!!!", nil, 400, "page_token"},
		{"bad max_results", "GET", create + "?max_results=abc", nil, 400, "max_results"},
		{"bad scim filter", "GET", "/api/2.0/preview/scim/v2/Users?filter=userName%20sw%20%22a%22", nil, 400, "filter: only"},
		{"wrong content type", "POST", create, nil, 400, "Content-Type must be application/json"},
		{"unknown endpoint", "GET", "/api/2.1/unity-catalog/catalogs", nil, 404, "no such endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var b []byte
			if tc.name == "wrong content type" {
				status, b = ts.doContentType("POST", tc.path, `{"name":"x"}`, "text/plain")
			} else {
				status, b = ts.do(tc.method, tc.path, ts.Admin, tc.body)
			}
			if status != tc.status {
				t.Fatalf("status = %d (%s), want %d", status, b, tc.status)
			}
			e := decodeErr(t, b)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tc.msg)
			}
			if after := ts.snapshot(); after != before {
				t.Errorf("the store changed after a refused request")
			}
		})
	}
}

func (ts *testServer) doContentType(method, path, body, ct string) (int, []byte) {
	ts.t.Helper()
	req, _ := newRequest(method, ts.URL+path, body)
	req.Header.Set("Authorization", "Bearer "+ts.Admin)
	req.Header.Set("Content-Type", ct)
	return send(ts.t, req)
}

func TestDeactivationAndTokenRevocationBiteAtOnce(t *testing.T) {
	ts := startServer(t, "", nil)
	id, tok := ts.mkUser("alice@example.com")
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", tok, nil); status != 200 {
		t.Fatalf("alice before deactivation = %d", status)
	}
	ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+id, ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}}}, nil)
	status, b := ts.do("GET", "/api/2.0/preview/scim/v2/Me", tok, nil)
	if status != 401 || !strings.Contains(decodeErr(t, b).Message, "deactivated") {
		t.Fatalf("alice after deactivation = %d %s, want 401 saying deactivated", status, b)
	}
	ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+id, ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "replace", "path": "active", "value": true}}}, nil)
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", tok, nil); status != 200 {
		t.Fatalf("alice after reactivation = %d", status)
	}
	// Token revocation by its owner, and by an admin.
	var created struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID string `json:"token_id"`
		} `json:"token_info"`
	}
	ts.must("POST", "/api/2.0/token/create", tok, map[string]any{"comment": "second"}, &created)
	ts.must("POST", "/api/2.0/token/delete", tok, map[string]any{"token_id": created.TokenInfo.TokenID}, nil)
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", created.TokenValue, nil); status != 401 {
		t.Fatalf("deleted token still works: %d", status)
	}
	var list struct {
		TokenInfos []struct {
			TokenID   string `json:"token_id"`
			OwnerName string `json:"owner_name"`
		} `json:"token_infos"`
	}
	ts.must("GET", "/api/2.0/token-management/tokens", ts.Admin, nil, &list)
	for _, ti := range list.TokenInfos {
		if ti.OwnerName == "alice@example.com" {
			ts.must("DELETE", "/api/2.0/token-management/tokens/"+ti.TokenID, ts.Admin, nil, nil)
		}
	}
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", tok, nil); status != 401 {
		t.Fatalf("token revoked by admin still works: %d", status)
	}
}

func TestConfigurationErrorsAreReportedTogether(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{"GATEHOUSE_MAX_BODY_BYTES": "12", "GATEHOUSE_LOG_FORMAT": "xml", "GATEHOUSE_MASTER_KEY": "not-base64!"}
	err := run(context.Background(), []string{"server", "--listen", "nonsense", "--public-url", "ftp://x"}, mapEnv(env), strings.NewReader(""), &out, &errOut)
	if err == nil {
		t.Fatal("server started with a broken configuration")
	}
	for _, want := range []string{"listen:", "public-url:", "max-body-bytes:", "log-format:", "GATEHOUSE_MASTER_KEY:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "not-base64!") {
		t.Errorf("error quotes the master key: %q", err)
	}
}

func TestMasterKeyHandling(t *testing.T) {
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	dir := t.TempDir()
	ts := startServer(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA})
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "github", "options": map[string]string{"host": "https://api.github.com", "bearer_token": "t"}}, nil)
	ts.Stop()
	if strings.Contains(ts.Stderr.String(), "DEVELOPMENT MASTER KEY") {
		t.Errorf("warned about a development key while GATEHOUSE_MASTER_KEY was set")
	}

	// A wrong key stops the server with a clear message and never starts serving.
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"server", "--listen", "127.0.0.1:0", "--data-dir", dir}, mapEnv(map[string]string{"GATEHOUSE_MASTER_KEY": keyB}), strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "master key") || !strings.Contains(err.Error(), "GATEHOUSE_MASTER_KEY") {
		t.Fatalf("start with the wrong key: err = %v, want a clear master key error", err)
	}
	if strings.Contains(out.String(), "listening") {
		t.Fatalf("server listened with the wrong key")
	}
	// The right key still works and keeps the data.
	ts2 := startServer(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA, "GATEHOUSE_BOOTSTRAP_TOKEN": ts.Admin})
	ts2.must("GET", "/api/2.1/unity-catalog/connections/github", ts.Admin, nil, nil)
	if strings.Contains(ts2.Stdout.String(), "Admin token") {
		t.Errorf("a second start printed a new admin token")
	}
	ts2.Stop()

	// Without a key, a development key is generated with mode 0600, loudly.
	dev := t.TempDir()
	ts3 := startServer(t, dev, nil)
	ts3.Stop()
	if !strings.Contains(ts3.Stderr.String(), "DEVELOPMENT MASTER KEY") {
		t.Errorf("no loud warning for the generated key; log:\n%s", ts3.Stderr.String())
	}
	fi, err := os.Stat(filepath.Join(dev, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// The harness gives the first admin token in GATEHOUSE_BOOTSTRAP_TOKEN: the first start
	// says it created the admin with it, and does not echo it (TestBootstrapPrintsTokenOnce
	// covers a generated token, which is printed once).
	if out := ts3.Stdout.String(); !strings.Contains(out, "Created user admin with the token in GATEHOUSE_BOOTSTRAP_TOKEN") || strings.Contains(out, ts3.Admin) {
		t.Errorf("first start with GATEHOUSE_BOOTSTRAP_TOKEN: want the admin created and the token not echoed; stdout:\n%s", out)
	}
}

func TestBootstrapPrintsTokenOnce(t *testing.T) {
	dir := t.TempDir()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"server", "--listen", "127.0.0.1:0", "--data-dir", dir}, mapEnv(nil), strings.NewReader(""), &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "listening") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	i := strings.Index(out.String(), identity.TokenPrefix)
	if i < 0 {
		t.Fatalf("no admin token printed:\n%s", out.String())
	}
	if strings.Contains(errOut.String(), identity.TokenPrefix) {
		t.Errorf("the admin token reached the log")
	}
}

func TestGroupsNestWithoutCycles(t *testing.T) {
	ts := startServer(t, "", nil)
	a := ts.mkGroup("a")
	b := ts.mkGroup("b", a)
	c := ts.mkGroup("c", b)
	patch := func(group, member string) (int, []byte) {
		return ts.do("PATCH", "/api/2.0/preview/scim/v2/Groups/"+group, ts.Admin, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": member}}}}})
	}
	before := ts.snapshot()
	for _, tc := range []struct{ group, member string }{{a, c}, {a, a}, {b, c}} {
		status, body := patch(tc.group, tc.member)
		if status != 400 || !strings.Contains(decodeErr(t, body).Message, "cycle") {
			t.Errorf("add %s to %s = %d %s; want 400 naming the cycle", tc.member, tc.group, status, body)
		}
	}
	if ts.snapshot() != before {
		t.Errorf("a refused cycle changed the store")
	}
	// Me shows the groups of a user nested three deep, and the implicit users group.
	uid, tok := ts.mkUser("nina")
	if status, body := patch(a, uid); status != 200 {
		t.Fatalf("add nina to a = %d %s", status, body)
	}
	var me struct {
		Groups []struct {
			Display string `json:"display"`
		} `json:"groups"`
	}
	ts.must("GET", "/api/2.0/preview/scim/v2/Me", tok, nil, &me)
	var names []string
	for _, g := range me.Groups {
		names = append(names, g.Display)
	}
	if strings.Join(names, ",") != "a,b,c,users" {
		t.Errorf("Me groups = %v, want a,b,c,users", names)
	}
}
