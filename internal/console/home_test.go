package console

import (
	"context"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestHome checks the home page: counts by state over what the viewer may see, and for
// admins the recent denials and refresh failures from the audit log.
func TestHome(t *testing.T) {
	w := newWorld(t)
	w.bearer(t, "olivia", "alpha", canary)
	w.bearer(t, "olivia", "beta", canary)
	if st, _ := w.post(t, "olivia", "/connections/beta/disable", nil); st != 303 {
		t.Fatalf("disable: %d", st)
	}
	if st, _ := w.post(t, "mike", "/connections/alpha/grants", url.Values{"op": {"add"}, "principal": {"mike"}, "privilege": {"MANAGE"}}); st != 403 {
		t.Fatalf("denied grant: %d", st)
	}
	w.audit.Record(context.Background(), &catalog.AuditEvent{ActionName: catalog.ActionCredentialState, Principal: "gatehouse", Connection: "alpha",
		Decision: catalog.DecisionAllow, Params: map[string]string{"from": "ACTIVE", "to": "REAUTH_REQUIRED", "reason": "invalid_grant: consent revoked"}})
	w.audit.Record(context.Background(), &catalog.AuditEvent{ActionName: catalog.ActionCredentialState, Principal: "gatehouse", Connection: "beta",
		Decision: catalog.DecisionAllow, Params: map[string]string{"from": "NEEDS_LOGIN", "to": "ACTIVE", "reason": "signed in"}})

	tests := []struct {
		name    string
		who     string
		want    []string
		notWant []string
	}{
		{name: "admin", who: "root", want: []string{`id="count-ACTIVE" href="/inventory"><span class="n">1</span>`, `id="count-DISABLED" href="/inventory"><span class="n">1</span>`,
			`id="h-denials"`, "updatePermissions", `PERMISSION_DENIED`, "ACTIVE → REAUTH_REQUIRED: invalid_grant: consent revoked", `id="home-audit" href="/audit"`},
			notWant: []string{"signed in", `id="denials-empty"`}},
		{name: "owner, not admin", who: "olivia", want: []string{`id="count-ACTIVE" href="/connections?state=ACTIVE"><span class="n">1</span>`, "admins see"},
			notWant: []string{`id="h-denials"`, "consent revoked"}},
		{name: "nothing visible", who: "mike", want: []string{`id="count-ACTIVE" href="/connections?state=ACTIVE"><span class="n">0</span>`, "No credentials yet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := w.get(t, tt.who, "/")
			if status != 200 {
				t.Fatalf("status %d:\n%s", status, body)
			}
			mustContain(t, body, tt.want...)
			mustNotContain(t, body, append(tt.notWant, canary)...)
		})
	}
}
