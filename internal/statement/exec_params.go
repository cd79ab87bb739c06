package statement

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Named parameters (the Statement Execution API's `parameters`) and the splitting of a
// script into statements both need to see the text as the lexer does: a ':' or a ';'
// inside a string, a backtick-quoted identifier or a comment is not one. The scanner
// below knows only where those four begin and end; it does not check anything else, so
// an unterminated string or comment is left for the parser to report.

// MaxParameters bounds the parameters of one request.
const MaxParameters = 256

// Parameter is one named parameter: `:name` in the statement stands for Value as a
// string literal. Type is empty or STRING, the only type the statements take.
type Parameter struct {
	Name  string
	Value string
	Type  string
}

// Bound is a statement text with its parameters substituted, and the way back from its
// positions to the caller's text.
type Bound struct {
	// Text is the statement with every `:name` replaced by a quoted string literal.
	Text string
	src  string
	subs []substitution
}

// substitution is one `:name` of the source, at src[inStart:inEnd], replaced by
// Text[outStart:outEnd].
type substitution struct {
	inStart, inEnd, outStart, outEnd int
}

// Bind substitutes the named parameters of src: every `:name` outside a string, a
// quoted identifier and a comment becomes the parameter's value as a string literal
// (quotes doubled), so that a value can never be read as anything but a string. Names
// match case-insensitively. A parameter given twice, a name that is not an identifier, a
// type other than STRING and a `:name` with no parameter are INVALID_PARAMETER_VALUE
// errors (naming the parameter, never its value); a parameter the text does not use is
// ignored, so that one set can serve every statement of a script.
func Bind(src string, params []Parameter) (*Bound, error) {
	if len(params) > MaxParameters {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "parameters: at most %d", MaxParameters)
	}
	values := make(map[string]string, len(params))
	for i, p := range params {
		if !isParamName(p.Name) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "parameters[%d].name must be an identifier ([A-Za-z_][A-Za-z0-9_]*)", i)
		}
		if t := strings.ToUpper(strings.TrimSpace(p.Type)); t != "" && t != "STRING" {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "parameters[%d].type: only STRING is supported", i)
		}
		k := strings.ToLower(p.Name)
		if _, dup := values[k]; dup {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "parameter %s is given twice", p.Name)
		}
		values[k] = p.Value
	}
	b := &Bound{src: src}
	var out strings.Builder
	last := 0
	var missing error
	scanText(src, func(kind textKind, start, end int) bool {
		if kind != textParam {
			return true
		}
		v, ok := values[strings.ToLower(src[start+1:end])]
		if !ok {
			pos := offsetPos(src, start)
			missing = catalog.Errorf(catalog.InvalidParameterValue, "line %d, column %d: no value for parameter %s", pos.Line, pos.Col, src[start:end])
			return false
		}
		out.WriteString(src[last:start])
		s := substitution{inStart: start, inEnd: end, outStart: out.Len()}
		out.WriteString(quoteString(v))
		s.outEnd = out.Len()
		b.subs = append(b.subs, s)
		last = end
		return true
	})
	if missing != nil {
		return nil, missing
	}
	if len(b.subs) == 0 {
		b.Text = src
		return b, nil
	}
	out.WriteString(src[last:])
	b.Text = out.String()
	return b, nil
}

// SourcePos maps a position in b.Text back to the caller's text: a position inside a
// substituted value is the `:name` it came from.
func (b *Bound) SourcePos(p Pos) Pos {
	if len(b.subs) == 0 {
		return p
	}
	off := p.Offset
	i := sort.Search(len(b.subs), func(i int) bool { return b.subs[i].outStart > off }) - 1
	switch {
	case i < 0:
	case off < b.subs[i].outEnd:
		off = b.subs[i].inStart
	default:
		off = off - b.subs[i].outEnd + b.subs[i].inEnd
	}
	return offsetPos(b.src, min(max(off, 0), len(b.src)))
}

