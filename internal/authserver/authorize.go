package authserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// MCP client sign-in (issue 12): the authorization code flow with PKCE S256 for public
// clients identified by client ID metadata documents, the code bound to the client, its
// redirect URI, the PKCE challenge, the resource (an MCP connection's URL) and the user.

// MCPPathPrefix is the path under the public URL that names MCP connections; a resource
// is PublicURL + MCPPathPrefix + name.
const MCPPathPrefix = "/api/2.0/mcp/external/"

// CodeTTL is how long an authorization code may be exchanged.
const CodeTTL = 60 * time.Second

// Store is what the authorization server keeps: connections (resources), principals,
// tokens, and its codes and refresh-token families (catalog.OAuthGrantStore).
type Store interface {
	GetConnection(ctx context.Context, name string) (*catalog.Connection, error)
	GetPrincipal(ctx context.Context, id string) (*catalog.Principal, error)
	CreateToken(ctx context.Context, t *catalog.Token) error
	GetTokenByHash(ctx context.Context, hash []byte) (*catalog.Token, error)
	DeleteToken(ctx context.Context, id string) error
	catalog.OAuthGrantStore
}

// AuthorizerOptions configure an Authorizer.
type AuthorizerOptions struct {
	// PublicURL is Gatehouse's public URL, the issuer and the base of resources.
	PublicURL string
	// HTTPClient fetches client ID metadata documents: the safe-dialer client that
	// fetches OAuth metadata. Required.
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log receives refusals' detail (nil: none).
	Log *slog.Logger
}

// Authorizer validates authorization requests, issues codes, and answers the
// authorization_code and refresh_token grants.
type Authorizer struct {
	st     Store
	opts   AuthorizerOptions
	base   string
	client *cimdCache
}

// NewAuthorizer returns the authorizer over st.
func NewAuthorizer(st Store, opts AuthorizerOptions) *Authorizer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{st: st, opts: opts, base: strings.TrimRight(opts.PublicURL, "/"),
		client: newCIMDCache(opts.HTTPClient, opts.Now)}
}

// AuthorizeRequest is a validated authorization request.
type AuthorizeRequest struct {
	ClientID      string
	ClientName    string // from the client's metadata document: the client's own claim
	RedirectURI   string
	State         string
	CodeChallenge string
	Resource      string
	Connection    string // the connection the resource names
	CLI           bool   // the Gatehouse CLI, signing in as the user to the whole API
}

// AuthorizeError is a refused authorization request. Without RedirectURI (the redirect
// URI is not known to be the client's) it is shown to the user as a page; with it, the
// browser is sent back to the client with Code, Description and State (RFC 6749 §4.1.2.1).
type AuthorizeError struct {
	Code, Description string
	RedirectURI       string
	State             string
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// Location is the redirect carrying the error back to the client; "" when the error
// must be shown as a page.
func (e *AuthorizeError) Location() string {
	if e.RedirectURI == "" {
		return ""
	}
	v := url.Values{"error": {e.Code}, "error_description": {e.Description}}
	if e.State != "" {
		v.Set("state", e.State)
	}
	return addQuery(e.RedirectURI, v)
}

func addQuery(raw string, v url.Values) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + v.Encode()
}

const (
	maxParam     = 2048
	maxState     = 1024
	minChallenge = 43
	maxChallenge = 128
)

