package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The permanent security table of point 10 (issue 8): a revoke reaches what is already
// open. Each case opens server-sent-event streams through the transparent proxy (or
// CONNECT tunnels through the egress proxy), takes one access back through the API, and
// asserts that exactly the affected streams end within one second of the API call's
// return — the caller's stream ends and the upstream sees its request cancelled — while
// the streams of another user or another connection keep flowing.

// revokeWithin is the bound of the acceptance: from the revoking API call's return to
// the stream's end.
const revokeWithin = time.Second

// revokeUpstream is an HTTPS server on loopback whose certificate names both
// "localhost" and 127.0.0.1, so that one server is two destinations the network policy
// can tell apart (a name rule refuses localhost and leaves 127.0.0.1). Paths under
// /base/events/ stream an event every 20ms until the request ends, which the test can
// wait for; anything else answers "pong".
type revokeUpstream struct {
	port   string
	caFile string
	pool   *x509.CertPool

	mu    sync.Mutex
	ended map[string]chan struct{} // stream path → closed when the upstream saw it end
}

func newRevokeUpstream(t *testing.T) *revokeUpstream {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	u := &revokeUpstream{pool: x509.NewCertPool(), ended: map[string]chan struct{}{}}
	u.pool.AddCert(cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, u.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	u.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(u.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *revokeUpstream) endedChan(path string) chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	ch, ok := u.ended[path]
	if !ok {
		ch = make(chan struct{})
		u.ended[path] = ch
	}
	return ch
}

func (u *revokeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/base/events/") {
		io.WriteString(w, "pong")
		return
	}
	ended := u.endedChan(r.URL.Path)
	defer close(ended)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// Bounded: a stream that nothing ends stops by itself after a minute.
	for i := 0; i < 3000; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// sseStream is a caller's open stream through the transparent proxy.
type sseStream struct {
	name   string
	path   string // the upstream path, /base/events/...
	events chan struct{}
	done   chan struct{} // closed when the body ends, for any reason
	at     time.Time     // when it ended; read after done
	err    error
}

// openStream opens a stream through connection conn with token and waits for its first
// event.
func openStream(t *testing.T, ts *testServer, token, conn, name string) *sseStream {
	t.Helper()
	s := &sseStream{name: name, path: "/base/events/" + strings.ReplaceAll(name, "/", "-"), events: make(chan struct{}, 4096), done: make(chan struct{})}
	req, err := http.NewRequest("GET", ts.URL+"/api/2.0/unity-catalog/connections/"+conn+"/proxy/events/"+strings.ReplaceAll(name, "/", "-"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// Its own transport: a stream holds its connection, and the test ends them all.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("open stream %s: %v", name, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("open stream %s = %d %s", name, resp.StatusCode, b)
	}
	go func() {
		defer close(s.done)
		rd := bufio.NewReader(resp.Body)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				s.at, s.err = time.Now(), err
				return
			}
			if strings.HasPrefix(line, "data:") {
				select {
				case s.events <- struct{}{}:
				default:
				}
			}
		}
	}()
	select {
	case <-s.events:
	case <-s.done:
		t.Fatalf("stream %s ended before its first event: %v", name, s.err)
	case <-time.After(5 * time.Second):
		t.Fatalf("stream %s: no first event", name)
	}
	return s
}

// alive asserts that the stream still delivers events: a new one arrives within a
// second and the body has not ended.
func (s *sseStream) alive(t *testing.T, up *revokeUpstream) {
	t.Helper()
	for len(s.events) > 0 {
		<-s.events
	}
	select {
	case <-s.events:
	case <-s.done:
		t.Errorf("unaffected stream %s ended: %v", s.name, s.err)
		return
	case <-time.After(time.Second):
		t.Errorf("unaffected stream %s: no event for a second", s.name)
		return
	}
	select {
	case <-up.endedChan(s.path):
		t.Errorf("the upstream request of unaffected stream %s was cancelled", s.name)
	default:
	}
}

