// Package browsertests drives the web console (internal/console) in a real headless
// Chromium (internal/browsertest) against a real gatehouse server process
// (internal/gatehousetest): sign-in, the connection pages and wizard, the per-user
// sign-in button through a test OAuth provider, what a non-admin sees, CSRF and CSP as
// the browser enforces them, and (with GATEHOUSE_SCREENSHOTS set) screenshots of the
// pages. It holds only tests.
package browsertests
