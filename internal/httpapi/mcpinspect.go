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
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/hop"
	"github.com/gatehouse/gatehouse/internal/mcp"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// maxMCPResponseBytes bounds a JSON answer the MCP proxy holds to rewrite (a tools/list
// response, or a batch answer it merges its own errors into). Event streams are never
// held: they are rewritten event by event.
const maxMCPResponseBytes = 8 << 20

// serveMCPPost serves a POST on the MCP proxy. Every POST body is read — after the
// decisions: the caller is authenticated and authorized by then, or must log in first
// on a per-user OAuth connection — bounded by --proxy-max-body-bytes, and parsed as
// JSON-RPC. A malformed body, or one whose Mcp-Method or Mcp-Name header says something
// other than the body, is answered by Gatehouse with a JSON-RPC error and never
// forwarded; a tools/call of a tool off the allow-list, or one the tool pins refuse, is
// answered with -32003 and never forwarded (a batch is judged element by element); the
// answers to tools/list are rewritten so that the tools off the list and those the pins
// hide vanish; and every tools/call is one mcpToolCall audit event with its outcome.
// The body read is the one copy: when every message is allowed it is forwarded as it
// is.
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
		// Parsed once per connection version, by the connection cache (connEntry).
		allow, err = c.entry.allow, c.entry.allowErr
		if err != nil {
			// Validated at create and update; a stored list that does not parse is refused
			// rather than read as "every tool".
			refuseUnread(w, r)
			err = fmt.Errorf("connection %s: stored %s: %w", c.conn.Name, catalog.OptMCPAllowedTools, err)
			c.record(0, err)
			s.writeError(w, r, err)
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
	if err := mcp.CheckHeaders(req, headerValues(r.Header, mcp.HeaderMethod), headerValues(r.Header, mcp.HeaderName)); err != nil {
		// An upstream (or a front end) that routes on these headers must execute what
		// was judged: a header that disagrees with the body is refused, never forwarded.
		reason := "the routing headers do not match the body"
		var je *mcp.Error
		if errors.As(err, &je) {
			reason = je.Reason
		}
		c.record(http.StatusBadRequest, catalog.Errorf(catalog.InvalidParameterValue, "%s", reason))
		writeRPC(w, http.StatusBadRequest, mcp.ErrorResponse(singleID(req), mcp.CodeInvalidRequest, reason, nil))
		c.refuseToolCalls(req, reasonHeaders, mcp.CodeInvalidRequest, http.StatusBadRequest)
		return
	}
	if login != nil {
		c.answerMCPLogin(req, login)
		return
	}
	c.forwardJudged(t, body, req, c.mcpPolicy(allow))
}

// The reasons of a refused mcpToolCall beside the policy's (mcp.ReasonAllowList,
// mcp.ReasonPin): the routing headers disagreed with the body, or the caller must log in
// first.
const (
	reasonHeaders = "headers"
	reasonLogin   = "login"
)

// headerValues is every value of the header named (by hop.Name, so that an underscore
// spelling counts too: servers behind CGI-like gateways read Mcp_Method as Mcp-Method).
func headerValues(h http.Header, name string) []string {
	var out []string
	for k, vv := range h {
		if hop.Name(k) == name {
			out = append(out, vv...)
		}
	}
	return out
}

// singleID is the id of a request that is one message, else nil.
func singleID(req mcp.Request) json.RawMessage {
	if req.Batch || len(req.Messages) != 1 {
		return nil
	}
	return req.Messages[0].ID
}

