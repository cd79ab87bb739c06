package hop

import (
	"net/http"
	"testing"
)

func TestHeaderRules(t *testing.T) {
	for in, want := range map[string]string{"x_forwarded_for": "X-Forwarded-For", "proxy_authorization": "Proxy-Authorization", "te": "Te"} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
	for _, n := range []string{"Connection", "Te", "Upgrade", "Proxy-Authorization", Name("proxy_authenticate")} {
		if !ByHop(n) {
			t.Errorf("ByHop(%s) = false, want true", n)
		}
	}
	if ByHop("Authorization") || ByHop("Content-Type") {
		t.Errorf("end-to-end headers reported as hop-by-hop")
	}
	got := Listed(http.Header{"Connection": {"keep-alive, X_Api_Key", " authorization "}, "connection": {"Cookie"}})
	for _, n := range []string{"Keep-Alive", "X-Api-Key", "Authorization"} {
		if !got[n] {
			t.Errorf("Listed lacks %s: %v", n, got)
		}
	}
}
