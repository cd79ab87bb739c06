package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// signIn exchanges a fresh code: the access and refresh tokens of a new family.
func (f *fixture) signIn(t testing.TB) (access, refresh string) {
	t.Helper()
	code, out := f.token(t, f.codeForm(f.code(t)))
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, out)
	}
	return out["access_token"].(string), out["refresh_token"].(string)
}

func (f *fixture) refresh(t testing.TB, rt string) (int, map[string]any) {
	t.Helper()
	return f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}})
}

// revoke posts a body to the revocation endpoint of the authorizer's token server.
func (f *fixture) revoke(t testing.TB, rec authserver.Recorder, method, ct, body string) (int, string) {
	t.Helper()
	srv := authserver.New(authserver.Options{Now: f.clk.Now, Audit: rec}, f.az.Grants()...)
	r := httptest.NewRequest(method, authserver.RevokePath, strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code == http.StatusOK && (w.Body.Len() != 0 || w.Header().Get("Cache-Control") != "no-store") {
		t.Errorf("revocation answered 200 with body %q, Cache-Control %q; want empty, no-store", w.Body.String(), w.Header().Get("Cache-Control"))
	}
	return w.Code, w.Body.String()
}

// live reports whether the access token still exists in the store.
func (f *fixture) live(t testing.TB, access string) bool {
	t.Helper()
	_, err := f.st.GetTokenByHash(context.Background(), identity.HashToken(access))
	if err != nil && !catalog.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRevoke: RFC 7009 at POST /oidc/v1/revoke. A refresh or access token of the client
// ends its family (whatever the hint says); everything else answers 200 and changes
// nothing; a bad request is refused. Each request is audited tokenDelete.
func TestRevoke(t *testing.T) {
	type tokens struct{ access, refresh, oldAccess, oldRefresh, pat string }
	cases := []struct {
		name    string
		form    func(f *fixture, tk tokens) url.Values
		status  int
		ended   bool   // the family (and its access token) ended
		revoked string // the audit record's "revoked"
	}{
		{"refresh token", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.refresh}, "token_type_hint": {"refresh_token"}, "client_id": {f.clientID}}
		}, 200, true, "refresh_token"},
		{"refresh token, wrong hint", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.refresh}, "token_type_hint": {"access_token"}, "client_id": {f.clientID}}
		}, 200, true, "refresh_token"},
		{"access token, no hint", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.access}, "client_id": {f.clientID}}
		}, 200, true, "access_token"},
		{"access token, unknown hint", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.access}, "token_type_hint": {"mystery"}, "client_id": {f.clientID}}
		}, 200, true, "access_token"},
		{"refresh token rotated away", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.oldRefresh}, "client_id": {f.clientID}}
		}, 200, false, "none"},
		{"access token rotated away", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.oldAccess}, "client_id": {f.clientID}}
		}, 200, false, "none"},
		{"refresh token of another client", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.refresh}, "client_id": {f.base + "/other.json"}}
		}, 200, false, "none"},
		{"access token of another client", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.access}, "client_id": {f.base + "/other.json"}}
		}, 200, false, "none"},
		{"personal access token", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.pat}, "client_id": {f.clientID}}
		}, 200, false, "none"},
		{"unknown token", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {"nope.nope"}, "client_id": {f.clientID}}
		}, 200, false, "none"},
		{"no token", func(f *fixture, tk tokens) url.Values { return url.Values{"client_id": {f.clientID}} }, 400, false, ""},
		{"no client_id", func(f *fixture, tk tokens) url.Values { return url.Values{"token": {tk.refresh}} }, 400, false, ""},
		{"client secret", func(f *fixture, tk tokens) url.Values {
			return url.Values{"token": {tk.refresh}, "client_id": {f.clientID}, "client_secret": {"s"}}
		}, 401, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			oldAccess, oldRefresh := f.signIn(t)
			code, out := f.refresh(t, oldRefresh)
			if code != http.StatusOK {
				t.Fatalf("refresh: %d %v", code, out)
			}
			tk := tokens{access: out["access_token"].(string), refresh: out["refresh_token"].(string), oldAccess: oldAccess, oldRefresh: oldRefresh}
			tk.pat = identity.NewTokenValue()
			if err := f.st.CreateToken(context.Background(), &catalog.Token{ID: catalog.NewID(), PrincipalID: "u1", Hash: identity.HashToken(tk.pat), CreatedAt: f.clk.Now()}); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			status, body := f.revoke(t, rec, http.MethodPost, "application/x-www-form-urlencoded", tc.form(f, tk).Encode())
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			if live := f.live(t, tk.access); live == tc.ended {
				t.Errorf("family's access token live = %v, want %v", live, !tc.ended)
			}
			if !f.live(t, tk.pat) {
				t.Error("a personal access token was revoked")
			}
			// A family that ended answers the next refresh invalid_grant; a live one rotates.
			code, out = f.refresh(t, tk.refresh)
			if ended := code != http.StatusOK; ended != tc.ended {
				t.Errorf("refresh after revocation: %d %v, want ended %v", code, out, tc.ended)
			}
			if len(rec.events) != 1 {
				t.Fatalf("%d audit events, want 1", len(rec.events))
			}
			e := rec.events[0]
			if e.ActionName != catalog.ActionTokenDelete || e.Params["endpoint"] != authserver.RevokePath || e.StatusCode != tc.status {
				t.Errorf("audit %+v", e)
			}
			if tc.status == 200 && (e.Params["revoked"] != tc.revoked || e.Params["client_id"] == "" || e.Decision != catalog.DecisionAllow) {
				t.Errorf("audit params %v, decision %s; want revoked=%s", e.Params, e.Decision, tc.revoked)
			}
			if tc.ended && (e.Principal != "alice" || e.Params["token_id"] == "") {
				t.Errorf("audit of a revocation names principal %q, token %q", e.Principal, e.Params["token_id"])
			}
			raw, _ := json.Marshal(e)
			for _, secret := range []string{tk.access, tk.refresh, tk.oldAccess, tk.oldRefresh, tk.pat} {
				if strings.Contains(string(raw), secret) {
					t.Error("the audit record holds a token")
				}
			}
		})
	}
}

