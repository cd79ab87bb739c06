package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// echoGrant answers "secret-token" when the form says ok=1, a GrantError when it says
// ok=0, and a plain error otherwise; it records the request it saw.
type echoGrant struct {
	mu   sync.Mutex
	last identity.TokenRequest
}

func (g *echoGrant) GrantType() string { return "urn:test" }

func (g *echoGrant) Exchange(ctx context.Context, req identity.TokenRequest) (*identity.TokenResponse, error) {
	g.mu.Lock()
	g.last = req
	g.mu.Unlock()
	authserver.NotePrincipal(ctx, "svc")
	authserver.Note(ctx, "token_id", "t1")
	switch req.Form.Get("ok") {
	case "1":
		return &identity.TokenResponse{AccessToken: "secret-token", TokenType: "Bearer", ExpiresIn: 60}, nil
	case "0":
		return nil, &identity.GrantError{Status: 400, Code: "invalid_grant", Description: "audience not accepted", Log: "aud x"}
	}
	return nil, errors.New("store down at dsn postgres://u:pw@h")
}

type recorder struct {
	mu     sync.Mutex
	events []*catalog.AuditEvent
}

func (r *recorder) Record(_ context.Context, e *catalog.AuditEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

type answer struct {
	AccessToken string `json:"access_token"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func post(t *testing.T, h http.Handler, body, ct string, hdr map[string]string) (*http.Response, answer) {
	t.Helper()
	req := httptest.NewRequest("POST", authserver.TokenPath, strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, req)
	resp := rw.Result()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return resp, a
}

const form = "application/x-www-form-urlencoded"

func TestTokenEndpoint(t *testing.T) {
	g := &echoGrant{}
	rec := &recorder{}
	s := authserver.New(authserver.Options{Audit: rec}, g)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("my%20client:s%3Acret"))
	cases := []struct {
		name, body, ct string
		hdr            map[string]string
		status         int
		code           string
	}{
		{"token", "grant_type=urn%3Atest&ok=1", form, nil, 200, ""},
		{"grant refusal", "grant_type=urn%3Atest&ok=0", form, nil, 400, "invalid_grant"},
		{"grant failure is server_error", "grant_type=urn%3Atest&ok=2", form, nil, 500, "server_error"},
		{"content type with charset", "grant_type=urn%3Atest&ok=1", form + "; charset=utf-8", nil, 200, ""},
		{"json body", `{"grant_type":"urn:test"}`, "application/json", nil, 400, "invalid_request"},
		{"no content type", "grant_type=urn%3Atest", "", nil, 400, "invalid_request"},
		{"parameter twice", "grant_type=urn%3Atest&ok=1&ok=1", form, nil, 400, "invalid_request"},
		{"grant type twice", "grant_type=urn%3Atest&grant_type=urn%3Atest", form, nil, 400, "invalid_request"},
		{"no grant type", "ok=1", form, nil, 400, "invalid_request"},
		{"unknown grant type", "grant_type=password", form, nil, 400, "unsupported_grant_type"},
		{"bad form", "grant_type=%zz", form, nil, 400, "invalid_request"},
		{"too large", "grant_type=urn%3Atest&pad=" + strings.Repeat("a", authserver.MaxFormBytes), form, nil, 400, "invalid_request"},
		{"basic", "grant_type=urn%3Atest&ok=1", form, map[string]string{"Authorization": basic}, 200, ""},
		{"bearer instead of basic", "grant_type=urn%3Atest&ok=1", form, map[string]string{"Authorization": "Bearer x"}, 401, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(rec.events)
			resp, a := post(t, s, c.body, c.ct, c.hdr)
			if resp.StatusCode != c.status || a.Error != c.code {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, a.Error, a.Description, c.status, c.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", resp.Header)
			}
			if c.status == 200 && a.AccessToken != "secret-token" {
				t.Errorf("access_token %q", a.AccessToken)
			}
			if c.status == 500 && strings.Contains(a.Description, "pw") {
				t.Error("a server error's detail reached the caller")
			}
			if len(rec.events) != n+1 {
				t.Fatalf("%d audit records, want one per request", len(rec.events)-n)
			}
			e := rec.events[n]
			wantDecision := catalog.DecisionAllow
			if c.status != 200 {
				wantDecision = catalog.DecisionDeny
			}
			if e.ActionName != catalog.ActionTokenCreate || e.StatusCode != c.status || e.Decision != wantDecision || e.ErrorCode != c.code {
				t.Errorf("audit %+v", e)
			}
			if c.name == "token" && (e.Principal != "svc" || e.Params["token_id"] != "t1" || e.Params["grant_type"] != "urn:test") {
				t.Errorf("the grant's notes are not in the record: %+v", e)
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), "secret-token") {
				t.Error("the audit record holds the issued token")
			}
		})
	}
	if g.last.BasicID != "my client" || g.last.BasicSecret != "s:cret" {
		t.Errorf("Basic credentials read as %q %q, want them form-decoded", g.last.BasicID, g.last.BasicSecret)
	}
}

func TestTokenEndpointMethod(t *testing.T) {
	s := authserver.New(authserver.Options{}, &echoGrant{})
	rw := httptest.NewRecorder()
	s.ServeHTTP(rw, httptest.NewRequest("GET", authserver.TokenPath+"?grant_type=urn:test&ok=1", nil))
	if rw.Code != http.StatusMethodNotAllowed || strings.Contains(rw.Body.String(), "secret-token") {
		t.Fatalf("GET answered %d %s", rw.Code, rw.Body.String())
	}
}

func TestTokenEndpointRateLimit(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := authserver.New(authserver.Options{Now: clock, Rate: 2, Burst: 3}, &echoGrant{})
	send := func(ip string) int {
		req := httptest.NewRequest("POST", authserver.TokenPath, strings.NewReader("grant_type=urn%3Atest&ok=1"))
		req.Header.Set("Content-Type", form)
		req.RemoteAddr = ip + ":1234"
		rw := httptest.NewRecorder()
		s.ServeHTTP(rw, req)
		return rw.Code
	}
	for i := range 3 {
		if got := send("192.0.2.1"); got != 200 {
			t.Fatalf("request %d in the burst: %d", i, got)
		}
	}
	if got := send("192.0.2.1"); got != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d, want 429", got)
	}
	if got := send("192.0.2.2"); got != 200 {
		t.Fatalf("another address is limited too: %d", got)
	}
	mu.Lock()
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	mu.Unlock()
	if got := send("192.0.2.1"); got != 200 {
		t.Fatalf("after the refill: %d", got)
	}
	if got := send("192.0.2.1"); got != http.StatusTooManyRequests {
		t.Fatalf("second after the refill: %d, want 429", got)
	}
}

// FuzzTokenRequest: any body, content type and Authorization header gets a JSON
// answer with a status the endpoint documents, and never a panic.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=urn%3Atest&ok=1", form, "")
	f.Add("grant_type=urn%3Atest&ok=1&ok=2", form, "Basic Og==")
	f.Add("%", "application/x-www-form-urlencoded; charset=\"", "Basic !!!")
	f.Fuzz(func(t *testing.T, body, ct, authz string) {
		s := authserver.New(authserver.Options{}, &echoGrant{})
		req := httptest.NewRequest("POST", authserver.TokenPath, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		rw := httptest.NewRecorder()
		s.ServeHTTP(rw, req)
		switch rw.Code {
		case 200, 400, 401, 500:
		default:
			t.Fatalf("status %d", rw.Code)
		}
		var a answer
		if err := json.Unmarshal(rw.Body.Bytes(), &a); err != nil {
			t.Fatalf("not JSON: %q", rw.Body.String())
		}
		if rw.Code != 200 && a.Error == "" {
			t.Fatalf("error without a code: %q", rw.Body.String())
		}
	})
}
