package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxEventBytes bounds the one event an SSEFilter holds at a time.
const DefaultMaxEventBytes = 1 << 20

// SSEFilter relays a text/event-stream event by event, rewriting only the events whose
// data is the response to one of IDs (the tools/list requests of the POST the stream
// answers) with FilterSSEEvent under Policy, and reporting every response the stream
// carries to OnAnswer. It holds at most one event (MaxEventBytes); comment lines
// between events pass at once. Every other byte passes unchanged.
//
// An event larger than MaxEventBytes passes through unfiltered as it arrives when IDs is
// empty (its responses still reported); when a tools/list answer is pending it is
// dropped and replaced with a JSON-RPC error (-32603), since a tools/list response too
// large to inspect must not leak disallowed tools.
type SSEFilter struct {
	// Policy is the connection's allow-list and pins.
	Policy Policy
	// IDs holds the ids of the tools/list requests whose responses to rewrite.
	IDs IDSet
	// OnAnswer, when set, is called with the Answer of every response in an event
	// passed to the caller, as the event passes.
	OnAnswer func(Answer)
	// MaxEventBytes bounds an event; zero means DefaultMaxEventBytes.
	MaxEventBytes int
}

type sseMode int

const (
	modeNormal sseMode = iota
	modePass           // oversized event, no tools/list pending: stream it through
	modeDrop           // oversized event while a tools/list is pending: discard it
)

type lineSpan struct {
	start, end int // the line's bytes in ev, terminator included
	content    int // where its terminator starts
	data       bool
}

// The state of a line of an oversized event passing through, for OnAnswer.
const (
	passField = iota // reading the field name
	passValue        // just after "data:": an optional space, then the value
	passData         // in a data line's value
	passOther        // in another line
)

type sseState struct {
	f         *SSEFilter
	max       int
	ev        []byte
	lines     []lineSpan
	lineStart int
	data      []byte
	nData     int
	pendingCR bool
	mode      sseMode
	lineLen   int // length of the current line in pass/drop mode
	first     bool
	out       []byte

	// An oversized event in pass mode is scanned for answers as it passes.
	pass      *AnswerScanner
	passState int
	passName  []byte
	passLines int  // data lines of the event so far
	passBOM   bool // the line is the stream's first: a byte order mark may start it
}

// SSEWriter is an SSEFilter in push form: what is written to it is filtered into its
// destination. It is not safe for concurrent use.
type SSEWriter struct {
	s       sseState
	dst     io.Writer
	flusher interface{ Flush() }
}

// NewWriter returns a writer that filters the stream written to it into dst. After
// each Write it writes to dst what is complete and flushes dst if it has a Flush method
// (an http.ResponseWriter does), so events are never held back waiting for more input.
// Close ends the stream.
func (f *SSEFilter) NewWriter(dst io.Writer) *SSEWriter {
	w := &SSEWriter{s: sseState{f: f, max: f.MaxEventBytes, first: true}, dst: dst}
	if w.s.max <= 0 {
		w.s.max = DefaultMaxEventBytes
	}
	w.flusher, _ = dst.(interface{ Flush() })
	return w
}

// Write filters p; an error is dst's.
func (w *SSEWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		w.s.byte(b)
	}
	if err := w.emit(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends a stream that ended cleanly: an unterminated last event is judged like
// any other (a client should discard it, but a lenient one may dispatch it) and
// written. A stream that was cut is not closed: its partial event is dropped.
func (w *SSEWriter) Close() error {
	s := &w.s
	if len(s.ev) > 0 && s.mode == modeNormal {
		if s.lineStart < len(s.ev) {
			s.line(s.ev[s.lineStart:])
		}
		if len(s.ev) > 0 {
			s.dispatch()
		}
	}
	return w.emit()
}

func (w *SSEWriter) emit() error {
	s := &w.s
	if len(s.out) == 0 {
		return nil
	}
	if _, err := w.dst.Write(s.out); err != nil {
		return fmt.Errorf("sse filter: write: %w", err)
	}
	if w.flusher != nil {
		w.flusher.Flush()
	}
	s.out = s.out[:0]
	if cap(s.out) > 64<<10 {
		s.out = nil
	}
	return nil
}

// Copy relays src to dst until src ends, filtering as described on SSEFilter, through
// NewWriter.
func (f *SSEFilter) Copy(dst io.Writer, src io.Reader) error {
	w := f.NewWriter(dst)
	var buf [4096]byte
	for {
		n, rerr := src.Read(buf[:])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return w.Close()
		}
		if rerr != nil {
			return fmt.Errorf("sse filter: read: %w", rerr)
		}
	}
}

