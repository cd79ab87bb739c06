package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// IDSet is a set of JSON-RPC ids, compared by value: "7", 7 and 7.0 are different from
// "7" but 7 and 7.0 are the same (a client in JavaScript would match them).
type IDSet map[string]struct{}

// Add puts the raw id in the set.
func (s IDSet) Add(raw json.RawMessage) { s[idKey(raw)] = struct{}{} }

// Has reports whether the raw id is in the set.
func (s IDSet) Has(raw json.RawMessage) bool {
	_, ok := s[idKey(raw)]
	return ok
}

// ToolsListIDs is the set of ids of the tools/list requests in req: the responses the
// proxy must pass through FilterToolsList or the SSE filter.
func ToolsListIDs(req Request) IDSet {
	s := IDSet{}
	for _, m := range req.Messages {
		if m.Kind == KindRequest && m.Method == "tools/list" {
			s.Add(m.ID)
		}
	}
	return s
}

func idKey(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return "s" + s
		}
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil && !math.IsInf(f, 0) {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	return "r" + string(raw)
}

// FilterToolsList rewrites a JSON-RPC response (or batch of responses) whose
// result.tools is a list: every tool that parses is shown to p.ListGate, and the tools
// p.Allow does not allow and those the gate hides are removed. With ids set, only the
// responses whose id is in ids are inspected (the answers to the POST's tools/list
// requests); nil inspects every response. Everything else — other members, the kept
// tools, whitespace — stays byte for byte; a body with nothing to remove is returned
// unchanged. A tool without a readable name, or whose name, description or inputSchema
// is ambiguous (a duplicate or case-variant member), is removed, since it cannot be
// judged or pinned. A response the gate fails on is replaced with a JSON-RPC error for
// its id (-32603, PinsUncheckable). An error means the body could not be inspected: the
// caller must not forward it (answer a JSON-RPC error instead), since a client might
// read it differently.
func FilterToolsList(body []byte, p Policy, ids IDSet) ([]byte, error) {
	return filterResponses(body, p, ids, false)
}

// FilterSSEEvent is FilterToolsList for one SSE event's data (the data lines joined with
// "\n"), restricted to responses whose id is in ids: other events, including anything
// that is not JSON, are returned unchanged.
func FilterSSEEvent(data []byte, p Policy, ids IDSet) ([]byte, error) {
	if len(ids) == 0 || !mayHoldTools(data) {
		return data, nil
	}
	return filterResponses(data, p, ids, true)
}

// mayHoldTools is a cheap test that data cannot hold a member a client would read as
// "tools": that needs the letters "tool" in some ASCII case (a lenient decoder such as
// Go's folds case, and t, o, l have no non-ASCII fold) or a \u escape.
func mayHoldTools(data []byte) bool {
	for i := 0; i+1 < len(data); i++ {
		switch data[i] {
		case '\\':
			if data[i+1] == 'u' {
				return true
			}
		case 't', 'T':
			if i+4 <= len(data) && bytes.EqualFold(data[i:i+4], []byte("tool")) {
				return true
			}
		}
	}
	return false
}

// filterResponses filters body; lenient (an event's data) passes a body that is not
// JSON unchanged, where a JSON answer that is not JSON is an error.
func filterResponses(body []byte, p Policy, ids IDSet, lenient bool) ([]byte, error) {
	if !p.FiltersToolsLists() {
		return body, nil
	}
	if !json.Valid(body) {
		if lenient {
			return body, nil
		}
		return nil, errors.New("filter tools/list: the response is not valid JSON")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return body, nil
	}
	switch trimmed[0] {
	case '{':
		return filterResponse(body, p, ids)
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return nil, errors.New("filter tools/list: the response is not valid JSON")
		}
		changed := false
		for i, e := range elems {
			out, err := filterResponse(e, p, ids)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(out, e) {
				elems[i] = out
				changed = true
			}
		}
		if !changed {
			return body, nil
		}
		return joinArray(elems), nil
	}
	return body, nil
}

func filterResponse(msg []byte, p Policy, ids IDSet) ([]byte, error) {
	top, err := objectFields(msg, messageMembers)
	if err != nil {
		if ids != nil && !mayHoldTools(msg) {
			return msg, nil
		}
		return nil, errors.New("filter tools/list: " + err.Error())
	}
	id, hasID := top["id"]
	if ids != nil && (!hasID || !ids.Has(id.raw)) {
		return msg, nil
	}
	res, ok := top["result"]
	if !ok || len(res.raw) == 0 || res.raw[0] != '{' {
		return msg, nil
	}
	rf, err := objectFields(res.raw, []string{"tools"})
	if err != nil {
		return nil, errors.New("filter tools/list: result: " + err.Error())
	}
	tf, ok := rf["tools"]
	if !ok || len(tf.raw) == 0 || tf.raw[0] != '[' {
		return msg, nil
	}
	if !utf8.Valid(tf.raw) {
		return nil, errors.New("filter tools/list: tools are not valid UTF-8")
	}
	var tools []json.RawMessage
	if err := json.Unmarshal(tf.raw, &tools); err != nil {
		return nil, errors.New("filter tools/list: tools are not a JSON array")
	}
	// The name of each tool that can be judged ("" for one that cannot), and the
	// definitions the gate is shown.
	names := make([]string, len(tools))
	var defs []ToolDefinition
	for i, tool := range tools {
		name, ok := judgedToolName(tool, p.ListGate != nil)
		if !ok {
			continue
		}
		if p.ListGate != nil {
			def, err := ToolDefinitionOf(tool)
			if err != nil || def.Name != name {
				continue
			}
			defs = append(defs, def)
		}
		names[i] = name
	}
	var hidden map[string]string
	if p.ListGate != nil {
		if defs == nil {
			defs = []ToolDefinition{}
		}
		hidden, err = p.ListGate(defs)
		if err != nil {
			return ErrorResponse(id.raw, CodeInternalError, PinsUncheckable, nil), nil
		}
	}
	kept := tools[:0:0]
	for i, tool := range tools {
		if names[i] == "" || !p.Allow.Allowed(names[i]) {
			continue
		}
		if _, h := hidden[names[i]]; h {
			continue
		}
		kept = append(kept, tool)
	}
	if len(kept) == len(tools) {
		return msg, nil
	}
	newTools := joinArray(kept)
	newResult := splice(res.raw, tf.start, tf.end, newTools)
	return splice(msg, res.start, res.end, newResult), nil
}

// toolMembers are the members of a tool that pinning reads; with pins, each must be
// unambiguous.
var toolMembers = []string{"name", "description", "inputSchema"}

// judgedToolName reads a tool's name strictly: the tool is an object without duplicate or
// case-variant members and its name is a non-empty string. With pins, its description
// and inputSchema must be unambiguous too, so that the definition pinned is the one a
// client reads.
func judgedToolName(tool json.RawMessage, pinned bool) (string, bool) {
	members := toolMembers[:1]
	if pinned {
		members = toolMembers
	}
	f, err := objectFields(tool, members)
	if err != nil {
		return "", false
	}
	var name string
	if v, ok := f["name"]; !ok || json.Unmarshal(v.raw, &name) != nil || name == "" {
		return "", false
	}
	return name, true
}

func splice(b []byte, start, end int, repl []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(repl))
	out = append(out, b[:start]...)
	out = append(out, repl...)
	return append(out, b[end:]...)
}