// Check validates an authorization request's parameters (the query of GET
// /oidc/v1/authorize, or the consent form that repeats them). The client and its
// redirect URI are checked first: until both hold, an error is for the user's eyes only.
func (a *Authorizer) Check(ctx context.Context, q url.Values) (*AuthorizeRequest, error) {
	for k, v := range q {
		if len(v) > 1 {
			return nil, &AuthorizeError{Code: "invalid_request", Description: "parameter " + safeName(k) + " is given more than once"}
		}
		if len(v[0]) > maxParam {
			return nil, &AuthorizeError{Code: "invalid_request", Description: "parameter " + safeName(k) + " is longer than 2048 bytes"}
		}
	}
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" || redirectURI == "" {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "client_id and redirect_uri are required"}
	}
	doc, err := a.client.get(ctx, clientID)
	if err != nil {
		var ae *AuthorizeError
		if errors.As(err, &ae) {
			return nil, ae
		}
		a.opts.Log.Info("client metadata document refused", "client_id", bound.Truncate(clientID, 256), "err", err)
		return nil, &AuthorizeError{Code: "invalid_client", Description: "the client's metadata document could not be fetched"}
	}
	cli := clientID == CLIClientID // issue 12: the CLI, a built-in client (cliclient.go)
	if cli && !CLIRedirectOK(redirectURI) {
		return nil, cliRedirectErr()
	}
	if !cli && !redirectAllowed(doc.RedirectURIs, redirectURI) {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "redirect_uri is not one of the client's registered redirect URIs"}
	}
	state := q.Get("state")
	refuse := func(code, desc string) (*AuthorizeRequest, error) {
		return nil, &AuthorizeError{Code: code, Description: desc, RedirectURI: redirectURI, State: state}
	}
	if len(state) > maxState {
		state = ""
		return refuse("invalid_request", "state is longer than 1024 bytes")
	}
	if q.Get("response_type") != "code" {
		return refuse("unsupported_response_type", "response_type must be code")
	}
	if q.Get("code_challenge_method") != "S256" {
		return refuse("invalid_request", "code_challenge_method must be S256 (PKCE is required)")
	}
	ch := q.Get("code_challenge")
	if len(ch) < minChallenge || len(ch) > maxChallenge || !unreserved(ch) {
		return refuse("invalid_request", "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]")
	}
	resource := q.Get("resource")
	if cli {
		return cliRequest(redirectURI, state, ch, resource)
	}
	if resource == "" {
		return refuse("invalid_target", "resource is required: the MCP connection's URL")
	}
	name, ok := strings.CutPrefix(resource, a.base+MCPPathPrefix)
	if !ok || name == "" || strings.ContainsAny(name, "/?#") {
		return refuse("invalid_target", "resource must be an MCP connection URL "+a.base+MCPPathPrefix+"{name}")
	}
	conn, err := a.st.GetConnection(ctx, name)
	if catalog.IsNotFound(err) || (err == nil && !conn.IsMCP()) {
		return refuse("invalid_target", "resource names no MCP connection")
	}
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	return &AuthorizeRequest{ClientID: clientID, ClientName: doc.ClientName, RedirectURI: redirectURI, State: state,
		CodeChallenge: ch, Resource: resource, Connection: conn.Name}, nil
}

// Approve issues a single-use code for req to principal p (who consented) and returns
// where to send the browser: the redirect URI with code and state. A user holding
// catalog.MaxOAuthCodesPerPrincipal codes is refused with an *AuthorizeError
// (temporarily_unavailable) that goes back to the client.
func (a *Authorizer) Approve(ctx context.Context, p *catalog.Principal, req *AuthorizeRequest) (string, error) {
	code, err := randomValue()
	if err != nil {
		return "", err
	}
	now := a.opts.Now()
	c := &catalog.OAuthCode{Hash: keyOf(codeKey, code), PrincipalID: p.ID, ClientID: req.ClientID, RedirectURI: req.RedirectURI,
		CodeChallenge: req.CodeChallenge, Audience: req.Resource, CreatedAt: now, ExpiresAt: now.Add(CodeTTL)}
	if err := a.st.PutOAuthCode(ctx, c, catalog.MaxOAuthCodesPerPrincipal); err != nil {
		if catalog.CodeOf(err) == catalog.RequestLimitExceeded {
			a.opts.Log.Warn("authorization code refused: the user's bound is reached", "principal", p.Name, "err", err)
			return "", &AuthorizeError{Code: "temporarily_unavailable", Description: "you have started too many sign-ins within the hour; retry later",
				RedirectURI: req.RedirectURI, State: req.State}
		}
		return "", fmt.Errorf("store authorization code: %w", err)
	}
	v := url.Values{"code": {code}, "iss": {a.base}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	return addQuery(req.RedirectURI, v), nil
}

// codeKey is the key domain of codes: a code's stored hash is never an OAuth state's.
const codeKey = "gatehouse mcp code v1"

func keyOf(domain, value string) [sha256.Size]byte {
	return sha256.Sum256([]byte(domain + "\x00" + value))
}

func randomValue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// pkceOK checks an S256 code verifier against the challenge (RFC 7636 §4.6).
func pkceOK(verifier, challenge string) bool {
	if len(verifier) < minChallenge || len(verifier) > maxChallenge || !unreserved(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