func (s *sseState) byte(b byte) {
	if s.pendingCR {
		s.pendingCR = false
		if b == '\n' {
			// The second half of a "\r\n" terminator whose "\r" already ended the line.
			switch {
			case s.mode == modeNormal && len(s.ev) > 0:
				s.ev = append(s.ev, '\n')
				s.lines[len(s.lines)-1].end++
				s.lineStart = len(s.ev)
			case s.mode == modeDrop:
			default:
				s.out = append(s.out, '\n')
			}
			return
		}
	}
	if s.mode != modeNormal {
		if s.mode == modePass {
			s.out = append(s.out, b)
		}
		if b == '\n' || b == '\r' {
			s.pendingCR = b == '\r'
			if s.lineLen == 0 {
				s.mode = modeNormal
				s.pass = nil
			} else if s.pass != nil {
				s.passLineEnd()
			}
			s.lineLen = 0
			return
		}
		s.lineLen++
		if s.pass != nil {
			s.passByte(b)
		}
		return
	}
	if b == '\n' || b == '\r' {
		content := s.ev[s.lineStart:]
		s.ev = append(s.ev, b)
		s.pendingCR = b == '\r'
		s.line(content)
		return
	}
	s.ev = append(s.ev, b)
	if len(s.ev) > s.max {
		s.overflow()
	}
}

