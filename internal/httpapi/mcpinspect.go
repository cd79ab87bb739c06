package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/mcp"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// maxMCPResponseBytes bounds a JSON answer the MCP proxy holds to rewrite (a tools/list
// response, or a batch answer it merges its own errors into). Event streams are never
// held: they are rewritten event by event.
const maxMCPResponseBytes = 8 << 20

// serveMCPPost serves a POST on the MCP proxy. Without an allow-list, and with a
// credential for the caller, the body is streamed to the upstream untouched, exactly as
// serveStreamed does (no body read). With mcp_allowed_tools set, or on a per-user OAuth
// connection the caller has not logged in to, the body — the caller is authenticated and
// authorized by then — is read (bounded by --proxy-max-body-bytes) and parsed as
// JSON-RPC: a malformed body is answered by Gatehouse with a JSON-RPC error, a tools/call
// of a tool off the list is answered with -32003 and never forwarded (a batch is judged
// element by element), and the answers to tools/list are rewritten so that the tools off
// the list vanish.
func (c *call) serveMCPPost() {
	s, w, r := c.s, c.w, c.r
	t, err := c.authorize()
	var login *catalog.Error
	if err != nil && (!errors.As(err, &login) || login.Code != catalog.OAuthLoginRequired || c.conn == nil) {
		refuseUnread(w, r)
		c.record(0, err)
		s.writeError(w, r, err)
		return
	}
	if err == nil {
		login = nil
	}
	var allow mcp.AllowList
	if login == nil {
		allow, err = mcp.ParseAllowList(c.conn.Options[catalog.OptMCPAllowedTools])
		if err != nil {
			// Validated at create and update; a stored list that does not parse is refused
			// rather than read as "every tool".
			refuseUnread(w, r)
			err = fmt.Errorf("connection %s: stored %s: %w", c.conn.Name, catalog.OptMCPAllowedTools, err)
			c.record(0, err)
			s.writeError(w, r, err)
			return
		}
		if !allow.Restricted() {
			c.forward(w, t, proxy.Call{Method: r.Method, RawQuery: r.URL.RawQuery, Header: r.Header, Body: r.Body, ContentLength: r.ContentLength,
				EventStreamHints: true})
			return
		}
	}
	bodyDeadline(w, r, s.BodyTimeout)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.Proxy.MaxRequestBytes()))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = catalog.TooLarge(mbe.Limit)
		}
		c.record(0, err)
		s.writeError(w, r, err)
		return
	}
	req, err := mcp.ParseRequest(body)
	if err != nil {
		code, reason := mcp.CodeParseError, "the body is not valid JSON"
		var je *mcp.Error
		if errors.As(err, &je) {
			code, reason = je.Code, je.Reason
		}
		c.record(http.StatusBadRequest, catalog.Errorf(catalog.InvalidParameterValue, "not a JSON-RPC message: %s", reason))
		writeRPC(w, http.StatusBadRequest, mcp.ErrorResponse(nil, code, reason, nil))
		return
	}
	if login != nil {
		c.answerMCPLogin(req, login)
		return
	}
	c.forwardJudged(t, req, allow)
}

// answerMCPLogin answers a JSON-RPC POST on a per-user OAuth connection the caller has
// no token for with the MCP-shaped login error: -32042 (URL elicitation) when the
// request is an initialize that declares the elicitation.url capability (Gatehouse keeps
// no session state, so only the request itself can tell), otherwise the JSON-RPC error
// carrying data.login_url; HTTP 200 with a JSON-RPC body. A body with nothing to answer
// (only notifications or responses) gets the 401 envelope.
func (c *call) answerMCPLogin(req mcp.Request, login *catalog.Error) {
	elicit := false
	for _, m := range req.Messages {
		if m.Kind == mcp.KindRequest && m.Method == "initialize" {
			var p struct {
				Params json.RawMessage `json:"params"`
			}
			if json.Unmarshal(m.Raw, &p) == nil && mcp.ClientDeclaresURLElicitation(p.Params) {
				elicit = true
			}
		}
	}
	var errs []json.RawMessage
	for _, m := range req.Messages {
		if m.Kind == mcp.KindRequest {
			errs = append(errs, mcp.LoginRequiredError(m.ID, login.Message, login.LoginURL, elicit))
		}
	}
	c.record(0, login)
	if len(errs) == 0 {
		c.s.writeError(c.w, c.r, login)
		return
	}
	body := errs[0]
	if req.Batch {
		body, _ = mcp.MergeBatch(nil, errs) // nil upstream: only joins errs, never fails.
	}
	writeRPC(c.w, http.StatusOK, body)
}