// endedBy asserts that the stream's body ended and that the upstream saw its request
// end, both before deadline, and returns when the caller's stream ended.
func (s *sseStream) endedBy(t *testing.T, up *revokeUpstream, deadline time.Time) time.Time {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		t.Fatalf("stream %s still open %s after the revoke", s.name, revokeWithin)
	}
	if s.err == io.EOF {
		t.Errorf("stream %s ended cleanly; a stream cut by a revoke must look broken to the caller", s.name)
	}
	select {
	case <-up.endedChan(s.path):
	case <-timer.C:
		t.Fatalf("the upstream request of stream %s was not cancelled within %s of the revoke", s.name, revokeWithin)
	}
	return s.at
}

// revokeWorld is a server with two connections to one upstream — echo at
// https://localhost:PORT and other at https://127.0.0.1:PORT — and three users: alice
// holds USE_CONNECTION on echo only through the group team and on other directly; bob
// holds it on echo directly.
type revokeWorld struct {
	ts               *testServer
	up               *revokeUpstream
	aliceID, teamID  string
	alice, bob       string // tokens
	aliceTokenID     string
	egress           string // egress listener address, when started with one
	canary           string
	localhostDest    string
	loopbackDestAddr string
}

func newRevokeWorld(t *testing.T, args ...string) *revokeWorld {
	t.Helper()
	up := newRevokeUpstream(t)
	w := &revokeWorld{up: up, canary: "CANARY-revoke-" + fmt.Sprint(time.Now().UnixNano()),
		localhostDest: "localhost:" + up.port, loopbackDestAddr: "127.0.0.1:" + up.port}
	w.ts = startServer(t, "", nil, append([]string{"--upstream-ca-file", up.caFile}, args...)...)
	ts := w.ts
	var u struct {
		ID string `json:"id"`
	}
	ts.must("POST", "/api/2.0/preview/scim/v2/Users", ts.Admin, map[string]any{"userName": "alice@example.com"}, &u)
	w.aliceID = u.ID
	w.alice, w.aliceTokenID, _ = w.token(t, "alice@example.com", 0)
	_, w.bob = ts.mkUser("bob@example.com")
	w.teamID = ts.mkGroup("team", w.aliceID)
	for name, host := range map[string]string{"echo": "https://" + w.localhostDest, "other": "https://" + w.loopbackDestAddr} {
		ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": name, "options": map[string]string{
			"host": host, "base_path": "/base", "bearer_token": w.canary}}, nil)
	}
	ts.grant("connection", "echo", "team", "USE_CONNECTION")
	ts.grant("connection", "echo", "bob@example.com", "USE_CONNECTION")
	ts.grant("connection", "other", "alice@example.com", "USE_CONNECTION")
	return w
}

// token mints a token for a user (lifetime 0: no expiry) and returns its value, id and
// expiry.
func (w *revokeWorld) token(t *testing.T, user string, lifetime int) (value, id string, expires time.Time) {
	t.Helper()
	body := map[string]any{"user_name": user, "comment": "revoke test"}
	if lifetime > 0 {
		body["lifetime_seconds"] = lifetime
	}
	var tok struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID    string `json:"token_id"`
			ExpiryTime int64  `json:"expiry_time"`
		} `json:"token_info"`
	}
	w.ts.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", w.ts.Admin, body, &tok)
	if lifetime > 0 {
		expires = time.UnixMilli(tok.TokenInfo.ExpiryTime)
	}
	return tok.TokenValue, tok.TokenInfo.TokenID, expires
}

// The revokes, each as an admin would make it.
func (w *revokeWorld) deactivateAlice(t *testing.T) {
	w.ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+w.aliceID, w.ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
}

func (w *revokeWorld) deleteToken(id string) func(t *testing.T) {
	return func(t *testing.T) { w.ts.must("DELETE", "/api/2.0/token-management/tokens/"+id, w.ts.Admin, nil, nil) }
}

