package webui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

const (
	aliceToken = "gth_alicesecrettokenvalue234567abcdefghijklmnopqrstuvwx"
	bobToken   = "gth_bobsecrettokenvalue234567abcdefghijklmnopqrstuvwxyz"
	wrongToken = "gth_wrongtokenvalue234567abcdefghijklmnopqrstuvwxyzabc"
	authCode   = "SplxlOBeZQQYbYS6WxSbIA-authcode"
	authState  = "af0ifjsldkj-state-value-0123456789"
	providerAt = "https://idp.example.com/authorize?client_id=abc&state=" + authState
)

// fakeClock is an adjustable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakePrincipals is the principal store.
type fakePrincipals struct {
	mu sync.Mutex
	m  map[string]catalog.Principal
}

func (f *fakePrincipals) GetPrincipal(_ context.Context, id string) (*catalog.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[id]
	if !ok {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "principal %s does not exist", id)
	}
	return &p, nil
}

func (f *fakePrincipals) setActive(id string, active bool) {
	f.mu.Lock()
	p := f.m[id]
	p.Active = active
	f.m[id] = p
	f.mu.Unlock()
}

func (f *fakePrincipals) remove(id string) {
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
}

// fakeAuth knows alice's and bob's tokens.
type fakeAuth struct {
	principals *fakePrincipals
	tokens     map[string]string // token → principal id
	mu         sync.Mutex
	calls      int
	deleted    map[string]bool      // token id → deleted since sign-in
	expiresAt  map[string]time.Time // principal id → expiry of its token
}

// Recheck refuses an identity whose token was deleted since it signed in.
func (f *fakeAuth) Recheck(_ context.Context, id *identity.Identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted[id.TokenID] {
		return catalog.Errorf(catalog.Unauthenticated, "access token %s was deleted", id.TokenID)
	}
	return nil
}

func (f *fakeAuth) deleteToken(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted == nil {
		f.deleted = map[string]bool{}
	}
	f.deleted[id] = true
}

func (f *fakeAuth) Authenticate(ctx context.Context, token string) (*identity.Identity, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	id, ok := f.tokens[token]
	if !ok {
		return nil, catalog.Errorf(catalog.Unauthenticated, "invalid access token")
	}
	p, err := f.principals.GetPrincipal(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.Active {
		return nil, catalog.Errorf(catalog.Unauthenticated, "principal %s is deactivated", p.Name)
	}
	f.mu.Lock()
	exp := f.expiresAt[id]
	f.mu.Unlock()
	return identity.Resume(p, "tok-"+id, identity.HashToken(token), exp), nil
}

func (f *fakeAuth) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type startCall struct {
	Principal, SessionID, Connection string
}

type finishCall struct {
	Principal, SessionID string
	Query                url.Values
}

// fakeLogins records calls and answers what the test sets.
type fakeLogins struct {
	mu        sync.Mutex
	starts    []startCall
	finishes  []finishCall
	startURL  string
	startErr  error
	finishRes *LoginResult
	finishErr error
}

func (f *fakeLogins) StartLogin(_ context.Context, p *catalog.Principal, sessionID, connection string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, startCall{p.Name, sessionID, connection})
	if f.startErr != nil {
		return "", f.startErr
	}
	return f.startURL, nil
}

func (f *fakeLogins) FinishLogin(_ context.Context, p *catalog.Principal, sessionID string, q url.Values) (*LoginResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finishes = append(f.finishes, finishCall{p.Name, sessionID, q})
	if f.finishErr != nil {
		return nil, f.finishErr
	}
	return f.finishRes, nil
}

func (f *fakeLogins) set(fn func(f *fakeLogins)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeLogins) calls() ([]startCall, []finishCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]startCall(nil), f.starts...), append([]finishCall(nil), f.finishes...)
}

