package tunnel_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/revoke"
)

// TestRevokeClosesTunnelsAndRequests: a CONNECT tunnel and a streaming absolute-form
// request that are open when their identity stops holding end within a second of the
// re-check, the destination sees its connection end, and the audit record says why.
func TestRevokeClosesTunnelsAndRequests(t *testing.T) {
	for _, tc := range []string{"CONNECT tunnel", "absolute-form stream"} {
		t.Run(tc, func(t *testing.T) {
			reg := revoke.New(nil, revoke.Options{Delay: time.Millisecond})
			defer reg.Close()
			var revoked atomic.Bool
			recheck := func(_ context.Context, id *identity.Identity) error {
				if revoked.Load() && id.Principal.Name == "alice@example.com" {
					return catalog.Errorf(catalog.Unauthenticated, "principal alice@example.com is deactivated")
				}
				return nil
			}
			e := newEnv(t, tunnel.Config{Revoke: reg, Recheck: recheck})
			destEnded := make(chan struct{})
			var body io.Reader
			switch tc {
			case "CONNECT tunnel":
				ln, err := net.Listen("tcp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer close(destEnded)
					_, _ = io.Copy(io.Discard, c) // until Gatehouse closes the tunnel
					c.Close()
				}()
				c, br, res := e.rawConnect(t, ln.Addr().String(), "", "Bearer "+aliceToken)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("CONNECT = %d", res.StatusCode)
				}
				_ = c.SetDeadline(time.Time{})
				body = br
			default:
				target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer close(destEnded)
					w.WriteHeader(http.StatusOK)
					for i := 0; i < 3000; i++ { // bounded: a minute at most
						if _, err := fmt.Fprintf(w, "chunk %d\n", i); err != nil {
							return
						}
						w.(http.Flusher).Flush()
						select {
						case <-r.Context().Done():
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				}))
				defer target.Close()
				res, err := e.proxyClient(t, aliceToken, nil).Get(target.URL + "/stream")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				br := bufio.NewReader(res.Body)
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatalf("first chunk: %v", err)
				}
				body = br
			}
			ended := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, body)
				ended <- err
			}()
			revoked.Store(true)
			reg.Changed()
			deadline := time.After(time.Second)
			select {
			case <-ended:
			case <-deadline:
				t.Fatal("still open a second after the revoke")
			}
			select {
			case <-destEnded:
			case <-deadline:
				t.Fatal("the destination's connection did not end within a second of the revoke")
			}
			ev := e.rec.wait(t, 1)[0]
			if !strings.Contains(ev.Params["reason"], "access revoked: principal alice@example.com is deactivated") {
				t.Errorf("audit reason = %q, want the revoke", ev.Params["reason"])
			}
		})
	}
}
