package browsertests

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/browsertest"
)

// page is one Chromium (a fresh profile) driven by a test. Every page it shows from
// Gatehouse is kept (its HTML) for the canary scan.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string // Gatehouse's base URL: pages under it are kept
	seen strings.Builder
}

func newPage(t *testing.T, base string) *page {
	t.Helper()
	return &page{t: t, ctx: browsertest.New(t), base: base}
}

// open navigates to u (as a typed address) and returns the final response, after
// redirects.
func (p *page) open(u string) *network.Response {
	p.t.Helper()
	resp, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		p.t.Fatalf("open %s: %v", u, err)
	}
	p.keep()
	return resp
}

// click clicks the element with the id, which must lead to a new page, and returns
// that page's response once it has loaded.
func (p *page) click(id string) *network.Response {
	p.t.Helper()
	resp, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.ID(id)))
	if err != nil {
		p.t.Fatalf("click #%s on %s: %v", id, p.location(), err)
	}
	p.keep()
	return resp
}

// press clicks the element with the id where that loads no new page (a summary
// that opens its details).
func (p *page) press(id string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.ID(id))); err != nil {
		p.t.Fatalf("click #%s on %s: %v", id, p.location(), err)
	}
}

// waitFor waits until an element with the id is visible, through the navigations
// in between (a page that sends the browser on by itself).
func (p *page) waitFor(id string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		p.t.Fatalf("wait for #%s (at %s): %v", id, p.location(), err)
	}
	p.keep()
}

// typeIn types text into the element with the id.
func (p *page) typeIn(id, text string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID(id), text)); err != nil {
		p.t.Fatalf("type into #%s on %s: %v", id, p.location(), err)
	}
}

// text is the visible text of the element with the id (waiting for it to exist).
func (p *page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		p.t.Fatalf("text of #%s on %s: %v\n%s", id, p.location(), err, p.html())
	}
	return strings.TrimSpace(s)
}

// has says whether the current page has an element with the id, without waiting.
func (p *page) has(id string) bool {
	p.t.Helper()
	return eval[bool](p, `document.getElementById(`+jsString(id)+`) !== null`)
}

// location is the address of the current page.
func (p *page) location() string {
	p.t.Helper()
	u, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("location: %v", err)
	}
	return u
}

// html is the current page's HTML.
func (p *page) html() string {
	p.t.Helper()
	return eval[string](p, `document.documentElement.outerHTML`)
}

// keep records the current page's HTML when it is Gatehouse's. The address and the
// HTML are read in one evaluation, so that a page that sends the browser on by itself
// cannot change in between.
func (p *page) keep() {
	p.t.Helper()
	v := eval[[2]string](p, `[location.href, document.documentElement ? document.documentElement.outerHTML : ""]`)
	if strings.HasPrefix(v[0], p.base+"/") {
		p.seen.WriteString(v[1])
		p.seen.WriteByte('\n')
	}
}

// eval evaluates a JavaScript expression in the current page (DevTools runs it
// whatever the page's CSP says; what it makes the page do is subject to the CSP).
func eval[T any](p *page, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("evaluate %.60s… on %s: %v", expr, p.location(), err)
	}
	return v
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "<", `\x3c`)
	return "'" + r.Replace(s) + "'"
}

// cookie returns the value of the browser's cookie name for the URL ("" if none).
func (p *page) cookie(u, name string) string {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		p.t.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the browser, as a stolen or kept cookie would be.
func (p *page) setCookie(u, name, value string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: u, HTTPOnly: new(true)}); err != nil {
		p.t.Fatalf("set cookie %s: %v", name, err)
	}
}

// header returns a response header, whatever its case.
func header(resp *network.Response, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// canaryScan fails the test if a secret appears in hay (what is shown as where), as
// written, form-escaped or in base64 (standard or URL alphabet, padded or not).
func canaryScan(t *testing.T, where, hay string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), base64.RawStdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(hay, form) {
				t.Errorf("%s contains %s (%.8s…)", where, name, s)
				break
			}
		}
	}
}
