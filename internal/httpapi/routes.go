package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// routes lists every route of the API in one place.
func (s *Server) routes() {
	m := s.mux
	const uc = "/api/2.1/unity-catalog"
	m.Handle("POST "+uc+"/connections", s.authed(s.audited(catalog.ActionCreateConnection, s.createConnection)))
	m.Handle("GET "+uc+"/connections", s.authed(s.listConnections))
	m.Handle("GET "+uc+"/connections/{name}", s.authed(s.getConnection))
	m.Handle("PATCH "+uc+"/connections/{name}", s.authed(s.audited(catalog.ActionUpdateConnection, s.updateConnection)))
	m.Handle("DELETE "+uc+"/connections/{name}", s.authed(s.audited(catalog.ActionDeleteConnection, s.deleteConnection)))

	m.Handle("GET "+uc+"/permissions/{type}/{name}", s.authed(s.getPermissions))
	m.Handle("PATCH "+uc+"/permissions/{type}/{name}", s.authed(s.audited(catalog.ActionUpdatePermissions, s.updatePermissions)))
	m.Handle("GET "+uc+"/effective-permissions/{type}/{name}", s.authed(s.getEffectivePermissions))

	m.Handle("POST /api/2.0/token/create", s.authed(s.audited(catalog.ActionTokenCreate, s.createToken)))
	m.Handle("GET /api/2.0/token/list", s.authed(s.listTokens))
	m.Handle("POST /api/2.0/token/delete", s.authed(s.audited(catalog.ActionTokenDelete, s.deleteToken)))
	m.Handle("POST /api/2.0/token-management/on-behalf-of/tokens", s.authed(s.audited(catalog.ActionTokenCreate, s.createOBOToken)))
	m.Handle("GET /api/2.0/token-management/tokens", s.authed(s.listAllTokens))
	m.Handle("DELETE /api/2.0/token-management/tokens/{id}", s.authed(s.audited(catalog.ActionTokenDelete, s.deleteAnyToken)))

	const scim = "/api/2.0/preview/scim/v2"
	m.Handle("GET "+scim+"/Me", s.authed(s.me))
	for res, kind := range map[string]catalog.PrincipalKind{"Users": catalog.KindUser, "Groups": catalog.KindGroup, "ServicePrincipals": catalog.KindServicePrincipal} {
		k := principalKindRoutes{s: s, kind: kind}
		m.Handle("GET "+scim+"/"+res, s.authed(k.list))
		m.Handle("POST "+scim+"/"+res, s.authed(s.audited(catalog.ActionPrincipalChange, k.create)))
		m.Handle("GET "+scim+"/"+res+"/{id}", s.authed(k.getOne))
		m.Handle("PUT "+scim+"/"+res+"/{id}", s.authed(s.audited(catalog.ActionPrincipalChange, k.put)))
		m.Handle("PATCH "+scim+"/"+res+"/{id}", s.authed(s.audited(catalog.ActionPrincipalChange, k.patch)))
		m.Handle("DELETE "+scim+"/"+res+"/{id}", s.authed(s.audited(catalog.ActionPrincipalChange, k.delete)))
	}

	// Calls through connections. The transparent proxy is routed in ServeHTTP, before
	// the mux, which would clean (and redirect) the very paths the proxy must refuse.
	// Neither uses the authed wrapper: a refused call is audited too.
	m.HandleFunc("POST /api/2.0/external-function", s.externalFunction)
	// SQL governance statements (issue 14): docs/sql.md.
	m.Handle("POST /api/2.0/sql/statements", s.authed(s.executeStatement))
	// The MCP proxy: the connection's endpoint itself, with no sub-path.
	// mcpPath is also what isMCPRoute and the resource identifiers are built from.
	m.HandleFunc("POST "+mcpPath+"{name}", s.mcpCall)
	m.HandleFunc("GET "+mcpPath+"{name}", s.mcpCall)
	m.HandleFunc("DELETE "+mcpPath+"{name}", s.mcpCall)
	// MCP OAuth sign-in (issue 12): RFC 9728 metadata of each MCP connection URL.
	m.HandleFunc("GET "+resourceMetadataPath+mcpPath+"{name}", s.protectedResourceMetadata)
	m.Handle("GET /api/2.0/gatehouse/audit", s.authed(s.listAudit))
	m.Handle("GET /api/2.0/gatehouse/audit/verify", s.authed(s.verifyAudit))
	m.Handle("GET "+uc+"/connections/{name}/user-credentials/{principal}", s.authed(s.getUserCredential))
	m.Handle("DELETE "+uc+"/connections/{name}/user-credentials/{principal}", s.authed(s.audited(catalog.ActionCredentialState, s.deleteUserCredential)))
	m.Handle("GET /api/2.0/gatehouse/inventory", s.authed(s.inventory))
	m.Handle("GET /api/2.0/gatehouse/network-policy", s.authed(s.getNetworkPolicy))
	m.Handle("PUT /api/2.0/gatehouse/network-policy", s.authed(s.audited(catalog.ActionUpdateNetworkPolicy, s.putNetworkPolicy)))
	m.Handle("GET /api/2.0/gatehouse/network-events", s.authed(s.listNetworkEvents))
	m.HandleFunc("GET /metrics", s.metrics)
	m.Handle("GET /api/2.0/gatehouse/connections/{name}/check", s.authed(s.checkProvider))
	m.Handle("GET /api/2.0/gatehouse/connections/{name}/mcp-tools", s.authed(s.listMCPTools))
	m.Handle("POST /api/2.0/gatehouse/connections/{name}/mcp-tools/approve", s.authed(s.audited(catalog.ActionMCPToolApprove, s.approveMCPTools)))
	// Workload identity federation (issue 12): federation policies, and the token
	// endpoint (internal/authserver, handed in as TokenEndpoint).
	const fed = "/api/2.0/gatehouse/service-principals/{application_id}/federation-policies"
	m.Handle("GET "+fed, s.authed(s.listFederationPolicies))
	m.Handle("POST "+fed, s.authed(s.audited(catalog.ActionPrincipalChange, s.createFederationPolicy)))
	m.Handle("GET "+fed+"/{policy_id}", s.authed(s.getFederationPolicy))
	m.Handle("PATCH "+fed+"/{policy_id}", s.authed(s.audited(catalog.ActionPrincipalChange, s.updateFederationPolicy)))
	m.Handle("DELETE "+fed+"/{policy_id}", s.authed(s.audited(catalog.ActionPrincipalChange, s.deleteFederationPolicy)))
	if s.TokenEndpoint != nil {
		m.Handle("POST /oidc/v1/token", s.TokenEndpoint)
		m.Handle("POST /oidc/v1/revoke", s.TokenEndpoint) // token revocation, RFC 7009 (issue 12)
	}
	// MCP client sign-in (issue 12): the authorization server's metadata.
	if s.AuthorizationServer != nil {
		m.Handle("GET /.well-known/oauth-authorization-server", s.AuthorizationServer)
	}
	if s.Web != nil {
		// Browser routes: cookies and CSRF, kept apart from the bearer-token API.
		for _, p := range []string{"GET /login", "POST /login", "POST /logout", "GET /connections/{name}/login", "POST /connections/{name}/login", "GET /login/oauth/http.html",
			"POST /login/oidc", "GET /login/oidc/callback", // single sign-on (issue 12); 404 without it
			"GET /oidc/v1/authorize", "POST /oidc/v1/authorize"} { // MCP client sign-in (issue 12)
			m.Handle(p, s.Web)
		}
	}
	if s.Console != nil { // the web console (issue 13): its pages, forms and assets
		for _, p := range s.ConsolePatterns {
			m.Handle(p, s.Console)
		}
	}

	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("/", s.noEndpoint)
}

// readyz answers 200 when the store answers and the keyring seals and opens.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Log.Error("readiness: store", "err", err)
		s.writeError(w, r, catalog.Errorf(catalog.TemporarilyUnavailable, "store is not reachable"))
		return
	}
	if err := s.checkKeyring(); err != nil {
		s.Log.Error("readiness: keyring", "err", err)
		s.writeError(w, r, catalog.Errorf(catalog.TemporarilyUnavailable, "encryption key is not usable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
