package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// FuzzCleanPath checks the properties Forward relies on: whatever CleanPath accepts has,
// once decoded, no "." or ".." segment, no empty segment (but a trailing slash), no
// backslash or control character; joined under a base path it stays under it; and the
// URL built from it has the target's host and is sent with exactly the escaped path that
// was checked.
func FuzzCleanPath(f *testing.F) {
	for _, tt := range badPaths {
		f.Add(tt.path)
	}
	for _, tt := range goodPaths {
		f.Add(tt.path)
	}
	for _, s := range []string{"/%2E", "/..%00", "/%u002e%u002e", "/..%2f..%2fetc", "/;/..;", "/a/%252e%252e/b", "/\u2024\u2024/x", "/%ef%bc%8e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanPath(in)
		if err != nil {
			var ce *catalog.Error
			if !errors.As(err, &ce) || ce.Code != catalog.InvalidParameterValue {
				t.Fatalf("CleanPath(%q) error %v is not INVALID_PARAMETER_VALUE", in, err)
			}
			return
		}
		if again, err := CleanPath(out); err != nil || again != out {
			t.Fatalf("CleanPath is not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if out == "" {
			if in != "" {
				t.Fatalf("CleanPath(%q) = \"\"", in)
			}
			return
		}
		dec, err := url.PathUnescape(out)
		if err != nil {
			t.Fatalf("CleanPath(%q) = %q, which does not decode: %v", in, out, err)
		}
		if dec != decodePath(out) {
			t.Fatalf("decodePath(%q) = %q, url.PathUnescape = %q", out, decodePath(out), dec)
		}
		if !strings.HasPrefix(dec, "/") {
			t.Fatalf("CleanPath(%q) = %q, decoded %q does not start with /", in, out, dec)
		}
		segs := strings.Split(dec[1:], "/")
		for i, s := range segs {
			if s == "" && i != len(segs)-1 {
				t.Fatalf("CleanPath(%q) = %q has an empty segment", in, out)
			}
			name, _, _ := strings.Cut(s, ";")
			if name == "." || name == ".." {
				t.Fatalf("CleanPath(%q) = %q has a dot segment", in, out)
			}
		}
		for i := 0; i < len(dec); i++ {
			if c := dec[i]; c == '\\' || c < 0x20 || c == 0x7f {
				t.Fatalf("CleanPath(%q) = %q decodes to a backslash or control character", in, out)
			}
		}
		joined := "/base" + out
		if !strings.HasPrefix(joined, "/base/") {
			t.Fatalf("joined %q is not under /base/", joined)
		}
		if c := path.Clean("/base" + dec); c != "/base" && !strings.HasPrefix(c, "/base/") {
			t.Fatalf("CleanPath(%q) = %q, which a normalizing upstream reads as %q", in, out, c)
		}
		u, err := url.Parse("https://api.example.com" + joined)
		if err != nil || u.Host != "api.example.com" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			u.Path != "/base"+dec || u.EscapedPath() != joined {
			t.Fatalf("CleanPath(%q) = %q: URL %#v, err %v", in, out, u, err)
		}
	})
}

// FuzzParseExternalFunction: no input panics, every refusal is INVALID_PARAMETER_VALUE,
// and every accepted call passes Forward's own checks.
func FuzzParseExternalFunction(f *testing.F) {
	seeds := []string{
		`{"connection_name":"github","method":"get","path":"/repos/o/r"}`,
		`{"connection_name":"c","method":"POST","path":"/x","headers":{"Accept":"a"},"params":{"q":"1"},"json":{"a":[1,2,{"b":null}]}}`,
		`{"connection_name":"c","method":"POST","path":"/x","headers":"{\"Accept\":\"a\"}","params":"{\"q\":\"1\"}","json":"{\"a\":1}"}`,
		`{"connection_name":"c","method":"PUT","path":"/a b/ü","body":"aGVsbG8="}`,
		`{"connection_name":"c","method":"POST","path":"/","json":1,"body":"eA=="}`,
		`{"connection_name":"c","method":"GET","path":"/a?b"}`,
		`{"connection_name":"c","method":"GET","path":"/%2e%2e/"}`,
		`{"connection_name":"c","method":"GET","path":"/","headers":{"X":"a\r\nb"}}`,
		`{"connection_name":"c","method":"GET","path":"/","extra":1}`,
		`{"connection_name":"c","method":"GET","path":"/","headers":"\"nested\""}`,
		`[]`, `null`, `""`, `{`, ``,
	}
	for _, tt := range externalCases {
		seeds = append(seeds, tt.body)
	}
	for _, tt := range externalErrorCases {
		seeds = append(seeds, tt.body)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		name, c, err := ParseExternalFunction(body)
		if err != nil {
			var ce *catalog.Error
			if !errors.As(err, &ce) || ce.Code != catalog.InvalidParameterValue || ce.HTTPStatus() != 400 {
				t.Fatalf("error %#v is not a 400 INVALID_PARAMETER_VALUE", err)
			}
			return
		}
		if name == "" {
			t.Fatal("accepted an empty connection name")
		}
		if !externalMethods[c.Method] {
			t.Fatalf("accepted method %q", c.Method)
		}
		if clean, err := CleanPath(c.Path); err != nil || clean != c.Path || c.Path == "" {
			t.Fatalf("accepted path %q, which CleanPath turns into %q, %v", c.Path, clean, err)
		}
		if err := checkQuery(c.RawQuery); err != nil {
			t.Fatalf("accepted a query Forward refuses: %q", c.RawQuery)
		}
		if _, err := outboundHeader(c.Header, "Authorization", "x"); err != nil {
			t.Fatalf("accepted headers Forward refuses: %v", err)
		}
		if c.Body != nil {
			n, err := io.Copy(io.Discard, c.Body)
			if err != nil || n != c.ContentLength {
				t.Fatalf("body has %d bytes, ContentLength %d", n, c.ContentLength)
			}
		} else if c.ContentLength != 0 {
			t.Fatalf("no body, ContentLength %d", c.ContentLength)
		}
	})
}

