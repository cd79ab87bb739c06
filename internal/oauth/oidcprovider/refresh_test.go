package oidcprovider_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRefreshAcrossExpiriesUnderLoad: four credentials (M2M; shared U2M logged in by
// alice; per-user for alice and for bob), each hit by 40 concurrent callers (half
// through the proxy, half through external-function) after each of two access-token
// expiries. oidc-provider rotates refresh tokens and treats a reused one as theft
// (it revokes the whole grant), so one extra refresh shows as invalid_grant. The
// provider's own record must show exactly one token call per credential per expiry
// and no error at all, and every caller must get its own subject.
func TestRefreshAcrossExpiriesUnderLoad(t *testing.T) {
	// Gatehouse renews at 4/5 of the lifetime: the 160 calls of a round must end
	// within 6.4 s, a margin for a loaded CI machine running the race detector.
	const ttl = 8 // seconds
	w := newWorld(t, providerOptions{AccessTokenTTL: ttl})
	g := w.g
	for _, c := range []struct {
		name, typ string
		cl        client
		method    string
	}{
		{"m2m", "OAUTH_M2M", basicClient, "header_only"},
		{"shared", "OAUTH_U2M", postClient, "body_only"},
		{"peruser", "OAUTH_U2M_PER_USER", basicClient, "header_only"},
	} {
		if status, b := g.connection(c.name, c.typ, w.oauthOpts(c.cl, c.typ, map[string]string{"oauth_credential_exchange_method": c.method})); status != 200 {
			t.Fatalf("create %s = %d %s", c.name, status, b)
		}
	}
	g.grant("shared", "alice", "MANAGE")
	for _, l := range []struct{ user, conn string }{{"alice", "shared"}, {"alice", "peruser"}, {"bob", "peruser"}} {
		if code, page, _ := g.login(w.ca, w.p, l.user, l.conn); code != 200 {
			t.Fatalf("%s login to %s = %d %s", l.user, l.conn, code, page)
		}
	}
	// credential → how the provider's record names its token calls.
	type key struct{ grant, client, account string }
	creds := []struct {
		name, caller, conn, wantSub, wantClient string
		k                                       key
	}{
		{"m2m", "carol", "m2m", "", basicClient.ID, key{"client_credentials", basicClient.ID, ""}},
		{"shared", "carol", "shared", "alice", postClient.ID, key{"refresh_token", postClient.ID, "alice"}},
		{"peruser alice", "alice", "peruser", "alice", basicClient.ID, key{"refresh_token", basicClient.ID, "alice"}},
		{"peruser bob", "bob", "peruser", "bob", basicClient.ID, key{"refresh_token", basicClient.ID, "bob"}},
	}
	count := func() map[key]int {
		n := map[key]int{}
		for _, e := range w.p.events(t) {
			if e.Error != "" {
				t.Fatalf("the provider refused a token call: %+v", e)
			}
			n[key{e.GrantType, e.ClientID, e.Account}]++
		}
		return n
	}
	if n := count(); n[key{"refresh_token", basicClient.ID, "alice"}] != 0 {
		t.Fatalf("refreshes before the first expiry: %v", n)
	}
	for round := 1; round <= 2; round++ {
		before := count()
		// Waiting for the access tokens to pass their renewal point is waiting for
		// time itself: there is no event to wait for.
		time.Sleep(ttl*time.Second + 200*time.Millisecond)
		var wg sync.WaitGroup
		errs := make(chan string, 40*len(creds))
		for _, c := range creds {
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					call := g.callProxy
					if i%2 == 1 {
						call = g.callFunction
					}
					status, e, b := call(g.users[c.caller], c.conn)
					if status != 200 || e.Sub != c.wantSub || e.ClientID != c.wantClient {
						errs <- fmt.Sprintf("round %d %s caller %d = %d %+v %s", round, c.name, i, status, e, b)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		after := count()
		for _, c := range creds {
			if got := after[c.k] - before[c.k]; got != 1 {
				t.Errorf("round %d: %s renewed %d times at the provider, want exactly 1", round, c.name, got)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}
