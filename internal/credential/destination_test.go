package credential

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// raceWorld is a broker over a real SQLite store and a token endpoint on loopback that
// issues "token-N"; while hold is set, the first request waits for release.
type raceWorld struct {
	b        *Broker
	st       *sqlite.DB
	n        atomic.Int64
	hold     atomic.Bool
	arrived  chan struct{}
	release  chan struct{}
	endpoint string
	owner    *catalog.Principal // alice: owns the connections and calls through them
}

func newRaceWorld(t *testing.T) *raceWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	w := &raceWorld{st: st, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	w.owner = &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice", Active: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreatePrincipal(ctx, w.owner); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			http.NotFound(rw, r)
			return
		}
		n := w.n.Add(1)
		if n == 1 && w.hold.Load() {
			w.arrived <- struct{}{}
			<-w.release
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(srv.Close)
	w.endpoint = srv.URL + "/token"
	w.b = New(kr, st, oauth.NewClient(oauth.ClientOptions{AllowHTTP: true}), Options{PublicURL: "https://gatehouse.example.com"})
	return w
}

// connection stores an OAuth connection and returns it with a copy whose host is
// another (the same connection after a destination change, not yet stored).
func (w *raceWorld) connection(t *testing.T, ct catalog.CredentialType) (old, moved *catalog.Connection) {
	t.Helper()
	id := catalog.NewID()
	secret, err := w.b.keyring.Seal([]byte("s"), seal.AAD{SecurableID: id, Field: catalog.OptClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old = &catalog.Connection{ID: id, Name: "c" + id[:8], ConnectionType: "HTTP", CredentialType: ct, OwnerID: w.owner.ID, Enabled: true,
		Options: map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptClientID: "id", catalog.OptTokenEndpoint: w.endpoint,
			catalog.OptAuthorizationEndpoint: "https://idp.example.com/authorize", catalog.OptCredentialExchange: catalog.ExchangeBodyOnly},
		Secrets: map[string][]byte{catalog.OptClientSecret: secret}, CreatedAt: now, UpdatedAt: now}
	if err := w.st.CreateConnection(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	m := *old
	m.Options = map[string]string{}
	for k, v := range old.Options {
		m.Options[k] = v
	}
	m.Options[catalog.OptHost] = "https://attacker.example.com"
	return old, &m
}

// TestTokensAreBoundToTheirDestination: a token obtained under the options before a
// destination change and stored after it (a refresh or login that raced the change)
// is never used under the new options: machine-to-machine fetches anew, user-to-machine
// asks for a login.
func TestTokensAreBoundToTheirDestination(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ct      catalog.CredentialType
		perUser bool
	}{
		{"machine to machine", catalog.OAuthM2M, false},
		{"shared user to machine", catalog.OAuthU2M, false},
		{"per user", catalog.OAuthU2MPerUser, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRaceWorld(t)
			caller := w.owner
			principal := ""
			if tc.perUser {
				principal = caller.ID
			}
			old, moved := w.connection(t, tc.ct)
			if err := w.st.UpdateConnection(ctx, moved); err != nil {
				t.Fatal(err)
			}
			// The late token, stored for the old destination after the change.
			late := &catalog.OAuthCredential{ConnectionID: old.ID, PrincipalID: principal}
			if err := w.b.storeToken(ctx, old, late, principal, &oauth.Token{AccessToken: "late-old-token", RefreshToken: "late-old-refresh", Expiry: time.Now().Add(time.Hour)}, ""); err != nil {
				t.Fatal(err)
			}
			w.b.forget(credKey{conn: old.ID, principal: principal})
			// Under the old options it is a good token (the binding is not a breakage).
			if _, v, err := w.b.Header(ctx, old, caller); err != nil || v != "Bearer late-old-token" {
				t.Fatalf("Header(old options) = %q, %v; want the token stored for them", v, err)
			}
			w.b.forget(credKey{conn: old.ID, principal: principal})
			_, v, err := w.b.Header(ctx, moved, caller)
			if v == "Bearer late-old-token" {
				t.Fatal("the token of the old destination was handed out for the new one")
			}
			switch tc.ct {
			case catalog.OAuthM2M:
				if err != nil || v != "Bearer token-1" {
					t.Errorf("Header(new options) = %q, %v; want a fresh token", v, err)
				}
			default:
				if catalog.CodeOf(err) != catalog.OAuthLoginRequired {
					t.Errorf("Header(new options) = %q, %v; want OAUTH_LOGIN_REQUIRED", v, err)
				}
			}
		})
	}
}

// TestFlightOfTheOldDestinationIsNotJoined: a call under the new options that finds a
// fetch under the old ones in flight waits for it but does not take its token.
func TestFlightOfTheOldDestinationIsNotJoined(t *testing.T) {
	ctx := context.Background()
	w := newRaceWorld(t)
	w.hold.Store(true)
	old, moved := w.connection(t, catalog.OAuthM2M)
	type result struct {
		v   string
		err error
	}
	oldDone := make(chan result, 1)
	go func() {
		_, v, err := w.b.Header(ctx, old, nil)
		oldDone <- result{v, err}
	}()
	select {
	case <-w.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the old fetch never reached the token endpoint")
	}
	if err := w.st.UpdateConnection(ctx, moved); err != nil {
		t.Fatal(err)
	}
	newDone := make(chan result, 1)
	go func() {
		_, v, err := w.b.Header(ctx, moved, nil)
		newDone <- result{v, err}
	}()
	// The new call is waiting on the old flight (or about to); let the old fetch end.
	close(w.release)
	var r result
	for _, ch := range []chan result{oldDone, newDone} {
		select {
		case r = <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("a call did not return")
		}
		if r.err != nil {
			t.Fatalf("Header: %v", r.err)
		}
	}
	if r.v == "Bearer token-1" {
		t.Error("the call under the new options got the token fetched for the old ones")
	}
}
