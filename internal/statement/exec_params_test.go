package statement

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func TestBind(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		params []Parameter
		want   string
	}{
		{"no parameters", "SHOW CONNECTIONS", nil, "SHOW CONNECTIONS"},
		{"one", "CREATE CONNECTION c TYPE HTTP OPTIONS (host :h)", []Parameter{{Name: "h", Value: "https://x.example.com"}},
			"CREATE CONNECTION c TYPE HTTP OPTIONS (host 'https://x.example.com')"},
		{"quotes doubled", "SHOW CONNECTIONS LIKE :p", []Parameter{{Name: "p", Value: "it's"}}, "SHOW CONNECTIONS LIKE 'it''s'"},
		{"a value that looks like SQL stays a string", "SHOW CONNECTIONS LIKE :p", []Parameter{{Name: "p", Value: "x'; DROP CONNECTION y; --"}},
			"SHOW CONNECTIONS LIKE 'x''; DROP CONNECTION y; --'"},
		{"names without regard to case", "SHOW CONNECTIONS LIKE :Pat", []Parameter{{Name: "pAT", Value: "a%"}}, "SHOW CONNECTIONS LIKE 'a%'"},
		{"twice", "x :a :a", []Parameter{{Name: "a", Value: "1"}}, "x '1' '1'"},
		{"not in a string", "x ':a' :a", []Parameter{{Name: "a", Value: "1"}}, "x ':a' '1'"},
		{"not in an escaped string", "x 'it'':a' :a", []Parameter{{Name: "a", Value: "1"}}, "x 'it'':a' '1'"},
		{"not in a quoted name", "x `:a` :a", []Parameter{{Name: "a", Value: "1"}}, "x `:a` '1'"},
		{"not in a line comment", "x -- :a\n:a", []Parameter{{Name: "a", Value: "1"}}, "x -- :a\n'1'"},
		{"not in a block comment", "x /* :a */ :a", []Parameter{{Name: "a", Value: "1"}}, "x /* :a */ '1'"},
		{"unused parameters are ignored", "SHOW CONNECTIONS", []Parameter{{Name: "a", Value: "1"}}, "SHOW CONNECTIONS"},
		{"a colon alone is left to the parser", "x : y", nil, "x : y"},
		{"type STRING", "x :a", []Parameter{{Name: "a", Value: "1", Type: "string"}}, "x '1'"},
		{"unterminated string left alone", "x 'abc :a", []Parameter{{Name: "a", Value: "1"}}, "x 'abc :a"},
		{"a string before a parameter stays apart", "SHOW CONNECTIONS LIKE 'x':p", []Parameter{{Name: "p", Value: "v"}}, "SHOW CONNECTIONS LIKE 'x' 'v'"},
		{"a string after a parameter stays apart", "SHOW CONNECTIONS LIKE :p'x'", []Parameter{{Name: "p", Value: "v"}}, "SHOW CONNECTIONS LIKE 'v' 'x'"},
		{"parameters side by side stay apart", "x :a:a", []Parameter{{Name: "a", Value: "1"}}, "x '1' '1'"},
		{"a parameter after a lexical error is left to the parser", "x \"y\" :a", nil, "x \"y\" :a"},
		{"a digit does not start a name", "x :1a", nil, "x :1a"},
		{"named arguments are not parameters", "SELECT http_request(conn => :c)", []Parameter{{Name: "c", Value: "gh"}}, "SELECT http_request(conn => 'gh')"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bind(tc.src, tc.params)
			if err != nil {
				t.Fatalf("Bind(%q) = %v", tc.src, err)
			}
			if b.Text != tc.want {
				t.Errorf("Bind(%q) = %q, want %q", tc.src, b.Text, tc.want)
			}
		})
	}
}

func TestBindErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		params []Parameter
		want   string
	}{
		{"missing", "SHOW CONNECTIONS\nLIKE :pat", nil, "line 2, column 6: no value for parameter :pat"},
		{"given twice", "x :a", []Parameter{{Name: "a", Value: "1"}, {Name: "A", Value: "SECRET-VALUE"}}, "parameter A is given twice"},
		{"bad name", "x", []Parameter{{Name: "a-b", Value: "SECRET-VALUE"}}, "parameters[0].name must be an identifier"},
		{"empty name", "x", []Parameter{{Name: "", Value: "1"}}, "parameters[0].name must be an identifier"},
		{"type", "x :a", []Parameter{{Name: "a", Value: "1", Type: "INT"}}, "parameters[0].type: only STRING is supported"},
		{"too many", "x", make([]Parameter, MaxParameters+1), "parameters: at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bind(tc.src, tc.params)
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				t.Fatalf("Bind = %v, want INVALID_PARAMETER_VALUE", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Bind = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET-VALUE") {
				t.Errorf("Bind = %q quotes a value", err)
			}
		})
	}
}

