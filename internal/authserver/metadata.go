package authserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// MetadataPath is where the authorization server metadata (RFC 8414) is served.
const MetadataPath = "/.well-known/oauth-authorization-server"

// AuthorizePath is the authorization endpoint's path.
const AuthorizePath = "/oidc/v1/authorize"

// Metadata is the authorization server metadata document (RFC 8414 §2) Gatehouse
// publishes for MCP clients (the MCP authorization spec).
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClientIDMetadataDocumentSupported bool     `json:"client_id_metadata_document_supported"`
	// RevocationEndpoint (RFC 7009) is set when the token endpoint's grants revoke
	// (Server.Metadata); public clients revoke without a secret.
	RevocationEndpoint                     string   `json:"revocation_endpoint,omitempty"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
}

// NewMetadata returns the metadata of the authorization server at publicURL (the issuer)
// answering the given grant types.
func NewMetadata(publicURL string, grantTypes ...string) Metadata {
	base := strings.TrimRight(publicURL, "/")
	return Metadata{
		Issuer:                            base,
		AuthorizationEndpoint:             base + AuthorizePath,
		TokenEndpoint:                     base + TokenPath,
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               append([]string{}, grantTypes...), // [] rather than null when none
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		ClientIDMetadataDocumentSupported: true,
	}
}

// MetadataHandler serves md as JSON at GET MetadataPath. The document is the same for
// everyone and public: it may be cached for an hour.
func MetadataHandler(md Metadata) http.Handler {
	body, err := json.Marshal(md)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil { // a struct of strings always marshals; kept for honesty
			http.Error(w, "metadata unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(append(body, '\n'))
	})
}

// Metadata returns the metadata of the authorization server at publicURL whose token
// endpoint is s: its grant types, and its revocation endpoint when s revokes.
func (s *Server) Metadata(publicURL string) Metadata {
	md := NewMetadata(publicURL, s.GrantTypes()...)
	if s.Revokes() {
		md.RevocationEndpoint = md.Issuer + RevokePath
		md.RevocationEndpointAuthMethodsSupported = []string{"none"}
	}
	return md
}

// GrantTypes lists the grant types s answers, sorted.
func (s *Server) GrantTypes() []string {
	out := make([]string, 0, len(s.grants))
	for gt := range s.grants {
		out = append(out, gt)
	}
	slices.Sort(out)
	return out
}
