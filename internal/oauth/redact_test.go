package oauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// hardSecret has every character whose encodings differ: JSON escapes '"', '\', and
// (HTML-escaped) '<', '&'; form encoding changes '+', '/', '=', '&', non-ASCII; base64
// of it uses both alphabets' special characters and padding.
const hardSecret = "CANARY\"q\\b<s&p+x/y=zü€😀~tail"

// canaryForms lists, independently of the code under test, the forms a server can
// quote a secret in: plain, form and path escapes, JSON string escapes (Go's with and
// without HTML escaping, ASCII-only lower- and upper-case hex) and, with a client ID,
// both HTTP Basic forms in the four base64 alphabets. Forms under 4 bytes are left out.
func canaryForms(clientID, secret string) map[string]string {
	js := func(escapeHTML bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		_ = enc.Encode(secret)
		return strings.TrimSuffix(strings.TrimSuffix(b.String(), "\n")[1:], `"`)
	}
	ascii := func(upper bool) string {
		var b strings.Builder
		for _, r := range js(false) {
			switch {
			case r < 0x80:
				b.WriteRune(r)
			case r > 0xFFFF:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		if upper {
			return regexp.MustCompile(`\\u[0-9a-f]{4}`).ReplaceAllStringFunc(b.String(), func(m string) string { return `\u` + strings.ToUpper(m[2:]) })
		}
		return b.String()
	}
	out := map[string]string{
		"plain":             secret,
		"form-encoded":      url.QueryEscape(secret),
		"path-escaped":      url.PathEscape(secret),
		"json":              js(true),
		"json without html": js(false),
		"json ascii":        ascii(false),
		"json ascii upper":  ascii(true),
	}
	if clientID != "" {
		for name, userpass := range map[string]string{
			"basic":              clientID + ":" + secret,
			"basic form-encoded": url.QueryEscape(clientID) + ":" + url.QueryEscape(secret),
		} {
			for alpha, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding, "url": base64.URLEncoding, "raw url": base64.RawURLEncoding} {
				out[name+" "+alpha] = enc.EncodeToString([]byte(userpass))
			}
		}
	}
	for k, v := range out {
		if len(v) < 4 {
			delete(out, k)
		}
	}
	return out
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_=-]{8,}`)

// findLeak returns the name of the first form of a secret found in text, "" if none.
// Besides the listed forms it decodes every base64-looking run of text (any alphabet,
// padded or not) and looks for the plain and form-encoded secret in it.
func findLeak(text, clientID string, secrets ...string) string {
	for _, s := range secrets {
		for name, f := range canaryForms(clientID, s) {
			if strings.Contains(text, f) {
				return name
			}
		}
		for _, run := range base64Run.FindAllString(text, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				for _, cand := range []string{run, strings.TrimRight(run, "=")} {
					d, err := enc.DecodeString(cand)
					if err == nil && (bytes.Contains(d, []byte(s)) || bytes.Contains(d, []byte(url.QueryEscape(s)))) {
						return "base64 of " + run
					}
				}
			}
		}
	}
	return ""
}

func TestRedactorForms(t *testing.T) {
	for _, secret := range []string{testSecret, hardSecret, "short+/=", "ü€😀ü€😀"} {
		r := oauth.NewRedactor(oauth.Config{ClientID: "client:id%1", ClientSecret: secret}, testRefresh)
		for name, form := range canaryForms("client:id%1", secret) {
			t.Run(fmt.Sprintf("%q/%s", secret, name), func(t *testing.T) {
				for _, in := range []string{form, "x " + form + " y", form + form, "a" + form + `"` + form} {
					out := r.Redact(in)
					if leak := findLeak(out, "client:id%1", secret); leak != "" {
						t.Fatalf("Redact(%q) = %q, which holds the %s form", in, out, leak)
					}
					if !strings.Contains(out, "[redacted]") {
						t.Fatalf("Redact(%q) = %q, want [redacted] in it", in, out)
					}
				}
			})
		}
		// The grant value of the call, in every form but Basic.
		for name, form := range canaryForms("", testRefresh) {
			if out := r.Redact("rt=" + form); findLeak(out, "", testRefresh) != "" {
				t.Errorf("Redact of the refresh token's %s form = %q", name, out)
			}
		}
	}
	// A nil Redactor and one without secrets change nothing.
	var none *oauth.Redactor
	if got := none.Redact("abc " + testSecret); got != "abc "+testSecret {
		t.Errorf("nil Redactor changed the text: %q", got)
	}
	if got := oauth.NewRedactor(oauth.Config{ClientID: "c"}).Redact("plain text"); got != "plain text" {
		t.Errorf("empty Redactor changed the text: %q", got)
	}
	if s := fmt.Sprintf("%v %#v %s", oauth.NewRedactor(oauth.Config{ClientSecret: testSecret}), oauth.NewRedactor(oauth.Config{ClientSecret: testSecret}), oauth.NewRedactor(oauth.Config{ClientSecret: testSecret})); strings.Contains(s, testSecret) {
		t.Errorf("a Redactor prints its secret: %s", s)
	}
}

