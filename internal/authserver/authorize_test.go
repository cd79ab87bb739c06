package authserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// memStore is the authorization server's store: a real SQLite store (tokens, codes and
// refresh families, with their take-once and compare-and-swap semantics), with the
// connections and the users the tests change in memory.
type memStore struct {
	*sqlite.DB
	t     testing.TB
	mu    sync.Mutex
	conns map[string]*catalog.Connection
	users map[string]*catalog.Principal
}

func newMemStore(t testing.TB) *memStore {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m := &memStore{
		DB: db,
		t:  t,
		conns: map[string]*catalog.Connection{
			"docs":  {ID: "c1", Name: "docs", Options: map[string]string{catalog.OptIsMCP: "true"}},
			"plain": {ID: "c2", Name: "plain", Options: map[string]string{catalog.OptIsMCP: "false"}},
		},
		users: map[string]*catalog.Principal{"u1": {ID: "u1", Name: "alice", Kind: catalog.KindUser, Active: true}},
	}
	for _, u := range m.users {
		c := *u
		c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
		if err := db.CreatePrincipal(t.Context(), &c); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (m *memStore) GetConnection(_ context.Context, name string) (*catalog.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[name]; ok {
		return c, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no connection")
}

func (m *memStore) GetPrincipal(_ context.Context, id string) (*catalog.Principal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.users[id]; ok {
		c := *p
		return &c, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no principal")
}

// setActive (de)activates a user as the authorization server sees it.
func (m *memStore) setActive(id string, active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[id].Active = active
}

func (m *memStore) tokenIDs() map[string]*catalog.Token {
	m.t.Helper()
	ts, err := m.ListTokens(context.Background(), "")
	if err != nil {
		m.t.Fatalf("list tokens: %v", err)
	}
	out := map[string]*catalog.Token{}
	for _, t := range ts {
		out[t.ID] = t
	}
	return out
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }
func challengeOf(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

const (
	public   = "https://gatehouse.example"
	resource = public + "/api/2.0/mcp/external/docs"
	verifier = "a-verifier-of-forty-three-or-more-characters-0123456789"
	redirect = "http://127.0.0.1:8123/callback"
)

// fixture is an authorizer over a memStore with client metadata documents on loopback
// HTTPS: /client.json is a good one; the others are broken on purpose.
type fixture struct {
	// docFetches counts the fetches of /client.json.
	docFetches *atomic.Int64
	st         *memStore
	clk        *clock
	az         *authserver.Authorizer
	clientID   string
	base       string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	var base string
	fetches := &atomic.Int64{}
	mux := http.NewServeMux()
	doc := func(id string, redirects ...string) []byte {
		b, _ := json.Marshal(map[string]any{"client_id": id, "client_name": "Test Client", "redirect_uris": redirects})
		return b
	}
	mux.HandleFunc("/client.json", func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(doc(base+"/client.json", "http://127.0.0.1/callback", "https://app.example/cb"))
	})
	mux.HandleFunc("/mismatch.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(doc(base+"/other.json", "https://app.example/cb"))
	})
	mux.HandleFunc("/large.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"client_id":"` + strings.Repeat("a", authserver.MaxClientDocBytes) + `"}`))
	})
	mux.HandleFunc("/httpredirect.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(doc(base+"/httpredirect.json", "http://app.example/cb"))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	base = srv.URL
	f := &fixture{docFetches: fetches, st: newMemStore(t), clk: newClock(), clientID: base + "/client.json", base: base}
	f.az = authserver.NewAuthorizer(f.st, authserver.AuthorizerOptions{PublicURL: public, HTTPClient: srv.Client(), Now: f.clk.Now})
	return f
}

func (f *fixture) query(mod func(url.Values)) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {redirect}, "state": {"st-1"},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"}, "resource": {resource}}
	if mod != nil {
		mod(q)
	}
	return q
}

func TestAuthorizeCheck(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		mod      func(url.Values)
		code     string
		redirect bool // the error goes back to the client, not on a page
	}{
		{"ok", nil, "", false},
		{"https redirect registered", func(q url.Values) { q.Set("redirect_uri", "https://app.example/cb") }, "", false},
		{"no client_id", func(q url.Values) { q.Del("client_id") }, "invalid_request", false},
		{"client_id not https", func(q url.Values) { q.Set("client_id", strings.Replace(f.clientID, "https:", "http:", 1)) }, "invalid_client", false},
		{"client_id with fragment", func(q url.Values) { q.Set("client_id", f.clientID+"#x") }, "invalid_client", false},
		{"document not found", func(q url.Values) { q.Set("client_id", f.base+"/missing.json") }, "invalid_client", false},
		{"document names another client", func(q url.Values) { q.Set("client_id", f.base+"/mismatch.json") }, "invalid_client", false},
		{"document too large", func(q url.Values) { q.Set("client_id", f.base+"/large.json") }, "invalid_client", false},
		{"document registers plain http", func(q url.Values) { q.Set("client_id", f.base+"/httpredirect.json") }, "invalid_client", false},
		{"redirect not registered", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, "invalid_request", false},
		{"redirect other path", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:8123/other") }, "invalid_request", false},
		{"redirect localhost for 127.0.0.1", func(q url.Values) { q.Set("redirect_uri", "http://localhost:8123/callback") }, "invalid_request", false},
		{"parameter twice", func(q url.Values) { q.Add("state", "again") }, "invalid_request", false},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", true},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", true},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request", true},
		{"challenge too short", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request", true},
		{"no resource", func(q url.Values) { q.Del("resource") }, "invalid_target", true},
		{"unknown connection", func(q url.Values) { q.Set("resource", public+"/api/2.0/mcp/external/nope") }, "invalid_target", true},
		{"not an MCP connection", func(q url.Values) { q.Set("resource", public+"/api/2.0/mcp/external/plain") }, "invalid_target", true},
		{"resource of another server", func(q url.Values) { q.Set("resource", "https://evil.example/api/2.0/mcp/external/docs") }, "invalid_target", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := f.az.Check(context.Background(), f.query(tc.mod))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if req.Connection != "docs" || req.ClientName != "Test Client" {
					t.Errorf("request %+v", req)
				}
				return
			}
			var ae *authserver.AuthorizeError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			loc := ae.Location()
			if (loc != "") != tc.redirect {
				t.Fatalf("Location %q, redirect wanted %v", loc, tc.redirect)
			}
			if tc.redirect {
				u, _ := url.Parse(loc)
				if u.Query().Get("error") != tc.code || u.Query().Get("state") != "st-1" || !strings.HasPrefix(loc, redirect+"?") {
					t.Errorf("Location %q", loc)
				}
			}
		})
	}
}

