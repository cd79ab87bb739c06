package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ListGate is shown every tool one tools/list answer lists (each that parsed, in the
// answer's order) and returns the names of those the caller must not see, each with
// its reason. An error fails closed: the answer is replaced with a JSON-RPC error.
// It is how tool pins reach this package without it knowing where pins are kept.
type ListGate func(tools []ToolDefinition) (hidden map[string]string, err error)

// CallGate returns "" when a tools/call of tool may reach the upstream, else the
// reason it may not. An error refuses the call (fail closed).
type CallGate func(tool string) (reason string, err error)

// Policy is what a connection's tools are judged by: its allow-list, then its pins.
type Policy struct {
	// Connection is the connection's name, for the refusal's message.
	Connection string
	// Allow is the connection's mcp_allowed_tools.
	Allow AllowList
	// ListGate and CallGate are the tool pins; nil means no pinning.
	ListGate ListGate
	CallGate CallGate
}

// FiltersToolsLists reports whether tools/list answers must be inspected and may be
// rewritten: an allow-list restricts the tools, or a gate must see them.
func (p Policy) FiltersToolsLists() bool { return p.Allow.Restricted() || p.ListGate != nil }

// The reasons a tools/call is refused (Decision.Reason).
const (
	// ReasonAllowList: the tool is not on the connection's mcp_allowed_tools.
	ReasonAllowList = "allow_list"
	// ReasonPin: the tool pins refuse it (changed, not yet seen, or not checkable).
	ReasonPin = "pin"
)

// PinsUncheckable is the reason given when the tool pins could not be checked.
const PinsUncheckable = "the tool pins could not be checked"

// Decision is the verdict on one message of a request.
type Decision struct {
	// Allowed is true when the message may go upstream.
	Allowed bool
	// Error is the JSON-RPC error response Gatehouse answers instead, when not allowed
	// (nil for a refused notification, which gets no answer).
	Error json.RawMessage
	// Reason says why a tools/call was refused: ReasonAllowList or ReasonPin.
	Reason string
}

// Verdict is the judgement of a whole request body.
type Verdict struct {
	// Batch is the request's Batch.
	Batch bool
	// Decisions holds one decision per message, in the request's order.
	Decisions []Decision
	messages  []Message
}

// refusalData is the data of a refusal by the pins.
type refusalData struct {
	Reason string `json:"reason"`
}

// Judge decides each message of req: a tools/call of a tool outside p.Allow, or one
// p.CallGate refuses (or cannot decide on), is refused with JSON-RPC error -32003 "Tool
// not allowed by connection {connection}" carrying the request's own id — with
// data.reason, the gate's reason, when the pins refused it — or, sent as a
// notification, dropped without an answer; every other message is allowed. A batch is
// judged element by element.
func Judge(req Request, p Policy) Verdict {
	v := Verdict{Batch: req.Batch, Decisions: make([]Decision, len(req.Messages)), messages: req.Messages}
	for i, m := range req.Messages {
		if m.Method != "tools/call" {
			v.Decisions[i] = Decision{Allowed: true}
			continue
		}
		var reason string
		var data any
		switch {
		case !p.Allow.Allowed(m.Tool):
			reason = ReasonAllowList
		case p.CallGate != nil:
			why, err := p.CallGate(m.Tool)
			if err != nil {
				why = PinsUncheckable
			}
			if why != "" {
				reason, data = ReasonPin, refusalData{Reason: why}
			}
		}
		if reason == "" {
			v.Decisions[i] = Decision{Allowed: true}
			continue
		}
		d := Decision{Reason: reason}
		if m.Kind != KindNotification {
			// Nothing to answer a notification with; it is just not forwarded.
			d.Error = ErrorResponse(m.ID, CodeToolNotAllowed, "Tool not allowed by connection "+p.Connection, data)
		}
		v.Decisions[i] = d
	}
	return v
}

// AllAllowed reports whether every message may go upstream (forward the body unchanged).
func (v Verdict) AllAllowed() bool {
	for _, d := range v.Decisions {
		if !d.Allowed {
			return false
		}
	}
	return true
}

// ForwardBody is the body to send upstream: the allowed messages, as a batch if the
// request was one (each element byte for byte as sent). It is nil when nothing is left
// to forward, and then the caller answers with OwnErrors alone.
func (v Verdict) ForwardBody() []byte {
	var kept []json.RawMessage
	for i, d := range v.Decisions {
		if d.Allowed {
			kept = append(kept, v.messages[i].Raw)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	if !v.Batch {
		return kept[0]
	}
	return joinArray(kept)
}

// OwnErrors is the error responses Gatehouse answers itself, in request order.
func (v Verdict) OwnErrors() []json.RawMessage {
	var out []json.RawMessage
	for _, d := range v.Decisions {
		if !d.Allowed && d.Error != nil {
			out = append(out, d.Error)
		}
	}
	return out
}

// OwnBody is what Gatehouse answers when nothing is forwarded: the single error, or
// the batch of errors; nil when only notifications were refused (answer 202 Accepted
// with no body, as the server would have).
func (v Verdict) OwnBody() []byte {
	errs := v.OwnErrors()
	if len(errs) == 0 {
		return nil
	}
	if !v.Batch && len(errs) == 1 {
		return errs[0]
	}
	return joinArray(errs)
}

// MergeBatch joins the upstream's answer to a forwarded batch with Gatehouse's own error
// responses into one batch response. upstream may be a JSON array, a single response
// object, or empty (every forwarded element was a notification or a response).
func MergeBatch(upstream []byte, own []json.RawMessage) ([]byte, error) {
	trimmed := bytes.TrimSpace(upstream)
	var elems []json.RawMessage
	switch {
	case len(trimmed) == 0:
	case trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return nil, fmt.Errorf("merge batch: upstream answer: %w", err)
		}
	case trimmed[0] == '{':
		if !json.Valid(trimmed) {
			return nil, errors.New("merge batch: upstream answer is not valid JSON")
		}
		elems = []json.RawMessage{trimmed}
	default:
		return nil, errors.New("merge batch: upstream answer is neither an array nor an object")
	}
	return joinArray(append(elems, own...)), nil
}

// ErrorResponse builds a JSON-RPC error response. A nil id becomes null.
func ErrorResponse(id json.RawMessage, code int, message string, data any) json.RawMessage {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}
	out, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", id, rpcError{code, message, data}})
	if err != nil {
		// Only an unmarshalable data value or an invalid id can fail; answer without them.
		out, _ = json.Marshal(struct {
			JSONRPC string    `json:"jsonrpc"`
			ID      *struct{} `json:"id"`
			Error   rpcError  `json:"error"`
		}{"2.0", nil, rpcError{Code: code, Message: message}})
	}
	return out
}

func joinArray(elems []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// SSEMessage frames one JSON-RPC message as an SSE event, for a proxy that answers a
// batch upstream with an event stream and must add Gatehouse's own errors to it. msg
// is compact JSON (ErrorResponse's output), so it fits one data line.
func SSEMessage(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+len("event: message\ndata: \n\n"))
	out = append(out, "event: message\ndata: "...)
	out = append(out, msg...)
	return append(out, "\n\n"...)
}
