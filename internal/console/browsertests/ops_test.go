package browsertests

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

// The browser tests of the inventory, audit, network, principals and tokens pages
// (issue 13, points 3 to 6), on the shared helpers of setup_test.go.

// opsList runs a script that returns a list of strings.
func (b *browser) opsList(js string) []string {
	b.t.Helper()
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", js, err)
	}
	return out
}

// opsWorld is a server with two bearer connections (echo, which mike may use, and
// secret-api, which he may not) and a machine-to-machine one (billing, whose token
// expires in five days), each sending to a loopback upstream by the name localhost, so
// that a policy change decides on the name.
type opsWorld struct {
	srv  *gatehousetest.Server
	mike string // mike's token
}

func newOpsWorld(t *testing.T) *opsWorld {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) }))
	t.Cleanup(upstream.Close)
	var minted atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":432000}`, minted.Add(1))
	}))
	t.Cleanup(idp.Close)
	w := &opsWorld{srv: gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--insecure-http-upstreams"}})}
	_, w.mike = w.srv.MakeUser("mike@example.com")
	host := strings.Replace(upstream.URL, "127.0.0.1", "localhost", 1)
	w.srv.MakeConnection("echo", "", map[string]string{"host": host, "bearer_token": "canary-echo-secret"})
	w.srv.MakeConnection("secret-api", "", map[string]string{"host": host, "bearer_token": "canary-other-secret"})
	w.srv.MakeConnection("billing", "OAUTH_M2M", map[string]string{"host": host, "token_endpoint": idp.URL + "/token",
		"client_id": "gatehouse", "client_secret": "canary-client-secret"})
	w.srv.Grant("connection", "echo", "mike@example.com", "USE_CONNECTION")
	if code := w.call("echo"); code != 200 {
		t.Fatalf("mike's call through echo = %d", code)
	}
	if code := w.call("secret-api"); code != 403 {
		t.Fatalf("mike's call through secret-api = %d, want 403", code)
	}
	return w
}

// call is mike's GET /items through conn; it answers the status.
func (w *opsWorld) call(conn string) int {
	code, _ := w.srv.Do("POST", "/api/2.0/external-function", w.mike, map[string]any{"connection_name": conn, "method": "GET", "path": "/items"})
	return code
}

func TestOpsAuditPage(t *testing.T) {
	w := newOpsWorld(t)
	b := newBrowser(t, w.srv)
	b.signIn(w.srv.Admin, "/audit")
	b.fill("f-connection", "echo")
	b.do(chromedp.SetValue(chromedp.ID("f-action"), "useConnection"))
	b.submit("audit-filter")
	rows := b.opsList(`[...document.querySelectorAll("details.audit-row summary")].map(s => s.textContent)`)
	if len(rows) != 1 || !strings.Contains(rows[0], "mike@example.com") || !strings.Contains(rows[0], "ALLOW") {
		t.Fatalf("audit rows for echo = %q, want mike's one allowed call", rows)
	}
	// The row expands to the full record, without a secret.
	b.do(chromedp.Click(chromedp.CSS("details.audit-row summary")), chromedp.WaitVisible(chromedp.CSS("details.audit-row[open] dl")))
	if rec := b.text("audit-records"); !strings.Contains(rec, "request_id") || !strings.Contains(rec, "/items") || strings.Contains(rec, "canary") {
		t.Errorf("the expanded record lacks its fields, or shows a secret:\n%s", rec)
	}
	// Decision DENY: only the refused call.
	b.open("/audit")
	b.do(chromedp.SetValue(chromedp.ID("f-decision"), "DENY"))
	b.submit("audit-filter")
	if conns := b.opsList(`[...document.querySelectorAll(".audit-row .audit-connection")].map(s => s.textContent)`); len(conns) != 1 || conns[0] != "secret-api" {
		t.Errorf("DENY rows = %q, want the one refused call through secret-api", conns)
	}
	b.submit("verify-run")
	if v := b.text("verify-result"); !strings.HasPrefix(v, "Intact") {
		t.Errorf("verify = %q, want intact", v)
	}
	b.open("/audit?verify=1")
	b.do(chromedp.Click(chromedp.CSS("details.audit-row summary")), chromedp.WaitVisible(chromedp.CSS("details.audit-row[open] dl")))
	b.shot("audit", 1280)
	b.shot("audit-phone", 390)
}

func TestOpsInventoryPage(t *testing.T) {
	w := newOpsWorld(t)
	b := newBrowser(t, w.srv)
	b.signIn(w.srv.Admin, "/inventory")
	html := b.html()
	for _, s := range []string{"echo", "secret-api", "billing", `id="expiry-timeline"`, `id="needs-human-none"`} {
		if !strings.Contains(html, s) {
			t.Errorf("inventory lacks %q", s)
		}
	}
	if strings.Contains(html, "canary") {
		t.Error("inventory shows a secret")
	}
	b.shot("inventory", 1280)
}