// env is a UI with fakes, a clock and a captured log.
type env struct {
	ui         *UI
	auth       *fakeAuth
	principals *fakePrincipals
	logins     *fakeLogins
	clock      *fakeClock
	log        *syncBuffer
	public     string
	// seen collects every response, to be scanned for secrets.
	seenMu sync.Mutex
	seen   []*httptest.ResponseRecorder
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const sessionTTL = 2 * time.Hour

func newEnv(t *testing.T, public string) *env {
	t.Helper()
	principals := &fakePrincipals{m: map[string]catalog.Principal{
		"id-alice": {ID: "id-alice", Kind: catalog.KindUser, Name: "alice@example.com", Active: true},
		"id-bob":   {ID: "id-bob", Kind: catalog.KindUser, Name: "bob@example.com", Active: true},
	}}
	e := &env{
		principals: principals,
		auth:       &fakeAuth{principals: principals, tokens: map[string]string{aliceToken: "id-alice", bobToken: "id-bob"}},
		logins: &fakeLogins{
			startURL:  providerAt,
			finishRes: &LoginResult{Connection: "github"},
		},
		clock:  &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		log:    &syncBuffer{},
		public: public,
	}
	e.ui = New(Deps{
		Auth:       e.auth,
		Principals: principals,
		Logins:     e.logins,
		PublicURL:  public,
		Log:        slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.clock.Now,
		SessionTTL: sessionTTL,
	})
	return e
}

func (e *env) sessionCount() int {
	m := e.ui.sessions.(*memorySessions)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// browser keeps cookies like a browser would (without the Secure rule, so https
// deployments can be tested over httptest too).
type browser struct {
	t   *testing.T
	e   *env
	jar map[string]string
	// header is added to every request.
	header http.Header
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, e: e, jar: map[string]string{}, header: http.Header{}}
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for name, value := range b.jar {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	rec := httptest.NewRecorder()
	b.e.ui.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	b.e.seenMu.Lock()
	b.e.seen = append(b.e.seen, rec)
	b.e.seenMu.Unlock()
	return rec
}

func (b *browser) csrfName() string {
	if strings.HasPrefix(b.e.public, "https:") {
		return "__Host-gatehouse_csrf"
	}
	return "gatehouse_csrf"
}

// signIn loads the sign-in page and posts the form with the page's CSRF token.
func (b *browser) signIn(token, next string) *httptest.ResponseRecorder {
	b.t.Helper()
	if rec := b.do("GET", "/login", nil); rec.Code != http.StatusOK {
		b.t.Fatalf("GET /login = %d, want 200", rec.Code)
	}
	return b.do("POST", "/login", url.Values{"token": {token}, "csrf": {b.jar[b.csrfName()]}, "next": {next}})
}

func (b *browser) mustSignIn(token string) {
	b.t.Helper()
	if rec := b.signIn(token, ""); rec.Code != http.StatusSeeOther {
		b.t.Fatalf("sign in = %d, want 303; body:\n%s", rec.Code, rec.Body)
	}
	if b.jar[SessionCookie] == "" {
		b.t.Fatal("sign in set no session cookie")
	}
}

func findCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInSetsSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name, public, csrfCookie string
		secure                   bool
	}{
		{"http", "http://127.0.0.1:8080", "gatehouse_csrf", false},
		{"https", "https://gatehouse.example.com", "__Host-gatehouse_csrf", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.public)
			b := e.browser(t)
			rec := b.signIn(aliceToken, "/connections/github/login")
			// A next that starts a login is reached through the continue page.
			if got := continueTarget(t, rec); got != "/connections/github/login" {
				t.Errorf("continues to %q, want /connections/github/login", got)
			}
			c := findCookie(rec, SessionCookie)
			if c == nil {
				t.Fatal("no session cookie")
			}
			got := fmt.Sprintf("path=%s httponly=%v samesite=%v secure=%v maxage=%d expires=%s domain=%q",
				c.Path, c.HttpOnly, c.SameSite, c.Secure, c.MaxAge, c.Expires.UTC().Format(time.RFC3339), c.Domain)
			want := fmt.Sprintf("path=/ httponly=true samesite=%v secure=%v maxage=%d expires=%s domain=\"\"",
				http.SameSiteLaxMode, tc.secure, int(sessionTTL.Seconds()), e.clock.Now().Add(sessionTTL).Format(time.RFC3339))
			if got != want {
				t.Errorf("session cookie: %s\nwant %s", got, want)
			}
			if !validSecret(c.Value) {
				t.Errorf("session id %q is not 256 random bits in base64url", c.Value)
			}
			cc := findCookie(rec, tc.csrfCookie)
			if cc == nil {
				t.Fatalf("no CSRF cookie %s", tc.csrfCookie)
			}
			if !cc.HttpOnly || cc.Secure != tc.secure || cc.Path != "/" || cc.Domain != "" {
				t.Errorf("CSRF cookie %s: httponly=%v secure=%v path=%q domain=%q", cc.Name, cc.HttpOnly, cc.Secure, cc.Path, cc.Domain)
			}
			// The session is there, keyed by hash only.
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.Value})
			p, sid, ok := e.ui.SessionPrincipal(req)
			if !ok || p.Name != "alice@example.com" {
				t.Fatalf("SessionPrincipal = %v, %v, want alice", p, ok)
			}
			if sid == c.Value || strings.Contains(sid, c.Value) {
				t.Error("the session id given out is the cookie value; want its hash")
			}
			m := e.ui.sessions.(*memorySessions)
			m.mu.Lock()
			_, hashed := m.m[keyOf(c.Value)]
			m.mu.Unlock()
			if !hashed || sid != fmt.Sprintf("%x", keyOf(c.Value)) {
				t.Error("session not stored under the SHA-256 of its id")
			}
			// The signed-in page names the user.
			page := b.do("GET", "/login", nil)
			if !strings.Contains(page.Body.String(), "alice@example.com") {
				t.Errorf("GET /login when signed in does not name the user:\n%s", page.Body)
			}
		})
	}
}

