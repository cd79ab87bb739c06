package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/hop"
)

// hasNamePrefix reports whether the normalized name n is p or starts with p + "-".
func hasNamePrefix(n, p string) bool {
	return n == p || len(n) > len(p) && n[len(p)] == '-' && n[:len(p)] == p
}

// dropRequestHeader reports whether a caller's header (by hop.Name) stays behind.
//
//   - Authorization, Cookie, Proxy-Authorization: the caller's own credentials are for
//     Gatehouse, never for the upstream; the connection's credential replaces them.
//   - X-Gatehouse-*: Gatehouse's own headers (request id and the like) are internal.
//   - Forwarded, X-Forwarded-*, X-Real-Ip: the caller must not be able to claim another
//     origin to the upstream, and Gatehouse deliberately adds none (the upstream sees
//     Gatehouse, which holds the shared identity, not the caller's network address).
//   - Host and Content-Length: set from the target and the body, never from the caller.
//   - X-Original-Url, X-Rewrite-Url, X-Http-Method-Override, X-Http-Method,
//     X-Method-Override, and nginx's X-Original-Uri and X-Original-Method: frameworks and
//     front ends (IIS, Symfony, Express, Rails, Google APIs, auth_request setups) that
//     honour them route by the URL or method they name instead of the request line's. The base path and the method are access decisions of the connection, taken
//     on the request line Gatehouse sends; an override header would let a grantee
//     leave the base path or turn a GET into a DELETE behind that decision.
//   - hop-by-hop headers.
func dropRequestHeader(n string) bool {
	switch n {
	case "Authorization", "Cookie", "Proxy-Authorization", "Forwarded", "X-Real-Ip",
		"Host", "Content-Length",
		"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
		"X-Original-Uri", "X-Original-Method":
		return true
	}
	return hop.ByHop(n) || hasNamePrefix(n, "X-Gatehouse") || hasNamePrefix(n, "X-Forwarded")
}

// dropResponseHeader reports whether an upstream response header (by hop.Name) stays
// behind.
//
//   - Set-Cookie (and the obsolete Set-Cookie2): the upstream session belongs to the
//     connection's shared identity. Passed on, it would be stored by a browser under
//     Gatehouse's origin, where it would leak to other callers' requests or let one
//     caller ride another's upstream session; callers get no cookie jar through a
//     connection.
//   - X-Gatehouse-*: an upstream must not be able to spoof X-Gatehouse-Request-Id or any
//     other header that callers trust to come from Gatehouse.
//   - Alt-Svc: it advertises the upstream's alternative endpoints, which would be read as
//     Gatehouse's own.
//   - hop-by-hop headers.
func dropResponseHeader(n string) bool {
	switch n {
	case "Set-Cookie", "Set-Cookie2", "Alt-Svc":
		return true
	}
	return hop.ByHop(n) || hasNamePrefix(n, "X-Gatehouse")
}

// outboundHeader builds the upstream request's header from the caller's: the stripping
// rules first, then the credential. The order matters: because the credential is set
// after everything the caller controls has been removed, neither the caller's own copy of
// the header nor "Connection: Authorization" (or the custom header's name) can replace or
// remove it.
func outboundHeader(in http.Header, authHeader, authValue string) (http.Header, error) {
	out := make(http.Header, len(in)+1)
	listed := hop.Listed(in)
	authName := ""
	if authHeader != "" {
		authName = hop.Name(authHeader)
	}
	for k, vv := range in {
		if !validHeaderName(k) {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "a request header name is not a valid HTTP token")
		}
		n := hop.Name(k)
		if dropRequestHeader(n) || listed[n] || n == authName {
			continue
		}
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vv {
			if !validHeaderValue(v) {
				return nil, catalog.Errorf(catalog.InvalidParameterValue, "request header %s has a value with control characters", ck)
			}
		}
		out[ck] = append(out[ck], vv...)
	}
	if _, ok := out["User-Agent"]; !ok {
		// An empty value stops net/http from adding its own; the upstream sees the
		// caller's user agent or none.
		out["User-Agent"] = []string{""}
	}
	if authHeader != "" {
		out[http.CanonicalHeaderKey(authHeader)] = []string{authValue}
	}
	return out, nil
}

// copyResponseHeader copies the upstream's headers to dst, less those that stay behind.
// Headers already in dst that the upstream does not send (X-Gatehouse-Request-Id, set by
// the caller) are left alone; the upstream cannot touch them, since every X-Gatehouse-*
// header of the upstream's is dropped.
func copyResponseHeader(dst, src http.Header) {
	listed := hop.Listed(src)
	for k, vv := range src {
		n := hop.Name(k)
		if dropResponseHeader(n) || listed[n] {
			continue
		}
		dst[k] = append([]string(nil), vv...)
	}
}

// The values isolateOrigin sends. They are shared by every response, so they have no
// spare capacity: an append to a header's values copies them instead of writing here.
var (
	sandboxCSP = []string{"sandbox"}
	nosniff    = []string{"nosniff"}
)

// isolateOrigin adds to a proxied response the headers that keep upstream content from
// acting as Gatehouse's own page. Upstream content is served on Gatehouse's origin,
// beside the sign-in pages and the console: an HTML or SVG answer (or one a browser
// sniffs as such) would run its scripts there, with the console's cookies and its
// same-origin access to the API.
//
//   - Content-Security-Policy: sandbox makes the browser treat the document as coming
//     from a unique opaque origin (no scripts, forms, plugins or same-origin access). It
//     is sent as a header of its own beside any policy of the upstream's, never merged
//     into it: every policy a response carries applies, so the upstream's rules still
//     hold and cannot weaken the sandbox.
//   - X-Content-Type-Options: nosniff stops the browser from reading a JSON or text
//     answer as HTML or script. It replaces whatever the upstream sent: nosniff is the
//     only value, and a browser reads only the first.
//
// API clients ignore both headers.
func isolateOrigin(h http.Header) {
	if csp := h["Content-Security-Policy"]; len(csp) > 0 {
		h["Content-Security-Policy"] = append(csp, sandboxCSP[0])
	} else {
		h["Content-Security-Policy"] = sandboxCSP[:1:1]
	}
	h["X-Content-Type-Options"] = nosniff[:1:1]
}

// keepTrailer reports whether an upstream trailer may reach the caller; trailers obey the
// response header rules.
func keepTrailer(k string, listed map[string]bool) bool {
	n := hop.Name(k)
	return !dropResponseHeader(n) && !listed[n] && n != "Content-Length"
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHeaderValue reports whether v may be sent as a header value: no control
// characters other than horizontal tab, so that no value can end the header line.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
