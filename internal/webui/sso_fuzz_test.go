package webui

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// memoryPending is a PendingLoginStore in memory for the fuzz target (the SSO tests
// use the SQLite store).
type memoryPending struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]catalog.PendingLogin
}

func (s *memoryPending) PutPendingLogin(_ context.Context, l *catalog.PendingLogin, _ catalog.PendingLoginLimits) (int, error) {
	s.mu.Lock()
	s.m[l.StateHash] = *l
	s.mu.Unlock()
	return 0, nil
}

func (s *memoryPending) TakePendingLogin(_ context.Context, h [sha256.Size]byte, now time.Time) (*catalog.PendingLogin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[h]
	delete(s.m, h)
	if !ok || now.After(l.ExpiresAt) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no such login")
	}
	return &l, nil
}

// FuzzSSOCallback feeds the single sign-on redirect URI any query and binding cookie,
// with a state recorded for one known binding: whatever arrives, the answer is a page
// (never a panic) and never a session, since no provider can be reached to redeem a code.
func FuzzSSOCallback(f *testing.F) {
	const binding = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	const state = "sssssssssssssssssssssssssssssssssssssssssss"
	f.Add("state="+state+"&code=abc", binding)
	f.Add("state="+state+"&error=access_denied&error_description=%00%ff", binding)
	f.Add("state=&code=", "")
	f.Add("state="+state+"&state=x&code=1", "not-a-secret")
	f.Fuzz(func(t *testing.T, query, cookie string) {
		pending := &memoryPending{m: map[[sha256.Size]byte]catalog.PendingLogin{}}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		_, _ = pending.PutPendingLogin(context.Background(), &catalog.PendingLogin{StateHash: sha256.Sum256([]byte(state)),
			SessionHash: sha256.Sum256([]byte(binding)), PrincipalID: ssoPendingID, ConnectionID: ssoPendingID,
			SealedVerifier: ssoPendingMarker, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}, catalog.PendingLoginLimits{})
		u := New(Deps{Principals: &fakePrincipals{m: map[string]catalog.Principal{}}, PublicURL: "http://127.0.0.1:8080",
			Now: func() time.Time { return now },
			SSO: &SSOConfig{Issuer: "https://127.0.0.1:1", ClientID: "c", ClientSecret: "s", Users: users{&fakePrincipals{m: map[string]catalog.Principal{}}},
				Pending: pending, HTTPClient: &http.Client{Transport: refuseTransport{}}}})
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = SSOCallbackPath
		req.URL.RawQuery = query
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "gatehouse_sso", Value: sanitizeCookie(cookie)})
		}
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, req)
		if c := findCookie(rec, SessionCookie); c != nil && c.MaxAge >= 0 {
			t.Fatalf("a fuzzed callback started a session (%d)", rec.Code)
		}
		if rec.Code == http.StatusSeeOther || rec.Code == http.StatusOK {
			t.Fatalf("a fuzzed callback answered %d", rec.Code)
		}
	})
}

// refuseTransport fails every request: no provider is reachable in the fuzz target.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrServerClosed
}

// sanitizeCookie keeps the bytes a cookie value may carry, so that AddCookie does not
// drop it.
func sanitizeCookie(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\' && c != ',' {
			b = append(b, c)
		}
	}
	return string(b)
}
