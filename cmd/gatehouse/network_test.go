package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// setPolicy replaces the network policy.
func (ts *testServer) setPolicy(p map[string]any) {
	ts.t.Helper()
	ts.must("PUT", "/api/2.0/gatehouse/network-policy", ts.Admin, p, nil)
}

type netEventList struct {
	Events []struct {
		Destination     string `json:"destination"`
		ResolvedAddress string `json:"resolved_address"`
		Source          string `json:"source"`
		Principal       string `json:"principal"`
		Connection      string `json:"connection"`
		Reason          string `json:"reason"`
		AccessType      string `json:"access_type"`
	} `json:"events"`
}

func (ts *testServer) networkEvents(query string) netEventList {
	ts.t.Helper()
	var ev netEventList
	deadline := time.Now().Add(3 * time.Second)
	for {
		ev = netEventList{}
		ts.must("GET", "/api/2.0/gatehouse/network-events?"+query, ts.Admin, nil, &ev)
		if len(ev.Events) > 0 || time.Now().After(deadline) {
			return ev
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var loopbackOnly = map[string]any{"restriction_mode": "FULL_ACCESS", "enforcement_mode": "ENFORCED", "allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"}}
var noPrivate = map[string]any{"restriction_mode": "FULL_ACCESS", "enforcement_mode": "ENFORCED"}

// TestPolicyAppliesToTheConnectionProxy: the same decision for calls through a
// connection; a revoked destination is refused on the next connection.
func TestPolicyAppliesToTheConnectionProxy(t *testing.T) {
	up := newUpstream(t, nil)
	local := newLocalhostUpstream(t)
	// Gatehouse trusts both upstreams' certificates through one CA file.
	f, err := os.OpenFile(up.caFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(local.pem)
	f.Close()
	w := newProxyWorld(t, up)
	ts := w.ts
	if resp, b := w.call(w.alice, "GET", "/x", nil, ""); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("allowed call = %d %s", resp.StatusCode, b)
	}
	ts.setPolicy(noPrivate)
	before := w.up.hits.Load()
	resp, b := w.call(w.alice, "GET", "/x", nil, "")
	if resp.StatusCode != 403 || decodeErr(t, b).ErrorCode != "NETWORK_POLICY_DENIED" {
		t.Fatalf("after revoking the destination = %d %s, want 403 NETWORK_POLICY_DENIED", resp.StatusCode, b)
	}
	if w.up.hits.Load() != before {
		t.Errorf("the upstream was reached after the policy change")
	}
	ev := ts.networkEvents("source=proxy")
	if len(ev.Events) == 0 || ev.Events[0].Principal != "alice@example.com" || ev.Events[0].Connection != "echo" || ev.Events[0].AccessType != "DROP" || !strings.Contains(ev.Events[0].Reason, "loopback") {
		t.Errorf("network events = %+v", ev.Events)
	}
	// Dry run lets a name the policy does not allow through, and records it; enforcing
	// blocks it. (Address classes such as loopback stay refused in dry run: a trial of
	// an allow-list must not open the metadata service or the internal network.)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "named", "options": map[string]string{
		"host": "https://localhost:" + local.port, "bearer_token": "t"}}, nil)
	ts.grant("connection", "named", "alice@example.com", "USE_CONNECTION")
	restricted := func(mode string) map[string]any {
		return map[string]any{"restriction_mode": "RESTRICTED_ACCESS", "enforcement_mode": mode, "allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"},
			"allowed_internet_destinations": []map[string]string{{"destination": "api.partner.test"}}}
	}
	ts.setPolicy(restricted("DRY_RUN"))
	if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/named/proxy/x", w.alice, nil); status != 200 {
		t.Fatalf("dry run = %d %s", status, b)
	}
	if ev := ts.networkEvents("access_type=DRY_RUN_DENIAL"); len(ev.Events) == 0 || !strings.HasPrefix(ev.Events[0].Destination, "localhost:") {
		t.Errorf("DRY_RUN_DENIAL events = %+v", ev.Events)
	}
	ts.setPolicy(restricted("ENFORCED"))
	before = local.hits.Load()
	if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/named/proxy/x", w.alice, nil); status != 403 || local.hits.Load() != before {
		t.Errorf("enforced = %d %s (upstream hits %d→%d)", status, b, before, local.hits.Load())
	}
	// Restricted access with the connection's host allowed as a connection destination.
	ts.setPolicy(map[string]any{"restriction_mode": "RESTRICTED_ACCESS", "allowed_ip_ranges": []string{"127.0.0.0/8"}, "allow_connection_destinations": true})
	if resp, b := w.call(w.alice, "GET", "/x", nil, ""); resp.StatusCode != http.StatusTeapot {
		t.Errorf("restricted with connection destinations = %d %s", resp.StatusCode, b)
	}
	// The counter moved.
	_, metrics := ts.do("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), `gatehouse_network_denials_total{source="proxy",access_type="DROP"}`) {
		t.Errorf("/metrics lacks the denial counter:\n%s", metrics)
	}
	// A wildcard over a public suffix is refused.
	status, b := ts.do("PUT", "/api/2.0/gatehouse/network-policy", ts.Admin, map[string]any{"restriction_mode": "RESTRICTED_ACCESS",
		"allowed_internet_destinations": []map[string]string{{"destination": "*.com"}}})
	if status != 400 || !strings.Contains(string(b), "*.com") {
		t.Errorf("*.com = %d %s", status, b)
	}
}

