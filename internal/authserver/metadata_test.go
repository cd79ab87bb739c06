package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func TestMetadata(t *testing.T) {
	srv := httptest.NewServer(authserver.MetadataHandler(authserver.NewMetadata("https://gatehouse.example/", "refresh_token", "authorization_code")))
	defer srv.Close()
	resp, err := http.Get(srv.URL + authserver.MetadataPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                "https://gatehouse.example",
		"authorization_endpoint":                "https://gatehouse.example/oidc/v1/authorize",
		"token_endpoint":                        "https://gatehouse.example/oidc/v1/token",
		"response_types_supported":              []any{"code"},
		"grant_types_supported":                 []any{"refresh_token", "authorization_code"},
		"code_challenge_methods_supported":      []any{"S256"},
		"token_endpoint_auth_methods_supported": []any{"none"},
		"client_id_metadata_document_supported": true,
	}
	for k, w := range want {
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(got[k])
		if string(wj) != string(gj) {
			t.Errorf("%s = %s, want %s", k, gj, wj)
		}
	}
	if len(got) != len(want) {
		t.Errorf("metadata has %d members, want %d: %v", len(got), len(want), got)
	}
}

func TestGrantTypes(t *testing.T) {
	s := authserver.New(authserver.Options{}, fakeGrant("b"), fakeGrant("a"))
	if got := s.GrantTypes(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("GrantTypes = %v, want [a b]", got)
	}
	b, _ := json.Marshal(authserver.New(authserver.Options{}).Metadata("https://gatehouse.example"))
	if !strings.Contains(string(b), `"grant_types_supported":[]`) {
		t.Errorf("metadata without grants: %s", b)
	}
}

type fakeGrant string

func (g fakeGrant) GrantType() string { return string(g) }
func (g fakeGrant) Exchange(context.Context, identity.TokenRequest) (*identity.TokenResponse, error) {
	return nil, nil
}

// TestServerMetadata: a token server with the authorizer's grants advertises its
// revocation endpoint (RFC 7009) with its grant types; one without a revoker does not.
func TestServerMetadata(t *testing.T) {
	f := newFixture(t)
	md := authserver.New(authserver.Options{}, f.az.Grants()...).Metadata("https://gatehouse.example/")
	if md.RevocationEndpoint != "https://gatehouse.example/oidc/v1/revoke" || !slices.Equal(md.RevocationEndpointAuthMethodsSupported, []string{"none"}) ||
		!slices.Equal(md.GrantTypesSupported, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("metadata %+v", md)
	}
	plain := authserver.New(authserver.Options{}, fakeGrant("a")).Metadata("https://gatehouse.example")
	b, _ := json.Marshal(plain)
	if plain.RevocationEndpoint != "" || strings.Contains(string(b), "revocation") {
		t.Errorf("metadata without a revoker: %s", b)
	}
}
