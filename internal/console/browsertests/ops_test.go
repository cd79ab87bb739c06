package browsertests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/browsertest"
	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

// The browser tests of the inventory, audit, network, principals and tokens pages
// (issue 13, points 3 to 6).

// opsSignIn signs the browser in with a personal access token.
func opsSignIn(t *testing.T, ctx context.Context, srv *gatehousetest.Server, token string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token-field")),
		chromedp.SendKeys(chromedp.ID("token-field"), token),
		chromedp.Click(chromedp.ID("token-sign-in")),
		chromedp.WaitVisible(chromedp.ID("signed-in-user")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// opsLoaded waits until the page the browser went to has query in its URL and has
// loaded (a click on a submit button returns before the next page is there). A poll
// that the navigation itself interrupts is tried again, a bounded number of times.
func opsLoaded(query string) chromedp.Action[chromedp.Void] {
	expr := "location.search.includes(" + strconv.Quote(query) + ") && document.readyState === 'complete'"
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var err error
		for range 20 {
			if _, err = chromedp.Poll[bool](expr)(ctx, t); err == nil || ctx.Err() != nil {
				return err
			}
		}
		return fmt.Errorf("wait for a page with %s: %w", query, err)
	})
}

// opsText is the text of the element with id on the current page.
func opsText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

// opsHTML is the current page's HTML.
func opsHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		t.Fatalf("page HTML: %v", err)
	}
	return s
}

