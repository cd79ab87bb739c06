package scaleout

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// authServer is the tests' authorization server: oauthtest (fosite: refresh tokens
// rotate on every refresh, a reused refresh token answers invalid_grant and revokes
// its whole family, access tokens live Lifespan) behind a front on loopback TLS that
// counts token requests and their outcomes per client and grant type (each
// connection has its own client, so per client is per credential), and can hold one
// token request until the test lets it go. Upstream accepts only currently valid
// access tokens; Plain is a bearer-token upstream for the other tests. CAFile trusts
// all of them.
type authServer struct {
	t        testing.TB
	AS       *oauthtest.Server
	Lifespan time.Duration
	front    *httptest.Server
	URL      string // the front: token_endpoint and authorization_endpoint live here
	Upstream *httptest.Server
	Plain    *httptest.Server
	CAFile   string

	mu      sync.Mutex
	counts  map[countKey]int
	lastOK  map[string]time.Time // client → when its newest token was issued
	changed chan struct{}        // closed and replaced on every count change
	hold    *heldRequest
}

type countKey struct {
	client, grant string
	ok            bool
}

// heldRequest is a token request the front keeps waiting.
type heldRequest struct {
	client, grant string
	arrived       chan struct{} // closed when the request arrives
	gone          chan struct{} // closed when its sender hung up while held
	release       chan struct{} // closed by the test: forward it (if its sender is still there)
	once          sync.Once
}

// The clients, one per connection of the tests.
var (
	m2mClient    = oauthtest.Client{ID: "m2m-client", Secret: "scaleout-m2m-secret"}
	sharedClient = oauthtest.Client{ID: "shared-client", Secret: "scaleout-shared-secret"}
	userClient   = oauthtest.Client{ID: "peruser-client", Secret: "scaleout-peruser-secret"}
)

// newAuthServer starts the authorization server, its front and the upstreams.
func newAuthServer(t testing.TB, lifespan time.Duration) *authServer {
	t.Helper()
	a := &authServer{t: t, Lifespan: lifespan, counts: map[countKey]int{}, lastOK: map[string]time.Time{}, changed: make(chan struct{})}
	a.AS = oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: lifespan, Clients: []oauthtest.Client{m2mClient, sharedClient, userClient}})
	target, _ := url.Parse(a.AS.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.AS.RootCAs()}}
	a.front = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			rp.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		form, _ := url.ParseQuery(string(body))
		client, _, ok := r.BasicAuth()
		if !ok {
			client = form.Get("client_id")
		} else if u, err := url.QueryUnescape(client); err == nil {
			client = u
		}
		grant := form.Get("grant_type")
		if h := a.takeHold(client, grant); h != nil {
			close(h.arrived)
			select {
			case <-r.Context().Done():
				// Its sender died while the request was held: it never reaches the
				// authorization server, as a request lost on the way would not.
				close(h.gone)
				return
			case <-h.release:
				if r.Context().Err() != nil {
					close(h.gone)
					return
				}
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		rp.ServeHTTP(rec, r)
		a.count(client, grant, rec.status == 200)
	}))
	a.front.StartTLS()
	t.Cleanup(a.front.Close)
	a.URL = a.front.URL

	a.Upstream = httptest.NewUnstartedServer(a.AS.UpstreamHandler())
	a.Upstream.StartTLS()
	t.Cleanup(a.Upstream.Close)
	a.Plain = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer scaleout-upstream-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	a.Plain.StartTLS()
	t.Cleanup(a.Plain.Close)

	asPEM, err := os.ReadFile(a.AS.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	all := asPEM
	for _, s := range []*httptest.Server{a.front, a.Upstream, a.Plain} {
		all = append(all, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	a.CAFile = filepath.Join(t.TempDir(), "cas.pem")
	if err := os.WriteFile(a.CAFile, all, 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *authServer) count(client, grant string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts[countKey{client, grant, ok}]++
	if ok {
		a.lastOK[client] = time.Now()
	}
	close(a.changed)
	a.changed = make(chan struct{})
}

// Count is how many token requests of client with grant were answered 200 (ok) or
// not.
func (a *authServer) Count(client, grant string, ok bool) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[countKey{client, grant, ok}]
}

// LastIssued is when the newest token of client was issued.
func (a *authServer) LastIssued(client string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastOK[client]
}

// WaitCount waits (at most timeout) until Count(client, grant, true) reaches n.
func (a *authServer) WaitCount(client, grant string, n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		got, ch := a.counts[countKey{client, grant, true}], a.changed
		a.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// HoldNext makes the front keep the next token request of client with grant.
func (a *authServer) HoldNext(client, grant string) *heldRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := &heldRequest{client: client, grant: grant, arrived: make(chan struct{}), gone: make(chan struct{}), release: make(chan struct{})}
	a.hold = h
	a.t.Cleanup(h.Release)
	return h
}

// Release lets a held request go on (if its sender is still waiting).
func (h *heldRequest) Release() { h.once.Do(func() { close(h.release) }) }

func (a *authServer) takeHold(client, grant string) *heldRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.hold; h != nil && h.client == client && h.grant == grant {
		a.hold = nil
		return h
	}
	return nil
}

// WaitPastExpiry waits until the newest token of every client has expired (past
// its issue plus the lifespan, with a margin), so the next call must renew it.
func (a *authServer) WaitPastExpiry(clients ...string) {
	var until time.Time
	for _, c := range clients {
		if e := a.LastIssued(c).Add(a.Lifespan + 250*time.Millisecond); e.After(until) {
			until = e
		}
	}
	if d := time.Until(until); d > 0 {
		<-time.After(d)
	}
}

// oauthOptions are a connection's options for client at this server.
func (a *authServer) oauthOptions(client oauthtest.Client, credType string) map[string]string {
	o := map[string]string{"host": a.Upstream.URL, "client_id": client.ID, "client_secret": client.Secret,
		"token_endpoint": a.URL + "/token", "oauth_scope": "offline_access"}
	if credType != "OAUTH_M2M" {
		o["authorization_endpoint"] = a.URL + "/authorize"
	}
	return o
}