func TestSignInBadToken(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	for _, tc := range []struct {
		name, token string
		status      int
		want        string
	}{
		{"wrong", wrongToken, http.StatusUnauthorized, "invalid access token"},
		{"empty", "", http.StatusBadRequest, "Paste a Gatehouse personal access token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := b.signIn(tc.token, "/connections/github/login")
			if rec.Code != tc.status {
				t.Fatalf("POST /login = %d, want %d", rec.Code, tc.status)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tc.want) {
				t.Errorf("page does not say %q:\n%s", tc.want, body)
			}
			if !strings.Contains(body, `name="token"`) || !strings.Contains(body, `value="/connections/github/login"`) {
				t.Errorf("the form with next is not shown again:\n%s", body)
			}
			if findCookie(rec, SessionCookie) != nil || e.sessionCount() != 0 {
				t.Error("a failed sign-in created a session")
			}
		})
	}
	if strings.Contains(e.log.String(), wrongToken) {
		t.Error("the log holds the rejected token")
	}
	e.assertNoSecrets(t, wrongToken)
}

func TestCSRF(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare returns the browser that posts and the form to post.
		prepare func(e *env, t *testing.T) (*browser, url.Values)
	}{
		{"missing cookie", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.do("GET", "/login", nil)
			tok := b.jar["gatehouse_csrf"]
			delete(b.jar, "gatehouse_csrf")
			return b, url.Values{"token": {aliceToken}, "csrf": {tok}}
		}},
		{"missing field", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.do("GET", "/login", nil)
			return b, url.Values{"token": {aliceToken}}
		}},
		{"empty field and cookie", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.jar["gatehouse_csrf"] = ""
			return b, url.Values{"token": {aliceToken}, "csrf": {""}}
		}},
		{"mismatch", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.do("GET", "/login", nil)
			return b, url.Values{"token": {aliceToken}, "csrf": {newSecret()}}
		}},
		{"cookie and field of another shape", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.jar["gatehouse_csrf"] = "x"
			return b, url.Values{"token": {aliceToken}, "csrf": {"x"}}
		}},
		{"cross-session", func(e *env, t *testing.T) (*browser, url.Values) {
			// Bob's browser holds a session; a matching cookie and field taken
			// from alice's browser must not work with it.
			alice := e.browser(t)
			alice.mustSignIn(aliceToken)
			bob := e.browser(t)
			bob.mustSignIn(bobToken)
			bob.jar["gatehouse_csrf"] = alice.jar["gatehouse_csrf"]
			return bob, url.Values{"token": {aliceToken}, "csrf": {alice.jar["gatehouse_csrf"]}}
		}},
		{"cross-site request", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.do("GET", "/login", nil)
			b.header.Set("Sec-Fetch-Site", "cross-site")
			return b, url.Values{"token": {aliceToken}, "csrf": {b.jar["gatehouse_csrf"]}}
		}},
		{"foreign origin", func(e *env, t *testing.T) (*browser, url.Values) {
			b := e.browser(t)
			b.do("GET", "/login", nil)
			b.header.Set("Origin", "https://evil.example")
			return b, url.Values{"token": {aliceToken}, "csrf": {b.jar["gatehouse_csrf"]}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			b, form := tc.prepare(e, t)
			sessions, authCalls := e.sessionCount(), e.auth.count()
			before := b.jar[SessionCookie]
			rec := b.do("POST", "/login", form)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("POST /login = %d, want 403; body:\n%s", rec.Code, rec.Body)
			}
			if findCookie(rec, SessionCookie) != nil || e.sessionCount() != sessions || b.jar[SessionCookie] != before {
				t.Error("a refused form changed the sessions")
			}
			if e.auth.count() != authCalls {
				t.Error("a refused form reached the authenticator")
			}
			if !strings.Contains(rec.Body.String(), "This form cannot be accepted") {
				t.Errorf("403 page does not explain:\n%s", rec.Body)
			}
		})
	}
}

func TestSignInWithSameOriginFetchMetadata(t *testing.T) {
	e := newEnv(t, "https://gatehouse.example.com")
	b := e.browser(t)
	b.header.Set("Sec-Fetch-Site", "same-origin")
	b.header.Set("Origin", "null") // what Referrer-Policy: no-referrer makes browsers send
	b.mustSignIn(aliceToken)
}

