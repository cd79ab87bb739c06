package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
	"github.com/gatehouse/gatehouse/internal/identity"
)

const bobToken = "gth_bobbobbobbobbobbobbobbobbobbobbob03"

// twoPrincipals knows bob besides fakeAuth's principals.
type twoPrincipals struct{}

func (twoPrincipals) Authenticate(ctx context.Context, token string) (*identity.Identity, error) {
	if token == bobToken {
		return &identity.Identity{TokenID: "t3", Principal: &catalog.Principal{ID: "p3", Kind: catalog.KindServicePrincipal, Name: "bob-agent", Active: true}}, nil
	}
	return fakeAuth{}.Authenticate(ctx, token)
}

// newTwoPrincipalEnv is newEnv with bob as a second active principal.
func newTwoPrincipalEnv(t *testing.T, cfg tunnel.Config) *env {
	t.Helper()
	e := &env{dialer: &fakeDialer{}, rec: &recorder{}, logs: &lockedBuffer{},
		secrets: []string{aliceToken, inactiveToken, bobToken}}
	cfg.Log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = tunnel.New(cfg, e.dialer, twoPrincipals{}, e.rec)
	e.proxy = httptest.NewServer(e.srv)
	e.addr = e.proxy.Listener.Addr().String()
	t.Cleanup(func() { e.checkNoSecrets(t) })
	t.Cleanup(func() {
		e.proxy.Close()
		_ = e.srv.Close()
		eventually(t, 5*time.Second, func() bool { return e.srv.Active() == 0 },
			func() string { return fmt.Sprintf("Active() = %d after Close, want 0", e.srv.Active()) })
	})
	return e
}

// TestTunnelLimitPerPrincipal: a principal at MaxTunnelsPerPrincipal gets 429 naming
// the per-principal limit, while another principal still gets a tunnel out of the
// global slots; a slot the principal gives back is its own again.
func TestTunnelLimitPerPrincipal(t *testing.T) {
	const perPrincipal = 3
	e := newTwoPrincipalEnv(t, tunnel.Config{MaxTunnels: 10, MaxTunnelsPerPrincipal: perPrincipal})
	echo, _ := echoServer(t)
	connect := func(token string) (*http.Response, func()) {
		c, _, res := e.rawConnect(t, echo, "", "Bearer "+token)
		return res, func() { c.Close() }
	}
	var alice []func()
	for i := range perPrincipal {
		res, closeIt := connect(aliceToken)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("alice's CONNECT %d = %d, want 200", i+1, res.StatusCode)
		}
		alice = append(alice, closeIt)
	}
	for _, tc := range []struct {
		name, token string
		want        int
		wantBody    string
	}{
		{"alice past her own limit", aliceToken, http.StatusTooManyRequests, "principal alice@example.com already holds 3 (--egress-max-tunnels-per-principal)"},
		{"bob while alice is at hers", bobToken, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := connect(tc.token)
			if res.StatusCode != tc.want {
				t.Fatalf("CONNECT = %d, want %d", res.StatusCode, tc.want)
			}
			if tc.wantBody != "" {
				b, _ := io.ReadAll(res.Body)
				if !strings.Contains(string(b), tc.wantBody) {
					t.Errorf("429 body = %q, want it to contain %q", b, tc.wantBody)
				}
			}
		})
	}
	var refused *catalog.AuditEvent
	for _, ev := range e.rec.wait(t, 1) {
		if ev.StatusCode == http.StatusTooManyRequests {
			refused = ev
		}
	}
	if refused == nil || refused.Principal != "alice@example.com" || refused.Decision != catalog.DecisionDeny ||
		refused.ErrorCode != string(catalog.RequestLimitExceeded) || refused.Params["reason"] != "too many tunnels for this principal" {
		t.Errorf("audit of the refusal = %+v, want alice, DENY, REQUEST_LIMIT_EXCEEDED, per-principal reason", refused)
	}
	if got := e.srv.Active(); got != perPrincipal+1 {
		t.Errorf("Active() = %d, want %d", got, perPrincipal+1)
	}

	alice[0]()
	eventually(t, 5*time.Second, func() bool { return e.srv.Active() == perPrincipal },
		func() string {
			return fmt.Sprintf("Active() = %d after alice closed one, want %d", e.srv.Active(), perPrincipal)
		})
	if res, _ := connect(aliceToken); res.StatusCode != http.StatusOK {
		t.Errorf("alice's CONNECT after closing one = %d, want 200", res.StatusCode)
	}
}

// TestTunnelLimitGlobalStillApplies: the per-principal share never lets the total pass
// MaxTunnels.
func TestTunnelLimitGlobalStillApplies(t *testing.T) {
	e := newTwoPrincipalEnv(t, tunnel.Config{MaxTunnels: 2, MaxTunnelsPerPrincipal: 2})
	echo, _ := echoServer(t)
	for i, tok := range []string{aliceToken, bobToken} {
		if _, _, res := e.rawConnect(t, echo, "", "Bearer "+tok); res.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT %d = %d, want 200", i+1, res.StatusCode)
		}
	}
	_, _, res := e.rawConnect(t, echo, "", "Bearer "+bobToken)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusTooManyRequests || strings.TrimSpace(string(b)) != "too many tunnels" {
		t.Errorf("CONNECT past MaxTunnels = %d %q, want 429 %q", res.StatusCode, b, "too many tunnels")
	}
}
