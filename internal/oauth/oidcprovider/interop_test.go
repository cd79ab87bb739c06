package oidcprovider_test

import (
	"strings"
	"testing"
)

// TestSmokeM2M: a client_credentials connection against oidc-provider, called through
// the transparent proxy; the upstream validates the token by introspection.
func TestSmokeM2M(t *testing.T) {
	w := newWorld(t, providerOptions{})
	if status, b := w.g.connection("m2m", "OAUTH_M2M", w.oauthOpts(basicClient, "OAUTH_M2M", map[string]string{"oauth_credential_exchange_method": "header_only"})); status != 200 {
		t.Fatalf("create = %d %s", status, b)
	}
	status, e, b := w.g.callProxy(w.g.users["alice"], "m2m")
	if status != 200 || e.ClientID != basicClient.ID || !strings.Contains(string(b), "api.read") {
		t.Fatalf("proxy = %d %s", status, b)
	}
}
