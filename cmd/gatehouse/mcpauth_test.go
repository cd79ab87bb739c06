package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestMCPAuthMetadata: a running Gatehouse publishes its authorization server metadata
// (RFC 8414) without authentication, issuer and endpoints under its public URL, naming
// the grant types its token endpoint really answers.
func TestMCPAuthMetadata(t *testing.T) {
	ts := startServer(t, "", nil)
	code, body := ts.do(http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if code != http.StatusOK {
		t.Fatalf("metadata: %d %s", code, body)
	}
	var md struct {
		Issuer        string   `json:"issuer"`
		Authorize     string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		Grants        []string `json:"grant_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		CIMDSupported bool     `json:"client_id_metadata_document_supported"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != ts.URL || md.Authorize != ts.URL+"/oidc/v1/authorize" || md.Token != ts.URL+"/oidc/v1/token" {
		t.Errorf("issuer %q, authorize %q, token %q; want them under %q", md.Issuer, md.Authorize, md.Token, ts.URL)
	}
	if len(md.PKCE) != 1 || md.PKCE[0] != "S256" || !md.CIMDSupported {
		t.Errorf("PKCE methods %v, CIMD supported %v", md.PKCE, md.CIMDSupported)
	}
	found := false
	for _, g := range md.Grants {
		found = found || g == "urn:ietf:params:oauth:grant-type:token-exchange"
	}
	if !found {
		t.Errorf("grant_types_supported %v does not name token exchange", md.Grants)
	}
}
