package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// fakeAuthorizer answers Check with err, or a request; Approve records who approved.
type fakeAuthorizer struct {
	mu       sync.Mutex
	err      error
	approved []string
}

func (f *fakeAuthorizer) Check(_ context.Context, q url.Values) (*authserver.AuthorizeRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &authserver.AuthorizeRequest{ClientID: q.Get("client_id"), ClientName: "Spec <Client>", RedirectURI: q.Get("redirect_uri"),
		State: q.Get("state"), CodeChallenge: q.Get("code_challenge"), Resource: q.Get("resource"), Connection: "tools"}, nil
}

func (f *fakeAuthorizer) Approve(_ context.Context, p *catalog.Principal, req *authserver.AuthorizeRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.approved = append(f.approved, p.Name)
	return req.RedirectURI + "?code=c0de&state=" + url.QueryEscape(req.State), nil
}

func (f *fakeAuthorizer) approvals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.approved...)
}

var authorizeQuery = url.Values{"response_type": {"code"}, "client_id": {"https://client.example/c.json"}, "redirect_uri": {"http://127.0.0.1:7000/cb"},
	"state": {"s1"}, "code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}, "resource": {"https://gh.example/api/2.0/mcp/external/tools"}}

func newAuthorizeEnv(t *testing.T) (*env, *fakeAuthorizer) {
	t.Helper()
	e := newEnv(t, "https://gh.example")
	fa := &fakeAuthorizer{}
	d := e.ui.d
	d.Authorize = fa
	e.ui = New(d)
	return e, fa
}

func TestAuthorizePage(t *testing.T) {
	target := AuthorizePath + "?" + authorizeQuery.Encode()
	t.Run("no session goes to sign-in and back", func(t *testing.T) {
		e, _ := newAuthorizeEnv(t)
		rec := e.browser(t).do("GET", target, nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?next="+url.QueryEscape(target) {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("error before the redirect URI is known is a page", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		fa.err = &authserver.AuthorizeError{Code: "invalid_request", Description: "redirect_uri is not registered"}
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		rec := b.do("GET", target, nil)
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), "redirect_uri is not registered") {
			t.Fatalf("%d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	})
	t.Run("error after it is redirected", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		fa.err = &authserver.AuthorizeError{Code: "invalid_target", Description: "no such connection", RedirectURI: "http://127.0.0.1:7000/cb", State: "s1"}
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		rec := b.do("GET", target, nil)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "invalid_target" || loc.Query().Get("state") != "s1" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("consent, then allow", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		rec := b.do("GET", target, nil)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "Spec &lt;Client&gt;") || !strings.Contains(body, "tools") || strings.Contains(body, "<Client>") {
			t.Fatalf("consent %d\n%s", rec.Code, body)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:7000;") {
			t.Errorf("CSP %q", csp)
		}
		form := url.Values{"csrf": {b.jar[b.csrfName()]}, "decision": {"allow"}}
		for k, v := range authorizeQuery {
			form[k] = v
		}
		rec = b.do("POST", AuthorizePath, form)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "http://127.0.0.1:7000/cb?code=c0de&state=s1" {
			t.Fatalf("allow %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if got := fa.approvals(); len(got) != 1 || got[0] != "alice@example.com" {
			t.Errorf("approvals %v", got)
		}
	})
	t.Run("deny", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		form := url.Values{"csrf": {b.jar[b.csrfName()]}, "decision": {"deny"}}
		for k, v := range authorizeQuery {
			form[k] = v
		}
		rec := b.do("POST", AuthorizePath, form)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s1" {
			t.Fatalf("deny %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if len(fa.approvals()) != 0 {
			t.Error("deny approved")
		}
	})
	t.Run("no CSRF token approves nothing", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		form := url.Values{"decision": {"allow"}}
		for k, v := range authorizeQuery {
			form[k] = v
		}
		if rec := b.do("POST", AuthorizePath, form); rec.Code != http.StatusForbidden {
			t.Fatalf("%d", rec.Code)
		}
		if len(fa.approvals()) != 0 {
			t.Error("approved without CSRF token")
		}
	})
	t.Run("no session approves nothing", func(t *testing.T) {
		e, fa := newAuthorizeEnv(t)
		form := url.Values{"decision": {"allow"}}
		for k, v := range authorizeQuery {
			form[k] = v
		}
		if rec := e.browser(t).do("POST", AuthorizePath, form); rec.Code != http.StatusUnauthorized {
			t.Fatalf("%d", rec.Code)
		}
		if len(fa.approvals()) != 0 {
			t.Error("approved without a session")
		}
	})
}
