package oauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
)

// redactedText replaces secrets.
const redactedText = "[redacted]"

// minSecretLen is the shortest encoded secret Redact replaces: shorter ones would
// shred ordinary words (and a 3-byte secret is no secret).
const minSecretLen = 4

// Redactor replaces, in text that comes from an OAuth server, every form in which
// Gatehouse sent a secret during one call. A server that echoes its request (in an
// error_description, an error_uri, a non-OAuth error body, a redirect target) would
// otherwise put the client secret or a token in the error a grantee sees, in
// credential_status.reason, in the audit log and in the server log.
//
// The forms are those Gatehouse itself produces, and the encodings a server uses when
// it quotes them: for each secret (the client secret, and the grant values and tokens
// of the call) the plain value, its form (url.QueryEscape) and path escapes, its JSON
// string escapes (with and without HTML escaping, and ASCII-only \uXXXX as Python and
// Java emit); for the client secret also the HTTP Basic credentials
// base64(client_id:secret) with raw and with form-encoded ID and secret (RFC 6749
// §2.3.1, what header_only and header_and_body send), in standard and URL alphabets,
// with and without padding; and each of those form- and JSON-escaped once more. A
// Redactor holds secrets: it is never logged and lives only for the call. It is safe
// for concurrent use.
type Redactor struct {
	once    sync.Once
	base    []string // the secrets in the forms Gatehouse sends them
	needles []string // every encoding of base, longest first, each at least minSecretLen bytes
}

// NewRedactor returns the Redactor of a call made with cfg (its client secret, in
// every encoding, including both Basic forms) that also sent values (an
// authorization code, a PKCE verifier, a refresh token, a token being revoked). The
// encodings are computed on first use: most calls succeed and never need them.
func NewRedactor(cfg Config, values ...string) *Redactor {
	r := &Redactor{}
	add := func(s string) {
		if len(s) >= minSecretLen {
			r.base = append(r.base, s)
		}
	}
	if cfg.ClientSecret != "" {
		add(cfg.ClientSecret)
		for _, userpass := range []string{
			cfg.ClientID + ":" + cfg.ClientSecret,
			url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret),
		} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				add(enc.EncodeToString([]byte(userpass)))
			}
		}
	}
	for _, v := range values {
		add(v)
	}
	return r
}

// forms returns the needles, computing them once.
func (r *Redactor) forms() []string {
	r.once.Do(func() {
		seen := make(map[string]bool)
		for _, b := range r.base {
			for _, n := range encodings(b) {
				// An encoding of an encoding: a server that quotes its form body inside
				// a JSON string, or the Basic header inside a form value.
				for _, m := range encodings(n) {
					if len(m) >= minSecretLen && !seen[m] {
						seen[m] = true
						r.needles = append(r.needles, m)
					}
				}
			}
		}
		// Longest first, so that a form containing another is replaced whole.
		slices.SortFunc(r.needles, func(a, b string) int { return len(b) - len(a) })
	})
	return r.needles
}

// encodings lists s and the escapes a server may quote it in.
func encodings(s string) []string {
	return []string{s, url.QueryEscape(s), url.PathEscape(s), jsonEscape(s, true), jsonEscape(s, false), jsonEscapeASCII(s, false), jsonEscapeASCII(s, true)}
}

// jsonEscape is s as encoding/json writes it inside a string, without the quotes.
func jsonEscape(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return s
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

// jsonEscapeASCII is s escaped as ASCII-only JSON encoders write it (Python's
// json.dumps in lower-case hex, Jackson's ESCAPE_NON_ASCII in upper case): every
// non-ASCII character as \uXXXX, astral ones as surrogate pairs.
func jsonEscapeASCII(s string, upper bool) string {
	format := `\u%04x`
	if upper {
		format = `\u%04X`
	}
	var b strings.Builder
	for _, r := range jsonEscape(s, false) {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, format+format, r1, r2)
		default:
			fmt.Fprintf(&b, format, r)
		}
	}
	return b.String()
}

// Redact replaces every form of every secret in s with [redacted]. Should a secret
// still occur afterwards (formed across a replacement), s is dropped whole. A nil
// Redactor returns s unchanged.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, n := range r.forms() {
		if strings.Contains(s, n) {
			s = strings.ReplaceAll(s, n, redactedText)
		}
	}
	if r.Leaks(s) {
		return redactedText
	}
	return s
}

// Leaks reports whether s holds any form of a secret.
func (r *Redactor) Leaks(s string) bool {
	if r == nil {
		return false
	}
	for _, n := range r.forms() {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// With returns a Redactor that also knows values (in every encoding but Basic).
func (r *Redactor) With(values ...string) *Redactor {
	if len(values) == 0 {
		return r
	}
	out := NewRedactor(Config{}, values...)
	if r != nil {
		out.base = append(slices.Clone(r.base), out.base...)
	}
	return out
}

// String keeps the secrets out of fmt output.
func (r *Redactor) String() string { return "oauth.Redactor{[redacted]}" }

// GoString is String.
func (r *Redactor) GoString() string { return r.String() }

// redactedError is a network error whose text has passed the Redactor; it unwraps to
// the original so that errors.Is (context.DeadlineExceeded) still works.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrub redacts every field of e that can carry provider output, then checks the
// whole message: a secret formed across fields (a code and a description that join
// into one) drops the provider's words, then its code.
func (r *Redactor) scrub(e *Error) *Error {
	if r == nil || e == nil {
		return e
	}
	e.Code, e.Description, e.URI = r.Redact(e.Code), r.Redact(e.Description), r.Redact(e.URI)
	e.Detail, e.Hint = r.Redact(e.Detail), r.Redact(e.Hint)
	if e.Err != nil {
		if msg := causeText(e.Err); r.Leaks(msg) || r.Leaks(e.Err.Error()) {
			e.Err = &redactedError{msg: r.Redact(msg), err: e.Err}
		}
	}
	for step := 0; r.Leaks(e.Error()) && step < 3; step++ {
		switch step {
		case 0:
			e.Description, e.URI = redactedText, ""
		case 1:
			e.Code, e.Detail, e.Hint = redactedText, "", ""
		case 2:
			if e.Err != nil {
				e.Err = &redactedError{msg: redactedText, err: e.Err}
			}
		}
	}
	return e
}