// forwardJudged forwards what the allow-list lets through and answers the rest itself.
func (c *call) forwardJudged(t proxy.Target, req mcp.Request, allow mcp.AllowList) {
	v := mcp.Judge(req, allow, c.conn.Name)
	own := v.OwnErrors()
	fwd := v.ForwardBody()
	if fwd == nil {
		body := v.OwnBody()
		status := http.StatusOK
		if body == nil {
			status = http.StatusAccepted
		}
		c.record(status, nil)
		c.recordToolCalls(req, v)
		if body == nil {
			c.w.WriteHeader(status)
			return
		}
		writeRPC(c.w, status, body)
		return
	}
	ids := mcp.ToolsListIDs(req)
	f := &mcpResponse{w: c.w, allow: allow, ids: ids, own: own, batch: v.Batch}
	r := c.r
	pc := proxy.Call{Method: r.Method, RawQuery: r.URL.RawQuery, Header: r.Header, Body: bytes.NewReader(fwd), ContentLength: int64(len(fwd)),
		EventStreamHints: true}
	func() {
		// finish runs even if the proxy gives up half way, so that the SSE filter's
		// goroutine always ends.
		var fwdErr error = errMCPIncomplete
		defer func() {
			if err := f.finish(fwdErr); err != nil && c.out.Status != 0 {
				c.s.writeError(c.w, c.r, err)
			}
		}()
		fwdErr = c.forward(f, t, pc)
	}()
	c.recordToolCalls(req, v)
}

// recordToolCalls writes one mcpToolCall event per tools/call of the request: the
// connection, the principal, the tool, whether it was allowed or refused, and the
// call's duration. Never its arguments or result.
func (c *call) recordToolCalls(req mcp.Request, v mcp.Verdict) {
	if c.s.Audit == nil {
		return
	}
	d := strconv.FormatInt(c.s.Now().Sub(c.start).Milliseconds(), 10)
	for i, m := range req.Messages {
		if m.Method != "tools/call" {
			continue
		}
		e := &catalog.AuditEvent{
			ActionName: catalog.ActionMCPToolCall,
			SourceIP:   sourceIP(c.r),
			RequestID:  RequestID(c.r.Context()),
			Connection: c.conn.Name,
			Principal:  c.who.Principal.Name,
			StatusCode: c.out.Status,
			Decision:   catalog.DecisionAllow,
			Params:     map[string]string{"tool": bound.String(m.Tool), "outcome": "allowed", "duration_ms": d},
		}
		if !v.Decisions[i].Allowed {
			e.Decision = catalog.DecisionDeny
			e.Params["outcome"] = "refused"
			e.Params["jsonrpc_error"] = strconv.Itoa(mcp.CodeToolNotAllowed)
			e.StatusCode = http.StatusOK
		}
		c.s.Audit.Record(context.WithoutCancel(c.r.Context()), e)
	}
}