// token posts a form to the token endpoint serving the authorizer's grants.
func (f *fixture) token(t testing.TB, form url.Values) (int, map[string]any) {
	t.Helper()
	srv := authserver.New(authserver.Options{Now: f.clk.Now}, f.az.Grants()...)
	r := httptest.NewRequest(http.MethodPost, authserver.TokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func (f *fixture) code(t testing.TB) string {
	t.Helper()
	req, err := f.az.Check(context.Background(), f.query(nil))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := f.az.Approve(context.Background(), f.st.users["u1"], req)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if u.Query().Get("state") != "st-1" || u.Query().Get("iss") != public || !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("approve redirect %q", loc)
	}
	return u.Query().Get("code")
}

func (f *fixture) codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {f.clientID}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

func TestCodeGrantRefusals(t *testing.T) {
	cases := []struct {
		name string
		mod  func(f *fixture, form url.Values)
		err  string
	}{
		{"PKCE mismatch", func(f *fixture, v url.Values) { v.Set("code_verifier", strings.Repeat("x", 50)) }, "invalid_grant"},
		{"no verifier", func(f *fixture, v url.Values) { v.Del("code_verifier") }, "invalid_request"},
		{"wrong redirect", func(f *fixture, v url.Values) { v.Set("redirect_uri", "https://app.example/cb") }, "invalid_grant"},
		{"wrong client", func(f *fixture, v url.Values) { v.Set("client_id", f.base+"/other.json") }, "invalid_grant"},
		{"wrong resource", func(f *fixture, v url.Values) { v.Set("resource", public+"/api/2.0/mcp/external/plain") }, "invalid_target"},
		{"unknown code", func(f *fixture, v url.Values) { v.Set("code", "nope") }, "invalid_grant"},
		{"expired code", func(f *fixture, v url.Values) { f.clk.Add(authserver.CodeTTL + time.Second) }, "invalid_grant"},
		{"client secret", func(f *fixture, v url.Values) { v.Set("client_secret", "s") }, "invalid_client"},
		{"deactivated user", func(f *fixture, v url.Values) { f.st.users["u1"].Active = false }, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			form := f.codeForm(f.code(t))
			tc.mod(f, form)
			code, out := f.token(t, form)
			if code == http.StatusOK || out["error"] != tc.err {
				t.Fatalf("answer %d %v, want %s", code, out, tc.err)
			}
			if n := len(f.st.tokenIDs()); n != 0 {
				t.Errorf("%d tokens issued on a refusal", n)
			}
		})
	}
}

