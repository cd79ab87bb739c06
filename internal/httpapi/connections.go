package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// errMCPImmutable is the contract's message for a change of is_mcp_connection.
var errMCPImmutable = catalog.Errorf(catalog.InvalidParameterValue, "is_mcp_connection cannot be changed after creation; drop and recreate the connection")

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	privs, err := s.Access.Metastore(r.Context(), who.Principal)
	if err != nil {
		return err
	}
	if !privs.Has(catalog.CreateConnection) {
		return catalog.Errorf(catalog.PermissionDenied, "User %s does not have CREATE_CONNECTION on metastore", who.Principal.Name)
	}
	var req CreateConnectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name, err := catalog.NormalizeConnectionName(req.Name)
	if err != nil {
		return err
	}
	if ct := strings.ToUpper(req.ConnectionType); ct != "" && ct != catalog.ConnectionTypeHTTP {
		return catalog.Errorf(catalog.InvalidParameterValue, "connection_type must be HTTP")
	}
	var credType catalog.CredentialType
	if req.CredentialType != "" {
		credType, err = catalog.ParseCredentialType(req.CredentialType)
	} else {
		credType, err = catalog.InferCredentialType(req.Options)
	}
	if err != nil {
		return err
	}
	noteConnection(r, name)
	note(r, "credential_type", string(credType))
	opts, err := catalog.ValidateOptions(credType, req.Options, s.Validation)
	if err != nil {
		return err
	}
	if err := catalog.ValidateComment(req.Comment); err != nil {
		return err
	}
	now := s.Now()
	c := &catalog.Connection{
		ID: catalog.NewID(), Name: name, ConnectionType: catalog.ConnectionTypeHTTP, CredentialType: credType,
		OwnerID: who.Principal.ID, Comment: req.Comment, Enabled: true,
		CreatedAt: now, CreatedBy: who.Principal.ID, UpdatedAt: now, UpdatedBy: who.Principal.ID,
	}
	if err := s.sealSecrets(c, opts, nil); err != nil {
		return err
	}
	tok, err := s.prepareOAuth(r.Context(), c, opts)
	if err != nil {
		return err
	}
	if err := s.Store.CreateConnection(r.Context(), c); err != nil {
		return connectionExists(err, c.Name)
	}
	if tok != nil {
		if err := s.Broker.StoreM2M(r.Context(), c, tok); err != nil {
			return err
		}
	}
	info, err := s.connectionInfo(r.Context(), c, who)
	if err != nil {
		return err
	}
	return ok(w, info)
}

