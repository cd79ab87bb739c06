// Package bound makes strings that come from outside Gatehouse safe to keep in a record
// (an audit event, a log line): at most a fixed number of bytes, valid UTF-8, and no
// control characters, whatever a client sent. A 1 MB connection name in a URL costs a
// record 256 bytes and a note of the original length, not a megabyte; a newline or an
// ANSI escape in a header value shows as \n or \x1b instead of acting on a terminal or a
// line-oriented log reader.
//
// String and Truncate do the bounding; Handler applies it to every string attribute of
// a log/slog record.
package bound

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limit is the default number of bytes of a bounded string before the truncation note.
const Limit = 256

// ellipsis starts the note that replaces what a truncation cut off:
// "…[truncated, N bytes]" where N is the length of the original string in bytes.
const ellipsis = "…[truncated, "

// maxNote is the longest truncation note: ellipsis, 20 digits and " bytes]".
const maxNote = len(ellipsis) + 20 + len(" bytes]")

// MaxLen is the longest string Truncate(s, limit) returns for any s.
func MaxLen(limit int) int { return max(limit, 0) + maxNote }

// String is Truncate(s, Limit).
func String(s string) string { return Truncate(s, Limit) }

// Truncate returns s made safe to record:
//
//   - \n, \r and \t become the two characters \n, \r and \t; every other C0 control
//     character and DEL become \xNN; C1 controls (U+0080-U+009F) and the characters that
//     reorder or break lines in a viewer (U+061C, U+200E, U+200F, U+2028, U+2029,
//     U+202A-U+202E, U+2066-U+2069) become \uNNNN; each byte that is not part of valid
//     UTF-8 becomes \xNN.
//   - If the result would be longer than limit bytes, it is cut at a character boundary
//     (never inside an escape or a multi-byte character) to at most limit bytes and
//     followed by "…[truncated, N bytes]", N being len(s).
//
// Backslashes are kept as they are, so that every string without control characters
// and within the limit is returned unchanged (and without allocating): a recorded
// "\n" is therefore either an escaped newline or the two characters, which is harmless
// in a record, and keeps ordinary names exactly as they were.
func Truncate(s string, limit int) string {
	limit = max(limit, 0)
	if clean(s, limit) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), limit) + maxNote)
	var esc [6]byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+n]
		switch {
		case r == utf8.RuneError && n == 1:
			piece = hexByte(esc[:0], "\\x", s[i])
		case r < 0x80:
			if c := s[i]; c < 0x20 || c == 0x7f {
				switch c {
				case '\n':
					piece = `\n`
				case '\r':
					piece = `\r`
				case '\t':
					piece = `\t`
				default:
					piece = hexByte(esc[:0], "\\x", c)
				}
			}
		case escapedRune(r):
			piece = hexRune(esc[:0], r)
		}
		if b.Len()+len(piece) > limit {
			b.WriteString(ellipsis)
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteString(" bytes]")
			return b.String()
		}
		b.WriteString(piece)
		i += n
	}
	return b.String()
}

// clean reports whether s is within limit and has nothing to escape: then Truncate
// returns it as it is. Plain printable ASCII, the common case, is checked byte by byte.
func clean(s string, limit int) bool {
	if len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		// One comparison for printable ASCII (0x20-0x7e): below 0x20 wraps around.
		if c := s[i]; c-0x20 >= 0x5f {
			if c >= 0x80 {
				return cleanUTF8(s[i:])
			}
			return false
		}
	}
	return true
}

func cleanUTF8(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r < 0x20 || r == 0x7f || escapedRune(r) {
			return false
		}
		i += n
	}
	return true
}

// escapedRune reports whether r, a valid non-ASCII rune, is written as \uNNNN: C1
// controls, and the format characters that let text reorder itself or start a new
// line in a viewer ("Trojan Source", CVE-2021-42574), which could make one record look
// like two or hide part of a value.
func escapedRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

func hexByte(b []byte, prefix string, c byte) string {
	b = append(b, prefix...)
	b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	return string(b)
}

func hexRune(b []byte, r rune) string {
	b = append(b, '\\', 'u')
	for shift := 12; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(r>>shift)&0xf])
	}
	return string(b)
}
