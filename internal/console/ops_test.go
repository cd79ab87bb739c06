package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// opsWorld is the console world (world_test.go) with a fixed clock, the egress
// package's policy rules and an audit chain key: root is an admin, mike a user.
type opsWorld struct {
	*world
}

func newOpsWorld(tb testing.TB) *opsWorld {
	tb.Helper()
	w := &opsWorld{newWorld(tb)}
	w.now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return w.now }
	kr, err := seal.NewKeyring()
	if err != nil {
		tb.Fatal(err)
	}
	oc := oauth.NewClient(oauth.ClientOptions{AllowHTTP: true})
	w.gov = governance.New(governance.Deps{Store: w.st, Keyring: kr, Access: access.New(w.st), Broker: credential.New(kr, w.st, oc, credential.Options{}), OAuth: oc,
		Validation: catalog.ValidationPolicy{AllowHTTP: true}, Now: clock, NormalizePolicy: egress.NormalizePolicy, AuditChainKey: []byte("0123456789abcdef0123456789abcdef")})
	w.c = New(Deps{Gov: w.gov, Sessions: worldSessions{w.world}, Audit: w.audit, Now: clock})
	return w
}

// req sends a request as who; a form gets who's CSRF token.
func (w *opsWorld) req(tb testing.TB, who, method, target string, form url.Values) *httptest.ResponseRecorder {
	tb.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		form.Set("csrf", csrfOf(who))
		body = strings.NewReader(form.Encode())
	}
	return serve(w.c, newRequest(method, target, body, form != nil, who))
}

// lastEvent is the newest audit event the console recorded.
func (w *opsWorld) lastEvent() *catalog.AuditEvent {
	w.audit.mu.Lock()
	defer w.audit.mu.Unlock()
	if len(w.audit.events) == 0 {
		return &catalog.AuditEvent{}
	}
	return w.audit.events[len(w.audit.events)-1]
}

