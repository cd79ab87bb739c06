package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// errNotMCP is the MCP proxy's refusal of a connection that is not an MCP server.
func errNotMCP(name string) error {
	return catalog.Errorf(catalog.InvalidParameterValue, "connection %s is not an MCP connection (option %s is not \"true\")", name, catalog.OptIsMCP)
}

// mcpCall serves the MCP proxy: POST, GET and DELETE on /api/2.0/mcp/external/{name},
// forwarded to the connection's {host}:{port}{base_path} itself (no sub-path) under the
// decisions of the connection proxy plus one: the connection must be an MCP
// connection. Gatehouse holds no MCP session state: Mcp-Session-Id,
// MCP-Protocol-Version, Last-Event-ID, Mcp-Method and Mcp-Name pass both ways like any
// other end-to-end header, so any replica serves any request. An event stream gets the
// comment line ": ok" first and "X-Accel-Buffering: no", then every event is flushed as
// it arrives; the call is tracked for revocation, which closes an open stream.
// Every POST is read (bounded) and judged as JSON-RPC (serveMCPPost): the allow-list,
// the tool pins, the routing headers, and one mcpToolCall audit event per tools/call.
//
// The mux lets the GET route take HEAD too; the MCP proxy serves exactly POST, GET and
// DELETE, so HEAD gets the catch-all's answer, as any other method does.
func (s *Server) mcpCall(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		s.noEndpoint(w, r)
		return
	}
	c := &call{s: s, w: w, r: r, start: s.Now(), name: r.PathValue("name"), streamed: true, mcp: true}
	if r.Method == http.MethodPost {
		c.serveMCPPost()
		return
	}
	c.serveStreamed("", true)
}

// noEndpoint answers a request no route serves (and a method the MCP proxy does not
// serve). Apart from mcpCall, so that building the error takes no room in the frame an
// event stream is relayed under.
//
//go:noinline
func (s *Server) noEndpoint(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, catalog.Errorf(catalog.ResourceDoesNotExist, "no such endpoint: %s %s", r.Method, truncateName(r.URL.Path)))
}
