package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// Permanent security tables for DESIGN §1 "Secrets follow their destination" and
// "ALL_PRIVILEGES is every privilege except MANAGE" (issue 8, points 1 and 2).

// attackerRequest is one request the attacker's host received, in full.
type attackerRequest struct {
	Addr, Method, URL string
	Header            http.Header
	Body              string
}

func (r attackerRequest) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", r.Addr, r.Method, r.URL)
	for k, vs := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ", "))
	}
	b.WriteString(r.Body)
	return b.String()
}

// attacker is an HTTPS host on loopback that records every request. It listens on
// 127.0.0.2 at the given ports (the victim's ports, so that a change of host alone
// reaches it) and on 127.0.0.1 at a port of its own (a change of port alone, or an OAuth
// endpoint). As a token endpoint it issues tokens of its own; metadata it does not have.
type attacker struct {
	pem  []byte
	port string // its own port on 127.0.0.1
	mu   sync.Mutex
	reqs []attackerRequest
}

func newAttacker(t *testing.T, victimPorts ...string) *attacker {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "attacker"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a := &attacker{pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	issued := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		a.mu.Lock()
		a.reqs = append(a.reqs, attackerRequest{Addr: r.Host, Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: string(body)})
		issued++
		n := issued
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/.well-known/"):
			http.NotFound(w, r)
		case r.URL.Path == "/token":
			fmt.Fprintf(w, `{"access_token":"attacker-issued-%d","token_type":"Bearer","expires_in":3600}`, n)
		default:
			io.WriteString(w, `{"sub":"attacker"}`)
		}
	})
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	serve := func(addr string) net.Listener {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("attacker listen %s: %v", addr, err)
		}
		go srv.ServeTLS(ln, "", "")
		return ln
	}
	_, a.port, _ = net.SplitHostPort(serve("127.0.0.1:0").Addr().String())
	for _, p := range victimPorts {
		serve("127.0.0.2:" + p)
	}
	t.Cleanup(func() { srv.Close() })
	return a
}

// mark returns how many requests the attacker has received so far.
func (a *attacker) mark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.reqs)
}

// since returns the requests received after mark m.
func (a *attacker) since(m int) []attackerRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]attackerRequest(nil), a.reqs[m:]...)
}

// encodings are the forms in which Gatehouse could send a secret: plain, base64 (both
// alphabets, padded or not), form- and URL-encoded, and, with a client ID, both forms
// of an HTTP Basic credential (RFC 6749 §2.3.1 form-encodes id and secret first).
func encodings(secret string, clientIDs ...string) []string {
	out := []string{secret, url.QueryEscape(secret), url.PathEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret))}
	for _, id := range clientIDs {
		for _, pair := range []string{id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)} {
			out = append(out, base64.StdEncoding.EncodeToString([]byte(pair)), base64.RawStdEncoding.EncodeToString([]byte(pair)))
		}
	}
	return out
}

// scanFor fails the test if any request holds any form of any secret.
func scanFor(t *testing.T, what string, reqs []attackerRequest, secrets []string, clientIDs ...string) {
	t.Helper()
	for _, r := range reqs {
		s := r.String()
		for _, sec := range secrets {
			if sec == "" {
				continue
			}
			for _, enc := range encodings(sec, clientIDs...) {
				if strings.Contains(s, enc) {
					t.Errorf("the attacker's host received %s (%q in some encoding) in:\n%s", what, truncateForLog(sec), s)
				}
			}
		}
	}
}

