package authserver

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/bound"
)

// The Gatehouse CLI's sign-in (issue 12, `gatehouse auth login`): the CLI is a built-in
// public client, a native app in the sense of RFC 8252. It has no client ID metadata
// document to fetch: its id is fixed, its redirect URIs are the loopback addresses with
// any port (RFC 8252 §7.3), and it asks for no resource. Its token is a Gatehouse token
// of the user with audience "" — good for the API with every grant the user holds, as a
// personal access token is — and it comes with a refresh token, rotated with reuse
// detection like an MCP client's.

// CLIClientID is the client_id of the Gatehouse CLI.
const CLIClientID = "gatehouse-cli"

// CLIClientName is the name the consent page shows for the CLI.
const CLIClientName = "Gatehouse CLI"

// CLIRedirectOK reports whether r is a redirect URI the CLI may use:
// http://127.0.0.1:{port}/{path} or http://[::1]:{port}/{path}, with an explicit port
// and neither user info, query nor fragment. "localhost" is refused, as RFC 8252 §8.3
// advises: the name may resolve elsewhere than the loopback interface, and a listener on
// another address would receive the code.
func CLIRedirectOK(r string) bool {
	if len(r) > maxParam || strings.ContainsAny(r, "#?") {
		return false
	}
	u, err := url.Parse(r)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if u.Host != "127.0.0.1:"+u.Port() && u.Host != "[::1]:"+u.Port() {
		return false
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != u.Port() {
		return false
	}
	return strings.HasPrefix(u.EscapedPath(), "/")
}

func cliRedirectErr() error {
	return &AuthorizeError{Code: "invalid_request", Description: "redirect_uri of the Gatehouse CLI must be http://127.0.0.1:{port}/{path} or http://[::1]:{port}/{path}"}
}

// cliRequest is the CLI's validated authorization request, once Check has checked its
// redirect URI, state, response type and PKCE challenge as for every client. A resource
// is refused: the CLI's token is for the whole API, never bound to one connection, so
// that a CLI token can be told from an MCP client's by its audience alone.
func cliRequest(redirectURI, state, challenge, resource string) (*AuthorizeRequest, error) {
	if resource != "" {
		return nil, &AuthorizeError{Code: "invalid_target", Description: "the Gatehouse CLI signs in to the API as a whole: no resource", RedirectURI: redirectURI, State: state}
	}
	return &AuthorizeRequest{ClientID: CLIClientID, ClientName: CLIClientName, RedirectURI: redirectURI, State: state,
		CodeChallenge: challenge, CLI: true}, nil
}

// cliDoc is the CLI's client document, built in.
var cliDoc = ClientDoc{ClientID: CLIClientID, ClientName: CLIClientName}

// tokenComment is the comment of a token issued to clientID, shown in token lists.
func tokenComment(clientID string) string {
	if clientID == CLIClientID {
		return "Gatehouse CLI (auth login)"
	}
	return "MCP client " + bound.Truncate(clientID, 200)
}