// echoedRequest is what a server that quotes its request would say: the Authorization
// header, the raw form body and the decoded form, also as a JSON document.
func echoedRequest(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	j, _ := json.Marshal(map[string]any{"headers": r.Header, "form": form})
	return "Authorization: " + r.Header.Get("Authorization") + " body: " + string(body) + " form: " + fmt.Sprint(form) + " json: " + string(j)
}

// TestProviderEchoIsRedacted is the permanent table of provider output that quotes a
// secret: every encoding of the client secret and of the call's grant value (the
// refresh token; the token being revoked), placed in each message source —
// error_description, error_uri, a plain-text body, a JSON body without an OAuth error,
// an error in a 200 answer — and a server that echoes its whole request, for each
// exchange method. The error never holds a secret in any form.
func TestProviderEchoIsRedacted(t *testing.T) {
	type source struct {
		name   string
		status int
		ct     string
		body   func(leak string) string
	}
	jsonBody := func(v map[string]string) string { b, _ := json.Marshal(v); return string(b) }
	sources := []source{
		{"error_description", 400, "application/json", func(l string) string {
			return jsonBody(map[string]string{"error": "invalid_client", "error_description": "you sent " + l})
		}},
		{"error_uri", 400, "application/json", func(l string) string {
			return jsonBody(map[string]string{"error": "invalid_request", "error_uri": "https://idp.example/errors?q=" + l})
		}},
		{"error code", 400, "application/json", func(l string) string { return jsonBody(map[string]string{"error": l}) }},
		{"plain text body", 400, "text/plain", func(l string) string { return "bad request: " + l }},
		{"json body without an OAuth error", 401, "application/json", func(l string) string {
			return jsonBody(map[string]string{"message": "unauthorized " + l})
		}},
		{"error in a 200 answer", 200, "application/json", func(l string) string {
			return jsonBody(map[string]string{"error": "bad_verification_code", "error_description": l, "error_uri": "https://idp.example/?" + l})
		}},
		{"form-encoded error", 400, "application/x-www-form-urlencoded", func(l string) string {
			return url.Values{"error": {"invalid_request"}, "error_description": {l}}.Encode()
		}},
		{"5xx with a description", 503, "application/json", func(l string) string {
			return jsonBody(map[string]string{"error": "temporarily_unavailable", "error_description": l})
		}},
	}
	const clientID = "client:id&1"
	type leakCase struct{ secret, form, value string }
	var leaks []leakCase
	for name, f := range canaryForms(clientID, hardSecret) {
		leaks = append(leaks, leakCase{"client secret", name, f})
	}
	for name, f := range canaryForms("", testRefresh) {
		leaks = append(leaks, leakCase{"refresh token", name, f})
	}
	for _, src := range sources {
		for _, lk := range leaks {
			t.Run(src.name+"/"+lk.secret+"/"+lk.form, func(t *testing.T) {
				srv, c := tlsServer(t, answer(src.status, src.ct, src.body(lk.value)))
				cfg := oauth.Config{ClientID: clientID, ClientSecret: hardSecret, TokenURL: srv.URL + "/token"}
				_, err := c.Refresh(context.Background(), cfg, testRefresh)
				if err == nil {
					t.Fatal("Refresh succeeded against an error answer")
				}
				if leak := findLeak(err.Error(), clientID, hardSecret, testRefresh); leak != "" {
					t.Fatalf("error %q holds the %s form of a secret", err, leak)
				}
				e := asError(t, err)
				for field, v := range map[string]string{"Code": e.Code, "Description": e.Description, "URI": e.URI, "Detail": e.Detail, "Hint": e.Hint} {
					if leak := findLeak(v, clientID, hardSecret, testRefresh); leak != "" {
						t.Fatalf("field %s = %q holds the %s form of a secret", field, v, leak)
					}
				}
			})
		}
	}
	// A server that echoes the whole request, for each exchange method and call.
	for _, m := range []oauth.ExchangeMethod{oauth.ExchangeHeaderAndBody, oauth.ExchangeBodyOnly, oauth.ExchangeHeaderOnly} {
		for _, src := range []string{"error_description", "plain text body"} {
			t.Run("echo/"+string(m)+"/"+src, func(t *testing.T) {
				srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					dump := echoedRequest(r)
					if src == "plain text body" {
						w.Header().Set("Content-Type", "text/plain")
						w.WriteHeader(401)
						_, _ = io.WriteString(w, dump[:min(len(dump), 190)])
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(400)
					_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": dump})
				}))
				cfg := oauth.Config{ClientID: clientID, ClientSecret: hardSecret, TokenURL: srv.URL + "/token", Method: m}
				ctx := context.Background()
				calls := map[string]error{}
				_, calls["client_credentials"] = c.ClientCredentials(ctx, cfg)
				_, calls["refresh"] = c.Refresh(ctx, cfg, testRefresh)
				_, calls["exchange"] = c.Exchange(ctx, cfg, "CODE-canary-1234", "https://gh.example/cb", "VERIFIER-canary-5678")
				calls["revoke"] = c.Revoke(ctx, cfg, srv.URL+"/revoke", testRefresh, "refresh_token")
				for call, err := range calls {
					if err == nil {
						t.Fatalf("%s succeeded against an error answer", call)
					}
					if leak := findLeak(err.Error(), clientID, hardSecret, testRefresh, "CODE-canary-1234", "VERIFIER-canary-5678"); leak != "" {
						t.Errorf("%s: error %q holds the %s form of a secret", call, err, leak)
					}
					if !strings.Contains(err.Error(), "[redacted]") {
						t.Errorf("%s: error %q has no [redacted]; the echo was not seen", call, err)
					}
				}
			})
		}
	}
}

