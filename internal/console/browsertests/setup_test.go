package browsertests

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/internal/browsertest"
	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

func TestMain(m *testing.M) { os.Exit(gatehousetest.Main(m)) }

// EnvScreenshots names the folder the tests save page screenshots in, when set.
const EnvScreenshots = "GATEHOUSE_SCREENSHOTS"

// browser is a Chromium signed in (or not yet) to one server.
type browser struct {
	t   *testing.T
	ctx context.Context
	srv *gatehousetest.Server
}

func newBrowser(t *testing.T, srv *gatehousetest.Server) *browser {
	t.Helper()
	return &browser{t: t, ctx: browsertest.New(t), srv: srv}
}

// do runs actions, failing the test on an error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

// open navigates to a path of the server and waits for the console's page title.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.srv.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// text is the text of the element with id.
func (b *browser) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("browser: text of #%s: %v (at %s)", id, err, b.location())
	}
	return s
}

// html is the page's HTML as the browser holds it.
func (b *browser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("browser: page HTML: %v", err)
	}
	return s
}

// exists reports whether the page has an element with id, now.
func (b *browser) exists(id string) bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById(`+jsString(id)+`) !== null`))
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return ok
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// signIn signs in with a personal access token through the sign-in page the console
// sends a signed-out browser to, and lands on next.
func (b *browser) signIn(token, next string) {
	b.t.Helper()
	b.open(next)
	if loc := b.location(); !strings.Contains(loc, "/login?next=") {
		b.t.Fatalf("signed out, %s led to %s, not to the sign-in page", next, loc)
	}
	b.do(chromedp.WaitVisible(chromedp.ID("token-field")), chromedp.SendKeys(chromedp.ID("token-field"), token))
	b.submit("token-sign-in")
	if loc := b.location(); loc != b.srv.URL+next {
		b.t.Fatalf("after sign-in at %s, want %s", loc, b.srv.URL+next)
	}
}

// submit clicks a button (or link) that leads to another page and waits until that
// page has loaded.
func (b *browser) submit(id string) {
	b.t.Helper()
	b.toNewPage("the page after #"+id, chromedp.Click(chromedp.ID(id)))
}

// toNewPage runs act, which leads to another page, and waits until that page has
// loaded: the current document is marked first, and the wait ends when a document
// without the mark is complete.
func (b *browser) toNewPage(what string, act chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`window.__gatehouseOld = true`), act)
	waitFor(b.t, what, func() bool {
		done, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.__gatehouseOld !== true && document.readyState === "complete"`))
		return err == nil && done
	})
}

// fill types v into the field with id, replacing what it held.
func (b *browser) fill(id, v string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v))
}

// shot saves a full-page PNG of the current page as name.png when EnvScreenshots is
// set, at width px (the height follows the page).
func (b *browser) shot(name string, width int64) {
	b.t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return
	}
	b.do(chromedp.EmulateViewport(width, 900))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.do(chromedp.EmulateViewport(1280, 900))
}

// waitFor calls ok every 50 ms until it is true, failing the test after 20 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func q(s string) string { return url.QueryEscape(s) }