// TestRevokeRequest: the endpoint reads its request like the token endpoint, and
// revoking twice is fine.
func TestRevokeRequest(t *testing.T) {
	f := newFixture(t)
	_, rt := f.signIn(t)
	form := url.Values{"token": {rt}, "client_id": {f.clientID}}.Encode()
	for _, tc := range []struct {
		name, method, ct, body string
		status                 int
	}{
		{"GET", http.MethodGet, "application/x-www-form-urlencoded", form, 405},
		{"JSON body", http.MethodPost, "application/json", `{"token":"x"}`, 400},
		{"parameter twice", http.MethodPost, "application/x-www-form-urlencoded", form + "&token=x", 400},
		{"bad form", http.MethodPost, "application/x-www-form-urlencoded", "%zz", 400},
		{"revoke", http.MethodPost, "application/x-www-form-urlencoded", form, 200},
		{"revoke again", http.MethodPost, "application/x-www-form-urlencoded", form, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.revoke(t, nil, tc.method, tc.ct, tc.body)
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			if status != 200 && !strings.Contains(body, `"error":"invalid_request"`) {
				t.Errorf("refusal %s", body)
			}
		})
	}
	// A server without a revoker does not revoke.
	srv := authserver.New(authserver.Options{}, fakeGrant("a"))
	r := httptest.NewRequest(http.MethodPost, authserver.RevokePath, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound || srv.Revokes() {
		t.Errorf("revocation without a revoker: %d", w.Code)
	}
}

