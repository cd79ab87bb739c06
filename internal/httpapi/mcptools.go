package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mcp"
)

// listMCPTools answers GET /api/2.0/gatehouse/connections/{name}/mcp-tools: the tools
// of an MCP connection, for whoever may get the connection.
func (s *Server) listMCPTools(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	v, err := s.Governance.ListMCPTools(r.Context(), who.Principal, r.PathValue("name"))
	if err != nil {
		return err
	}
	out, err := s.mcpToolsView(r.Context(), v)
	if err != nil {
		return err
	}
	return ok(w, out)
}

// approveMCPTools answers POST .../mcp-tools/approve {"tools": [...]}: owner, MANAGE or
// admin, refused before the body is read (and without waiting for it: refuseUnread).
func (s *Server) approveMCPTools(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if _, err := s.Governance.ManagedConnection(r.Context(), who.Principal, r.PathValue("name")); err != nil {
		refuseUnread(w, r)
		return err
	}
	var req ApproveMCPToolsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	v, err := s.Governance.ApproveMCPTools(r.Context(), who.Principal, r.PathValue("name"), req.Tools, rec)
	if err != nil {
		return err
	}
	out, err := s.mcpToolsView(r.Context(), v)
	if err != nil {
		return err
	}
	return ok(w, out)
}

// mcpToolsView is the API view of a connection's tools.
func (s *Server) mcpToolsView(ctx context.Context, v *governance.MCPTools) (*MCPToolsView, error) {
	// A stored list always parses (it is validated with this parser); if one did not,
	// no tool would show as allowed, as the proxy would refuse them all.
	allow, allowErr := mcp.ParseAllowList(v.Connection.Options[catalog.OptMCPAllowedTools])
	out := &MCPToolsView{Connection: v.Connection.Name, PinTools: v.PinTools, Tools: make([]MCPToolView, 0, len(v.Tools))}
	approvers := map[string]string{}
	for _, t := range v.Tools {
		tv := MCPToolView{
			Name: t.Name, Description: t.Description, Allowed: allowErr == nil && allow.Allowed(t.Name), State: string(t.State),
			Pin: t.PinHash, Seen: t.SeenHash, FirstSeen: rfc3339(t.FirstSeen), LastSeen: rfc3339(t.LastSeen),
			ChangedAt: rfc3339(t.ChangedAt), ApprovedAt: rfc3339(t.ApprovedAt),
		}
		if id := t.ApprovedBy; id != "" {
			if _, known := approvers[id]; !known {
				names, err := s.principalNames(ctx, id)
				if err != nil {
					return nil, err
				}
				approvers[id] = names[0]
			}
			tv.ApprovedBy = approvers[id]
		}
		out.Tools = append(out.Tools, tv)
	}
	return out, nil
}

// rfc3339 formats t in UTC, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