func TestLogout(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	alice := e.browser(t)
	alice.mustSignIn(aliceToken)
	bob := e.browser(t)
	bob.mustSignIn(bobToken)

	// Cross-session: alice's CSRF pair with bob's session does not sign bob out.
	bob.jar["gatehouse_csrf"] = alice.jar["gatehouse_csrf"]
	if rec := bob.do("POST", "/logout", url.Values{"csrf": {alice.jar["gatehouse_csrf"]}}); rec.Code != http.StatusForbidden {
		t.Fatalf("cross-session POST /logout = %d, want 403", rec.Code)
	}
	// Missing field.
	if rec := alice.do("POST", "/logout", url.Values{}); rec.Code != http.StatusForbidden {
		t.Fatalf("POST /logout without csrf = %d, want 403", rec.Code)
	}
	if e.sessionCount() != 2 {
		t.Fatalf("sessions = %d after refused sign-outs, want 2", e.sessionCount())
	}

	cookie := alice.jar[SessionCookie]
	rec := alice.do("POST", "/logout", url.Values{"csrf": {alice.jar["gatehouse_csrf"]}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("POST /logout = %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
	if c := findCookie(rec, SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Error("sign-out did not delete the session cookie")
	}
	if e.sessionCount() != 1 {
		t.Errorf("sessions = %d after sign-out, want 1", e.sessionCount())
	}
	// The old cookie is worthless now.
	alice.jar[SessionCookie] = cookie
	if rec := alice.do("GET", "/connections/github/login", nil); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?") {
		t.Errorf("GET with a signed-out session = %d to %q, want 303 to sign-in", rec.Code, rec.Header().Get("Location"))
	}
}

func TestSignInReplacesSession(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	first := b.jar[SessionCookie]
	b.mustSignIn(bobToken)
	if b.jar[SessionCookie] == first {
		t.Error("a second sign-in kept the session id")
	}
	if e.sessionCount() != 1 {
		t.Errorf("sessions = %d, want 1 (the first one ends)", e.sessionCount())
	}
}

// TestOpenRedirect: a token sign-in goes on to its next path only when that is a path
// of this Gatehouse; an unsafe one, like none at all, lands on the console's home page.
func TestOpenRedirect(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"//evil.com", "/"},
		{"https://evil.com", "/"},
		{"/\\evil.com", "/"},
		{"javascript:alert(document.cookie)", "/"},
		{"/\t/evil.com", "/"},
		{"evil.com", "/"},
		{"", "/"},
		{"/connections/github/login", "/connections/github/login"},
		{"/connections/github", "/connections/github"}, // the console's page: a plain redirect
	} {
		t.Run(tc.next, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			b := e.browser(t)
			page := b.do("GET", "/login?next="+url.QueryEscape(tc.next), nil)
			if tc.want == "/" && tc.next != "" && strings.Contains(page.Body.String(), "evil") {
				t.Errorf("the sign-in page carries the unsafe next %q:\n%s", tc.next, page.Body)
			}
			rec := b.do("POST", "/login", url.Values{"token": {aliceToken}, "csrf": {b.jar["gatehouse_csrf"]}, "next": {tc.next}})
			if startsLogin(tc.want) {
				// A login start is reached through the continue page.
				if got := continueTarget(t, rec); got != tc.want {
					t.Errorf("next %q: continues to %q, want %q", tc.next, got, tc.want)
				}
				return
			}
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("POST /login = %d, want 303", rec.Code)
			}
			if got := rec.Header().Get("Location"); got != tc.want {
				t.Errorf("next %q: Location = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

func TestConnectionLoginWithoutSession(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	rec := b.do("GET", "/connections/github/login", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("GET /connections/github/login = %d, want 303", rec.Code)
	}
	if got, want := rec.Header().Get("Location"), "/login?next=%2Fconnections%2Fgithub%2Flogin"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	// A session cookie that names no session is no session either.
	b.jar[SessionCookie] = newSecret()
	if rec := b.do("GET", "/connections/github/login", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("with an unknown session id = %d, want 303", rec.Code)
	}
	if starts, _ := e.logins.calls(); len(starts) != 0 {
		t.Errorf("StartLogin called without a session: %v", starts)
	}

	// Following the redirect: the sign-in form carries next, and signing in comes back.
	page := b.do("GET", rec.Header().Get("Location"), nil)
	if !strings.Contains(page.Body.String(), `name="next" value="/connections/github/login"`) {
		t.Errorf("sign-in form does not carry next:\n%s", page.Body)
	}
	rec = b.do("POST", "/login", url.Values{"token": {aliceToken}, "csrf": {b.jar["gatehouse_csrf"]}, "next": {"/connections/github/login"}})
	if got := continueTarget(t, rec); got != "/connections/github/login" {
		t.Errorf("after sign-in continues to %q, want /connections/github/login", got)
	}
}

func TestConnectionLoginRedirectsToProvider(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	rec := b.do("GET", "/connections/github/login", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("GET /connections/github/login = %d, want 302; body:\n%s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Location"); got != providerAt {
		t.Errorf("Location = %q, want %q", got, providerAt)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.jar[SessionCookie]})
	_, sid, _ := e.ui.SessionPrincipal(req)
	starts, _ := e.logins.calls()
	if diff := cmp.Diff([]startCall{{"alice@example.com", sid, "github"}}, starts); diff != "" {
		t.Errorf("StartLogin calls (-want +got):\n%s", diff)
	}
}

func TestStartLoginErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"no such connection", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection 'github' does not exist."), 404, "Connection &#39;github&#39; does not exist."},
		{"not allowed", catalog.Errorf(catalog.PermissionDenied, "User alice@example.com does not have USE_CONNECTION on connection github"), 403, "does not have USE_CONNECTION on connection github"},
		{"not U2M", fmt.Errorf("start: %w", catalog.Errorf(catalog.InvalidParameterValue, "connection github is BEARER_TOKEN, not an OAuth U2M connection")), 400, "not an OAuth U2M connection"},
		{"internal", errors.New("db is on fire: password=hunter2"), 500, "req-1234"},
		{"unusable URL", nil, 500, "req-1234"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			e.logins.set(func(f *fakeLogins) {
				f.startErr = tc.err
				if tc.err == nil {
					f.startURL = "javascript:alert(1)"
				}
			})
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			// As behind the API server, which sets the request id first.
			req := httptest.NewRequest("GET", "/connections/github/login", nil)
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.jar[SessionCookie]})
			rec := httptest.NewRecorder()
			rec.Header().Set(RequestIDHeader, "req-1234")
			e.ui.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tc.want) {
				t.Errorf("page does not contain %q:\n%s", tc.want, body)
			}
			if !strings.Contains(body, "<title>") || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
				t.Errorf("not an HTML page: %s", rec.Header().Get("Content-Type"))
			}
			if rec.Header().Get("Location") != "" {
				t.Errorf("error page redirects to %q", rec.Header().Get("Location"))
			}
			if strings.Contains(body, "hunter2") || strings.Contains(body, "on fire") {
				t.Error("internal error text reached the page")
			}
			if tc.status == 500 && !strings.Contains(e.log.String(), "request_id=req-1234") {
				t.Errorf("log does not carry the request id:\n%s", e.log)
			}
		})
	}
}

