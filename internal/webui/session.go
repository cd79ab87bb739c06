package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// maxSessionsPerPrincipal bounds the sessions one principal holds; signing in past it
// ends that principal's oldest session, so a token holder cannot fill memory.
const maxSessionsPerPrincipal = 32

// sessionKey is the SHA-256 of a session id. The store keeps only keys: a dump of it, or
// a timing difference in the map lookup, gives away nothing a cookie could be made from.
type sessionKey [sha256.Size]byte

// session is one signed-in browser.
type session struct {
	principalID string
	// who is the identity the session signed in with: it carries the token's id and
	// hash, never its value, and every request re-checks it (Authenticator.Recheck).
	who *identity.Identity
	// csrf is the session's CSRF token: forms posted with this session must carry it.
	csrf    string
	created time.Time
	expires time.Time
}

// sessionStore holds the sessions in memory. A restart signs every browser out, which
// costs a sign-in; sessions are not shared between replicas, which is fine as long as
// a browser's login starts and finishes on one replica (sticky sessions) — OAuth state
// itself is the broker's and is stored wherever it stores it.
type sessionStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[sessionKey]session
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, m: map[sessionKey]session{}}
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

// create starts a session for the identity and returns its id (for the cookie only).
// The session ends at ttl or when the token it signed in with expires, whichever comes
// first. It also drops expired sessions and the principal's oldest past the limit;
// sign-ins are rare enough for a full scan.
func (s *sessionStore) create(who *identity.Identity, ttl time.Duration) (string, session) {
	now := s.now()
	raw := newSecret()
	principalID := who.Principal.ID
	sess := session{principalID: principalID, who: who, csrf: newSecret(), created: now, expires: now.Add(ttl)}
	if !who.ExpiresAt.IsZero() && who.ExpiresAt.Before(sess.expires) {
		sess.expires = who.ExpiresAt
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest sessionKey
	var oldestAt time.Time
	n := 0
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
			continue
		}
		if v.principalID == principalID {
			n++
			if oldestAt.IsZero() || v.created.Before(oldestAt) {
				oldest, oldestAt = k, v.created
			}
		}
	}
	if n >= maxSessionsPerPrincipal {
		delete(s.m, oldest)
	}
	s.m[keyOf(raw)] = sess
	return raw, sess
}

// get returns the live session with the key.
func (s *sessionStore) get(k sessionKey) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if ok && !s.now().Before(v.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return v, ok
}

func (s *sessionStore) delete(k sessionKey) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// sessionOf returns the live session named by the request's cookie, without checking
// its principal (resolve does that).
func (u *UI) sessionOf(r *http.Request) (sessionKey, session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || !validSecret(c.Value) {
		return sessionKey{}, session{}, false
	}
	k := keyOf(c.Value)
	s, ok := u.sessions.get(k)
	return k, s, ok
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
