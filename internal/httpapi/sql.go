package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/statement"
)

// POST /api/2.0/sql/statements (issue 14): the governance statements of docs/sql.md, in
// the shape of the Databricks Statement Execution API, answered synchronously. The
// handler is thin: the statement package parses and runs each statement as the
// governance operation its API call stands for; this file decodes, writes the one audit
// record (with the action of that operation and the statement, secret values as '***')
// and encodes.

// The states of a statement.
const (
	StatementSucceeded = "SUCCEEDED"
	StatementFailed    = "FAILED"
)

// StatementRequest is the body of POST /api/2.0/sql/statements. Statement is one
// statement; with Plan it may be a script of several, which are compared with the live
// state and not run. WarehouseID, WaitTimeout, OnWaitTimeout, Disposition and Format
// are accepted for the Statement Execution API's clients: there is no warehouse, every
// answer is synchronous and INLINE in JSON_ARRAY format.
type StatementRequest struct {
	Statement     string               `json:"statement"`
	Parameters    []StatementParameter `json:"parameters,omitempty"`
	WarehouseID   string               `json:"warehouse_id,omitempty"`
	Plan          bool                 `json:"plan,omitempty"`
	WaitTimeout   string               `json:"wait_timeout,omitempty"`
	OnWaitTimeout string               `json:"on_wait_timeout,omitempty"`
	Disposition   string               `json:"disposition,omitempty"`
	Format        string               `json:"format,omitempty"`
}

// StatementParameter is a named parameter: `:name` in the statement stands for Value as
// a string literal. Type is empty or STRING.
type StatementParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

// StatementResponse is the answer: the statement's state, and for a statement that
// succeeded its columns (manifest) and rows (result).
type StatementResponse struct {
	StatementID string           `json:"statement_id"`
	Status      StatementStatus  `json:"status"`
	Manifest    *ResultManifest  `json:"manifest,omitempty"`
	Result      *StatementResult `json:"result,omitempty"`
}

// StatementStatus is SUCCEEDED, or FAILED with the error.
type StatementStatus struct {
	State string          `json:"state"`
	Error *StatementError `json:"error,omitempty"`
}

// StatementError is why a statement failed: the error_code its API call would answer
// and the message (and the login URL where the API's error has one). Position is set for an error at a place in the statement text (a
// syntax error): 1-based line and column (in characters), and the byte offset.
type StatementError struct {
	ErrorCode string             `json:"error_code"`
	Message   string             `json:"message"`
	Position  *StatementPosition `json:"position,omitempty"`
	// LoginURL is set with OAUTH_LOGIN_REQUIRED, as in the API's error.
	LoginURL string `json:"login_url,omitempty"`
}

// StatementPosition is a place in a statement's text.
type StatementPosition struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Offset int `json:"offset"`
}

// ResultManifest describes the result's columns.
type ResultManifest struct {
	Format        string       `json:"format"`
	Schema        ResultSchema `json:"schema"`
	TotalRowCount int          `json:"total_row_count"`
}

// ResultSchema lists the columns.
type ResultSchema struct {
	ColumnCount int            `json:"column_count"`
	Columns     []ResultColumn `json:"columns"`
}

// ResultColumn is one column: its name, SQL type (type_text and type_name) and 0-based
// position.
type ResultColumn struct {
	Name     string `json:"name"`
	TypeText string `json:"type_text"`
	TypeName string `json:"type_name"`
	Position int    `json:"position"`
}

// StatementResult holds the rows, every value a string.
type StatementResult struct {
	RowCount  int        `json:"row_count"`
	DataArray [][]string `json:"data_array"`
}

// sqlAuditStatementLimit bounds the statement an audit record keeps.
const sqlAuditStatementLimit = 4096

// sqlStatementResultLimit bounds the text of an http_request answer held in a result.
const sqlStatementResultLimit = 4 << 20

func (s *Server) executeStatement(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	var req StatementRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Statement) == "" {
		return catalog.Errorf(catalog.InvalidParameterValue, "statement is required")
	}
	if d := strings.ToUpper(req.Disposition); d != "" && d != "INLINE" {
		return catalog.Errorf(catalog.InvalidParameterValue, "disposition must be INLINE: results are returned in the response")
	}
	if f := strings.ToUpper(req.Format); f != "" && f != "JSON_ARRAY" {
		return catalog.Errorf(catalog.InvalidParameterValue, "format must be JSON_ARRAY")
	}
	resp := StatementResponse{StatementID: RequestID(r.Context())}
	res, err := s.runStatement(w, r, who, &req)
	if err != nil {
		se, known := statementError(err)
		if !known {
			// The one error writer decides what an unexpected error shows: a 500.
			return err
		}
		resp.Status = StatementStatus{State: StatementFailed, Error: se}
		return ok(w, resp)
	}
	resp.Status.State = StatementSucceeded
	resp.Manifest = &ResultManifest{Format: "JSON_ARRAY", TotalRowCount: len(res.Rows), Schema: ResultSchema{ColumnCount: len(res.Columns), Columns: []ResultColumn{}}}
	for i, c := range res.Columns {
		resp.Manifest.Schema.Columns = append(resp.Manifest.Schema.Columns, ResultColumn{Name: c.Name, TypeText: c.Type, TypeName: c.Type, Position: i})
	}
	resp.Result = &StatementResult{RowCount: len(res.Rows), DataArray: res.Rows}
	if resp.Result.DataArray == nil {
		resp.Result.DataArray = [][]string{}
	}
	return ok(w, resp)
}