func truncateForLog(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// destWorld is a Gatehouse with a victim API and authorization server (fosite) and an
// attacker host, all on loopback TLS; olivia (CREATE_CONNECTION) owns every connection,
// mike holds MANAGE on each, alice and bob USE_CONNECTION, allie ALL_PRIVILEGES.
type destWorld struct {
	*oauthWorld
	echo  *upstream // the victim API of bearer connections
	evil  *attacker // the attacker's host
	seen  *sync.Map // Authorization headers the OAuth victim API received
	roles map[string]string
}

var (
	destOld = oauthtest.Client{ID: "dest-old", Secret: "CANARY-dest-old-secret-5e1f", AuthMethod: oauthtest.AuthBasic}
	destNew = oauthtest.Client{ID: "dest-new", Secret: "CANARY-dest-new-secret-77a0", AuthMethod: oauthtest.AuthBasic}
)

const destBearerOld = "CANARY-dest-bearer-old-0b9d"

func newDestWorld(t *testing.T) *destWorld {
	t.Helper()
	as := oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{destOld, destNew}})
	seen := &sync.Map{}
	inner := as.UpstreamHandler()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"), true)
		inner.ServeHTTP(w, r)
	}))
	up.StartTLS()
	t.Cleanup(up.Close)
	echo := newUpstream(t, nil)
	_, echoPort, _ := net.SplitHostPort(echo.Listener.Addr().String())
	_, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	evil := newAttacker(t, echoPort, upPort)
	asPEM, err := os.ReadFile(as.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "cas.pem")
	all := append(append(append(asPEM, pemOf(up)...), pemOf(echo.Server)...), evil.pem...)
	if err := os.WriteFile(caFile, all, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", nil, "--upstream-ca-file", caFile)
	as.RegisterRedirectURI(ts.URL + "/login/oauth/http.html")
	w := &destWorld{oauthWorld: &oauthWorld{t: t, ts: ts, as: as, up: up, users: map[string]string{}}, echo: echo, evil: evil, seen: seen,
		roles: map[string]string{"admin": ts.Admin}}
	for role, name := range map[string]string{"owner": "olivia", "manager": "mike", "alice": "alice", "bob": "bob", "allie": "allie"} {
		_, w.users[name] = ts.mkUser(name)
		w.roles[role] = w.users[name]
	}
	ts.grant("metastore", "default", "olivia", "CREATE_CONNECTION")
	return w
}

// create makes a connection owned by olivia with the world's grants.
func (w *destWorld) create(name, credType string, opts map[string]string) {
	w.t.Helper()
	w.ts.must("POST", "/api/2.1/unity-catalog/connections", w.roles["owner"], map[string]any{"name": name, "credential_type": credType, "options": opts}, nil)
	w.ts.must("PATCH", "/api/2.1/unity-catalog/permissions/connection/"+name, w.roles["owner"], map[string]any{"changes": []map[string]any{
		{"principal": "mike", "add": []string{"MANAGE"}},
		{"principal": "alice", "add": []string{"USE_CONNECTION"}},
		{"principal": "bob", "add": []string{"USE_CONNECTION"}},
		{"principal": "allie", "add": []string{"ALL_PRIVILEGES"}},
	}}, nil)
}

func (w *destWorld) bearerOptions() map[string]string {
	return map[string]string{"host": w.echo.URL, "bearer_token": destBearerOld}
}

func (w *destWorld) oauthOptions(credType string, c oauthtest.Client) map[string]string {
	o := map[string]string{"host": w.up.URL, "client_id": c.ID, "client_secret": c.Secret, "token_endpoint": w.as.URL + "/token", "oauth_scope": "offline_access"}
	if credType != "OAUTH_M2M" {
		o["authorization_endpoint"] = w.as.URL + "/authorize"
	}
	return o
}

