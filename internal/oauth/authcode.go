package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
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
// here replace any of the same name.
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
	u.RawQuery = q.Encode()
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
