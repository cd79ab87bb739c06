package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/statement"
)

// cliMaxScript bounds a script read by `gatehouse sql -f`.
const cliMaxScript = 8 << 20

// exitCodeError ends the command with its exit code (main exits with it) and no
// message: the command has printed what it has to say.
type exitCodeError struct {
	code int
}

func (e *exitCodeError) Error() string { return "" }

// ExitCode is the process exit code.
func (e *exitCodeError) ExitCode() int { return e.code }

// sqlCommand is `gatehouse sql`: governance statements (docs/sql.md) sent to
// POST /api/2.0/sql/statements.
func (c *clientCLI) sqlCommand() *cobra.Command {
	var (
		file         string
		plan         bool
		detailedExit bool
		params       []string
	)
	cmd := &cobra.Command{
		Use:   `sql ["STATEMENT" | -f FILE]`,
		Short: "Run governance statements: CREATE CONNECTION, GRANT USE CONNECTION, http_request, ...",
		Long: `Run governance statements (docs/sql.md) on the server, as the caller.

With -f, FILE holds statements separated by ';' (- reads stdin). The whole file is
checked for syntax first, then the statements are sent one by one, stopping at the first
that fails, with its line and column in the file.

With --plan, nothing is changed: the server compares each statement with the live state
and says what it would do: create, alter, grant, revoke, drop or no change. The exit code
is 0 either way, or with --detailed-exitcode 2 when there are changes (1 on an error).

--param NAME=VALUE binds :NAME in the statements to VALUE as a string literal; @FILE reads
the value from a file and @- from stdin, which keeps secrets out of the script.`,
		Example: `  gatehouse sql "GRANT USE CONNECTION ON CONNECTION github TO data-eng"
  gatehouse sql "SHOW GRANTS ON CONNECTION github"
  gatehouse sql "SELECT http_request(conn => 'github', method => 'GET', path => '/user')"
  gatehouse sql -f connections.sql --param github_token=@token.txt
  gatehouse sql --plan -f connections.sql --detailed-exitcode`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var src string
			for _, p := range params {
				if file == "-" && strings.HasSuffix(p, "=@-") {
					return errors.New("-f - and --param NAME=@- both read stdin; read one from a file")
				}
			}
			switch {
			case file != "" && len(args) > 0:
				return errors.New("give a STATEMENT or -f FILE, not both")
			case file != "":
				b, err := c.readScript(file)
				if err != nil {
					return err
				}
				src = string(b)
			case len(args) == 1:
				src = args[0]
			default:
				return errors.New(`want one STATEMENT argument (quote it: gatehouse sql "SHOW CONNECTIONS") or -f FILE`)
			}
			if detailedExit && !plan {
				return errors.New("--detailed-exitcode goes with --plan")
			}
			ps, err := c.sqlParams(params)
			if err != nil {
				return err
			}
			if file == "" {
				c.sqlWarnSecrets(src)
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			if plan {
				return c.sqlPlan(cmd, api, src, ps, detailedExit)
			}
			return c.sqlApply(cmd, api, src, ps, file != "")
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read ';'-separated statements from FILE (- for stdin)")
	f.BoolVar(&plan, "plan", false, "show what the statements would change, changing nothing")
	f.BoolVar(&detailedExit, "detailed-exitcode", false, "with --plan: exit 2 when there are changes")
	f.StringArrayVar(&params, "param", nil, "NAME=VALUE for :NAME in the statements (@FILE, @-); repeatable")
	return cmd
}

// readScript reads the -f file, bounded.
func (c *clientCLI) readScript(file string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if file == "-" {
		b, err = cliReadLimitedN(c.e.stdin, cliMaxScript)
	} else {
		var f *os.File
		if f, err = os.Open(file); err == nil {
			defer f.Close()
			b, err = cliReadLimitedN(f, cliMaxScript)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", file, err)
	}
	return b, nil
}

// sqlParams reads --param flags; values may come from files or stdin, as option values do.
func (c *clientCLI) sqlParams(flags []string) ([]httpapi.StatementParameter, error) {
	vals, err := c.optionValues(flags)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "--option", "--param"))
	}
	out := make([]httpapi.StatementParameter, 0, len(vals))
	for _, k := range cliSortedKeys(vals) {
		out = append(out, httpapi.StatementParameter{Name: k, Value: vals[k]})
	}
	return out, nil
}

// sqlApply checks the whole script's syntax, then sends its statements one by one and
// stops at the first that fails. inFile says that src is a file's.
func (c *clientCLI) sqlApply(cmd *cobra.Command, api *httpapi.Client, src string, ps []httpapi.StatementParameter, inFile bool) error {
	spans, err := sqlCheck(src, ps)
	if err != nil {
		return err
	}
	var all []*httpapi.StatementResponse
	for i, sp := range spans {
		resp, err := api.ExecuteStatement(cmd.Context(), httpapi.StatementRequest{Statement: sp.Text, Parameters: ps})
		if err != nil {
			return err
		}
		all = append(all, resp)
		failed := resp.Status.State != httpapi.StatementSucceeded
		if c.output != "json" && !failed {
			if err := c.sqlPrint(resp, i > 0); err != nil {
				return err
			}
		}
		if failed || i == len(spans)-1 {
			if c.output == "json" {
				// One statement given as an argument prints its answer; a script, an
				// array of the answers up to the one that failed.
				var v any = all
				if !inFile && len(spans) == 1 {
					v = resp
				}
				if err := c.printJSON(v); err != nil {
					return err
				}
			}
			if failed {
				return sqlFailure(resp.Status.Error, sp, i, len(spans), inFile || len(spans) > 1)
			}
		}
	}
	return nil
}

