package webui

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/webui/ssotest"
)

const (
	ssoClientID     = ssotest.ClientID
	ssoClientSecret = ssotest.ClientSecret
)

// fakeAudit collects audit events.
type fakeAudit struct {
	mu     sync.Mutex
	events []catalog.AuditEvent
}

func (f *fakeAudit) Record(_ context.Context, e *catalog.AuditEvent) {
	f.mu.Lock()
	f.events = append(f.events, *e)
	f.mu.Unlock()
}

func (f *fakeAudit) all() []catalog.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]catalog.AuditEvent(nil), f.events...)
}

// users is a UserDirectory over the fake principals.
type users struct{ *fakePrincipals }

func (u users) GetPrincipalByName(_ context.Context, name string) (*catalog.Principal, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.m {
		if p.Name == name {
			return &p, nil
		}
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "user %s does not exist", name)
}

func (u users) CreatePrincipal(_ context.Context, p *catalog.Principal) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, q := range u.m {
		if q.Name == p.Name {
			return catalog.Errorf(catalog.ResourceAlreadyExists, "principal %s exists", p.Name)
		}
	}
	u.m[p.ID] = *p
	return nil
}

// ssoEnv is a UI with single sign-on against an idp, the fakes of env for the rest,
// and the pending sign-ins in a real SQLite store.
type ssoEnv struct {
	*env
	idp   *ssotest.Provider
	audit *fakeAudit
}

func newSSOEnv(t *testing.T, autoCreate bool) *ssoEnv {
	t.Helper()
	const public = "http://127.0.0.1:8080"
	e := newEnv(t, public)
	e.clock.t = time.Now().UTC()
	p := ssotest.New(t, public+SSOCallbackPath)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hc := p.Client()
	a := &fakeAudit{}
	e.ui = New(Deps{
		Auth: e.auth, Principals: e.principals, Logins: e.logins, PublicURL: public,
		Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: e.clock.Now, SessionTTL: sessionTTL, Audit: a,
		SSO: &SSOConfig{Issuer: p.URL, ClientID: ssoClientID, ClientSecret: ssoClientSecret, AutoCreateUsers: autoCreate,
			HTTPClient: hc, Users: users{e.principals}, Pending: st},
	})
	p.SetUser("alice", map[string]any{"email": "alice@example.com", "email_verified": true, "name": "Alice"})
	p.SetUser("bob", map[string]any{"email": "bob@example.com", "email_verified": true})
	p.SetUser("carol", map[string]any{"email": "carol@example.com", "email_verified": true, "name": "Carol"})
	p.SetUser("unverified", map[string]any{"email": "alice@example.com", "email_verified": false})
	p.SetUser("noemail", map[string]any{"name": "No Email"})
	return &ssoEnv{env: e, idp: p, audit: a}
}

// ssoStartAs loads /login, presses "Sign in with ..." and returns the provider's
// authorization URL Gatehouse sent the browser to.
func (b *browser) ssoStart(next string) *url.URL {
	b.t.Helper()
	page := b.do("GET", "/login", nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `id="sso-sign-in"`) {
		b.t.Fatalf("GET /login = %d without the SSO button:\n%s", page.Code, page.Body)
	}
	rec := b.do("POST", ssoStartPath, url.Values{"csrf": {b.jar[b.csrfName()]}, "next": {next}})
	if rec.Code != http.StatusSeeOther {
		b.t.Fatalf("POST %s = %d; body:\n%s", ssoStartPath, rec.Code, rec.Body)
	}
	to, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return to
}

// authorizeAt plays the user at the provider: it opens the authorization URL as user
// and returns the Gatehouse callback (path and query) the provider redirects to.
func (e *ssoEnv) authorizeAt(t *testing.T, to *url.URL, user string) string {
	t.Helper()
	q := to.Query()
	q.Set("test_user", user)
	to.RawQuery = q.Encode()
	resp, err := e.idp.Client().Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode/100 != 3 || back.Path != SSOCallbackPath {
		t.Fatalf("provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.RequestURI()
}

// signInSSO does the whole sign-in as user and returns the callback's answer.
func (e *ssoEnv) signInSSO(t *testing.T, b *browser, user string) *httptest.ResponseRecorder {
	t.Helper()
	return b.do("GET", e.authorizeAt(t, b.ssoStart(""), user), nil)
}

func TestSSOAuthorizationRequest(t *testing.T) {
	e := newSSOEnv(t, false)
	to := e.browser(t).ssoStart("/connections/github/login")
	q := to.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": ssoClientID, "redirect_uri": "http://127.0.0.1:8080/login/oidc/callback", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("%s = %q, want 256 random bits", k, q.Get(k))
		}
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		t.Errorf("scope = %q, want openid", q.Get("scope"))
	}
}

