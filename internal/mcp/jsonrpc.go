// Package mcp is JSON-RPC inspection for MCP connections: allow-lists, tool-call
// recognition, tools/list rewriting, and the JSON-RPC error shapes Gatehouse answers with
// itself. It holds no state and does no I/O except the SSE filter's stream copy; the MCP
// proxy route calls it.
package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSON-RPC error codes Gatehouse answers with.
const (
	// CodeParseError is JSON-RPC's "Parse error": the body is not JSON.
	CodeParseError = -32700
	// CodeInvalidRequest is JSON-RPC's "Invalid Request": JSON, but not a JSON-RPC message.
	CodeInvalidRequest = -32600
	// CodeInternalError is JSON-RPC's "Internal error".
	CodeInternalError = -32603
	// CodeToolNotAllowed answers a tools/call of a tool outside the connection's allow-list.
	CodeToolNotAllowed = -32003
	// CodeURLElicitationRequired is MCP's URLElicitationRequiredError (2025-11-25).
	CodeURLElicitationRequired = -32042
)

// MaxIDBytes bounds the raw JSON of a message id. Larger ids are refused rather than
// truncated, so that the id Gatehouse answers with is always the one the client sent.
const MaxIDBytes = 1024

// Kind says what a JSON-RPC message is.
type Kind int

// The kinds of JSON-RPC message.
const (
	// KindRequest has a method and an id, and expects a response.
	KindRequest Kind = iota + 1
	// KindNotification has a method and no id.
	KindNotification
	// KindResponse has an id and a result or an error (a client answering a server request).
	KindResponse
)

// Message is one JSON-RPC message of a request body.
type Message struct {
	// Kind says whether it is a request, a notification or a response.
	Kind Kind
	// ID is the id exactly as sent (nil for a notification).
	ID json.RawMessage
	// Method is the method of a request or notification.
	Method string
	// Tool is params.name of a tools/call (request or notification).
	Tool string
	// Params is the params member as sent (nil when absent).
	Params json.RawMessage
	// Raw is the message's bytes exactly as sent.
	Raw json.RawMessage
}

// Request is a parsed request body: one message, or a batch.
type Request struct {
	// Batch is true when the body was a JSON array.
	Batch bool
	// Messages holds the message, or the batch's elements in order.
	Messages []Message
}

// Error is a body that is not an acceptable JSON-RPC message. Code is CodeParseError or
// CodeInvalidRequest, the code the proxy answers with; Reason is safe to show the caller
// (it never quotes the body).
type Error struct {
	Code   int
	Reason string
}

// Error describes the problem without quoting the body.
func (e *Error) Error() string { return fmt.Sprintf("json-rpc %d: %s", e.Code, e.Reason) }

func invalid(format string, a ...any) error {
	return &Error{Code: CodeInvalidRequest, Reason: fmt.Sprintf(format, a...)}
}

// ParseRequest parses a client-to-server body: a JSON-RPC 2.0 request, notification or
// response, or a non-empty batch of them. The caller bounds the body
// (--proxy-max-body-bytes). It refuses what another JSON parser could read differently
// from Go's (invalid UTF-8, duplicate keys, keys differing only in case from a member
// name): the upstream must see the very method and tool that were judged.
func ParseRequest(body []byte) (Request, error) {
	if !utf8.Valid(body) || !json.Valid(body) {
		return Request{}, &Error{Code: CodeParseError, Reason: "the body is not valid JSON"}
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return Request{}, &Error{Code: CodeParseError, Reason: "the body is not valid JSON"}
		}
		if len(elems) == 0 {
			return Request{}, invalid("an empty batch")
		}
		req := Request{Batch: true, Messages: make([]Message, 0, len(elems))}
		for i, e := range elems {
			m, err := parseMessage(e)
			if err != nil {
				var je *Error
				if errors.As(err, &je) {
					je.Reason = fmt.Sprintf("batch element %d: %s", i, je.Reason)
				}
				return Request{}, err
			}
			req.Messages = append(req.Messages, m)
		}
		return req, nil
	}
	m, err := parseMessage(body)
	if err != nil {
		return Request{}, err
	}
	return Request{Messages: []Message{m}}, nil
}

var messageMembers = []string{"jsonrpc", "id", "method", "params", "result", "error"}

func parseMessage(raw json.RawMessage) (Message, error) {
	f, err := objectFields(raw, messageMembers)
	if err != nil {
		return Message{}, invalid("%s", err.Error())
	}
	var version string
	if v, ok := f["jsonrpc"]; !ok || json.Unmarshal(v.raw, &version) != nil || version != "2.0" {
		return Message{}, invalid(`"jsonrpc" must be "2.0"`)
	}
	m := Message{Raw: raw, Params: f["params"].raw}
	idField, hasID := f["id"]
	if hasID {
		if len(idField.raw) > MaxIDBytes {
			return Message{}, invalid("the id is longer than %d bytes", MaxIDBytes)
		}
		m.ID = idField.raw
	}
	methodField, hasMethod := f["method"]
	_, hasResult := f["result"]
	_, hasError := f["error"]
	if hasMethod {
		if hasResult || hasError {
			return Message{}, invalid("a message with a method cannot carry a result or an error")
		}
		if json.Unmarshal(methodField.raw, &m.Method) != nil || m.Method == "" {
			return Message{}, invalid(`"method" must be a non-empty string`)
		}
		m.Kind = KindNotification
		if hasID {
			if !isStringOrNumber(m.ID) {
				return Message{}, invalid("a request id must be a string or a number")
			}
			m.Kind = KindRequest
		}
		// A tools/call sent as a notification is judged too: a lenient server might run it.
		if m.Method == "tools/call" {
			tool, err := toolName(f["params"].raw)
			if err != nil {
				return Message{}, err
			}
			m.Tool = tool
		}
		return m, nil
	}
	if !hasID {
		return Message{}, invalid(`a message needs a "method" or an "id"`)
	}
	if hasResult == hasError {
		return Message{}, invalid("a response carries exactly one of result and error")
	}
	if !isStringOrNumber(m.ID) && string(m.ID) != "null" {
		return Message{}, invalid("a response id must be a string, a number or null")
	}
	m.Kind = KindResponse
	return m, nil
}

