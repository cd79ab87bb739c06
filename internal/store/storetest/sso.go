package storetest

import (
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Single sign-on (issue 12) keeps its rows in the existing tables: a browser session
// with no token (TokenID catalog.SSOSessionTokenID, TokenHash the issuer and subject's
// hash, no token expiry), and started sign-ins as pending logins with no connection, no
// token URL and the next path in Connection.

func testSSORows(f *fixture) {
	p := f.user("sso-user")
	sess := &catalog.BrowserSession{Key: hashOf("sso"), PrincipalID: p.ID, TokenID: catalog.SSOSessionTokenID,
		TokenHash: catalog.SSOSessionSubject("https://idp.example.com", "sub-1"), CreatedAt: at(0), ExpiresAt: at(3600)}
	f.must("create sso session", f.s.CreateBrowserSession(f.ctx, sess, 32))
	got, err := f.s.GetBrowserSession(f.ctx, hashOf("sso"), at(1))
	f.must("get sso session", err)
	if d := cmp.Diff(sess, got, equalTimes); d != "" {
		f.t.Errorf("sso session (-want +got):\n%s", d)
	}

	start := &catalog.PendingLogin{StateHash: hashOf("sso-state"), SessionHash: hashOf("sso-binding"), PrincipalID: "sso:oidc",
		ConnectionID: "sso:oidc", Connection: "/connections/github/login", SealedVerifier: []byte("marker"),
		CreatedAt: at(0), ExpiresAt: at(0).Add(600 * time.Second)}
	_, err = f.s.PutPendingLogin(f.ctx, start, catalog.PendingLoginLimits{MaxTotal: 10, MaxPerSession: 8, MaxPerPrincipal: 5})
	f.must("put sso sign-in", err)
	took, err := f.s.TakePendingLogin(f.ctx, hashOf("sso-state"), at(1))
	f.must("take sso sign-in", err)
	if d := cmp.Diff(start, took, equalTimes); d != "" {
		f.t.Errorf("sso sign-in (-want +got):\n%s", d)
	}
	if f.takeLogin("sso-state", at(2)) {
		f.t.Error("an sso sign-in's state was taken twice")
	}

	// The user's deletion ends its SSO sessions like its others.
	f.must("delete user", f.s.DeletePrincipal(f.ctx, p.ID))
	if f.liveSession("sso", at(2)) {
		f.t.Error("the sso session outlived its user")
	}
}
