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
// answers) so that tools outside Allow vanish. It holds at most one event (MaxEventBytes);
// comment lines between events pass at once. Every other byte passes unchanged.
//
// An event larger than MaxEventBytes passes through unfiltered as it arrives when IDs is
// empty; when a tools/list answer is pending it is dropped and replaced with a JSON-RPC
// error (-32603), since a tools/list response too large to inspect must not leak
// disallowed tools.
type SSEFilter struct {
	// Allow is the connection's allow-list.
	Allow AllowList
	// IDs holds the ids of the tools/list requests whose responses to rewrite.
	IDs IDSet
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
}

// Copy relays src to dst until src ends, filtering as described on SSEFilter. After each
// chunk read it writes what is complete and flushes dst if it has a Flush method (an
// http.ResponseWriter does), so events are never held back waiting for more input.
func (f *SSEFilter) Copy(dst io.Writer, src io.Reader) error {
	s := &sseState{f: f, max: f.MaxEventBytes, first: true}
	if s.max <= 0 {
		s.max = DefaultMaxEventBytes
	}
	flusher, _ := dst.(interface{ Flush() })
	var buf [4096]byte
	for {
		n, rerr := src.Read(buf[:])
		for _, b := range buf[:n] {
			s.byte(b)
		}
		eof := errors.Is(rerr, io.EOF)
		if eof && len(s.ev) > 0 && s.mode == modeNormal {
			// A client should discard an unterminated event, but a lenient one may
			// dispatch it: judge it like any other.
			if s.lineStart < len(s.ev) {
				s.line(s.ev[s.lineStart:])
			}
			if len(s.ev) > 0 {
				s.dispatch()
			}
		}
		if len(s.out) > 0 {
			if _, err := dst.Write(s.out); err != nil {
				return fmt.Errorf("sse filter: write: %w", err)
			}
			if flusher != nil {
				flusher.Flush()
			}
			s.out = s.out[:0]
			if cap(s.out) > 64<<10 {
				s.out = nil
			}
		}
		if eof {
			return nil
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
			}
			s.lineLen = 0
			return
		}
		s.lineLen++
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
		s.out = append(s.out, s.ev...)
		return
	}
	filtered, err := FilterSSEEvent(s.data, s.f.Allow, s.f.IDs)
	if err != nil {
		filtered = ErrorResponse(s.pendingID(s.data), CodeInternalError, "Gatehouse could not inspect the tools/list response", nil)
	} else if bytes.Equal(filtered, s.data) {
		s.out = append(s.out, s.ev...)
		return
	}
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

// overflow handles an event past the bound.
func (s *sseState) overflow() {
	if len(s.f.IDs) == 0 {
		s.out = append(s.out, s.ev...)
		s.mode = modePass
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
