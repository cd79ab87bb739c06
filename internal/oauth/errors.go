package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Class says what a failure means for the credential.
type Class string

// The classes of failure.
const (
	// ClassReauth: the grant is gone (invalid_grant: consent revoked, user left,
	// refresh token expired or reused; also OpenID Connect's interaction_required
	// family and GitHub's bad_refresh_token). Only a new login helps.
	ClassReauth Class = "reauth"
	// ClassMisconfigured: the connection's settings are wrong (invalid_client,
	// unauthorized_client, unsupported_grant_type, invalid_scope, invalid_request, a
	// 4xx without an OAuth error, a redirect, an http endpoint, a 200 that is not a
	// token). An admin must change something; retrying does not help.
	ClassMisconfigured Class = "misconfigured"
	// ClassDegraded: a transient failure (5xx, 429, network error, timeout). Retry
	// with Backoff.
	ClassDegraded Class = "degraded"
)

// Error is every failure of this package. Its message names the endpoint's host, the
// provider's error code and description (sanitized) and, where Gatehouse knows, what to
// change. It never contains a client secret or a token.
type Error struct {
	Class Class
	// Code is the provider's OAuth error code ("invalid_grant"), "" when it sent none.
	Code string
	// Description is the provider's error_description, sanitized: control characters
	// removed, at most 300 characters, secrets Gatehouse sent replaced by [redacted]
	// in every encoding it sent them (see Redactor).
	Description string
	// URI is the provider's error_uri (a page about the error), sanitized like
	// Description; "" when it sent none.
	URI string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Endpoint is the URL called, without query or fragment.
	Endpoint string
	// Detail says what went wrong when it is not an OAuth error ("token endpoints
	// must not redirect, so Gatehouse did not follow it").
	Detail string
	// Hint says what to change, when Gatehouse knows.
	Hint string
	// Err is the underlying network or context error, if any.
	Err error

	kind string // "token endpoint", "revocation endpoint", "discovery"
}

func (e *Error) Error() string {
	var b strings.Builder
	kind := e.kind
	if kind == "" {
		kind = "oauth endpoint"
	}
	b.WriteString(kind)
	if h := endpointHost(e.Endpoint); h != "" {
		b.WriteString(" at ")
		b.WriteString(h)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " answered %d", e.Status)
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
			if e.Description != "" {
				b.WriteString(": ")
				b.WriteString(e.Description)
			}
			if e.URI != "" {
				b.WriteString(" (see ")
				b.WriteString(e.URI)
				b.WriteString(")")
			}
		} else if t := http.StatusText(e.Status); t != "" && (e.Status < 200 || e.Status > 299) {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if e.Detail != "" {
			if strings.HasPrefix(e.Detail, "with") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
			b.WriteString(e.Detail)
		}
	} else {
		b.WriteString(": ")
		switch {
		case e.Detail != "":
			b.WriteString(e.Detail)
		case e.Code != "":
			b.WriteString(e.Code)
			if e.Description != "" {
				b.WriteString(": ")
				b.WriteString(e.Description)
			}
		default:
			b.WriteString("request failed")
		}
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(causeText(e.Err))
		}
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// causeText is the text of a network error without the URL that *url.Error adds.
func causeText(err error) string {
	var re *redactedError
	if errors.As(err, &re) {
		return re.msg
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return sanitize(err.Error(), nil)
}

// Unwrap returns the underlying network or context error.
func (e *Error) Unwrap() error { return e.Err }

// State is the credential state the failure puts the credential in.
func (e *Error) State() catalog.CredentialState {
	switch e.Class {
	case ClassReauth:
		return catalog.StateReauthRequired
	case ClassDegraded:
		return catalog.StateDegraded
	default:
		return catalog.StateMisconfigured
	}
}

// classify maps an OAuth error code and HTTP status to a class. Transient statuses win
// over codes: a 503 with "invalid_request" is still an outage.
func classify(code string, status int) Class {
	if status == http.StatusTooManyRequests || status >= 500 {
		return ClassDegraded
	}
	switch code {
	case "invalid_grant",
		// OpenID Connect codes, and GitHub's (answered with 200), that only a new
		// login fixes.
		"interaction_required", "login_required", "consent_required", "access_denied",
		"bad_refresh_token", "bad_verification_code":
		return ClassReauth
	case "temporarily_unavailable", "server_error", "slow_down":
		return ClassDegraded
	}
	// invalid_client, unauthorized_client, unsupported_grant_type, invalid_scope,
	// invalid_request, admin_policy_enforced, unknown codes and codeless 4xx.
	return ClassMisconfigured
}

const maxDescription = 300

// sanitize makes provider text safe to show: valid UTF-8, no control or bidirectional
// formatting characters (which could fake log lines or reorder text), secrets replaced
// by r (nil: none), at most maxDescription characters. Secrets are replaced after the characters are
// cleaned, so that removing a character cannot join a secret back together.
func sanitize(s string, r *Redactor) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			if r != '\t' && r != '\n' && r != '\r' {
				continue
			}
			r = ' '
		}
		b.WriteRune(r)
	}
	s = strings.TrimSpace(r.Redact(b.String()))
	if utf8.RuneCountInString(s) > maxDescription {
		s = string([]rune(s)[:maxDescription]) + "…"
	}
	return s
}

// sanitizeCode keeps an OAuth error code to its RFC 6749 alphabet (printable ASCII
// without '"' and '\'), at most 64 characters.
func sanitizeCode(s string, r *Redactor) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(r.Redact(b.String()))
}

// AboutClientAuth reports whether the failure is the token endpoint refusing how the
// client authenticated: invalid_client, unauthorized_client, a 401 without an OAuth
// error, or invalid_request whose description is about the authentication mechanism
// ("client authentication must only be provided using one mechanism"). Such a
// refusal's message names oauth_credential_exchange_method, the method used and the
// methods the provider's metadata lists.
func (e *Error) AboutClientAuth() bool {
	return e.Code == "unauthorized_client" || e.MethodMayBeWrong()
}

// MethodMayBeWrong reports whether another exchange method could succeed where this
// one was refused: invalid_client, a 401 without an OAuth error, or invalid_request
// about the authentication mechanism. unauthorized_client is not one: the server knew
// the client and refused the grant. Such a refusal happens before the server looks at
// the grant, so an authorization code it carried was not consumed.
func (e *Error) MethodMayBeWrong() bool {
	if e.Class == ClassDegraded || e.Status == 0 {
		return false
	}
	switch e.Code {
	case "invalid_client":
		return true
	case "":
		return e.Status == http.StatusUnauthorized
	case "invalid_request":
		return aboutAuthMechanism(e.Description)
	}
	return false
}

// aboutAuthMechanism recognizes the usual wordings of an invalid_request about the
// client authentication mechanism.
func aboutAuthMechanism(desc string) bool {
	d := strings.ToLower(desc)
	for _, s := range []string{"client authentication", "one mechanism", "client_secret_basic", "client_secret_post",
		"authentication method", "auth method", "client credentials were provided"} {
		if strings.Contains(d, s) {
			return true
		}
	}
	if strings.Contains(d, "multiple") || strings.Contains(d, "more than one") {
		return strings.Contains(d, "authentication") || strings.Contains(d, "mechanism") || strings.Contains(d, "credentials")
	}
	return false
}
