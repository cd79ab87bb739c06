package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
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

func (s *Server) lookupConnection(ctx context.Context, raw string) (*catalog.Connection, error) {
	name, err := catalog.NormalizeConnectionName(raw)
	if err != nil {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", truncateName(raw))
	}
	c, err := s.conns.get(ctx, s.Store, name)
	if catalog.IsNotFound(err) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", name)
	}
	return c, err
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// connectionFor finds the connection and the caller's privileges on it, and refuses a
// caller who holds none of want (any privilege at all when want is 0).
func (s *Server) connectionFor(r *http.Request, who *identity.Identity, want access.PrivSet, what string) (*catalog.Connection, access.PrivSet, error) {
	c, err := s.lookupConnection(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, 0, err
	}
	privs, err := s.Access.Connection(r.Context(), who.Principal, c)
	if err != nil {
		return nil, 0, err
	}
	if (want == 0 && privs == 0) || (want != 0 && privs.Expand()&want == 0) {
		return nil, 0, catalog.Errorf(catalog.PermissionDenied, "User %s does not have %s on connection %s", who.Principal.Name, what, c.Name)
	}
	return c, privs, nil
}

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, _, err := s.connectionFor(r, who, 0, "any privilege")
	if err != nil {
		return err
	}
	info, err := s.connectionInfo(r.Context(), c, who)
	if err != nil {
		return err
	}
	return ok(w, info)
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	q := r.URL.Query()
	limit := defaultPageSize
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
		}
		if n > 0 {
			limit = min(n, maxPageSize)
		}
	}
	after := ""
	if v := q.Get("page_token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) > 300 {
			return catalog.Errorf(catalog.InvalidParameterValue, "page_token is not one this server issued")
		}
		after = string(b)
	}
	resp := ListConnectionsResponse{Connections: []ConnectionInfo{}}
	// Read in batches and keep what the caller may see, until the page is full.
	batch := max(limit, 100)
	for len(resp.Connections) < limit {
		cs, err := s.Store.ListConnections(r.Context(), after, batch)
		if err != nil {
			return err
		}
		for i, c := range cs {
			after = c.Name
			privs, err := s.Access.Connection(r.Context(), who.Principal, c)
			if err != nil {
				return err
			}
			if privs == 0 {
				continue
			}
			info, err := s.connectionInfo(r.Context(), c, who)
			if err != nil {
				return err
			}
			resp.Connections = append(resp.Connections, info)
			if len(resp.Connections) == limit {
				if i < len(cs)-1 || len(cs) == batch {
					resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(c.Name))
				}
				break
			}
		}
		if len(cs) < batch {
			break
		}
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
	names, err := s.principalNames(ctx, c.OwnerID, c.CreatedBy, c.UpdatedBy)
	if err != nil {
		return ConnectionInfo{}, err
	}
	opts := make(map[string]string, len(c.Options))
	for k, v := range c.Options {
		if !catalog.SecretOptions[k] {
			opts[k] = v
		}
	}
	st, err := s.Broker.Status(ctx, c, who.Principal)
	if err != nil {
		return ConnectionInfo{}, err
	}
	status, err := s.statusJSON(ctx, st)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return ConnectionInfo{
		Name: c.Name, ConnectionID: c.ID, ConnectionType: c.ConnectionType, CredentialType: string(c.CredentialType),
		Owner: names[0], Comment: c.Comment, Options: opts, URL: connectionURL(c), SecurableType: string(catalog.SecurableConnection),
		Enabled: c.Enabled, CreatedAt: msec(c.CreatedAt), CreatedBy: names[1], UpdatedAt: msec(c.UpdatedAt), UpdatedBy: names[2],
		ProvisioningInfo: ProvisioningInfo{State: "ACTIVE"},
		CredentialStatus: status,
	}, nil
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
	out := make([]string, len(ids))
	for i, id := range ids {
		if id == "" {
			continue
		}
		if i > 0 && ids[i-1] == id {
			out[i] = out[i-1]
			continue
		}
		p, err := s.Store.GetPrincipal(ctx, id)
		switch {
		case catalog.IsNotFound(err):
			out[i] = id
		case err != nil:
			return nil, err
		default:
			out[i] = p.Name
		}
	}
	return out, nil
}
