package oauth

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzProviderText: every way provider text enters a message (description, code,
// error_uri, body excerpt, an error in a 200 answer) keeps the client secret out in
// the plain, form-encoded and both Basic forms, whatever the body and the secret.
func FuzzProviderText(f *testing.F) {
	f.Add("CANARY\"<&+/=ü", []byte(`{"error":"x","error_description":"CANARY\"<&+/=ü"}`), "application/json")
	f.Add("a\\\"bcd", []byte(`a"bcd`), "text/plain")
	f.Add("secret", []byte(`error=secr&error_description=et`), "application/x-www-form-urlencoded")
	f.Add("Y2xpZW50", []byte(`{"error":"Y2xpZW50OnNlY3JldA=="}`), "application/json")
	f.Fuzz(func(t *testing.T, secret string, body []byte, contentType string) {
		if len(secret) < minSecretLen || strings.Contains(redactedText, secret) {
			return
		}
		cfg := Config{ClientID: "client", ClientSecret: secret}
		r := NewRedactor(cfg)
		outs := map[string]string{
			"sanitize": sanitize(string(body), r),
			"code":     sanitizeCode(string(body), r),
			"uri":      sanitizeURI(string(body), r),
			"excerpt":  bodyExcerpt(body, contentType, r),
		}
		if _, e := parseTokenResponse(body, contentType, time.Unix(0, 0), r); e != nil {
			e.kind, e.Endpoint, e.Status = "token endpoint", "https://idp.example/token", 200
			outs["200 error"] = e.Error()
		}
		e := r.scrub(&Error{Code: sanitizeCode(string(body), r), Description: sanitize(string(body), r), Status: 400, Detail: "with " + bodyExcerpt(body, "text/plain", r)})
		outs["scrubbed"] = e.Error()
		// The plain and form-encoded secret and the Basic forms; a form that the
		// message's own words contain ("token", "[redacted]") proves nothing.
		forms := append([]string{secret, url.QueryEscape(secret)}, r.base...)
		const fixed = "token endpoint at idp.example answered 400 200 with [redacted]"
		for where, out := range outs {
			for _, fm := range forms {
				if len(fm) >= minSecretLen && strings.Contains(out, fm) && !strings.Contains(fixed, fm) {
					t.Fatalf("%s output %q holds %q", where, out, fm)
				}
			}
		}
	})
}

// FuzzConfine: an endpoint kept in the metadata is an absolute URL on exactly the
// configured origin, without user information; confine never panics.
func FuzzConfine(f *testing.F) {
	for _, s := range []string{"https://idp.example/revoke", "https://IDP.example:443/r", "https://idp.example:8443/r", "http://idp.example/r",
		"https://user@idp.example/r", "//idp.example/r", "https://idp.example.evil/r", "https://[::1]:443/r", "https://idp.example%2f@evil/r", "https://idp.example./r"} {
		f.Add(s)
	}
	configured, _ := url.Parse("https://idp.example/token")
	f.Fuzz(func(t *testing.T, endpoint string) {
		md := &Metadata{RevocationEndpoint: endpoint, TokenEndpoint: endpoint}
		confine(md, configured)
		if md.RevocationEndpoint == "" {
			if endpoint != "" && len(md.Ignored) != 2 {
				t.Fatalf("ignored %q without listing it: %+v", endpoint, md.Ignored)
			}
			return
		}
		u, err := url.Parse(md.RevocationEndpoint)
		if err != nil || u.User != nil || !strings.EqualFold(u.Scheme, "https") || !strings.EqualFold(u.Hostname(), "idp.example") || (u.Port() != "" && u.Port() != "443") {
			t.Fatalf("kept %q, which is not on https://idp.example:443", endpoint)
		}
	})
}
