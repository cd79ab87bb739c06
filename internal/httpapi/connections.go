package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	// Refused callers are refused before their body is read.
	if err := s.Governance.CanCreateConnection(r.Context(), who.Principal); err != nil {
		return err
	}
	var req CreateConnectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	c, err := s.Governance.CreateConnection(r.Context(), who.Principal, governance.CreateConnection{
		Name: req.Name, ConnectionType: req.ConnectionType, CredentialType: req.CredentialType, Options: req.Options, Comment: req.Comment,
	}, rec)
	if err != nil {
		return err
	}
	info, err := s.connectionInfo(r.Context(), c, who)
	if err != nil {
		return err
	}
	return ok(w, info)
}

// lookupConnection returns the connection named raw from the cache, with what is
// derived from it (connEntry).
func (s *Server) lookupConnection(ctx context.Context, raw string) (*connEntry, error) {
	name, err := catalog.NormalizeConnectionName(raw)
	if err != nil {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", truncateName(raw))
	}
	c, err := s.conns.entry(ctx, s.Store, name)
	if catalog.IsNotFound(err) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", name)
	}
	return c, err
}

// truncateName is a name or path from the request as an error shows it: bound.Truncate
// to 64 bytes (cut at a character boundary, control characters escaped), as governance
// shows names.
func truncateName(s string) string { return bound.Truncate(s, 64) }

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	v, err := s.Governance.GetConnection(r.Context(), who.Principal, r.PathValue("name"))
	if err != nil {
		return err
	}
	return ok(w, connectionInfoOf(v))
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	q := r.URL.Query()
	req := governance.ListConnectionsRequest{PageToken: q.Get("page_token")}
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
		}
		req.MaxResults = n
	}
	page, err := s.Governance.ListConnections(r.Context(), who.Principal, req)
	if err != nil {
		return err
	}
	resp := ListConnectionsResponse{Connections: make([]ConnectionInfo, 0, len(page.Connections)), NextPageToken: page.NextPageToken}
	for _, v := range page.Connections {
		resp.Connections = append(resp.Connections, connectionInfoOf(v))
	}
	return ok(w, resp)
}

func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if _, err := s.Governance.ManagedConnection(r.Context(), who.Principal, r.PathValue("name")); err != nil {
		return err
	}
	var req UpdateConnectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	c, err := s.Governance.UpdateConnection(r.Context(), who.Principal, r.PathValue("name"), governance.UpdateConnection{
		Options: req.Options, NewName: req.NewName, Owner: req.Owner, Comment: req.Comment, Enabled: req.Enabled,
	}, rec)
	if err != nil {
		return err
	}
	info, err := s.connectionInfo(r.Context(), c, who)
	if err != nil {
		return err
	}
	return ok(w, info)
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	if err := s.Governance.DeleteConnection(r.Context(), who.Principal, r.PathValue("name"), rec); err != nil {
		return err
	}
	return ok(w, struct{}{})
}

// connectionInfo is the API view of a connection; secrets never appear in it.
func (s *Server) connectionInfo(ctx context.Context, c *catalog.Connection, who *identity.Identity) (ConnectionInfo, error) {
	v, err := s.Governance.ViewConnection(ctx, who.Principal, c, 0)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return connectionInfoOf(v), nil
}

// connectionInfoOf is the API JSON of a governance view.
func connectionInfoOf(v *governance.ConnectionView) ConnectionInfo {
	c := v.Connection
	return ConnectionInfo{
		Name: c.Name, ConnectionID: c.ID, ConnectionType: c.ConnectionType, CredentialType: string(c.CredentialType),
		Owner: v.Owner, Comment: c.Comment, Options: v.Options, URL: connectionURL(c), SecurableType: string(catalog.SecurableConnection),
		Enabled: c.Enabled, CreatedAt: msec(c.CreatedAt), CreatedBy: v.CreatedBy, UpdatedAt: msec(c.UpdatedAt), UpdatedBy: v.UpdatedBy,
		ProvisioningInfo: ProvisioningInfo{State: "ACTIVE"},
		CredentialStatus: statusJSONOf(v.Status),
	}
}

// connectionURL is where calls through the connection go: host, port, base path.
func connectionURL(c *catalog.Connection) string {
	u := c.Options[catalog.OptHost]
	if p := c.Options[catalog.OptPort]; p != "" {
		u += ":" + p
	}
	return u + c.Options[catalog.OptBasePath]
}

// principalNames maps principal ids to names; a principal that no longer exists shows
// as its id.
func (s *Server) principalNames(ctx context.Context, ids ...string) ([]string, error) {
	return s.Governance.PrincipalNames(ctx, ids...)
}
