package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(
		route{"GET /new-connection", (*Console).wizard},
		route{"POST /new-connection", (*Console).wizardPost},
	)
}

// method is one of the four ways a connection holds its credential, as the wizard
// offers it.
type method struct {
	Type    catalog.CredentialType
	Title   string
	Summary string
	// Fields are the options it asks for, in order.
	Fields []field
	// RedirectURI is true for the user-to-machine methods, which need one registered.
	RedirectURI bool
}

// field is one option the wizard asks for.
type field struct {
	Name, Label, Hint string
	Required, Secret  bool
	Checkbox          bool
}

var (
	fHost     = field{Name: catalog.OptHost, Label: "Host", Hint: "The API's base, e.g. https://api.example.com", Required: true}
	fBasePath = field{Name: catalog.OptBasePath, Label: "Base path", Hint: "A path every call is under, e.g. /v1"}
	fMCP      = field{Name: catalog.OptIsMCP, Label: "This is an MCP server", Checkbox: true, Hint: "Calls go to the MCP proxy; its tools are listed and can be pinned"}
	fClientID = field{Name: catalog.OptClientID, Label: "Client ID", Required: true}
	fSecret   = field{Name: catalog.OptClientSecret, Label: "Client secret", Required: true, Secret: true, Hint: "Write-only: sealed at rest, never shown again"}
	fTokenURL = field{Name: catalog.OptTokenEndpoint, Label: "Token endpoint", Required: true, Hint: "e.g. https://login.example.com/oauth2/token"}
	fAuthURL  = field{Name: catalog.OptAuthorizationEndpoint, Label: "Authorization endpoint", Required: true, Hint: "e.g. https://login.example.com/oauth2/authorize"}
	fScope    = field{Name: catalog.OptOAuthScope, Label: "Scopes", Hint: "Space-separated; user-to-machine connections usually need offline_access or its provider's equivalent for a refresh token"}
)

var methods = []method{
	{Type: catalog.BearerToken, Title: "Static bearer token", Summary: "An API key or token that does not expire on its own; Gatehouse sends it as Authorization: Bearer.",
		Fields: []field{fHost, fBasePath, {Name: catalog.OptBearerToken, Label: "Bearer token", Required: true, Secret: true, Hint: "Write-only: sealed at rest, never shown again"}, fMCP}},
	{Type: catalog.OAuthM2M, Title: "OAuth machine-to-machine", Summary: "Client credentials: Gatehouse fetches and refreshes the token itself; nobody signs in.",
		Fields: []field{fHost, fBasePath, fClientID, fSecret, fTokenURL, fScope, fMCP}},
	{Type: catalog.OAuthU2M, Title: "OAuth user-to-machine, shared", Summary: "One person (the owner or a MANAGE holder) signs in once; every grantee's calls use that account.",
		Fields: []field{fHost, fBasePath, fClientID, fSecret, fAuthURL, fTokenURL, fScope, fMCP}, RedirectURI: true},
	{Type: catalog.OAuthU2MPerUser, Title: "OAuth user-to-machine, per user", Summary: "Each user signs in with their own account; their calls use their own token.",
		Fields: []field{fHost, fBasePath, fClientID, fSecret, fAuthURL, fTokenURL, fScope, fMCP}, RedirectURI: true},
}

func methodOf(t string) *method {
	for i := range methods {
		if string(methods[i].Type) == strings.ToUpper(t) {
			return &methods[i]
		}
	}
	return nil
}

// wizardData is the wizard page: the methods to choose from, or the chosen method's
// form with the values entered so far (never a secret).
type wizardData struct {
	Methods     []method
	Method      *method
	Name        string
	Comment     string
	Values      map[string]string
	RedirectURI string
	// Check is the provider check of the entered options, shown before saving.
	Check *governance.ProviderCheck
	// Checked says the check ran: the form now saves.
	Checked bool
}

// wizard shows the choice of method, then (?method=TYPE) only that method's fields.
func (c *Console) wizard(w http.ResponseWriter, r *http.Request, v *viewer) {
	d := &wizardData{Methods: methods, Method: methodOf(r.URL.Query().Get("method")), Values: map[string]string{}, RedirectURI: c.d.PublicURL + CallbackPath}
	c.render(w, r, http.StatusOK, v, "wizard.html", &page{Title: "New connection", Nav: "connections", Data: d})
}

// wizardPost checks (step=check, OAuth methods) or creates (step=save) the connection.
// A failure shows the form again with the error next to it and the values kept —
// except the secrets, which are never sent back to the browser.
func (c *Console) wizardPost(w http.ResponseWriter, r *http.Request, v *viewer) {
	m := methodOf(r.PostFormValue("method"))
	if m == nil {
		c.render(w, r, http.StatusBadRequest, v, "wizard.html", &page{Title: "New connection", Nav: "connections",
			Error: "Choose how the connection holds its credential.", Data: &wizardData{Methods: methods, Values: map[string]string{}}})
		return
	}
	d := &wizardData{Methods: methods, Method: m, Name: strings.TrimSpace(r.PostFormValue("name")), Comment: strings.TrimSpace(r.PostFormValue("comment")),
		Values: map[string]string{}, RedirectURI: c.d.PublicURL + CallbackPath}
	opts := map[string]string{}
	for _, f := range m.Fields {
		val := strings.TrimSpace(r.PostFormValue(f.Name))
		if f.Checkbox {
			if val == "" {
				continue
			}
			val = "true"
		}
		if val == "" {
			continue
		}
		opts[f.Name] = val
		if !f.Secret {
			d.Values[f.Name] = val
		}
	}
	req := governance.CreateConnection{Name: d.Name, CredentialType: string(m.Type), Options: opts, Comment: d.Comment}
	show := func(status int, msg string) {
		c.render(w, r, status, v, "wizard.html", &page{Title: "New connection", Nav: "connections", Error: msg, Data: d})
	}
	if m.Type.IsOAuth() && r.PostFormValue("step") != "save" {
		pc, err := c.d.Gov.CheckNewProvider(r.Context(), v.P, req)
		if err != nil {
			show(statusOf(err), c.errMessage(r, err))
			return
		}
		d.Check, d.Checked = pc, true
		show(http.StatusOK, "")
		return
	}
	rec := &governance.Record{}
	conn, err := c.d.Gov.CreateConnection(r.Context(), v.P, req, rec)
	c.audit(r, v, catalog.ActionCreateConnection, rec, err)
	if err != nil {
		d.Checked = m.Type.IsOAuth()
		show(statusOf(err), c.errMessage(r, err))
		return
	}
	redirect(w, "/connections/"+url.PathEscape(conn.Name)+"?done=created")
}

// statusOf is the HTTP status of an error: a *catalog.Error's, else 500.
func statusOf(err error) int {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return ce.HTTPStatus()
	}
	return http.StatusInternalServerError
}
