package console

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

const canary = "canary-secret-9f1c2e"

// TestConnectionPages checks the list and the detail page against the governance
// decisions: a viewer sees only the connections they hold a privilege on, search and
// state filter work, and no secret is ever on a page.
func TestConnectionPages(t *testing.T) {
	w := newWorld(t)
	for _, n := range []string{"alpha", "beta", "gamma"} {
		w.bearer(t, "olivia", n, canary)
	}
	off := false
	if _, err := w.gov.UpdateConnection(context.Background(), w.p["olivia"], "gamma", governance.UpdateConnection{Enabled: &off}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.gov.UpdatePermissions(context.Background(), w.p["olivia"], "connection", "beta",
		[]governance.PermissionChange{{Principal: "mike", Add: []string{"USE_CONNECTION"}}}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		who     string
		target  string
		status  int
		want    []string
		notWant []string
	}{
		{name: "owner sees all", who: "olivia", target: "/connections", status: 200,
			want: []string{`id="conn-row-alpha"`, `id="conn-row-beta"`, `id="conn-row-gamma"`, `badge off" title="the connection is disabled">DISABLED`, `badge ok">ACTIVE`}},
		{name: "grantee sees only the granted", who: "mike", target: "/connections", status: 200,
			want: []string{`id="conn-row-beta"`}, notWant: []string{"alpha", "gamma"}},
		{name: "search by name", who: "olivia", target: "/connections?q=ph", status: 200,
			want: []string{`id="conn-row-alpha"`}, notWant: []string{`id="conn-row-beta"`, `id="conn-row-gamma"`}},
		{name: "filter by state", who: "olivia", target: "/connections?state=disabled", status: 200,
			want: []string{`id="conn-row-gamma"`, `value="DISABLED" selected`}, notWant: []string{`id="conn-row-alpha"`}},
		{name: "unknown state filter is ignored", who: "olivia", target: "/connections?state=<x>", status: 200,
			want: []string{`id="conn-row-alpha"`}, notWant: []string{"<x>"}},
		{name: "detail for the owner", who: "olivia", target: "/connections/alpha", status: 200,
			want:    []string{`id="conn-url">https://api.example.com/v1`, `id="disable-button"`, `id="rotate-bearer_token"`, `id="grant-add"`, `id="delete-link"`},
			notWant: []string{`id="sign-in-button"`, `id="check-run"`}},
		{name: "detail for a grantee has no manage forms", who: "mike", target: "/connections/beta", status: 200,
			want: []string{`id="conn-state"`, `id="grants-table"`}, notWant: []string{`id="disable-button"`, `id="grant-add"`, `id="rotate-submit"`, "grant-remove-"}},
		{name: "detail without privilege refused", who: "mike", target: "/connections/alpha", status: 403,
			want: []string{"does not have any privilege"}},
		{name: "no such connection", who: "olivia", target: "/connections/nope", status: 404},
		{name: "delete asks for the name", who: "olivia", target: "/connections/alpha/delete", status: 200, want: []string{`id="delete-confirm"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := w.get(t, tt.who, tt.target)
			if status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", status, tt.status, body)
			}
			mustContain(t, body, tt.want...)
			mustNotContain(t, body, append(tt.notWant, canary)...)
		})
	}
}

// TestConnectionForms checks each form: it goes through governance (the same checks
// as the API), writes the API's audit record, keeps secrets off the page, and a
// refused form changes nothing.
func TestConnectionForms(t *testing.T) {
	w := newWorld(t)
	w.bearer(t, "olivia", "alpha", canary)
	ctx := context.Background()
	secretOf := func() []byte {
		c, err := w.st.GetConnection(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		return c.Secrets[catalog.OptBearerToken]
	}
	before := secretOf()
	w.audit.take()

	tests := []struct {
		name     string
		who      string
		target   string
		form     url.Values
		status   int
		location string
		want     []string
		action   string // the audit record it writes, "" none
		decision string
		params   map[string]string
	}{
		{name: "grant without csrf changes nothing", who: "olivia", target: "/connections/alpha/grants",
			form: url.Values{"csrf": {"forged"}, "op": {"add"}, "principal": {"mike"}, "privilege": {"USE_CONNECTION"}}, status: 403},
		{name: "grant by a non-manager is denied", who: "mike", target: "/connections/alpha/grants",
			form: url.Values{"op": {"add"}, "principal": {"mike"}, "privilege": {"MANAGE"}}, status: 403, want: []string{"does not have"},
			action: catalog.ActionUpdatePermissions, decision: catalog.DecisionDeny},
		{name: "grant a bad privilege shows the error by the form", who: "olivia", target: "/connections/alpha/grants",
			form: url.Values{"op": {"add"}, "principal": {"mike"}, "privilege": {"FLY"}}, status: 400, want: []string{`id="grants-error"`, "not a privilege"},
			action: catalog.ActionUpdatePermissions, decision: catalog.DecisionAllow},
		{name: "grant", who: "olivia", target: "/connections/alpha/grants",
			form: url.Values{"op": {"add"}, "principal": {"mike"}, "privilege": {"USE_CONNECTION"}}, status: 303, location: "/connections/alpha?done=granted",
			action: catalog.ActionUpdatePermissions, decision: catalog.DecisionAllow, params: map[string]string{"changes": "add USE_CONNECTION mike", "method": "POST", "path": "/connections/alpha/grants"}},
		{name: "disable", who: "olivia", target: "/connections/alpha/disable", status: 303, location: "/connections/alpha?done=disabled",
			action: catalog.ActionUpdateConnection, decision: catalog.DecisionAllow},
		{name: "grantee cannot enable", who: "mike", target: "/connections/alpha/enable", status: 403,
			action: catalog.ActionUpdateConnection, decision: catalog.DecisionDeny},
		{name: "enable", who: "olivia", target: "/connections/alpha/enable", status: 303, location: "/connections/alpha?done=enabled",
			action: catalog.ActionUpdateConnection, decision: catalog.DecisionAllow},
		{name: "rotate without a secret", who: "olivia", target: "/connections/alpha/rotate", status: 400, want: []string{`id="rotate-error"`}},
		{name: "rotate", who: "olivia", target: "/connections/alpha/rotate", form: url.Values{"bearer_token": {"new-" + canary}}, status: 303,
			location: "/connections/alpha?done=rotated", action: catalog.ActionUpdateConnection, decision: catalog.DecisionAllow,
			params: map[string]string{"secrets_replaced": "bearer_token"}},
		{name: "delete with a wrong name", who: "olivia", target: "/connections/alpha/delete", form: url.Values{"confirm": {"alph"}}, status: 400,
			want: []string{"Nothing was deleted"}},
		{name: "delete by a grantee is denied", who: "mike", target: "/connections/alpha/delete", form: url.Values{"confirm": {"alpha"}}, status: 403,
			action: catalog.ActionDeleteConnection, decision: catalog.DecisionDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := w.post(t, tt.who, tt.target, tt.form)
			if status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", status, tt.status, body)
			}
			if tt.location != "" && body != tt.location {
				t.Errorf("Location %q, want %q", body, tt.location)
			}
			mustContain(t, body, tt.want...)
			mustNotContain(t, body, canary)
			events := w.audit.take()
			if tt.action == "" {
				if len(events) != 0 {
					t.Errorf("recorded %d events, want none", len(events))
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("recorded %d events, want 1", len(events))
			}
			e := eventOf(t, events, tt.action)
			if e.Decision != tt.decision || e.Principal != tt.who || e.Connection != "alpha" {
				t.Errorf("event %+v", e)
			}
			for k, v := range tt.params {
				if e.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, e.Params[k], v)
				}
			}
			for k, v := range e.Params {
				if strings.Contains(k+v, canary) {
					t.Errorf("secret in the audit record: %s=%s", k, v)
				}
			}
		})
	}
	if bytes.Equal(secretOf(), before) {
		t.Error("rotate left the sealed secret as it was")
	}
	gs, err := w.gov.Permissions(ctx, w.p["olivia"], "connection", "alpha", "mike")
	if err != nil || len(gs) != 1 || strings.Join(gs[0].Privileges, ",") != "USE_CONNECTION" {
		t.Errorf("mike's grants after the forms: %v %v (want only USE_CONNECTION: the refused ones changed nothing)", gs, err)
	}
	status, loc := w.post(t, "olivia", "/connections/alpha/delete", url.Values{"confirm": {"alpha"}})
	if status != 303 || loc != "/connections?deleted=alpha" {
		t.Fatalf("delete: %d %s", status, loc)
	}
	if _, err := w.st.GetConnection(ctx, "alpha"); !catalog.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	if e := eventOf(t, w.audit.take(), catalog.ActionDeleteConnection); e.Decision != catalog.DecisionAllow {
		t.Errorf("delete event %+v", e)
	}
}

// TestWizard creates connections through the wizard: only the chosen method's fields,
// the redirect URI for user-to-machine methods, the provider check before saving, and
// errors next to the form with the values kept and never the secret.
func TestWizard(t *testing.T) {
	as := oauthtest.New(t, oauthtest.Options{Clients: []oauthtest.Client{{ID: "gatehouse", Secret: canary,
		RedirectURIs: []string{"http://gatehouse.test/login/oauth/http.html"}}}})
	w := newWorldCAs(t, as.RootCAs())

	status, body := w.get(t, "olivia", "/new-connection")
	if status != 200 {
		t.Fatalf("choice: %d", status)
	}
	mustContain(t, body, `id="method-BEARER_TOKEN"`, `id="method-OAUTH_M2M"`, `id="method-OAUTH_U2M"`, `id="method-OAUTH_U2M_PER_USER"`)

	_, body = w.get(t, "olivia", "/new-connection?method=BEARER_TOKEN")
	mustContain(t, body, `id="field-bearer_token"`, `id="wizard-save"`)
	mustNotContain(t, body, `id="field-client_id"`, `id="redirect-uri"`)

	_, body = w.get(t, "olivia", "/new-connection?method=OAUTH_U2M_PER_USER")
	mustContain(t, body, `id="redirect-uri">http://gatehouse.test/login/oauth/http.html<`, `id="copy-redirect-uri"`, `id="field-authorization_endpoint"`, `id="wizard-check"`)
	mustNotContain(t, body, `id="field-bearer_token"`)

	w.audit.take()
	bad := url.Values{"method": {"BEARER_TOKEN"}, "name": {"Bad Name!"}, "host": {"https://api.example.com"}, "bearer_token": {canary}}
	status, body = w.post(t, "olivia", "/new-connection", bad)
	if status != 400 {
		t.Fatalf("bad name: %d", status)
	}
	mustContain(t, body, `id="page-error"`, `value="https://api.example.com"`, `value="Bad Name!"`)
	mustNotContain(t, body, canary)

	status, body = w.post(t, "mike", "/new-connection", url.Values{"method": {"BEARER_TOKEN"}, "name": {"mine"}, "host": {"https://api.example.com"}, "bearer_token": {canary}})
	if status != 403 {
		t.Fatalf("without CREATE_CONNECTION: %d", status)
	}
	mustNotContain(t, body, canary)

	status, loc := w.post(t, "olivia", "/new-connection", url.Values{"method": {"BEARER_TOKEN"}, "name": {"api"}, "host": {"https://api.example.com"}, "bearer_token": {canary}})
	if status != 303 || loc != "/connections/api?done=created" {
		t.Fatalf("create: %d %s", status, loc)
	}
	events := w.audit.take()
	if len(events) != 3 {
		t.Errorf("recorded %d events, want 3 (one per create attempt)", len(events))
	}
	if e := events[len(events)-1]; e.ActionName != catalog.ActionCreateConnection || e.Decision != catalog.DecisionAllow || e.Connection != "api" {
		t.Errorf("create event %+v", e)
	}

	// An OAuth method: the first post runs the provider check and saves nothing.
	u2m := url.Values{"method": {"OAUTH_U2M_PER_USER"}, "name": {"idp"}, "host": {as.URL}, "client_id": {"gatehouse"}, "client_secret": {canary},
		"authorization_endpoint": {as.AuthorizeURL}, "token_endpoint": {as.TokenURL}, "oauth_scope": {"openid offline_access"}}
	status, body = w.post(t, "olivia", "/new-connection", u2m)
	if status != 200 {
		t.Fatalf("check: %d\n%s", status, body)
	}
	mustContain(t, body, `id="check-results"`, "check-pass", `id="wizard-save"`, `id="wizard-secret-again"`, `value="`+as.TokenURL+`"`)
	mustNotContain(t, body, canary)
	if _, err := w.st.GetConnection(context.Background(), "idp"); !catalog.IsNotFound(err) {
		t.Fatalf("the check saved the connection: %v", err)
	}
	u2m.Set("step", "save")
	status, loc = w.post(t, "olivia", "/new-connection", u2m)
	if status != 303 || loc != "/connections/idp?done=created" {
		t.Fatalf("save: %d %s", status, loc)
	}
	_, body = w.get(t, "olivia", "/connections/idp?done=created")
	mustContain(t, body, `id="flash"`, `id="sign-in-button" href="/connections/idp/login"`, `badge info" id="conn-state">NEEDS_LOGIN`, `id="check-run"`)
	mustNotContain(t, body, canary)
	_, body = w.get(t, "olivia", "/connections/idp?check=1")
	mustContain(t, body, `id="check-results"`, `id="check-redirect-uri"`)
	mustNotContain(t, body, canary)
}