// options returns the connection's (non-secret) options as the API shows them.
func (w *destWorld) options(name string) map[string]string {
	w.t.Helper()
	var info struct {
		Options map[string]string `json:"options"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/"+name, w.ts.Admin, nil, &info)
	return info.Options
}

// state returns the credential state user sees on the connection.
func (w *destWorld) state(name, token string) string {
	w.t.Helper()
	var info struct {
		CredentialStatus struct {
			State string `json:"state"`
		} `json:"credential_status"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/connections/"+name, token, nil, &info)
	return info.CredentialStatus.State
}

// with returns opts with the changes applied ("" deletes an option).
func with(opts map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range opts {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// TestSecretsFollowTheirDestination: a MANAGE holder, the owner and an admin each change
// each destination option of each credential type without the secret: 400 naming the
// option and the secret to supply, the connection unchanged (users' tokens included),
// the attacker's host receives nothing, and the refusal is audited with the values
// asked for. The stored secrets and users' tokens are live while this runs.
func TestSecretsFollowTheirDestination(t *testing.T) {
	w := newDestWorld(t)
	w.create("bearer", "BEARER_TOKEN", w.bearerOptions())
	w.create("m2m", "OAUTH_M2M", w.oauthOptions("OAUTH_M2M", destOld))
	w.create("shared", "OAUTH_U2M", w.oauthOptions("OAUTH_U2M", destOld))
	w.create("peruser", "OAUTH_U2M_PER_USER", w.oauthOptions("OAUTH_U2M_PER_USER", destOld))
	if code, page := w.login("olivia", "shared"); code != 200 {
		t.Fatalf("olivia authorizing shared = %d %s", code, page)
	}
	for _, u := range []string{"alice", "bob"} {
		if code, page := w.login(u, "peruser"); code != 200 {
			t.Fatalf("%s logging in to peruser = %d %s", u, code, page)
		}
	}
	for _, conn := range []string{"m2m", "shared", "peruser"} {
		if status, _, b := w.call(w.users["alice"], conn); status != 200 {
			t.Fatalf("alice through %s before the table = %d %s", conn, status, b)
		}
	}
	evilHost := func(victim string) string { // the attacker on the victim's port, another address
		u, _ := url.Parse(victim)
		return "https://127.0.0.2:" + u.Port()
	}
	evilURL := "https://127.0.0.1:" + w.evil.port
	type change struct {
		option string
		opts   map[string]string // the changed options given ("" removes one)
	}
	apiChanges := func(victim string) []change {
		return []change{
			{"host", map[string]string{"host": evilHost(victim)}},
			{"port", map[string]string{"host": "https://127.0.0.1", "port": w.evil.port}},
			{"auth_header_name", map[string]string{"auth_header_name": "X-Leak"}},
			{"auth_header_prefix", map[string]string{"auth_header_prefix": "Leaked "}},
		}
	}
	conns := []struct {
		name, credType, secret string
		base                   map[string]string
		changes                []change
	}{
		{"bearer", "BEARER_TOKEN", "bearer_token", w.bearerOptions(), apiChanges(w.echo.URL)},
		{"m2m", "OAUTH_M2M", "client_secret", w.oauthOptions("OAUTH_M2M", destOld), append(apiChanges(w.up.URL),
			change{"token_endpoint", map[string]string{"token_endpoint": evilURL + "/token"}})},
		{"shared", "OAUTH_U2M", "client_secret", w.oauthOptions("OAUTH_U2M", destOld), append(apiChanges(w.up.URL),
			change{"token_endpoint", map[string]string{"token_endpoint": evilURL + "/token"}},
			change{"authorization_endpoint", map[string]string{"authorization_endpoint": evilURL + "/authorize"}})},
		{"peruser", "OAUTH_U2M_PER_USER", "client_secret", w.oauthOptions("OAUTH_U2M_PER_USER", destOld), append(apiChanges(w.up.URL),
			change{"token_endpoint", map[string]string{"token_endpoint": evilURL + "/token"}},
			change{"authorization_endpoint", map[string]string{"authorization_endpoint": evilURL + "/authorize"}})},
	}
	secretsOf := func() []string {
		return append([]string{destBearerOld, destOld.Secret}, w.as.IssuedTokens()...)
	}
	mark := w.evil.mark()
	for _, c := range conns {
		before := w.options(c.name)
		for _, ch := range c.changes {
			for _, role := range []string{"manager", "owner", "admin"} {
				t.Run(c.name+"/"+ch.option+"/"+role, func(t *testing.T) {
					opts := with(c.base, ch.opts)
					delete(opts, c.secret) // the attack: keep the stored secret
					status, b := w.ts.do("PATCH", "/api/2.1/unity-catalog/connections/"+c.name, w.roles[role], map[string]any{"options": opts})
					if status != 400 {
						t.Fatalf("PATCH %s changing %s without %s as %s = %d %s, want 400", c.name, ch.option, c.secret, role, status, b)
					}
					e := decodeErr(t, b)
					if e.ErrorCode != "INVALID_PARAMETER_VALUE" || !strings.Contains(e.Message, "options."+ch.option) || !strings.Contains(e.Message, "options."+c.secret) {
						t.Errorf("refusal = %s %q, want INVALID_PARAMETER_VALUE naming options.%s and options.%s", e.ErrorCode, e.Message, ch.option, c.secret)
					}
					if after := w.options(c.name); !reflect.DeepEqual(after, before) {
						t.Errorf("options after the refused change = %v, want unchanged %v", after, before)
					}
				})
			}
		}
		// What the connection was for still works, with the same tokens.
		switch c.credType {
		case "BEARER_TOKEN":
			if status, b := w.callBearer(w.users["alice"], c.name); status != http.StatusTeapot || !strings.Contains(string(b), authHash("Bearer "+destBearerOld)) {
				t.Errorf("bearer after the table = %d %s, want the echo upstream's 418 with the old token", status, b)
			}
		default:
			if status, _, b := w.call(w.users["alice"], c.name); status != 200 {
				t.Errorf("alice through %s after the table = %d %s", c.name, status, b)
			}
			if st := w.state(c.name, w.users["alice"]); st != "ACTIVE" {
				t.Errorf("%s credential state after the table = %s, want ACTIVE", c.name, st)
			}
		}
	}
	if got := w.evil.since(mark); len(got) != 0 {
		t.Errorf("the attacker's host received %d requests during refused changes, want none; first:\n%s", len(got), got[0])
	}
	scanFor(t, "an old secret or token", w.evil.since(0), secretsOf(), destOld.ID)
	// The refusals are audited, with the destination asked for and no secret.
	l := w.ts.waitAudit("action=updateConnection&connection=bearer&max_results=1000", 12)
	var found bool
	for _, e := range l.Events {
		if e.Response.StatusCode == 400 && e.RequestParams["destination_changed"] == "host" && e.RequestParams["options.host.new"] == "https://127.0.0.2" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audited refusal of the bearer host change naming the new host; events: %+v", l.Events)
	}
}

// TestDestinationChangeWithSecrets: with every secret of the type given, a destination
// change works; the attacker's host then receives only what was given for it (the new
// secret, tokens issued after the change), never the old secret or an old token in any
// encoding; user-to-machine tokens are revoked at the old provider and deleted (users
// see NEEDS_LOGIN); the machine-to-machine token is replaced; the audit record names old
// and new values and the secrets by name only.
func TestDestinationChangeWithSecrets(t *testing.T) {
	w := newDestWorld(t)
	evilHost := func(victim string) string {
		u, _ := url.Parse(victim)
		return "https://127.0.0.2:" + u.Port()
	}
	evilURL := "https://127.0.0.1:" + w.evil.port
	const bearerNew = "CANARY-dest-bearer-new-61c3"
	const attackerSecret = "CANARY-dest-given-for-attacker-2d4e"
	// active returns the tokens of the world's authorization server still active.
	active := func(toks []string) []string {
		var out []string
		for _, tok := range toks {
			if ok, _ := w.as.Introspect(tok); ok {
				out = append(out, tok)
			}
		}
		return out
	}
	tests := []struct {
		name, credType string
		base           map[string]string
		logins         []string          // users who log in before the change
		change         map[string]string // the new options (secrets included)
		oldIDs         []string          // client IDs of the Basic form of the old secret
		after          func(t *testing.T, name string, mark int)
	}{
		{name: "bearer-host", credType: "BEARER_TOKEN", base: w.bearerOptions(),
			change: map[string]string{"host": evilHost(w.echo.URL), "bearer_token": bearerNew},
			after: func(t *testing.T, name string, mark int) {
				if status, b := w.callBearer(w.users["alice"], name); status != 200 {
					t.Fatalf("call after the change = %d %s", status, b)
				}
				got := w.evil.since(mark)
				if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer "+bearerNew {
					t.Errorf("the attacker's host got %v, want one call with the new token", got)
				}
			}},
		{name: "m2m-token-endpoint", credType: "OAUTH_M2M", base: w.oauthOptions("OAUTH_M2M", destOld),
			change: map[string]string{"token_endpoint": evilURL + "/token", "client_secret": attackerSecret}, oldIDs: []string{destOld.ID},
			after: func(t *testing.T, name string, mark int) {
				got := w.evil.since(mark)
				var sawNew bool
				for _, r := range got {
					if r.URL == "/token" && (strings.Contains(r.Body, url.QueryEscape(attackerSecret)) || strings.Contains(r.Header.Get("Authorization"), base64.StdEncoding.EncodeToString([]byte(destOld.ID+":"+url.QueryEscape(attackerSecret))))) {
						sawNew = true
					}
				}
				if !sawNew {
					t.Errorf("the new token endpoint never got the new secret; requests: %v", got)
				}
				// The cached token of the old endpoint is gone: the API now gets the new one.
				w.seen.Clear()
				w.call(w.users["alice"], name)
				var apiGot []string
				w.seen.Range(func(k, _ any) bool { apiGot = append(apiGot, k.(string)); return true })
				for _, h := range apiGot {
					if !strings.HasPrefix(h, "Bearer attacker-issued-") {
						t.Errorf("the API got %q after the change, want only the new endpoint's token", truncateForLog(h))
					}
				}
				if len(apiGot) == 0 {
					t.Error("the API got no call after the change")
				}
			}},
		{name: "m2m-host", credType: "OAUTH_M2M", base: w.oauthOptions("OAUTH_M2M", destOld),
			change: map[string]string{"host": evilHost(w.up.URL), "client_id": destNew.ID, "client_secret": destNew.Secret}, oldIDs: []string{destOld.ID},
			after: func(t *testing.T, name string, mark int) {
				if status, sub, b := w.call(w.users["alice"], name); status != 200 || sub != "attacker" {
					t.Fatalf("call after the change = %d %q %s", status, sub, b)
				}
				got := w.evil.since(mark)
				if len(got) != 1 {
					t.Fatalf("the attacker's host got %d requests, want 1", len(got))
				}
				tok := strings.TrimPrefix(got[0].Header.Get("Authorization"), "Bearer ")
				if ok, sub := w.as.Introspect(tok); !ok || sub != destNew.ID {
					t.Errorf("the attacker's host got a token of %q (active %v), want a fresh one of %s", sub, ok, destNew.ID)
				}
			}},
		{name: "shared-host", credType: "OAUTH_U2M", base: w.oauthOptions("OAUTH_U2M", destOld), logins: []string{"olivia"},
			change: map[string]string{"host": evilHost(w.up.URL), "client_id": destNew.ID, "client_secret": destNew.Secret}, oldIDs: []string{destOld.ID},
			after: func(t *testing.T, name string, mark int) {
				if st := w.state(name, w.users["alice"]); st != "NEEDS_LOGIN" {
					t.Errorf("state after the change = %s, want NEEDS_LOGIN", st)
				}
				if status, _, b := w.call(w.users["alice"], name); status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") {
					t.Errorf("call after the change = %d %s, want 401 OAUTH_LOGIN_REQUIRED", status, b)
				}
				if got := w.evil.since(mark); len(got) != 0 {
					t.Errorf("the attacker's host got %d requests before anyone logged in again, want none", len(got))
				}
				// A new login works and serves the new destination.
				if code, page := w.login("olivia", name); code != 200 {
					t.Fatalf("login again = %d %s", code, page)
				}
				if status, sub, b := w.call(w.users["alice"], name); status != 200 || sub != "attacker" {
					t.Fatalf("call after the new login = %d %q %s", status, sub, b)
				}
			}},
		{name: "peruser-token-endpoint", credType: "OAUTH_U2M_PER_USER", base: w.oauthOptions("OAUTH_U2M_PER_USER", destOld), logins: []string{"alice", "bob"},
			change: map[string]string{"token_endpoint": evilURL + "/token", "client_secret": attackerSecret}, oldIDs: []string{destOld.ID},
			after: func(t *testing.T, name string, mark int) {
				for _, u := range []string{"alice", "bob"} {
					if st := w.state(name, w.users[u]); st != "NEEDS_LOGIN" {
						t.Errorf("%s's state after the change = %s, want NEEDS_LOGIN", u, st)
					}
					if status, _, b := w.call(w.users[u], name); status != 401 || !strings.Contains(string(b), "OAUTH_LOGIN_REQUIRED") {
						t.Errorf("%s's call after the change = %d %s, want 401 OAUTH_LOGIN_REQUIRED", u, status, b)
					}
				}
			}},
		{name: "peruser-host", credType: "OAUTH_U2M_PER_USER", base: w.oauthOptions("OAUTH_U2M_PER_USER", destOld), logins: []string{"alice"},
			change: map[string]string{"host": evilHost(w.up.URL), "client_id": destNew.ID, "client_secret": destNew.Secret}, oldIDs: []string{destOld.ID},
			after: func(t *testing.T, name string, mark int) {
				if st := w.state(name, w.users["alice"]); st != "NEEDS_LOGIN" {
					t.Errorf("state after the change = %s, want NEEDS_LOGIN", st)
				}
				if code, page := w.login("alice", name); code != 200 {
					t.Fatalf("login again = %d %s", code, page)
				}
				if status, sub, b := w.call(w.users["alice"], name); status != 200 || sub != "attacker" {
					t.Fatalf("call after the new login = %d %q %s", status, sub, b)
				}
				got := w.evil.since(mark)
				if len(got) != 1 {
					t.Fatalf("the attacker's host got %d requests, want 1", len(got))
				}
				tok := strings.TrimPrefix(got[0].Header.Get("Authorization"), "Bearer ")
				if ok, sub := w.as.Introspect(tok); !ok || sub != "alice" {
					t.Errorf("the attacker's host got a token of %q (active %v), want alice's new one", sub, ok)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, "-", "_")
			issuedFrom := len(w.as.IssuedTokens())
			w.create(name, tc.credType, tc.base)
			for _, u := range tc.logins {
				if code, page := w.login(u, name); code != 200 {
					t.Fatalf("%s logging in = %d %s", u, code, page)
				}
			}
			if tc.credType != "BEARER_TOKEN" {
				if status, _, b := w.call(w.users["alice"], name); status != 200 {
					t.Fatalf("call before the change = %d %s", status, b)
				}
			}
			oldTokens := w.as.IssuedTokens()[issuedFrom:]
			if tc.credType != "BEARER_TOKEN" && len(active(oldTokens)) == 0 {
				t.Fatal("no active token before the change")
			}
			before := w.options(name)
			mark := w.evil.mark()
			status, b := w.ts.do("PATCH", "/api/2.1/unity-catalog/connections/"+name, w.roles["manager"], map[string]any{"options": with(tc.base, tc.change)})
			if status != 200 {
				t.Fatalf("PATCH with the secrets = %d %s", status, b)
			}
			if tc.credType == "OAUTH_U2M" || tc.credType == "OAUTH_U2M_PER_USER" {
				if left := active(oldTokens); len(left) != 0 {
					t.Errorf("%d of %d old tokens still active at the old provider, want all revoked", len(left), len(oldTokens))
				}
			}
			tc.after(t, name, mark)
			// Never an old secret or an old token, in any form, at the attacker's host.
			scanFor(t, "an old secret or token", w.evil.since(mark), append([]string{destBearerOld, destOld.Secret}, oldTokens...), tc.oldIDs...)
			// The audit record: old and new values of what changed, secrets by name only.
			l := w.ts.waitAudit("action=updateConnection&connection="+name, 1)
			if len(l.Events) == 0 {
				t.Fatal("no updateConnection event")
			}
			e := l.Events[len(l.Events)-1]
			secretName := "client_secret"
			if tc.credType == "BEARER_TOKEN" {
				secretName = "bearer_token"
			}
			if e.RequestParams["secrets_replaced"] != secretName {
				t.Errorf("secrets_replaced = %q, want %s", e.RequestParams["secrets_replaced"], secretName)
			}
			after := w.options(name)
			for k, v := range tc.change {
				if k == "bearer_token" || k == "client_secret" {
					continue
				}
				// host is stored normalized: its port moves to the port option.
				if e.RequestParams["options."+k+".old"] != before[k] || e.RequestParams["options."+k+".new"] != after[k] || after[k] == before[k] || !strings.HasPrefix(v, after[k]) {
					t.Errorf("audit of %s: old %q new %q, want %q → %q (given %q)", k, e.RequestParams["options."+k+".old"], e.RequestParams["options."+k+".new"], before[k], after[k], v)
				}
			}
			if dc := e.RequestParams["destination_changed"]; dc == "" {
				t.Errorf("destination_changed is empty; params %v", e.RequestParams)
			}
			raw, _ := json.Marshal(l)
			for _, sec := range []string{destBearerOld, bearerNew, destOld.Secret, destNew.Secret, attackerSecret} {
				for _, enc := range encodings(sec) {
					if strings.Contains(string(raw), enc) {
						t.Errorf("audit records hold a secret %s", truncateForLog(sec))
					}
				}
			}
		})
	}
}

// callBearer calls GET /x through the named connection and returns the status and body.
func (w *destWorld) callBearer(token, conn string) (int, []byte) {
	w.t.Helper()
	return w.ts.do("GET", "/api/2.0/unity-catalog/connections/"+conn+"/proxy/x", token, nil)
}

// TestAllPrivilegesWithoutManage: an ALL_PRIVILEGES holder may use the connection but
// not change, drop or re-grant it; effective permissions show USE_CONNECTION and no
// MANAGE; a MANAGE holder, the owner and an admin may.
func TestAllPrivilegesWithoutManage(t *testing.T) {
	w := newDestWorld(t)
	w.create("bearer", "BEARER_TOKEN", w.bearerOptions())
	const conn = "/api/2.1/unity-catalog/connections/bearer"
	tests := []struct {
		name, method, path string
		body               any
		want               map[string]int // role → status
	}{
		{"call through the proxy", "GET", "/api/2.0/unity-catalog/connections/bearer/proxy/x", nil,
			map[string]int{"allie": 418, "alice": 418, "manager": 403}},
		{"external function", "POST", "/api/2.0/external-function", map[string]any{"connection_name": "bearer", "method": "GET", "path": "/x"},
			map[string]int{"allie": 418, "manager": 403}},
		{"get connection", "GET", conn, nil, map[string]int{"allie": 200}},
		{"change comment", "PATCH", conn, map[string]any{"comment": "x"}, map[string]int{"allie": 403, "alice": 403, "manager": 200, "owner": 200, "admin": 200}},
		{"rotate the secret", "PATCH", conn, map[string]any{"options": map[string]string{"host": w.echo.URL, "bearer_token": "CANARY-allie-rotation"}},
			map[string]int{"allie": 403, "manager": 200}},
		{"transfer ownership", "PATCH", conn, map[string]any{"owner": "allie"}, map[string]int{"allie": 403}},
		{"grant", "PATCH", "/api/2.1/unity-catalog/permissions/connection/bearer", map[string]any{"changes": []map[string]any{{"principal": "bob", "add": []string{"MANAGE"}}}},
			map[string]int{"allie": 403, "alice": 403}},
		{"provider check", "GET", "/api/2.0/gatehouse/connections/bearer/check", nil, map[string]int{"allie": 403}},
		{"others' effective permissions", "GET", "/api/2.1/unity-catalog/effective-permissions/connection/bearer?principal=alice", nil, map[string]int{"allie": 403, "manager": 200}},
		{"delete", "DELETE", conn, nil, map[string]int{"allie": 403}},
	}
	for _, tc := range tests {
		roles := make([]string, 0, len(tc.want))
		for r := range tc.want {
			roles = append(roles, r)
		}
		sort.Strings(roles)
		for _, role := range roles {
			t.Run(tc.name+"/"+role, func(t *testing.T) {
				status, b := w.ts.do(tc.method, tc.path, w.roles[role], tc.body)
				if status != tc.want[role] {
					t.Errorf("%s %s as %s = %d %s, want %d", tc.method, tc.path, role, status, b, tc.want[role])
				}
				if status == 403 && !strings.Contains(decodeErr(t, b).ErrorCode, "PERMISSION_DENIED") {
					t.Errorf("403 without PERMISSION_DENIED: %s", b)
				}
			})
		}
	}
	// Effective permissions: ALL_PRIVILEGES and the USE_CONNECTION it stands for, never
	// MANAGE; the owner still has all three.
	var eff struct {
		PrivilegeAssignments []struct {
			Principal  string `json:"principal"`
			Privileges []struct {
				Privilege         string `json:"privilege"`
				InheritedFromType string `json:"inherited_from_type"`
			} `json:"privileges"`
		} `json:"privilege_assignments"`
	}
	for role, want := range map[string]string{"allie": "ALL_PRIVILEGES,USE_CONNECTION", "owner": "ALL_PRIVILEGES/OWNER,MANAGE/OWNER,USE_CONNECTION/OWNER"} {
		eff.PrivilegeAssignments = nil
		w.ts.must("GET", "/api/2.1/unity-catalog/effective-permissions/connection/bearer", w.roles[role], nil, &eff)
		var got []string
		for _, a := range eff.PrivilegeAssignments {
			for _, p := range a.Privileges {
				s := p.Privilege
				if p.InheritedFromType != "" {
					s += "/" + p.InheritedFromType
				}
				got = append(got, s)
			}
		}
		sort.Strings(got)
		if g := strings.Join(got, ","); g != want {
			t.Errorf("effective permissions of %s = %s, want %s", role, g, want)
		}
	}
	// The ALL_PRIVILEGES grant is still shown as granted.
	var perms struct {
		PrivilegeAssignments []struct {
			Principal  string   `json:"principal"`
			Privileges []string `json:"privileges"`
		} `json:"privilege_assignments"`
	}
	w.ts.must("GET", "/api/2.1/unity-catalog/permissions/connection/bearer?principal=allie", w.ts.Admin, nil, &perms)
	if len(perms.PrivilegeAssignments) != 1 || strings.Join(perms.PrivilegeAssignments[0].Privileges, ",") != "ALL_PRIVILEGES" {
		t.Errorf("allie's grants = %+v, want ALL_PRIVILEGES", perms.PrivilegeAssignments)
	}
}

// TestLoginStartedBeforeADestinationChange: a login begun under the old token endpoint
// and finished after a (legitimate, secrets given) change is stopped: the old
// provider's authorization code never goes to the new endpoint.
func TestLoginStartedBeforeADestinationChange(t *testing.T) {
	w := newDestWorld(t)
	base := w.oauthOptions("OAUTH_U2M_PER_USER", destOld)
	w.create("peruser", "OAUTH_U2M_PER_USER", base)
	b := newBrowser(w.as.RootCAs())
	b.signIn(t, w.ts.URL, w.users["alice"])
	provider := b.startLogin(t, w.ts.URL, "peruser")
	mark := w.evil.mark()
	evilToken := "https://127.0.0.1:" + w.evil.port + "/token"
	w.ts.must("PATCH", "/api/2.1/unity-catalog/connections/peruser", w.roles["manager"],
		map[string]any{"options": with(base, map[string]string{"token_endpoint": evilToken, "client_secret": "CANARY-dest-login-race-9f00"})}, nil)
	back := b.authorize(t, provider, "alice")
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("the provider sent no code: %s", back)
	}
	resp, page := b.get(t, back.String())
	if resp.StatusCode == 200 || !strings.Contains(page, "changed during the login") {
		t.Errorf("finishing the old login = %d, want it stopped with a clear message:\n%s", resp.StatusCode, page)
	}
	for _, r := range w.evil.since(mark) {
		if r.URL == "/token" {
			t.Errorf("the new token endpoint was called during the old login:\n%s", r)
		}
	}
	scanFor(t, "the old provider's authorization code", w.evil.since(mark), []string{code, destOld.Secret}, destOld.ID)
	if st := w.state("peruser", w.users["alice"]); st != "NEEDS_LOGIN" {
		t.Errorf("alice's state = %s, want NEEDS_LOGIN", st)
	}
}
