package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
)

// internalResolver answers like an internal DNS server would for names that point into
// the private network.
type internalResolver map[string][]netip.Addr

func (r internalResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestDenialBodyNamesNoResolvedAddress is the egress proxy's row of the denial-message
// table: with the real policy dialer, a CONNECT or absolute-form request to a name that
// resolves to an internal address gets a 403 whose body names the destination as asked
// but not the address; the egressTunnel audit record keeps the address and its class.
func TestDenialBodyNamesNoResolvedAddress(t *testing.T) {
	res := internalResolver{
		"db.corp.test":    {netip.MustParseAddr("10.20.30.40")},
		"meta.corp.test":  {netip.MustParseAddr("169.254.169.254")},
		"mixed.corp.test": {netip.MustParseAddr("::ffff:192.168.7.8"), netip.MustParseAddr("fd00::7")},
	}
	rec := &recorder{}
	d := egress.NewDialer(egress.DialerOptions{Resolver: res, Dial: func(context.Context, string, string) (net.Conn, error) {
		t.Errorf("the dialer dialed a refused destination")
		return nil, fmt.Errorf("no dial in this test")
	}})
	srv := tunnel.New(tunnel.Config{}, d, fakeAuth{}, rec)
	proxy := httptest.NewServer(srv)
	t.Cleanup(func() { proxy.Close(); _ = srv.Close() })
	addr := proxy.Listener.Addr().String()
	e := &env{addr: addr}

	tests := []struct {
		name, host string
		connect    bool
		addrs      []string // what must not be in the body, but in the audit reason
		class      string   // likewise
	}{
		{"CONNECT, private", "db.corp.test", true, []string{"10.20.30.40"}, "RFC 1918 private"},
		{"CONNECT, metadata", "meta.corp.test", true, []string{"169.254.169.254"}, "cloud metadata"},
		{"CONNECT, mapped and unique local", "mixed.corp.test", true, []string{"192.168.7.8", "fd00::7"}, "unique local"},
		{"absolute-form GET, private", "db.corp.test", false, []string{"10.20.30.40"}, "RFC 1918 private"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			var body string
			dest := net.JoinHostPort(tt.host, "443")
			if tt.connect {
				_, _, r := e.rawConnect(t, dest, "", "Bearer "+aliceToken)
				b, _ := io.ReadAll(r.Body)
				status, body = r.StatusCode, string(b)
			} else {
				dest = net.JoinHostPort(tt.host, "80")
				r, err := e.proxyClient(t, aliceToken, nil).Get("http://" + tt.host + "/x")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				status, body = r.StatusCode, string(b)
			}
			if status != http.StatusForbidden || !strings.Contains(body, "network policy denies "+dest) {
				t.Fatalf("status %d body %q, want 403 naming %s", status, body, dest)
			}
			ev := rec.wait(t, i+1)[i]
			reason := ev.Params["reason"]
			if ev.ErrorCode != string(catalog.NetworkPolicyDenied) {
				t.Errorf("audit error code = %q", ev.ErrorCode)
			}
			for _, a := range tt.addrs {
				if strings.Contains(body, a) {
					t.Errorf("the body %q names the resolved address %s", body, a)
				}
				if !strings.Contains(reason, a) {
					t.Errorf("the audit reason %q does not name the resolved address %s", reason, a)
				}
			}
			if strings.Contains(body, tt.class) {
				t.Errorf("the body %q names the address class %q", body, tt.class)
			}
			if !strings.Contains(reason, tt.class) {
				t.Errorf("the audit reason %q does not name the class %q", reason, tt.class)
			}
		})
	}
}