func (w *revokeWorld) refuseLocalhost(t *testing.T) {
	w.ts.setPolicy(map[string]any{"restriction_mode": "FULL_ACCESS", "enforcement_mode": "ENFORCED",
		"allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"}, "blocked_internet_destinations": []map[string]string{{"destination": "localhost"}}})
}

// wantClosedEvent asserts that closing the connection to localhost was recorded as a
// network denial, like a refused dial.
func (w *revokeWorld) wantClosedEvent(t *testing.T, query string) {
	t.Helper()
	for _, e := range w.ts.networkEvents(query).Events {
		if e.Destination == w.localhostDest && e.AccessType == "DROP" && strings.Contains(e.Reason, "localhost is blocked") {
			return
		}
	}
	t.Errorf("no DROP network event (%s) for the closed connection to %s", query, w.localhostDest)
}

// wantRevokeAudit asserts that the useConnection record of the stream to path names
// the revoke's reason.
func (w *revokeWorld) wantRevokeAudit(t *testing.T, path, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var seen []string
		for _, e := range w.ts.waitAudit("action=useConnection", 1).Events {
			if e.RequestParams["path"] != path {
				continue
			}
			if strings.Contains(e.RequestParams["reason"], reason) && e.Response.ErrorCode != "" {
				return
			}
			seen = append(seen, fmt.Sprintf("%+v", e))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no useConnection record for %s with reason %q; records for it: %v", path, reason, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevokeEndsOpenStreams is the table for proxied streams.
func TestRevokeEndsOpenStreams(t *testing.T) {
	tests := []struct {
		name string
		// expiring: alice's echo stream uses a token that expires in two seconds, and
		// the expiry is the revoke.
		expiring   bool
		revoke     func(w *revokeWorld, t *testing.T)
		ended      []string
		unaffected []string
		// reason is in the audit record of alice's ended echo stream ("" for a policy
		// change, which the network layer records as a network event instead).
		reason string
	}{
		{name: "principal deactivated", revoke: (*revokeWorld).deactivateAlice,
			ended: []string{"alice/echo", "alice/other"}, unaffected: []string{"bob/echo"}, reason: "is deactivated"},
		{name: "token deleted", revoke: func(w *revokeWorld, t *testing.T) { w.deleteToken(w.aliceTokenID)(t) },
			ended: []string{"alice/echo", "alice/other"}, unaffected: []string{"bob/echo"}, reason: "was deleted"},
		{name: "token expiry", expiring: true,
			ended: []string{"alice/echo"}, unaffected: []string{"bob/echo", "alice/other"}, reason: "expired at"},
		{name: "grant revoked", revoke: func(w *revokeWorld, t *testing.T) {
			w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/echo", w.ts.Admin,
				map[string]any{"changes": []map[string]any{{"principal": "team", "remove": []string{"USE_CONNECTION"}}}}, nil)
		}, ended: []string{"alice/echo"}, unaffected: []string{"bob/echo", "alice/other"}, reason: "no longer has USE_CONNECTION"},
		{name: "group membership removed", revoke: func(w *revokeWorld, t *testing.T) {
			w.ts.must("PATCH", "/api/2.0/preview/scim/v2/Groups/"+w.teamID, w.ts.Admin, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "remove", "path": `members[value eq "` + w.aliceID + `"]`}}}, nil)
		}, ended: []string{"alice/echo"}, unaffected: []string{"bob/echo", "alice/other"}, reason: "no longer has USE_CONNECTION"},
		{name: "connection disabled", revoke: func(w *revokeWorld, t *testing.T) {
			w.ts.must("PATCH", "/api/2.1/unity-catalog/connections/echo", w.ts.Admin, map[string]any{"enabled": false}, nil)
		}, ended: []string{"alice/echo", "bob/echo"}, unaffected: []string{"alice/other"}, reason: "connection echo is disabled"},
		{name: "connection deleted", revoke: func(w *revokeWorld, t *testing.T) {
			w.ts.must("DELETE", "/api/2.1/unity-catalog/connections/echo", w.ts.Admin, nil, nil)
		}, ended: []string{"alice/echo", "bob/echo"}, unaffected: []string{"alice/other"}, reason: "connection echo was deleted"},
		{name: "network policy refuses the upstream", revoke: (*revokeWorld).refuseLocalhost,
			ended: []string{"alice/echo", "bob/echo"}, unaffected: []string{"alice/other"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newRevokeWorld(t)
			aliceEcho := w.alice
			var expires time.Time
			if tc.expiring {
				aliceEcho, _, expires = w.token(t, "alice@example.com", 2)
			}
			streams := map[string]*sseStream{
				"alice/echo":  openStream(t, w.ts, aliceEcho, "echo", "alice/echo"),
				"bob/echo":    openStream(t, w.ts, w.bob, "echo", "bob/echo"),
				"alice/other": openStream(t, w.ts, w.alice, "other", "alice/other"),
			}
			var from time.Time
			if tc.expiring {
				if time.Now().After(expires) {
					t.Fatal("the short token expired before its stream was open; the machine is too slow for this case")
				}
				from = expires
			} else {
				tc.revoke(w, t)
				from = time.Now()
			}
			for _, name := range tc.ended {
				at := streams[name].endedBy(t, w.up, from.Add(revokeWithin))
				if tc.expiring && at.Before(expires.Add(-50*time.Millisecond)) {
					t.Errorf("stream %s ended at %v, before its token expired at %v", name, at, expires)
				}
				t.Logf("%s: stream %s ended %v after the revoke", tc.name, name, at.Sub(from).Round(time.Millisecond))
			}
			for _, name := range tc.unaffected {
				streams[name].alive(t, w.up)
			}
			if tc.revoke != nil && strings.HasPrefix(tc.name, "network policy") {
				w.wantClosedEvent(t, "source=proxy")
			}
			if tc.reason != "" {
				w.wantRevokeAudit(t, streams["alice/echo"].path, tc.reason)
			}
			if strings.Contains(w.ts.responses.String(), w.canary) {
				t.Error("a response carried the connection's secret")
			}
		})
	}
}