// statementError is how a statement failed: a *catalog.Error's code and message, with
// the place in the statement for a syntax error and for a statement of a plan that
// would fail (*statement.PosError). Any other error is not the caller's to see.
func statementError(err error) (*StatementError, bool) {
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		return nil, false
	}
	out := &StatementError{ErrorCode: string(ce.Code), Message: ce.Message, LoginURL: ce.LoginURL}
	var pe *statement.PosError
	if errors.As(err, &pe) {
		out.Message = fmt.Sprintf("line %d, column %d: %s", pe.Pos.Line, pe.Pos.Col, ce.Message)
		out.Position = &StatementPosition{Line: pe.Pos.Line, Column: pe.Pos.Col, Offset: pe.Pos.Offset}
	}
	return out, true
}

// syntaxError is the parser's error as INVALID_PARAMETER_VALUE at its place in the
// caller's text (before parameters were substituted).
func syntaxError(b *statement.Bound, err error) error {
	var se *statement.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	return &statement.PosError{Pos: b.SourcePos(se.Pos), Err: catalog.Errorf(catalog.InvalidParameterValue, "%s", se.Msg)}
}

// runStatement binds, parses and runs (or plans) the request's statement. A statement
// that changes state is audited as the operation it stands for, with the statement
// (secret values as '***'); http_request is audited as useConnection by the call.
func (s *Server) runStatement(w http.ResponseWriter, r *http.Request, who *identity.Identity, req *StatementRequest) (*statement.Result, error) {
	params := make([]statement.Parameter, len(req.Parameters))
	for i, p := range req.Parameters {
		params[i] = statement.Parameter{Name: p.Name, Value: p.Value, Type: p.Type}
	}
	b, err := statement.Bind(req.Statement, params)
	if err != nil {
		return nil, err
	}
	ex := &statement.Executor{Gov: s.Governance, Validation: s.Validation}
	if req.Plan {
		stmts, err := statement.ParseScript(b.Text)
		if err != nil {
			return nil, syntaxError(b, err)
		}
		return ex.Plan(r.Context(), who.Principal, stmts, b.SourcePos)
	}
	st, err := statement.Parse(b.Text)
	if err != nil {
		return nil, syntaxError(b, err)
	}
	// The statement as the audit keeps it: secrets as '***', bounded (options may be
	// long, and a record is not the place for a megabyte).
	text := bound.Truncate(statement.RedactedText(st), sqlAuditStatementLimit)
	ex.Calls = &sqlCaller{s: s, r: r, statement: text}
	action := statement.Action(st)
	if action == "" {
		return ex.Exec(r.Context(), who.Principal, st, nil)
	}
	var res *statement.Result
	err = s.audited(action, func(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
		note(r, "statement", text)
		if action != catalog.ActionCreateConnection {
			noteConnection(r, statement.ConnectionOf(st)) // the API's path names it
		}
		rec := &governance.Record{}
		defer noteRecord(r, rec)
		var err error
		res, err = ex.Exec(r.Context(), who.Principal, st, rec)
		return err
	})(w, r, who)
	return res, err
}

// sqlCaller is http_request's call: the code of POST /api/2.0/external-function, for
// the statement's caller, answering into a bounded buffer instead of the response.
type sqlCaller struct {
	s         *Server
	r         *http.Request
	statement string
}

// ExternalFunction runs body through call.external, as the endpoint does once it has
// read its body, and returns the upstream's status and body.
func (sc *sqlCaller) ExternalFunction(ctx context.Context, body []byte) (int, string, error) {
	buf := &bufferedResponse{header: http.Header{}, limit: sqlStatementResultLimit}
	// The caller is authenticated again from the request, as the endpoint does: the
	// call takes every decision itself.
	c := &call{s: sc.s, w: buf, r: sc.r.WithContext(ctx), start: sc.s.Now(), params: map[string]string{"statement": sc.statement}}
	err := c.external(body)
	switch {
	case buf.over:
		return 0, "", catalog.Errorf(catalog.UpstreamError, "the upstream's answer is larger than %d MiB, the most http_request returns; call it through the proxy instead", sqlStatementResultLimit>>20)
	case err != nil:
		return 0, "", err
	}
	return buf.status, buf.body.String(), nil
}

// bufferedResponse is a ResponseWriter that keeps up to limit bytes of body.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
	over   bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.body.Len()+len(p) > b.limit {
		b.over = true
		return 0, errors.New("http_request answer too large")
	}
	return b.body.Write(p)
}

// Flush does nothing: the whole answer is returned at once.
func (b *bufferedResponse) Flush() {}
