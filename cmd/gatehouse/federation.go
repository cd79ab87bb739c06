package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/federation"
)

// Workload identity federation (issue 12): the token endpoint and its token exchange
// grant. Issuers' discovery documents and keys are fetched like OAuth metadata: through
// the network policy's safe dialer, trusting what the OAuth client trusts
// (--upstream-ca-file), never following a redirect, never through an environment proxy.

// federationHTTPClient is the client the token exchange fetches issuers' keys with.
func federationHTTPClient(roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  15 * time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    2,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// newTokenEndpoint is POST /oidc/v1/token with the grants Gatehouse answers.
// extra are more grants: MCP client sign-in's authorization_code and refresh_token.
func newTokenEndpoint(st catalog.Store, rec *audit.Recorder, log *slog.Logger, hc *http.Client, bodyTimeout time.Duration, now func() time.Time, extra ...identity.TokenGrant) *authserver.Server {
	exchange := federation.New(st, federation.Options{HTTPClient: hc, Now: now, Log: log})
	return authserver.New(authserver.Options{Audit: rec, Log: log, BodyTimeout: bodyTimeout}, append([]identity.TokenGrant{exchange}, extra...)...)
}

// newAuthorizationServer serves the authorization server's metadata (RFC 8414) for MCP
// clients (issue 12), naming the grant types the token endpoint answers and its
// revocation endpoint (RFC 7009).
func newAuthorizationServer(publicURL string, token *authserver.Server) http.Handler {
	md := token.Metadata(publicURL)
	mux := http.NewServeMux()
	mux.Handle("GET "+authserver.MetadataPath, authserver.MetadataHandler(md))
	return mux
}
