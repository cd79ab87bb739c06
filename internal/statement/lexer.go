package statement

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokenKind is the kind of a token.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokWord             // a keyword or an unquoted name: [A-Za-z0-9_]+ joined by single '-'
	tokQuoted           // a backtick-quoted name
	tokString           // a single-quoted string
	tokLParen
	tokRParen
	tokComma
	tokSemi
	tokArrow // =>
	tokParam // a :name parameter, read only when lexer.params is set; value is the name
	tokError // a lexical error: err holds it; every later token is the same error
)

// token is one lexical token. text is its source; value is a name without its backticks,
// a string without its quotes, unescaped, or a parameter's name without its ':'.
type token struct {
	kind  tokenKind
	text  string
	value string
	pos   Pos
	end   int // offset just past the token
	err   *SyntaxError
}

// lexer cuts a source into tokens, one at a time, tracking lines and columns. It never
// backs up, so its work is linear in the source. It is the one reader of statement text:
// the parser, Bind and Split all see strings, quoted names and comments through it.
type lexer struct {
	src  string
	off  int
	line int
	col  int
	err  *SyntaxError // the lexical error, once met
	// params is set to read `:name` as a tokParam (Bind, Split, FirstWord). The parser
	// reads bound text and leaves it unset: a ':' there is an unexpected character.
	params bool
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

// newParamLexer is a lexer of text that may hold `:name` parameters.
func newParamLexer(src string) *lexer {
	l := newLexer(src)
	l.params = true
	return l
}

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Line: l.line, Col: l.col} }

// advance moves past one rune (or one invalid byte) and returns it.
func (l *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

func (l *lexer) fail(p Pos, format string, args ...any) token {
	l.err = &SyntaxError{Pos: p, Msg: fmt.Sprintf(format, args...)}
	return token{kind: tokError, pos: p, end: p.Offset, err: l.err}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isNameStart is the first byte of a parameter's name: a word byte but a digit.
func isNameStart(c byte) bool { return isWordByte(c) && (c < '0' || c > '9') }

// skipSpace skips whitespace and comments; an unterminated block comment is an error at
// its start.
func (l *lexer) skipSpace() *token {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.advance()
		case c == '-' && l.peekByte(1) == '-':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance()
			}
		case c == '/' && l.peekByte(1) == '*':
			p := l.pos()
			l.advance()
			l.advance()
			i := strings.Index(l.src[l.off:], "*/")
			if i < 0 {
				t := l.fail(p, "unterminated comment: no */ closes this /*")
				return &t
			}
			for end := l.off + i + 2; l.off < end; {
				l.advance()
			}
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token; at the end, tokEOF; after an error, that error again.
func (l *lexer) next() token {
	if l.err != nil {
		return token{kind: tokError, pos: l.err.Pos, end: l.err.Pos.Offset, err: l.err}
	}
	if t := l.skipSpace(); t != nil {
		return *t
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tokEOF, pos: p, end: p.Offset}
	}
	c := l.src[l.off]
	simple := func(k tokenKind, n int) token {
		for range n {
			l.advance()
		}
		return token{kind: k, text: l.src[p.Offset:l.off], pos: p, end: l.off}
	}
	switch {
	case c == '(':
		return simple(tokLParen, 1)
	case c == ')':
		return simple(tokRParen, 1)
	case c == ',':
		return simple(tokComma, 1)
	case c == ';':
		return simple(tokSemi, 1)
	case c == '=' && l.peekByte(1) == '>':
		return simple(tokArrow, 2)
	case c == ':' && l.params && isNameStart(l.peekByte(1)):
		// A parameter's name is [A-Za-z_][A-Za-z0-9_]*: a '-' does not join it.
		l.advance()
		for l.off < len(l.src) && isWordByte(l.src[l.off]) {
			l.off++
			l.col++
		}
		text := l.src[p.Offset:l.off]
		return token{kind: tokParam, text: text, value: text[1:], pos: p, end: l.off}
	case isWordByte(c):
		for l.off < len(l.src) {
			if isWordByte(l.src[l.off]) {
				l.off++
				l.col++
			} else if l.src[l.off] == '-' && isWordByte(l.peekByte(1)) {
				// A '-' joins two words (data-eng); "--" starts a comment.
				l.off++
				l.col++
			} else {
				break
			}
		}
		text := l.src[p.Offset:l.off]
		return token{kind: tokWord, text: text, value: text, pos: p, end: l.off}
	case c == '\'':
		return l.quoted(p, '\'', tokString, "string")
	case c == '`':
		t := l.quoted(p, '`', tokQuoted, "quoted name")
		if t.kind == tokQuoted && t.value == "" {
			return l.fail(p, "empty quoted name ``")
		}
		return t
	}
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	switch {
	case r == utf8.RuneError && n == 1:
		return l.fail(p, "invalid UTF-8 encoding")
	case r == '"':
		return l.fail(p, "unexpected character '\"': strings are in single quotes, names with '-', '@' or '.' in backticks")
	case r == '=':
		return l.fail(p, "unexpected character '=': write an option as key 'value', an argument as name => 'value'")
	case r == '@' || r == '.':
		return l.fail(p, "unexpected character '%c': quote a name holding '@' or '.' with backticks, as in `alice@example.com`", r)
	case r < ' ' || r == 0x7f:
		return l.fail(p, "unexpected control character U+%04X", r)
	}
	return l.fail(p, "unexpected character %q", r)
}

// quoted reads a string or a quoted name: q doubled inside stands for one q.
func (l *lexer) quoted(p Pos, q byte, k tokenKind, what string) token {
	l.advance()
	var b strings.Builder
	for {
		i := strings.IndexByte(l.src[l.off:], q)
		if i < 0 {
			return l.fail(p, "unterminated %s: no closing %c before the end of input", what, q)
		}
		chunk := l.src[l.off : l.off+i]
		if !utf8.ValidString(chunk) {
			bad := l.off + invalidUTF8(chunk)
			for l.off < bad {
				l.advance()
			}
			return l.fail(l.pos(), "invalid UTF-8 encoding in a %s", what)
		}
		b.WriteString(chunk)
		for end := l.off + i + 1; l.off < end; {
			l.advance()
		}
		if l.peekByte(0) == q {
			b.WriteByte(q)
			l.advance()
			continue
		}
		return token{kind: k, text: l.src[p.Offset:l.off], value: b.String(), pos: p, end: l.off}
	}
}

// invalidUTF8 returns the offset of the first invalid byte of s.
func invalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}