func TestSSOSignIn(t *testing.T) {
	type result struct {
		status  int
		session bool
		page    string // in the answer's body
	}
	signedIn := result{status: http.StatusSeeOther, session: true}
	resign := func(mut func(c, h map[string]any)) func(*ssotest.Provider) ssotest.Tamper {
		return func(p *ssotest.Provider) ssotest.Tamper {
			return func(c, h map[string]any) any { mut(c, h); return p.Key() }
		}
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		user       string
		autoCreate bool
		setup      func(e *ssoEnv)
		tamper     func(p *ssotest.Provider) ssotest.Tamper
		want       result
		wantUser   string
		wantLog    string // the refusal's reason, in the log
	}{
		{name: "sign in", user: "alice", want: signedIn, wantUser: "alice@example.com"},
		{name: "unknown user refused", wantLog: "reason=\"unknown user\"", user: "carol", want: result{status: http.StatusForbidden, page: "No Gatehouse user carol@example.com"}},
		{name: "auto-create", user: "carol", autoCreate: true, want: signedIn, wantUser: "carol@example.com"},
		{name: "deactivated refused", wantLog: "reason=\"user deactivated\"", user: "bob", setup: func(e *ssoEnv) { e.principals.setActive("id-bob", false) },
			want: result{status: http.StatusForbidden, page: "User bob@example.com is deactivated"}},
		{name: "deactivated refused even with auto-create", user: "bob", autoCreate: true, setup: func(e *ssoEnv) { e.principals.setActive("id-bob", false) },
			want: result{status: http.StatusForbidden, page: "is deactivated"}},
		{name: "email_verified false refused", wantLog: "reason=\"email not verified\"", user: "unverified", want: result{status: http.StatusForbidden, page: "is not verified"}},
		{name: "no username claim refused", user: "noemail", want: result{status: http.StatusForbidden, page: "no usable email claim"}},
		{name: "nonce mismatch", wantLog: "reason=\"id token: nonce mismatch\"", user: "alice", tamper: resign(func(c, _ map[string]any) { c["nonce"] = "not-the-nonce" }),
			want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "nonce missing", wantLog: "reason=\"id token: nonce mismatch\"", user: "alice", tamper: resign(func(c, _ map[string]any) { delete(c, "nonce") }),
			want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "signature of another key", wantLog: "failed to verify signature", user: "alice", tamper: func(*ssotest.Provider) ssotest.Tamper {
			return func(map[string]any, map[string]any) any { return foreign }
		}, want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "payload changed under the signature", wantLog: "failed to verify signature", user: "alice", tamper: func(*ssotest.Provider) ssotest.Tamper {
			return func(c, _ map[string]any) any { c["email"] = "bob@example.com"; return nil }
		}, want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "alg none", wantLog: `unexpected signature algorithm \"none\"`, user: "alice", tamper: func(*ssotest.Provider) ssotest.Tamper {
			return func(map[string]any, map[string]any) any { return "none" }
		}, want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "aud of another client", wantLog: "expected audience", user: "alice", tamper: resign(func(c, _ map[string]any) { c["aud"] = []string{"another-client"} }),
			want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "iss of another issuer", wantLog: "issued by a different provider", user: "alice", tamper: resign(func(c, _ map[string]any) { c["iss"] = "https://evil.example" }),
			want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "expired", wantLog: "reason=\"id token: expired\"", user: "alice", tamper: resign(func(c, _ map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
			want: result{status: http.StatusForbidden, page: "did not pass verification"}},
		{name: "email_verified false after resigning", user: "alice", tamper: resign(func(c, _ map[string]any) { c["email_verified"] = false }),
			want: result{status: http.StatusForbidden, page: "is not verified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSSOEnv(t, tc.autoCreate)
			if tc.setup != nil {
				tc.setup(e)
			}
			if tc.tamper != nil {
				e.idp.SetTamper(tc.tamper(e.idp))
			}
			b := e.browser(t)
			rec := e.signInSSO(t, b, tc.user)
			if rec.Code != tc.want.status {
				t.Fatalf("callback = %d, want %d; body:\n%s", rec.Code, tc.want.status, rec.Body)
			}
			if got := b.jar[SessionCookie] != ""; got != tc.want.session {
				t.Fatalf("session cookie set = %v, want %v", got, tc.want.session)
			}
			if got := rec.Header().Get("Location"); tc.want.session && got != "/" {
				t.Errorf("signed in without a next path: Location %q, want / (the console home)", got)
			}
			if tc.want.page != "" && !strings.Contains(rec.Body.String(), tc.want.page) {
				t.Errorf("page lacks %q:\n%s", tc.want.page, rec.Body)
			}
			if b.jar["gatehouse_sso"] != "" && tc.want.session {
				t.Error("the browser-binding cookie outlived the sign-in")
			}
			events := e.audit.all()
			var signIns []catalog.AuditEvent
			for _, ev := range events {
				if ev.ActionName == catalog.ActionSignIn {
					signIns = append(signIns, ev)
				}
			}
			if len(signIns) != 1 {
				t.Fatalf("signIn audit events = %+v, want one", events)
			}
			if tc.want.session {
				page := b.do("GET", "/login", nil)
				if !strings.Contains(page.Body.String(), `id="signed-in-user">`+tc.wantUser+`<`) {
					t.Fatalf("/login after sign-in does not show %s:\n%s", tc.wantUser, page.Body)
				}
				if ev := signIns[0]; ev.Principal != tc.wantUser || ev.Decision != catalog.DecisionAllow || ev.Params["method"] != "oidc" {
					t.Errorf("signIn event = %+v", ev)
				}
			} else if ev := signIns[0]; ev.Decision != catalog.DecisionDeny || ev.ErrorCode == "" {
				t.Errorf("refused signIn event = %+v", ev)
			}
			if tc.autoCreate && tc.want.session {
				p, err := users{e.principals}.GetPrincipalByName(context.Background(), tc.wantUser)
				if err != nil || !p.Active || p.Kind != catalog.KindUser || p.DisplayName != "Carol" {
					t.Fatalf("created principal = %+v, %v", p, err)
				}
				var created bool
				for _, ev := range events {
					created = created || (ev.ActionName == catalog.ActionPrincipalChange && ev.Params["operation"] == "auto-create" && ev.Principal == tc.wantUser)
				}
				if !created {
					t.Errorf("no principalChange event for the auto-created user: %+v", events)
				}
			}
			if tc.wantLog != "" && !strings.Contains(e.log.String(), tc.wantLog) {
				t.Errorf("log lacks the reason %q:\n%s", tc.wantLog, e.log)
			}
			e.canaryScan(t)
		})
	}
}

// canaryScan checks that no code, ID token, access token or client secret reached a
// page, a header, the log or an audit record.
func (e *ssoEnv) canaryScan(t *testing.T) {
	t.Helper()
	var hay strings.Builder
	e.seenMu.Lock()
	for _, rec := range e.seen {
		hay.WriteString(rec.Body.String())
		for k, vs := range rec.Header() {
			if k == "Location" {
				continue // the provider's authorization URL: no secret in it
			}
			hay.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	e.seenMu.Unlock()
	hay.WriteString(e.log.String())
	aj, _ := json.Marshal(e.audit.all())
	hay.Write(aj)
	for _, s := range e.idp.Secrets() {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(hay.String(), form) {
				t.Errorf("a secret (%.12s…) appears in a page, header, log or audit record", s)
			}
		}
	}
}

func TestSSOState(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run returns the callback's answer.
		run        func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder
		wantStatus int
	}{
		{name: "state missing", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			back, _ := url.Parse(e.authorizeAt(t, b.ssoStart(""), "alice"))
			q := back.Query()
			q.Del("state")
			return b.do("GET", SSOCallbackPath+"?"+q.Encode(), nil)
		}},
		{name: "state unknown", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			back, _ := url.Parse(e.authorizeAt(t, b.ssoStart(""), "alice"))
			q := back.Query()
			q.Set("state", newSecret())
			return b.do("GET", SSOCallbackPath+"?"+q.Encode(), nil)
		}},
		{name: "state replayed", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			back := e.authorizeAt(t, b.ssoStart(""), "alice")
			if rec := b.do("GET", back, nil); rec.Code != http.StatusSeeOther {
				t.Fatalf("first callback = %d, want 303", rec.Code)
			}
			b.do("POST", "/logout", url.Values{"csrf": {b.jar[b.csrfName()]}})
			// The binding cookie is gone with the sign-in; a replay with it restored
			// still finds the state taken.
			b2 := e.browser(t)
			b2.ssoStart("")
			return b2.do("GET", back, nil)
		}},
		{name: "state replayed in the same browser", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			to := b.ssoStart("")
			binding := b.jar["gatehouse_sso"]
			back := e.authorizeAt(t, to, "alice")
			if rec := b.do("GET", back, nil); rec.Code != http.StatusSeeOther {
				t.Fatalf("first callback = %d, want 303", rec.Code)
			}
			b.jar["gatehouse_sso"] = binding
			return b.do("GET", back, nil)
		}},
		{name: "state from another browser", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			victim, attacker := e.browser(t), e.browser(t)
			attacker.ssoStart("") // the attacker has a binding cookie of its own
			back := e.authorizeAt(t, victim.ssoStart(""), "alice")
			return attacker.do("GET", back, nil)
		}},
		{name: "no binding cookie", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			back := e.authorizeAt(t, b.ssoStart(""), "alice")
			delete(b.jar, "gatehouse_sso")
			return b.do("GET", back, nil)
		}},
		{name: "state expired", wantStatus: http.StatusBadRequest, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			back := e.authorizeAt(t, b.ssoStart(""), "alice")
			e.clock.Advance(DefaultSSOStateTTL + time.Second)
			return b.do("GET", back, nil)
		}},
		{name: "provider error", wantStatus: http.StatusForbidden, run: func(t *testing.T, e *ssoEnv) *httptest.ResponseRecorder {
			b := e.browser(t)
			to := b.ssoStart("")
			return b.do("GET", SSOCallbackPath+"?error=access_denied&state="+url.QueryEscape(to.Query().Get("state")), nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSSOEnv(t, false)
			rec := tc.run(t, e)
			if rec.Code != tc.wantStatus {
				t.Fatalf("callback = %d, want %d; body:\n%s", rec.Code, tc.wantStatus, rec.Body)
			}
			if findCookie(rec, SessionCookie) != nil && findCookie(rec, SessionCookie).MaxAge >= 0 {
				t.Fatal("a refused callback set a session cookie")
			}
			e.canaryScan(t)
		})
	}
}

