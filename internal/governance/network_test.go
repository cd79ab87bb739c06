package governance

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
)

// TestPreviewNetworkPolicy: recent traffic replayed under a proposed policy sorts each
// destination by how its outcome changes, and nothing is stored.
func TestPreviewNetworkPolicy(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	svc := New(Deps{Store: w.st, Access: w.svc.d.Access, NormalizePolicy: egress.NormalizePolicy})
	now := time.Now()
	if err := w.st.PutNetworkPolicy(ctx, &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced,
		BlockedDestinations: []string{"blocked.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.st.AppendNetworkEvents(ctx, []*catalog.NetworkEvent{
		{Time: now.Add(-time.Hour), Destination: "blocked.test:443", Source: catalog.SourceEgress, Principal: "mike", AccessType: catalog.AccessDrop},
		{Time: now.Add(-time.Minute), Destination: "blocked.test:443", Source: catalog.SourceEgress, Principal: "olivia", AccessType: catalog.AccessDrop},
		{Time: now.Add(-ImpactWindow - time.Hour), Destination: "old.test:443", Source: catalog.SourceEgress, Principal: "mike", AccessType: catalog.AccessDrop},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.st.AppendAudit(ctx, []*catalog.AuditEvent{{EventID: catalog.NewID(), EventTime: now.Add(-time.Minute), ActionName: catalog.ActionEgressTunnel,
		Principal: "mike", Params: map[string]string{"destination": "api.partner.test:443"}, Decision: catalog.DecisionAllow}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                         string
		proposed                     *catalog.NetworkPolicy
		blocked, allowed, other      int
		wantBlockedDest, wantAllowed string
	}{
		{"unblock", &catalog.NetworkPolicy{}, 0, 1, 0, "", "blocked.test:443"},
		{"restrict", &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, BlockedDestinations: []string{"blocked.test"}}, 1, 0, 0, "api.partner.test:443", ""},
		// In dry run a denial lets the call through: blocked.test becomes reachable (with
		// a record), and the partner calls become dry-run denials.
		{"restrict in dry run", &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.DryRun}, 0, 1, 1, "", "blocked.test:443"},
		{"no change", &catalog.NetworkPolicy{BlockedDestinations: []string{"blocked.test"}}, 0, 0, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp, err := svc.PreviewNetworkPolicy(ctx, w.p["root"], tt.proposed)
			if err != nil {
				t.Fatal(err)
			}
			if len(imp.NowBlocked) != tt.blocked || len(imp.NowAllowed) != tt.allowed || len(imp.Other) != tt.other {
				t.Fatalf("impact = %d blocked, %d allowed, %d other; want %d, %d, %d (%+v)", len(imp.NowBlocked), len(imp.NowAllowed), len(imp.Other),
					tt.blocked, tt.allowed, tt.other, imp)
			}
			if tt.wantBlockedDest != "" && imp.NowBlocked[0].Destination != tt.wantBlockedDest {
				t.Errorf("blocked %q, want %q", imp.NowBlocked[0].Destination, tt.wantBlockedDest)
			}
			if tt.wantAllowed != "" {
				if d := imp.NowAllowed[0]; d.Destination != tt.wantAllowed || d.Count != 2 || d.Principal != "olivia" {
					t.Errorf("allowed %+v, want %s twice, last by olivia", d, tt.wantAllowed)
				}
			}
			if imp.Destinations != 2 || imp.Events != 3 {
				t.Errorf("replayed %d destinations, %d events; want 2 and 3 (the one older than the window left out)", imp.Destinations, imp.Events)
			}
		})
	}
	if p, _ := w.st.GetNetworkPolicy(ctx); p.Version != 1 {
		t.Errorf("a preview stored a policy: version %d", p.Version)
	}
	if _, err := svc.PreviewNetworkPolicy(ctx, w.p["mike"], &catalog.NetworkPolicy{}); catalog.CodeOf(err) != catalog.PermissionDenied {
		t.Errorf("preview by a non-admin = %v, want PERMISSION_DENIED", err)
	}
	if _, err := svc.PreviewNetworkPolicy(ctx, w.p["root"], &catalog.NetworkPolicy{RestrictionMode: "OPEN"}); catalog.CodeOf(err) != catalog.InvalidParameterValue {
		t.Errorf("preview of a bad policy = %v, want INVALID_PARAMETER_VALUE", err)
	}
}
