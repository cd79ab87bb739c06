package credential

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// These tests run three brokers on one store, as three replicas of one deployment
// would, against a real authorization server (fosite) that rotates refresh tokens and
// answers the reuse of an old one with invalid_grant and the revocation of the whole
// family: one refresh too many would break the credential, not only cost a request.

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	replicaCount    = 3
	callersPerRep   = 40
	expiries        = 5
	tokenLifespan   = time.Hour
	asClientID      = "gatehouse"
	asClientSecret  = "client-secret-for-replicas"
	replicaUser     = "alice"
	replicaTestWait = 60 * time.Second
)

// replicaStores open one store per replica on one shared state.
var replicaStores = []struct {
	name string
	open func(t *testing.T) []Store
}{
	{"sqlite", func(t *testing.T) []Store {
		// One process owns an SQLite data directory: its replicas share one DB value.
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
		if err != nil {
			t.Fatalf("open SQLite: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return []Store{db, db, db}
	}},
	{"postgres", func(t *testing.T) []Store {
		dsn := pgtest.Shared(t).NewDatabase(t)
		var sts []Store
		for i := range replicaCount {
			db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 8})
			if err != nil {
				t.Fatalf("open PostgreSQL for replica %d: %v", i, err)
			}
			t.Cleanup(func() { _ = db.Close() })
			sts = append(sts, db)
		}
		return sts
	}},
}

// replicas is a deployment of replicaCount brokers on one store, one clock and one
// authorization server.
type replicas struct {
	t       *testing.T
	as      *oauthtest.Server
	clock   *fakeClock
	keyring *seal.Keyring
	stores  []Store
	brokers []*Broker
	alice   *catalog.Principal
}

func newReplicas(t *testing.T, open func(t *testing.T) []Store) *replicas {
	t.Helper()
	const publicURL = "https://gatehouse.test"
	as := oauthtest.New(t, oauthtest.Options{
		AccessTokenLifespan: tokenLifespan,
		Clients:             []oauthtest.Client{{ID: asClientID, Secret: asClientSecret, RedirectURIs: []string{publicURL + "/login/oauth/http.html"}}},
	})
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	r := &replicas{t: t, as: as, clock: newFakeClock(), keyring: kr, stores: open(t)}
	for _, st := range r.stores {
		oc := oauth.NewClient(oauth.ClientOptions{RootCAs: as.RootCAs(), Now: r.clock.Now})
		t.Cleanup(oc.CloseIdleConnections)
		r.brokers = append(r.brokers, New(kr, st, oc, Options{PublicURL: publicURL, Now: r.clock.Now}))
	}
	now := r.clock.Now()
	r.alice = &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: replicaUser + "@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := r.catalog().CreatePrincipal(t.Context(), r.alice); err != nil {
		t.Fatalf("create principal: %v", err)
	}
	return r
}

func (r *replicas) catalog() catalog.Store { return r.stores[0].(catalog.Store) }

// connection creates an OAuth connection of the credential type to the server.
func (r *replicas) connection(name string, ct catalog.CredentialType) *catalog.Connection {
	r.t.Helper()
	now := r.clock.Now()
	c := &catalog.Connection{ID: catalog.NewID(), Name: name, ConnectionType: "HTTP", CredentialType: ct, OwnerID: r.alice.ID,
		Options: map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptClientID: asClientID,
			catalog.OptTokenEndpoint: r.as.TokenURL, catalog.OptOAuthScope: "read",
			catalog.OptCredentialExchange: catalog.ExchangeHeaderOnly},
		Enabled: true, CreatedAt: now, CreatedBy: r.alice.ID, UpdatedAt: now, UpdatedBy: r.alice.ID}
	if ct != catalog.OAuthM2M {
		c.Options[catalog.OptAuthorizationEndpoint] = r.as.AuthorizeURL
		c.Options[catalog.OptOAuthScope] = "openid offline_access read"
	}
	secret, err := r.keyring.Seal([]byte(asClientSecret), seal.AAD{SecurableID: c.ID, Field: catalog.OptClientSecret})
	if err != nil {
		r.t.Fatal(err)
	}
	c.Secrets = map[string][]byte{catalog.OptClientSecret: secret}
	if err := r.catalog().CreateConnection(r.t.Context(), c); err != nil {
		r.t.Fatalf("create connection %s: %v", name, err)
	}
	got, err := r.catalog().GetConnection(r.t.Context(), name)
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

// login runs alice's browser login to c through the first replica.
func (r *replicas) login(c *catalog.Connection) {
	r.t.Helper()
	ctx := r.t.Context()
	to, err := r.brokers[0].StartLogin(ctx, allowAll{}, r.alice, "session", c.Name)
	if err != nil {
		r.t.Fatalf("StartLogin: %v", err)
	}
	back, err := r.as.Authorize(to, replicaUser)
	if err != nil {
		r.t.Fatalf("authorize: %v", err)
	}
	if _, err := r.brokers[0].FinishLogin(ctx, r.alice, "session", back.Query()); err != nil {
		r.t.Fatalf("FinishLogin: %v", err)
	}
}

