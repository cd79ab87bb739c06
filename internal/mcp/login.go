package mcp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
)

// urlElicitation is one entry of URLElicitationRequiredError's data.elicitations (MCP
// 2025-11-25, "URL mode elicitation").
type urlElicitation struct {
	Mode          string `json:"mode"`
	ElicitationID string `json:"elicitationId"`
	URL           string `json:"url"`
	Message       string `json:"message"`
}

// LoginRequiredError is the JSON-RPC error answering a request on a per-user OAuth MCP
// connection for which the caller has no token. message is the OAUTH_LOGIN_REQUIRED
// message and loginURL Gatehouse's login page for the connection; neither may hold a
// secret. For a client that declared the elicitation.url capability it is MCP's
// URLElicitationRequiredError (-32042) with one URL elicitation pointing at loginURL;
// otherwise a JSON-RPC error CodeLoginRequired whose message is message. Both carry
// data.login_url.
func LoginRequiredError(id json.RawMessage, message, loginURL string, elicitationURL bool) json.RawMessage {
	if elicitationURL {
		return ErrorResponse(id, CodeURLElicitationRequired, message, struct {
			Elicitations []urlElicitation `json:"elicitations"`
			LoginURL     string           `json:"login_url"`
		}{
			Elicitations: []urlElicitation{{Mode: "url", ElicitationID: newElicitationID(), URL: loginURL, Message: message}},
			LoginURL:     loginURL,
		})
	}
	return ErrorResponse(id, CodeLoginRequired, message, struct {
		ErrorCode string `json:"error_code"`
		LoginURL  string `json:"login_url"`
	}{"OAUTH_LOGIN_REQUIRED", loginURL})
}

// CodeLoginRequired is the JSON-RPC error code of the login error for clients without
// the elicitation.url capability (in JSON-RPC's implementation-defined range; -32000 and -32001 are avoided as SDKs use them for closed connections and timeouts).
const CodeLoginRequired = -32010

// newElicitationID returns a fresh random id; the spec requires it unique per
// elicitation. It is not a secret and grants nothing.
func newElicitationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// ClientDeclaresURLElicitation reports whether the params of an initialize request
// declare the client capability elicitation.url (capabilities.elicitation.url present
// as an object). An absent or unreadable declaration is false: the client then gets the
// plain JSON-RPC login error, which every client can show.
func ClientDeclaresURLElicitation(initializeParams json.RawMessage) bool {
	var p struct {
		Capabilities struct {
			Elicitation struct {
				URL json.RawMessage `json:"url"`
			} `json:"elicitation"`
		} `json:"capabilities"`
	}
	if json.Unmarshal(initializeParams, &p) != nil {
		return false
	}
	u := p.Capabilities.Elicitation.URL
	return len(u) > 0 && u[0] == '{'
}