// sealSecrets moves the secret options out of opts into c.Secrets, sealed and bound to
// the connection's id and the field. A secret absent from opts keeps its sealed value
// from keep (an update that leaves a secret out keeps it).
func (s *Server) sealSecrets(c *catalog.Connection, opts map[string]string, keep map[string][]byte) error {
	c.Options = map[string]string{}
	c.Secrets = map[string][]byte{}
	for k, v := range opts {
		if !catalog.SecretOptions[k] {
			c.Options[k] = v
			continue
		}
		ct, err := s.Keyring.Seal([]byte(v), seal.AAD{SecurableID: c.ID, Field: k})
		if err != nil {
			return fmt.Errorf("seal %s: %w", k, err)
		}
		c.Secrets[k] = ct
	}
	for k, v := range keep {
		if _, given := opts[k]; !given {
			c.Secrets[k] = v
		}
	}
	return nil
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

// connectionExists words a duplicate-name error the way the API names connections.
func connectionExists(err error, name string) error {
	if catalog.IsAlreadyExists(err) {
		return catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", name)
	}
	return err
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
	c, _, err := s.connectionFor(r, who, access.PrivManage, "MANAGE")
	if err != nil {
		return err
	}
	var req UpdateConnectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	next := *c
	changed := []string{}
	if req.Options != nil {
		changed = append(changed, "options")
		var rotated []string
		for k := range req.Options {
			if catalog.SecretOptions[k] {
				rotated = append(rotated, k)
			}
		}
		if len(rotated) > 0 {
			sort.Strings(rotated)
			note(r, "secrets_replaced", strings.Join(rotated, ","))
		}
		if v, given := req.Options[catalog.OptIsMCP]; given && !strings.EqualFold(v, c.Options[catalog.OptIsMCP]) {
			return errMCPImmutable
		}
		// Secrets left out keep their stored value; validation needs to know they are
		// there, so it sees a stand-in that is dropped again below.
		check := make(map[string]string, len(req.Options)+2)
		for k, v := range req.Options {
			check[k] = v
		}
		if _, given := check[catalog.OptIsMCP]; !given {
			check[catalog.OptIsMCP] = c.Options[catalog.OptIsMCP]
		}
		for k := range c.Secrets {
			if _, given := check[k]; !given {
				check[k] = "stored"
			}
		}
		opts, err := catalog.ValidateOptions(c.CredentialType, check, s.Validation)
		if err != nil {
			return err
		}
		for k := range c.Secrets {
			if _, given := req.Options[k]; !given {
				delete(opts, k)
			}
		}
		if err := s.sealSecrets(&next, opts, c.Secrets); err != nil {
			return err
		}
	}
	if req.NewName != nil {
		n, err := catalog.NormalizeConnectionName(*req.NewName)
		if err != nil {
			return err
		}
		next.Name = n
		changed = append(changed, "name")
		note(r, "old_name", c.Name)
		noteConnection(r, n)
	}
	if req.Owner != nil {
		p, err := s.Store.GetPrincipalByName(ctx, *req.Owner)
		if catalog.IsNotFound(err) {
			return catalog.Errorf(catalog.InvalidParameterValue, "owner: principal %s does not exist", truncateName(*req.Owner))
		}
		if err != nil {
			return err
		}
		next.OwnerID = p.ID
		changed = append(changed, "owner")
		note(r, "new_owner", p.Name)
	}
	if req.Comment != nil {
		if err := catalog.ValidateComment(*req.Comment); err != nil {
			return err
		}
		next.Comment = *req.Comment
		changed = append(changed, "comment")
	}
	if req.Enabled != nil {
		next.Enabled = *req.Enabled
		note(r, "enabled", strconv.FormatBool(next.Enabled))
	}
	note(r, "changed", strings.Join(changed, ","))
	next.UpdatedAt, next.UpdatedBy = s.Now(), who.Principal.ID
	var tok *oauth.Token
	if req.Options != nil && next.CredentialType.IsOAuth() {
		plain := map[string]string{}
		for k, v := range req.Options {
			plain[k] = v
		}
		if _, given := plain[catalog.OptClientSecret]; !given {
			secret, err := s.Broker.Config(c)
			if err != nil {
				return err
			}
			plain[catalog.OptClientSecret] = secret.ClientSecret
		}
		for k, v := range next.Options {
			if _, given := plain[k]; !given {
				plain[k] = v
			}
		}
		if tok, err = s.prepareOAuth(ctx, &next, plain); err != nil {
			return err
		}
	}
	if err := s.Store.UpdateConnection(ctx, &next); err != nil {
		return connectionExists(err, next.Name)
	}
	if tok != nil {
		if err := s.Broker.StoreM2M(ctx, &next, tok); err != nil {
			return err
		}
	}
	info, err := s.connectionInfo(ctx, &next, who)
	if err != nil {
		return err
	}
	return ok(w, info)
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	c, _, err := s.connectionFor(r, who, access.PrivManage, "MANAGE")
	if err != nil {
		return err
	}
	// Tokens die with the connection, at the provider too where it offers RFC 7009.
	s.Broker.RevokeAll(r.Context(), c)
	if err := s.Store.DeleteConnection(r.Context(), c.ID); err != nil {
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

// prepareOAuth readies an OAuth connection being created or changed: with no
// oauth_credential_exchange_method it reads the provider's metadata and records the
// method the server supports; for machine-to-machine it fetches a first token, so a
// wrong secret is refused now, in the provider's words. opts holds plaintext options.
func (s *Server) prepareOAuth(ctx context.Context, c *catalog.Connection, opts map[string]string) (*oauth.Token, error) {
	if !c.CredentialType.IsOAuth() {
		return nil, nil
	}
	if c.Options[catalog.OptCredentialExchange] == "" {
		md, err := s.OAuth.Discover(ctx, opts[catalog.OptTokenEndpoint])
		if err != nil {
			s.Log.Warn("oauth metadata discovery failed; using header_and_body", "connection", c.Name, "err", err)
		}
		c.Options[catalog.OptCredentialExchange] = string(oauth.ChooseMethod(md))
	}
	if c.CredentialType != catalog.OAuthM2M {
		return nil, nil
	}
	return s.Broker.FetchM2M(ctx, oauth.Config{
		ClientID: opts[catalog.OptClientID], ClientSecret: opts[catalog.OptClientSecret], TokenURL: opts[catalog.OptTokenEndpoint],
		Scope: opts[catalog.OptOAuthScope], Resource: opts[catalog.OptOAuthResource],
		Method: oauth.ExchangeMethod(c.Options[catalog.OptCredentialExchange]),
	})
}
