// Package hop knows which HTTP headers belong to one connection (one hop) rather than
// to the message, so that both of Gatehouse's proxies — the connection proxy and the
// egress tunnel — strip the same ones (RFC 9110 §7.6.1).
package hop

import (
	"net/http"
	"strings"
)

// byHop are the hop-by-hop headers, plus the proxy-authentication pair, which belongs
// to a proxy hop: Proxy-Authorization carries a caller's Gatehouse token, and a
// Proxy-Authenticate from an upstream would read as Gatehouse's own challenge.
var byHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
}

// Name is the name a header is matched by: canonical, with '_' read as '-'. Servers
// behind CGI-like gateways (and some proxies) treat X_Forwarded_For like
// X-Forwarded-For, so the underscore spelling must not slip past a rule written for the
// dash one.
func Name(k string) string {
	if strings.IndexByte(k, '_') >= 0 {
		k = strings.ReplaceAll(k, "_", "-")
	}
	return http.CanonicalHeaderKey(k)
}

// ByHop reports whether the header named n (by Name) is hop-by-hop.
func ByHop(n string) bool { return byHop[n] }

// Listed returns the names (by Name) that h's Connection headers list, which are
// hop-by-hop for this message too.
func Listed(h http.Header) map[string]bool {
	var names map[string]bool
	for k, vv := range h {
		if Name(k) != "Connection" {
			continue
		}
		for _, v := range vv {
			for f := range strings.SplitSeq(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					if names == nil {
						names = make(map[string]bool)
					}
					names[Name(f)] = true
				}
			}
		}
	}
	return names
}
