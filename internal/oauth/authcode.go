package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// NewPKCE makes a PKCE pair (RFC 7636): a 43-character verifier from 32 random bytes
// and its S256 challenge.
func NewPKCE() (verifier, challenge string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState makes an OAuth state value: 256 random bits, URL-safe.
func NewState() string { return randomString(32) }

func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails (it crashes the program if the OS cannot give
	// randomness, which is the only safe answer for a secret).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthCodeURL builds the authorization request URL: response_type=code, client_id,
// redirect_uri, scope (when set), state, code_challenge with
// code_challenge_method=S256, and resource (RFC 8707) when set. Query parameters
// already in cfg.AuthURL (like Google's access_type=offline) are kept; the ones named
// here replace any of the same name, so an endpoint's query cannot override state,
// PKCE, redirect_uri, client_id or response_type. When the scope holds both openid
// and offline_access and the endpoint's query sets no prompt, prompt=consent is
// added: OpenID Connect Core §11 makes it the condition for a refresh token, and
// certified providers drop offline_access without it.
func AuthCodeURL(cfg Config, state, codeChallenge, redirectURI string) string {
	u, err := url.Parse(cfg.AuthURL)
	if err != nil {
		u = &url.URL{Path: cfg.AuthURL}
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", cfg.ClientID)
	q.Set("redirect_uri", redirectURI)
	if cfg.Scope != "" {
		q.Set("scope", cfg.Scope)
	}
	q.Set("state", state)
	q.Set("code_challenge", codeChallenge)
	q.Set("code_challenge_method", "S256")
	if cfg.Resource != "" {
		q.Set("resource", cfg.Resource)
	}
	if !q.Has("prompt") && wantsOfflineOpenID(cfg.Scope) {
		q.Set("prompt", "consent")
	}
	u.RawQuery = q.Encode()
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// wantsOfflineOpenID reports whether the space-separated scope holds both the exact
// tokens openid and offline_access.
func wantsOfflineOpenID(scope string) bool {
	var openid, offline bool
	for tok := range strings.SplitSeq(scope, " ") {
		switch tok {
		case "openid":
			openid = true
		case "offline_access":
			offline = true
		}
	}
	return openid && offline
}
