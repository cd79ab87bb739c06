package mcp

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The outcomes of a tools/call, as the mcpToolCall audit event names them.
const (
	// OutcomeOK is an answer with a result.
	OutcomeOK = "ok"
	// OutcomeToolError is an answer with a result whose isError is true.
	OutcomeToolError = "tool_error"
	// OutcomeError is an answer with a JSON-RPC error.
	OutcomeError = "error"
	// OutcomeRefused is a call Gatehouse answered itself (allow-list, pin, headers).
	OutcomeRefused = "refused"
	// OutcomeNoAnswer is a call whose answer never came: the stream or the upstream
	// ended first.
	OutcomeNoAnswer = "no_answer"
)

// Answer is what the MCP proxy reads of one JSON-RPC response from the upstream: its id
// and how it ended. It never holds the result or the error's message, which may carry
// anything.
type Answer struct {
	// ID is the response's id as sent; nil if absent, not a string or a number, or
	// longer than MaxIDBytes.
	ID json.RawMessage
	// Result is true when the response has a result member.
	Result bool
	// IsError is true when the result is an object whose isError is true.
	IsError bool
	// Error is true when the response has an error object.
	Error bool
	// Code is error.code, when HasCode (an integer).
	Code    int
	HasCode bool
}

// Outcome names how the call the answer is for ended: OutcomeError, OutcomeToolError or
// OutcomeOK; "" when the message is not a response (a request or notification from the
// server).
func (a Answer) Outcome() string {
	switch {
	case a.Error:
		return OutcomeError
	case a.Result && a.IsError:
		return OutcomeToolError
	case a.Result:
		return OutcomeOK
	}
	return ""
}

// ScanAnswers reports the Answer of every response in data: one JSON-RPC message, or a
// batch of them (an SSE event's data, or a whole JSON body).
func ScanAnswers(data []byte, on func(Answer)) {
	s := AnswerScanner{On: on}
	_, _ = s.Write(data)
}

// What a key, or the scalar value being read, is to the scanner.
const (
	keyOther uint8 = iota
	keyID
	keyResult
	keyError
	keyIsError
	keyCode
)

// scanDepth is how many nesting levels the scanner keeps track of: a batch (1), its
// messages (2), their result or error (3), and one below for the kinds of containers.
const scanDepth = 4

// maxKeyBytes bounds a member name the scanner reads to classify; longer names are none
// of the ones it looks for.
const maxKeyBytes = 64

// AnswerScanner reads the JSON-RPC responses of a JSON text written to it in pieces of
// any size — one response, or a batch of them — and calls On with each response's Answer
// as soon as the response's closing brace has been written. It holds a few short values
// (the member name or id being read), never the text, so it can watch an answer of any
// size pass through. It does not validate: on a text that is not JSON it reports
// whatever it can, and never fails. Member names are matched exactly (JSON-RPC is
// case-sensitive), after their escapes are decoded.
type AnswerScanner struct {
	// On is called with every response read; nil reports nothing.
	On func(Answer)

	depth    int
	msgDepth int                  // depth of the messages' members: 1 (one message) or 2 (a batch)
	kinds    [scanDepth + 1]byte  // the container at each depth ('{' or '['), 1-based
	keys     [scanDepth + 1]uint8 // the member being read at each object depth
	wantKey  bool
	inString bool
	escape   bool
	isKey    bool
	inScalar bool
	capture  uint8 // keyID, keyIsError, keyCode: the value being read is kept
	buf      []byte
	over     bool
	cur      Answer
}

// Write scans p; it never fails.
func (s *AnswerScanner) Write(p []byte) (int, error) {
	for _, b := range p {
		s.byte(b)
	}
	return len(p), nil
}

func (s *AnswerScanner) byte(b byte) {
	if s.inString {
		if s.escape {
			s.escape = false
		} else if b == '\\' {
			s.escape = true
		} else if b == '"' {
			s.inString = false
			s.keep(b)
			s.endString()
			return
		}
		s.keep(b)
		return
	}
	if s.inScalar {
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' && b != ',' && b != '}' && b != ']' && b != ':' && b != '{' && b != '[' && b != '"' {
			s.keep(b)
			return
		}
		s.inScalar = false
		s.endValue()
	}
	switch b {
	case ' ', '\t', '\r', '\n':
	case '{', '[':
		s.open(b)
	case '}', ']':
		s.close()
	case ':':
		s.wantKey = false
	case ',':
		s.wantKey = s.top() == '{'
	case '"':
		s.inString = true
		s.isKey = s.wantKey && s.top() == '{'
		s.start()
		s.keep(b)
	default:
		s.inScalar = true
		s.isKey = false
		s.start()
		s.keep(b)
	}
}

func (s *AnswerScanner) top() byte {
	if s.depth == 0 || s.depth > scanDepth {
		return 0
	}
	return s.kinds[s.depth]
}