// writeRPC answers with a JSON-RPC body Gatehouse built itself.
func writeRPC(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Trailer")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// mcpResponse stands between the proxy and the caller for a judged POST: a 200 JSON
// answer is held (bounded) to be rewritten (tools/list) and merged with Gatehouse's own
// errors (a batch); a 200 event stream passes through an mcp.SSEFilter event by event,
// Gatehouse's own errors appended as events at its end; any other answer passes as is.
type mcpResponse struct {
	w     http.ResponseWriter
	allow mcp.AllowList
	ids   mcp.IDSet
	own   []json.RawMessage
	batch bool

	mode   int
	status int
	buf    bytes.Buffer
	pw     *io.PipeWriter
	done   chan error
}

const (
	respUndecided = iota
	respPass
	respJSON
	respSSE
)

var errMCPIncomplete = errors.New("mcp proxy: the upstream's answer did not arrive whole")

var errMCPResponseTooLarge = errors.New("mcp proxy: upstream JSON answer too large to inspect")

func (f *mcpResponse) Header() http.Header { return f.w.Header() }

// Unwrap lets http.ResponseController reach the caller's connection (deadlines).
func (f *mcpResponse) Unwrap() http.ResponseWriter { return f.w }

// Flush passes through only for an answer relayed as is: a held JSON answer is not
// complete yet, and the SSE filter flushes after every chunk itself.
func (f *mcpResponse) Flush() {
	if f.mode == respPass {
		_ = http.NewResponseController(f.w).Flush()
	}
}

func (f *mcpResponse) WriteHeader(code int) {
	if f.mode != respUndecided {
		return
	}
	mt, _, _ := mime.ParseMediaType(f.w.Header().Get("Content-Type"))
	switch {
	case code == http.StatusOK && mt == "application/json" && (len(f.ids) > 0 || (f.batch && len(f.own) > 0)),
		code == http.StatusAccepted && f.batch && len(f.own) > 0:
		f.mode, f.status = respJSON, code
		f.w.Header().Del("Content-Length")
	case code == http.StatusOK && mt == "text/event-stream":
		f.mode = respSSE
		f.w.Header().Del("Content-Length")
		f.w.WriteHeader(code)
		pr, pw := io.Pipe()
		f.pw, f.done = pw, make(chan error, 1)
		filter := &mcp.SSEFilter{Allow: f.allow, IDs: f.ids}
		go func() {
			err := filter.Copy(f.w, pr)
			// A filter that stopped (the caller gone) must not leave the proxy blocked
			// writing into the pipe.
			pr.CloseWithError(errors.Join(err, io.ErrClosedPipe))
			f.done <- err
		}()
	default:
		f.mode = respPass
		f.w.WriteHeader(code)
	}
}

func (f *mcpResponse) Write(p []byte) (int, error) {
	if f.mode == respUndecided {
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case respJSON:
		if f.buf.Len()+len(p) > maxMCPResponseBytes {
			return 0, errMCPResponseTooLarge
		}
		return f.buf.Write(p)
	case respSSE:
		return f.pw.Write(p)
	}
	return f.w.Write(p)
}

// finish completes the answer after the proxy returned: it ends the SSE filter and
// appends Gatehouse's own errors, or rewrites and sends the held JSON answer. An error
// means nothing was sent yet and the caller must answer with it.
func (f *mcpResponse) finish(fwdErr error) error {
	switch f.mode {
	case respSSE:
		_ = f.pw.Close()
		if err := <-f.done; err != nil {
			return nil // the caller is gone or the stream was cut; the proxy said why.
		}
		if len(f.own) == 0 {
			return nil
		}
		for _, e := range f.own {
			if _, err := f.w.Write(mcp.SSEMessage(e)); err != nil {
				return nil
			}
		}
		_ = http.NewResponseController(f.w).Flush()
		return nil
	case respJSON:
		if fwdErr != nil {
			// The answer did not arrive whole: send none of it (a cut tools/list must
			// not be mistaken for the whole list).
			return fwdErr
		}
		body := f.buf.Bytes()
		if f.status == http.StatusAccepted {
			body = nil
		}
		if len(f.ids) > 0 && len(body) > 0 {
			out, err := mcp.FilterToolsList(body, f.allow)
			if err != nil {
				writeRPC(f.w, http.StatusBadGateway, mcp.ErrorResponse(nil, mcp.CodeInternalError, "the upstream's answer could not be inspected", nil))
				return nil
			}
			body = out
		}
		if f.batch && len(f.own) > 0 {
			merged, err := mcp.MergeBatch(body, f.own)
			if err != nil {
				writeRPC(f.w, http.StatusBadGateway, mcp.ErrorResponse(nil, mcp.CodeInternalError, "the upstream's answer could not be inspected", nil))
				return nil
			}
			body = merged
		}
		writeRPC(f.w, http.StatusOK, body)
	}
	return nil
}
