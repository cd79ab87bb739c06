package tunnel

import (
	"bufio"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func TestProxyToken(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name      string
		values    []string
		wantToken string
	}{
		{"bearer", []string{"Bearer gth_abc"}, "gth_abc"},
		{"bearer lower case", []string{"bearer gth_abc"}, "gth_abc"},
		{"bearer extra spaces", []string{"  Bearer   gth_abc  "}, "gth_abc"},
		{"basic password is the token", []string{"Basic " + b64("x:gth_abc")}, "gth_abc"},
		{"basic user ignored", []string{"Basic " + b64("anything at all:gth_abc")}, "gth_abc"},
		{"basic colon in token", []string{"Basic " + b64("x:gth:abc")}, "gth:abc"},
		{"basic empty user", []string{"BASIC " + b64(":gth_abc")}, "gth_abc"},
		{"none", nil, ""},
		{"empty", []string{""}, ""},
		{"bearer empty", []string{"Bearer"}, ""},
		{"basic empty password", []string{"Basic " + b64("gth_abc:")}, ""},
		{"basic no colon", []string{"Basic " + b64("gth_abc")}, ""},
		{"basic bad base64", []string{"Basic gth_abc"}, ""},
		{"unknown scheme", []string{"Token gth_abc"}, ""},
		{"two headers", []string{"Bearer gth_abc", "Bearer gth_abc"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Proxy-Authorization": tc.values}
			token, problem := proxyToken(h)
			if token != tc.wantToken {
				t.Errorf("proxyToken(%q) = %q, want %q", tc.values, token, tc.wantToken)
			}
			if (problem == "") != (tc.wantToken != "") {
				t.Errorf("proxyToken(%q) problem = %q", tc.values, problem)
			}
			if problem != "" && strings.Contains(problem, "gth_") {
				t.Errorf("problem %q repeats the credentials", problem)
			}
		})
	}
}

// FuzzProxyToken: the parser never panics and its problem text never carries the header.
func FuzzProxyToken(f *testing.F) {
	for _, s := range []string{"Bearer gth_x", "Basic eDpndGhfeA==", "Basic", "", "basic :", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		token, problem := proxyToken(http.Header{"Proxy-Authorization": {v}})
		if (token == "") == (problem == "") {
			t.Fatalf("proxyToken(%q) = %q, %q: want exactly one", v, token, problem)
		}
		if problem != "" && len(v) > 8 && strings.Contains(problem, v) {
			t.Fatalf("problem %q repeats the header %q", problem, v)
		}
	})
}

func TestDestination(t *testing.T) {
	tests := []struct {
		name, method, target, want string
	}{
		{"connect", "CONNECT", "example.com:443", "example.com:443"},
		{"connect ipv6", "CONNECT", "[::1]:8443", "[::1]:8443"},
		{"connect no port", "CONNECT", "example.com", ""},
		{"connect bad port", "CONNECT", "example.com:99999", ""},
		{"connect signed port", "CONNECT", "example.com:+443", ""},
		{"absolute default port", "GET", "http://example.com/x", "example.com:80"},
		{"absolute port", "GET", "http://example.com:8080/x", "example.com:8080"},
		{"absolute https", "GET", "https://example.com/x", ""},
		{"origin form", "GET", "/x", ""},
		{"connect host too long", "CONNECT", strings.Repeat("a", 254) + ":443", ""},
		{"absolute host too long", "GET", "http://" + strings.Repeat("a", 254) + "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.ReadRequest(bufioReader(tc.method + " " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n"))
			if err != nil {
				if tc.want != "" {
					t.Fatalf("read request: %v", err)
				}
				return
			}
			got, problem := destination(r)
			if got != tc.want || (problem == "") != (tc.want != "") {
				t.Errorf("destination(%s %s) = %q, %q; want %q", tc.method, tc.target, got, problem, tc.want)
			}
		})
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
