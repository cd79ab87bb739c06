package main

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxyCall measures one small GET through a bearer connection, end to end on
// loopback: authentication, grant check through a group, credential injection, the
// upstream TLS round trip and the audit record. The reference sub-benchmark calls the
// same upstream directly through a client with the same settings, so the difference is
// Gatehouse's cost.
func BenchmarkProxyCall(b *testing.B) {
	up := newUpstream(b, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	w := newProxyWorld(b, up)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := w.ts.URL + "/api/2.0/unity-catalog/connections/echo/proxy/x"
	b.Run("gatehouse", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+w.alice)
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
