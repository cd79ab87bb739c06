package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

// BenchmarkForward compares a small GET through Forward with the same GET sent by a bare
// transport straight to the same loopback TLS upstream; the difference is the proxy's
// overhead.
func BenchmarkForward(b *testing.B) {
	up := startUpstream(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"login":"octocat","id":1}`))
	}, false)
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())

	b.Run("direct", func(b *testing.B) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableCompression: true}
		defer tr.CloseIdleConnections()
		url := up.URL + "/user"
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", credential)
			res, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	b.Run("proxy", func(b *testing.B) {
		p := newTestProxy(b, Config{RootCAs: roots})
		tgt := up.target()
		w := &discardWriter{h: http.Header{}}
		hdr := http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer caller"}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			if _, err := p.Forward(context.Background(), w, tgt, Call{Method: "GET", Path: "/user", Header: hdr}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
