package governance

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestTruncate: a name shown in an error is kept when short and clean, cut at a
// character boundary (never inside a multi-byte character) with the cut noted, and its
// control characters escaped.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // the result, or its prefix when cut
		cut      bool
	}{
		{name: "short name kept", in: "github", want: "github"},
		{name: "64 bytes kept", in: strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		{name: "two-byte characters across the cut", in: "a" + strings.Repeat("é", 40), want: "a" + strings.Repeat("é", 31) + "…[truncated, 81 bytes]", cut: true},
		{name: "terminal escape escaped", in: "gh\x1b[31m\nx", want: `gh\x1b[31m\nx`},
		{name: "invalid UTF-8 escaped", in: "gh\xff", want: `gh\xff`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := truncate(tc.in, 64)
			if got != tc.want {
				t.Errorf("truncate(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) || strings.ContainsFunc(got, unicode.IsControl) {
				t.Errorf("truncate(%q) = %q: not valid UTF-8 without control characters", tc.in, got)
			}
			if strings.Contains(got, "…[truncated") != tc.cut {
				t.Errorf("truncate(%q) = %q, cut noted = %v, want %v", tc.in, got, !tc.cut, tc.cut)
			}
		})
	}
}