func toolName(params json.RawMessage) (string, error) {
	if params == nil {
		return "", invalid("tools/call needs params.name")
	}
	f, err := objectFields(params, []string{"name"})
	if err != nil {
		return "", invalid("params: %s", err.Error())
	}
	var name string
	if v, ok := f["name"]; !ok || json.Unmarshal(v.raw, &name) != nil || name == "" {
		return "", invalid("tools/call needs params.name as a non-empty string")
	}
	return name, nil
}

func isStringOrNumber(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	c := raw[0]
	return c == '"' || c == '-' || (c >= '0' && c <= '9')
}

// field is one member of a JSON object: its raw value and where it lies in the object.
type field struct {
	raw        json.RawMessage
	start, end int // byte offsets of the value within the object's bytes
}

// objectFields reads a JSON object's members strictly: duplicate keys, or a key equal
// but for case to one of members (Go's decoder would match it), are errors, since
// parsers disagree on which duplicate wins.
func objectFields(raw []byte, members []string) (map[string]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	fields := make(map[string]field)
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a JSON object")
		}
		key, _ := tok.(string)
		folded := strings.ToLower(key)
		if _, dup := seen[folded]; dup {
			return nil, errors.New("duplicate member names")
		}
		seen[folded] = struct{}{}
		for _, m := range members {
			if key != m && strings.EqualFold(key, m) {
				return nil, fmt.Errorf("member %q differs from %q only in case", bounded(key), m)
			}
		}
		// The offset after the key is just before the colon and value; the value starts
		// at the first non-space byte after the colon.
		off := int(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not a JSON object")
		}
		end := int(dec.InputOffset())
		start := off
		for start < end && (raw[start] == ' ' || raw[start] == '\t' || raw[start] == '\r' || raw[start] == '\n' || raw[start] == ':') {
			start++
		}
		fields[key] = field{raw: v, start: start, end: end}
	}
	return fields, nil
}

func bounded(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)[1 : len(strconv.Quote(s))-1]
}

// The 2026-07-28 routing headers: a server (or a front end) may route a POST on them
// without reading its body.
const (
	// HeaderMethod carries the body's method.
	HeaderMethod = "Mcp-Method"
	// HeaderName carries the body's tool name (tools/call), prompt name (prompts/get) or
	// resource uri (resources/read).
	HeaderName = "Mcp-Name"
)

// CheckHeaders checks the routing headers of a POST against its body, so that an
// upstream that routes on them executes what was judged: methods and names are every
// value the request carries for HeaderMethod and HeaderName (none when absent). A
// header present on a batch, present more than once, or not equal (byte for byte) to
// what the body says is an *Error with CodeInvalidRequest naming the header.
func CheckHeaders(req Request, methods, names []string) error {
	if len(methods) == 0 && len(names) == 0 {
		return nil
	}
	for _, h := range []struct {
		name   string
		values []string
	}{{HeaderMethod, methods}, {HeaderName, names}} {
		switch {
		case len(h.values) == 0:
		case req.Batch:
			return invalid("a batch cannot carry the %s header", h.name)
		case len(h.values) > 1:
			return invalid("the %s header appears more than once", h.name)
		}
	}
	m := req.Messages[0]
	if len(methods) == 1 && (m.Kind == KindResponse || methods[0] != m.Method) {
		return invalid("the %s header does not match the body's method", HeaderMethod)
	}
	if len(names) == 1 {
		var member, what string
		switch m.Method {
		case "tools/call":
			member, what = "name", "tool name"
		case "prompts/get":
			member, what = "name", "prompt name"
		case "resources/read":
			member, what = "uri", "resource uri"
		default:
			return invalid("the %s header is only for tools/call, prompts/get and resources/read", HeaderName)
		}
		if v, ok := paramString(m.Params, member); !ok || v != names[0] {
			return invalid("the %s header does not match the body's %s", HeaderName, what)
		}
	}
	return nil
}

// paramString reads params.{member} strictly as a string.
func paramString(params json.RawMessage, member string) (string, bool) {
	if params == nil {
		return "", false
	}
	f, err := objectFields(params, []string{member})
	if err != nil {
		return "", false
	}
	var v string
	if raw, ok := f[member]; !ok || json.Unmarshal(raw.raw, &v) != nil {
		return "", false
	}
	return v, true
}