func TestCallbackWithoutSession(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("callback without session = %d, want 400", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "same browser") {
		t.Errorf("page does not say the login must be started from the same browser:\n%s", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), "http://127.0.0.1:8080/login/oauth/http.html") {
		t.Errorf("page does not show the redirect URI:\n%s", rec.Body)
	}
	if _, finishes := e.logins.calls(); len(finishes) != 0 {
		t.Errorf("FinishLogin called without a session: %v", finishes)
	}
	e.assertNoSecrets(t, authCode, authState)
}

func TestCallbackFinishesWithTheSession(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	b.do("GET", "/connections/github/login", nil)
	rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode+"&iss=https%3A%2F%2Fidp.example.com", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("callback = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	starts, finishes := e.logins.calls()
	want := []finishCall{{"alice@example.com", starts[0].SessionID, url.Values{"state": {authState}, "code": {authCode}, "iss": {"https://idp.example.com"}}}}
	if diff := cmp.Diff(want, finishes); diff != "" {
		t.Errorf("FinishLogin calls (-want +got):\n%s", diff)
	}
	if !strings.Contains(rec.Body.String(), "Connected github as alice@example.com") {
		t.Errorf("success page:\n%s", rec.Body)
	}
	e.assertNoSecrets(t, authCode, aliceToken) // state is in the provider URL by design
}

func TestCallbackResults(t *testing.T) {
	const warning = "the provider returned no refresh token (offline_access was not granted): the credential is EXPIRING and stops working at 15:04 UTC, in 59 minutes; add offline_access to oauth_scope and log in again"
	for _, tc := range []struct {
		name    string
		res     LoginResult
		want    []string
		notWant []string
	}{
		{"per-user", LoginResult{Connection: "github"}, []string{"<h1>Connected github as alice@example.com</h1>"}, []string{"Warning", "shared"}},
		{"shared", LoginResult{Connection: "jira", Shared: true}, []string{"<h1>Authorized the shared credential of jira</h1>", "every grantee"}, []string{"Warning"}},
		{"per-user with warning", LoginResult{Connection: "github", Warning: warning},
			[]string{"Connected github as alice@example.com", `<div class="warning" role="alert"><strong>Warning:</strong> the provider returned no refresh token (offline_access was not granted)`, "add offline_access to oauth_scope"}, nil},
		{"shared with warning", LoginResult{Connection: "jira", Shared: true, Warning: "expiring soon"},
			[]string{"Authorized the shared credential of jira", `role="alert"><strong>Warning:</strong> expiring soon`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			e.logins.set(func(f *fakeLogins) { res := tc.res; f.finishRes = &res })
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("callback = %d, want 200", rec.Code)
			}
			body := rec.Body.String()
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q:\n%s", w, body)
				}
			}
		})
	}
}