// FuzzBasePathSendable checks that every base_path the catalog accepts is one the proxy
// can send: the target passes Forward's own checks, and the request it builds, alone and
// joined with a caller's path, has the connection's host and sends the base path exactly
// as stored, so that no call through a connection with an accepted base_path can fail
// with a server error because of it.
func FuzzBasePathSendable(f *testing.F) {
	for _, s := range []string{"/v1", "/v1/api/", "/a\"b", "/ü", "/a b", "/v1?x", "/v1#x", "/%zz", "/a%20b",
		"/a\x01b", "/..;x", "/.;/a", "/a/;b", "/@:!$&'()*+,;=", "/~user", "/a\\b", "/a|b", "/", ""} {
		f.Add(s, "/repos/o/r")
	}
	f.Add("/v1", "")
	f.Add("/v1", "/a%20b/ü/")
	f.Fuzz(func(t *testing.T, basePath, sub string) {
		opts, err := catalog.ValidateOptions(catalog.BearerToken, map[string]string{
			catalog.OptHost: "https://api.example.com", catalog.OptBearerToken: "tok", catalog.OptBasePath: basePath,
		}, catalog.ValidationPolicy{})
		if err != nil {
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				t.Fatalf("base_path %q: error code %s, want INVALID_PARAMETER_VALUE", basePath, catalog.CodeOf(err))
			}
			return
		}
		bp := opts[catalog.OptBasePath]
		p := New(Config{})
		tgt := Target{Scheme: "https", Host: "api.example.com", BasePath: bp, AuthHeader: "Authorization", AuthValue: "Bearer x"}
		if err := p.checkTarget(tgt); err != nil {
			t.Fatalf("accepted base_path %q (stored %q) fails the proxy's target check: %v", basePath, bp, err)
		}
		for _, path := range []string{"", "/", sub} {
			cleaned, err := CleanPath(path)
			if err != nil {
				continue // the caller's path is refused with a 400 of its own
			}
			req, err := p.prepare(tgt, Call{Method: "GET", Path: path, Header: http.Header{}})
			if err != nil {
				t.Fatalf("accepted base_path %q, path %q: prepare: %v", bp, path, err)
			}
			want := bp + cleaned
			if want == "" {
				want = "/"
			}
			if req.URL.EscapedPath() != want || req.URL.RequestURI() != want {
				t.Fatalf("base_path %q + path %q: request line %q (escaped path %q), want %q", bp, path, req.URL.RequestURI(), req.URL.EscapedPath(), want)
			}
			u, err := url.ParseRequestURI(req.URL.RequestURI())
			if err != nil || u.Path != req.URL.Path || u.EscapedPath() != want || u.RawQuery != "" || u.Fragment != "" {
				t.Fatalf("base_path %q + path %q: request line %q does not parse back: %v", bp, path, req.URL.RequestURI(), err)
			}
			if req.URL.Host != "api.example.com" {
				t.Fatalf("base_path %q moved the host to %q", bp, req.URL.Host)
			}
			if bp != "" && !strings.HasPrefix(u.Path, bp) {
				t.Fatalf("request path %q is not under base_path %q", u.Path, bp)
			}
		}
	})
}
