// Package governance holds Gatehouse's management operations: creating, changing and
// deleting connections, with their privilege checks, validation, sealing of secrets,
// OAuth preparation and the parameters of their audit records. Every surface — the
// REST API today, the console and SQL later — calls these operations, so that a rule
// such as "secrets follow their destination" is written once and no surface can do
// more, or less, than another. It depends on the domain (catalog) and its services
// (access, credential, oauth, seal), never on a surface.
package governance

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// Deps are the collaborators of the operations.
type Deps struct {
	Store   catalog.Store
	Keyring *seal.Keyring
	Access  *access.Authorizer
	// Broker keeps OAuth credentials: first M2M tokens, revocation, deletion.
	Broker *credential.Broker
	// OAuth talks to authorization servers (metadata discovery).
	OAuth *oauth.Client
	// Validation holds deployment settings for option validation.
	Validation catalog.ValidationPolicy
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit records the events operations write themselves (a tool of a pinning MCP
	// connection that changed, seen by the proxy); nil records nothing. The surface
	// still writes the one record of each request it serves.
	Audit Recorder

	// Operations of the console's pages (issue 13), shared with the API.

	// AuditChainKey keys the audit hash chain (audit.ChainKey of the master key);
	// VerifyAudit needs it.
	AuditChainKey []byte
	// NormalizePolicy validates and normalizes a network policy an admin gives
	// (egress.NormalizePolicy); nil accepts it as is.
	NormalizePolicy func(*catalog.NetworkPolicy) (*catalog.NetworkPolicy, error)
	// DevIPRanges are the ranges --dev opens in the dialer's view of the network
	// policy, shown beside the stored policy.
	DevIPRanges []string
}

// Recorder records audit events; internal/audit's Recorder is one.
type Recorder interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}

// Service runs the management operations. It is safe for concurrent use.
type Service struct {
	d Deps
}

// New returns the operations over d.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}
}

// Record is what an operation puts in its audit record: the connection it is about
// (after a rename, the new name) and named parameters. Operations add names, privileges
// and non-secret option values, never a secret. The surface writes the one record per
// request, with the outcome; a nil *Record collects nothing.
type Record struct {
	Connection string
	Params     map[string]string
}

// Set adds a parameter.
func (r *Record) Set(k, v string) {
	if r == nil {
		return
	}
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	r.Params[k] = v
}

func (r *Record) setConnection(name string) {
	if r != nil {
		r.Connection = name
	}
}

// lookup finds a connection by the name a caller gave, read from the store (not a
// cache: a management operation decides on the current row).
func (s *Service) lookup(ctx context.Context, raw string) (*catalog.Connection, error) {
	name, err := catalog.NormalizeConnectionName(raw)
	if err != nil {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", truncate(raw, 64))
	}
	c, err := s.d.Store.GetConnection(ctx, name)
	if catalog.IsNotFound(err) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", name)
	}
	return c, err
}

// ManagedConnection returns the named connection if who may manage it (owner, MANAGE
// or admin), else RESOURCE_DOES_NOT_EXIST or PERMISSION_DENIED. Surfaces call it before
// they read a request body; the operations call it again themselves.
func (s *Service) ManagedConnection(ctx context.Context, who *catalog.Principal, name string) (*catalog.Connection, error) {
	c, privs, err := s.privsOn(ctx, who, name)
	if err != nil {
		return nil, err
	}
	if !privs.Has(catalog.Manage) {
		return nil, catalog.Errorf(catalog.PermissionDenied, "User %s does not have MANAGE on connection %s", who.Name, c.Name)
	}
	return c, nil
}

// CanCreateConnection refuses a principal without CREATE_CONNECTION on the metastore.
func (s *Service) CanCreateConnection(ctx context.Context, who *catalog.Principal) error {
	privs, err := s.d.Access.Metastore(ctx, who)
	if err != nil {
		return err
	}
	if !privs.Has(catalog.CreateConnection) {
		return catalog.Errorf(catalog.PermissionDenied, "User %s does not have CREATE_CONNECTION on metastore", who.Name)
	}
	return nil
}

// truncate is a name from the request as an error shows it: bound.Truncate's, at most n
// bytes cut at a character boundary and noted, its control characters escaped (a cut
// by bytes could split a UTF-8 character, and a newline or an escape would reach the
// caller's terminal as it is).
func truncate(s string, n int) string { return bound.Truncate(s, n) }
