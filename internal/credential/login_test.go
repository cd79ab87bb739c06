package credential

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// memStore is the least of a Store the login flow and the proxy's cached path need.
type memStore struct {
	mu    sync.Mutex
	conns map[string]*catalog.Connection
	users map[string]*catalog.Principal
	creds map[credKey]*catalog.OAuthCredential
}

func (s *memStore) GetConnection(_ context.Context, name string) (*catalog.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[name]; ok {
		return c, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no connection %s", name)
}

func (s *memStore) SetConnectionOption(_ context.Context, id, key, value string, expect map[string]string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c.ID != id {
			continue
		}
		for k, v := range expect {
			if c.Options[k] != v {
				return false, nil
			}
		}
		c.Options[key] = value
		return true, nil
	}
	return false, nil
}

func (s *memStore) GetPrincipal(_ context.Context, id string) (*catalog.Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.users[id]; ok {
		return p, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no principal %s", id)
}

func (s *memStore) GetCredential(_ context.Context, conn, principal string) (*catalog.OAuthCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.creds[credKey{conn, principal}]; ok {
		cp := *c
		return &cp, nil
	}
	return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no credential")
}

func (s *memStore) PutCredential(_ context.Context, c *catalog.OAuthCredential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Version++
	cp := *c
	s.creds[credKey{c.ConnectionID, c.PrincipalID}] = &cp
	return nil
}

func (s *memStore) DeleteCredential(_ context.Context, conn, principal string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creds, credKey{conn, principal})
	return nil
}

func (s *memStore) ListCredentials(context.Context, string) ([]*catalog.OAuthCredential, error) {
	return nil, errors.New("not used")
}

func (s *memStore) TouchCredentials(context.Context, map[string]time.Time) error { return nil }

// LockCredential is a lock that serializes nothing: the tests on memStore run one
// caller at a time.
func (s *memStore) LockCredential(ctx context.Context, conn, principal string, fn func(context.Context, *catalog.OAuthCredential) error) error {
	cur, err := s.GetCredential(ctx, conn, principal)
	if catalog.IsNotFound(err) {
		cur = nil
	}
	return fn(ctx, cur)
}

func (s *memStore) Watch(func(catalog.Change)) {}

// allowAll lets every principal use and manage every connection.
type allowAll struct{}

func (allowAll) CanUse(context.Context, *catalog.Principal, *catalog.Connection) (bool, error) {
	return true, nil
}
func (allowAll) CanManage(context.Context, *catalog.Principal, *catalog.Connection) (bool, error) {
	return true, nil
}

// loginFixture is a broker with one per-user OAuth connection "github" whose user
// alice holds a stored access token.
type loginFixture struct {
	b       *Broker
	clock   *fakeClock
	st      *memStore
	conn    *catalog.Connection
	alice   *catalog.Principal
	pending *MemoryPendingLogins
}

const aliceToken = "alice-access-token"