func TestProviderErrorPages(t *testing.T) {
	const registered = "https://gatehouse.example.com/login/oauth/http.html"
	for _, tc := range []struct {
		code, description, redirectURI string
		status                         int
		want                           []string
	}{
		{"redirect_uri_mismatch", "The redirect_uri is not valid.", registered, 400,
			[]string{"register exactly this redirect URI", "<pre><code>" + registered + "</code></pre>", "The redirect_uri is not valid."}},
		{"admin_policy_enforced", "", registered, 403,
			[]string{"identity provider's admin must allow this client ID"}},
		{"access_denied", "The user denied the request", registered, 403,
			[]string{"you declined the request", "your account is not allowed"}},
		{"invalid_scope", "", registered, 400,
			[]string{"<code>oauth_scope</code>"}},
		{"temporarily_unavailable", "try later", registered, 502,
			[]string{"<code>temporarily_unavailable</code>", "try later"}},
		{"weird_error", "something odd", "", 400,
			[]string{"<code>weird_error</code>", "something odd", "no specific advice"}},
	} {
		t.Run(tc.code, func(t *testing.T) {
			e := newEnv(t, "https://gatehouse.example.com/")
			e.logins.set(func(f *fakeLogins) {
				f.finishErr = fmt.Errorf("finish: %w", &ProviderError{Code: tc.code, Description: tc.description, RedirectURI: tc.redirectURI, Connection: "github"})
			})
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			rec := b.do("GET", CallbackPath+"?state="+authState+"&error="+tc.code, nil)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			body := rec.Body.String()
			for _, w := range append(tc.want, "<code>"+registered+"</code>", "github", `href="/connections/github/login"`) {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if !strings.Contains(e.log.String(), "provider_error="+tc.code) {
				t.Errorf("log lacks the provider error:\n%s", e.log)
			}
		})
	}
}

func TestCallbackErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"bad state", catalog.Errorf(catalog.InvalidParameterValue, "the login state is unknown, used or expired; start the login again"), 400, "the login state is unknown, used or expired"},
		{"internal", errors.New("token endpoint said: code " + authCode + " invalid"), 500, "Request id <code>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			e.logins.set(func(f *fakeLogins) { f.finishErr = tc.err })
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			body := rec.Body.String()
			for _, w := range []string{tc.want, "http://127.0.0.1:8080/login/oauth/http.html"} {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if id := rec.Header().Get(RequestIDHeader); tc.status == 500 && (id == "" || !strings.Contains(body, id)) {
				t.Errorf("500 page does not show request id %q", id)
			}
			if strings.Contains(body, authCode) {
				t.Error("the code reached the page")
			}
		})
	}
}

func TestInactivePrincipalSessionRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		end    func(p *fakePrincipals)
		notice string
	}{
		{"deactivated", func(p *fakePrincipals) { p.setActive("id-alice", false) }, "principal alice@example.com is deactivated"},
		{"deleted", func(p *fakePrincipals) { p.remove("id-alice") }, "no longer exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "http://127.0.0.1:8080")
			b := e.browser(t)
			b.mustSignIn(aliceToken)
			if rec := b.do("GET", "/connections/github/login", nil); rec.Code != http.StatusFound {
				t.Fatalf("before: GET /connections/github/login = %d, want 302", rec.Code)
			}
			cookie := b.jar[SessionCookie]
			tc.end(e.principals)

			rec := b.do("GET", "/connections/github/login", nil)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("after: GET /connections/github/login = %d, want 401", rec.Code)
			}
			if !strings.Contains(rec.Body.String(), tc.notice) || !strings.Contains(rec.Body.String(), `name="token"`) {
				t.Errorf("not the sign-in page with %q:\n%s", tc.notice, rec.Body)
			}
			if c := findCookie(rec, SessionCookie); c == nil || c.MaxAge >= 0 {
				t.Error("session cookie not deleted")
			}
			if e.sessionCount() != 0 {
				t.Error("session not deleted")
			}
			// The callback with the old cookie does not reach the broker.
			b.jar[SessionCookie] = cookie
			if rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil); rec.Code != http.StatusBadRequest {
				t.Errorf("callback after deactivation = %d, want 400", rec.Code)
			}
			starts, finishes := e.logins.calls()
			if len(starts) != 1 || len(finishes) != 0 {
				t.Errorf("broker calls after deactivation: starts %v, finishes %v", starts, finishes)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
			if _, _, ok := e.ui.SessionPrincipal(req); ok {
				t.Error("SessionPrincipal accepts the ended session")
			}
		})
	}
}

