package governance

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// Page sizes of ListConnections.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ConnectionView is a connection as a viewer may see it: the row without its sealed
// secrets, the non-secret options, the names of the principals it refers to, the
// viewer's privileges and the credential status the viewer sees (the shared
// credential's, or the viewer's own on a per-user connection).
type ConnectionView struct {
	// Connection is the stored row with Secrets cleared; its Options are the
	// non-secret options (the same map as Options).
	Connection *catalog.Connection
	Options    map[string]string
	Owner      string
	CreatedBy  string
	UpdatedBy  string
	Privileges access.PrivSet
	Status     CredentialStatus
}

// CredentialStatus is a credential's status with the name of who authorized it.
type CredentialStatus struct {
	credential.Status
	// AuthorizedByName is the name of Status.AuthorizedBy ("" when unset; the id of a
	// principal that no longer exists).
	AuthorizedByName string
}

// ViewConnection is the view of c for who, whose privileges on it are privs.
func (s *Service) ViewConnection(ctx context.Context, who *catalog.Principal, c *catalog.Connection, privs access.PrivSet) (*ConnectionView, error) {
	names, err := s.PrincipalNames(ctx, c.OwnerID, c.CreatedBy, c.UpdatedBy)
	if err != nil {
		return nil, err
	}
	opts := make(map[string]string, len(c.Options))
	for k, v := range c.Options {
		if !catalog.SecretOptions[k] {
			opts[k] = v
		}
	}
	row := *c
	row.Secrets, row.Options = nil, opts
	st, err := s.d.Broker.Status(ctx, c, who)
	if err != nil {
		return nil, err
	}
	cs, err := s.credentialStatus(ctx, st)
	if err != nil {
		return nil, err
	}
	return &ConnectionView{Connection: &row, Options: opts, Owner: names[0], CreatedBy: names[1], UpdatedBy: names[2], Privileges: privs, Status: cs}, nil
}

func (s *Service) credentialStatus(ctx context.Context, st credential.Status) (CredentialStatus, error) {
	out := CredentialStatus{Status: st}
	if st.AuthorizedBy != "" {
		n, err := s.PrincipalNames(ctx, st.AuthorizedBy)
		if err != nil {
			return out, err
		}
		out.AuthorizedByName = n[0]
	}
	return out, nil
}

// GetConnection returns the named connection for who, who needs some privilege on it
// (any: the rule of the get-connection API).
func (s *Service) GetConnection(ctx context.Context, who *catalog.Principal, name string) (*ConnectionView, error) {
	c, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	privs, err := s.d.Access.Connection(ctx, who, c)
	if err != nil {
		return nil, err
	}
	if privs == 0 {
		return nil, catalog.Errorf(catalog.PermissionDenied, "User %s does not have any privilege on connection %s", who.Name, c.Name)
	}
	return s.ViewConnection(ctx, who, c, privs)
}

// ListConnectionsRequest asks for one page of the connections a viewer may see.
type ListConnectionsRequest struct {
	// MaxResults bounds the page: 0 is DefaultPageSize, above MaxPageSize is
	// MaxPageSize, negative is refused.
	MaxResults int
	// PageToken continues after the previous page (its NextPageToken).
	PageToken string
	// Keep, when set, keeps only the connections it accepts (a surface's search or
	// filter); the page still fills up to MaxResults.
	Keep func(*ConnectionView) bool
}

// ConnectionPage is one page of ListConnections, ordered by name.
type ConnectionPage struct {
	Connections   []*ConnectionView
	NextPageToken string
}

// ListConnections lists the connections who holds some privilege on, in name order,
// one page at a time: the store is read in batches and what who may not see is
// skipped, until the page is full.
func (s *Service) ListConnections(ctx context.Context, who *catalog.Principal, req ListConnectionsRequest) (*ConnectionPage, error) {
	if req.MaxResults < 0 {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "max_results must be a non-negative number")
	}
	limit := DefaultPageSize
	if req.MaxResults > 0 {
		limit = min(req.MaxResults, MaxPageSize)
	}
	after := ""
	if req.PageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(req.PageToken)
		if err != nil || len(b) > 300 {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "page_token is not one this server issued")
		}
		after = string(b)
	}
	out := &ConnectionPage{Connections: []*ConnectionView{}}
	batch := max(limit, 100)
	for len(out.Connections) < limit {
		cs, err := s.d.Store.ListConnections(ctx, after, batch)
		if err != nil {
			return nil, err
		}
		for i, c := range cs {
			after = c.Name
			privs, err := s.d.Access.Connection(ctx, who, c)
			if err != nil {
				return nil, err
			}
			if privs == 0 {
				continue
			}
			v, err := s.ViewConnection(ctx, who, c, privs)
			if err != nil {
				return nil, err
			}
			if req.Keep != nil && !req.Keep(v) {
				continue
			}
			out.Connections = append(out.Connections, v)
			if len(out.Connections) == limit {
				if i < len(cs)-1 || len(cs) == batch {
					out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(c.Name))
				}
				break
			}
		}
		if len(cs) < batch {
			break
		}
	}
	return out, nil
}

