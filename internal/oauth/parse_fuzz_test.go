package oauth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzParseTokenResponse: the token response parser never panics, and its errors
// never contain the access token of the body it was given.
func FuzzParseTokenResponse(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"a b"}`,
		`{"access_token":"at","expires_in":"3600","refresh_expires_in":"60"}`,
		`{"access_token":"at","expires_in":1e400}`,
		`{"access_token":"at","expires_in":-5,"scope":["a",1]}`,
		`{"access_token":12345678901,"error":"x"}`,
		`{"access_token":"","error":"invalid_grant","error_description":"gone"}`,
		`{"error":"bad_verification_code"}`,
		`{"token_type":"bearer"}`,
		`access_token=at&expires_in=60`,
		`{"access_token":"secret-token-value"} trailing`,
		`{"access_token":"SECRET-TOKEN-1","access_token":"","error":"x","error_description":"leak SECRET-TOKEN-1"}`,
		`{"access_token":"SECRET-\u0001TOKEN","access_token":null,"error":"SECRET-TOKEN","error_description":"SECRET-\u0001TOKEN"}`,
		`{"access_token":"ab: cdefgh","access_token":0,"error":"xab","error_description":"cdefghx"}`,
		`null`, `[]`, ``, `{`, "\x00\xff",
	} {
		f.Add([]byte(seed), "application/json")
		f.Add([]byte(seed), "application/x-www-form-urlencoded")
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		tok, e := parseTokenResponse(body, contentType, time.Unix(1e9, 0), nil)
		if (tok == nil) == (e == nil) {
			t.Fatalf("parseTokenResponse returned token %v and error %v", tok, e)
		}
		if e == nil {
			if tok.AccessToken == "" {
				t.Fatal("token without access token")
			}
			return
		}
		e.kind, e.Endpoint, e.Status = "token endpoint", "https://idp.example/token", 200
		msg := e.Error()
		// The message without any text from the body: a value that occurs there (or in
		// the redaction marker) is in every such message, token or not.
		bare := *e
		bare.Code, bare.Description, bare.URI = "", "", ""
		skeleton := bare.Error() + redactedText
		for _, at := range accessTokens(body, contentType) {
			// Shorter values can occur in any text by chance ("200").
			if len(at) >= 8 && strings.Contains(msg, at) && !strings.Contains(skeleton, at) {
				t.Fatalf("error %q contains the access token %q", msg, at)
			}
		}
		if e.Class != ClassMisconfigured && e.Class != ClassReauth && e.Class != ClassDegraded {
			t.Fatalf("class %q", e.Class)
		}
	})
}

// accessTokens finds the access_token values in a body, independently of the parser:
// every string value of an access_token key in a JSON object (duplicates included),
// and every access_token value of a form.
func accessTokens(body []byte, contentType string) []string {
	var out []string
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, expectValue, key := 0, false, ""
	for {
		tk, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tk.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			expectValue = false
		case string:
			if depth == 1 && !expectValue {
				key, expectValue = v, true
				continue
			}
			if expectValue && depth == 1 && key == "access_token" {
				out = append(out, v)
			}
			expectValue = false
		default:
			expectValue = false
		}
	}
	if f, ok := decodeFields(body, contentType); ok {
		if s, ok := f["access_token"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}