// opsScreenshot saves a PNG of the current page as name under GATEHOUSE_SCREENSHOTS,
// when it is set.
func opsScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 makes a PNG (below it, a JPEG)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpsPages(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) }))
	defer upstream.Close()
	var minted atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		minted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-`+fmt.Sprint(minted.Load())+`","token_type":"Bearer","expires_in":432000}`) // five days
	}))
	defer idp.Close()
	srv := gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--insecure-http-upstreams"}})
	_, mike := srv.MakeUser("mike@example.com")
	// By name, so that a policy change decides on the name (loopback addresses are open).
	host := strings.Replace(upstream.URL, "127.0.0.1", "localhost", 1)
	srv.MakeConnection("echo", "", map[string]string{"host": host, "bearer_token": "canary-echo-secret"})
	srv.MakeConnection("secret-api", "", map[string]string{"host": host, "bearer_token": "canary-other-secret"})
	srv.MakeConnection("billing", "OAUTH_M2M", map[string]string{"host": upstream.URL, "token_endpoint": idp.URL + "/token",
		"client_id": "gatehouse", "client_secret": "canary-client-secret"})
	srv.Grant("connection", "echo", "mike@example.com", "USE_CONNECTION")
	call := func(conn string) int {
		code, _ := srv.Do("POST", "/api/2.0/external-function", mike, map[string]any{"connection_name": conn, "method": "GET", "path": "/items"})
		return code
	}
	if code := call("echo"); code != 200 {
		t.Fatalf("mike's call through echo = %d", code)
	}
	if code := call("secret-api"); code != 403 {
		t.Fatalf("mike's call through secret-api = %d, want 403", code)
	}

	ctx := browsertest.New(t)
	opsSignIn(t, ctx, srv, srv.Admin)

	t.Run("audit shows the call and filters work", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/audit"),
			chromedp.WaitVisible(chromedp.ID("audit-filters")),
			chromedp.SendKeys(chromedp.ID("f-connection"), "echo"),
			chromedp.SetValue(chromedp.ID("f-action"), "useConnection"),
			chromedp.Click(chromedp.ID("audit-filter")),
			opsLoaded("connection=echo"),
		); err != nil {
			t.Fatal(err)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("details.audit-row summary")].map(s => s.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || !strings.Contains(rows[0], "mike@example.com") || !strings.Contains(rows[0], "ALLOW") {
			t.Fatalf("audit rows for echo = %q, want mike's one allowed call", rows)
		}
		// The row expands to the full record.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("details.audit-row summary")), chromedp.WaitVisible(chromedp.CSS("details.audit-row[open] dl"))); err != nil {
			t.Fatal(err)
		}
		if rec := opsText(t, ctx, "audit-records"); !strings.Contains(rec, "request_id") || !strings.Contains(rec, "/items") || strings.Contains(rec, "canary") {
			t.Errorf("the expanded record lacks its fields, or shows a secret:\n%s", rec)
		}
		// Decision DENY: only the refused call.
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/audit"),
			chromedp.WaitVisible(chromedp.ID("f-decision")),
			chromedp.SetValue(chromedp.ID("f-decision"), "DENY"),
			chromedp.Click(chromedp.ID("audit-filter")),
			opsLoaded("decision=DENY"),
		); err != nil {
			t.Fatal(err)
		}
		conns, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".audit-row .audit-connection")].map(s => s.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(conns) != 1 || conns[0] != "secret-api" {
			t.Errorf("DENY rows = %q, want the one refused call through secret-api", conns)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("verify-run")), chromedp.WaitVisible(chromedp.ID("verify-result"))); err != nil {
			t.Fatal(err)
		}
		if v := opsText(t, ctx, "verify-result"); !strings.HasPrefix(v, "Intact") {
			t.Errorf("verify = %q, want intact", v)
		}
		if os.Getenv("GATEHOUSE_SCREENSHOTS") != "" {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/audit?verify=1"), chromedp.Click(chromedp.CSS("details.audit-row summary")),
				chromedp.WaitVisible(chromedp.CSS("details.audit-row[open] dl"))); err != nil {
				t.Fatal(err)
			}
			opsScreenshot(t, ctx, "audit.png")
		}
	})

	t.Run("inventory", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/inventory"), chromedp.WaitVisible(chromedp.ID("inventory"))); err != nil {
			t.Fatal(err)
		}
		html := opsHTML(t, ctx)
		for _, s := range []string{"echo", "secret-api", "billing", `id="expiry-timeline"`} {
			if !strings.Contains(html, s) {
				t.Errorf("inventory lacks %q", s)
			}
		}
		if strings.Contains(html, "canary") {
			t.Error("inventory shows a secret")
		}
		opsScreenshot(t, ctx, "inventory.png")
	})

	t.Run("network dry-run preview, then save", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/network"),
			chromedp.WaitVisible(chromedp.ID("policy-form")),
			chromedp.SetValue(chromedp.ID("restriction-mode"), "RESTRICTED_ACCESS"),
			chromedp.Click(chromedp.ID("dry-run")),
			chromedp.Click(chromedp.ID("policy-preview")),
			chromedp.WaitVisible(chromedp.ID("impact")),
		); err != nil {
			t.Fatal(err)
		}
		// The loopback calls are judged under RESTRICTED_ACCESS: in dry run, recorded
		// and let through; nothing becomes blocked.
		if s := opsText(t, ctx, "impact-summary"); !strings.Contains(s, "0 would become blocked") {
			t.Errorf("dry-run impact = %q, want nothing blocked", s)
		}
		if s := opsText(t, ctx, "impact-other"); !strings.Contains(s, "dry-run denial") {
			t.Errorf("dry-run impact lacks the dry-run denials: %q", s)
		}
		// Without dry run the same change would block them.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("dry-run")), chromedp.Click(chromedp.ID("policy-preview")),
			chromedp.WaitVisible(chromedp.ID("impact-blocked"))); err != nil {
			t.Fatal(err)
		}
		if s := opsText(t, ctx, "impact-blocked"); !strings.Contains(s, "echo") {
			t.Errorf("enforced impact = %q, want echo's destination blocked", s)
		}
		opsScreenshot(t, ctx, "network-preview.png")
		// Save the dry-run policy (it changes nothing that is allowed).
		// (impact-other is only on the dry-run preview: its presence says the new page is in.)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("dry-run")), chromedp.Click(chromedp.ID("policy-preview")),
			chromedp.WaitVisible(chromedp.ID("impact-other")), chromedp.Click(chromedp.ID("policy-save")), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
			t.Fatal(err)
		}
		if s := opsText(t, ctx, "policy-enforcement"); !strings.HasPrefix(s, "DRY_RUN") {
			t.Errorf("saved enforcement = %q, want DRY_RUN", s)
		}
		var pol struct {
			RestrictionMode string `json:"restriction_mode"`
			EnforcementMode string `json:"enforcement_mode"`
		}
		srv.Must("GET", "/api/2.0/gatehouse/network-policy", srv.Admin, nil, &pol)
		if pol.RestrictionMode != "RESTRICTED_ACCESS" || pol.EnforcementMode != "DRY_RUN" {
			t.Errorf("the API shows %+v after the save", pol)
		}
		// Calls still go through (dry run); the denial is recorded and listed. A new
		// destination, so that the call dials (a kept-alive connection is not re-decided).
		partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
		defer partner.Close()
		srv.MakeConnection("partner", "", map[string]string{"host": strings.Replace(partner.URL, "127.0.0.1", "localhost", 1), "bearer_token": "canary-partner-secret"})
		srv.Grant("connection", "partner", "mike@example.com", "USE_CONNECTION")
		if code := call("partner"); code != 200 {
			t.Errorf("call in dry run = %d, want 200", code)
		}
		// Network events are written in the background: poll the API (bounded) until the
		// denial is stored, then look at the page.
		var events struct {
			Events []struct {
				Connection string `json:"connection"`
			} `json:"events"`
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			srv.Must("GET", "/api/2.0/gatehouse/network-events", srv.Admin, nil, &events)
			if len(events.Events) > 0 {
				break
			}
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/network"), chromedp.WaitVisible(chromedp.ID("network-events"))); err != nil {
			t.Fatal(err)
		}
		if s := opsText(t, ctx, "network-events"); !strings.Contains(s, "DRY_RUN_DENIAL") || !strings.Contains(s, "partner") {
			t.Errorf("network events = %q, want partner's dry-run denial", s)
		}
		opsScreenshot(t, ctx, "network.png")
	})

	t.Run("principals", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/principals"),
			chromedp.WaitVisible(chromedp.ID("create-principal")),
			chromedp.SetValue(chromedp.ID("new-kind"), "GROUP"),
			chromedp.SendKeys(chromedp.ID("new-name"), "sre"),
			chromedp.Click(chromedp.ID("create-principal-submit")),
			chromedp.WaitVisible(chromedp.ID("group-sre")),
		); err != nil {
			t.Fatal(err)
		}
		mikeID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#add-sre option")].find(o => o.textContent === "mike@example.com").value`))
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("add-sre"), mikeID), chromedp.Click(chromedp.ID("add-member-sre")), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
			t.Fatal(err)
		}
		if s := opsText(t, ctx, "group-sre"); !strings.Contains(s, "mike@example.com") {
			t.Errorf("group sre = %q, want mike a member", s)
		}
		opsScreenshot(t, ctx, "principals.png")
	})

	t.Run("a token is shown once", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/tokens"),
			chromedp.WaitVisible(chromedp.ID("create-token")),
			chromedp.SendKeys(chromedp.ID("token-comment"), "browser test"),
			chromedp.Click(chromedp.ID("create-token-submit")),
			chromedp.WaitVisible(chromedp.ID("token-value")),
		); err != nil {
			t.Fatal(err)
		}
		value := opsText(t, ctx, "token-value")
		if code, _ := srv.Do("GET", "/api/2.0/token/list", value, nil); code != 200 {
			t.Fatalf("the token shown does not work: %d", code)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/tokens"), chromedp.WaitVisible(chromedp.ID("own-tokens"))); err != nil {
			t.Fatal(err)
		}
		html := opsHTML(t, ctx)
		if strings.Contains(html, value) {
			t.Error("the tokens page shows the value again")
		}
		if !strings.Contains(html, "browser test") {
			t.Error("the tokens page lacks the new token")
		}
		opsScreenshot(t, ctx, "tokens.png")
	})

	t.Run("a non-admin sees what the API shows them", func(t *testing.T) {
		mctx := browsertest.New(t)
		opsSignIn(t, mctx, srv, mike)
		for _, path := range []string{"/inventory", "/audit", "/network", "/principals"} {
			if err := chromedp.Do(mctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.ID("page-error"))); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if s := opsText(t, mctx, "page-error"); !strings.Contains(s, "not a metastore admin") {
				t.Errorf("%s as mike: %q, want the API's refusal", path, s)
			}
			if code, _ := srv.Do("GET", map[string]string{"/inventory": "/api/2.0/gatehouse/inventory", "/audit": "/api/2.0/gatehouse/audit",
				"/network": "/api/2.0/gatehouse/network-policy", "/principals": "/api/2.0/preview/scim/v2/Users"}[path], mike, nil); code != 403 {
				t.Errorf("the API answers mike %d for %s's data, want 403 as the page", code, path)
			}
		}
		if err := chromedp.Do(mctx, chromedp.Navigate(srv.URL+"/tokens"), chromedp.WaitVisible(chromedp.ID("own-tokens"))); err != nil {
			t.Fatal(err)
		}
		html := opsHTML(t, mctx)
		if strings.Contains(html, `id="all-tokens"`) || strings.Contains(html, "browser test") {
			t.Error("mike's tokens page shows other principals' tokens")
		}
		if !strings.Contains(html, "gatehousetest") {
			t.Error("mike's tokens page lacks mike's own token")
		}
	})

	if log := srv.Log(); strings.Contains(log, "canary") {
		t.Error("the server log holds a secret")
	}
}
