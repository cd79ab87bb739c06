package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// devWarnings are the three relaxations of --dev, each announced at start.
var devWarnings = []string{"DEVELOPMENT MASTER KEY", "DEV: loopback and private ranges", "INSECURE: http:// upstreams are accepted (--dev)"}

// TestDevMode: `gatehouse server --dev` says each relaxation once in the log (WARN) and
// on stdout, and a call through a connection to an http://127.0.0.1 upstream works
// without any policy change; the stored policy stays as it was, and network get shows
// the ranges as the --dev overlay.
func TestDevMode(t *testing.T) {
	var mu sync.Mutex
	var gotAuth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = r.Header.Get("Authorization")
		mu.Unlock()
		_, _ = io.WriteString(w, "hello from loopback")
	}))
	defer up.Close()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag", map[string]string{}, []string{"--dev"}},
		{"environment", map[string]string{"GATEHOUSE_DEV": "true"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := launch(t, t.TempDir(), tc.env, tc.args...)
			if ts.Admin == "" {
				t.Fatalf("no admin token printed:\n%s", ts.Stdout.String())
			}
			stdout, stderr := ts.Stdout.String(), ts.Stderr.String()
			for _, w := range devWarnings {
				if n := strings.Count(stdout, "WARNING: "+w); n != 1 {
					t.Errorf("stdout says %q %d times, want once:\n%s", w, n, stdout)
				}
				n := 0
				for _, line := range strings.Split(stderr, "\n") {
					if strings.Contains(line, "level=WARN") && strings.Contains(line, w) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("log has %d WARN lines with %q, want one:\n%s", n, w, stderr)
				}
			}
			ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "local", "options": map[string]string{
				"host": up.URL, "bearer_token": "dev-token-value"}}, nil)
			status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/local/proxy/hi", ts.Admin, nil)
			mu.Lock()
			auth := gotAuth
			mu.Unlock()
			if status != 200 || string(b) != "hello from loopback" || auth != "Bearer dev-token-value" {
				t.Fatalf("proxied call to %s = %d %q (upstream saw %q), want 200 with the credential injected", up.URL, status, b, auth)
			}
			var p map[string]any
			ts.must("GET", "/api/2.0/gatehouse/network-policy", ts.Admin, nil, &p)
			if r, _ := p["allowed_ip_ranges"].([]any); len(r) != 0 {
				t.Errorf("the stored policy has allowed_ip_ranges %v, want none: --dev must not rewrite it", r)
			}
			dev, _ := json.Marshal(p["dev_allowed_ip_ranges"])
			if !strings.Contains(string(dev), "127.0.0.0/8") || !strings.Contains(string(dev), "192.168.0.0/16") {
				t.Errorf("dev_allowed_ip_ranges = %s, want the --dev ranges", dev)
			}
			if out, err := ts.cli(ts.Admin, "", "network", "get"); err != nil || !strings.Contains(out, "open while --dev is on") {
				t.Errorf("network get = %q, %v; want the --dev ranges shown as such", out, err)
			}
			// Cloud metadata stays refused.
			ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "meta", "options": map[string]string{
				"host": "http://169.254.169.254", "bearer_token": "t"}}, nil)
			if status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/meta/proxy/latest", ts.Admin, nil); status != 403 {
				t.Errorf("call to cloud metadata under --dev = %d %s, want 403", status, b)
			}
		})
	}
}

// TestDevModeKeepsAGivenKey: with a master key set, --dev uses it and does not warn
// about a development key; the other two warnings stay.
func TestDevModeKeepsAGivenKey(t *testing.T) {
	ts := launch(t, t.TempDir(), map[string]string{"GATEHOUSE_MASTER_KEY": "oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE="}, "--dev")
	out := ts.Stdout.String() + ts.Stderr.String()
	if strings.Contains(out, "DEVELOPMENT MASTER KEY") {
		t.Errorf("warned of a development key while one is set:\n%s", out)
	}
	for _, w := range devWarnings[1:] {
		if !strings.Contains(ts.Stdout.String(), "WARNING: "+w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
}

// TestNewcomerErrorsNameTheFix: without --dev, a call to a loopback upstream is refused
// with the command that opens it, and an upstream or token endpoint whose certificate
// no trusted CA signed is refused naming --upstream-ca-file.
func TestNewcomerErrorsNameTheFix(t *testing.T) {
	ts := launch(t, t.TempDir(), map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": identity.NewTokenValue()})
	ts.Admin = ts.env["GATEHOUSE_BOOTSTRAP_TOKEN"]
	tlsUp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tlsUp.Close()
	port := tlsUp.URL[strings.LastIndexByte(tlsUp.URL, ':')+1:]

	for _, tc := range []struct {
		name, host string
		want       []string
	}{
		{"IP literal", "https://127.0.0.1:" + port, []string{"gatehouse network set --allow-ip-range 127.0.0.1/32", "gatehouse server --dev"}},
		{"localhost", "https://localhost:" + port, []string{"gatehouse network set --allow-ip-range ", "gatehouse server --dev"}},
	} {
		t.Run("loopback denial/"+tc.name, func(t *testing.T) {
			name := "lo-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": name, "options": map[string]string{"host": tc.host, "bearer_token": "t"}}, nil)
			status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/"+name+"/proxy/x", ts.Admin, nil)
			e := decodeErr(t, b)
			if status != 403 || e.ErrorCode != "NETWORK_POLICY_DENIED" {
				t.Fatalf("call = %d %s, want 403 NETWORK_POLICY_DENIED", status, b)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q does not name %q", e.Message, w)
				}
			}
		})
	}

	ts.setPolicy(loopbackOnly)
	t.Run("unknown authority/upstream", func(t *testing.T) {
		ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "untrusted", "options": map[string]string{"host": tlsUp.URL, "bearer_token": "t"}}, nil)
		status, b := ts.do("GET", "/api/2.0/unity-catalog/connections/untrusted/proxy/x", ts.Admin, nil)
		if status != 502 || !strings.Contains(decodeErr(t, b).Message, "--upstream-ca-file") {
			t.Fatalf("call = %d %s, want 502 naming --upstream-ca-file", status, b)
		}
	})
	t.Run("unknown authority/token endpoint", func(t *testing.T) {
		status, b := ts.do("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "m2m-untrusted", "credential_type": "OAUTH_M2M", "options": map[string]string{
			"host": tlsUp.URL, "client_id": "c", "client_secret": "s3cret-value", "token_endpoint": tlsUp.URL + "/token",
			"oauth_credential_exchange_method": "header_only"}})
		if status == 200 || !strings.Contains(string(b), "--upstream-ca-file") {
			t.Fatalf("M2M create = %d %s, want a refusal naming --upstream-ca-file", status, b)
		}
		if strings.Contains(string(b), "s3cret-value") {
			t.Fatal("the client secret is in the answer")
		}
	})
}