// Span is one statement of a script: its text (without the separating ';') and where
// it starts in the script.
type Span struct {
	Text string
	Pos  Pos
}

// Split cuts a script into its statements at every ';' outside strings, quoted
// identifiers and comments. Statements holding nothing but blanks and comments are
// dropped, as ParseScript drops them.
func Split(src string) []Span {
	var spans []Span
	start := 0
	content := false
	flush := func(end int) {
		if content {
			spans = append(spans, Span{Text: src[start:end], Pos: offsetPos(src, start)})
		}
		content = false
	}
	scanText(src, func(kind textKind, s, e int) bool {
		switch kind {
		case textSemicolon:
			flush(s)
			start = e
		case textComment:
		default:
			content = true
		}
		return true
	})
	flush(len(src))
	return spans
}

// InFile turns p, a position inside the statement sp, into a position in the script.
func (sp Span) InFile(p Pos) Pos {
	out := Pos{Offset: sp.Pos.Offset + p.Offset, Line: sp.Pos.Line + p.Line - 1, Col: p.Col}
	if p.Line <= 1 {
		out.Line, out.Col = sp.Pos.Line, sp.Pos.Col+p.Col-1
	}
	return out
}

type textKind int

const (
	textOther     textKind = iota // anything else: a keyword, punctuation, a number
	textString                    // '...'
	textQuoted                    // `...`
	textComment                   // -- ... or /* ... */
	textParam                     // :name
	textSemicolon                 // ;
)

// scanText calls f with each lexical element of src that matters to Bind and Split, in
// order, until f returns false. Blanks are skipped; an unterminated string, quoted
// identifier or comment runs to the end of src.
func scanText(src string, f func(kind textKind, start, end int) bool) {
	for i := 0; i < len(src); {
		c := src[i]
		start := i
		kind := textOther
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '\'' || c == '`':
			kind = textString
			if c == '`' {
				kind = textQuoted
			}
			i = closingQuote(src, i+1, c)
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			kind = textComment
			if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			kind = textComment
			if j := strings.Index(src[i+2:], "*/"); j >= 0 {
				i += 2 + j + 2
			} else {
				i = len(src)
			}
		case c == ':' && i+1 < len(src) && nameStart(src[i+1]):
			kind = textParam
			i += 2
			for i < len(src) && namePart(src[i]) {
				i++
			}
		case c == ';':
			kind = textSemicolon
			i++
		case nameStart(c):
			// A whole word, so that a ':' can never start inside one.
			for i < len(src) && namePart(src[i]) {
				i++
			}
		default:
			i++
		}
		if !f(kind, start, i) {
			return
		}
	}
}

// closingQuote returns the index after the quote q that closes a quoted element whose
// content starts at i; a doubled quote is an escaped one.
func closingQuote(src string, i int, q byte) int {
	for i < len(src) {
		j := strings.IndexByte(src[i:], q)
		if j < 0 {
			return len(src)
		}
		i += j + 1
		if i < len(src) && src[i] == q {
			i++
			continue
		}
		return i
	}
	return len(src)
}

func nameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func namePart(c byte) bool {
	return nameStart(c) || '0' <= c && c <= '9'
}

func isParamName(s string) bool {
	if s == "" || !nameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !namePart(s[i]) {
			return false
		}
	}
	return true
}

// offsetPos is the position of byte offset off of src: 1-based line, and 1-based
// column counted in runes from the start of the line.
func offsetPos(src string, off int) Pos {
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return Pos{Offset: off, Line: line, Col: utf8.RuneCountInString(src[lineStart:off]) + 1}
}

// FirstWord is the byte offset in src of the first element that is not a blank or a
// comment (len(src) when there is none): where a statement's span starts to say
// something.
func FirstWord(src string) int {
	off := len(src)
	scanText(src, func(kind textKind, start, _ int) bool {
		if kind == textComment {
			return true
		}
		off = start
		return false
	})
	return off
}
