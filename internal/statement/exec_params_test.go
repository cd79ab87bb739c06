package statement

import (
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
	if off := FirstWord(sp.Text); !strings.HasPrefix(sp.Text[off:], "GRANT") {
		t.Errorf("FirstWord = %d (%q), want GRANT's offset", off, sp.Text[off:])
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

// FuzzBind checks that substitution never panics, that every value stays one string
// literal (the text scans to the same elements as the source, each parameter become a
// string), and that every position of the bound text maps back inside the source.
func FuzzBind(f *testing.F) {
	for _, s := range []string{"SHOW CONNECTIONS LIKE :p", "x ':p' `:p` -- :p\n/* :p */ :p;:p", "GRANT USE CONNECTION ON CONNECTION :p TO bob", "'unterminated :p", "/* open :p"} {
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
		var want, got []textKind
		scanText(src, func(k textKind, _, _ int) bool {
			if k == textParam {
				k = textString
			}
			want = append(want, k)
			return true
		})
		scanText(b.Text, func(k textKind, _, _ int) bool {
			got = append(got, k)
			return true
		})
		if len(got) != len(want) {
			t.Fatalf("Bind(%q, %q) = %q: %d elements, source has %d", src, value, b.Text, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("Bind(%q, %q) = %q: element %d is %v, want %v", src, value, b.Text, i, got[i], want[i])
			}
		}
		for off := 0; off <= len(b.Text); off += 1 + len(b.Text)/64 {
			p := b.SourcePos(offsetPos(b.Text, off))
			if p.Offset < 0 || p.Offset > len(src) || p.Line < 1 || p.Col < 1 || p.Col > utf8.RuneCountInString(src)+1 {
				t.Fatalf("SourcePos(%d) = %+v, outside the source of %d bytes", off, p, len(src))
			}
		}
		for _, sp := range Split(src) {
			if !strings.Contains(src, sp.Text) || sp.Pos.Offset < 0 || sp.Pos.Offset > len(src) || src[sp.Pos.Offset:sp.Pos.Offset+len(sp.Text)] != sp.Text {
				t.Fatalf("Split(%q): span %q at %+v is not the source's", src, sp.Text, sp.Pos)
			}
		}
	})
}