// TestRefreshConcurrentRotation: of 12 concurrent refreshes with one refresh token,
// exactly one gets tokens; the others see reuse, which revokes the family.
func TestRefreshConcurrentRotation(t *testing.T) {
	f := newFixture(t)
	_, rt := f.signIn(t)
	const n = 12
	codes := make([]int, n)
	outs := make([]map[string]any, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i], outs[i] = f.refresh(t, rt)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	var winner string
	for i := range n {
		switch {
		case codes[i] == http.StatusOK:
			wins++
			winner, _ = outs[i]["refresh_token"].(string)
		case outs[i]["error"] != "invalid_grant":
			t.Errorf("a losing refresh answered %d %v", codes[i], outs[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token won, want 1", wins, n)
	}
	if code, out := f.refresh(t, winner); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("the winner's refresh token after the reuse: %d %v, want the family revoked", code, out)
	}
	if toks := f.st.tokenIDs(); len(toks) != 0 {
		t.Errorf("%d access tokens left after the reuse, want none", len(toks))
	}
}

// TestRefreshDeactivatedUser: a deactivated user's refresh is refused, and the family
// ends there: reactivating the user does not bring it back.
func TestRefreshDeactivatedUser(t *testing.T) {
	f := newFixture(t)
	access, rt := f.signIn(t)
	f.st.setActive("u1", false)
	if code, out := f.refresh(t, rt); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("refresh of a deactivated user: %d %v", code, out)
	}
	f.st.setActive("u1", true)
	if code, out := f.refresh(t, rt); code != http.StatusBadRequest {
		t.Errorf("refresh after reactivation: %d %v, want the family ended", code, out)
	}
	if f.live(t, access) {
		t.Error("the family's access token lives on")
	}
}

// TestFamilyBoundRefuses: the 257th sign-in of a user is refused with a clear error, and
// no family is evicted: the first still refreshes.
func TestFamilyBoundRefuses(t *testing.T) {
	f := newFixture(t)
	_, first := f.signIn(t)
	for range catalog.MaxOAuthFamiliesPerPrincipal - 1 {
		f.signIn(t)
	}
	code, out := f.token(t, f.codeForm(f.code(t)))
	if desc, _ := out["error_description"].(string); code != http.StatusBadRequest || out["error"] != "invalid_grant" || !strings.Contains(desc, "256 signed-in OAuth clients") {
		t.Fatalf("sign-in past the bound: %d %v", code, out)
	}
	if n := len(f.st.tokenIDs()); n != catalog.MaxOAuthFamiliesPerPrincipal {
		t.Errorf("%d access tokens, want one per family (%d): the refused sign-in left one", n, catalog.MaxOAuthFamiliesPerPrincipal)
	}
	if code, out := f.refresh(t, first); code != http.StatusOK {
		t.Errorf("the first family after the refusal: %d %v", code, out)
	}
	// A family expiring makes room.
	f.clk.Add(authserver.RefreshTTL)
	f.signIn(t)
}

// TestCodeBoundRefuses: past a user's bound of codes Approve refuses with an error that
// goes back to the client; the codes already issued still exchange.
func TestCodeBoundRefuses(t *testing.T) {
	f := newFixture(t)
	first := f.code(t)
	for range catalog.MaxOAuthCodesPerPrincipal - 1 {
		f.code(t)
	}
	req, err := f.az.Check(context.Background(), f.query(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.az.Approve(context.Background(), f.st.users["u1"], req)
	var ae *authserver.AuthorizeError
	if !errors.As(err, &ae) || ae.Code != "temporarily_unavailable" || !strings.HasPrefix(ae.Location(), redirect+"?") {
		t.Fatalf("code past the bound: %v", err)
	}
	if code, out := f.token(t, f.codeForm(first)); code != http.StatusOK {
		t.Errorf("the first code after the refusal: %d %v", code, out)
	}
	// Once the codes expire there is room again.
	f.clk.Add(authserver.CodeTTL + time.Second)
	f.code(t)
}

// FuzzRevokeRequest: any body to the revocation endpoint gets a documented status and
// never a panic, and a body that does not hold the family's tokens leaves it live.
func FuzzRevokeRequest(f *testing.F) {
	f.Add("token=a.b&client_id=c", "application/x-www-form-urlencoded")
	f.Add("token=gth_x&token_type_hint=access_token&client_id=c&client_id=d", "application/x-www-form-urlencoded")
	f.Add("token=%&client_secret=", "application/x-www-form-urlencoded; charset=\"")
	f.Add("token=.&token_type_hint=refresh_token&client_id=", "application/x-www-form-urlencoded")
	fx := newFixture(f)
	access, rt := fx.signIn(f)
	f.Fuzz(func(t *testing.T, body, ct string) {
		status, _ := fx.revoke(t, nil, http.MethodPost, ct, body)
		switch status {
		case 200, 400, 401:
		default:
			t.Fatalf("status %d", status)
		}
		if q, err := url.ParseQuery(body); err == nil && (q.Get("token") == access || q.Get("token") == rt) {
			access, rt = fx.signIn(t) // it may have been revoked: a new family for the next input
			return
		}
		if !fx.live(t, access) {
			t.Fatalf("body %q without the family's tokens revoked it", body)
		}
	})
}