// line handles one complete line; content excludes the terminator (already in ev).
func (s *sseState) line(content []byte) {
	first := s.first
	s.first = false
	span := lineSpan{start: s.lineStart, end: len(s.ev), content: s.lineStart + len(content)}
	if first {
		content = bytes.TrimPrefix(content, []byte("\xEF\xBB\xBF"))
	}
	switch {
	case len(content) == 0:
		s.dispatch()
		return
	case content[0] == ':':
		if len(s.lines) == 0 {
			// A comment before any field of an event: pass it at once (keep-alives).
			s.out = append(s.out, s.ev...)
			s.reset()
			return
		}
	default:
		name, value := content, []byte(nil)
		if i := bytes.IndexByte(content, ':'); i >= 0 {
			name, value = content[:i], content[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		if string(name) == "data" {
			if s.nData > 0 {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			s.nData++
			span.data = true
		}
	}
	s.lines = append(s.lines, span)
	s.lineStart = len(s.ev)
}

func (s *sseState) reset() {
	s.ev = s.ev[:0]
	if cap(s.ev) > 64<<10 {
		s.ev = nil
	}
	s.lines = s.lines[:0]
	s.lineStart = 0
	s.data = s.data[:0]
	if cap(s.data) > 64<<10 {
		s.data = nil
	}
	s.nData = 0
}

// dispatch writes the buffered event, rewritten if it is a tools/list answer to filter.
func (s *sseState) dispatch() {
	defer s.reset()
	if s.nData == 0 || len(s.f.IDs) == 0 {
		s.report(s.data)
		s.out = append(s.out, s.ev...)
		return
	}
	filtered, err := FilterSSEEvent(s.data, s.f.Policy, s.f.IDs)
	if err != nil {
		filtered = ErrorResponse(s.pendingID(s.data), CodeInternalError, "Gatehouse could not inspect the tools/list response", nil)
	} else if bytes.Equal(filtered, s.data) {
		s.report(s.data)
		s.out = append(s.out, s.ev...)
		return
	}
	// What the caller gets is what is reported.
	s.report(filtered)
	wroteData := false
	for _, l := range s.lines {
		if !l.data {
			s.out = append(s.out, s.ev[l.start:l.end]...)
			continue
		}
		if wroteData {
			continue
		}
		wroteData = true
		term := s.ev[l.content:l.end]
		if len(term) == 0 {
			term = []byte("\n")
		}
		for _, part := range bytes.Split(filtered, []byte("\n")) {
			s.out = append(s.out, "data: "...)
			s.out = append(s.out, part...)
			s.out = append(s.out, term...)
		}
	}
	// The blank line that ended the event (absent at the end of the stream).
	if n := len(s.lines); n > 0 && s.lines[n-1].end < len(s.ev) {
		s.out = append(s.out, s.ev[s.lines[n-1].end:]...)
	}
}

// report passes the responses of an event's data to OnAnswer.
func (s *sseState) report(data []byte) {
	if s.nData > 0 && s.f.OnAnswer != nil {
		ScanAnswers(data, s.f.OnAnswer)
	}
}

// overflow handles an event past the bound.
func (s *sseState) overflow() {
	if len(s.f.IDs) == 0 {
		s.out = append(s.out, s.ev...)
		s.mode = modePass
		if s.f.OnAnswer != nil {
			// The event is scanned as it passes: the data so far, then the current
			// line from its start.
			s.pass = &AnswerScanner{On: s.f.OnAnswer}
			_, _ = s.pass.Write(s.data)
			s.passLines = s.nData
			s.passState, s.passName = passField, s.passName[:0]
			// The stream's first line may start with a byte order mark.
			s.passBOM = s.first
			for _, b := range s.ev[s.lineStart:] {
				s.passByte(b)
			}
		}
	} else {
		s.out = append(s.out, "data: "...)
		s.out = append(s.out, ErrorResponse(s.pendingID(nil), CodeInternalError, "Gatehouse could not inspect the tools/list response: the event is too large", nil)...)
		s.out = append(s.out, "\n\n"...)
		s.mode = modeDrop
	}
	// The current line continues in pass/drop mode.
	s.lineLen = len(s.ev) - s.lineStart
	s.reset()
}

// passByte follows one byte (not a line terminator) of an oversized event in pass mode,
// feeding the values of its data lines, joined with "\n", to the scanner.
func (s *sseState) passByte(b byte) {
	switch s.passState {
	case passField:
		if s.passBOM {
			if n := len(s.passName); n < len(utf8BOM) && b == utf8BOM[n] {
				if s.passName = append(s.passName, b); len(s.passName) == len(utf8BOM) {
					s.passName, s.passBOM = s.passName[:0], false
				}
				return
			}
			s.passBOM = false
			if len(s.passName) > 0 {
				// Part of a byte order mark is part of the field's name.
				s.passState = passOther
				return
			}
		}
		if b == ':' {
			if string(s.passName) == "data" {
				s.passDataLine()
				s.passState = passValue
			} else {
				s.passState = passOther
			}
			return
		}
		if len(s.passName) < len("data") {
			s.passName = append(s.passName, b)
		} else {
			s.passState = passOther
		}
	case passValue:
		s.passState = passData
		if b != ' ' {
			s.pass.byte(b)
		}
	case passData:
		s.pass.byte(b)
	}
}

// passDataLine starts a data line's value: after the first, the values are joined
// with "\n".
func (s *sseState) passDataLine() {
	if s.passLines > 0 {
		s.pass.byte('\n')
	}
	s.passLines++
}

// passLineEnd ends a line of an oversized event in pass mode; a line that is just
// "data" is a data line with an empty value.
func (s *sseState) passLineEnd() {
	if s.passState == passField && string(s.passName) == "data" {
		s.passDataLine()
	}
	s.passState, s.passName, s.passBOM = passField, s.passName[:0], false
}

const utf8BOM = "\xEF\xBB\xBF"

// pendingID is the id to answer an uninspectable event with: the event's own id if it
// reads as one of IDs, else the only pending id, else null.
func (s *sseState) pendingID(data []byte) json.RawMessage {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if data != nil && json.Unmarshal(data, &probe) == nil && probe.ID != nil && s.f.IDs.Has(probe.ID) {
		return probe.ID
	}
	if len(s.f.IDs) == 1 {
		for k := range s.f.IDs {
			return keyToID(k)
		}
	}
	return nil
}

func keyToID(k string) json.RawMessage {
	switch k[0] {
	case 's':
		b, _ := json.Marshal(k[1:])
		return b
	default:
		return json.RawMessage(k[1:])
	}
}