// pastRefreshPoint moves every replica's clock past the refresh point of the tokens
// obtained now (their last minute) and before their end.
func (r *replicas) pastRefreshPoint() { r.clock.Advance(tokenLifespan - 30*time.Second) }

// callAll has callersPerRep callers on each replica ask for c's header at once and
// returns the values and errors, in replica order.
func (r *replicas) callAll(c *catalog.Connection) ([]string, []error) {
	ctx, cancel := context.WithTimeout(r.t.Context(), replicaTestWait)
	defer cancel()
	n := len(r.brokers) * callersPerRep
	values, errs := make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		b := r.brokers[i%len(r.brokers)]
		wg.Go(func() {
			<-start
			_, values[i], errs[i] = b.Header(ctx, c, r.alice)
		})
	}
	close(start)
	wg.Wait()
	return values, errs
}

func TestRefreshOnceAcrossReplicas(t *testing.T) {
	for _, st := range replicaStores {
		t.Run(st.name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				ct    catalog.CredentialType
				grant string // counted at the server
				sub   string // whose tokens they are
			}{
				{"per-user refresh", catalog.OAuthU2MPerUser, "refresh_token", replicaUser},
				{"shared refresh", catalog.OAuthU2M, "refresh_token", replicaUser},
				{"machine-to-machine fetch", catalog.OAuthM2M, "client_credentials", asClientID},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := newReplicas(t, st.open)
					c := r.connection("api", tc.ct)
					if tc.ct != catalog.OAuthM2M {
						r.login(c)
					}
					seen := map[string]bool{}
					for e := range expiries {
						r.pastRefreshPoint()
						before := r.as.TokenRequests(tc.grant)
						values, errs := r.callAll(c)
						if got := r.as.TokenRequests(tc.grant) - before; got != 1 {
							t.Errorf("expiry %d: %d %s requests at the server from %d callers on %d replicas, want exactly 1", e, got, tc.grant, len(values), len(r.brokers))
						}
						for i, err := range errs {
							if err != nil {
								t.Fatalf("expiry %d: caller %d on replica %d: %v", e, i, i%len(r.brokers), err)
							}
						}
						tok, ok := strings.CutPrefix(values[0], "Bearer ")
						if !ok {
							t.Fatalf("expiry %d: header value is not a bearer token", e)
						}
						for i, v := range values {
							if v != values[0] {
								t.Fatalf("expiry %d: caller %d on replica %d got another token than caller 0", e, i, i%len(r.brokers))
							}
						}
						if active, sub := r.as.Introspect(tok); !active || sub != tc.sub {
							t.Errorf("expiry %d: the token every caller got is active %v for %q at the server, want active for %q", e, active, sub, tc.sub)
						}
						if seen[tok] {
							t.Errorf("expiry %d: the token is the one of an earlier expiry", e)
						}
						seen[tok] = true
					}
					if n := r.as.InvalidGrants(); n != 0 {
						t.Errorf("the server answered invalid_grant %d times, want 0", n)
					}
					principal := ""
					if tc.ct == catalog.OAuthU2MPerUser {
						principal = r.alice.ID
					}
					cred, err := r.catalog().GetCredential(t.Context(), c.ID, principal)
					if err != nil {
						t.Fatal(err)
					}
					if cred.State != catalog.StateActive {
						t.Errorf("the credential is %s (%s), want ACTIVE", cred.State, cred.Reason)
					}
				})
			}
		})
	}
}

