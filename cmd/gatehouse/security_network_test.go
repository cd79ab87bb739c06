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
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingHost is an HTTPS server on 127.0.0.1 whose certificate names "localhost", so
// that connections and policies can name it, and which counts the TCP connections it
// accepts: the proof that a refused destination was not even connected to. POST /token
// answers as a client_credentials token endpoint.
type countingHost struct {
	port  string
	pem   []byte
	conns atomic.Int64
	hits  atomic.Int64
}

func newCountingHost(t *testing.T) *countingHost {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	h := &countingHost{pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		if r.Method == http.MethodPost && r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at-from-localhost","token_type":"Bearer","expires_in":3600}`)
			return
		}
		io.WriteString(w, "local")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.conns.Add(1)
		}
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, h.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return h
}

// tcpCanary is a plain listener on 127.0.0.1 that counts accepted connections: the
// attacker's "other port".
type tcpCanary struct {
	port     string
	accepted atomic.Int64
}

func newTCPCanary(t *testing.T) *tcpCanary {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCanary{}
	_, c.port, _ = net.SplitHostPort(ln.Addr().String())
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

// writeCAFile writes the certificates to one PEM file for --upstream-ca-file.
func writeCAFile(t *testing.T, pems ...[]byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	var all []byte
	for _, p := range pems {
		all = append(all, p...)
	}
	if err := os.WriteFile(f, all, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// egressConnect sends CONNECT target through the egress proxy with token and returns
// the status and the body of the answer.
func egressConnect(t *testing.T, egressAddr, target, token string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", egressAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Bearer %s\r\n\r\n", target, target, token)
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return res.StatusCode, ""
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(b)
}

// egressGet sends an absolute-form GET through the egress proxy.
func egressGet(t *testing.T, egressAddr, target, token string) (int, string) {
	t.Helper()
	pu, _ := url.Parse("http://x:" + token + "@" + egressAddr)
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(target)
	if err != nil {
		t.Fatalf("GET %s through the egress proxy: %v", target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(b)
}

// networkEventsFor returns the network events of source for destination, newest first.
func (ts *testServer) networkEventsFor(source, destination string) []netEvent {
	ts.t.Helper()
	var ev netEventList
	ts.must("GET", "/api/2.0/gatehouse/network-events?source="+source, ts.Admin, nil, &ev)
	var out []netEvent
	for _, e := range ev.Events {
		if e.Destination == destination {
			out = append(out, netEvent{e.ResolvedAddress, e.Reason})
		}
	}
	return out
}

type netEvent struct{ ResolvedAddress, Reason string }

// waitNewNetworkEvent polls the network events until there are more than before for
// destination from source, and returns the newest.
func (ts *testServer) waitNewNetworkEvent(source, destination string, before int) (netEvent, bool) {
	ts.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if evs := ts.networkEventsFor(source, destination); len(evs) > before {
			return evs[0], true
		}
		if time.Now().After(deadline) {
			return netEvent{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecurityNetworkConnectionDestinations is the permanent table for point 5 of issue 8:
// allow_connection_destinations opens exactly the host:port of enabled connections, and
// only to calls through that connection and to OAuth calls, never to the egress proxy.
// A user who holds only CREATE_CONNECTION creates a connection to localhost:P; the
// attacker's other port P' on the same host, and P itself through the egress proxy, stay
// closed (the listeners see no connection); once the connection is disabled, P is closed
// to OAuth calls as well, and the set follows every later change (re-enable, move to
// another port, delete).
//
// The tests name the host "localhost": under RESTRICTED_ACCESS the name rules apply to
// names, while an IP literal is governed by allowed_ip_ranges alone (which the tests
// need for 127.0.0.0/8).
func TestSecurityNetworkConnectionDestinations(t *testing.T) {
	host := newCountingHost(t)
	host2 := newCountingHost(t)
	other := newTCPCanary(t)
	ts := startServer(t, "", nil, "--upstream-ca-file", writeCAFile(t, host.pem, host2.pem), "--egress-listen", "127.0.0.1:0")
	egressAddr := egressAddrOf(t, ts)
	_, mallory := ts.mkUser("mallory@example.com")
	_, alice := ts.mkUser("alice@example.com")
	ts.grant("metastore", "default", "mallory@example.com", "CREATE_CONNECTION")
	ts.setPolicy(map[string]any{"restriction_mode": "RESTRICTED_ACCESS", "enforcement_mode": "ENFORCED",
		"allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"}, "allow_connection_destinations": true})

	dest := "localhost:" + host.port
	otherDest := "localhost:" + other.port
	dest2 := "localhost:" + host2.port
	ts.must("POST", "/api/2.1/unity-catalog/connections", mallory, map[string]any{"name": "mine", "options": map[string]string{
		"host": "https://" + dest, "bearer_token": "CANARY-mine-bearer"}}, nil)

	// The connection's own destination is open to calls through it.
	if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/mine/proxy/x", mallory, nil); status != 200 || string(b) != "local" {
		t.Fatalf("call through the connection = %d %s, want 200 local", status, b)
	}

	m2m := func(name, tokenEndpoint string) (int, []byte) {
		return ts.do("POST", "/api/2.1/unity-catalog/connections", mallory, map[string]any{"name": name, "connection_type": "HTTP",
			"credential_type": "OAUTH_M2M", "options": map[string]string{"host": "https://api.elsewhere.test", "client_id": "cid",
				"client_secret": "CANARY-m2m-secret", "token_endpoint": tokenEndpoint, "oauth_credential_exchange_method": "header_only"}})
	}
	type row struct {
		name     string
		try      func() (int, string)
		wantOK   bool
		listener func() int64 // connections accepted by the destination's listener
	}
	hostConns := func() int64 { return host.conns.Load() }
	otherConns := func() int64 { return other.accepted.Load() }
	host2Conns := func() int64 { return host2.conns.Load() }
	rows := []row{
		{"egress CONNECT to the other port, by the creator", func() (int, string) { return egressConnect(t, egressAddr, otherDest, mallory) }, false, otherConns},
		{"egress CONNECT to the other port, by another egress user", func() (int, string) { return egressConnect(t, egressAddr, otherDest, alice) }, false, otherConns},
		{"egress CONNECT to the connection's host:port", func() (int, string) { return egressConnect(t, egressAddr, dest, alice) }, false, hostConns},
		{"egress absolute-form GET to the other port", func() (int, string) { return egressGet(t, egressAddr, "http://"+otherDest+"/", alice) }, false, otherConns},
		{"OAuth token call to the other port", func() (int, string) {
			s, b := m2m("m2m-other-port", "https://"+otherDest+"/token")
			return s, string(b)
		}, false, otherConns},
		{"OAuth token call to the connection's host:port", func() (int, string) { s, b := m2m("m2m-same-dest", "https://"+dest+"/token"); return s, string(b) }, true, hostConns},
		{"after disabling: the connection's host:port is closed to OAuth calls", func() (int, string) {
			ts.must("PATCH", "/api/2.1/unity-catalog/connections/mine", mallory, map[string]any{"enabled": false}, nil)
			s, b := m2m("m2m-after-disable", "https://"+dest+"/token")
			return s, string(b)
		}, false, hostConns},
		{"after disabling: egress CONNECT still refused", func() (int, string) { return egressConnect(t, egressAddr, dest, mallory) }, false, hostConns},
		{"enabled again: open to OAuth calls again", func() (int, string) {
			ts.must("PATCH", "/api/2.1/unity-catalog/connections/mine", mallory, map[string]any{"enabled": true}, nil)
			s, b := m2m("m2m-reenabled", "https://"+dest+"/token")
			return s, string(b)
		}, true, hostConns},
		{"moved to another port: the old one is closed", func() (int, string) {
			ts.must("PATCH", "/api/2.1/unity-catalog/connections/mine", mallory, map[string]any{"options": map[string]string{
				"host": "https://" + dest2, "bearer_token": "CANARY-mine-bearer-2"}}, nil)
			s, b := m2m("m2m-old-port", "https://"+dest+"/token")
			return s, string(b)
		}, false, hostConns},
		{"moved to another port: the new one is open", func() (int, string) {
			s, b := m2m("m2m-new-port", "https://"+dest2+"/token")
			return s, string(b)
		}, true, host2Conns},
		{"deleted: its destination is closed", func() (int, string) {
			ts.must("DELETE", "/api/2.1/unity-catalog/connections/mine", mallory, nil, nil)
			s, b := m2m("m2m-after-delete", "https://"+dest2+"/token")
			return s, string(b)
		}, false, host2Conns},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			before := r.listener()
			status, body := r.try()
			if r.wantOK {
				if status != 200 {
					t.Fatalf("= %d %s, want 200", status, body)
				}
				return
			}
			if status != http.StatusForbidden && !(status >= 400 && strings.Contains(body, "NETWORK_POLICY_DENIED")) {
				t.Errorf("= %d %s, want a network policy refusal", status, body)
			}
			if !strings.Contains(body, "network policy denies") {
				t.Errorf("body %q does not say the network policy refused it", body)
			}
			// Give a connection that should not exist the time to arrive.
			time.Sleep(20 * time.Millisecond)
			if n := r.listener(); n != before {
				t.Errorf("the destination's listener accepted %d connection(s), want none", n-before)
			}
		})
	}
	if strings.Contains(ts.responses.String(), "CANARY-") {
		t.Errorf("a secret reached a response")
	}
}

// TestSecurityNetworkDenialMessages is the permanent table for the denial-message item of
// point 14 of issue 8: for a name that resolves to a refused internal address (here
// "localhost", loopback, with no range opening it), what the caller gets — the API
// error of the transparent proxy, of external-function and of an OAuth token call, and
// the egress proxy's 403 body — names the destination as the caller gave it and that the
// network policy refused it, but not the resolved address or its class; the network
// event keeps both.
func TestSecurityNetworkDenialMessages(t *testing.T) {
	host := newCountingHost(t)
	ts := startServer(t, "", nil, "--upstream-ca-file", writeCAFile(t, host.pem), "--egress-listen", "127.0.0.1:0")
	egressAddr := egressAddrOf(t, ts)
	_, alice := ts.mkUser("alice@example.com")
	dest := "localhost:" + host.port
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "inner", "options": map[string]string{
		"host": "https://" + dest, "bearer_token": "CANARY-inner-bearer"}}, nil)
	ts.grant("connection", "inner", "alice@example.com", "USE_CONNECTION")
	// No range opens loopback any more: "localhost" resolves to a refused address.
	ts.setPolicy(noPrivate)

	rows := []struct {
		name, source, destination string
		try                       func() (int, string)
	}{
		{"transparent proxy", "proxy", dest, func() (int, string) {
			s, b := ts.do("GET", "/api/2.0/unity-catalog/connections/inner/proxy/x", alice, nil)
			return s, string(b)
		}},
		{"external-function", "proxy", dest, func() (int, string) {
			s, b := ts.do("POST", "/api/2.0/external-function", alice, map[string]any{"connection_name": "inner", "method": "GET", "path": "/x"})
			return s, string(b)
		}},
		{"OAuth token call", "oauth", dest, func() (int, string) {
			s, b := ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "m2m", "connection_type": "HTTP",
				"credential_type": "OAUTH_M2M", "options": map[string]string{"host": "https://api.elsewhere.test", "client_id": "cid",
					"client_secret": "CANARY-m2m-secret", "token_endpoint": "https://" + dest + "/token", "oauth_credential_exchange_method": "header_only"}})
			return s, string(b)
		}},
		{"egress CONNECT", "egress", dest, func() (int, string) { return egressConnect(t, egressAddr, dest, alice) }},
		{"egress absolute-form GET", "egress", "localhost:80", func() (int, string) {
			return egressGet(t, egressAddr, "http://localhost/x", alice)
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			before := host.conns.Load()
			eventsBefore := len(ts.networkEventsFor(r.source, r.destination))
			status, body := r.try()
			t.Logf("caller got %d %s", status, strings.TrimSpace(body))
			if status < 400 || !strings.Contains(body, "network policy denies "+r.destination) {
				t.Fatalf("= %d %s, want a refusal naming %s", status, body, r.destination)
			}
			for _, leak := range []string{"127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "loopback"} {
				if strings.Contains(body, leak) {
					t.Errorf("the caller's answer %q names the resolved address (%q)", body, leak)
				}
			}
			if n := host.conns.Load(); n != before {
				t.Errorf("the refused destination accepted %d connection(s)", n-before)
			}
			ev, ok := ts.waitNewNetworkEvent(r.source, r.destination, eventsBefore)
			if !ok {
				t.Fatalf("no %s network event for %s", r.source, r.destination)
			}
			if ev.ResolvedAddress != "127.0.0.1" && ev.ResolvedAddress != "::1" {
				t.Errorf("network event resolved_address = %q, want the loopback address", ev.ResolvedAddress)
			}
			if !strings.Contains(ev.Reason, ev.ResolvedAddress) || !strings.Contains(ev.Reason, "loopback") {
				t.Errorf("network event reason %q does not name the address and its class", ev.Reason)
			}
		})
	}
	// The audit record of a denial keeps the resolved address too.
	l := ts.waitAudit("action=networkDenied", 1)
	found := false
	for _, e := range l.Events {
		if a := e.RequestParams["resolved_address"]; a == "127.0.0.1" || a == "::1" {
			found = true
		}
	}
	if !found {
		t.Errorf("no networkDenied audit record names the resolved address: %+v", l.Events)
	}
	if strings.Contains(ts.responses.String(), "CANARY-") {
		t.Errorf("a secret reached a response")
	}
}
