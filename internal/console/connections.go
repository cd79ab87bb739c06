package console

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(
		route{"GET /connections", (*Console).connections},
		route{"GET /connections/{name}", (*Console).connection},
		route{"GET /connections/{name}/delete", (*Console).deletePage},
		route{"POST /connections/{name}/grants", (*Console).grants},
		route{"POST /connections/{name}/enable", (*Console).enable},
		route{"POST /connections/{name}/disable", (*Console).disable},
		route{"POST /connections/{name}/rotate", (*Console).rotate},
		route{"POST /connections/{name}/delete", (*Console).deleteConnection},
		route{"POST /connections/{name}/approve-tools", (*Console).approveTools},
	)
}

// listPageSize is how many connections the list shows at a time.
const listPageSize = 50

// states are the credential states the list filters by.
var states = []catalog.CredentialState{catalog.StateActive, catalog.StateExpiring, catalog.StateNeedsLogin, catalog.StateReauthRequired,
	catalog.StateDegraded, catalog.StateMisconfigured, catalog.StateDisabled}

// connRow is one connection in the list.
type connRow struct {
	Name, Type, Owner, State, Reason string
	Enabled                          bool
	Expires, LastUsed                when
}

type listData struct {
	Q, State, Next string
	States         []catalog.CredentialState
	Rows           []connRow
}

// connections lists the connections the viewer may see, with a search by name and a
// filter by credential state (GET query: q, state, page).
func (c *Console) connections(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	d := &listData{Q: strings.TrimSpace(q.Get("q")), State: strings.ToUpper(q.Get("state")), States: states}
	if d.State != "" && !slices.Contains(states, catalog.CredentialState(d.State)) {
		d.State = ""
	}
	needle := strings.ToLower(d.Q)
	res, err := c.d.Gov.ListConnections(r.Context(), v.P, governance.ListConnectionsRequest{MaxResults: listPageSize, PageToken: q.Get("page"),
		Match: func(c *catalog.Connection) bool { return strings.Contains(c.Name, needle) },
		Keep:  func(cv *governance.ConnectionView) bool { return d.State == "" || string(cv.Status.State) == d.State }})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	for _, cv := range res.Connections {
		d.Rows = append(d.Rows, connRow{Name: cv.Connection.Name, Type: string(cv.Connection.CredentialType), Owner: cv.Owner,
			State: string(cv.Status.State), Reason: cv.Status.Reason, Enabled: cv.Connection.Enabled,
			Expires: c.when(statusExpiry(cv.Status)), LastUsed: c.when(cv.Status.LastUsedAt)})
	}
	if res.NextPageToken != "" {
		nq := url.Values{"page": {res.NextPageToken}}
		if d.Q != "" {
			nq.Set("q", d.Q)
		}
		if d.State != "" {
			nq.Set("state", d.State)
		}
		d.Next = "/connections?" + nq.Encode()
	}
	p := &page{Title: "Connections", Nav: "connections", Data: d}
	if n, err := catalog.NormalizeConnectionName(q.Get("deleted")); err == nil && q.Get("deleted") != "" {
		p.Flash = "Connection " + n + " deleted."
	}
	c.render(w, r, http.StatusOK, v, "connections.html", p)
}

// statusExpiry is when a credential next needs something, as the inventory counts it
// (expiry): its refresh token's expiry when it has one, else its access token's.
func statusExpiry(st governance.CredentialStatus) time.Time {
	return expiry(governance.InventoryItem{RefreshExpiresAt: st.RefreshExpiresAt, AccessExpiresAt: st.AccessExpiresAt})
}

// detailData is the detail page of one connection.
type detailData struct {
	C          *catalog.Connection
	View       *governance.ConnectionView
	URL        string
	Options    []kv
	Status     governance.CredentialStatus
	Expires    when
	Refreshed  when
	LastUsed   when
	CanManage  bool
	PerUser    bool
	SharedU2M  bool
	LoginPath  string
	IsOAuth    bool
	Check      *governance.ProviderCheck
	CheckError string
	Grants     []governance.PrivilegeAssignment
	GrantsErr  string
	Privileges []catalog.Privilege
	Secrets    []string
	Tools      *governance.MCPTools
	ToolRows   []toolRow
	Allowed    string
	ToolsErr   string
	// FormError is the error of a form posted here, shown next to it.
	FormError string
	FormName  string
}

type kv struct{ K, V string }

type toolRow struct {
	Name, State, Description string
	Allowed, NeedsApproval   bool
	Approved                 when
}

