package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

const clientTestToken = "dapi-secret-test-token"

// clientSeen is one request as the fake server saw it.
type clientSeen struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// newClientTestServer answers every request with status and body and records it.
func newClientTestServer(t *testing.T, status int, body string) (*httptest.Server, *clientSeen) {
	t.Helper()
	seen := &clientSeen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*seen = clientSeen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// clientJSONEqual compares two JSON texts by value; "" means no body.
func clientJSONEqual(t *testing.T, got, want string) string {
	t.Helper()
	if got == "" || want == "" {
		return cmp.Diff(want, got)
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return "body is not JSON: " + got
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	return cmp.Diff(w, g)
}

func TestClientRequests(t *testing.T) {
	t.Parallel()
	active := false
	tests := []struct {
		name    string
		call    func(context.Context, *httpapi.Client) (any, error)
		resp    string
		method  string
		path    string // escaped
		query   string
		body    string // JSON; "" for none
		want    any
		wantErr bool
	}{
		{
			name: "create connection defaults to HTTP",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.CreateConnection(ctx, httpapi.CreateConnectionRequest{Name: "github", Options: map[string]string{"host": "https://api.github.com", "bearer_token": "ghp"}})
			},
			resp:   `{"name":"github","credential_type":"BEARER_TOKEN","options":{"host":"https://api.github.com"},"enabled":true}`,
			method: "POST", path: "/api/2.1/unity-catalog/connections",
			body: `{"name":"github","connection_type":"HTTP","options":{"host":"https://api.github.com","bearer_token":"ghp"}}`,
			want: &httpapi.ConnectionInfo{Name: "github", CredentialType: "BEARER_TOKEN", Options: map[string]string{"host": "https://api.github.com"}, Enabled: true},
		},
		{
			name:   "get connection escapes the name",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return c.GetConnection(ctx, "a b/c?") },
			resp:   `{"name":"a b/c?"}`,
			method: "GET", path: "/api/2.1/unity-catalog/connections/a%20b%2Fc%3F",
			want: &httpapi.ConnectionInfo{Name: "a b/c?"},
		},
		{
			name:   "list connections with paging",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return c.ListConnections(ctx, 10, "p2") },
			resp:   `{"connections":[{"name":"x"}],"next_page_token":"p3"}`,
			method: "GET", path: "/api/2.1/unity-catalog/connections", query: "max_results=10&page_token=p2",
			want: &httpapi.ListConnectionsResponse{Connections: []httpapi.ConnectionInfo{{Name: "x"}}, NextPageToken: "p3"},
		},
		{
			name: "update connection sends only what is set",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.UpdateConnection(ctx, "github", httpapi.UpdateConnectionRequest{Enabled: &active})
			},
			resp:   `{"name":"github","enabled":false}`,
			method: "PATCH", path: "/api/2.1/unity-catalog/connections/github",
			body: `{"enabled":false}`,
			want: &httpapi.ConnectionInfo{Name: "github"},
		},
		{
			name: "delete connection",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return nil, c.DeleteConnection(ctx, "github")
			},
			method: "DELETE", path: "/api/2.1/unity-catalog/connections/github",
		},
		{
			name: "grant on the metastore",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.UpdatePermissions(ctx, "metastore", "default", httpapi.UpdatePermissions{Changes: []httpapi.PermissionsChange{{Principal: "bob", Add: []string{"CREATE_CONNECTION"}}}})
			},
			resp:   `{"privilege_assignments":[{"principal":"bob","privileges":["CREATE_CONNECTION"]}]}`,
			method: "PATCH", path: "/api/2.1/unity-catalog/permissions/metastore/default",
			body: `{"changes":[{"principal":"bob","add":["CREATE_CONNECTION"]}]}`,
			want: &httpapi.PermissionsList{PrivilegeAssignments: []httpapi.PrivilegeAssignment{{Principal: "bob", Privileges: []string{"CREATE_CONNECTION"}}}},
		},
		{
			name: "effective permissions of a principal",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.GetEffectivePermissions(ctx, "connection", "github", "alice@example.com")
			},
			resp:   `{"privilege_assignments":[{"principal":"alice@example.com","privileges":[{"privilege":"USE_CONNECTION","inherited_from_type":"GROUP","inherited_from_name":"eng"}]}]}`,
			method: "GET", path: "/api/2.1/unity-catalog/effective-permissions/connection/github", query: "principal=alice%40example.com",
			want: &httpapi.EffectivePermissionsList{PrivilegeAssignments: []httpapi.EffectivePrivilegeAssignment{{
				Principal: "alice@example.com", Privileges: []httpapi.EffectivePrivilege{{Privilege: "USE_CONNECTION", InheritedFromType: "GROUP", InheritedFromName: "eng"}},
			}}},
		},
		{
			name:   "create token",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return c.CreateToken(ctx, 3600, "ci") },
			resp:   `{"token_value":"dapi1","token_info":{"token_id":"t1","expiry_time":-1}}`,
			method: "POST", path: "/api/2.0/token/create",
			body: `{"lifetime_seconds":3600,"comment":"ci"}`,
			want: &httpapi.CreateTokenResponse{TokenValue: "dapi1", TokenInfo: httpapi.TokenInfo{TokenID: "t1", ExpiryTime: -1}},
		},
		{
			name:   "delete own token",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return nil, c.DeleteToken(ctx, "t1") },
			method: "POST", path: "/api/2.0/token/delete", body: `{"token_id":"t1"}`,
		},
		{
			name: "on-behalf-of token",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.CreateOBOToken(ctx, httpapi.CreateOBOTokenRequest{ApplicationID: "billing-agent", LifetimeSeconds: 60})
			},
			resp:   `{"token_value":"dapi2","token_info":{"token_id":"t2"}}`,
			method: "POST", path: "/api/2.0/token-management/on-behalf-of/tokens",
			body: `{"application_id":"billing-agent","lifetime_seconds":60}`,
			want: &httpapi.CreateTokenResponse{TokenValue: "dapi2", TokenInfo: httpapi.TokenInfo{TokenID: "t2"}},
		},
		{
			name:   "delete any token",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return nil, c.DeleteAnyToken(ctx, "t2") },
			method: "DELETE", path: "/api/2.0/token-management/tokens/t2",
		},
		{
			name:   "list users with a filter",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return c.ListUsers(ctx, `userName sw "a"`) },
			resp:   `{"totalResults":1,"Resources":[{"id":"u1","userName":"alice"}]}`,
			method: "GET", path: "/api/2.0/preview/scim/v2/Users", query: "filter=userName+sw+%22a%22",
			want: &httpapi.SCIMList[httpapi.SCIMUser]{TotalResults: 1, Resources: []httpapi.SCIMUser{{ID: "u1", UserName: "alice"}}},
		},
		{
			name: "user by name quotes the filter",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) { return c.UserByName(ctx, `al"ice`) },
			resp: `{"Resources":[{"id":"u1","userName":"al\"ice"}]}`, method: "GET", path: "/api/2.0/preview/scim/v2/Users",
			query: "filter=userName+eq+%22al%5C%22ice%22",
			want:  &httpapi.SCIMUser{ID: "u1", UserName: `al"ice`},
		},
		{
			name: "user by name ignores other users when the server ignores the filter",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) { return c.UserByName(ctx, "bob") },
			resp: `{"Resources":[{"id":"u1","userName":"alice"},{"id":"u2","userName":"Bob"}]}`, method: "GET", path: "/api/2.0/preview/scim/v2/Users",
			query: "filter=userName+eq+%22bob%22",
			want:  &httpapi.SCIMUser{ID: "u2", UserName: "Bob"},
		},
		{
			name: "create service principal adds the schema",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.CreateServicePrincipal(ctx, httpapi.SCIMServicePrincipal{ApplicationID: "billing-agent"})
			},
			resp:   `{"id":"s1","applicationId":"billing-agent"}`,
			method: "POST", path: "/api/2.0/preview/scim/v2/ServicePrincipals",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],"applicationId":"billing-agent"}`,
			want: &httpapi.SCIMServicePrincipal{ID: "s1", ApplicationID: "billing-agent"},
		},
		{
			name: "patch group members",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return c.PatchGroup(ctx, "g1", httpapi.SCIMPatch{Operations: []httpapi.SCIMPatchOp{{Op: "add", Path: "members", Value: []httpapi.SCIMRef{{Value: "u1"}}}}})
			},
			resp:   `{"id":"g1","displayName":"eng"}`,
			method: "PATCH", path: "/api/2.0/preview/scim/v2/Groups/g1",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}`,
			want: &httpapi.SCIMGroup{ID: "g1", DisplayName: "eng"},
		},
		{
			name: "delete service principal",
			call: func(ctx context.Context, c *httpapi.Client) (any, error) {
				return nil, c.DeleteServicePrincipal(ctx, "s1")
			},
			method: "DELETE", path: "/api/2.0/preview/scim/v2/ServicePrincipals/s1",
		},
		{
			name:   "me",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return c.Me(ctx) },
			resp:   `{"id":"u1","userName":"alice","active":true,"groups":[{"value":"g1","display":"eng"}]}`,
			method: "GET", path: "/api/2.0/preview/scim/v2/Me",
			want: &httpapi.SCIMMe{ID: "u1", UserName: "alice", Active: true, Groups: []httpapi.SCIMRef{{Value: "g1", Display: "eng"}}},
		},
		{
			name:   "healthz",
			call:   func(ctx context.Context, c *httpapi.Client) (any, error) { return nil, c.Healthz(ctx) },
			resp:   "ok",
			method: "GET", path: "/healthz",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := newClientTestServer(t, http.StatusOK, tt.resp)
			// The server's own client: a transport per subtest, since a parallel
			// subtest's httptest.Server.Close closes http.DefaultTransport's idle
			// connections, and with them a request another subtest has in flight.
			c := httpapi.NewClient(srv.URL+"/", clientTestToken, srv.Client())
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if seen.Method != tt.method || seen.Path != tt.path || seen.Query != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", seen.Method, seen.Path, seen.Query, tt.method, tt.path, tt.query)
			}
			if got, want := seen.Header.Get("Authorization"), "Bearer "+clientTestToken; got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
			if got := seen.Header.Get("User-Agent"); got != "gatehouse-cli" {
				t.Errorf("User-Agent = %q, want gatehouse-cli", got)
			}
			wantCT := ""
			if tt.body != "" {
				wantCT = "application/json"
			}
			if got := seen.Header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, want %q", got, wantCT)
			}
			if d := clientJSONEqual(t, seen.Body, tt.body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
			if tt.want != nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("result (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      *httpapi.APIError
		wantError string
	}{
		{
			name:   "API error",
			status: http.StatusForbidden,
			body:   `{"error_code":"PERMISSION_DENIED","message":"User alice does not have USE_CONNECTION on connection github","request_id":"abc"}`,
			want: &httpapi.APIError{Status: 403, Code: "PERMISSION_DENIED",
				Message: "User alice does not have USE_CONNECTION on connection github", RequestID: "abc"},
			wantError: "PERMISSION_DENIED: User alice does not have USE_CONNECTION on connection github (request id abc)",
		},
		{
			name:   "login required keeps the login URL",
			status: http.StatusUnauthorized,
			body:   `{"error_code":"OAUTH_LOGIN_REQUIRED","message":"Please login first","login_url":"https://gh.example.com/connections/github/login"}`,
			want: &httpapi.APIError{Status: 401, Code: "OAUTH_LOGIN_REQUIRED", Message: "Please login first",
				LoginURL: "https://gh.example.com/connections/github/login"},
			wantError: "OAUTH_LOGIN_REQUIRED: Please login first",
		},
		{
			name:      "request id from the header",
			status:    http.StatusNotFound,
			header:    map[string]string{"X-Gatehouse-Request-Id": "req-9"},
			body:      `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Connection 'x' does not exist"}`,
			want:      &httpapi.APIError{Status: 404, Code: "RESOURCE_DOES_NOT_EXIST", Message: "Connection 'x' does not exist", RequestID: "req-9"},
			wantError: "RESOURCE_DOES_NOT_EXIST: Connection 'x' does not exist (request id req-9)",
		},
		{
			name:      "SCIM error body",
			status:    http.StatusConflict,
			body:      `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User alice already exists","status":"409"}`,
			want:      &httpapi.APIError{Status: 409, Code: "RESOURCE_ALREADY_EXISTS", Message: "User alice already exists"},
			wantError: "RESOURCE_ALREADY_EXISTS: User alice already exists",
		},
		{
			name:      "HTML from a proxy",
			status:    http.StatusBadGateway,
			body:      "<html>\n<body>Bad\tGateway</body>\n</html>",
			want:      &httpapi.APIError{Status: 502, Code: "HTTP_502", Message: "<html> <body>Bad Gateway</body> </html>"},
			wantError: "HTTP_502: <html> <body>Bad Gateway</body> </html>",
		},
		{
			name:      "long body is cut short",
			status:    http.StatusInternalServerError,
			body:      strings.Repeat("x", 5000),
			want:      &httpapi.APIError{Status: 500, Code: "HTTP_500", Message: strings.Repeat("x", 200) + "…"},
			wantError: "HTTP_500: " + strings.Repeat("x", 200) + "…",
		},
		{
			name:      "empty body",
			status:    http.StatusServiceUnavailable,
			want:      &httpapi.APIError{Status: 503, Code: "HTTP_503", Message: "Service Unavailable"},
			wantError: "HTTP_503: Service Unavailable",
		},
		{
			name:      "an echoed token is redacted",
			status:    http.StatusUnauthorized,
			body:      `{"error_code":"UNAUTHENTICATED","message":"bad token Bearer ` + clientTestToken + `"}`,
			want:      &httpapi.APIError{Status: 401, Code: "UNAUTHENTICATED", Message: "bad token Bearer [REDACTED]"},
			wantError: "UNAUTHENTICATED: bad token Bearer [REDACTED]",
		},
		{
			name:      "terminal escapes are neutralised",
			status:    http.StatusBadRequest,
			body:      `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad \u001b[31mname"}`,
			want:      &httpapi.APIError{Status: 400, Code: "INVALID_PARAMETER_VALUE", Message: "bad ?[31mname"},
			wantError: "INVALID_PARAMETER_VALUE: bad ?[31mname",
		},
		{
			name:      "tabs kept, CRLF a newline, a lone CR replaced (as mcp call prints a tool's text)",
			status:    http.StatusBadRequest,
			body:      `{"error_code":"INVALID_PARAMETER_VALUE","message":"a\tb\r\nc\rd"}`,
			want:      &httpapi.APIError{Status: 400, Code: "INVALID_PARAMETER_VALUE", Message: "a\tb\nc?d"},
			wantError: "INVALID_PARAMETER_VALUE: a\tb\nc?d",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := httpapi.NewClient(srv.URL, clientTestToken, nil).GetConnection(t.Context(), "x")
			var ae *httpapi.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("GetConnection error = %v (%T), want *APIError", err, err)
			}
			if d := cmp.Diff(tt.want, ae); d != "" {
				t.Errorf("APIError (-want +got):\n%s", d)
			}
			if got := err.Error(); got != tt.wantError {
				t.Errorf("Error() = %q, want %q", got, tt.wantError)
			}
			if strings.Contains(err.Error(), clientTestToken) {
				t.Errorf("Error() = %q contains the token", err.Error())
			}
		})
	}
}

