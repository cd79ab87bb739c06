package statement

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks, for any input, that the parser never panics; that an error is a
// *SyntaxError whose position lies inside the input and agrees with its offset; that a
// parsed statement's canonical text parses to the same statement; and that its redacted
// text parses too, with every secret value, header value and json body hidden.
func FuzzParse(f *testing.F) {
	for _, tc := range validStatements {
		f.Add(tc.src)
	}
	for _, tc := range invalidStatements {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse(src)
		checkErr(t, src, err)
		stmts, serr := ParseScript(src)
		checkErr(t, src, serr)
		if err == nil {
			if serr != nil || len(stmts) != 1 {
				t.Fatalf("Parse(%q) succeeded, ParseScript = %d statements, %v", src, len(stmts), serr)
			}
			checkRoundTrip(t, s)
		}
		for _, s := range stmts {
			checkRoundTrip(t, s)
		}
	})
}

func checkErr(t *testing.T, src string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v, want *SyntaxError", err, err)
	}
	if se.Pos.Offset < 0 || se.Pos.Offset > len(src) {
		t.Fatalf("error %v at offset %d, outside the %d bytes of input", err, se.Pos.Offset, len(src))
	}
	if lc := lineCol(src, se.Pos.Offset); lc != [2]int{se.Pos.Line, se.Pos.Col} {
		t.Fatalf("error %v: offset %d is at %v", err, se.Pos.Offset, lc)
	}
}

func checkRoundTrip(t *testing.T, s Statement) {
	t.Helper()
	text := Text(s)
	again, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(Text) of %q: %v", text, err)
	}
	if d := cmp.Diff(s, again, ignorePos); d != "" {
		t.Fatalf("Parse(%q) differs (-first +again):\n%s", text, d)
	}
	red, err := Parse(RedactedText(s))
	if err != nil {
		t.Fatalf("Parse(RedactedText) of %q: %v", RedactedText(s), err)
	}
	var opts []Option
	switch r := red.(type) {
	case *CreateConnection:
		opts = r.Options
	case *AlterConnection:
		opts = r.Options
	case *SelectHTTPRequest:
		if r.JSON != nil && r.JSON.Value != "***" {
			t.Fatalf("RedactedText shows the json body: %q", RedactedText(s))
		}
		if r.Headers != nil {
			for _, e := range r.Headers.Entries {
				if e.Value != "***" {
					t.Fatalf("RedactedText shows header %q: %q", e.Key, RedactedText(s))
				}
			}
		}
	}
	for _, o := range opts {
		if isSecretOption(o.Key) && o.Value != "***" {
			t.Fatalf("RedactedText shows option %q: %q", o.Key, RedactedText(s))
		}
	}
}
