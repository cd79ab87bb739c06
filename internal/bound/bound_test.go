package bound_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/bound"
)

func TestTruncate(t *testing.T) {
	a256 := strings.Repeat("a", 256)
	mb := strings.Repeat("x", 1<<20)
	// "é" is two bytes: 255 a's and an é are 257 bytes, and the é must not be split.
	cutInRune := strings.Repeat("a", 255) + "é"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "github", "github"},
		{"backslash kept", `a\nb`, `a\nb`},
		{"utf8 kept", "café ✓ 日本", "café ✓ 日本"},
		{"newline", "a\nb", `a\nb`},
		{"carriage return and tab", "a\r\tb", `a\r\tb`},
		{"escape and nul", "\x1b[31mred\x00", `\x1b[31mred\x00`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 control", "a\u0085b\u009b", `a\u0085b\u009b`},
		{"line separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"bidi override", "abc\u202edef\u2066", `abc\u202edef\u2066`},
		{"invalid utf8", "a\xffb\xc3", `a\xffb\xc3`},
		{"exactly 256", a256, a256},
		{"257", a256 + "b", a256 + "…[truncated, 257 bytes]"},
		{"multibyte at the cut", cutInRune, strings.Repeat("a", 255) + "…[truncated, 257 bytes]"},
		{"escape at the cut", strings.Repeat("a", 254) + "\n", strings.Repeat("a", 254) + `\n`},
		{"escape past the cut", strings.Repeat("a", 255) + "\n", strings.Repeat("a", 255) + "…[truncated, 256 bytes]"},
		{"escapes make it long", strings.Repeat("\n", 200), strings.Repeat(`\n`, 128) + "…[truncated, 200 bytes]"},
		{"1 MB", mb, strings.Repeat("x", 256) + "…[truncated, 1048576 bytes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bound.String(tt.in)
			if got != tt.want {
				t.Errorf("String(%.40q) = %.300q, want %.300q", tt.in, got, tt.want)
			}
			checkSafe(t, tt.in, got, bound.Limit)
		})
	}
}

func TestTruncateCleanDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("ab/é", 20)
	if n := testing.AllocsPerRun(100, func() { _ = bound.String(s) }); n != 0 {
		t.Errorf("String of a clean string allocates %v times, want 0", n)
	}
}

// checkSafe asserts what every bounded string is: valid UTF-8, within MaxLen, free of
// control characters, and the input itself when the input was already safe.
func checkSafe(t *testing.T, in, out string, limit int) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("output %.80q is not valid UTF-8", out)
	}
	if len(out) > bound.MaxLen(limit) {
		t.Errorf("output is %d bytes, more than MaxLen(%d) = %d", len(out), limit, bound.MaxLen(limit))
	}
	for _, r := range out {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) {
			t.Errorf("output %.80q holds the control character %U", out, r)
			break
		}
	}
	if len(in) <= limit && utf8.ValidString(in) && !strings.ContainsFunc(in, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x2028 && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	}) && out != in {
		t.Errorf("safe input %.80q changed to %.80q", in, out)
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "github", "a\nb", "\x1b[2J", "a\xffb", "é\u2028", strings.Repeat("é", 200), strings.Repeat("\x00", 300)} {
		f.Add(s, 256)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = limit % 1024
		out := bound.Truncate(s, limit)
		checkSafe(t, s, out, max(limit, 0))
		if !strings.Contains(out, "…[truncated, ") && len(out) > max(limit, 0) {
			t.Errorf("untruncated output is %d bytes, limit %d", len(out), limit)
		}
	})
}