func newLoginFixture(t testing.TB, maxPending int) *loginFixture {
	t.Helper()
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	conn := &catalog.Connection{ID: "conn-1", Name: "github", CredentialType: catalog.OAuthU2MPerUser, Enabled: true,
		Options: map[string]string{catalog.OptClientID: "client", catalog.OptAuthorizationEndpoint: "https://as.example/authorize",
			catalog.OptTokenEndpoint: "https://as.example/token", "host": "https://api.example"}}
	secret, err := kr.Seal([]byte("client-secret"), seal.AAD{SecurableID: conn.ID, Field: catalog.OptClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	conn.Secrets = map[string][]byte{catalog.OptClientSecret: secret}
	alice := &catalog.Principal{ID: "p-alice", Name: "alice@example.com", Kind: catalog.KindUser, Active: true}
	at, err := kr.Seal([]byte(aliceToken), seal.AAD{SecurableID: conn.ID, Field: catalog.FieldAccessToken, Principal: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{conns: map[string]*catalog.Connection{conn.Name: conn}, users: map[string]*catalog.Principal{alice.ID: alice},
		creds: map[credKey]*catalog.OAuthCredential{{conn.ID, alice.ID}: {ConnectionID: conn.ID, PrincipalID: alice.ID, AccessToken: at, Version: 1}}}
	clock := newFakeClock()
	pl := NewMemoryPendingLogins(PendingOptions{MaxTotal: maxPending, Now: clock.Now})
	b := New(kr, st, nil, Options{PublicURL: "https://gatehouse.example", Now: clock.Now, LoginTTL: testTTL, PendingLogins: pl})
	return &loginFixture{b: b, clock: clock, st: st, conn: conn, alice: alice, pending: pl}
}

// start starts a login of alice in the session and returns its state.
func (f *loginFixture) start(t testing.TB, session string) string {
	t.Helper()
	to, err := f.b.StartLogin(context.Background(), allowAll{}, f.alice, session, f.conn.Name)
	if err != nil {
		t.Fatalf("StartLogin: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	state := u.Query().Get("state")
	if state == "" {
		t.Fatalf("authorization URL %s has no state", to)
	}
	return state
}

// TestFinishLoginRefusesBadStates checks that FinishLogin, with the pending-login store
// behind it, still refuses every state that is not this session's one live state, and
// that refusing it uses it up. No case gets as far as the token endpoint (the broker has
// no OAuth client: reaching it would panic the test).
func TestFinishLoginRefusesBadStates(t *testing.T) {
	ctx := context.Background()
	bob := &catalog.Principal{ID: "p-bob", Name: "bob@example.com", Kind: catalog.KindUser, Active: true}
	tests := []struct {
		name string
		// run starts logins and returns the session, principal and state to finish with.
		run      func(t *testing.T, f *loginFixture) (session string, p *catalog.Principal, state string)
		wantMsg  string
		reusable bool // whether the right session could still use the state afterwards
	}{
		{"no state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			f.start(t, "sess")
			return "sess", f.alice, ""
		}, "not valid", false},
		{"unknown state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			f.start(t, "sess")
			return "sess", f.alice, "forged-state"
		}, "not valid", false},
		{"overlong state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			f.start(t, "sess")
			return "sess", f.alice, strings.Repeat("a", 513)
		}, "not valid", false},
		{"expired state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			s := f.start(t, "sess")
			f.clock.Advance(testTTL + time.Second)
			return "sess", f.alice, s
		}, "not valid", false},
		{"reused state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			s := f.start(t, "sess")
			_, _ = f.b.FinishLogin(ctx, f.alice, "sess", url.Values{"state": {s}, "error": {"access_denied"}})
			return "sess", f.alice, s
		}, "not valid", false},
		{"another session's state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			s := f.start(t, "sess")
			return "other-sess", f.alice, s
		}, "another browser session", false},
		{"another principal's state", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			s := f.start(t, "sess")
			return "sess", bob, s
		}, "another browser session", false},
		{"evicted by the session bound", func(t *testing.T, f *loginFixture) (string, *catalog.Principal, string) {
			s := f.start(t, "sess")
			for range DefaultMaxPendingPerSession {
				f.start(t, "sess")
			}
			return "sess", f.alice, s
		}, "not valid", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoginFixture(t, 0)
			session, p, state := tt.run(t, f)
			res, err := f.b.FinishLogin(ctx, p, session, url.Values{"state": {state}, "code": {"a-code"}})
			var ce *catalog.Error
			if !errors.As(err, &ce) || ce.Code != catalog.InvalidParameterValue || !strings.Contains(ce.Message, tt.wantMsg) {
				t.Fatalf("FinishLogin = %v, %v; want INVALID_PARAMETER_VALUE containing %q", res, err, tt.wantMsg)
			}
			if state != "" && f.pending.has(state) {
				t.Errorf("state still pending after a refused FinishLogin")
			}
		})
	}
}