// flashes are the fixed messages of the changes that redirect back to the detail page.
var flashes = map[string]string{
	"created":  "Connection created.",
	"granted":  "Grants updated.",
	"enabled":  "Connection enabled.",
	"disabled": "Connection disabled: calls through it are refused at once.",
	"rotated":  "Secret replaced. The old one is no longer used.",
	"approved": "Tools approved.",
}

// connection shows one connection: its options (never secrets), credential status,
// sign-in button, provider check, grants, MCP tools and the forms that change it.
func (c *Console) connection(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showConnection(w, r, v, http.StatusOK, "", "")
}

// showConnection renders the detail page, with formErr next to the form named form.
func (c *Console) showConnection(w http.ResponseWriter, r *http.Request, v *viewer, status int, form, formErr string) {
	ctx := r.Context()
	cv, err := c.d.Gov.GetConnection(ctx, v.P, r.PathValue("name"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	conn := cv.Connection
	d := &detailData{C: conn, View: cv, URL: conn.Options[catalog.OptHost] + portOf(conn) + conn.Options[catalog.OptBasePath],
		Status: cv.Status, Expires: c.when(statusExpiry(cv.Status)), Refreshed: c.when(cv.Status.LastRefreshedAt), LastUsed: c.when(cv.Status.LastUsedAt),
		CanManage: cv.Privileges.Has(catalog.Manage), PerUser: conn.CredentialType == catalog.OAuthU2MPerUser,
		SharedU2M: conn.CredentialType == catalog.OAuthU2M, IsOAuth: conn.CredentialType.IsOAuth(),
		LoginPath: "/connections/" + url.PathEscape(conn.Name) + "/login", Privileges: catalog.Privileges(catalog.SecurableConnection),
		Secrets: governance.SecretsOf(conn.CredentialType), FormError: formErr, FormName: form}
	for _, k := range slices.Sorted(maps.Keys(cv.Options)) {
		d.Options = append(d.Options, kv{k, cv.Options[k]})
	}
	if d.CanManage && d.IsOAuth && r.URL.Query().Get("check") == "1" {
		pc, err := c.d.Gov.CheckProvider(ctx, v.P, conn.Name)
		if err != nil {
			d.CheckError = c.errMessage(r, err)
		}
		d.Check = pc
	}
	if gs, err := c.d.Gov.Permissions(ctx, v.P, "connection", conn.Name, ""); err != nil {
		d.GrantsErr = c.errMessage(r, err)
	} else {
		d.Grants = gs
	}
	if conn.IsMCP() {
		ts, err := c.d.Gov.ListMCPTools(ctx, v.P, conn.Name)
		if err != nil {
			d.ToolsErr = c.errMessage(r, err)
		} else {
			d.Tools = ts
			d.Allowed = conn.Options[catalog.OptMCPAllowedTools]
			allowed := allowedSet(d.Allowed)
			for _, t := range ts.Tools {
				d.ToolRows = append(d.ToolRows, toolRow{Name: t.Name, State: string(t.State), Description: t.Description,
					Allowed: allowed == nil || allowed[t.Name], NeedsApproval: ts.PinTools && t.State != catalog.MCPToolPinned, Approved: c.when(t.ApprovedAt)})
			}
		}
	}
	p := &page{Title: conn.Name, Nav: "connections", Flash: flashes[r.URL.Query().Get("done")], Data: d}
	c.render(w, r, status, v, "connection.html", p)
}

// allowedSet parses mcp_allowed_tools (comma-separated names); nil means every tool.
func allowedSet(s string) map[string]bool {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	m := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}

func portOf(c *catalog.Connection) string {
	if p := c.Options[catalog.OptPort]; p != "" {
		return ":" + p
	}
	return ""
}

// back redirects to the detail page of the connection with a fixed flash.
func back(w http.ResponseWriter, name, done string) {
	redirect(w, "/connections/"+url.PathEscape(name)+"?done="+done)
}

// grants adds or removes one privilege of one principal (fields principal, privilege,
// op = add | remove).
func (c *Console) grants(w http.ResponseWriter, r *http.Request, v *viewer) {
	ch := governance.PermissionChange{Principal: strings.TrimSpace(r.PostFormValue("principal"))}
	priv := r.PostFormValue("privilege")
	switch r.PostFormValue("op") {
	case "add":
		ch.Add = []string{priv}
	case "remove":
		ch.Remove = []string{priv}
	default:
		c.showConnection(w, r, v, http.StatusBadRequest, "grants", "Choose to add or remove a privilege.")
		return
	}
	rec := &governance.Record{}
	_, err := c.d.Gov.UpdatePermissions(r.Context(), v.P, "connection", r.PathValue("name"), []governance.PermissionChange{ch}, rec)
	c.audit(r, v, catalog.ActionUpdatePermissions, rec, err)
	if err != nil {
		c.formFailed(w, r, v, "grants", err)
		return
	}
	back(w, r.PathValue("name"), "granted")
}

// formFailed shows the detail page again with err next to the form (or, when the
// connection itself is out of the viewer's reach now, the error page that says so).
func (c *Console) formFailed(w http.ResponseWriter, r *http.Request, v *viewer, form string, err error) {
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		c.fail(w, r, v, err)
		return
	}
	c.showConnection(w, r, v, ce.HTTPStatus(), form, ce.Message)
}

func (c *Console) enable(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.setEnabled(w, r, v, true)
}

func (c *Console) disable(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.setEnabled(w, r, v, false)
}

func (c *Console) setEnabled(w http.ResponseWriter, r *http.Request, v *viewer, on bool) {
	rec := &governance.Record{}
	_, err := c.d.Gov.UpdateConnection(r.Context(), v.P, r.PathValue("name"), governance.UpdateConnection{Enabled: &on}, rec)
	c.audit(r, v, catalog.ActionUpdateConnection, rec, err)
	if err != nil {
		c.formFailed(w, r, v, "enabled", err)
		return
	}
	back(w, r.PathValue("name"), map[bool]string{true: "enabled", false: "disabled"}[on])
}

// rotate replaces the secrets of the connection's type given in the form (write-only
// fields: never rendered back); the other options stay as they are.
func (c *Console) rotate(w http.ResponseWriter, r *http.Request, v *viewer) {
	cv, err := c.d.Gov.GetConnection(r.Context(), v.P, r.PathValue("name"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	opts := maps.Clone(cv.Options)
	given := 0
	for _, k := range governance.SecretsOf(cv.Connection.CredentialType) {
		if s := strings.TrimSpace(r.PostFormValue(k)); s != "" {
			opts[k] = s
			given++
		}
	}
	if given == 0 {
		c.showConnection(w, r, v, http.StatusBadRequest, "rotate", "Enter the new secret.")
		return
	}
	rec := &governance.Record{}
	_, err = c.d.Gov.UpdateConnection(r.Context(), v.P, cv.Connection.Name, governance.UpdateConnection{Options: opts}, rec)
	c.audit(r, v, catalog.ActionUpdateConnection, rec, err)
	if err != nil {
		c.formFailed(w, r, v, "rotate", err)
		return
	}
	back(w, cv.Connection.Name, "rotated")
}

// deletePage asks for the connection's name before deleting it.
func (c *Console) deletePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	cv, err := c.d.Gov.GetConnection(r.Context(), v.P, r.PathValue("name"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, v, "delete.html", &page{Title: "Delete " + cv.Connection.Name, Nav: "connections", Data: cv})
}

// deleteConnection deletes the connection once the form repeats its name.
func (c *Console) deleteConnection(w http.ResponseWriter, r *http.Request, v *viewer) {
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != name {
		cv, err := c.d.Gov.GetConnection(r.Context(), v.P, name)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		c.render(w, r, http.StatusBadRequest, v, "delete.html", &page{Title: "Delete " + cv.Connection.Name, Nav: "connections",
			Error: "Type the connection's name exactly to delete it. Nothing was deleted.", Data: cv})
		return
	}
	rec := &governance.Record{}
	err := c.d.Gov.DeleteConnection(r.Context(), v.P, name, rec)
	c.audit(r, v, catalog.ActionDeleteConnection, rec, err)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	redirect(w, "/connections?deleted="+url.QueryEscape(name))
}

// approveTools approves the checked tools (field tool, repeated) at the definition
// last seen.
func (c *Console) approveTools(w http.ResponseWriter, r *http.Request, v *viewer) {
	rec := &governance.Record{}
	_, err := c.d.Gov.ApproveMCPTools(r.Context(), v.P, r.PathValue("name"), r.PostForm["tool"], rec)
	c.audit(r, v, catalog.ActionMCPToolApprove, rec, err)
	if err != nil {
		c.formFailed(w, r, v, "tools", err)
		return
	}
	back(w, r.PathValue("name"), "approved")
}
