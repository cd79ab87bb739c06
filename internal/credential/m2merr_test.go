package credential

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestM2MFetchErrorSaysWhy: only an answer of the token endpoint "refused the client
// credentials"; a token endpoint that could not be reached says so and why, naming the
// configured host and no address; a server failure says to try again.
func TestM2MFetchErrorSaysWhy(t *testing.T) {
	// Port 1 (tcpmux): nothing listens there, and unlike a port just closed no other
	// process on the machine can take it meanwhile without privileges.
	const closed = "127.0.0.1:1"
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer untrusted.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	release := make(chan struct{})
	silent := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(release)
	answer := func(status int, body string) *httptest.Server {
		s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	refusing := answer(http.StatusUnauthorized, `{"error":"invalid_client","error_description":"bad secret"}`)
	failing := answer(http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`)
	noSuchHost := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "auth.example.invalid", Server: "10.0.0.2:53", IsNotFound: true}}
	}
	tests := []struct {
		name     string
		endpoint string
		opts     oauth.ClientOptions
		timeout  time.Duration
		wantCode catalog.ErrorCode
		want     []string
	}{
		{"connection refused", "https://" + closed + "/token", oauth.ClientOptions{}, 0, catalog.InvalidParameterValue,
			[]string{"could not reach the token endpoint at " + closed, "connection was refused", "not checked"}},
		{"no such host", "https://auth.example.invalid/token", oauth.ClientOptions{DialContext: noSuchHost}, 0, catalog.InvalidParameterValue,
			[]string{"could not reach the token endpoint at auth.example.invalid", "could not be resolved"}},
		{"unknown authority", untrusted.URL + "/token", oauth.ClientOptions{}, 0, catalog.InvalidParameterValue,
			[]string{"could not reach the token endpoint", "TLS failed", "--upstream-ca-file"}},
		{"not TLS", strings.Replace(plain.URL, "http://", "https://", 1) + "/token", oauth.ClientOptions{}, 0, catalog.InvalidParameterValue,
			[]string{"could not reach the token endpoint", "HTTP response to HTTPS client"}},
		{"timeout", silent.URL + "/token", oauth.ClientOptions{RootCAs: poolOf(silent)}, 300 * time.Millisecond, catalog.InvalidParameterValue,
			[]string{"could not reach the token endpoint", "did not answer in time"}},
		{"refused by the endpoint", refusing.URL + "/token", oauth.ClientOptions{RootCAs: poolOf(refusing)}, 0, catalog.InvalidParameterValue,
			[]string{"the token endpoint refused the client credentials", "invalid_client", "bad secret"}},
		{"server failure", failing.URL + "/token", oauth.ClientOptions{RootCAs: poolOf(failing)}, 0, catalog.TemporarilyUnavailable,
			[]string{"the token endpoint failed", "try again", "503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := oauth.NewClient(tt.opts).ClientCredentials(ctx, oauth.Config{ClientID: "id", ClientSecret: "CANARY-secret-1", TokenURL: tt.endpoint, Method: oauth.ExchangeMethod(catalog.ExchangeHeaderAndBody)})
			if err == nil {
				t.Fatal("the exchange succeeded")
			}
			got := m2mFetchError(err)
			var ce *catalog.Error
			if !errors.As(got, &ce) || ce.Code != tt.wantCode {
				t.Fatalf("m2mFetchError(%v) = %v, want code %s", err, got, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(ce.Message, w) {
					t.Errorf("message %q lacks %q", ce.Message, w)
				}
			}
			if tt.name != "refused by the endpoint" && strings.Contains(ce.Message, "refused the client credentials") {
				t.Errorf("message %q blames the client credentials", ce.Message)
			}
			for _, leak := range []string{"10.0.0.2", "CANARY-secret-1"} {
				if strings.Contains(ce.Message, leak) {
					t.Errorf("message %q contains %q", ce.Message, leak)
				}
			}
			if strings.Contains(ce.Message, "dial tcp") {
				t.Errorf("message %q carries net's dial text (with the address dialed)", ce.Message)
			}
		})
	}
}

// poolOf trusts the test server's certificate.
func poolOf(s *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}
