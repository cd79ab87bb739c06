package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The client side of the HTTP API: what the CLI (and any Go program) uses to talk to a
// Gatehouse server. Every method takes ctx first and returns the decoded body or an
// *APIError for a non-2xx answer.

const (
	clientUserAgent = "gatehouse-cli"
	// clientMaxBody bounds a successful response body; clientMaxErrorBody an error body.
	clientMaxBody      = 64 << 20
	clientMaxErrorBody = 64 << 10
	// clientSnippetLen is how much of a non-JSON error body an APIError shows.
	clientSnippetLen = 200
	clientSCIMBase   = "/api/2.0/preview/scim/v2"
)

// Client calls the Gatehouse HTTP API on behalf of one principal (its token).
// It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	hc      *http.Client
}

// NewClient returns a client for the server at baseURL (scheme, host and an optional
// path prefix, e.g. "https://gatehouse.example.com") that authenticates with token; an
// empty token sends no Authorization header. When hc is nil, the client uses its own
// http.Client with a timeout that does not follow redirects: the token is meant for the
// Gatehouse server only, and a redirect elsewhere is reported as an error instead.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{
			Timeout: 2 * time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// APIError is a non-2xx answer of the API. Code is the API's error_code, or HTTP_<status>
// when the body was not an API error (a proxy's HTML page, for example).
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	LoginURL  string
}

// Error reads like "PERMISSION_DENIED: User alice does not have ... (request id abc)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Healthz calls GET /healthz and returns nil when the server is alive.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// ---- connections ----

const clientConnectionsPath = "/api/2.1/unity-catalog/connections"