// An invalid_grant for a refresh token that another writer replaced meanwhile is a lost
// race: the replica uses the stored credential and nobody must log in again.
func TestRefreshLostRaceIsNotRevocation(t *testing.T) {
	for _, st := range replicaStores {
		t.Run(st.name, func(t *testing.T) {
			r := newReplicas(t, st.open)
			c := r.connection("api", catalog.OAuthU2MPerUser)
			r.login(c)
			ctx := t.Context()

			// The first refresh request: before it is answered, another writer (one
			// that does not take the lock, as a login finishing does) redeems the same
			// refresh token and stores the result; the server then refuses the request.
			cfg, err := r.brokers[1].Config(c)
			if err != nil {
				t.Fatal(err)
			}
			oc := oauth.NewClient(oauth.ClientOptions{RootCAs: r.as.RootCAs(), Now: r.clock.Now})
			defer oc.CloseIdleConnections()
			var fired atomic.Bool
			var winner *oauth.Token
			var raceErr error
			r.as.ForceInvalidGrant(func(form url.Values) bool {
				if form.Get("grant_type") != "refresh_token" {
					return false
				}
				// Only the broker's request, not the other writer's own (which comes in
				// while this one waits).
				if !fired.CompareAndSwap(false, true) {
					return false
				}
				winner, raceErr = oc.Refresh(ctx, cfg, form.Get("refresh_token"))
				if raceErr != nil {
					return true
				}
				var cred *catalog.OAuthCredential
				if cred, raceErr = r.catalog().GetCredential(ctx, c.ID, r.alice.ID); raceErr == nil {
					raceErr = r.brokers[1].storeToken(ctx, c, cred, r.alice.ID, winner, r.alice.ID)
				}
				return true
			})
			r.pastRefreshPoint()
			_, value, err := r.brokers[0].Header(ctx, c, r.alice)
			if raceErr != nil {
				t.Fatalf("the other writer's refresh: %v", raceErr)
			}
			if winner == nil {
				t.Fatal("the server was never asked to refresh")
			}
			if err != nil {
				t.Fatalf("Header after a lost race: %v, want the stored token", err)
			}
			if value != "Bearer "+winner.AccessToken {
				t.Error("Header after a lost race did not return the token the winner stored")
			}
			cred, err := r.catalog().GetCredential(ctx, c.ID, r.alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cred.State != catalog.StateActive {
				t.Errorf("after a lost race the credential is %s (%s), want ACTIVE", cred.State, cred.Reason)
			}
			r.as.ForceInvalidGrant(nil)
			// The winner's refresh token is the live one: the next expiry refreshes.
			r.pastRefreshPoint()
			before := r.as.TokenRequests("refresh_token")
			if _, _, err := r.brokers[2].Header(ctx, c, r.alice); err != nil {
				t.Fatalf("the next refresh after a lost race: %v", err)
			}
			if got := r.as.TokenRequests("refresh_token") - before; got != 1 {
				t.Errorf("the next expiry made %d refresh requests, want 1", got)
			}
			if n := r.as.InvalidGrants(); n != 0 {
				t.Errorf("the server answered invalid_grant %d times (reuse of a rotated token?), want 0", n)
			}
		})
	}
}

// An invalid_grant for the stored refresh token is a revoked consent: every replica
// then asks for a new login.
func TestRefreshRevokedConsent(t *testing.T) {
	for _, st := range replicaStores {
		t.Run(st.name, func(t *testing.T) {
			r := newReplicas(t, st.open)
			c := r.connection("api", catalog.OAuthU2MPerUser)
			r.login(c)
			ctx := t.Context()
			r.as.RevokeUser(replicaUser)
			r.pastRefreshPoint()
			_, errs := r.callAll(c)
			for i, err := range errs {
				if code := catalog.CodeOf(err); code != catalog.OAuthLoginRequired {
					t.Fatalf("caller %d on replica %d after the consent was revoked: %v, want %s", i, i%len(r.brokers), err, catalog.OAuthLoginRequired)
				}
			}
			if got := r.as.TokenRequests("refresh_token"); got != 1 {
				t.Errorf("%d refresh requests for a revoked consent, want 1 (the others read the new state)", got)
			}
			cred, err := r.catalog().GetCredential(ctx, c.ID, r.alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cred.State != catalog.StateReauthRequired {
				t.Errorf("after a revoked consent the credential is %s, want %s", cred.State, catalog.StateReauthRequired)
			}
		})
	}
}

// useStored decides inside the lock whether another replica's renewal serves: a token
// renewed since this replica looked is used until it ends, even when this replica's
// clock (ahead of the renewer's) already puts it past its refresh point.
func TestUseStored(t *testing.T) {
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	b := New(kr, nil, nil, Options{Now: clock.Now})
	c := &catalog.Connection{ID: "conn-1", Name: "api", CredentialType: catalog.OAuthU2MPerUser,
		Options: map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptTokenEndpoint: "https://as.example/token"}}
	now := clock.Now()
	sealed, err := kr.Seal([]byte("the-access-token"), tokenAAD(c, catalog.FieldAccessToken, "p-1"))
	if err != nil {
		t.Fatal(err)
	}
	// A 60 s token renewed 50 s ago by a replica whose clock is behind: past its refresh
	// point (12 s before the end) here, not expired.
	renewed := &catalog.OAuthCredential{ConnectionID: c.ID, PrincipalID: "p-1", AccessToken: sealed, Version: 7,
		LastRefreshedAt: now.Add(-50 * time.Second), AccessExpiresAt: now.Add(10 * time.Second)}
	expired := *renewed
	expired.AccessExpiresAt = now.Add(-time.Second)
	fresh := *renewed
	fresh.LastRefreshedAt, fresh.AccessExpiresAt = now, now.Add(time.Hour)
	noToken := *renewed
	noToken.AccessToken = nil
	older := *renewed
	older.Version, older.LastRefreshedAt = 5, now.Add(-2*time.Hour)
	for _, tc := range []struct {
		name       string
		cred, seen *catalog.OAuthCredential
		want       bool
	}{
		{"fresh, nothing seen", &fresh, nil, true},
		{"past the refresh point, nothing seen", renewed, nil, false},
		{"past the refresh point, renewed since seen", renewed, &older, true},
		{"past the refresh point, nothing stored when seen", renewed, &catalog.OAuthCredential{}, true},
		{"past the refresh point, the one seen", renewed, renewed, false},
		{"renewed since seen but expired", &expired, &older, false},
		{"no access token", &noToken, &older, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, ok, err := b.useStored(c, credKey{conn: c.ID, principal: "p-1"}, 0, tc.cred, tc.seen)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want || (ok && tok != "the-access-token") {
				t.Errorf("useStored = %v, want %v", ok, tc.want)
			}
		})
	}
}

var _ Store = (*postgres.DB)(nil)