// sqlCheck parses the script locally (with its parameters bound), so that a syntax
// error anywhere changes nothing, and returns its statements' spans.
func sqlCheck(src string, ps []httpapi.StatementParameter) ([]statement.Span, error) {
	params := make([]statement.Parameter, len(ps))
	for i, p := range ps {
		params[i] = statement.Parameter{Name: p.Name, Value: p.Value}
	}
	b, err := statement.Bind(src, params)
	if err != nil {
		return nil, err
	}
	if _, err := statement.ParseScript(b.Text); err != nil {
		var se *statement.SyntaxError
		if errors.As(err, &se) {
			pos := b.SourcePos(se.Pos)
			return nil, fmt.Errorf("syntax error at line %d, column %d: %s; nothing was run", pos.Line, pos.Col, se.Msg)
		}
		return nil, err
	}
	spans := statement.Split(src)
	if len(spans) == 0 {
		return nil, errors.New("no statement to run")
	}
	return spans, nil
}

// sqlFailure words a failed statement: its code and message, and (located) which
// statement of the script it is and where.
func sqlFailure(e *httpapi.StatementError, sp statement.Span, i, n int, located bool) error {
	if e == nil {
		e = &httpapi.StatementError{ErrorCode: "UNKNOWN", Message: "the statement did not succeed"}
	}
	at := sqlStart(sp)
	if e.Position != nil {
		at = sp.InFile(statement.Pos{Line: e.Position.Line, Col: e.Position.Column, Offset: e.Position.Offset})
	}
	msg := e.ErrorCode + ": " + e.Message
	if located {
		msg = fmt.Sprintf("statement %d of %d (line %d, column %d) failed: %s", i+1, n, at.Line, at.Col, msg)
		if i > 0 {
			msg += fmt.Sprintf("; the %d statement(s) before it were applied, the rest were not run", i)
		}
	}
	return errors.New(msg)
}

// sqlStart is where a statement's first word is in the script: past the blanks and
// comments that follow the ';' before it.
func sqlStart(sp statement.Span) statement.Pos { return sp.InFile(statement.FirstWord(sp.Text)) }

// sqlPrint prints one statement's result for people: a status line for a statement
// that changes state, else a table.
func (c *clientCLI) sqlPrint(resp *httpapi.StatementResponse, gap bool) error {
	if resp.Manifest == nil || resp.Result == nil {
		return nil
	}
	cols := resp.Manifest.Schema.Columns
	if len(cols) == 1 && cols[0].Name == "status" && len(resp.Result.DataArray) == 1 {
		return c.done("%s", cliCell(resp.Result.DataArray[0][0]))
	}
	if gap {
		fmt.Fprintln(c.e.stdout)
	}
	header := make([]string, len(cols))
	for i, col := range cols {
		header[i] = col.Name
	}
	return c.table(header, resp.Result.DataArray)
}

// sqlPlan sends the script with plan: true and prints what it would change.
func (c *clientCLI) sqlPlan(cmd *cobra.Command, api *httpapi.Client, src string, ps []httpapi.StatementParameter, detailed bool) error {
	resp, err := api.ExecuteStatement(cmd.Context(), httpapi.StatementRequest{Statement: src, Parameters: ps, Plan: true})
	if err != nil {
		return err
	}
	if resp.Status.State != httpapi.StatementSucceeded {
		e := resp.Status.Error
		if e == nil {
			return errors.New("the plan did not succeed")
		}
		if e.Position != nil {
			return fmt.Errorf("plan failed at line %d, column %d: %s: %s", e.Position.Line, e.Position.Column, e.ErrorCode, e.Message)
		}
		return fmt.Errorf("plan failed: %s: %s", e.ErrorCode, e.Message)
	}
	changes := 0
	if resp.Manifest != nil && resp.Result != nil {
		action := -1
		for i, col := range resp.Manifest.Schema.Columns {
			if col.Name == "action" {
				action = i
			}
		}
		for _, row := range resp.Result.DataArray {
			if action >= 0 && action < len(row) && row[action] != statement.PlanNoChange {
				changes++
			}
		}
	}
	if c.output == "json" {
		err = c.printJSON(resp)
	} else {
		err = c.sqlPrint(resp, false)
		if err == nil {
			_ = c.done("%d change(s); nothing was changed", changes)
		}
	}
	if err != nil {
		return err
	}
	if detailed && changes > 0 {
		return &exitCodeError{code: 2}
	}
	return nil
}

// sqlWarnSecrets warns when a connection statement given on the command line holds a
// secret option's value (its redacted text differs): it stays in the shell's history.
func (c *clientCLI) sqlWarnSecrets(src string) {
	stmts, err := statement.ParseScript(src)
	if err != nil {
		return // the syntax check says what is wrong
	}
	for _, s := range stmts {
		switch s.(type) {
		case *statement.CreateConnection, *statement.AlterConnection:
			if statement.Text(s) != statement.RedactedText(s) {
				c.warnf("a secret given on the command line stays in shell history; write it as :name and pass --param name=@FILE or --param name=@- (stdin)")
				return
			}
		}
	}
}
