package statement

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

// The executor: each statement is exactly the governance operation its API call stands
// for, run as the caller, so that SQL adds no power and takes none away — the same
// privilege checks, the same error codes, the same audit parameters (the surface writes
// the one audit record, with the action Action names).

// Column is one column of a result: its name and its SQL type (STRING or INT).
type Column struct {
	Name string
	Type string
}

// Result is what a statement answers: columns and rows of strings.
type Result struct {
	Columns []Column
	Rows    [][]string
}

// Caller makes a call through a connection exactly as POST /api/2.0/external-function
// does — the same decisions, credential injection, network policy and useConnection
// audit record — for the principal of the request it belongs to. body is that
// endpoint's request body; the answer is the upstream's status and body text. The HTTP
// surface implements it with the code that serves the endpoint.
type Caller interface {
	ExternalFunction(ctx context.Context, body []byte) (status int, text string, err error)
}

// Executor runs statements as a principal.
type Executor struct {
	// Gov runs the management operations.
	Gov *governance.Service
	// Calls makes http_request's call; nil refuses http_request.
	Calls Caller
	// Validation is the deployment's option validation (plan mode normalizes with it).
	Validation catalog.ValidationPolicy
}

// Action is the audit action of the operation s stands for, "" for a read (reads are
// not audited, as the API's are not) and for http_request, whose call is recorded as
// useConnection by the code that makes it.
func Action(s Statement) string {
	switch s.(type) {
	case *CreateConnection:
		return catalog.ActionCreateConnection
	case *AlterConnection:
		return catalog.ActionUpdateConnection
	case *DropConnection:
		return catalog.ActionDeleteConnection
	case *Grant, *Revoke:
		return catalog.ActionUpdatePermissions
	}
	return ""
}

// ConnectionOf is the connection a statement is about, as written ("" for none): what
// the path of its API call names, and so its audit record's connection until the
// operation names it.
func ConnectionOf(s Statement) string {
	switch s := s.(type) {
	case *CreateConnection:
		return s.Name.Value
	case *AlterConnection:
		return s.Name.Value
	case *DropConnection:
		return s.Name.Value
	case *Grant:
		return s.Securable.Name.Value
	case *Revoke:
		return s.Securable.Name.Value
	}
	return ""
}

// Exec runs one statement as who; rec collects the audit parameters of a statement
// that changes state. Errors a caller may see are *catalog.Error, with the code the
// API's call would answer.
func (e *Executor) Exec(ctx context.Context, who *catalog.Principal, s Statement, rec *governance.Record) (*Result, error) {
	switch s := s.(type) {
	case *CreateConnection:
		return e.create(ctx, who, s, rec)
	case *AlterConnection:
		return e.alter(ctx, who, s, rec)
	case *DropConnection:
		return e.drop(ctx, who, s, rec)
	case *DescribeConnection:
		return e.describe(ctx, who, s)
	case *ShowConnections:
		return e.showConnections(ctx, who, s)
	case *Grant:
		return e.changeGrants(ctx, who, s.Securable, s.Principal, s.Privileges, nil, rec)
	case *Revoke:
		return e.changeGrants(ctx, who, s.Securable, s.Principal, nil, s.Privileges, rec)
	case *ShowGrants:
		return e.showGrants(ctx, who, s)
	case *SelectHTTPRequest:
		return e.httpRequest(ctx, s)
	}
	return nil, catalog.Errorf(catalog.InvalidParameterValue, "this statement cannot be executed")
}

// statusRow is the one-row answer of a statement that changes state (or skips a change).
func statusRow(format string, args ...any) *Result {
	return &Result{Columns: []Column{{Name: "status", Type: "STRING"}}, Rows: [][]string{{fmt.Sprintf(format, args...)}}}
}

// createRequest is the API's create request for s: option keys lower-cased (the
// domain's names are; SQL keywords are case-insensitive), and credential_type taken
// out of the options where it is given as one.
func createRequest(s *CreateConnection) governance.CreateConnection {
	req := governance.CreateConnection{Name: s.Name.Value, ConnectionType: s.Type, Options: optionMap(s.Options)}
	if ct, ok := req.Options[optCredentialType]; ok {
		req.CredentialType = ct
		delete(req.Options, optCredentialType)
	}
	if s.Comment != nil {
		req.Comment = *s.Comment
	}
	return req
}