// TestFinishLoginProviderErrorUsesState checks the right session's own state reaches
// the step after the state check (the provider's error), and only once.
func TestFinishLoginProviderErrorUsesState(t *testing.T) {
	f := newLoginFixture(t, 0)
	s := f.start(t, "sess")
	q := url.Values{"state": {s}, "error": {"access_denied"}, "error_description": {"no"}}
	_, err := f.b.FinishLogin(context.Background(), f.alice, "sess", q)
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" || pe.Connection != "github" {
		t.Fatalf("first FinishLogin = %v, want the provider's access_denied for github", err)
	}
	_, err = f.b.FinishLogin(context.Background(), f.alice, "sess", q)
	if !errors.Is(err, errBadState) {
		t.Errorf("second FinishLogin = %v, want the bad-state error", err)
	}
}

// TestHeaderDoesNotWaitForPendingLogins holds the pending-login store's lock and checks
// that a proxy call (Header, cached token) still completes: the proxy path never takes
// that lock.
func TestHeaderDoesNotWaitForPendingLogins(t *testing.T) {
	f := newLoginFixture(t, 0)
	ctx := context.Background()
	if _, _, err := f.b.Header(ctx, f.conn, f.alice); err != nil { // fill the cache
		t.Fatal(err)
	}
	f.pending.mu.Lock()
	defer f.pending.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		for range 100 {
			if _, v, err := f.b.Header(ctx, f.conn, f.alice); err != nil || v != "Bearer "+aliceToken {
				done <- fmt.Errorf("Header = %q, %v", v, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Header blocked while the pending-login store was locked")
	}
}

// fillPending starts n logins of alice across sessions of at most 16 logins each. The
// per-principal bound is lifted so that one principal can hold them all.
func (f *loginFixture) fillPending(t testing.TB, n int) {
	t.Helper()
	f.pending.opts.MaxPerPrincipal = f.pending.opts.MaxTotal + 1
	for i := range n {
		f.start(t, fmt.Sprintf("sess-%d", i/DefaultMaxPendingPerSession))
	}
	if got := f.pending.Len(); got != n {
		t.Fatalf("pending logins = %d, want %d", got, n)
	}
}

// BenchmarkHeaderWithPendingLogins measures the proxy's credential step (Header of a
// per-user OAuth connection, token cached) with no pending logins and with 50,000, each
// idle and while logins keep being started ("churn": one every 100 µs, as many in both
// cases; with pending=0 the store is capped at one login, with 50,000 every start
// evicts the oldest at the bound). Compare pending=0 with pending=50000 at the same
// churn: they should be equal, since the proxy path never touches pending logins.
//
//	go test -run '^$' -bench 'HeaderWithPendingLogins' -benchtime 2s -count 3 ./internal/credential
func BenchmarkHeaderWithPendingLogins(b *testing.B) {
	for _, churn := range []bool{false, true} {
		for _, n := range []int{0, 50_000} {
			name := fmt.Sprintf("pending=%d/idle", n)
			if churn {
				name = fmt.Sprintf("pending=%d/churn", n)
			}
			b.Run(name, func(b *testing.B) {
				f := newLoginFixture(b, max(n, 1))
				ctx := context.Background()
				f.fillPending(b, n)
				if churn {
					stop := make(chan struct{})
					var wg sync.WaitGroup
					wg.Go(func() {
						tick := time.NewTicker(100 * time.Microsecond)
						defer tick.Stop()
						for i := 0; ; i++ {
							select {
							case <-stop:
								return
							case <-tick.C:
								f.start(b, fmt.Sprintf("churn-%d", i/DefaultMaxPendingPerSession))
							}
						}
					})
					defer func() { close(stop); wg.Wait() }()
				}
				if _, _, err := f.b.Header(ctx, f.conn, f.alice); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, _, err := f.b.Header(ctx, f.conn, f.alice); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkStartLogin measures starting a login with none and with 50,000 pending.
//
//	go test -run '^$' -bench 'StartLogin' -benchtime 2s -count 3 ./internal/credential
func BenchmarkStartLogin(b *testing.B) {
	for _, n := range []int{0, 50_000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			f := newLoginFixture(b, max(n, 1))
			f.fillPending(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				f.start(b, fmt.Sprintf("bench-%d", i/DefaultMaxPendingPerSession))
			}
		})
	}
}
