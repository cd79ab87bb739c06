// Package oauth is Gatehouse's OAuth 2.0 client: token endpoint calls (client
// credentials, authorization code with PKCE, refresh, revocation), authorization server
// discovery (RFC 8414 and OpenID Connect), the pieces of the authorization code flow
// (state, PKCE, the authorization URL) and the provider prerequisite check behind
// `gatehouse connections check`.
//
// Every failure is an *Error whose Class tells the credential broker which state the
// credential goes to (REAUTH_REQUIRED, MISCONFIGURED or DEGRADED) and whose message
// names the endpoint, the provider's error code and its description, and never a
// client secret or a token: everything a provider answers passes the call's Redactor,
// which knows every encoding of every secret the call sent. Endpoints taken from
// discovery metadata are used only on the origin of the configured endpoint.
package oauth

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// ExchangeMethod is how the client ID and secret reach the token endpoint (the
// connection option oauth_credential_exchange_method).
type ExchangeMethod string

// The exchange methods (RFC 6749 §2.3.1).
const (
	// ExchangeHeaderAndBody sends HTTP Basic authentication and client_id and
	// client_secret in the form. It is the default: most servers accept one of the two
	// and ignore the other.
	ExchangeHeaderAndBody ExchangeMethod = catalog.ExchangeHeaderAndBody
	// ExchangeBodyOnly sends client_id and client_secret only in the form
	// (client_secret_post).
	ExchangeBodyOnly ExchangeMethod = catalog.ExchangeBodyOnly
	// ExchangeHeaderOnly sends only HTTP Basic authentication (client_secret_basic);
	// client_id is then not in the form.
	ExchangeHeaderOnly ExchangeMethod = catalog.ExchangeHeaderOnly
)

// effective returns the method to use: "" means ExchangeHeaderAndBody.
func (m ExchangeMethod) effective() ExchangeMethod {
	if m == "" {
		return ExchangeHeaderAndBody
	}
	return m
}

// Valid reports whether m is "" or one of the three methods.
func (m ExchangeMethod) Valid() bool {
	switch m {
	case "", ExchangeHeaderAndBody, ExchangeBodyOnly, ExchangeHeaderOnly:
		return true
	}
	return false
}

// Config is one connection's OAuth client configuration.
type Config struct {
	ClientID string
	// ClientSecret is never logged, never put in an error and never printed by String.
	ClientSecret string `json:"-"`
	AuthURL      string
	TokenURL     string
	// Scope is space separated.
	Scope string
	// Resource is the RFC 8707 resource indicator, sent on every authorization and
	// token request (refresh included) when set.
	Resource string
	// Method is how the client authenticates; "" means ExchangeHeaderAndBody.
	Method ExchangeMethod
}

// String describes the configuration without the client secret.
func (c Config) String() string {
	secret := "unset"
	if c.ClientSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("oauth.Config{ClientID: %q, ClientSecret: %s, AuthURL: %q, TokenURL: %q, Scope: %q, Resource: %q, Method: %q}",
		c.ClientID, secret, c.AuthURL, c.TokenURL, c.Scope, c.Resource, c.Method.effective())
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the secret out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Token is what a token endpoint answered.
type Token struct {
	// AccessToken and RefreshToken are secrets: String, GoString, LogValue and JSON
	// leave them out.
	AccessToken string `json:"-"`
	// RefreshToken is "" when the answer had none. After a refresh that means the
	// provider does not rotate refresh tokens: the caller keeps the one it has.
	RefreshToken string `json:"-"`
	TokenType    string
	// Scope is the granted scope; "" when the server did not say, which by RFC 6749
	// §5.1 means the requested scope was granted.
	Scope string
	// Expiry is when the access token expires, from expires_in; zero when unknown.
	Expiry time.Time
	// RefreshExpiry is when the refresh token expires, from refresh_token_expires_in
	// or refresh_expires_in; zero when unknown.
	RefreshExpiry time.Time
}

// String describes the token without its secrets.
func (t Token) String() string {
	present := func(s string) string {
		if s == "" {
			return "none"
		}
		return "[redacted]"
	}
	exp := func(at time.Time) string {
		if at.IsZero() {
			return "unknown"
		}
		return at.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("oauth.Token{AccessToken: %s, RefreshToken: %s, TokenType: %q, Scope: %q, Expiry: %s, RefreshExpiry: %s}",
		present(t.AccessToken), present(t.RefreshToken), t.TokenType, t.Scope, exp(t.Expiry), exp(t.RefreshExpiry))
}

// GoString is String, so that %#v does not print the tokens either.
func (t Token) GoString() string { return t.String() }

// LogValue keeps the tokens out of structured logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }
