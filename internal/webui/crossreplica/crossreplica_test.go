package crossreplica

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/webui"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const publicURL = "https://gatehouse.test"

// allowAll lets every principal start every login.
type allowAll struct{}

func (allowAll) CanUse(context.Context, *catalog.Principal, *catalog.Connection) (bool, error) {
	return true, nil
}
func (allowAll) CanManage(context.Context, *catalog.Principal, *catalog.Connection) (bool, error) {
	return true, nil
}

// logins drives a broker from the web UI, as cmd/gatehouse's loginService does.
type logins struct{ b *credential.Broker }

func (l logins) StartLogin(ctx context.Context, p *catalog.Principal, sessionID, connection string) (string, error) {
	return l.b.StartLogin(ctx, allowAll{}, p, sessionID, connection)
}

func (l logins) FinishLogin(ctx context.Context, p *catalog.Principal, sessionID string, q url.Values) (*webui.LoginResult, error) {
	res, err := l.b.FinishLogin(ctx, p, sessionID, q)
	var pe *credential.ProviderError
	if errors.As(err, &pe) {
		return nil, &webui.ProviderError{Code: pe.Code, Description: pe.Description, RedirectURI: pe.RedirectURI, Connection: pe.Connection}
	}
	if err != nil {
		return nil, err
	}
	return &webui.LoginResult{Connection: res.Connection, Shared: res.Shared}, nil
}

// replica is one Gatehouse replica's broker and browser pages on the shared store.
type replica struct {
	name string
	mux  *http.ServeMux
}

func newReplica(name string, st catalog.Store, cs credential.Store, kr *seal.Keyring, as *oauthtest.Server) *replica {
	oc := oauth.NewClient(oauth.ClientOptions{RootCAs: as.RootCAs()})
	b := credential.New(kr, cs, oc, credential.Options{PublicURL: publicURL,
		PendingLogins: credential.NewStorePendingLogins(st, kr, credential.PendingOptions{})})
	ui := webui.New(webui.Deps{Auth: identity.NewAuthenticator(st, time.Now, nil), Principals: st, Logins: logins{b},
		PublicURL: publicURL, Sessions: st})
	mux := http.NewServeMux()
	for _, p := range ui.Routes() {
		mux.Handle(p, ui)
	}
	return &replica{name: name, mux: mux}
}

// browser is one browser's cookie jar; each request goes to the replica it names.
type browser struct {
	t   *testing.T
	jar map[string]string
}

func (b *browser) do(r *replica, method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, publicURL+target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", publicURL)
	for name, value := range b.jar {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return rec
}

// signedInAs reports who the replica's sign-in page says is signed in ("" for nobody).
func (b *browser) signedIn(r *replica, user string) bool {
	b.t.Helper()
	rec := b.do(r, "GET", "/login", nil)
	if rec.Code != http.StatusOK {
		b.t.Fatalf("GET /login at %s = %d", r.name, rec.Code)
	}
	return strings.Contains(rec.Body.String(), user)
}

// TestLoginAcrossReplicas: a browser signs in on replica A and is signed in on B; an
// OAuth login started at A comes back to B and stores the token; the state replayed at
// A or B is refused; signing out at B ends the session at A's next request.
func TestLoginAcrossReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (a, b catalog.Store)
	}{
		{"SQLite", func(t *testing.T) (catalog.Store, catalog.Store) {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st, st
		}},
		{"PostgreSQL", func(t *testing.T) (catalog.Store, catalog.Store) {
			dsn := pgtest.Shared(t).NewDatabase(t)
			var sts [2]catalog.Store
			for i := range sts {
				db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				sts[i] = db
			}
			return sts[0], sts[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testLoginAcrossReplicas(t, tc.open) })
	}
}

