package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth/oauthtest"
)

// BenchmarkProxyCall measures one small GET through a connection, end to end on
// loopback: authentication, grant check, credential injection, the upstream TLS round
// trip and the audit record. The sub-benchmarks differ only in the credential type, so
// their ratio is the per-call cost of an OAuth credential (cached) against a bearer one.
//
//	go test -run=^$ -bench=ProxyCall -benchtime=3s -count=5 ./cmd/gatehouse
func BenchmarkProxyCall(b *testing.B) {
	up := newUpstream(b, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	as := oauthtest.New(b, oauthtest.Options{AccessTokenLifespan: time.Hour, Clients: []oauthtest.Client{basicClient}})
	asPEM, err := os.ReadFile(as.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	upPEM, err := os.ReadFile(up.caFile)
	if err != nil {
		b.Fatal(err)
	}
	caFile := filepath.Join(b.TempDir(), "cas.pem")
	if err := os.WriteFile(caFile, append(asPEM, upPEM...), 0o600); err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, "", nil, "--upstream-ca-file", caFile)
	_, alice := ts.mkUser("alice@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "bearer", "options": map[string]string{"host": up.URL, "bearer_token": "t"}}, nil)
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "m2m", "options": map[string]string{
		"host": up.URL, "client_id": basicClient.ID, "client_secret": basicClient.Secret, "token_endpoint": as.URL + "/token"}}, nil)
	for _, c := range []string{"bearer", "m2m"} {
		ts.grant("connection", c, "alice@example.com", "USE_CONNECTION")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, conn := range []string{"bearer", "m2m"} {
		url := ts.URL + "/api/2.0/unity-catalog/connections/" + conn + "/proxy/x"
		b.Run(conn, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Authorization", "Bearer "+alice)
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		})
	}
}