// tunnelConn is an HTTPS session inside an egress CONNECT tunnel.
type tunnelConn struct {
	name string
	c    *tls.Conn
	br   *bufio.Reader
}

func openTunnel(t *testing.T, egressAddr, token, dest string, pool *x509.CertPool, name string) *tunnelConn {
	t.Helper()
	raw, err := net.DialTimeout("tcp", egressAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Bearer %s\r\n\r\n", dest, dest, token)
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s for %s = %v %v", dest, name, resp, err)
	}
	if br.Buffered() != 0 {
		t.Fatalf("CONNECT %s: bytes after the 200", dest)
	}
	host, _, _ := net.SplitHostPort(dest)
	c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: host})
	if err := c.Handshake(); err != nil {
		t.Fatalf("TLS through the tunnel %s: %v", name, err)
	}
	_ = raw.SetDeadline(time.Time{})
	tc := &tunnelConn{name: name, c: c, br: bufio.NewReader(c)}
	if err := tc.get(); err != nil {
		t.Fatalf("first request on tunnel %s: %v", name, err)
	}
	return tc
}

// get sends one request on the tunnel and reads the answer; nil means "pong" came back.
func (tc *tunnelConn) get() error {
	_ = tc.c.SetDeadline(time.Now().Add(3 * time.Second))
	defer tc.c.SetDeadline(time.Time{})
	req, _ := http.NewRequest("GET", "https://upstream/ping", nil)
	if err := req.Write(tc.c); err != nil {
		return err
	}
	resp, err := http.ReadResponse(tc.br, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != "pong" {
		return fmt.Errorf("answer %d %q", resp.StatusCode, b)
	}
	return nil
}

// closedBy waits (by reading: the upstream sends nothing unasked) until Gatehouse
// closes the tunnel, at the latest by deadline.
func (tc *tunnelConn) closedBy(t *testing.T, deadline time.Time) time.Time {
	t.Helper()
	_ = tc.c.SetReadDeadline(deadline)
	_, err := tc.br.Peek(1)
	at := time.Now()
	if err == nil {
		t.Fatalf("tunnel %s: the upstream sent bytes unasked", tc.name)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("tunnel %s still open %s after the revoke", tc.name, revokeWithin)
	}
	return at
}

// TestRevokeEndsOpenTunnels is the table for egress tunnels: after the revoke, a request
// on the tunnel that was already open fails; another user's tunnel, or one to a
// destination the policy still allows, keeps working.
func TestRevokeEndsOpenTunnels(t *testing.T) {
	tests := []struct {
		name     string
		expiring bool
		revoke   func(w *revokeWorld, t *testing.T)
	}{
		{name: "principal deactivated", revoke: (*revokeWorld).deactivateAlice},
		{name: "token deleted", revoke: func(w *revokeWorld, t *testing.T) { w.deleteToken(w.aliceTokenID)(t) }},
		{name: "token expiry", expiring: true},
		{name: "network policy refuses the destination", revoke: (*revokeWorld).refuseLocalhost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newRevokeWorld(t, "--egress-listen", "127.0.0.1:0")
			egressAddr := egressAddrOf(t, w.ts)
			token := w.alice
			var expires time.Time
			if tc.expiring {
				token, _, expires = w.token(t, "alice@example.com", 2)
			}
			victim := openTunnel(t, egressAddr, token, w.localhostDest, w.up.pool, "alice → localhost")
			other := openTunnel(t, egressAddr, w.bob, w.loopbackDestAddr, w.up.pool, "bob → 127.0.0.1")
			var from time.Time
			if tc.expiring {
				if time.Now().After(expires) {
					t.Fatal("the short token expired before its tunnel was open; the machine is too slow for this case")
				}
				from = expires
			} else {
				tc.revoke(w, t)
				from = time.Now()
			}
			at := victim.closedBy(t, from.Add(revokeWithin))
			if tc.expiring && at.Before(expires.Add(-50*time.Millisecond)) {
				t.Errorf("tunnel closed at %v, before its token expired at %v", at, expires)
			}
			t.Logf("%s: tunnel closed %v after the revoke", tc.name, at.Sub(from).Round(time.Millisecond))
			if err := victim.get(); err == nil {
				t.Fatal("a request on the already-open tunnel succeeded after the revoke")
			}
			if err := other.get(); err != nil {
				t.Errorf("unaffected tunnel %s: %v", other.name, err)
			}
			if strings.HasPrefix(tc.name, "network policy") {
				w.wantClosedEvent(t, "source=egress")
			}
		})
	}
}

