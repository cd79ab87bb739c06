package browsertests

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

// a11yProblems is a script that lists what keeps a page from being used with a keyboard
// or a screen reader: form fields without a label, buttons and links without a name,
// positive tabindex (which breaks the reading order), and controls taken out of the tab
// order.
const a11yProblems = `(() => {
  const out = [];
  const named = el => (el.getAttribute('aria-label') || el.textContent || el.value || '').trim() !== '';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) out.push('field without a label: ' + (el.id || el.name));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!named(el)) out.push('control without a name: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('[tabindex]')) {
    const t = parseInt(el.getAttribute('tabindex'), 10);
    if (t > 0) out.push('positive tabindex: ' + (el.id || el.tagName));
    if (t < 0 && el.matches('a[href], button, input, select, textarea')) out.push('control out of the tab order: ' + (el.id || el.tagName));
  }
  return out.join('\n');
})()`

// TestConsoleKeyboard (issue 13: usable with a keyboard): on every page the first Tab
// reaches the skip link and Enter on it moves to the content; no page has a field without
// a label, a control without a name or a broken tab order; and a grant is added with the
// keyboard alone — Tab to the principal field, type, Tab on to the Grant button, Enter.
func TestConsoleKeyboard(t *testing.T) {
	srv := gatehousetest.Start(t, gatehousetest.Options{Args: []string{"--insecure-http-upstreams"}})
	srv.MakeUser("bob@example.com")
	srv.MakeConnection("weather", "", map[string]string{"host": "http://127.0.0.1:9", "bearer_token": "kb-secret"})
	b := newBrowser(t, srv)
	b.signIn(srv.Admin, "/")

	focused := func() string {
		id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		if err != nil {
			t.Fatalf("active element: %v", err)
		}
		return id
	}
	for _, page := range []string{"/", "/connections", "/connections/weather", "/new-connection", "/inventory", "/audit", "/network", "/principals", "/tokens"} {
		b.open(page)
		b.do(chromedp.KeyEvent(kb.Tab))
		if id := focused(); id != "skip-link" {
			t.Errorf("%s: the first Tab focuses %q, not the skip link", page, id)
			continue
		}
		b.do(chromedp.KeyEvent(kb.Enter))
		if loc := b.location(); !strings.HasSuffix(loc, "#content") {
			t.Errorf("%s: Enter on the skip link went to %s", page, loc)
		}
		problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](a11yProblems))
		if err != nil {
			t.Fatal(err)
		}
		if problems != "" {
			t.Errorf("%s:\n%s", page, problems)
		}
	}

	// A grant with the keyboard alone.
	b.open("/connections/weather")
	tabTo := func(id string) {
		t.Helper()
		for range 300 {
			if focused() == id {
				return
			}
			b.do(chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached #%s", id)
	}
	tabTo("grant-principal")
	b.do(chromedp.KeyEvent("bob@example.com"))
	tabTo("grant-add")
	b.toNewPage("the page after the keyboard grant", chromedp.KeyEvent(kb.Enter))
	var perms struct {
		PrivilegeAssignments []struct {
			Principal  string   `json:"principal"`
			Privileges []string `json:"privileges"`
		} `json:"privilege_assignments"`
	}
	srv.Must("GET", "/api/2.1/unity-catalog/permissions/connection/weather", srv.Admin, nil, &perms)
	granted := false
	for _, a := range perms.PrivilegeAssignments {
		granted = granted || a.Principal == "bob@example.com" && len(a.Privileges) == 1 && a.Privileges[0] == "USE_CONNECTION"
	}
	if !granted {
		t.Fatalf("the keyboard grant is not in the API's permissions: %+v", perms)
	}
}
