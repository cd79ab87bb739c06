package statement

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Plan mode (configuration as code): what a script would change against the live
// state, changing nothing. It reads through the same governance operations as the
// statements (so it sees what the caller may see) and normalizes options as the create
// and update operations do, so that a script applied once plans as "no change".

// The actions of a plan.
const (
	PlanCreate   = "create"
	PlanAlter    = "alter"
	PlanGrant    = "grant"
	PlanRevoke   = "revoke"
	PlanDrop     = "drop"
	PlanNoChange = "no change"
)

// PosError is an error of the statement at Pos: plan mode's answer for a statement that
// would fail when applied, with the error its operation would answer.
type PosError struct {
	Pos Pos
	Err error
}

// Error prints "line L, column C: error".
func (e *PosError) Error() string {
	return fmt.Sprintf("line %d, column %d: %v", e.Pos.Line, e.Pos.Col, e.Err)
}

// Unwrap returns the operation's error.
func (e *PosError) Unwrap() error { return e.Err }

// planned is what the script has done so far to a connection, on top of the live state.
type planned struct {
	exists bool // false: dropped (or renamed away) earlier in the script
	fresh  bool // created earlier in the script: nothing of it is live
	// liveName is the name the live connection has now (it differs after a rename
	// earlier in the script).
	liveName string
	owner    string              // the owner the script gave it ("" : unchanged)
	enabled  *bool               // the state the script left it in (nil: unchanged)
	grants   map[string][]string // principal (lower-case) → privileges granted since
	revoked  map[string][]string // principal (lower-case) → privileges revoked since
}

// plan is one run of plan mode.
type plan struct {
	e     *Executor
	who   *catalog.Principal
	conns map[string]*planned // by normalized name
}

// Plan compares each statement of the script with the live state, as the statements
// before it in the script would have left it, and answers one row per statement: its
// line and column (through pos, which maps positions to the caller's text; nil keeps
// them), the action (create, alter, grant, revoke, drop or no change), the statement
// (secret values as '***') and a detail. Reads and http_request are "no change"
// (http_request is not called). A statement that would fail when applied — no
// privilege, no such connection, a bad option — ends the plan with a *PosError holding
// the error its operation would answer.
func (e *Executor) Plan(ctx context.Context, who *catalog.Principal, stmts []Statement, pos func(Pos) Pos) (*Result, error) {
	if pos == nil {
		pos = func(p Pos) Pos { return p }
	}
	p := &plan{e: e, who: who, conns: map[string]*planned{}}
	res := &Result{Columns: []Column{{Name: "line", Type: "INT"}, {Name: "column", Type: "INT"}, {Name: "action", Type: "STRING"},
		{Name: "statement", Type: "STRING"}, {Name: "detail", Type: "STRING"}}, Rows: [][]string{}}
	for _, s := range stmts {
		at := pos(s.Position())
		action, detail, err := p.statement(ctx, s)
		if err != nil {
			return nil, &PosError{Pos: at, Err: err}
		}
		res.Rows = append(res.Rows, []string{fmt.Sprint(at.Line), fmt.Sprint(at.Col), action, RedactedText(s), detail})
	}
	return res, nil
}

func (p *plan) statement(ctx context.Context, s Statement) (action, detail string, err error) {
	switch s := s.(type) {
	case *CreateConnection:
		return p.create(ctx, s)
	case *AlterConnection:
		return p.alter(ctx, s)
	case *DropConnection:
		return p.drop(ctx, s)
	case *Grant:
		return p.grants(ctx, s.Securable, s.Principal, s.Privileges, true)
	case *Revoke:
		return p.grants(ctx, s.Securable, s.Principal, s.Privileges, false)
	case *SelectHTTPRequest:
		return PlanNoChange, "http_request is not called in a plan", nil
	case *DescribeConnection:
		return p.read(ctx, s, s.Name.Value)
	case *ShowGrants:
		return p.read(ctx, s, s.Connection.Value)
	}
	return p.read(ctx, s, "")
}

// read plans a read: no change, but it is made (against the live state, unless the
// script created or dropped its connection), so that a read the caller may not make
// fails the plan as it would fail when applied.
func (p *plan) read(ctx context.Context, s Statement, conn string) (string, string, error) {
	if conn != "" {
		c, exists, err := p.live(ctx, conn)
		switch {
		case catalog.CodeOf(err) == catalog.PermissionDenied:
		case err != nil:
			return "", "", err
		case !exists:
			return "", "", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", conn)
		case c.fresh:
			return PlanNoChange, "reads only", nil
		default:
			conn = c.liveName
		}
	}
	// The connection by the name it has now, before the script's renames.
	read := s
	switch x := s.(type) {
	case *DescribeConnection:
		r := *x
		r.Name.Value = conn
		read = &r
	case *ShowGrants:
		r := *x
		r.Connection.Value = conn
		read = &r
	}
	if _, err := p.e.Exec(ctx, p.who, read, nil); err != nil {
		return "", "", err
	}
	return PlanNoChange, "reads only", nil
}