func TestOpsNetworkPage(t *testing.T) {
	w := newOpsWorld(t)
	b := newBrowser(t, w.srv)
	b.signIn(w.srv.Admin, "/network")
	b.do(chromedp.SetValue(chromedp.ID("restriction-mode"), "RESTRICTED_ACCESS"), chromedp.Click(chromedp.ID("dry-run")))
	b.submit("policy-preview")
	// echo's calls (to localhost) judged under RESTRICTED_ACCESS in dry run: recorded
	// and let through; nothing becomes blocked, and nothing is saved yet.
	if s := b.text("impact-summary"); !strings.Contains(s, "0 would become blocked") {
		t.Errorf("dry-run impact = %q, want nothing blocked", s)
	}
	if s := b.text("impact-other"); !strings.Contains(s, "dry-run denial") || !strings.Contains(s, "echo") {
		t.Errorf("dry-run impact lacks echo's dry-run denials: %q", s)
	}
	var pol struct {
		RestrictionMode string `json:"restriction_mode"`
		EnforcementMode string `json:"enforcement_mode"`
	}
	w.srv.Must("GET", "/api/2.0/gatehouse/network-policy", w.srv.Admin, nil, &pol)
	if pol.RestrictionMode != "FULL_ACCESS" {
		t.Fatalf("the preview saved the policy: %+v", pol)
	}
	// Enforced, the same change would block them.
	b.do(chromedp.Click(chromedp.ID("dry-run")))
	b.submit("policy-preview")
	if s := b.text("impact-blocked"); !strings.Contains(s, "echo") {
		t.Errorf("enforced impact = %q, want echo's destination blocked", s)
	}
	b.shot("network-preview", 1280)
	// Save the dry-run change (the second step of the form).
	b.do(chromedp.Click(chromedp.ID("dry-run")))
	b.submit("policy-preview")
	b.submit("policy-save")
	if s := b.text("policy-enforcement"); !strings.HasPrefix(s, "DRY_RUN") {
		t.Errorf("saved enforcement = %q, want DRY_RUN", s)
	}
	w.srv.Must("GET", "/api/2.0/gatehouse/network-policy", w.srv.Admin, nil, &pol)
	if pol.RestrictionMode != "RESTRICTED_ACCESS" || pol.EnforcementMode != "DRY_RUN" {
		t.Errorf("the API shows %+v after the save", pol)
	}
	// A call to a new destination (one that dials: a kept-alive connection is not
	// decided again) goes through and is listed as a dry-run denial.
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer partner.Close()
	w.srv.MakeConnection("partner", "", map[string]string{"host": strings.Replace(partner.URL, "127.0.0.1", "localhost", 1), "bearer_token": "canary-partner-secret"})
	w.srv.Grant("connection", "partner", "mike@example.com", "USE_CONNECTION")
	if code := w.call("partner"); code != 200 {
		t.Errorf("call in dry run = %d, want 200", code)
	}
	// Network events are written in the background.
	waitFor(t, "partner's dry-run denial on the network page", func() bool {
		b.open("/network")
		return strings.Contains(b.text("network-events"), "DRY_RUN_DENIAL")
	})
	if s := b.text("network-events"); !strings.Contains(s, "partner") {
		t.Errorf("network events = %q, want partner's dry-run denial", s)
	}
	b.shot("network", 1280)
}

func TestOpsPrincipalsAndTokensPages(t *testing.T) {
	w := newOpsWorld(t)
	b := newBrowser(t, w.srv)
	b.signIn(w.srv.Admin, "/principals")
	b.do(chromedp.SetValue(chromedp.ID("new-kind"), "GROUP"))
	b.fill("new-name", "sre")
	b.submit("create-principal-submit")
	mikeID, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#add-sre option")].find(o => o.textContent === "mike@example.com").value`))
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.SetValue(chromedp.ID("add-sre"), mikeID))
	b.submit("add-member-sre")
	if s := b.text("group-sre"); !strings.Contains(s, "mike@example.com") {
		t.Errorf("group sre = %q, want mike a member", s)
	}
	b.shot("principals", 1280)

	// A token is shown once, on the create response.
	b.open("/tokens")
	b.fill("token-comment", "browser test")
	b.submit("create-token-submit")
	value := b.text("token-value")
	if code, _ := w.srv.Do("GET", "/api/2.0/token/list", value, nil); code != 200 {
		t.Fatalf("the token shown does not work: %d", code)
	}
	b.open("/tokens")
	html := b.html()
	if strings.Contains(html, value) {
		t.Error("the tokens page shows the value again")
	}
	if !strings.Contains(html, "browser test") {
		t.Error("the tokens page lacks the new token")
	}
	b.shot("tokens", 1280)

	// A non-admin sees what the API shows them.
	m := newBrowser(t, w.srv)
	m.signIn(w.mike, "/tokens")
	html = m.html()
	if strings.Contains(html, `id="all-tokens"`) || strings.Contains(html, "browser test") {
		t.Error("mike's tokens page shows other principals' tokens")
	}
	if !strings.Contains(html, "gatehousetest") {
		t.Error("mike's tokens page lacks mike's own token")
	}
	for page, api := range map[string]string{"/inventory": "/api/2.0/gatehouse/inventory", "/audit": "/api/2.0/gatehouse/audit",
		"/network": "/api/2.0/gatehouse/network-policy", "/principals": "/api/2.0/preview/scim/v2/Users"} {
		m.open(page)
		if s := m.text("page-error"); !strings.Contains(s, "not a metastore admin") {
			t.Errorf("%s as mike: %q, want the API's refusal", page, s)
		}
		if code, _ := w.srv.Do("GET", api, w.mike, nil); code != 403 {
			t.Errorf("the API answers mike %d for %s, want 403 as the page", code, api)
		}
	}
	if log := w.srv.Log(); strings.Contains(log, "canary") {
		t.Error("the server log holds a secret")
	}
}