// optCredentialType is the option that gives the credential type in SQL.
const optCredentialType = "credential_type"

func optionMap(opts []Option) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[strings.ToLower(o.Key)] = o.Value
	}
	return m
}

func (e *Executor) create(ctx context.Context, who *catalog.Principal, s *CreateConnection, rec *governance.Record) (*Result, error) {
	req := createRequest(s)
	if s.IfNotExists {
		// Decided before the operation, so that an existing OAuth connection costs no
		// call to its provider: the caller must still hold CREATE_CONNECTION, as the
		// API's create asks first, and a connection it may not see is left for the
		// operation to find.
		if err := e.Gov.CanCreateConnection(ctx, who); err != nil {
			return nil, err
		}
		if v, err := e.Gov.GetConnection(ctx, who, req.Name); err == nil {
			return skipped(rec, v.Connection.Name, "exists", "connection %s exists; nothing done (IF NOT EXISTS)"), nil
		}
	}
	c, err := e.Gov.CreateConnection(ctx, who, req, rec)
	if s.IfNotExists && catalog.CodeOf(err) == catalog.ResourceAlreadyExists {
		name, _ := catalog.NormalizeConnectionName(req.Name) // it got as far as the store
		return skipped(rec, name, "exists", "connection %s exists; nothing done (IF NOT EXISTS)"), nil
	}
	if err != nil {
		return nil, err
	}
	return statusRow("created connection %s (%s)", c.Name, c.CredentialType), nil
}

// skipped is the answer of IF [NOT] EXISTS that skips the operation: the record names
// the connection and why (skipped), the row says so (format takes the name).
func skipped(rec *governance.Record, name, why, format string) *Result {
	if rec != nil {
		rec.Connection = name
		rec.Set("skipped", why)
	}
	return statusRow(format, name)
}

// updateRequest is the API's update request for s.
func updateRequest(s *AlterConnection) governance.UpdateConnection {
	var req governance.UpdateConnection
	switch {
	case s.OwnerTo != nil:
		req.Owner = &s.OwnerTo.Value
	case s.RenameTo != nil:
		req.NewName = &s.RenameTo.Value
	case s.Enabled != nil:
		req.Enabled = s.Enabled
	case len(s.Options) > 0:
		req.Options = optionMap(s.Options)
	}
	return req
}

func (e *Executor) alter(ctx context.Context, who *catalog.Principal, s *AlterConnection, rec *governance.Record) (*Result, error) {
	c, err := e.Gov.UpdateConnection(ctx, who, s.Name.Value, updateRequest(s), rec)
	if err != nil {
		return nil, err
	}
	return statusRow("altered connection %s", c.Name), nil
}

func (e *Executor) drop(ctx context.Context, who *catalog.Principal, s *DropConnection, rec *governance.Record) (*Result, error) {
	err := e.Gov.DeleteConnection(ctx, who, s.Name.Value, rec)
	if s.IfExists && catalog.CodeOf(err) == catalog.ResourceDoesNotExist {
		return skipped(rec, s.Name.Value, "does not exist", "connection %s does not exist; nothing done (IF EXISTS)"), nil
	}
	if err != nil {
		return nil, err
	}
	return statusRow("dropped connection %s", s.Name.Value), nil
}

// httpRequest builds the body of POST /api/2.0/external-function from the arguments
// and makes that very call.
func (e *Executor) httpRequest(ctx context.Context, s *SelectHTTPRequest) (*Result, error) {
	if e.Calls == nil {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "http_request is not available here")
	}
	body := map[string]any{"connection_name": s.Conn.Value, "method": s.Method.Value, "path": s.Path.Value}
	if s.Headers != nil {
		body["headers"] = s.Headers.Values()
	}
	if s.Params != nil {
		body["params"] = s.Params.Values()
	}
	if s.JSON != nil {
		body["json"] = s.JSON.Value
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	code, text, err := e.Calls.ExternalFunction(ctx, b)
	if err != nil {
		return nil, err
	}
	return &Result{Columns: []Column{{Name: "status_code", Type: "INT"}, {Name: "text", Type: "STRING"}}, Rows: [][]string{{strconv.Itoa(code), text}}}, nil
}

// timeText formats a time for a result cell: RFC 3339 in UTC, "" when unset.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
