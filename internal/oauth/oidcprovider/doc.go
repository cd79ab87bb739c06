// Package oidcprovider holds Gatehouse's interoperability tests against a second,
// independent authorization server: panva's oidc-provider (a certified OpenID
// Provider, from the npm registry) run under Node with its defaults plus rotating
// refresh tokens, introspection, revocation and client credentials.
//
// The Node project is package.json, package-lock.json and server.js in this folder;
// `npm ci --no-audit --no-fund` here installs it (.ci/run does). The tests build the
// gatehouse binary once, run it as a subprocess on 127.0.0.1:0, start server.js on
// loopback HTTPS with a certificate they generate, and drive the API and the browser
// login flow over HTTP. Without node_modules the tests fail, naming .ci/run and npm
// ci; a developer without Node sets GATEHOUSE_TEST_SKIP_NODE=1 to skip them.
//
// The package has no code outside its tests.
package oidcprovider