// TestRevokeEndsBrowserSession: a browser session signed in with a token stops working
// once that token is deleted (the next page is the sign-in form saying why); a session
// signed in with another token goes on.
func TestRevokeEndsBrowserSession(t *testing.T) {
	w := newRevokeWorld(t)
	signedWith, id, _ := w.token(t, "alice@example.com", 0)
	alice, bob := newBrowser(nil), newBrowser(nil)
	alice.signIn(t, w.ts.URL, signedWith)
	bob.signIn(t, w.ts.URL, w.bob)
	signedIn := func(b *browser, user string) (bool, string) {
		_, page := b.get(t, w.ts.URL+"/login")
		return strings.Contains(page, "Signed in as <strong>"+user+"</strong>"), page
	}
	if ok, page := signedIn(alice, "alice@example.com"); !ok {
		t.Fatalf("alice is not signed in:\n%s", page)
	}
	w.deleteToken(id)(t)
	ok, page := signedIn(alice, "alice@example.com")
	if ok || !strings.Contains(page, "was deleted") {
		t.Fatalf("after the token's deletion the session still works, or the page does not say why:\n%s", page)
	}
	if ok, page := signedIn(bob, "bob@example.com"); !ok {
		t.Errorf("bob's session ended with alice's token:\n%s", page)
	}
	if strings.Contains(page, signedWith) {
		t.Error("the page shows the token")
	}
}
