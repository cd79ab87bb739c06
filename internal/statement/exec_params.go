package statement

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Named parameters (the Statement Execution API's `parameters`) and the splitting of a
// script into statements read the text with the parser's own lexer, which then also
// reads `:name` (newParamLexer): a ':' or a ';' inside a string, a backtick-quoted
// identifier or a comment is not one, by the very rules the parser reads. Both stop at
// the first lexical error (an unterminated string, say) and leave the rest as it is: the
// parser, which reads no further than that error either, reports it at its place.

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
// (quotes doubled, and a blank between it and a string it touches, which would else read
// as one string with it), so that a value can never be read as anything but one string.
// Names match case-insensitively. A parameter given twice, a name that is not an
// identifier, a type other than STRING and a `:name` with no parameter are
// INVALID_PARAMETER_VALUE errors (naming the parameter, never its value); a parameter
// the text does not use is ignored, so that one set can serve every statement of a
// script. A `:name` after a lexical error is left as it is: the parser reports that
// error first.
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
	for lx := newParamLexer(src); ; {
		t := lx.next()
		if t.kind == tokEOF || t.kind == tokError {
			break
		}
		if t.kind != tokParam {
			continue
		}
		v, ok := values[strings.ToLower(t.value)]
		if !ok {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "line %d, column %d: no value for parameter %s", t.pos.Line, t.pos.Col, t.text)
		}
		out.WriteString(src[last:t.pos.Offset])
		s := substitution{inStart: t.pos.Offset, inEnd: t.end, outStart: out.Len()}
		if strings.HasSuffix(out.String(), "'") {
			out.WriteByte(' ') // 'a':p is a string and a parameter, not 'a''v'
		}
		out.WriteString(quoteString(v))
		if t.end < len(src) && src[t.end] == '\'' {
			out.WriteByte(' ') // :p'a' likewise
		}
		s.outEnd = out.Len()
		b.subs = append(b.subs, s)
		last = t.end
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
// dropped, as ParseScript drops them. From a lexical error on, the rest of the script
// is one last statement (the one ParseScript fails on).
func Split(src string) []Span {
	var spans []Span
	start := Pos{Line: 1, Col: 1}
	content := false
	for lx := newParamLexer(src); ; {
		t := lx.next()
		switch t.kind {
		case tokSemi:
			if content {
				spans = append(spans, Span{Text: src[start.Offset:t.pos.Offset], Pos: start})
			}
			// ';' is one byte and one column.
			start, content = Pos{Offset: t.end, Line: t.pos.Line, Col: t.pos.Col + 1}, false
		case tokEOF, tokError:
			if content || t.kind == tokError {
				spans = append(spans, Span{Text: src[start.Offset:], Pos: start})
			}
			return spans
		default:
			content = true
		}
	}
}

// InFile turns p, a position inside the statement sp, into a position in the script.
func (sp Span) InFile(p Pos) Pos {
	out := Pos{Offset: sp.Pos.Offset + p.Offset, Line: sp.Pos.Line + p.Line - 1, Col: p.Col}
	if p.Line <= 1 {
		out.Line, out.Col = sp.Pos.Line, sp.Pos.Col+p.Col-1
	}
	return out
}

func isParamName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordByte(s[i]) {
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

// FirstWord is the position in src of its first token, past blanks and comments (the
// end of src when there is none; where a lexical error is, when there is one first):
// where a statement's span starts to say something.
func FirstWord(src string) Pos { return newParamLexer(src).next().pos }