// TestRedactionAcrossFields: a secret that only forms when the message joins the
// provider's code and description is not shown either.
func TestRedactionAcrossFields(t *testing.T) {
	const secret = "abcd: efgh-secret"
	srv, c := tlsServer(t, answer(400, "application/json", `{"error":"xx abcd","error_description":"efgh-secret yy"}`))
	cfg := oauth.Config{ClientID: "client", ClientSecret: secret, TokenURL: srv.URL + "/token"}
	_, err := c.ClientCredentials(context.Background(), cfg)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error = %v, want one without the joined secret", err)
	}
}

// FuzzRedactor: whatever the secret, the client ID and the text around it, no listed
// form of the secret survives Redact (except one the marker itself contains).
func FuzzRedactor(f *testing.F) {
	f.Add("client", hardSecret, "before ", " after", uint8(0))
	f.Add("c:i", "p+/=", "", "", uint8(9))
	f.Add("ü", "a\"b\\c<d>e&f", "x", "y", uint8(3))
	f.Add("id", "dacted", "[re", "]", uint8(0))
	f.Add("", "secret", "secr", "et", uint8(1))
	f.Fuzz(func(t *testing.T, clientID, secret, prefix, suffix string, which uint8) {
		forms := canaryForms(clientID, secret)
		if len(secret) < 4 || len(forms) == 0 {
			return
		}
		names := make([]string, 0, len(forms))
		for n := range forms {
			names = append(names, n)
		}
		// Map iteration order is random; pick by sorted name for reproducibility.
		slices.Sort(names)
		leak := forms[names[int(which)%len(names)]]
		out := oauth.NewRedactor(oauth.Config{ClientID: clientID, ClientSecret: secret}).Redact(prefix + leak + suffix)
		for name, f := range forms {
			if strings.Contains(out, f) && !strings.Contains("[redacted]", f) {
				t.Fatalf("Redact left the %s form %q in %q", name, f, out)
			}
		}
	})
}
