package console

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// world is a console over real governance and a real SQLite store. Requests are
// signed in as the principal named by the cookie "who" (fakeSessions below); the
// session's CSRF token is csrfOf(name).
type world struct {
	st    *sqlite.DB
	gov   *governance.Service
	c     *Console
	p     map[string]*catalog.Principal
	audit *memAudit
	now   time.Time
}

// memAudit keeps the events it is given and appends them to the store, so that the
// pages that read the audit log see them.
type memAudit struct {
	mu     sync.Mutex
	st     *sqlite.DB
	events []*catalog.AuditEvent
}

func (m *memAudit) Record(ctx context.Context, e *catalog.AuditEvent) {
	if e.EventID == "" {
		e.EventID = catalog.NewID()
	}
	if e.EventTime.IsZero() {
		e.EventTime = time.Now()
	}
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	_ = m.st.AppendAudit(ctx, []*catalog.AuditEvent{e})
}

// take returns and forgets the events recorded so far.
func (m *memAudit) take() []*catalog.AuditEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.events
	m.events = nil
	return out
}

func csrfOf(name string) string { return "csrf-of-" + name }

// worldSessions signs in the principal named by the cookie "who".
type worldSessions struct{ w *world }

func (s worldSessions) Viewer(r *http.Request) (*catalog.Principal, string, bool) {
	c, err := r.Cookie("who")
	if err != nil {
		return nil, "", false
	}
	p, ok := s.w.p[c.Value]
	return p, csrfOf(c.Value), ok
}

func (s worldSessions) FormOK(r *http.Request, csrf string) bool {
	return r.PostFormValue("csrf") == csrf
}

func newWorld(t testing.TB) *world { return newWorldCAs(t, nil) }

// newWorldCAs is newWorld whose OAuth client trusts roots (a test provider's CA).
func newWorldCAs(t testing.TB, roots *x509.CertPool) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	oc := oauth.NewClient(oauth.ClientOptions{AllowHTTP: true, RootCAs: roots})
	w := &world{st: st, p: map[string]*catalog.Principal{}, audit: &memAudit{st: st}, now: time.Now()}
	w.gov = governance.New(governance.Deps{Store: st, Keyring: kr, Access: access.New(st), OAuth: oc,
		Broker: credential.New(kr, st, oc, credential.Options{PublicURL: "http://gatehouse.test"}), Validation: catalog.ValidationPolicy{AllowHTTP: true}})
	w.c = New(Deps{Gov: w.gov, Sessions: worldSessions{w}, Audit: w.audit, PublicURL: "http://gatehouse.test/"})
	for _, g := range []string{catalog.AdminsGroup, catalog.UsersGroup} {
		w.add(t, g, catalog.KindGroup)
	}
	for _, u := range []string{"root", "olivia", "mike"} {
		w.add(t, u, catalog.KindUser)
	}
	if err := st.AddMember(ctx, w.p[catalog.AdminsGroup].ID, w.p["root"].ID); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateGrants(ctx, catalog.SecurableMetastore, catalog.MetastoreID,
		[]catalog.Grant{{SecurableType: catalog.SecurableMetastore, SecurableID: catalog.MetastoreID, PrincipalID: w.p["olivia"].ID, Privilege: catalog.CreateConnection}}, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) add(t testing.TB, name string, kind catalog.PrincipalKind) {
	t.Helper()
	p := &catalog.Principal{ID: catalog.NewID(), Kind: kind, Name: name, Active: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := w.st.CreatePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	w.p[name] = p
}

// bearer creates a bearer connection owned by who, whose secret is secret.
func (w *world) bearer(t testing.TB, who, name, secret string) {
	t.Helper()
	if _, err := w.gov.CreateConnection(context.Background(), w.p[who], governance.CreateConnection{Name: name, CredentialType: "BEARER_TOKEN",
		Options: map[string]string{"host": "https://api.example.com", "base_path": "/v1", "bearer_token": secret}}, nil); err != nil {
		t.Fatal(err)
	}
}

// get renders a page for who ("" signed out).
func (w *world) get(t testing.TB, who, target string) (int, string) {
	t.Helper()
	return w.do(t, who, "GET", target, nil)
}

// post posts a form for who with who's CSRF token (unless form sets csrf).
func (w *world) post(t testing.TB, who, target string, form url.Values) (int, string) {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", csrfOf(who))
	}
	return w.do(t, who, "POST", target, form)
}

func (w *world) do(t testing.TB, who, method, target string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	rec := serve(w.c, newRequest(method, target, body, form != nil, who))
	if loc := rec.Header().Get("Location"); loc != "" {
		return rec.Code, loc
	}
	return rec.Code, rec.Body.String()
}

// newRequest is a request signed in as who ("" signed out), with a form body when
// isForm.
func newRequest(method, target string, body io.Reader, isForm bool, who string) *http.Request {
	req := httptest.NewRequest(method, target, body)
	if isForm {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if who != "" {
		req.AddCookie(&http.Cookie{Name: "who", Value: who})
	}
	return req
}

// serve routes the request through a mux with the console's patterns, as the server's.
func serve(c *Console, r *http.Request) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, c)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	return rec
}

func mustContain(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}
}

func mustNotContain(t testing.TB, body string, bad ...string) {
	t.Helper()
	for _, s := range bad {
		if strings.Contains(body, s) {
			t.Errorf("page contains %q", s)
		}
	}
}

func eventOf(t testing.TB, events []*catalog.AuditEvent, action string) *catalog.AuditEvent {
	t.Helper()
	for _, e := range events {
		if e.ActionName == action {
			return e
		}
	}
	t.Fatalf("no %s event among %d: %s", action, len(events), fmt.Sprint(events))
	return nil
}