func (w *opsWorld) connection(tb testing.TB, name, host string) {
	tb.Helper()
	_, err := w.gov.CreateConnection(context.Background(), w.p["root"], governance.CreateConnection{Name: name,
		Options: map[string]string{catalog.OptHost: host, "bearer_token": "s3cret-" + name}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
}

func (w *opsWorld) appendAudit(tb testing.TB, es ...*catalog.AuditEvent) {
	tb.Helper()
	for i, e := range es {
		e.EventID = catalog.NewID()
		if e.EventTime.IsZero() {
			e.EventTime = w.now.Add(-time.Duration(len(es)-i) * time.Second)
		}
		if e.Decision == "" {
			e.Decision = catalog.DecisionAllow
		}
		e.StatusCode, e.PrevHash, e.Hash = 200, strings.Repeat("0", 64), strings.Repeat("0", 64)
	}
	if err := w.st.AppendAudit(context.Background(), es); err != nil {
		tb.Fatal(err)
	}
}

func TestOpsPagesVisibility(t *testing.T) {
	w := newOpsWorld(t)
	w.connection(t, "github", "https://api.github.test")
	w.appendAudit(t, &catalog.AuditEvent{ActionName: catalog.ActionUseConnection, Principal: "mike", Connection: "github"})
	tests := []struct {
		name, who, path string
		status          int
		want, wantNot   []string
	}{
		{"admin inventory", "root", "/inventory", 200, []string{`id="needs-human-none"`, `id="inventory"`, "github"}, nil},
		{"admin audit", "root", "/audit", 200, []string{`id="audit-filters"`, "useConnection", `class="record audit-row"`}, nil},
		{"admin network", "root", "/network", 200, []string{`id="policy-form"`, "FULL_ACCESS", `id="network-events"`}, []string{`id="policy-save"`}},
		{"admin principals", "root", "/principals", 200, []string{`id="user-mike"`, `id="group-admins"`, `id="deactivate-mike"`}, []string{`id="deactivate-root"`}},
		{"admin tokens", "root", "/tokens", 200, []string{`id="own-tokens"`, `id="all-tokens"`, `id="token-user"`}, nil},
		{"user inventory refused", "mike", "/inventory", 403, []string{"not a metastore admin"}, []string{"github"}},
		{"user audit refused", "mike", "/audit", 403, []string{"not a metastore admin"}, []string{"useConnection"}},
		{"user network refused", "mike", "/network", 403, []string{"not a metastore admin"}, []string{"policy-form"}},
		{"user principals refused", "mike", "/principals", 403, []string{"not a metastore admin"}, []string{"user-root"}},
		{"user tokens are their own", "mike", "/tokens", 200, []string{`id="own-tokens"`}, []string{`id="all-tokens"`, `id="token-user"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := w.req(t, tt.who, "GET", tt.path, nil)
			body := rw.Body.String()
			if rw.Code != tt.status {
				t.Fatalf("GET %s as %s = %d, want %d:\n%s", tt.path, tt.who, rw.Code, tt.status, body)
			}
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s as %s lacks %q", tt.path, tt.who, s)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(body, s) {
					t.Errorf("GET %s as %s shows %q", tt.path, tt.who, s)
				}
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "s3cret") {
				t.Errorf("GET %s: inline script, style attribute or a secret in the page", tt.path)
			}
		})
	}
}

func TestTokenShownOnce(t *testing.T) {
	w := newOpsWorld(t)
	rw := w.req(t, "mike", "POST", "/tokens/create", url.Values{"comment": {"ci job"}, "lifetime_days": {"7"}})
	if rw.Code != 200 {
		t.Fatalf("create = %d:\n%s", rw.Code, rw.Body)
	}
	body := rw.Body.String()
	i := strings.Index(body, `id="token-value">`)
	if i < 0 {
		t.Fatalf("the response does not show the token value:\n%s", body)
	}
	value := body[i+len(`id="token-value">`):]
	value = value[:strings.IndexByte(value, '<')]
	if len(value) < 20 {
		t.Fatalf("token value %q looks wrong", value)
	}
	if e := w.lastEvent(); e.ActionName != catalog.ActionTokenCreate || e.Principal != "mike" || e.Params["token_principal"] != "mike" || e.Decision != catalog.DecisionAllow {
		t.Errorf("audit record = %+v, want tokenCreate by mike for mike", e)
	}
	if strings.Contains(fmt.Sprint(w.lastEvent().Params), value) {
		t.Error("the audit record holds the token value")
	}
	again := w.req(t, "mike", "GET", "/tokens", nil).Body.String()
	if strings.Contains(again, value) {
		t.Error("the token list shows the value again")
	}
	if !strings.Contains(again, "ci job") {
		t.Error("the token list lacks the new token")
	}
	for _, who := range []string{"mike", "root"} {
		if strings.Contains(w.req(t, who, "GET", "/tokens", nil).Body.String(), value) {
			t.Errorf("%s's token page shows the value", who)
		}
	}
	// A lifetime outside 1..3650 days (as the form's number field says) is refused, and
	// mints nothing: 0 is not silently the default lifetime.
	for _, days := range []string{"0", "-1", "3651", "seven"} {
		rw := w.req(t, "mike", "POST", "/tokens/create", url.Values{"comment": {"bad " + days}, "lifetime_days": {days}})
		if rw.Code != 400 || !strings.Contains(rw.Body.String(), "between 1 and 3650") || strings.Contains(rw.Body.String(), `id="token-value"`) {
			t.Errorf("create with lifetime_days=%q = %d, want the lifetime error and no token", days, rw.Code)
		}
	}
	// A user cannot mint for someone else: the operation refuses, and the refusal is a
	// DENY record.
	rw = w.req(t, "mike", "POST", "/tokens/create", url.Values{"user_name": {"root"}})
	if rw.Code != 400 || !strings.Contains(rw.Body.String(), "not a metastore admin") {
		t.Errorf("on-behalf-of create by a user = %d, want the permission error", rw.Code)
	}
	if e := w.lastEvent(); e.Decision != catalog.DecisionDeny {
		t.Errorf("refused create recorded as %s, want DENY", e.Decision)
	}
	// Revoke the token: it is gone from the list.
	ts, err := w.gov.ListTokens(context.Background(), w.p["mike"])
	if err != nil || len(ts) != 1 {
		t.Fatalf("ListTokens = %d, %v", len(ts), err)
	}
	if rw := w.req(t, "mike", "POST", "/tokens/"+ts[0].Token.ID+"/revoke", url.Values{}); rw.Code != 303 {
		t.Fatalf("revoke = %d:\n%s", rw.Code, rw.Body)
	}
	if ts, _ := w.gov.ListTokens(context.Background(), w.p["mike"]); len(ts) != 0 {
		t.Errorf("after revoke %d tokens remain", len(ts))
	}
}

func TestAuditFilters(t *testing.T) {
	w := newOpsWorld(t)
	w.appendAudit(t,
		&catalog.AuditEvent{ActionName: catalog.ActionTokenCreate, Principal: "root", RequestID: "req-token", EventTime: w.now.Add(-48 * time.Hour)},
		&catalog.AuditEvent{ActionName: catalog.ActionUseConnection, Principal: "mike", Connection: "github", RequestID: "req-allowed"},
		&catalog.AuditEvent{ActionName: catalog.ActionUseConnection, Principal: "mike", Connection: "slack", Decision: catalog.DecisionDeny, RequestID: "req-denied"},
	)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"all, newest first", "", []string{"req-denied", "req-allowed", "req-token"}},
		{"decision", "decision=DENY", []string{"req-denied"}},
		{"principal", "principal=root", []string{"req-token"}},
		{"connection", "connection=github", []string{"req-allowed"}},
		{"action", "action=tokenCreate", []string{"req-token"}},
		{"since", "since=" + w.now.Add(-time.Hour).Format(formTime), []string{"req-denied", "req-allowed"}},
		{"until", "until=" + w.now.Add(-time.Hour).Format(formTime), []string{"req-token"}},
	}
	all := []string{"req-denied", "req-allowed", "req-token"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := w.req(t, "root", "GET", "/audit?"+tt.query, nil).Body.String()
			last := -1
			for _, id := range tt.want {
				i := strings.Index(body, id)
				if i < 0 {
					t.Fatalf("?%s lacks %s", tt.query, id)
				}
				if i < last {
					t.Errorf("?%s: %s is not in newest-first order", tt.query, id)
				}
				last = i
			}
			for _, id := range all {
				if !strings.Contains(strings.Join(tt.want, " "), id) && strings.Contains(body, id) {
					t.Errorf("?%s shows %s", tt.query, id)
				}
			}
		})
	}
	if body := w.req(t, "root", "GET", "/audit?action=nope", nil).Body.String(); !strings.Contains(body, `id="page-error"`) {
		t.Error("a bad action filter shows no error")
	}
	if body := w.req(t, "root", "GET", "/audit?verify=1", nil).Body.String(); !strings.Contains(body, `id="verify-result"`) {
		t.Errorf("verify shows no result:\n%s", body)
	}
}

func TestNetworkPreviewThenSave(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	w.connection(t, "github", "https://api.github.test")
	w.appendAudit(t, &catalog.AuditEvent{ActionName: catalog.ActionUseConnection, Principal: "mike", Connection: "github"})
	if err := w.st.AppendNetworkEvents(ctx, []*catalog.NetworkEvent{{Time: w.now.Add(-time.Minute), Destination: "partner.test:443", Source: catalog.SourceEgress,
		Principal: "mike", Reason: "partner.test is blocked", AccessType: catalog.AccessDrop}}); err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutNetworkPolicy(ctx, &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced, BlockedDestinations: []string{"partner.test"}}); err != nil {
		t.Fatal(err)
	}
	// Restricted to partner.test only: the github calls would be blocked, the partner
	// calls allowed.
	form := url.Values{"restriction_mode": {catalog.RestrictedAccess}, "allowed": {"partner.test\n"}, "version": {"1"}}
	rw := w.req(t, "root", "POST", "/network/preview", form)
	body := rw.Body.String()
	if rw.Code != 200 {
		t.Fatalf("preview = %d:\n%s", rw.Code, body)
	}
	for _, s := range []string{`id="impact-blocked"`, "api.github.test:443", `id="impact-allowed"`, "partner.test:443", `id="policy-save"`} {
		if !strings.Contains(body, s) {
			t.Errorf("preview lacks %q", s)
		}
	}
	if p, _ := w.st.GetNetworkPolicy(ctx); p.RestrictionMode != catalog.FullAccess {
		t.Fatal("the preview stored the policy")
	}
	// The same change in dry run blocks nothing.
	form.Set("dry_run", "on")
	if body := w.req(t, "root", "POST", "/network/preview", form).Body.String(); strings.Contains(body, `id="impact-blocked"`) || !strings.Contains(body, "dry-run denial") {
		t.Error("a dry-run preview shows blocked destinations, or no dry-run denials")
	}
	form.Del("dry_run")
	if rw := w.req(t, "root", "POST", "/network", form); rw.Code != 303 {
		t.Fatalf("save = %d:\n%s", rw.Code, rw.Body)
	}
	p, err := w.st.GetNetworkPolicy(ctx)
	if err != nil || p.RestrictionMode != catalog.RestrictedAccess || len(p.AllowedDestinations) != 1 || p.UpdatedBy != w.p["root"].ID {
		t.Fatalf("stored policy = %+v, %v", p, err)
	}
	if e := w.lastEvent(); e.ActionName != catalog.ActionUpdateNetworkPolicy || !strings.Contains(e.Params["policy"], "RESTRICTED_ACCESS") {
		t.Errorf("audit record = %+v", e)
	}
	// Saving the stale version again is refused and changes nothing.
	if rw := w.req(t, "root", "POST", "/network", url.Values{"version": {"1"}}); rw.Code != 409 || !strings.Contains(rw.Body.String(), "Another admin changed") {
		t.Errorf("stale save = %d", rw.Code)
	}
	// A non-admin cannot preview or save.
	if rw := w.req(t, "mike", "POST", "/network", form); rw.Code != 403 {
		t.Errorf("save by a user = %d, want 403", rw.Code)
	}
}

func TestPrincipalActions(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	steps := []struct {
		name   string
		path   string
		form   url.Values
		status int
	}{
		{"create group", "/principals/create", url.Values{"kind": {"GROUP"}, "name": {"sre"}}, 303},
		{"deactivate mike", "/principals/" + w.p["mike"].ID + "/active", url.Values{"kind": {"USER"}, "active": {"false"}}, 303},
		{"root cannot deactivate themselves", "/principals/" + w.p["root"].ID + "/active", url.Values{"kind": {"USER"}, "active": {"false"}}, 400},
		{"users group cannot join", "/principals/" + w.p["admins"].ID + "/members", url.Values{"op": {"add"}, "member": {w.p["users"].ID}}, 400},
		{"add mike to admins", "/principals/" + w.p["admins"].ID + "/members", url.Values{"op": {"add"}, "member": {w.p["mike"].ID}}, 303},
		{"built-in group not deleted", "/principals/" + w.p["admins"].ID + "/delete", url.Values{"kind": {"GROUP"}, "confirm": {"on"}}, 400},
		{"delete needs confirmation", "/principals/" + w.p["mike"].ID + "/delete", url.Values{"kind": {"USER"}}, 400},
	}
	for _, s := range steps {
		if rw := w.req(t, "root", "POST", s.path, s.form); rw.Code != s.status {
			t.Errorf("%s = %d, want %d:\n%s", s.name, rw.Code, s.status, rw.Body)
		}
	}
	if g, err := w.st.GetPrincipalByName(ctx, "sre"); err != nil || g.Kind != catalog.KindGroup {
		t.Errorf("group sre = %v, %v", g, err)
	}
	if m, _ := w.st.GetPrincipal(ctx, w.p["mike"].ID); m.Active {
		t.Error("mike is still active")
	}
	if ms, _ := w.st.ListMembers(ctx, w.p["admins"].ID); len(ms) != 2 {
		t.Errorf("admins has %d members, want root and mike", len(ms))
	}
	if e := w.lastEvent(); e.ActionName != catalog.ActionPrincipalChange || e.ErrorCode != string(catalog.InvalidParameterValue) {
		t.Errorf("last record = %+v", e)
	}
}

// BenchmarkOpsPages renders the audit, inventory and network pages over a store with
// 1,000 connections and 100,000 audit events (issue 13: each well under 100 ms).
func BenchmarkOpsPages(b *testing.B) {
	w := newOpsWorld(b)
	ctx := context.Background()
	for i := range 1000 {
		w.connection(b, fmt.Sprintf("conn-%04d", i), fmt.Sprintf("https://api%d.example.test", i))
	}
	batch := make([]*catalog.AuditEvent, 0, 1000)
	for i := range 100_000 {
		batch = append(batch, &catalog.AuditEvent{ActionName: catalog.ActionUseConnection, Principal: "mike", Connection: fmt.Sprintf("conn-%04d", i%1000),
			EventTime: w.now.Add(-time.Duration(100_000-i) * time.Second), Params: map[string]string{"method": "GET", "path": "/v1/items"}})
		if len(batch) == cap(batch) {
			w.appendAudit(b, batch...)
			batch = batch[:0]
		}
	}
	events := make([]*catalog.NetworkEvent, 0, 500)
	for i := range 500 {
		events = append(events, &catalog.NetworkEvent{Time: w.now.Add(-time.Duration(i) * time.Minute), Destination: fmt.Sprintf("blocked%d.test:443", i%50),
			Source: catalog.SourceEgress, Principal: "mike", Reason: "blocked", AccessType: catalog.AccessDrop})
	}
	if err := w.st.AppendNetworkEvents(ctx, events); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/audit", "/audit?decision=DENY", "/audit?connection=conn-0042", "/audit?verify=1", "/inventory", "/network", "/principals", "/tokens"} {
		b.Run(path, func(b *testing.B) {
			cpu0 := cpuTime(b)
			for b.Loop() {
				if rw := w.req(b, "root", "GET", path, nil); rw.Code != 200 {
					b.Fatalf("GET %s = %d", path, rw.Code)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op") // as BenchmarkPages
		})
	}
	b.Run("network preview", func(b *testing.B) {
		form := url.Values{"restriction_mode": {catalog.RestrictedAccess}, "allowed": {"api1.example.test"}}
		cpu0 := cpuTime(b)
		defer func() { b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op") }()
		for b.Loop() {
			if rw := w.req(b, "root", "POST", "/network/preview", form); rw.Code != 200 {
				b.Fatalf("preview = %d", rw.Code)
			}
		}
	})
}

// FuzzOpsForms: the network policy form and the audit page's time fields take any
// input without a panic; a policy's lists hold only trimmed, non-empty entries, and a
// time that parses is UTC.
func FuzzOpsForms(f *testing.F) {
	f.Add("a.example\n\n *.b.example \r\n", "2026-03-14T15:09")
	f.Add("", "2026-03-14T15:09:26Z")
	f.Add("\x00\n\t", "not a time")
	f.Fuzz(func(t *testing.T, list, when string) {
		p := policyForm{Restricted: true, Allowed: list, Blocked: list, Ranges: list}.policy()
		for _, l := range [][]string{p.AllowedDestinations, p.BlockedDestinations, p.AllowedIPRanges} {
			for _, e := range l {
				if e == "" || strings.TrimSpace(e) != e {
					t.Fatalf("policy entry %q from %q", e, list)
				}
			}
		}
		if tm, err := parseFormTime("From", when); err == nil && !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("parseFormTime(%q) = %v, not UTC", when, tm)
		}
	})
}