func TestClientNoTokenNoHeader(t *testing.T) {
	t.Parallel()
	srv, seen := newClientTestServer(t, http.StatusOK, "ok")
	if err := httpapi.NewClient(srv.URL, "", nil).Healthz(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := seen.Header["Authorization"]; ok {
		t.Errorf("Authorization header sent without a token: %q", seen.Header.Get("Authorization"))
	}
}

func TestClientRefusesDotSegments(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := httpapi.NewClient(srv.URL, clientTestToken, nil)
	for _, name := range []string{"", ".", ".."} {
		if err := c.DeleteConnection(t.Context(), name); err == nil {
			t.Errorf("DeleteConnection(%q) = nil, want an error", name)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("server called %d times, want 0", n)
	}
}

// A redirect must not carry the token anywhere: the client reports it instead.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/steal", http.StatusTemporaryRedirect))
	defer srv.Close()
	_, err := httpapi.NewClient(srv.URL, clientTestToken, nil).ListTokens(t.Context())
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
		t.Fatalf("ListTokens error = %v, want an APIError with status 307", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target called %d times, want 0", n)
	}
}

func TestClientListAllConnections(t *testing.T) {
	t.Parallel()
	pages := map[string]string{
		"":   `{"connections":[{"name":"a"},{"name":"b"}],"next_page_token":"p2"}`,
		"p2": `{"connections":[{"name":"c"}],"next_page_token":"p3"}`,
		"p3": `{"connections":[]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, pages[r.URL.Query().Get("page_token")])
	}))
	defer srv.Close()
	got, err := httpapi.NewClient(srv.URL, clientTestToken, nil).ListAllConnections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	if d := cmp.Diff([]string{"a", "b", "c"}, names); d != "" {
		t.Errorf("ListAllConnections names (-want +got):\n%s", d)
	}

	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"connections":[{"name":"a"}],"next_page_token":"same"}`)
	}))
	defer loop.Close()
	if _, err := httpapi.NewClient(loop.URL, clientTestToken, nil).ListAllConnections(t.Context()); err == nil {
		t.Error("ListAllConnections with a repeating page token = nil error, want one")
	}
}

func TestClientByNameNotFound(t *testing.T) {
	t.Parallel()
	srv, _ := newClientTestServer(t, http.StatusOK, `{"totalResults":0,"Resources":[]}`)
	c := httpapi.NewClient(srv.URL, clientTestToken, nil)
	tests := []struct {
		name string
		call func() error
	}{
		{"user", func() error { _, err := c.UserByName(t.Context(), "nobody"); return err }},
		{"group", func() error { _, err := c.GroupByName(t.Context(), "nobody"); return err }},
		{"service principal", func() error { _, err := c.ServicePrincipalByAppID(t.Context(), "nobody"); return err }},
	}
	for _, tt := range tests {
		var ae *httpapi.APIError
		if err := tt.call(); !errors.As(err, &ae) || ae.Code != "RESOURCE_DOES_NOT_EXIST" || ae.Status != 404 {
			t.Errorf("%s by name = %v, want a RESOURCE_DOES_NOT_EXIST APIError", tt.name, err)
		}
	}
}