// TestSessionEndsWithItsToken: a browser session signed in with a token ends when that
// token is deleted (the next request shows the sign-in page and the session is gone),
// and never outlives the token's expiry; another session of another token stays.
func TestSessionEndsWithItsToken(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	alice, bob := e.browser(t), e.browser(t)
	alice.mustSignIn(aliceToken)
	bob.mustSignIn(bobToken)
	e.auth.deleteToken("tok-id-alice")
	rec := alice.do("GET", "/connections/github/login", nil)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "was deleted") || !strings.Contains(rec.Body.String(), `name="token"`) {
		t.Fatalf("after the token's deletion: GET /connections/github/login = %d, want 401 and the sign-in page saying why:\n%s", rec.Code, rec.Body)
	}
	if c := findCookie(rec, SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Error("session cookie not deleted")
	}
	if n := e.sessionCount(); n != 1 {
		t.Errorf("sessions = %d, want only bob's", n)
	}
	if rec := bob.do("GET", "/connections/github/login", nil); rec.Code != http.StatusFound {
		t.Errorf("bob's session after alice's token was deleted = %d, want 302", rec.Code)
	}

	t.Run("token expiry ends the session", func(t *testing.T) {
		e := newEnv(t, "http://127.0.0.1:8080")
		e.auth.expiresAt = map[string]time.Time{"id-alice": e.clock.Now().Add(time.Minute)}
		b := e.browser(t)
		b.mustSignIn(aliceToken)
		e.clock.Advance(time.Minute)
		if rec := b.do("GET", "/connections/github/login", nil); rec.Code != http.StatusSeeOther {
			t.Fatalf("at the token's expiry = %d, want 303 to sign-in", rec.Code)
		}
		if e.sessionCount() != 0 {
			t.Error("session kept past its token's expiry")
		}
	})
}

func TestInactivePrincipalAtCallback(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	b.do("GET", "/connections/github/login", nil)
	e.principals.setActive("id-alice", false)
	rec := b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "is deactivated") {
		t.Errorf("callback for a deactivated principal = %d:\n%s", rec.Code, rec.Body)
	}
	if _, finishes := e.logins.calls(); len(finishes) != 0 {
		t.Errorf("FinishLogin called for a deactivated principal: %v", finishes)
	}
}

func TestSessionExpires(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	e.clock.Advance(sessionTTL - time.Second)
	if rec := b.do("GET", "/connections/github/login", nil); rec.Code != http.StatusFound {
		t.Fatalf("just before expiry = %d, want 302", rec.Code)
	}
	e.clock.Advance(time.Second)
	if rec := b.do("GET", "/connections/github/login", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("at expiry = %d, want 303 to sign-in", rec.Code)
	}
	if e.sessionCount() != 0 {
		t.Error("expired session kept")
	}
}