func testLoginAcrossReplicas(t *testing.T, open func(t *testing.T) (a, b catalog.Store)) {
	ctx := t.Context()
	stA, stB := open(t)
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	as := oauthtest.New(t, oauthtest.Options{Clients: []oauthtest.Client{{ID: "gatehouse", Secret: "client-secret",
		RedirectURIs: []string{publicURL + webui.CallbackPath}}}})

	now := time.Now()
	alice := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := stA.CreatePrincipal(ctx, alice); err != nil {
		t.Fatal(err)
	}
	token := identity.NewTokenValue()
	if err := stA.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: alice.ID, Hash: identity.HashToken(token), CreatedBy: alice.ID, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	conn := &catalog.Connection{ID: catalog.NewID(), Name: "github", ConnectionType: "HTTP", CredentialType: catalog.OAuthU2MPerUser,
		OwnerID: alice.ID, Enabled: true, CreatedAt: now, CreatedBy: alice.ID, UpdatedAt: now, UpdatedBy: alice.ID,
		Options: map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptClientID: "gatehouse",
			catalog.OptAuthorizationEndpoint: as.AuthorizeURL, catalog.OptTokenEndpoint: as.TokenURL}}
	secret, err := kr.Seal([]byte("client-secret"), seal.AAD{SecurableID: conn.ID, Field: catalog.OptClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	conn.Secrets = map[string][]byte{catalog.OptClientSecret: secret}
	if err := stA.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}

	csA, okA := stA.(credential.Store)
	csB, okB := stB.(credential.Store)
	if !okA || !okB {
		t.Fatal("the store does not implement credential.Store (SetConnectionOption), which the broker needs")
	}
	a, b := newReplica("A", stA, csA, kr, as), newReplica("B", stB, csB, kr, as)
	br := &browser{t: t, jar: map[string]string{}}

	// Sign in at A; B knows the session.
	br.do(a, "GET", "/login", nil)
	if rec := br.do(a, "POST", "/login", url.Values{"token": {token}, "csrf": {br.jar["__Host-gatehouse_csrf"]}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in at A = %d:\n%s", rec.Code, rec.Body)
	}
	if !br.signedIn(b, alice.Name) {
		t.Fatal("a session created on A is not signed in on B")
	}

	// Start the login at A; the provider sends the browser back to B.
	rec := br.do(a, "GET", "/connections/github/login", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("start login at A = %d, want 302:\n%s", rec.Code, rec.Body)
	}
	back, err := as.Authorize(rec.Header().Get("Location"), "alice")
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if back.Query().Get("code") == "" {
		t.Fatalf("the provider sent back no code: %s", back)
	}
	callback := back.Path + "?" + back.RawQuery
	if rec := br.do(b, "GET", callback, nil); rec.Code != http.StatusOK {
		t.Fatalf("callback at B = %d, want 200:\n%s", rec.Code, rec.Body)
	}
	cred, err := stA.GetCredential(ctx, conn.ID, alice.ID)
	if err != nil || len(cred.AccessToken) == 0 {
		t.Fatalf("no access token stored after the login finished on B: %v", err)
	}
	if n := as.TokenRequests("authorization_code"); n != 1 {
		t.Fatalf("%d code redemptions, want 1", n)
	}

	// The state works once, on every replica.
	for _, r := range []*replica{a, b} {
		if rec := br.do(r, "GET", callback, nil); rec.Code == http.StatusOK {
			t.Errorf("the used state replayed at %s was accepted", r.name)
		}
	}
	if n := as.TokenRequests("authorization_code"); n != 1 {
		t.Errorf("a replayed state reached the token endpoint: %d code redemptions, want 1", n)
	}

	// Sign out at B: A refuses the session on its next request.
	session := br.jar[webui.SessionCookie]
	if rec := br.do(b, "POST", "/logout", url.Values{"csrf": {br.jar["__Host-gatehouse_csrf"]}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out at B = %d:\n%s", rec.Code, rec.Body)
	}
	br.jar[webui.SessionCookie] = session // a copy of the cookie kept from before
	if br.signedIn(a, alice.Name) {
		t.Error("a session signed out on B is still signed in on A")
	}
	if rec := br.do(a, "GET", "/connections/github/login", nil); rec.Code == http.StatusFound {
		t.Error("A started a login for a session signed out on B")
	}
}
