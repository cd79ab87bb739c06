package proxy

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// CleanPath validates the path a caller asked for below a connection and returns the
// escaped path to append to the connection's base path.
//
// escaped is the path as the caller sent it, still percent-encoded: "" or starting with
// "/". The result is "" for "", and otherwise starts with "/".
//
// The base path of a connection is an access boundary: an admin who connects
// https://api.example.com/v1/public must not have granted /v1/admin. Upstreams (and the
// proxies and frameworks in front of them) disagree about how to decode and normalize a
// path, so CleanPath refuses, with INVALID_PARAMETER_VALUE, every form whose meaning
// depends on that: a "." or ".." segment in any encoding (%2e, %2E, .%2e, and "..;x",
// which Tomcat-style servers read as ".."), an encoded slash (%2f) or backslash (%5c), a
// literal backslash, an empty segment ("//", which also blocks "//host" forms), control
// characters raw or encoded (%00..%1f, %7f), invalid percent-encoding, and a path that
// is not valid UTF-8 once decoded (which blocks overlong encodings such as %c0%ae).
//
// A trailing slash is kept, since many APIs tell /items from /items/. Escapes are kept as
// the caller wrote them; a byte that may not appear unescaped in a path segment is
// percent-encoded, so the result decodes to exactly what was checked and nothing in it
// can end the path (no raw '?' or '#').
func CleanPath(escaped string) (string, error) {
	if escaped == "" {
		return "", nil
	}
	if escaped[0] != '/' {
		return "", badPath(`must start with "/"`)
	}
	var b strings.Builder
	b.Grow(len(escaped) + 8)
	var dec []byte // scratch: the decoded segment
	rest := escaped[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		b.WriteByte('/')
		if seg == "" {
			if more {
				return "", badPath("must not contain an empty segment (//)")
			}
			// A trailing slash, or "/" alone.
			break
		}
		var err error
		if dec, err = cleanSegment(&b, dec[:0], seg); err != nil {
			return "", err
		}
		if !more {
			break
		}
		rest = tail
	}
	return b.String(), nil
}

// cleanSegment appends the escaped form of seg to b and returns its decoded bytes.
func cleanSegment(b *strings.Builder, dec []byte, seg string) ([]byte, error) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
				return nil, badPath("has an invalid percent-encoding")
			}
			d := unhex(seg[i+1])<<4 | unhex(seg[i+2])
			switch {
			case d == '/':
				return nil, badPath("must not contain an encoded slash (%2F)")
			case d == '\\':
				return nil, badPath("must not contain a backslash")
			case d < 0x20 || d == 0x7f:
				return nil, badPath("must not contain control characters")
			}
			b.WriteString(seg[i : i+3])
			dec = append(dec, d)
			i += 2
		case c == '\\':
			return nil, badPath("must not contain a backslash")
		case c < 0x20 || c == 0x7f:
			return nil, badPath("must not contain control characters")
		case pathByteOK(c):
			b.WriteByte(c)
			dec = append(dec, c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
			dec = append(dec, c)
		}
	}
	name := dec
	if i := bytes.IndexByte(dec, ';'); i >= 0 {
		name = dec[:i]
	}
	if string(name) == "." || string(name) == ".." {
		return nil, badPath(`must not contain a "." or ".." segment, in any encoding`)
	}
	if !utf8.Valid(dec) {
		return nil, badPath("must be valid UTF-8 once decoded")
	}
	return dec, nil
}

func badPath(reason string) *catalog.Error {
	return catalog.Errorf(catalog.InvalidParameterValue, "path %s", reason)
}

const upperHex = "0123456789ABCDEF"

// pathByteOK reports whether c may appear unescaped in a path segment: RFC 3986 pchar
// minus pct-encoded (unreserved, sub-delims, ':' and '@').
func pathByteOK(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// decodePath decodes a path that CleanPath (or the base-path check) accepted.
func decodePath(escaped string) string {
	if strings.IndexByte(escaped, '%') < 0 {
		return escaped
	}
	out := make([]byte, 0, len(escaped))
	for i := 0; i < len(escaped); i++ {
		if escaped[i] == '%' && i+2 < len(escaped) {
			out = append(out, unhex(escaped[i+1])<<4|unhex(escaped[i+2]))
			i += 2
			continue
		}
		out = append(out, escaped[i])
	}
	return string(out)
}