func TestSessionsPerPrincipalBounded(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	for i := 0; i < maxSessionsPerPrincipal+5; i++ {
		e.browser(t).mustSignIn(aliceToken)
		e.clock.Advance(time.Second)
	}
	if n := e.sessionCount(); n != maxSessionsPerPrincipal {
		t.Errorf("sessions = %d, want %d", n, maxSessionsPerPrincipal)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	anon := e.browser(t)
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	responses := map[string]*httptest.ResponseRecorder{
		"GET /login":              anon.do("GET", "/login", nil),
		"POST /login bad csrf":    anon.do("POST", "/login", url.Values{"token": {aliceToken}}),
		"GET login no session":    anon.do("GET", "/connections/github/login", nil),
		"GET callback no session": anon.do("GET", CallbackPath+"?code="+authCode, nil),
		"GET login":               b.do("GET", "/connections/github/login", nil),
		"GET callback":            b.do("GET", CallbackPath+"?code="+authCode, nil),
		"GET signed in":           b.do("GET", "/login", nil),
		"POST /logout":            b.do("POST", "/logout", url.Values{"csrf": {b.jar["gatehouse_csrf"]}}),
	}
	want := map[string]string{
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	for name, rec := range responses {
		for h, v := range want {
			if got := rec.Header().Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", name, h, got, v)
			}
		}
		if rec.Code == http.StatusOK || rec.Code >= 400 {
			body := rec.Body.String()
			if !strings.Contains(body, "<title>") || strings.Contains(body, "<script") || strings.Contains(body, "src=") || strings.Contains(body, "<link") {
				t.Errorf("%s: page without a title, with a script or an external asset:\n%s", name, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type = %q", name, ct)
			}
		}
	}
}

func TestHTMLEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	e := newEnv(t, "http://127.0.0.1:8080")
	b := e.browser(t)
	b.mustSignIn(aliceToken)
	pages := map[string]func() *httptest.ResponseRecorder{
		"start error": func() *httptest.ResponseRecorder {
			e.logins.set(func(f *fakeLogins) {
				f.startErr = catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", evil)
			})
			return b.do("GET", "/connections/"+url.PathEscape(evil)+"/login", nil)
		},
		"result": func() *httptest.ResponseRecorder {
			e.logins.set(func(f *fakeLogins) {
				f.finishErr = nil
				f.finishRes = &LoginResult{Connection: evil, Warning: evil}
			})
			return b.do("GET", CallbackPath+"?code=x", nil)
		},
		"provider error": func() *httptest.ResponseRecorder {
			e.logins.set(func(f *fakeLogins) {
				f.finishErr = &ProviderError{Code: evil, Description: evil, Connection: evil, RedirectURI: "http://127.0.0.1:8080/login/oauth/http.html"}
			})
			return b.do("GET", CallbackPath+"?error=x", nil)
		},
	}
	for name, get := range pages {
		rec := get()
		body := rec.Body.String()
		if strings.Contains(body, "<script") {
			t.Errorf("%s: unescaped name in page:\n%s", name, body)
		}
		if !strings.Contains(body, escaped) {
			t.Errorf("%s: page lacks the escaped name %q:\n%s", name, escaped, body)
		}
	}
	starts, _ := e.logins.calls()
	if got := starts[len(starts)-1].Connection; got != evil {
		t.Errorf("StartLogin got connection %q, want %q", got, evil)
	}
}

func TestNoSecretsAnywhere(t *testing.T) {
	e := newEnv(t, "https://gatehouse.example.com")
	b := e.browser(t)
	b.signIn(wrongToken, "/connections/github/login")
	b.mustSignIn(aliceToken)
	b.do("GET", "/connections/github/login", nil)
	b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
	e.logins.set(func(f *fakeLogins) {
		f.finishErr = &ProviderError{Code: "access_denied", Connection: "github"}
	})
	b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode+"&error=access_denied", nil)
	e.logins.set(func(f *fakeLogins) { f.finishErr = errors.New("boom") })
	b.do("GET", CallbackPath+"?state="+authState+"&code="+authCode, nil)
	session := b.jar[SessionCookie]
	b.do("POST", "/logout", url.Values{"csrf": {b.jar["__Host-gatehouse_csrf"]}})
	e.assertNoSecrets(t, aliceToken, wrongToken, authCode, session)
	if strings.Contains(e.log.String(), authState) {
		t.Error("the log holds the OAuth state")
	}
	if !strings.Contains(e.log.String(), "signed in") || !strings.Contains(e.log.String(), "oauth login completed") {
		t.Errorf("log lacks the expected lines:\n%s", e.log)
	}
}

// assertNoSecrets scans every response body and header except Set-Cookie, and the log.
func (e *env) assertNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	e.seenMu.Lock()
	defer e.seenMu.Unlock()
	for i, rec := range e.seen {
		var all strings.Builder
		all.WriteString(rec.Body.String())
		for k, vs := range rec.Header() {
			if k == "Set-Cookie" {
				continue
			}
			all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(all.String(), s) {
				t.Errorf("response %d contains the secret %q:\n%s", i, s, all.String())
			}
		}
	}
	log := e.log.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("log contains the secret %q:\n%s", s, log)
		}
	}
}

func TestRoutesMount(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	want := []string{"GET /login", "POST /login", "POST /logout", "GET /connections/{name}/login", "POST /connections/{name}/login", "GET /login/oauth/http.html"}
	if diff := cmp.Diff(want, e.ui.Routes()); diff != "" {
		t.Errorf("Routes (-want +got):\n%s", diff)
	}
	mux := http.NewServeMux()
	for _, p := range e.ui.Routes() {
		mux.Handle(p, e.ui)
	}
	mux.HandleFunc("GET /api/2.1/unity-catalog/connections/{name}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/connections/github/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("mounted GET /connections/github/login = %d, want 303", resp.StatusCode)
	}
	if got := e.ui.RedirectURI(); got != "http://127.0.0.1:8080/login/oauth/http.html" {
		t.Errorf("RedirectURI = %q", got)
	}
}

// TestStartsLogin: the continue page is for a login start as the router matches it, and
// for nothing else a sign-in may go on to.
func TestStartsLogin(t *testing.T) {
	for next, want := range map[string]bool{
		"/connections/github/login":        true,
		"/connections/github/login?x=1":    true,
		"/connections/./github/login":      true,
		"/connections/github":              false,
		"/connections":                     false,
		"/connections/a%2Flogin":           false,
		"/connections/github/login/more":   false,
		"/":                                false,
		"/oidc/v1/authorize?client_id=abc": false,
		"%zz":                              true,
	} {
		if got := startsLogin(next); got != want {
			t.Errorf("startsLogin(%q) = %v, want %v", next, got, want)
		}
	}
}