// live returns the connection as who sees it, with what the script did to it: ok is
// false when it does not exist (then, or now).
func (p *plan) live(ctx context.Context, name string) (v *liveConn, ok bool, err error) {
	n, err := catalog.NormalizeConnectionName(name)
	if err != nil {
		return nil, false, err
	}
	pl := p.conns[n]
	switch {
	case pl == nil:
		pl = &planned{exists: true, liveName: n}
	case !pl.exists:
		return nil, false, nil
	case pl.fresh:
		return &liveConn{name: n, fresh: true, plan: pl}, true, nil
	}
	view, err := p.e.Gov.GetConnection(ctx, p.who, pl.liveName)
	if catalog.CodeOf(err) == catalog.ResourceDoesNotExist {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p.conns[n] = pl
	return &liveConn{name: n, liveName: pl.liveName, conn: view.Connection, owner: view.Owner, plan: pl}, true, nil
}

// liveConn is a connection a statement of the script is about.
type liveConn struct {
	name     string
	liveName string // the name it has now, before the script's renames
	fresh    bool
	conn     *catalog.Connection // nil when fresh
	owner    string
	plan     *planned
}

func (p *plan) create(ctx context.Context, s *CreateConnection) (string, string, error) {
	if err := p.e.Gov.CanCreateConnection(ctx, p.who); err != nil {
		return "", "", err
	}
	req := createRequest(s)
	// Checked as the create operation checks it, whether the connection exists or not.
	n, credType, opts, err := p.e.Gov.ValidateCreate(req)
	if err != nil {
		return "", "", err
	}
	c, exists, err := p.live(ctx, n)
	if catalog.CodeOf(err) == catalog.PermissionDenied {
		// It exists, and the caller holds nothing on it: the create would answer
		// RESOURCE_ALREADY_EXISTS, or skip it (IF NOT EXISTS), as the API's create does.
		if !s.IfNotExists {
			return "", "", catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", n)
		}
		return PlanNoChange, "exists (IF NOT EXISTS); you hold no privilege on it", nil
	}
	if err != nil {
		return "", "", err
	}
	if !exists {
		p.conns[n] = &planned{exists: true, fresh: true}
		return PlanCreate, fmt.Sprintf("connection %s (%s)", n, credType), nil
	}
	if !s.IfNotExists {
		return "", "", catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", n)
	}
	if c.fresh {
		return PlanNoChange, "created earlier in the script (IF NOT EXISTS)", nil
	}
	// Secrets are sealed and never compared: IF NOT EXISTS would not set them anyway.
	plain := make(map[string]string, len(opts))
	for k, v := range opts {
		if !catalog.SecretOptions[k] {
			plain[k] = v
		}
	}
	diffs := optionDiffs(c.conn.Options, plain)
	if c.conn.CredentialType != credType {
		diffs = append([]string{"credential_type"}, diffs...)
	}
	if c.conn.Comment != req.Comment {
		diffs = append(diffs, "comment")
	}
	if len(diffs) == 0 {
		return PlanNoChange, "exists as declared", nil
	}
	return PlanNoChange, fmt.Sprintf("exists and differs in %s; IF NOT EXISTS leaves it as it is (ALTER it to change it)", strings.Join(diffs, ", ")), nil
}

// optionDiffs names the non-secret options whose normalized values differ between the
// stored set and the declared one, and the secrets declared (a secret given is a
// change: its stored value is sealed and not compared). An option the server chooses
// when it is not given (oauth_credential_exchange_method) is compared only when given.
func optionDiffs(stored, declared map[string]string) []string {
	keys := map[string]bool{}
	for k := range stored {
		keys[k] = true
	}
	for k := range declared {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		dv, given := declared[k]
		switch {
		case catalog.SecretOptions[k]:
			if given {
				out = append(out, k+" (a secret, replaced)")
			}
			continue
		case k == catalog.OptCredentialExchange && !given:
			continue
		}
		if sv, ok := stored[k]; ok != given || sv != dv {
			out = append(out, "options."+k)
		}
	}
	sort.Strings(out)
	return out
}

func (p *plan) alter(ctx context.Context, s *AlterConnection) (string, string, error) {
	c, exists, err := p.live(ctx, s.Name.Value)
	if err != nil {
		return "", "", err
	}
	if !exists {
		return "", "", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", s.Name.Value)
	}
	if !c.fresh {
		if _, err := p.e.Gov.ManagedConnection(ctx, p.who, c.liveName); err != nil {
			return "", "", err
		}
	}
	switch {
	case s.OwnerTo != nil:
		owner := c.owner
		switch {
		case c.plan.owner != "":
			owner = c.plan.owner
		case c.fresh:
			owner = p.who.Name // its creator, the caller
		}
		if strings.EqualFold(owner, s.OwnerTo.Value) {
			return PlanNoChange, "owner is " + owner, nil
		}
		c.plan.owner = s.OwnerTo.Value
		return PlanAlter, "owner to " + s.OwnerTo.Value, nil
	case s.RenameTo != nil:
		n, err := catalog.NormalizeConnectionName(s.RenameTo.Value)
		if err != nil {
			return "", "", err
		}
		if n == c.name {
			return PlanNoChange, "already named " + n, nil
		}
		if _, taken, err := p.live(ctx, n); err != nil {
			return "", "", err
		} else if taken {
			return "", "", catalog.Errorf(catalog.ResourceAlreadyExists, "Connection '%s' already exists.", n)
		}
		p.conns[n], p.conns[c.name] = c.plan, &planned{exists: false}
		return PlanAlter, "rename to " + n, nil
	case s.Enabled != nil:
		// A connection is created enabled.
		enabled := c.fresh || c.conn.Enabled
		if c.plan.enabled != nil {
			enabled = *c.plan.enabled
		}
		if enabled == *s.Enabled {
			return PlanNoChange, map[bool]string{true: "enabled", false: "disabled"}[*s.Enabled], nil
		}
		c.plan.enabled = s.Enabled
		return PlanAlter, map[bool]string{true: "enable", false: "disable"}[*s.Enabled], nil
	}
	if c.fresh {
		return PlanAlter, "options", nil
	}
	current, next, err := p.e.Gov.PlanOptions(ctx, p.who, c.liveName, optionMap(s.Options))
	if err != nil {
		return "", "", err
	}
	if diffs := optionDiffs(current, next); len(diffs) > 0 {
		return PlanAlter, "changes " + strings.Join(diffs, ", "), nil
	}
	return PlanNoChange, "options as declared", nil
}

func (p *plan) drop(ctx context.Context, s *DropConnection) (string, string, error) {
	c, exists, err := p.live(ctx, s.Name.Value)
	if err != nil {
		return "", "", err
	}
	if !exists {
		if s.IfExists {
			return PlanNoChange, "does not exist (IF EXISTS)", nil
		}
		return "", "", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", s.Name.Value)
	}
	if !c.fresh {
		if _, err := p.e.Gov.ManagedConnection(ctx, p.who, c.liveName); err != nil {
			return "", "", err
		}
	}
	p.conns[c.name] = &planned{exists: false}
	return PlanDrop, "connection " + c.name, nil
}

// grants plans a GRANT (grant true) or REVOKE: the privileges that would be added or
// removed, against the principal's current grants.
func (p *plan) grants(ctx context.Context, sec Securable, principal Ident, privs []string, grant bool) (string, string, error) {
	t := sec.Type
	for _, pv := range privs {
		if !catalog.ValidPrivilege(t, catalog.Privilege(pv)) {
			return "", "", catalog.Errorf(catalog.InvalidParameterValue, "%s is not a privilege on a %s; the privileges on a %s are %s",
				pv, strings.ToLower(string(t)), strings.ToLower(string(t)), catalog.PrivilegeList(t))
		}
	}
	key := strings.ToLower(principal.Value)
	typ, name, live := "metastore", catalog.MetastoreID, true
	pl := p.conns[""] // the metastore's entry: no connection has an empty name
	if t == catalog.SecurableConnection {
		c, exists, err := p.live(ctx, sec.Name.Value)
		if err != nil {
			return "", "", err
		}
		if !exists {
			return "", "", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", sec.Name.Value)
		}
		typ, name, live, pl = "connection", c.liveName, !c.fresh, c.plan
	} else if pl == nil {
		pl = &planned{exists: true}
		p.conns[""] = pl
	}
	var held []string
	if live {
		if _, err := p.e.Gov.ManagedSecurable(ctx, p.who, typ, name); err != nil {
			return "", "", err
		}
		list, err := p.e.Gov.Permissions(ctx, p.who, typ, name, principal.Value)
		if err != nil {
			return "", "", err
		}
		for _, a := range list {
			held = append(held, a.Privileges...)
		}
	}
	// What the script did before this statement.
	if pl.grants == nil {
		pl.grants = map[string][]string{}
	}
	if pl.revoked == nil {
		pl.revoked = map[string][]string{}
	}
	for _, g := range pl.grants[key] {
		if !slices.Contains(held, g) {
			held = append(held, g)
		}
	}
	held = slices.DeleteFunc(held, func(h string) bool { return slices.Contains(pl.revoked[key], h) })
	var change []string
	for _, pv := range privs {
		if slices.Contains(held, pv) != grant && !slices.Contains(change, pv) {
			change = append(change, pv)
		}
	}
	if len(change) == 0 {
		if grant {
			return PlanNoChange, principal.Value + " holds " + strings.Join(privs, ", "), nil
		}
		return PlanNoChange, principal.Value + " holds none of " + strings.Join(privs, ", "), nil
	}
	if grant {
		pl.grants[key] = append(pl.grants[key], change...)
		pl.revoked[key] = slices.DeleteFunc(pl.revoked[key], func(r string) bool { return slices.Contains(change, r) })
		return PlanGrant, strings.Join(change, ", ") + " to " + principal.Value, nil
	}
	pl.revoked[key] = append(pl.revoked[key], change...)
	pl.grants[key] = slices.DeleteFunc(pl.grants[key], func(g string) bool { return slices.Contains(change, g) })
	return PlanRevoke, strings.Join(change, ", ") + " from " + principal.Value, nil
}