// mcpPolicy is what the connection's tools are judged by: its allow-list, and the tool
// pins when the server has a gate (Deps.MCPTools). The gate's errors are logged here and
// fail closed in internal/mcp.
func (c *call) mcpPolicy(allow mcp.AllowList) mcp.Policy {
	p := mcp.Policy{Connection: c.conn.Name, Allow: allow}
	g := c.s.MCPTools
	if g == nil {
		return p
	}
	ctx, conn, principal := c.r.Context(), c.conn, c.who.Principal.Name
	p.ListGate = func(tools []mcp.ToolDefinition) (map[string]string, error) {
		hidden, err := g.ObserveTools(ctx, conn, principal, tools)
		if err != nil {
			c.s.Log.Warn("mcp proxy: the tool pins could not be checked; the tools/list answer is replaced with an error",
				"request_id", RequestID(ctx), "connection", conn.Name, "err", err)
			return nil, err
		}
		return hidden, nil
	}
	p.CallGate = func(tool string) (string, error) {
		reason, err := g.ToolCallable(ctx, conn, tool)
		if err != nil {
			c.s.Log.Warn("mcp proxy: the tool pins could not be checked; the tools/call is refused",
				"request_id", RequestID(ctx), "connection", conn.Name, "tool", bound.String(tool), "err", err)
			return "", err
		}
		return reason, nil
	}
	return p
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
			if mcp.ClientDeclaresURLElicitation(m.Params) {
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
	code := mcp.CodeLoginRequired
	if elicit {
		code = mcp.CodeURLElicitationRequired
	}
	if len(errs) == 0 {
		c.s.writeError(c.w, c.r, login)
		c.refuseToolCalls(req, reasonLogin, code, login.HTTPStatus())
		return
	}
	body := errs[0]
	if req.Batch {
		body, _ = mcp.MergeBatch(nil, errs) // nil upstream: only joins errs, never fails.
	}
	writeRPC(c.w, http.StatusOK, body)
	c.refuseToolCalls(req, reasonLogin, code, http.StatusOK)
}

// forwardJudged forwards what the policy lets through and answers the rest itself.
func (c *call) forwardJudged(t proxy.Target, body []byte, req mcp.Request, p mcp.Policy) {
	v := mcp.Judge(req, p)
	c.recordRefused(req, v)
	fwd := body
	if !v.AllAllowed() {
		fwd = v.ForwardBody()
	}
	if fwd == nil {
		own := v.OwnBody()
		status := http.StatusOK
		if own == nil {
			status = http.StatusAccepted
		}
		c.record(status, nil)
		if own == nil {
			c.w.WriteHeader(status)
			return
		}
		writeRPC(c.w, status, own)
		return
	}
	calls := c.newToolCalls(req, v)
	var lists mcp.IDSet
	if p.FiltersToolsLists() {
		lists = mcp.ToolsListIDs(req)
	}
	f := &mcpResponse{w: c.w, policy: p, lists: lists, own: v.OwnErrors(), batch: v.Batch, calls: calls}
	r := c.r
	pc := proxy.Call{Method: r.Method, RawQuery: r.URL.RawQuery, Header: r.Header, Body: bytes.NewReader(fwd), ContentLength: int64(len(fwd)),
		EventStreamHints: true}
	func() {
		// finish runs even if the proxy gives up half way.
		var fwdErr error = errMCPIncomplete
		defer func() {
			if err := f.finish(fwdErr); err != nil && c.out.Status != 0 {
				c.s.writeError(c.w, c.r, err)
			}
		}()
		fwdErr = c.forward(f, &t, &pc)
	}()
	calls.finish()
}

// toolCalls writes the mcpToolCall events of the tools/call requests of one POST that
// went to the upstream: one per call, when its answer arrives (matched by id, in a JSON
// answer, a batch, or the event that carries it) or, for a call never answered, at the
// end of the request. Never the call's arguments, result or error message.
type toolCalls struct {
	c       *call
	req     mcp.Request
	pending mcp.Calls
	// notes are the allowed tools/call notifications, which no answer resolves.
	notes []int
	// async is set once the answer is an event stream: each answer's event is written
	// at once, off the stream (the recorder may block when its queue is full).
	async bool
	// answered holds the answers of a JSON answer, written once it went out.
	answered []answeredCall
}

type answeredCall struct {
	i  int
	a  mcp.Answer
	at time.Time
}

// newToolCalls tracks the forwarded tools/call messages of req; nil when there are
// none, or nothing to record them in.
func (c *call) newToolCalls(req mcp.Request, v mcp.Verdict) *toolCalls {
	if c.s.Audit == nil {
		return nil
	}
	tc := &toolCalls{c: c, req: req, pending: mcp.ForwardedCalls(req, v)}
	for i, m := range req.Messages {
		if m.Kind == mcp.KindNotification && m.Method == "tools/call" && v.Decisions[i].Allowed {
			tc.notes = append(tc.notes, i)
		}
	}
	if tc.pending.Pending() == 0 && len(tc.notes) == 0 {
		return nil
	}
	return tc
}

// waiting reports whether answers are still expected.
func (tc *toolCalls) waiting() bool { return tc != nil && tc.pending.Pending() > 0 }

// onAnswer takes one response of the upstream's answer, as it arrives.
func (tc *toolCalls) onAnswer(a mcp.Answer) {
	i, ok := tc.pending.Resolve(a)
	if !ok {
		return
	}
	at := tc.c.s.Now()
	if tc.async {
		e := tc.c.toolCallEvent(tc.req.Messages[i], a.Outcome(), at, http.StatusOK)
		setAnswerParams(e, a)
		tc.c.s.Audit.Record(context.WithoutCancel(tc.c.r.Context()), e)
		return
	}
	tc.answered = append(tc.answered, answeredCall{i: i, a: a, at: at})
}

// finish writes the events not yet written, once the answer went out: those of a JSON
// answer, and a no_answer event (with the HTTP status the caller got) for every call the
// upstream did not answer and every tools/call notification.
func (tc *toolCalls) finish() {
	if tc == nil {
		return
	}
	c := tc.c
	status := c.out.Status
	if rec, ok := c.w.(*statusRecorder); ok && rec.status != 0 {
		status = rec.status
	}
	unanswered := append(tc.pending.Unanswered(), tc.notes...)
	if len(tc.answered) == 0 && len(unanswered) == 0 {
		return
	}
	// What the caller is owed goes out before the records, which may wait.
	_ = http.NewResponseController(c.w).Flush()
	ctx := context.WithoutCancel(c.r.Context())
	for _, a := range tc.answered {
		e := c.toolCallEvent(tc.req.Messages[a.i], a.a.Outcome(), a.at, status)
		setAnswerParams(e, a.a)
		c.s.Audit.Record(ctx, e)
	}
	end := c.s.Now()
	for _, i := range unanswered {
		c.s.Audit.Record(ctx, c.toolCallEvent(tc.req.Messages[i], mcp.OutcomeNoAnswer, end, status))
	}
}

// setAnswerParams adds what an answer says of its outcome: the JSON-RPC error's code,
// never its message (an upstream's message may carry anything).
func setAnswerParams(e *catalog.AuditEvent, a mcp.Answer) {
	if a.Error && a.HasCode {
		e.Params["jsonrpc_error"] = strconv.Itoa(a.Code)
	}
}

// toolCallEvent is the mcpToolCall event of one tools/call: the connection, the
// principal, the tool, the outcome and the time from the request's start to at.
func (c *call) toolCallEvent(m mcp.Message, outcome string, at time.Time, status int) *catalog.AuditEvent {
	return &catalog.AuditEvent{
		ActionName: catalog.ActionMCPToolCall,
		SourceIP:   catalog.RequestInfoFrom(c.r.Context()).SourceIP,
		RequestID:  RequestID(c.r.Context()),
		Connection: c.conn.Name,
		Principal:  c.who.Principal.Name,
		StatusCode: status,
		Decision:   catalog.DecisionAllow,
		Params: map[string]string{"tool": bound.String(m.Tool), "outcome": outcome,
			"duration_ms": strconv.FormatInt(at.Sub(c.start).Milliseconds(), 10)},
	}
}

// refusedEvent is the event of a tools/call Gatehouse answered itself.
func (c *call) refusedEvent(m mcp.Message, reason string, code, status int) *catalog.AuditEvent {
	e := c.toolCallEvent(m, mcp.OutcomeRefused, c.s.Now(), status)
	e.Decision = catalog.DecisionDeny
	e.Params["jsonrpc_error"] = strconv.Itoa(code)
	e.Params["reason"] = reason
	return e
}

// recordRefused writes the event of every tools/call of req the verdict refused
// (answered by Gatehouse with -32003), before anything is forwarded.
func (c *call) recordRefused(req mcp.Request, v mcp.Verdict) {
	if c.s.Audit == nil {
		return
	}
	for i, m := range req.Messages {
		if m.Method == "tools/call" && !v.Decisions[i].Allowed {
			c.s.Audit.Record(context.WithoutCancel(c.r.Context()), c.refusedEvent(m, v.Decisions[i].Reason, mcp.CodeToolNotAllowed, http.StatusOK))
		}
	}
}

// refuseToolCalls writes the event of every tools/call of a request Gatehouse answered
// as a whole (headers that disagree with the body, a login first).
func (c *call) refuseToolCalls(req mcp.Request, reason string, code, status int) {
	if c.s.Audit == nil {
		return
	}
	for _, m := range req.Messages {
		if m.Method == "tools/call" {
			c.s.Audit.Record(context.WithoutCancel(c.r.Context()), c.refusedEvent(m, reason, code, status))
		}
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
// answer that must be rewritten (a tools/list under an allow-list or pins) or merged
// with Gatehouse's own errors (a batch) is held, bounded; a 200 event stream that must
// be rewritten, merged or watched for tools/call answers passes through an
// mcp.SSEWriter event by event, Gatehouse's own errors appended as events at its end;
// any other answer passes as is, unheld — a JSON one watched for tools/call answers by
// an mcp.AnswerScanner as it passes.
type mcpResponse struct {
	w      http.ResponseWriter
	policy mcp.Policy
	// lists are the ids of the tools/list requests whose answers are rewritten (none
	// when the policy filters nothing).
	lists mcp.IDSet
	own   []json.RawMessage
	batch bool
	calls *toolCalls

	mode   int
	status int
	buf    bytes.Buffer
	sse    *mcp.SSEWriter
	scan   *mcp.AnswerScanner
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
// complete yet, and the SSE writer flushes after every write itself.
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
	own := f.batch && len(f.own) > 0
	rewrite := len(f.lists) > 0
	watch := f.calls.waiting()
	switch {
	case code == http.StatusOK && mt == "application/json" && (rewrite || own),
		code == http.StatusAccepted && own:
		f.mode, f.status = respJSON, code
		f.w.Header().Del("Content-Length")
		if watch {
			f.scan = &mcp.AnswerScanner{On: f.calls.onAnswer}
		}
	case code == http.StatusOK && mt == "text/event-stream" && (rewrite || own || watch):
		f.mode, f.status = respSSE, code
		f.w.Header().Del("Content-Length")
		filter := &mcp.SSEFilter{Policy: f.policy, IDs: f.lists}
		if watch {
			filter.OnAnswer = f.calls.onAnswer
			f.calls.async = true
		}
		f.sse = filter.NewWriter(f.w)
		f.w.WriteHeader(code)
	default:
		f.mode, f.status = respPass, code
		if watch && mt == "application/json" {
			f.scan = &mcp.AnswerScanner{On: f.calls.onAnswer}
		}
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
		if f.scan != nil {
			_, _ = f.scan.Write(p)
		}
		return f.buf.Write(p)
	case respSSE:
		return f.sse.Write(p)
	}
	n, err := f.w.Write(p)
	if f.scan != nil {
		_, _ = f.scan.Write(p[:n])
	}
	return n, err
}

// finish completes the answer after the proxy returned: it ends the SSE writer and
// appends Gatehouse's own errors, or rewrites and sends the held JSON answer. An error
// means nothing was sent yet and the caller must answer with it.
func (f *mcpResponse) finish(fwdErr error) error {
	switch f.mode {
	case respSSE:
		if fwdErr != nil {
			// The stream was cut: its partial last event is dropped, and the proxy said
			// why.
			return nil
		}
		if err := f.sse.Close(); err != nil {
			return nil // the caller is gone.
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
		if len(f.lists) > 0 && len(body) > 0 {
			out, err := mcp.FilterToolsList(body, f.policy, f.lists)
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