// start begins a string or scalar: kept if it is a member name or a value of interest.
func (s *AnswerScanner) start() {
	s.buf, s.over = s.buf[:0], false
	s.capture = 0
	if s.isKey || s.top() != '{' || s.msgDepth == 0 {
		return
	}
	d, m := s.depth, s.msgDepth
	switch {
	case d == m && s.keys[d] == keyID:
		s.capture = keyID
	case d == m+1 && s.keys[m] == keyResult && s.keys[d] == keyIsError:
		s.capture = keyIsError
	case d == m+1 && s.keys[m] == keyError && s.keys[d] == keyCode:
		s.capture = keyCode
	}
}

func (s *AnswerScanner) keep(b byte) {
	if !s.isKey && s.capture == 0 {
		return
	}
	limit := maxKeyBytes
	if s.capture == keyID {
		limit = MaxIDBytes
	}
	if len(s.buf) >= limit {
		s.over = true
		return
	}
	s.buf = append(s.buf, b)
}

func (s *AnswerScanner) endString() {
	if !s.isKey {
		s.endValue()
		return
	}
	s.isKey = false
	if s.depth > scanDepth || s.msgDepth == 0 {
		return
	}
	k := keyOther
	if !s.over {
		var name []byte
		if bytes.IndexByte(s.buf, '\\') >= 0 {
			var decoded string
			if json.Unmarshal(s.buf, &decoded) == nil {
				name = []byte(decoded)
			}
		} else if len(s.buf) >= 2 {
			name = s.buf[1 : len(s.buf)-1]
		}
		d, m := s.depth, s.msgDepth
		switch {
		case d == m && string(name) == "id":
			k = keyID
		case d == m && string(name) == "result":
			k = keyResult
			s.cur.Result = true
		case d == m && string(name) == "error":
			k = keyError
		case d == m+1 && string(name) == "isError":
			k = keyIsError
		case d == m+1 && string(name) == "code":
			k = keyCode
		}
	}
	s.keys[s.depth] = k
}

// endValue takes a captured scalar (or string) value.
func (s *AnswerScanner) endValue() {
	c := s.capture
	s.capture = 0
	if c == 0 || s.over {
		return
	}
	v := s.buf
	switch c {
	case keyID:
		if len(v) > 0 && (v[0] == '"' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
			s.cur.ID = append(json.RawMessage(nil), v...)
		} else {
			s.cur.ID = nil
		}
	case keyIsError:
		s.cur.IsError = string(v) == "true"
	case keyCode:
		n, err := strconv.Atoi(string(v))
		s.cur.Code, s.cur.HasCode = n, err == nil
	}
}

func (s *AnswerScanner) open(b byte) {
	parentKey := keyOther
	if s.depth > 0 && s.depth <= scanDepth && s.top() == '{' {
		parentKey = s.keys[s.depth]
	}
	s.depth++
	if s.depth == 1 {
		s.msgDepth = 1
		if b == '[' {
			s.msgDepth = 2
		}
	}
	if s.depth <= scanDepth {
		s.kinds[s.depth] = b
		s.keys[s.depth] = keyOther
	}
	if b == '{' && s.depth == s.msgDepth {
		s.cur = Answer{}
	}
	if b == '{' && s.depth == s.msgDepth+1 && parentKey == keyError {
		s.cur.Error = true
	}
	s.wantKey = b == '{'
}

func (s *AnswerScanner) close() {
	if s.depth == 0 {
		return
	}
	if s.depth == s.msgDepth && s.top() == '{' && s.On != nil {
		s.On(s.cur)
	}
	s.depth--
	s.wantKey = false
	if s.depth == 0 {
		s.msgDepth = 0
	}
}

// Calls tracks the tools/call requests of one POST that went to the upstream, to match
// the upstream's answers to them by id (compared like IDSet's).
type Calls struct {
	pending map[string][]int // id → indexes of the messages, in request order
	n       int
}

// ForwardedCalls is the tools/call requests of req that v let through.
func ForwardedCalls(req Request, v Verdict) Calls {
	var c Calls
	for i, m := range req.Messages {
		if m.Kind != KindRequest || m.Method != "tools/call" || !v.Decisions[i].Allowed {
			continue
		}
		if c.pending == nil {
			c.pending = make(map[string][]int)
		}
		k := idKey(m.ID)
		c.pending[k] = append(c.pending[k], i)
		c.n++
	}
	return c
}

// Pending is how many calls are still waiting for their answer.
func (c *Calls) Pending() int { return c.n }

// Resolve returns the index (in the request's messages) of the call a is the answer
// to, and stops waiting for it; false when a is not a response or no call waits for
// its id. Two calls with the same id are answered in request order.
func (c *Calls) Resolve(a Answer) (int, bool) {
	if c.n == 0 || a.ID == nil || a.Outcome() == "" {
		return 0, false
	}
	k := idKey(a.ID)
	idx := c.pending[k]
	if len(idx) == 0 {
		return 0, false
	}
	i := idx[0]
	if len(idx) == 1 {
		delete(c.pending, k)
	} else {
		c.pending[k] = idx[1:]
	}
	c.n--
	return i, true
}

// Unanswered returns the indexes of the calls still waiting, in request order.
func (c *Calls) Unanswered() []int {
	var out []int
	for _, idx := range c.pending {
		out = append(out, idx...)
	}
	// Few calls per request: a simple sort keeps the events in request order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
