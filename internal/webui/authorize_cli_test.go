package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authserver"
)

// cliAuthorizer answers Check as the authorizer does for the Gatehouse CLI.
type cliAuthorizer struct{ fakeAuthorizer }

func (f *cliAuthorizer) Check(_ context.Context, q url.Values) (*authserver.AuthorizeRequest, error) {
	return &authserver.AuthorizeRequest{ClientID: authserver.CLIClientID, ClientName: authserver.CLIClientName, RedirectURI: q.Get("redirect_uri"),
		State: q.Get("state"), CodeChallenge: q.Get("code_challenge"), CLI: true}, nil
}

// TestAuthorizePageCLI: the consent page for the Gatehouse CLI says plainly that the CLI
// on this computer will act as the user with all their privileges, and names no
// connection.
func TestAuthorizePageCLI(t *testing.T) {
	e := newEnv(t, "https://gh.example")
	d := e.ui.d
	d.Authorize = &cliAuthorizer{}
	e.ui = New(d)
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	q := url.Values{"response_type": {"code"}, "client_id": {authserver.CLIClientID}, "redirect_uri": {"http://127.0.0.1:7000/callback"},
		"state": {"s1"}, "code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}}
	rec := b.do("GET", AuthorizePath+"?"+q.Encode(), nil)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("consent %d\n%s", rec.Code, body)
	}
	for _, want := range []string{`id="consent-cli"`, "Gatehouse CLI on this computer", "all your privileges", "gatehouse auth login"} {
		if !strings.Contains(body, want) {
			t.Errorf("CLI consent page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "MCP connection") {
		t.Errorf("CLI consent page speaks of an MCP connection:\n%s", body)
	}
}
