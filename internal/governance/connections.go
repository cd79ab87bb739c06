package governance

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// errMCPImmutable is the contract's message for a change of is_mcp_connection.
var errMCPImmutable = catalog.Errorf(catalog.InvalidParameterValue, "is_mcp_connection cannot be changed after creation; drop and recreate the connection")

// CreateConnection is what a caller asks for when creating a connection.
type CreateConnection struct {
	Name           string
	ConnectionType string
	// CredentialType may be empty when the options make it unambiguous.
	CredentialType string
	// Options are plaintext, secrets included; they are sealed before they are stored.
	Options map[string]string
	Comment string
}

// UpdateConnection is a change of a connection; nil fields are left alone. Options
// replace the whole set, except that a secret option left out keeps its stored value —
// unless the destination changes, when every secret must be given again.
type UpdateConnection struct {
	Options map[string]string
	NewName *string
	Owner   *string
	Comment *string
	Enabled *bool
}

// CreateConnection creates a connection owned by who, which needs CREATE_CONNECTION on
// the metastore. For OAuth connections it chooses the credential exchange method from
// the provider's metadata when none is given, and for machine-to-machine ones it
// fetches a first token so that a wrong secret is refused now.
func (s *Service) CreateConnection(ctx context.Context, who *catalog.Principal, req CreateConnection, rec *Record) (*catalog.Connection, error) {
	if err := s.CanCreateConnection(ctx, who); err != nil {
		return nil, err
	}
	name, credType, opts, err := s.ValidateCreate(req)
	if credType != "" {
		rec.setConnection(name)
		rec.Set("credential_type", string(credType))
	}
	if err != nil {
		return nil, err
	}
	now := s.d.Now()
	c := &catalog.Connection{
		ID: catalog.NewID(), Name: name, ConnectionType: catalog.ConnectionTypeHTTP, CredentialType: credType,
		OwnerID: who.ID, Comment: req.Comment, Enabled: true,
		CreatedAt: now, CreatedBy: who.ID, UpdatedAt: now, UpdatedBy: who.ID,
	}
	if err := s.sealSecrets(c, opts, nil); err != nil {
		return nil, err
	}
	tok, err := s.prepareOAuth(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	if err := s.d.Store.CreateConnection(ctx, c); err != nil {
		return nil, connectionExists(err, c.Name)
	}
	if tok != nil {
		if err := s.d.Broker.StoreM2M(ctx, c, tok); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ValidateCreate checks a create request as CreateConnection does, short of the
// privilege check and of anything it would send or store: it returns the normalized
// name, the credential type (given, or inferred from the options) and the normalized
// options, secrets included. The name and the type are set as far as they were
// decided when err is not nil. Plan mode (internal/statement) compares with these.
func (s *Service) ValidateCreate(req CreateConnection) (name string, credType catalog.CredentialType, opts map[string]string, err error) {
	name, err = catalog.NormalizeConnectionName(req.Name)
	if err != nil {
		return "", "", nil, err
	}
	if ct := strings.ToUpper(req.ConnectionType); ct != "" && ct != catalog.ConnectionTypeHTTP {
		return name, "", nil, catalog.Errorf(catalog.InvalidParameterValue, "connection_type must be HTTP")
	}
	// A misspelt option name is the error to report, before anything that the options
	// would decide (the credential type, when it is not given).
	if err := catalog.CheckOptionNames(req.Options); err != nil {
		return name, "", nil, err
	}
	if req.CredentialType != "" {
		credType, err = catalog.ParseCredentialType(req.CredentialType)
	} else {
		credType, err = catalog.InferCredentialType(req.Options)
	}
	if err != nil {
		return name, "", nil, err
	}
	if opts, err = catalog.ValidateOptions(credType, req.Options, s.d.Validation); err != nil {
		return name, credType, nil, err
	}
	if err := catalog.ValidateComment(req.Comment); err != nil {
		return name, credType, nil, err
	}
	return name, credType, opts, nil
}

// UpdateConnection changes the named connection; who needs owner, MANAGE or admin.
//
// Secrets follow their destination (DESIGN §1): when the update changes where the
// connection sends credentials (DestinationOptions, compared in normalized form) it must
// give every secret of the credential type again, or it is refused with a 400 that
// names the changed options and the secrets to supply — for everyone, owners and
// admins included, because the rule protects the stored secret, not a role. The check
// comes before any outbound call (metadata discovery, the first M2M token) and before
// any write. With the secrets given, the stored tokens of an OAuth connection are
// revoked at the old provider and deleted: users of a user-to-machine connection see
// NEEDS_LOGIN, a machine-to-machine connection gets a fresh token from the new endpoint
// with the new secret.
//
// The audit record names the old and new value of every non-secret option that changed
// (options.NAME.old, options.NAME.new), the destination options that changed
// (destination_changed) and the names of the secrets replaced (secrets_replaced). A
// destination change also deletes the tool records of an MCP connection
// (mcp_tools_deleted: how many), so that the new server's tools are pinned afresh.
func (s *Service) UpdateConnection(ctx context.Context, who *catalog.Principal, name string, req UpdateConnection, rec *Record) (*catalog.Connection, error) {
	c, err := s.ManagedConnection(ctx, who, name)
	if err != nil {
		return nil, err
	}
	rec.setConnection(c.Name)
	next := *c
	var changed, moved []string
	var plain map[string]string // the new options in plaintext, stored secrets filled in
	if req.Options != nil {
		changed = append(changed, "options")
		var replaced []string
		for k := range req.Options {
			if catalog.SecretOptions[k] {
				replaced = append(replaced, k)
			}
		}
		if len(replaced) > 0 {
			sort.Strings(replaced)
			rec.Set("secrets_replaced", strings.Join(replaced, ","))
		}
		opts, movedTo, err := s.updateOptions(c, req.Options)
		if moved = movedTo; len(moved) > 0 {
			rec.Set("destination_changed", strings.Join(moved, ","))
		}
		if err != nil {
			if opts != nil {
				noteOptionChanges(rec, c.Options, opts)
			}
			return nil, err
		}
		if err := s.sealSecrets(&next, opts, c.Secrets); err != nil {
			return nil, err
		}
		if next.CredentialType.IsOAuth() {
			plain = make(map[string]string, len(opts)+1)
			for k, v := range opts {
				plain[k] = v
			}
			if _, given := plain[catalog.OptClientSecret]; !given {
				// Same destination (the rule above): the stored secret may go there.
				cfg, err := s.d.Broker.Config(c)
				if err != nil {
					return nil, err
				}
				plain[catalog.OptClientSecret] = cfg.ClientSecret
			}
		}
	}
	if req.NewName != nil {
		n, err := catalog.NormalizeConnectionName(*req.NewName)
		if err != nil {
			return nil, err
		}
		next.Name = n
		changed = append(changed, "name")
		rec.Set("old_name", c.Name)
		rec.setConnection(n)
	}
	if req.Owner != nil {
		p, err := s.d.Store.GetPrincipalByName(ctx, *req.Owner)
		if catalog.IsNotFound(err) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "owner: principal %s does not exist", truncate(*req.Owner, 64))
		}
		if err != nil {
			return nil, err
		}
		next.OwnerID = p.ID
		changed = append(changed, "owner")
		rec.Set("new_owner", p.Name)
	}
	if req.Comment != nil {
		if err := catalog.ValidateComment(*req.Comment); err != nil {
			return nil, err
		}
		next.Comment = *req.Comment
		changed = append(changed, "comment")
	}
	if req.Enabled != nil {
		next.Enabled = *req.Enabled
		rec.Set("enabled", strconv.FormatBool(next.Enabled))
	}
	rec.Set("changed", strings.Join(changed, ","))
	next.UpdatedAt, next.UpdatedBy = s.d.Now(), who.ID
	var tok *oauth.Token
	if plain != nil {
		if tok, err = s.prepareOAuth(ctx, &next, plain); err != nil {
			return nil, err
		}
	}
	if req.Options != nil {
		noteOptionChanges(rec, c.Options, next.Options)
	}
	if len(moved) > 0 && c.CredentialType.IsOAuth() {
		// Before the change, so that no call under the new destination finds an old
		// token; a rename that collides is refused first, so a refused update does not
		// cost the users their logins.
		if next.Name != c.Name {
			if _, err := s.d.Store.GetConnection(ctx, next.Name); err == nil {
				return nil, catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", next.Name)
			}
		}
		n, err := s.d.Broker.ForgetDestination(ctx, c)
		if err != nil {
			return nil, err
		}
		rec.Set("tokens_deleted", strconv.Itoa(n))
	}
	if err := s.d.Store.UpdateConnection(ctx, &next); err != nil {
		return nil, connectionExists(err, next.Name)
	}
	if len(moved) > 0 {
		// Pins are of the old server's tools: the new server's are pinned afresh. After
		// the change, so that a listing in between judges the new server's tools against
		// the old pins (hiding them) rather than pinning the old server's again.
		n, err := s.d.Store.DeleteMCPTools(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if c.IsMCP() {
			rec.Set("mcp_tools_deleted", strconv.Itoa(n))
		}
	}
	if len(moved) > 0 && c.CredentialType.IsOAuth() {
		// A token obtained under the old destination while the change was being made
		// (a login finishing, a refresh) goes too.
		if _, err := s.d.Broker.ForgetDestination(ctx, c); err != nil {
			return nil, err
		}
	}
	if tok != nil {
		if err := s.d.Broker.StoreM2M(ctx, &next, tok); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// updateOptions checks the options of an update of c as UpdateConnection does and
// returns them normalized, without the secrets left out (which keep their stored
// values), and the destination options that change. The rule comes before anything is
// sent anywhere or written: a destination change without every secret of the credential
// type is refused (opts and moved are then set, for the audit record).
func (s *Service) updateOptions(c *catalog.Connection, given map[string]string) (opts map[string]string, moved []string, err error) {
	if v, ok := given[catalog.OptIsMCP]; ok && !strings.EqualFold(v, c.Options[catalog.OptIsMCP]) {
		return nil, nil, errMCPImmutable
	}
	// Secrets left out keep their stored value; validation needs to know they are
	// there, so it sees a stand-in that is dropped again below.
	check := make(map[string]string, len(given)+2)
	for k, v := range given {
		check[k] = v
	}
	if _, ok := check[catalog.OptIsMCP]; !ok {
		check[catalog.OptIsMCP] = c.Options[catalog.OptIsMCP]
	}
	for k := range c.Secrets {
		if _, ok := check[k]; !ok {
			check[k] = "stored"
		}
	}
	opts, err = catalog.ValidateOptions(c.CredentialType, check, s.d.Validation)
	if err != nil {
		return nil, nil, err
	}
	for k := range c.Secrets {
		if _, ok := given[k]; !ok {
			delete(opts, k)
		}
	}
	if moved = DestinationChanges(c.Options, opts); len(moved) > 0 {
		var missing []string
		for _, k := range SecretsOf(c.CredentialType) {
			if _, ok := given[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return opts, moved, catalog.Errorf(catalog.InvalidParameterValue,
				"options.%s changes where connection %s sends its credentials; supply options.%s in the same update (a stored secret only goes to the destination it was stored for)",
				strings.Join(moved, ", options."), c.Name, strings.Join(missing, ", options."))
		}
	}
	return opts, moved, nil
}

// PlanOptions checks an update of the named connection's options as UpdateConnection
// would (who needs owner, MANAGE or admin; secrets follow their destination) without
// changing anything, and returns the connection's current non-secret options and the
// normalized new ones (secrets given included, secrets left out absent). Plan mode
// (internal/statement) compares them.
func (s *Service) PlanOptions(ctx context.Context, who *catalog.Principal, name string, options map[string]string) (current, next map[string]string, err error) {
	c, err := s.ManagedConnection(ctx, who, name)
	if err != nil {
		return nil, nil, err
	}
	next, _, err = s.updateOptions(c, options)
	if err != nil {
		return nil, nil, err
	}
	current = make(map[string]string, len(c.Options))
	for k, v := range c.Options {
		if !catalog.SecretOptions[k] {
			current[k] = v
		}
	}
	return current, next, nil
}

// DeleteConnection deletes the named connection; who needs owner, MANAGE or admin. Its
// tokens die with it, at the provider too where it offers RFC 7009.
func (s *Service) DeleteConnection(ctx context.Context, who *catalog.Principal, name string, rec *Record) error {
	c, err := s.ManagedConnection(ctx, who, name)
	if err != nil {
		return err
	}
	rec.setConnection(c.Name)
	s.d.Broker.RevokeAll(ctx, c)
	return s.d.Store.DeleteConnection(ctx, c.ID)
}

// noteOptionChanges records the old and new value of every non-secret option that
// differs between old and next. Secrets are never recorded, not even as changed: their
// names are in secrets_replaced.
func noteOptionChanges(rec *Record, old, next map[string]string) {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	for k := range keys {
		if catalog.SecretOptions[k] {
			continue
		}
		ov, oldSet := old[k]
		nv, newSet := next[k]
		if ov == nv && oldSet == newSet {
			continue
		}
		rec.Set("options."+k+".old", ov)
		rec.Set("options."+k+".new", nv)
	}
}

// sealSecrets moves the secret options out of opts into c.Secrets, sealed and bound to
// the connection's id and the field. A secret absent from opts keeps its sealed value
// from keep (an update that leaves a secret out keeps it).
func (s *Service) sealSecrets(c *catalog.Connection, opts map[string]string, keep map[string][]byte) error {
	c.Options = map[string]string{}
	c.Secrets = map[string][]byte{}
	for k, v := range opts {
		if !catalog.SecretOptions[k] {
			c.Options[k] = v
			continue
		}
		ct, err := s.d.Keyring.Seal([]byte(v), seal.AAD{SecurableID: c.ID, Field: k})
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

// prepareOAuth readies an OAuth connection being created or changed: with no
// oauth_credential_exchange_method it reads the provider's metadata and records the
// method the server supports; for machine-to-machine it fetches a first token, so a
// wrong secret is refused now, in the provider's words. When the provider publishes no
// metadata, a machine-to-machine connection records the first method of
// oauth.TryOrder that gets a token; a user-to-machine connection leaves the option
// unset, and its first login records the method that redeems the code. opts holds
// plaintext options.
func (s *Service) prepareOAuth(ctx context.Context, c *catalog.Connection, opts map[string]string) (*oauth.Token, error) {
	if !c.CredentialType.IsOAuth() {
		return nil, nil
	}
	if c.Options[catalog.OptCredentialExchange] == "" {
		md, err := s.d.OAuth.Discover(ctx, opts[catalog.OptTokenEndpoint])
		if err != nil {
			s.d.Log.Warn("oauth metadata discovery failed; the exchange method will be found by trying", "connection", c.Name, "err", err)
		}
		if md != nil {
			c.Options[catalog.OptCredentialExchange] = string(oauth.ChooseMethod(md))
		} else {
			delete(c.Options, catalog.OptCredentialExchange)
		}
	}
	if c.CredentialType != catalog.OAuthM2M {
		return nil, nil
	}
	tok, method, err := s.d.Broker.FetchM2M(ctx, oauth.Config{
		ClientID: opts[catalog.OptClientID], ClientSecret: opts[catalog.OptClientSecret], TokenURL: opts[catalog.OptTokenEndpoint],
		Scope: opts[catalog.OptOAuthScope], Resource: catalog.OAuthResource(opts),
		Method: oauth.ExchangeMethod(c.Options[catalog.OptCredentialExchange]),
	})
	if err != nil {
		return nil, err
	}
	c.Options[catalog.OptCredentialExchange] = string(method)
	return tok, nil
}

// connectionExists words a duplicate-name error the way the API names connections.
func connectionExists(err error, name string) error {
	if catalog.IsAlreadyExists(err) {
		return catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", name)
	}
	return err
}