func TestSSOSessionLifecycle(t *testing.T) {
	e := newSSOEnv(t, false)
	b := e.browser(t)
	if rec := e.signInSSO(t, b, "alice"); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in = %d:\n%s", rec.Code, rec.Body)
	}
	old := b.jar[SessionCookie]

	// A per-user connection login from the SSO session: the broker sees alice and the
	// session, and the provider's answer is handed back with the same session.
	rec := b.do("GET", "/connections/github/login", nil)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != providerAt {
		t.Fatalf("connection login = %d to %q, want 302 to the provider", rec.Code, rec.Header().Get("Location"))
	}
	rec = b.do("GET", CallbackPath+"?code="+authCode+"&state="+authState, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "github") {
		t.Fatalf("connection callback = %d:\n%s", rec.Code, rec.Body)
	}
	starts, finishes := e.logins.calls()
	if len(starts) != 1 || starts[0].Principal != "alice@example.com" || len(finishes) != 1 || finishes[0].SessionID != starts[0].SessionID {
		t.Fatalf("broker calls: starts %+v, finishes %+v", starts, finishes)
	}

	// Deactivation ends the session on the next request.
	e.principals.setActive("id-alice", false)
	if rec := b.do("GET", "/login", nil); !strings.Contains(rec.Body.String(), "deactivated") || strings.Contains(rec.Body.String(), `id="signed-in-user"`) {
		t.Fatalf("session of a deactivated user still holds:\n%s", rec.Body)
	}
	e.principals.setActive("id-alice", true)

	// Sign out: the old cookie is refused on the next request.
	b = e.browser(t)
	if rec := e.signInSSO(t, b, "alice"); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in again = %d", rec.Code)
	}
	old = b.jar[SessionCookie]
	if rec := b.do("POST", "/logout", url.Values{"csrf": {b.jar[b.csrfName()]}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out = %d", rec.Code)
	}
	b.jar[SessionCookie] = old
	rec = b.do("GET", "/connections/github/login", nil)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?next=") {
		t.Fatalf("old cookie after sign-out: %d to %q, want a redirect to sign in", rec.Code, rec.Header().Get("Location"))
	}
	e.canaryScan(t)
}

