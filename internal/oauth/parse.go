package oauth

import (
	"bytes"
	"encoding/json"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxLifetime bounds expires_in so that a hostile value cannot overflow time.Duration.
const maxLifetime = 100 * 365 * 24 * time.Hour

// parseTokenResponse reads a successful (2xx) token endpoint answer. A body with a
// non-empty access_token is a token, whatever else it holds; otherwise it is an error:
// the provider's OAuth error if it sent one (GitHub answers 200 with an error), else
// "without access_token". Error messages never echo the body except the provider's
// error code and description, and those only when the body carries no access token.
func parseTokenResponse(body []byte, contentType string, now time.Time, r *Redactor) (*Token, *Error) {
	f, ok := decodeFields(body, contentType)
	if !ok {
		return nil, r.scrub(&Error{Class: ClassMisconfigured, Detail: "with a body that is not a JSON token response" + describeContentType(contentType)})
	}
	at, _ := f["access_token"].(string)
	if at == "" {
		if code, _ := f["error"].(string); code != "" {
			// A body may name access_token twice; no value of it reaches the message.
			r = r.With(jsonStrings(body, "access_token")...)
			desc, _ := f["error_description"].(string)
			uri, _ := f["error_uri"].(string)
			e := &Error{Code: sanitizeCode(code, r), Description: sanitize(desc, r), URI: sanitizeURI(uri, r)}
			e.Class = classify(e.Code, 0)
			if joined := "answered 200 " + e.Code + ": " + e.Description + " (see " + e.URI; r.Leaks(joined) {
				e.Description, e.URI = redactedText, ""
				if r.Leaks("answered 200 " + e.Code + ": ") {
					e.Code = redactedText
				}
			}
			return nil, r.scrub(e)
		}
		return nil, &Error{Class: ClassMisconfigured, Detail: "without access_token"}
	}
	t := &Token{AccessToken: at}
	t.RefreshToken, _ = f["refresh_token"].(string)
	t.TokenType, _ = f["token_type"].(string)
	t.Scope = scopeField(f["scope"])
	if d, ok := lifetime(f["expires_in"]); ok {
		t.Expiry = now.Add(d)
	}
	for _, k := range []string{"refresh_token_expires_in", "refresh_expires_in"} {
		if d, ok := lifetime(f[k]); ok {
			t.RefreshExpiry = now.Add(d)
			break
		}
	}
	return t, nil
}

// decodeFields decodes a JSON object, or a form-encoded body when the server says so
// (some providers ignore Accept: application/json).
func decodeFields(body []byte, contentType string) (map[string]any, bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		v, err := url.ParseQuery(string(body))
		if err != nil || len(v) == 0 {
			return nil, false
		}
		f := make(map[string]any, len(v))
		for k := range v {
			f[k] = v.Get(k)
		}
		return f, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var f map[string]any
	if err := dec.Decode(&f); err != nil || f == nil {
		return nil, false
	}
	// Anything after the object is not a token response.
	if dec.More() {
		return nil, false
	}
	return f, true
}

// lifetime reads a positive number of seconds given as a JSON number or a string.
// Absent, non-numeric, zero or negative values are unknown.
func lifetime(v any) (time.Duration, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 {
		return 0, false
	}
	if secs >= maxLifetime.Seconds() {
		return maxLifetime, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

// scopeField reads scope as the standard space-separated string or, leniently, as a
// JSON array of strings.
func scopeField(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func describeContentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt == "" {
		return ""
	}
	return " (content type " + sanitizeCode(mt, nil) + ")"
}

// jsonStrings returns every string value of key in the top-level JSON object of body,
// duplicates included.
func jsonStrings(body []byte, key string) []string {
	var out []string
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, isValue, k := 0, false, ""
	for {
		tk, err := dec.Token()
		if err != nil {
			return out
		}
		switch v := tk.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			isValue = false
		case string:
			if depth == 1 && !isValue {
				k, isValue = v, true
				continue
			}
			if isValue && depth == 1 && k == key {
				out = append(out, v)
			}
			isValue = false
		default:
			isValue = false
		}
	}
}