func TestCodeGrantIssuesAndReplayRevokes(t *testing.T) {
	f := newFixture(t)
	c := f.code(t)
	code, out := f.token(t, f.codeForm(c))
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, out)
	}
	access, _ := out["access_token"].(string)
	rt, _ := out["refresh_token"].(string)
	if access == "" || out["refresh_token"] == "" || out["token_type"] != "Bearer" || out["expires_in"] != float64(3600) {
		t.Fatalf("answer %v", out)
	}
	toks := f.st.tokenIDs()
	if len(toks) != 1 {
		t.Fatalf("%d tokens, want 1", len(toks))
	}
	for _, tok := range toks {
		if tok.Audience != resource || tok.PrincipalID != "u1" || !tok.ExpiresAt.Equal(f.clk.Now().Add(time.Hour)) || string(tok.Hash) != string(identity.HashToken(access)) {
			t.Errorf("token %+v", tok)
		}
	}
	code, out = f.token(t, f.codeForm(c))
	if code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", code, out)
	}
	if n := len(f.st.tokenIDs()); n != 0 {
		t.Errorf("replay left %d tokens, want the issued one revoked", n)
	}
	code, out = f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}})
	if code != http.StatusBadRequest {
		t.Errorf("refresh after replay: %d %v", code, out)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	f := newFixture(t)
	_, first := f.token(t, f.codeForm(f.code(t)))
	r1, _ := first["refresh_token"].(string)
	refresh := func(rt string) (int, map[string]any) {
		return f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}})
	}
	code, second := refresh(r1)
	if code != http.StatusOK || second["refresh_token"] == r1 || second["access_token"] == first["access_token"] {
		t.Fatalf("rotation: %d %v", code, second)
	}
	toks := f.st.tokenIDs()
	if len(toks) != 1 {
		t.Fatalf("%d tokens after rotation, want only the new one", len(toks))
	}
	for _, tok := range toks {
		if tok.Audience != resource || string(tok.Hash) != string(identity.HashToken(second["access_token"].(string))) {
			t.Errorf("rotated token %+v", tok)
		}
	}
	// The first refresh token again: reuse; the family is revoked.
	if code, out := refresh(r1); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", code, out)
	}
	if n := len(f.st.tokenIDs()); n != 0 {
		t.Errorf("reuse left %d tokens", n)
	}
	if code, out := refresh(second["refresh_token"].(string)); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("the family's newest refresh token after reuse: %d %v", code, out)
	}
	for name, rt := range map[string]string{"malformed": "nodot", "unknown family": "abc.def"} {
		if code, out := refresh(rt); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
}

func TestRefreshOtherClientRevokes(t *testing.T) {
	f := newFixture(t)
	_, first := f.token(t, f.codeForm(f.code(t)))
	code, out := f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}, "client_id": {f.base + "/other.json"}})
	if code != http.StatusBadRequest || out["error"] != "invalid_grant" || len(f.st.tokenIDs()) != 0 {
		t.Fatalf("other client: %d %v, %d tokens", code, out, len(f.st.tokenIDs()))
	}
}

func TestClientDocCached(t *testing.T) {
	f := newFixture(t)
	if _, err := f.az.Check(context.Background(), f.query(nil)); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the cached document answers: no second fetch.
	f.clk.Add(authserver.ClientDocTTL - time.Second)
	if _, err := f.az.Check(context.Background(), f.query(nil)); err != nil {
		t.Fatal(err)
	}
	if n := f.docFetches.Load(); n != 1 {
		t.Fatalf("client document fetched %d times within its TTL, want 1", n)
	}
	// Past the TTL it is fetched again.
	f.clk.Add(2 * time.Second)
	if _, err := f.az.Check(context.Background(), f.query(nil)); err != nil {
		t.Fatal(err)
	}
	if n := f.docFetches.Load(); n != 2 {
		t.Fatalf("client document fetched %d times after its TTL, want 2", n)
	}
}
