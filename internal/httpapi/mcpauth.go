package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// mcpPath is where the MCP proxy serves connection {name}: {mcpPath}{name}.
const mcpPath = "/api/2.0/mcp/external/"

// resourceMetadataPath is the well-known prefix of RFC 9728 protected-resource
// metadata; the document of the MCP connection {name} is at
// {resourceMetadataPath}{mcpPath}{name}.
const resourceMetadataPath = "/.well-known/oauth-protected-resource"

// publicBase is the public URL without a trailing slash.
func (s *Server) publicBase() string {
	return strings.TrimSuffix(s.PublicURL, "/")
}

// mcpResource is the resource identifier (RFC 8707) of the MCP connection name, as
// path-named (case folded as connection names are): the audience a token for it
// carries (catalog.Token.Audience).
func (s *Server) mcpResource(name string) string {
	return s.publicBase() + mcpPath + strings.ToLower(strings.TrimSpace(name))
}

// ProtectedResourceMetadata is the RFC 9728 document of one MCP connection URL.
type ProtectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported"`
}

// protectedResourceMetadata serves GET
// /.well-known/oauth-protected-resource/api/2.0/mcp/external/{name}, unauthenticated.
// It answers the same document for every well-formed name, whether a connection of
// that name exists, is an MCP connection or not: the MCP proxy refuses a caller without
// a token before it looks the connection up, and this document must not be the
// existence oracle the proxy is not. So it reads nothing from the store either. A
// malformed name (one no connection can have) gets 404.
func (s *Server) protectedResourceMetadata(w http.ResponseWriter, r *http.Request) {
	name, err := catalog.NormalizeConnectionName(r.PathValue("name"))
	if err != nil {
		s.noEndpoint(w, r)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, ProtectedResourceMetadata{
		Resource:               s.mcpResource(name),
		AuthorizationServers:   []string{s.publicBase()},
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        []string{},
	})
}

// isMCPRoute reports whether r was routed to the MCP proxy.
func isMCPRoute(r *http.Request) bool {
	_, path, _ := strings.Cut(r.Pattern, " ")
	return path == mcpPath+"{name}"
}

// setBearerChallenge sets WWW-Authenticate (RFC 6750, RFC 9728) on a 401 for
// UNAUTHENTICATED: on the MCP proxy it names the connection's protected-resource
// metadata, so that an MCP client can discover where to sign in; a token refused for
// its audience adds error="invalid_token" on every path. It reads nothing: it is built
// from the request path alone.
func (s *Server) setBearerChallenge(w http.ResponseWriter, r *http.Request, err error) {
	var parts []string
	if isMCPRoute(r) {
		if name, nerr := catalog.NormalizeConnectionName(r.PathValue("name")); nerr == nil {
			parts = append(parts, `resource_metadata="`+s.publicBase()+resourceMetadataPath+mcpPath+name+`"`)
		}
	}
	if errors.Is(err, identity.ErrWrongAudience) {
		parts = append(parts, `error="invalid_token"`)
	}
	if len(parts) == 0 {
		return
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(parts, ", "))
}
