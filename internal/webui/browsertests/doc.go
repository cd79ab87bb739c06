// Package browsertests holds the browser acceptance tests of issue 12: Gatehouse's
// sign-in, single sign-on, MCP client consent and OAuth connection login pages driven
// in a real headless Chromium (internal/browsertest) against a real gatehouse server
// process (internal/gatehousetest) and real providers on loopback: an OpenID provider
// (ssotest), an OAuth authorization server (oauthtest), an MCP server (the go-sdk) and
// an MCP client written to the MCP authorization spec. The package has no code of its
// own; it is kept apart so that it runs in parallel with cmd/gatehouse's tests.
package browsertests
