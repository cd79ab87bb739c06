package browsertests

import (
	"net/http"
	"strings"
	"testing"
)

// scimUsers lists the Gatehouse users by name with their active flag.
func (w *world) scimUsers(t *testing.T) map[string]bool {
	t.Helper()
	var users struct {
		Resources []struct {
			UserName string `json:"userName"`
			Active   bool   `json:"active"`
		} `json:"Resources"`
	}
	w.gh.Must("GET", "/api/2.0/preview/scim/v2/Users", w.gh.Admin, nil, &users)
	out := map[string]bool{}
	for _, u := range users.Resources {
		out[u.UserName] = u.Active
	}
	return out
}

// TestBrowserSSO runs one Gatehouse with single sign-on (no auto-create) against a
// real OpenID provider on loopback HTTPS, each case in its own Chromium: sign-in
// through the provider's page and sign-out, the refusals of an unknown and of a
// deactivated user, a provider-supplied name that carries markup (it runs no script),
// then the MCP client consent, the per-user connection login (from an SSO session,
// and by way of a token sign-in), and cross-site forms. The server log holds none of
// the secrets at the end.
func TestBrowserSSO(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	_, alice := w.gh.MakeUser("alice@example.com")
	w.idpUser("alice@example.com")
	bobID, bob := w.gh.MakeUser("bob@example.com")
	w.idpUser("bob@example.com")
	w.idpUser("mallory@example.com") // known to the provider only
	secrets := map[string]string{"alice's token": alice, "bob's token": bob}

	t.Run("sign in and out", func(t *testing.T) {
		p := newPage(t, w.gh.URL)
		p.open(w.gh.URL + "/login")
		if got := p.text("sso-sign-in"); !strings.HasPrefix(got, "Sign in with 127.0.0.1:") {
			t.Errorf("the SSO button reads %q", got)
		}
		landed, status := p.ssoSignIn(w, "alice@example.com")
		if landed != w.gh.URL+"/" || status != http.StatusOK {
			t.Fatalf("SSO landed on %s with %d, want %s/ (the console home) with 200", landed, status, w.gh.URL)
		}
		if got := p.text("viewer-name"); got != "alice@example.com" {
			t.Fatalf("the console home shows %q signed in, want alice@example.com", got)
		}
		p.open(w.gh.URL + "/login")
		if got := p.text("signed-in-user"); got != "alice@example.com" {
			t.Fatalf("signed in as %q, want alice@example.com", got)
		}
		p.signOutEndsSession(w.gh.URL)
		canaryScan(t, "a page", p.seen.String(), w.secrets(secrets))
	})

	t.Run("unknown user refused", func(t *testing.T) {
		p := newPage(t, w.gh.URL)
		landed, status := p.ssoSignIn(w, "mallory@example.com")
		if !strings.HasPrefix(landed, w.gh.URL+"/login/oidc/callback?") || status != http.StatusForbidden {
			t.Fatalf("unknown user: landed on %s with %d, want the callback with 403", landed, status)
		}
		if got := p.text("error-heading"); got != "No Gatehouse user mallory@example.com" {
			t.Errorf("heading %q", got)
		}
		if got := p.text("error-message"); !strings.Contains(got, "Ask a Gatehouse admin to add you") {
			t.Errorf("message %q", got)
		}
		if _, ok := w.scimUsers(t)["mallory@example.com"]; ok {
			t.Errorf("the unknown user was created without --oidc-auto-create-users")
		}
		p.open(w.gh.URL + "/login")
		if p.has("signed-in-user") {
			t.Errorf("refused, yet signed in")
		}
		canaryScan(t, "a page", p.seen.String(), w.secrets(secrets))
	})

	t.Run("deactivated user refused", func(t *testing.T) {
		w.gh.Must("PATCH", "/api/2.0/preview/scim/v2/Users/"+bobID, w.gh.Admin, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
		p := newPage(t, w.gh.URL)
		_, status := p.ssoSignIn(w, "bob@example.com")
		if status != http.StatusForbidden {
			t.Fatalf("deactivated user: %d, want 403", status)
		}
		if got := p.text("error-heading"); got != "User bob@example.com is deactivated" {
			t.Errorf("heading %q", got)
		}
		p.open(w.gh.URL + "/login")
		if p.has("signed-in-user") {
			t.Errorf("deactivated, yet signed in")
		}
	})

	t.Run("markup in the provider's name runs no script", func(t *testing.T) {
		// The provider's email claim is outside input shown on the refusal page.
		evil := `<img src=x onerror="window.__x=1"><script>window.__x=2</script>@example.com`
		w.idp.SetUser("evil", map[string]any{"email": evil, "email_verified": true})
		p := newPage(t, w.gh.URL)
		_, status := p.ssoSignIn(w, "evil")
		if status != http.StatusForbidden {
			t.Fatalf("evil user: %d, want 403", status)
		}
		if got := p.text("error-heading"); got != "No Gatehouse user "+evil {
			t.Errorf("heading %q, want the name shown as text", got)
		}
		p.noScriptRan()
	})

	t.Run("MCP client consent", func(t *testing.T) { consentFlow(t, w, secrets) })
	t.Run("connection login", func(t *testing.T) { connectionLogin(t, w, alice, secrets) })
	t.Run("connection login after token sign-in", func(t *testing.T) { connectionLoginAfterTokenSignIn(t, w, alice, secrets) })
	t.Run("cross-site forms refused", func(t *testing.T) { crossSiteForms(t, w) })
	canaryScan(t, "the server log", w.gh.Log(), w.secrets(secrets))
}

// TestBrowserSSOAutoCreate: with --oidc-auto-create-users, a person the provider
// knows and Gatehouse does not signs in and is created, active, as a user.
func TestBrowserSSOAutoCreate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	w.idpUser("dave@example.com")
	if _, ok := w.scimUsers(t)["dave@example.com"]; ok {
		t.Fatal("dave exists before signing in")
	}
	p := newPage(t, w.gh.URL)
	if landed, status := p.ssoSignIn(w, "dave@example.com"); landed != w.gh.URL+"/" || status != http.StatusOK {
		t.Fatalf("SSO landed on %s with %d, want %s/ (the console home) with 200", landed, status, w.gh.URL)
	}
	if got := p.text("viewer-name"); got != "dave@example.com" {
		t.Fatalf("signed in as %q, want dave@example.com", got)
	}
	if active, ok := w.scimUsers(t)["dave@example.com"]; !ok || !active {
		t.Errorf("dave after signing in: exists %v, active %v", ok, active)
	}
	p.signOutEndsSession(w.gh.URL)
	canaryScan(t, "a page", p.seen.String(), w.secrets(nil))
	canaryScan(t, "the server log", w.gh.Log(), w.secrets(nil))
}
