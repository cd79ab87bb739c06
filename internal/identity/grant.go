package identity

import (
	"context"
	"net/url"
)

// TokenGrant is one grant_type of Gatehouse's own token endpoint, POST /oidc/v1/token.
// internal/authserver serves the endpoint (form parsing, size bounds, the JSON answer
// and RFC 6749 §5.2 errors) and hands each request to the grant whose GrantType matches:
// the authorization server's authorization_code and refresh_token grants, and workload
// identity federation's token exchange (RFC 8693). A grant mints Gatehouse tokens of a
// principal (catalog.Token, stored as a hash), never longer-lived than what it exchanged.
type TokenGrant interface {
	// GrantType is the grant_type value the grant answers.
	GrantType() string
	// Exchange answers one token request. An error the caller may see is a
	// *GrantError; any other error is answered server_error and logged.
	Exchange(ctx context.Context, req TokenRequest) (*TokenResponse, error)
}

// TokenRequest is one request to the token endpoint, already read and parsed.
type TokenRequest struct {
	// Form is the application/x-www-form-urlencoded body (bounded, each key at most once).
	Form url.Values
	// BasicID and BasicSecret are the client's HTTP Basic credentials, when it sent them.
	BasicID, BasicSecret string
	// SourceIP and RequestID are for the audit record.
	SourceIP, RequestID string
}

// TokenResponse is a successful answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
type TokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in,omitempty"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
}

// GrantError is an error answer of the token endpoint (RFC 6749 §5.2): Code is the
// error code (invalid_request, invalid_client, invalid_grant, unauthorized_client,
// unsupported_grant_type, invalid_scope, invalid_target), Description says which check
// failed in words the caller may see (which claim, never a key or a token), and Log holds
// the detail only the server log gets.
type GrantError struct {
	Status      int // HTTP status: 400, or 401 for invalid_client
	Code        string
	Description string
	Log         string
}

func (e *GrantError) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}