// CreateConnection creates a connection; an empty ConnectionType means "HTTP".
func (c *Client) CreateConnection(ctx context.Context, req CreateConnectionRequest) (*ConnectionInfo, error) {
	if req.ConnectionType == "" {
		req.ConnectionType = "HTTP"
	}
	var out ConnectionInfo
	if err := c.do(ctx, http.MethodPost, clientConnectionsPath, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetConnection returns the connection called name.
func (c *Client) GetConnection(ctx context.Context, name string) (*ConnectionInfo, error) {
	p, err := clientPath(clientConnectionsPath, name)
	if err != nil {
		return nil, err
	}
	var out ConnectionInfo
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListConnections returns one page of the connections the caller may see. maxResults 0
// and pageToken "" leave the choice to the server.
func (c *Client) ListConnections(ctx context.Context, maxResults int, pageToken string) (*ListConnectionsResponse, error) {
	q := url.Values{}
	if maxResults > 0 {
		q.Set("max_results", strconv.Itoa(maxResults))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	var out ListConnectionsResponse
	if err := c.do(ctx, http.MethodGet, clientConnectionsPath, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllConnections follows next_page_token and returns every connection the caller
// may see.
func (c *Client) ListAllConnections(ctx context.Context) ([]ConnectionInfo, error) {
	var all []ConnectionInfo
	seen := map[string]bool{}
	token := ""
	for {
		page, err := c.ListConnections(ctx, 0, token)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Connections...)
		if page.NextPageToken == "" {
			return all, nil
		}
		// A server that hands out the same token twice would keep us here forever.
		if seen[page.NextPageToken] {
			return nil, fmt.Errorf("list connections: server repeated page token")
		}
		seen[page.NextPageToken] = true
		token = page.NextPageToken
	}
}

// UpdateConnection changes the connection called name; absent fields are left alone.
func (c *Client) UpdateConnection(ctx context.Context, name string, req UpdateConnectionRequest) (*ConnectionInfo, error) {
	p, err := clientPath(clientConnectionsPath, name)
	if err != nil {
		return nil, err
	}
	var out ConnectionInfo
	if err := c.do(ctx, http.MethodPatch, p, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteConnection deletes the connection called name.
func (c *Client) DeleteConnection(ctx context.Context, name string) error {
	p, err := clientPath(clientConnectionsPath, name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

// ---- grants ----

// GetPermissions returns the grants on a securable: securableType "connection" with the
// connection's name, or "metastore" with name "default".
func (c *Client) GetPermissions(ctx context.Context, securableType, name string) (*PermissionsList, error) {
	p, err := clientPath("/api/2.1/unity-catalog/permissions", securableType, name)
	if err != nil {
		return nil, err
	}
	var out PermissionsList
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePermissions grants and revokes privileges on a securable and returns the new
// assignments.
func (c *Client) UpdatePermissions(ctx context.Context, securableType, name string, req UpdatePermissions) (*PermissionsList, error) {
	p, err := clientPath("/api/2.1/unity-catalog/permissions", securableType, name)
	if err != nil {
		return nil, err
	}
	var out PermissionsList
	if err := c.do(ctx, http.MethodPatch, p, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetEffectivePermissions returns principal's privileges on a securable with where each
// comes from; an empty principal asks for every principal's.
func (c *Client) GetEffectivePermissions(ctx context.Context, securableType, name, principal string) (*EffectivePermissionsList, error) {
	p, err := clientPath("/api/2.1/unity-catalog/effective-permissions", securableType, name)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if principal != "" {
		q = url.Values{"principal": {principal}}
	}
	var out EffectivePermissionsList
	if err := c.do(ctx, http.MethodGet, p, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ---- tokens ----

// CreateToken creates a personal access token for the caller; lifetimeSeconds 0 means
// the server's default. The value in the response is shown only this once.
func (c *Client) CreateToken(ctx context.Context, lifetimeSeconds int64, comment string) (*CreateTokenResponse, error) {
	var out CreateTokenResponse
	req := CreateTokenRequest{LifetimeSeconds: lifetimeSeconds, Comment: comment}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/token/create", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTokens lists the caller's own tokens.
func (c *Client) ListTokens(ctx context.Context) (*ListTokensResponse, error) {
	var out ListTokensResponse
	if err := c.do(ctx, http.MethodGet, "/api/2.0/token/list", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteToken revokes one of the caller's own tokens.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/api/2.0/token/delete", nil, DeleteTokenRequest{TokenID: id}, nil)
}

// CreateOBOToken mints a token on behalf of a service principal or user (admins only).
func (c *Client) CreateOBOToken(ctx context.Context, req CreateOBOTokenRequest) (*CreateTokenResponse, error) {
	var out CreateTokenResponse
	if err := c.do(ctx, http.MethodPost, "/api/2.0/token-management/on-behalf-of/tokens", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllTokens lists every principal's tokens (admins only).
func (c *Client) ListAllTokens(ctx context.Context) (*ListTokensResponse, error) {
	var out ListTokensResponse
	if err := c.do(ctx, http.MethodGet, "/api/2.0/token-management/tokens", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAnyToken revokes any principal's token (admins only).
func (c *Client) DeleteAnyToken(ctx context.Context, id string) error {
	p, err := clientPath("/api/2.0/token-management/tokens", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

// ---- SCIM ----

// Me returns the current principal with its groups.
func (c *Client) Me(ctx context.Context) (*SCIMMe, error) {
	var out SCIMMe
	if err := c.do(ctx, http.MethodGet, clientSCIMBase+"/Me", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUsers lists users; filter, when not empty, is a SCIM filter such as
// `userName eq "alice@example.com"`.
func (c *Client) ListUsers(ctx context.Context, filter string) (*SCIMList[SCIMUser], error) {
	return clientSCIMList[SCIMUser](ctx, c, "Users", filter)
}

// GetUser returns the user with SCIM id id.
func (c *Client) GetUser(ctx context.Context, id string) (*SCIMUser, error) {
	return clientSCIMCall[SCIMUser](ctx, c, http.MethodGet, "Users", id, nil)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, u SCIMUser) (*SCIMUser, error) {
	if len(u.Schemas) == 0 {
		u.Schemas = []string{SchemaUser}
	}
	return clientSCIMCall[SCIMUser](ctx, c, http.MethodPost, "Users", "", u)
}

// PutUser replaces the user with SCIM id id.
func (c *Client) PutUser(ctx context.Context, id string, u SCIMUser) (*SCIMUser, error) {
	if len(u.Schemas) == 0 {
		u.Schemas = []string{SchemaUser}
	}
	return clientSCIMCall[SCIMUser](ctx, c, http.MethodPut, "Users", id, u)
}

// PatchUser applies a SCIM PatchOp to the user with SCIM id id.
func (c *Client) PatchUser(ctx context.Context, id string, p SCIMPatch) (*SCIMUser, error) {
	return clientSCIMCall[SCIMUser](ctx, c, http.MethodPatch, "Users", id, clientPatchBody(p))
}

// DeleteUser deletes the user with SCIM id id.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.scimDelete(ctx, "Users", id)
}

// UserByName returns the user whose userName is name, or a RESOURCE_DOES_NOT_EXIST
// *APIError.
func (c *Client) UserByName(ctx context.Context, name string) (*SCIMUser, error) {
	l, err := c.ListUsers(ctx, clientSCIMEq("userName", name))
	if err != nil {
		return nil, err
	}
	return clientPick(l.Resources, name, "user", func(u SCIMUser) string { return u.UserName })
}

// ListGroups lists groups; filter as for ListUsers.
func (c *Client) ListGroups(ctx context.Context, filter string) (*SCIMList[SCIMGroup], error) {
	return clientSCIMList[SCIMGroup](ctx, c, "Groups", filter)
}

// GetGroup returns the group with SCIM id id.
func (c *Client) GetGroup(ctx context.Context, id string) (*SCIMGroup, error) {
	return clientSCIMCall[SCIMGroup](ctx, c, http.MethodGet, "Groups", id, nil)
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, g SCIMGroup) (*SCIMGroup, error) {
	if len(g.Schemas) == 0 {
		g.Schemas = []string{SchemaGroup}
	}
	return clientSCIMCall[SCIMGroup](ctx, c, http.MethodPost, "Groups", "", g)
}

// PutGroup replaces the group with SCIM id id.
func (c *Client) PutGroup(ctx context.Context, id string, g SCIMGroup) (*SCIMGroup, error) {
	if len(g.Schemas) == 0 {
		g.Schemas = []string{SchemaGroup}
	}
	return clientSCIMCall[SCIMGroup](ctx, c, http.MethodPut, "Groups", id, g)
}

// PatchGroup applies a SCIM PatchOp to the group with SCIM id id, e.g. to add or remove
// members.
func (c *Client) PatchGroup(ctx context.Context, id string, p SCIMPatch) (*SCIMGroup, error) {
	return clientSCIMCall[SCIMGroup](ctx, c, http.MethodPatch, "Groups", id, clientPatchBody(p))
}

// DeleteGroup deletes the group with SCIM id id.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.scimDelete(ctx, "Groups", id)
}

// GroupByName returns the group whose displayName is name, or a RESOURCE_DOES_NOT_EXIST
// *APIError.
func (c *Client) GroupByName(ctx context.Context, name string) (*SCIMGroup, error) {
	l, err := c.ListGroups(ctx, clientSCIMEq("displayName", name))
	if err != nil {
		return nil, err
	}
	return clientPick(l.Resources, name, "group", func(g SCIMGroup) string { return g.DisplayName })
}

// ListServicePrincipals lists service principals; filter as for ListUsers.
func (c *Client) ListServicePrincipals(ctx context.Context, filter string) (*SCIMList[SCIMServicePrincipal], error) {
	return clientSCIMList[SCIMServicePrincipal](ctx, c, "ServicePrincipals", filter)
}

// GetServicePrincipal returns the service principal with SCIM id id.
func (c *Client) GetServicePrincipal(ctx context.Context, id string) (*SCIMServicePrincipal, error) {
	return clientSCIMCall[SCIMServicePrincipal](ctx, c, http.MethodGet, "ServicePrincipals", id, nil)
}

// CreateServicePrincipal creates a service principal; an empty ApplicationID lets the
// server generate one.
func (c *Client) CreateServicePrincipal(ctx context.Context, sp SCIMServicePrincipal) (*SCIMServicePrincipal, error) {
	if len(sp.Schemas) == 0 {
		sp.Schemas = []string{SchemaServicePrincipal}
	}
	return clientSCIMCall[SCIMServicePrincipal](ctx, c, http.MethodPost, "ServicePrincipals", "", sp)
}

// PutServicePrincipal replaces the service principal with SCIM id id.
func (c *Client) PutServicePrincipal(ctx context.Context, id string, sp SCIMServicePrincipal) (*SCIMServicePrincipal, error) {
	if len(sp.Schemas) == 0 {
		sp.Schemas = []string{SchemaServicePrincipal}
	}
	return clientSCIMCall[SCIMServicePrincipal](ctx, c, http.MethodPut, "ServicePrincipals", id, sp)
}

// PatchServicePrincipal applies a SCIM PatchOp to the service principal with SCIM id id.
func (c *Client) PatchServicePrincipal(ctx context.Context, id string, p SCIMPatch) (*SCIMServicePrincipal, error) {
	return clientSCIMCall[SCIMServicePrincipal](ctx, c, http.MethodPatch, "ServicePrincipals", id, clientPatchBody(p))
}

// DeleteServicePrincipal deletes the service principal with SCIM id id.
func (c *Client) DeleteServicePrincipal(ctx context.Context, id string) error {
	return c.scimDelete(ctx, "ServicePrincipals", id)
}

// ServicePrincipalByAppID returns the service principal whose applicationId is appID, or
// a RESOURCE_DOES_NOT_EXIST *APIError.
func (c *Client) ServicePrincipalByAppID(ctx context.Context, appID string) (*SCIMServicePrincipal, error) {
	l, err := c.ListServicePrincipals(ctx, clientSCIMEq("applicationId", appID))
	if err != nil {
		return nil, err
	}
	return clientPick(l.Resources, appID, "service principal", func(sp SCIMServicePrincipal) string { return sp.ApplicationID })
}

func (c *Client) scimDelete(ctx context.Context, kind, id string) error {
	p, err := clientPath(clientSCIMBase+"/"+kind, id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

func clientSCIMList[T any](ctx context.Context, c *Client, kind, filter string) (*SCIMList[T], error) {
	var q url.Values
	if filter != "" {
		q = url.Values{"filter": {filter}}
	}
	var out SCIMList[T]
	if err := c.do(ctx, http.MethodGet, clientSCIMBase+"/"+kind, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// clientSCIMCall sends body (nil for none) to the collection (id "") or to one resource.
func clientSCIMCall[T any](ctx context.Context, c *Client, method, kind, id string, body any) (*T, error) {
	p := clientSCIMBase + "/" + kind
	if method != http.MethodPost {
		var err error
		if p, err = clientPath(p, id); err != nil {
			return nil, err
		}
	}
	var out T
	if err := c.do(ctx, method, p, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func clientPatchBody(p SCIMPatch) SCIMPatch {
	if len(p.Schemas) == 0 {
		p.Schemas = []string{SchemaPatchOp}
	}
	return p
}

// clientSCIMEq returns the SCIM filter `attr eq "value"`, with value quoted as a JSON
// string so that a name with a quote cannot change the filter.
func clientSCIMEq(attr, value string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return attr + ` eq "` + r.Replace(value) + `"`
}

// clientPick returns the resource whose name is name. It checks the name itself rather
// than trusting the server's filter: a server that ignored the filter must not make the
// CLI act on the first principal of the list. An exact match wins; else a single
// case-insensitive one (SCIM userName is case-insensitive).
func clientPick[T any](items []T, name, kind string, nameOf func(T) string) (*T, error) {
	var folded []int
	for i := range items {
		n := nameOf(items[i])
		if n == name {
			return &items[i], nil
		}
		if strings.EqualFold(n, name) {
			folded = append(folded, i)
		}
	}
	if len(folded) == 1 {
		return &items[folded[0]], nil
	}
	return nil, &APIError{
		Status:  http.StatusNotFound,
		Code:    "RESOURCE_DOES_NOT_EXIST",
		Message: fmt.Sprintf("%s %q does not exist", kind, name),
	}
}

// ---- transport ----

// clientPath joins base and the escaped segments. Empty, "." and ".." segments are
// refused: they would name another resource once the path is cleaned.
func clientPath(base string, segments ...string) (string, error) {
	var b strings.Builder
	b.WriteString(base)
	for _, s := range segments {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("invalid name %q in request path", s)
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// do sends one request: in (when not nil) as the JSON body, out (when not nil) decoded
// from a 2xx answer, anything else an *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", clientUserAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err // a *url.Error: method, URL and cause; never a header
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.readError(resp)
	}
	if out == nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, clientMaxBody))
	if err != nil {
		return fmt.Errorf("read %s %s response: %w", method, path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s %s response: %w", method, path, err)
	}
	return nil
}

// readError turns a non-2xx answer into an *APIError (APIErrorOf).
func (c *Client) readError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, clientMaxErrorBody))
	return APIErrorOf(resp, data, c.token)
}

// APIErrorOf turns a non-2xx answer whose body is data into an *APIError, as the API
// client reads every error (the CLI's own HTTP clients use it too). It understands the
// API's error body and, for the SCIM endpoints, a SCIM error (detail, status); anything
// else keeps a short, printable snippet of the body. token is removed from every field
// should a broken server or proxy echo it, and every field is Printable.
func APIErrorOf(resp *http.Response, data []byte, token string) *APIError {
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Gatehouse-Request-Id")}
	var body struct {
		ErrorBody
		Detail string `json:"detail"`
	}
	if json.Unmarshal(data, &body) == nil && (body.ErrorCode != "" || body.Detail != "") {
		e.Code, e.Message, e.LoginURL = body.ErrorCode, body.Message, body.LoginURL
		if body.RequestID != "" {
			e.RequestID = body.RequestID
		}
		if e.Code == "" {
			e.Code, e.Message = clientCodeFor(resp.StatusCode), body.Detail
		}
	} else {
		e.Code = "HTTP_" + strconv.Itoa(resp.StatusCode)
		e.Message = clientSnippet(data)
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	// A broken server or proxy might echo the request's headers; the token must not
	// travel on into an error message, a log or a terminal.
	if token != "" {
		for _, s := range []*string{&e.Code, &e.Message, &e.RequestID, &e.LoginURL} {
			*s = strings.ReplaceAll(*s, token, "[REDACTED]")
		}
	}
	e.Code, e.RequestID, e.LoginURL = clientSnippet([]byte(e.Code)), clientSnippet([]byte(e.RequestID)), clientSnippet([]byte(e.LoginURL))
	e.Message = Printable(e.Message)
	return e
}

// clientCodeFor maps a status to the API's error code, for error bodies that carry none.
func clientCodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_PARAMETER_VALUE"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "RESOURCE_DOES_NOT_EXIST"
	case http.StatusConflict:
		return "RESOURCE_ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "REQUEST_LIMIT_EXCEEDED"
	case http.StatusInternalServerError:
		return "INTERNAL_ERROR"
	case http.StatusBadGateway:
		return "UPSTREAM_ERROR"
	case http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "UPSTREAM_TIMEOUT"
	}
	return "HTTP_" + strconv.Itoa(status)
}

// clientSnippet returns the start of b on one printable line.
func clientSnippet(b []byte) string {
	s := strings.Join(strings.Fields(Printable(string(b))), " ")
	if utf8.RuneCountInString(s) > clientSnippetLen {
		s = string([]rune(s)[:clientSnippetLen]) + "…"
	}
	return s
}

// Printable makes text a server sent safe for the user's terminal: it keeps newlines
// and tabs, turns CRLF into a newline, and replaces every other control character
// (terminal escapes among them) and invalid UTF-8 with '?', so that what the server (or
// an MCP server behind it) says cannot move the cursor, retitle the window or hide
// lines.
func Printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			return '?'
		}
		return r
	}, strings.ReplaceAll(s, "\r\n", "\n"))
}

var _ error = (*APIError)(nil)