func TestBoundSourcePos(t *testing.T) {
	src := "GRANT USE CONNECTION\nON CONNECTION :c TO bob x"
	b, err := Bind(src, []Parameter{{Name: "c", Value: "a-much-longer-name"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string // the text at the position in b.Text
		want Pos
	}{
		{"before the parameter", "ON CONNECTION", Pos{Offset: 21, Line: 2, Col: 1}},
		{"inside the value", "much", Pos{Offset: 35, Line: 2, Col: 15}},
		{"after the value", " x", Pos{Offset: 44, Line: 2, Col: 24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off := strings.Index(b.Text, tc.in)
			got := b.SourcePos(offsetPos(b.Text, off))
			if got != tc.want {
				t.Errorf("SourcePos(%q at %d) = %+v, want %+v", tc.in, off, got, tc.want)
			}
		})
	}
}

// TestBindSyntaxErrorAtParameter checks that a value touching a string does not merge
// with it into one valid string: the bound text fails to parse, at the parameter's place.
func TestBindSyntaxErrorAtParameter(t *testing.T) {
	tests := []struct {
		name, src string
		want      Pos
	}{
		{"string then parameter", "SHOW CONNECTIONS LIKE 'x':p", Pos{Offset: 25, Line: 1, Col: 26}},
		{"parameter then string", "SHOW CONNECTIONS\nLIKE :p'x'", Pos{Offset: 24, Line: 2, Col: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bind(tc.src, []Parameter{{Name: "p", Value: "v"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(b.Text)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a syntax error", b.Text, err)
			}
			if got := b.SourcePos(se.Pos); got != tc.want {
				t.Errorf("Parse(%q) = %v, at %+v in the source, want %+v", b.Text, err, got, tc.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	src := "SHOW CONNECTIONS;\n-- a comment; not a separator\nGRANT MANAGE ON CONNECTION `a;b` TO bob;;\n  /* only a comment */ ;\nSHOW CONNECTIONS LIKE 'x;y'"
	got := Split(src)
	want := []struct {
		text string
		pos  Pos
	}{
		{"SHOW CONNECTIONS", Pos{Offset: 0, Line: 1, Col: 1}},
		{"\n-- a comment; not a separator\nGRANT MANAGE ON CONNECTION `a;b` TO bob", Pos{Offset: 17, Line: 1, Col: 18}},
		{"\nSHOW CONNECTIONS LIKE 'x;y'", Pos{Offset: strings.Index(src, "\nSHOW CONNECTIONS LIKE"), Line: 4, Col: 25}},
	}
	if len(got) != len(want) {
		t.Fatalf("Split = %d spans %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Text != w.text || got[i].Pos != w.pos {
			t.Errorf("span %d = %q at %+v, want %q at %+v", i, got[i].Text, got[i].Pos, w.text, w.pos)
		}
	}
	// A position inside the second statement, back in the file: GRANT is at 3:1.
	sp := got[1]
	off := strings.Index(sp.Text, "GRANT")
	if p := sp.InFile(offsetPos(sp.Text, off)); p.Line != 3 || p.Col != 1 || src[p.Offset:p.Offset+5] != "GRANT" {
		t.Errorf("InFile(GRANT) = %+v, want line 3, column 1", p)
	}
	if fw := FirstWord(sp.Text); fw != offsetPos(sp.Text, off) || !strings.HasPrefix(sp.Text[fw.Offset:], "GRANT") {
		t.Errorf("FirstWord = %+v (%q), want GRANT's position %+v", fw, sp.Text[fw.Offset:], offsetPos(sp.Text, off))
	}
	// Parameters do not split; from a lexical error on, the rest is one statement.
	if got := Split("SHOW CONNECTIONS LIKE :p; SHOW GRANTS ON CONNECTION c"); len(got) != 2 || got[0].Text != "SHOW CONNECTIONS LIKE :p" {
		t.Errorf("Split with a parameter = %+v, want 2 spans, the first up to :p", got)
	}
	if got := Split("SHOW CONNECTIONS; 'open; x;"); len(got) != 2 || got[1].Text != " 'open; x;" {
		t.Errorf("Split with an unterminated string = %+v, want 2 spans, the second to the end", got)
	}
	// On the first line of a span the columns add up.
	if p := got[1].InFile(Pos{Offset: 0, Line: 1, Col: 1}); p != (Pos{Offset: 17, Line: 1, Col: 18}) {
		t.Errorf("InFile(1:1) of the second span = %+v, want 1:18", p)
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"git%", "github", true},
		{"GIT%", "github", true},
		{"%hub", "github", true},
		{"g_thub", "github", true},
		{"g_hub", "github", false},
		{"%", "", true},
		{"", "", true},
		{"", "x", false},
		{"a\\_b", "a_b", true},
		{"a\\_b", "axb", false},
		{"a\\%", "a%", true},
		{"%a%b%c%", "xxaxxbxxcxx", true},
		{"%a%b%c%", "xxaxxcxxbxx", false},
		{"é_", "éa", true},
	}
	for _, tc := range tests {
		if got := likeMatcher(tc.pattern)(tc.name); got != tc.want {
			t.Errorf("LIKE %q on %q = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
	// Many wildcards against a long name that does not match finish at once.
	start := time.Now()
	if likeMatcher(strings.Repeat("%a", 200) + "b")(strings.Repeat("a", 5000)) {
		t.Error("a pattern ending in b matched a name of only a's")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pathological LIKE took %v", d)
	}
}

// FuzzBind checks that substitution never panics; that every value stays one string
// literal (the bound text lexes to the source's tokens, each parameter become one string
// holding the value, up to the same lexical error); that every token's position, an
// error's included, maps back exactly to the source's; and that Split cuts the source
// into the statements ParseScript reads from the bound text.
func FuzzBind(f *testing.F) {
	for _, s := range []string{"SHOW CONNECTIONS LIKE :p", "SHOW CONNECTIONS LIKE 'x':p:p'y'", "SHOW CONNECTIONS LIKE :p; DROP CONNECTION `a;b`;", "x \"y\" :p", "x ':p' `:p` -- :p\n/* :p */ :p;:p", "GRANT USE CONNECTION ON CONNECTION :p TO bob", "'unterminated :p", "/* open :p"} {
		f.Add(s, "value")
		f.Add(s, "it's'; DROP CONNECTION x; --")
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		if len(src) > 4096 || len(value) > 4096 {
			return
		}
		b, err := Bind(src, []Parameter{{Name: "p", Value: value}})
		if err != nil {
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				t.Fatalf("Bind(%q) = %v, want INVALID_PARAMETER_VALUE", src, err)
			}
			return
		}
		want, got := paramTokens(src), paramTokens(b.Text)
		for i, w := range want {
			if i >= len(got) {
				t.Fatalf("Bind(%q, %q) = %q: %d tokens, source has %d", src, value, b.Text, len(got), len(want))
			}
			g := got[i]
			at := b.SourcePos(g.pos)
			if w.kind == tokParam {
				// The value is one string, or where it is not UTF-8 an error inside it,
				// and either is at the parameter's place.
				bad := g.kind == tokError && !utf8.ValidString(value)
				if !bad && (g.kind != tokString || g.value != value) || at != w.pos {
					t.Fatalf("Bind(%q, %q) = %q: token %d is %v %q at %+v, want the value at %+v", src, value, b.Text, i, g.kind, g.text, at, w.pos)
				}
				if bad {
					break
				}
				continue
			}
			if g.kind != w.kind || g.text != w.text || at != w.pos {
				t.Fatalf("Bind(%q, %q) = %q: token %d is %v %q at %+v, want %v %q at %+v", src, value, b.Text, i, g.kind, g.text, at, w.kind, w.text, w.pos)
			}
			if w.kind == tokError && g.err.Msg != w.err.Msg {
				t.Fatalf("Bind(%q, %q) = %q: error %q, the source's is %q", src, value, b.Text, g.err.Msg, w.err.Msg)
			}
		}
		for off := 0; off <= len(b.Text); off += 1 + len(b.Text)/64 {
			for off < len(b.Text) && !utf8.RuneStart(b.Text[off]) {
				off++ // a position is at a rune's start, as the lexer's are
			}
			p := b.SourcePos(offsetPos(b.Text, off))
			if p.Offset < 0 || p.Offset > len(src) || p.Line < 1 || p.Col < 1 || p.Col > utf8.RuneCountInString(src)+1 {
				t.Fatalf("SourcePos(%d) = %+v, outside the source of %d bytes", off, p, len(src))
			}
		}
		spans := Split(src)
		for _, sp := range spans {
			if sp.Pos.Offset < 0 || sp.Pos.Offset+len(sp.Text) > len(src) || src[sp.Pos.Offset:sp.Pos.Offset+len(sp.Text)] != sp.Text || sp.Pos != offsetPos(src, sp.Pos.Offset) {
				t.Fatalf("Split(%q): span %q at %+v is not the source's", src, sp.Text, sp.Pos)
			}
		}
		// A script that parses once bound splits into its statements, one span each
		// (what the CLI relies on to run them one by one).
		stmts, err := ParseScript(b.Text)
		if err != nil {
			return
		}
		if len(spans) != len(stmts) {
			t.Fatalf("Split(%q) = %d spans, ParseScript(%q) = %d statements", src, len(spans), b.Text, len(stmts))
		}
		for i, sp := range spans {
			sb, err := Bind(sp.Text, []Parameter{{Name: "p", Value: value}})
			if err != nil {
				t.Fatalf("Bind(span %q) = %v", sp.Text, err)
			}
			s, err := Parse(sb.Text)
			if err != nil || Text(s) != Text(stmts[i]) {
				t.Fatalf("span %d %q parses to %v, %v; the script's statement is %q", i, sp.Text, s, err, Text(stmts[i]))
			}
		}
	})
}

// paramTokens is src's tokens as Bind reads them, up to its end or first lexical error
// (included).
func paramTokens(src string) []token {
	var ts []token
	for lx := newParamLexer(src); ; {
		t := lx.next()
		ts = append(ts, t)
		if t.kind == tokEOF || t.kind == tokError {
			return ts
		}
	}
}
