package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// maxSessionsPerPrincipal bounds the sessions one principal holds; signing in past it
// ends that principal's oldest session, so a token holder cannot fill the store.
const maxSessionsPerPrincipal = 32

// sessionKey is the SHA-256 of a session id. The store keeps only keys: a dump of it, or
// a timing difference in its lookup, gives away nothing a cookie could be made from.
type sessionKey = [sha256.Size]byte

// session is one signed-in browser, as read from the session store.
type session struct {
	principalID string
	// tokenID, tokenHash and tokenExpires name the token the session signed in with
	// (its id and stored hash, never its value): every request re-checks it
	// (Authenticator.Recheck on identity.Resume), so the session ends with its token.
	tokenID      string
	tokenHash    []byte
	tokenExpires time.Time
	// csrf is the session's CSRF token: forms posted with this session must carry it.
	// It is derived from the session id (csrfOf), so no store keeps it.
	csrf    string
	created time.Time
	expires time.Time
}

// newSecret returns 256 random bits, base64url without padding (43 characters).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validSecret reports whether s has the shape newSecret gives, so that odd cookie
// values are refused before they are hashed or compared.
func validSecret(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func keyOf(raw string) sessionKey { return sha256.Sum256([]byte(raw)) }

// csrfOf derives a session's CSRF token from its id: HMAC-SHA256 keyed with the id.
// Every replica derives the same token with no key to share and nothing to store, and
// the token (which the page shows) gives away nothing of the id, nor of the store key
// (the id's plain SHA-256, another function of it).
func csrfOf(raw string) string {
	m := hmac.New(sha256.New, []byte(raw))
	m.Write([]byte("gatehouse browser session csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionOfRow is the session a stored row and its id describe.
func sessionOfRow(raw string, s *catalog.BrowserSession) session {
	return session{principalID: s.PrincipalID, tokenID: s.TokenID, tokenHash: s.TokenHash, tokenExpires: s.TokenExpiresAt,
		csrf: csrfOf(raw), created: s.CreatedAt, expires: s.ExpiresAt}
}

// createSession starts a session for the identity and returns its id (for the cookie
// only). The session ends at ttl or when the token it signed in with expires, whichever
// comes first; the store ends the principal's oldest sessions past the bound.
func (u *UI) createSession(ctx context.Context, who *identity.Identity, ttl time.Duration) (string, session, error) {
	now := u.d.Now()
	raw := newSecret()
	row := &catalog.BrowserSession{Key: keyOf(raw), PrincipalID: who.Principal.ID, TokenID: who.TokenID, TokenHash: who.TokenHash(),
		TokenExpiresAt: who.ExpiresAt, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if !who.ExpiresAt.IsZero() && who.ExpiresAt.Before(row.ExpiresAt) {
		row.ExpiresAt = who.ExpiresAt
	}
	if err := u.sessions.CreateBrowserSession(ctx, row, maxSessionsPerPrincipal); err != nil {
		return "", session{}, fmt.Errorf("create browser session: %w", err)
	}
	return raw, sessionOfRow(raw, row), nil
}

// endSession deletes a session that was found not to hold any more. The request is
// refused whatever happens; a store that fails here is logged (the session is re-checked
// and refused again on its next request).
func (u *UI) endSession(ctx context.Context, k sessionKey) {
	if err := u.sessions.DeleteBrowserSession(ctx, k); err != nil {
		u.log.Error("end browser session", "err", err)
	}
}

// sessionOf returns the live session named by the request's cookie, without checking
// its principal (resolve does that): one indexed read of the store. ok is false when
// the request names no live session; err is the store's failure.
func (u *UI) sessionOf(r *http.Request) (sessionKey, session, bool, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || !validSecret(c.Value) {
		return sessionKey{}, session{}, false, nil
	}
	k := keyOf(c.Value)
	row, err := u.sessions.GetBrowserSession(r.Context(), k, u.d.Now())
	if catalog.IsNotFound(err) {
		return k, session{}, false, nil
	}
	if err != nil {
		return k, session{}, false, fmt.Errorf("read browser session: %w", err)
	}
	return k, sessionOfRow(c.Value, row), true, nil
}

// memorySessions is the session store of a UI given none (Deps.Sessions nil): one
// process's memory, the same rules as the catalog stores. A restart signs every browser
// out, and replicas do not share it; servers use the catalog store.
type memorySessions struct {
	mu sync.Mutex
	m  map[sessionKey]catalog.BrowserSession
}

var _ catalog.BrowserSessionStore = (*memorySessions)(nil)

func newMemorySessions() *memorySessions {
	return &memorySessions{m: map[sessionKey]catalog.BrowserSession{}}
}

// CreateBrowserSession stores s, dropping expired sessions and the principal's oldest
// past the bound; sign-ins are rare enough for a full scan.
func (s *memorySessions) CreateBrowserSession(_ context.Context, bs *catalog.BrowserSession, maxPerPrincipal int) error {
	if bs.PrincipalID == "" || bs.TokenID == "" || len(bs.TokenHash) == 0 || maxPerPrincipal < 1 {
		return catalog.Errorf(catalog.InvalidParameterValue, "a browser session needs a principal, a token and a positive bound")
	}
	now := bs.CreatedAt
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[bs.Key]; ok {
		return catalog.Errorf(catalog.ResourceAlreadyExists, "the browser session exists")
	}
	var mine []sessionKey
	for k, v := range s.m {
		if !now.Before(v.ExpiresAt) {
			delete(s.m, k)
			continue
		}
		if v.PrincipalID == bs.PrincipalID {
			mine = append(mine, k)
		}
	}
	slices.SortFunc(mine, func(a, b sessionKey) int { return s.m[a].CreatedAt.Compare(s.m[b].CreatedAt) })
	for len(mine) >= maxPerPrincipal {
		delete(s.m, mine[0])
		mine = mine[1:]
	}
	s.m[bs.Key] = *bs
	return nil
}

// GetBrowserSession returns the session if it is live at now.
func (s *memorySessions) GetBrowserSession(_ context.Context, k sessionKey, now time.Time) (*catalog.BrowserSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if ok && !now.Before(v.ExpiresAt) {
		delete(s.m, k)
		ok = false
	}
	if !ok {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "the browser session does not exist")
	}
	return &v, nil
}

// DeleteBrowserSession ends the session.
func (s *memorySessions) DeleteBrowserSession(_ context.Context, k sessionKey) error {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
	return nil
}

// csrfOK checks a posted form: the browser must not call it cross-origin
// (Sec-Fetch-Site / Origin), and the form's csrf field must equal the CSRF cookie
// (double submit: another site can make the browser send the cookie but can neither
// read it nor set the field to it). When the request carries a session, the token must
// also be that session's own, so a token pair taken from one session is no good with
// another. Comparisons are constant-time.
func (u *UI) csrfOK(r *http.Request, s session, hasSession bool) bool {
	if !u.csrfHeaderOK(r) {
		return false
	}
	c, _ := r.Cookie(u.csrfCookie)
	field := r.PostFormValue("csrf")
	if !validSecret(field) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 {
		return false
	}
	if hasSession && subtle.ConstantTimeCompare([]byte(s.csrf), []byte(field)) != 1 {
		return false
	}
	return true
}

// csrfHeaderOK is the part of csrfOK that needs no body: the request is not
// cross-origin and carries a well-formed CSRF cookie. It runs before a form is read.
func (u *UI) csrfHeaderOK(r *http.Request) bool {
	if err := u.origin.Check(r); err != nil {
		return false
	}
	c, err := r.Cookie(u.csrfCookie)
	return err == nil && validSecret(c.Value)
}

// cookie builds one of the UI's cookies: host-only, Path=/, HttpOnly (no script reads
// them; there is no script), Secure when Gatehouse is served over https. A negative
// maxAge deletes the cookie.
func (u *UI) cookie(name, value string, maxAge time.Duration, sameSite http.SameSite) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: u.secure, SameSite: sameSite}
	if maxAge < 0 {
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	} else {
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = u.d.Now().Add(maxAge)
	}
	return c
}