func TestSSOPageKeepsTokenSignIn(t *testing.T) {
	e := newSSOEnv(t, false)
	b := e.browser(t)
	page := b.do("GET", "/login", nil).Body.String()
	for _, want := range []string{`id="sso-sign-in"`, "Sign in with 127.0.0.1:", `id="token-sign-in-link"`, `id="token-sign-in"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The SSO form's answer redirects to the provider, which the browser checks against
	// form-action: the page's CSP allows the provider's origin there, and only that.
	rec := b.do("GET", "/login", nil)
	if got, want := rec.Header().Get("Content-Security-Policy"), "form-action 'self' "+e.idp.URL+";"; !strings.Contains(got, want) || strings.Contains(got, "script-src") {
		t.Errorf("sign-in page CSP = %q, want %q in it", got, want)
	}
	b.mustSignIn(aliceToken)
	// Without SSO the page has no SSO button.
	plain := newEnv(t, "http://127.0.0.1:8080").browser(t).do("GET", "/login", nil).Body.String()
	if strings.Contains(plain, "sso-sign-in") || !strings.Contains(plain, `id="token-sign-in"`) {
		t.Errorf("page without SSO:\n%s", plain)
	}
}

// TestSSOAcrossReplicas starts a sign-in on one replica and finishes it on another
// that shares the store: the state and the session live there, not in a process.
func TestSSOAcrossReplicas(t *testing.T) {
	e := newSSOEnv(t, false)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	replica := func() *UI {
		return New(Deps{Auth: e.auth, Principals: e.principals, Logins: e.logins, PublicURL: "http://127.0.0.1:8080",
			Now: e.clock.Now, SessionTTL: sessionTTL, Sessions: st,
			SSO: &SSOConfig{Issuer: e.idp.URL, ClientID: ssoClientID, ClientSecret: ssoClientSecret, HTTPClient: e.idp.Client(),
				Users: users{e.principals}, Pending: st}})
	}
	a, b := replica(), replica()
	br := e.browser(t)
	e.ui = a
	to := br.ssoStart("")
	back := e.authorizeAt(t, to, "alice")
	e.ui = b
	if rec := br.do("GET", back, nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("callback on the other replica = %d:\n%s", rec.Code, rec.Body)
	}
	e.ui = a
	if page := br.do("GET", "/login", nil).Body.String(); !strings.Contains(page, `id="signed-in-user">alice@example.com<`) {
		t.Fatalf("the first replica does not know the session:\n%s", page)
	}
}

// TestSSOAuthorizationEndpointElsewhere: a provider whose authorization endpoint is on
// another origin than its issuer (AWS Cognito's is) is reached through the continue
// page, since the sign-in page's form-action names only the issuer's origin, and a 303
// there would be stopped by the browser.
func TestSSOAuthorizationEndpointElsewhere(t *testing.T) {
	const public = "http://127.0.0.1:8080"
	const authorize = "https://login.example.test/oauth2/authorize"
	var issuer string
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "authorization_endpoint": authorize,
			"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	}))
	t.Cleanup(idp.Close)
	issuer = idp.URL
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, public)
	e.ui = New(Deps{Auth: e.auth, Principals: e.principals, Logins: e.logins, PublicURL: public, Now: e.clock.Now,
		SSO: &SSOConfig{Issuer: issuer, ClientID: ssoClientID, ClientSecret: ssoClientSecret, HTTPClient: idp.Client(),
			Users: users{e.principals}, Pending: st}})
	b := e.browser(t)
	page := b.do("GET", "/login", nil)
	if got, want := page.Header().Get("Content-Security-Policy"), "form-action 'self' "+issuer+";"; !strings.Contains(got, want) {
		t.Fatalf("sign-in page CSP = %q, want %q in it", got, want)
	}
	rec := b.do("POST", ssoStartPath, url.Values{"csrf": {b.jar[b.csrfName()]}})
	if to := continueTarget(t, rec); !strings.HasPrefix(to, authorize+"?") {
		t.Fatalf("the sign-in continues to %q, want the authorization endpoint", to)
	}
}