// PrincipalNames maps principal ids to names; a principal that no longer exists shows
// as its id, and "" stays "".
func (s *Service) PrincipalNames(ctx context.Context, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id == "" {
			continue
		}
		if i > 0 && ids[i-1] == id {
			out[i] = out[i-1]
			continue
		}
		p, err := s.d.Store.GetPrincipal(ctx, id)
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

// ProviderCheck is the outcome of a provider check: the redirect URI the provider
// must have registered and each check with its evidence (never a secret).
type ProviderCheck struct {
	Connection  string
	RedirectURI string
	Checks      []oauth.Check
}

// CheckProvider runs the provider check of the named OAuth connection; who needs owner,
// MANAGE or admin.
func (s *Service) CheckProvider(ctx context.Context, who *catalog.Principal, name string) (*ProviderCheck, error) {
	c, err := s.ManagedConnection(ctx, who, name)
	if err != nil {
		return nil, err
	}
	if !c.CredentialType.IsOAuth() {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "connection %s uses %s; provider checks are for OAuth connections", c.Name, c.CredentialType)
	}
	cfg, err := s.d.Broker.Config(c)
	if err != nil {
		return nil, err
	}
	checks := s.d.OAuth.CheckProvider(ctx, cfg, s.d.Broker.RedirectURI(), c.CredentialType == catalog.OAuthM2M)
	return &ProviderCheck{Connection: c.Name, RedirectURI: s.d.Broker.RedirectURI(), Checks: checks}, nil
}

// CheckNewProvider runs the provider check on the options of a connection not created
// yet (the console's wizard checks before it saves); who needs CREATE_CONNECTION, and
// the options are validated as CreateConnection validates them. Nothing is stored.
func (s *Service) CheckNewProvider(ctx context.Context, who *catalog.Principal, req CreateConnection) (*ProviderCheck, error) {
	if err := s.CanCreateConnection(ctx, who); err != nil {
		return nil, err
	}
	if err := catalog.CheckOptionNames(req.Options); err != nil {
		return nil, err
	}
	credType, err := catalog.ParseCredentialType(req.CredentialType)
	if err != nil {
		return nil, err
	}
	if !credType.IsOAuth() {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "provider checks are for OAuth connections, not %s", credType)
	}
	opts, err := catalog.ValidateOptions(credType, req.Options, s.d.Validation)
	if err != nil {
		return nil, err
	}
	cfg := oauth.Config{
		ClientID: opts[catalog.OptClientID], ClientSecret: opts[catalog.OptClientSecret],
		AuthURL: opts[catalog.OptAuthorizationEndpoint], TokenURL: opts[catalog.OptTokenEndpoint],
		Scope: opts[catalog.OptOAuthScope], Resource: catalog.OAuthResource(opts),
		Method: oauth.ExchangeMethod(opts[catalog.OptCredentialExchange]),
	}
	checks := s.d.OAuth.CheckProvider(ctx, cfg, s.d.Broker.RedirectURI(), credType == catalog.OAuthM2M)
	return &ProviderCheck{Connection: strings.TrimSpace(req.Name), RedirectURI: s.d.Broker.RedirectURI(), Checks: checks}, nil
}

// UserCredential resolves the credential of principal (a name) on the named per-user
// connection: the principal itself, or a MANAGE holder of the connection (admins
// included), may see it and disconnect it. It returns the connection, the principal and
// the credential's status.
func (s *Service) UserCredential(ctx context.Context, who *catalog.Principal, name, principal string) (*catalog.Connection, *catalog.Principal, CredentialStatus, error) {
	c, err := s.lookup(ctx, name)
	if err != nil {
		return nil, nil, CredentialStatus{}, err
	}
	if c.CredentialType != catalog.OAuthU2MPerUser {
		return nil, nil, CredentialStatus{}, catalog.Errorf(catalog.InvalidParameterValue, "connection %s uses %s; only OAUTH_U2M_PER_USER connections hold user credentials", c.Name, c.CredentialType)
	}
	p := who
	if !strings.EqualFold(principal, who.Name) {
		privs, err := s.d.Access.Connection(ctx, who, c)
		if err != nil {
			return nil, nil, CredentialStatus{}, err
		}
		if !privs.Has(catalog.Manage) {
			return nil, nil, CredentialStatus{}, catalog.Errorf(catalog.PermissionDenied, "User %s may only see and disconnect their own credential of connection %s", who.Name, c.Name)
		}
		if p, err = s.d.Store.GetPrincipalByName(ctx, principal); err != nil {
			return nil, nil, CredentialStatus{}, PrincipalNotFound(err, principal)
		}
	}
	st, err := s.d.Broker.Status(ctx, c, p)
	if err != nil {
		return nil, nil, CredentialStatus{}, err
	}
	cs, err := s.credentialStatus(ctx, st)
	return c, p, cs, err
}

// PrincipalNotFound turns the store's not-found for a principal named by a caller into
// the API's INVALID_PARAMETER_VALUE; other errors pass through.
func PrincipalNotFound(err error, name string) error {
	if catalog.IsNotFound(err) {
		return catalog.Errorf(catalog.InvalidParameterValue, "principal %s does not exist", truncate(name, 64))
	}
	return err
}