// TestPolicyAppliesToOAuthTokenEndpoints: the token endpoint is an outbound connection
// like any other.
func TestPolicyAppliesToOAuthTokenEndpoints(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	w.ts.setPolicy(noPrivate)
	status, b := w.connection("m2m", "OAUTH_M2M", basicClient, map[string]string{"oauth_credential_exchange_method": "header_only"})
	if status == 200 || !strings.Contains(string(b), "network policy") {
		t.Fatalf("M2M with the token endpoint denied = %d %s, want a refusal naming the network policy", status, b)
	}
	if w.as.TokenRequests("client_credentials") != 0 {
		t.Errorf("the token endpoint was reached")
	}
	ev := w.ts.networkEvents("source=oauth")
	if len(ev.Events) == 0 {
		t.Fatalf("no oauth network event")
	}
	w.ts.setPolicy(loopbackOnly)
	if status, b := w.connection("m2m", "OAUTH_M2M", basicClient, map[string]string{"oauth_credential_exchange_method": "header_only"}); status != 200 {
		t.Fatalf("M2M allowed = %d %s", status, b)
	}
}

// TestEgressProxy: agents set HTTPS_PROXY; Go's client and curl reach an allowed host,
// get 403 for a denied one and 407 without a token.
func TestEgressProxy(t *testing.T) {
	target := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from upstream") })
	ts := startServer(t, "", nil, "--egress-listen", "127.0.0.1:0", "--egress-max-tunnels", "2")
	egressAddr := egressAddrOf(t, ts)
	_, alice := ts.mkUser("alice@example.com")
	pool := x509.NewCertPool()
	pool.AddCert(target.Certificate())
	var transports []*http.Transport
	client := func(token string) *http.Client {
		pu, _ := url.Parse("http://x:" + token + "@" + egressAddr)
		tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}
		transports = append(transports, tr)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	resp, err := client(alice).Get(target.URL + "/hi")
	if err != nil {
		t.Fatalf("through the egress proxy: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from upstream" {
		t.Fatalf("through the egress proxy = %d %s", resp.StatusCode, body)
	}
	if _, err := client("gth_wrongwrongwrongwrongwrongwrongwrongwrongwrongwrong").Get(target.URL); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("bad token: %v, want 407", err)
	}
	anon := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: egressAddr}), TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	if _, err := anon.Get(target.URL); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("no token: %v, want 407", err)
	}
	anon.CloseIdleConnections()
	ts.setPolicy(noPrivate)
	before := target.hits.Load()
	if _, err := client(alice).Get(target.URL); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("denied destination: %v, want 403", err)
	}
	if target.hits.Load() != before {
		t.Errorf("the denied target was reached")
	}
	if ev := ts.networkEvents("source=egress"); len(ev.Events) == 0 || ev.Events[0].Principal != "alice@example.com" {
		t.Errorf("egress network events = %+v", ev.Events)
	}
	ts.setPolicy(loopbackOnly)
	// curl, as an agent would use it.
	if _, err := exec.LookPath("curl"); err == nil {
		caFile := t.TempDir() + "/ca.pem"
		os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: target.Certificate().Raw}), 0o600)
		cmd := exec.Command("curl", "-sS", "--max-time", "10", "--cacert", caFile, target.URL+"/curl")
		cmd.Env = append(os.Environ(), "HTTPS_PROXY=http://x:"+alice+"@"+egressAddr, "NO_PROXY=")
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "hello from upstream" {
			t.Errorf("curl through HTTPS_PROXY: %v %s", err, out)
		}
	} else {
		t.Log("curl not installed; the Go client covers the HTTPS_PROXY path")
	}
	// The tunnel limit: two open tunnels, the third gets 429, a slot frees on close.
	// First let the clients above give back the tunnels they keep alive.
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	open := func() (net.Conn, string) {
		c, err := net.Dial("tcp", egressAddr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "CONNECT "+strings.TrimPrefix(target.URL, "https://")+" HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer "+alice+"\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		return c, string(buf[:n])
	}
	// Tunnels that the clients above just closed give their slots back asynchronously.
	openOK := func() (net.Conn, string) {
		for deadline := time.Now().Add(3 * time.Second); ; {
			c, r := open()
			if strings.Contains(r, " 200") || time.Now().After(deadline) {
				return c, r
			}
			c.Close()
			time.Sleep(50 * time.Millisecond)
		}
	}
	c1, r1 := openOK()
	c2, r2 := openOK()
	c3, r3 := open()
	if !strings.Contains(r1, " 200") || !strings.Contains(r2, " 200") || !strings.Contains(r3, " 429") {
		t.Errorf("tunnels = %q %q %q, want 200 200 429", r1, r2, r3)
	}
	c3.Close()
	c1.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c4, r4 := open()
		c4.Close()
		if strings.Contains(r4, " 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed after a tunnel closed: %q", r4)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c2.Close()
}

// egressAddrOf reads the egress listener's address from the server's startup output.
func egressAddrOf(t *testing.T, ts *testServer) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out := ts.Stdout.String()
		if i := strings.Index(out, "Egress proxy is listening on "); i >= 0 {
			rest := out[i+len("Egress proxy is listening on "):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				return strings.TrimPrefix(rest[:j], "http://")
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no egress listener line in:\n%s", ts.Stdout.String())
	return ""
}

// localUpstream is an HTTPS server on loopback whose certificate names "localhost", so
// that a connection can reach it by name.
type localUpstream struct {
	port string
	pem  []byte
	hits atomic.Int64
}

func newLocalhostUpstream(t *testing.T) *localUpstream {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	u := &localUpstream{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		io.WriteString(w, "local")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, u.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	u.pem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return u
}
