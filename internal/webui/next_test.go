package webui

import (
	"net/url"
	"strings"
	"testing"
)

// TestSafeNext is the permanent table of open-redirect attempts on the next parameter.
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct {
		next string
		want string
	}{
		{"/connections/github/login", "/connections/github/login"},
		{"/login", "/login"},
		{"/connections/a%2Fb/login?x=1", "/connections/a%2Fb/login?x=1"},
		{"/", "/"},
		{"", ""},
		{"//evil.com", ""},
		{"//evil.com/path", ""},
		{"/\\evil.com", ""},
		{"/\\/evil.com", ""},
		{"\\\\evil.com", ""},
		{"https://evil.com", ""},
		{"http://evil.com/", ""},
		{"https:evil.com", ""},
		{"javascript:alert(1)", ""},
		{"JavaScript:alert(1)", ""},
		{"data:text/html,hi", ""},
		{"evil.com", ""},
		{" /x", ""},
		{" //evil.com", ""},
		{"/\t/evil.com", ""},
		{"/\n/evil.com", ""},
		{"/\r\nSet-Cookie: a=b", ""},
		{"/x\\..\\..\\evil.com", ""},
		{"/x y", ""},
		{"/\x00", ""},
		{"/é", ""},
		{"/" + strings.Repeat("a", maxNext), ""},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// FuzzSafeNext checks that whatever safeNext accepts stays on this host when a browser
// resolves it.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/connections/github/login", "//evil.com", "/\\evil.com", "https://evil.com",
		"javascript:alert(1)", "/\t/evil.com", "/a/../..//b", "/%2F%2Fevil.com", "/?next=//evil.com", "/#//evil.com"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://gatehouse.example.com/login")
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("safeNext(%q) = %q, want the input or \"\"", s, got)
		}
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\ \t\r\n") {
			t.Fatalf("safeNext(%q) accepted a path a browser may read as another host", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				t.Fatalf("safeNext(%q) accepted byte %#x", s, s[i])
			}
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("safeNext(%q) accepted an unparsable URL: %v", s, err)
		}
		if r := base.ResolveReference(u); r.Scheme != base.Scheme || r.Host != base.Host || r.User != nil {
			t.Fatalf("safeNext(%q) resolves to %s, off this host", s, r)
		}
	})
}
