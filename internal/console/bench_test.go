package console

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// BenchmarkPages renders each page of this file's routes over a real SQLite store with
// 1,000 connections and 100,000 audit events (issue 13: well under 100 ms a page), as
// an admin (who sees everything) and as a user granted a tenth of the connections.
func BenchmarkPages(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	for i := range 1000 {
		w.bearer(b, "olivia", fmt.Sprintf("conn-%04d", i), canary)
		if i%10 == 0 {
			if err := w.st.UpdateGrants(ctx, catalog.SecurableConnection, mustID(b, w, fmt.Sprintf("conn-%04d", i)),
				[]catalog.Grant{{SecurableType: catalog.SecurableConnection, SecurableID: mustID(b, w, fmt.Sprintf("conn-%04d", i)), PrincipalID: w.p["mike"].ID, Privilege: catalog.UseConnection}}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	start := time.Now().Add(-100000 * time.Second)
	for batch := range 100 {
		events := make([]*catalog.AuditEvent, 0, 1000)
		for i := range 1000 {
			n := batch*1000 + i
			e := &catalog.AuditEvent{EventID: catalog.NewID(), EventTime: start.Add(time.Duration(n) * time.Second), ActionName: catalog.ActionUseConnection,
				Principal: "mike", Connection: fmt.Sprintf("conn-%04d", n%1000), Decision: catalog.DecisionAllow, StatusCode: 200}
			if n%50 == 0 {
				e.Decision, e.ErrorCode, e.StatusCode = catalog.DecisionDeny, string(catalog.PermissionDenied), 403
			}
			if n%333 == 0 {
				e.ActionName, e.Params = catalog.ActionCredentialState, map[string]string{"from": "ACTIVE", "to": "REAUTH_REQUIRED", "reason": "invalid_grant"}
			}
			events = append(events, e)
		}
		if err := w.st.AppendAudit(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	for _, page := range []struct{ who, path string }{
		{"root", "/"}, {"mike", "/"},
		{"root", "/connections"}, {"mike", "/connections"}, {"root", "/connections?q=conn-09&state=ACTIVE"},
		{"root", "/connections/conn-0500"}, {"root", "/new-connection?method=OAUTH_U2M_PER_USER"},
	} {
		b.Run(page.who+page.path, func(b *testing.B) {
			cpu0 := cpuTime(b)
			for b.Loop() {
				if status, _ := w.get(b, page.who, page.path); status != http.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
			// The process's CPU time per page too: on a loaded machine wall time
			// (ns/op) mostly measures the wait for a core.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

func mustID(b *testing.B, w *world, name string) string {
	c, err := w.st.GetConnection(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	return c.ID
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
