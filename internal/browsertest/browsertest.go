// Package browsertest starts a real headless Chromium for tests of Gatehouse's browser
// pages (sign-in, consent, the console), driven over the DevTools protocol with chromedp.
//
// The browser is Debian's `chromium` (or the program in GATEHOUSE_TEST_CHROMIUM); a test
// that needs one fails, never skips, when none is installed — `.ci/run` installs it. Each
// call to New gives a fresh browser profile in a temporary folder (no cookies shared
// between tests), and the browser is stopped when the test ends. Tests reach only loopback
// addresses.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the variable that points at a Chromium executable.
const EnvChromium = "GATEHOUSE_TEST_CHROMIUM"

// Timeout bounds every browser test's actions; a page that never loads fails the test
// instead of hanging it.
const Timeout = 60 * time.Second

// Executable returns the Chromium to run, or "" when none is found.
func Executable() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium with a fresh profile and returns a context to run
// chromedp actions in. It fails the test when no browser is installed. The browser
// accepts the self-signed certificates of loopback test servers.
func New(t testing.TB) context.Context {
	t.Helper()
	exe := Executable()
	if exe == "" {
		t.Fatalf("browsertest: Chromium is needed (apt-get install chromium, or set %s)", EnvChromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// Start the browser now, so that a browser that cannot start fails here, by name.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("browsertest: start %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	return bctx
}
