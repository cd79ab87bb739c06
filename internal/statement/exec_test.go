package statement

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func TestActionAndConnectionOf(t *testing.T) {
	tests := []struct {
		src, action, conn string
	}{
		{"CREATE CONNECTION GitHub TYPE HTTP OPTIONS (host 'https://x.example.com', bearer_token 'x')", catalog.ActionCreateConnection, "GitHub"},
		{"ALTER CONNECTION gh DISABLE", catalog.ActionUpdateConnection, "gh"},
		{"DROP CONNECTION IF EXISTS gh", catalog.ActionDeleteConnection, "gh"},
		{"GRANT USE CONNECTION ON CONNECTION gh TO data-eng", catalog.ActionUpdatePermissions, "gh"},
		{"REVOKE MANAGE ON CONNECTION `g-h` FROM bob", catalog.ActionUpdatePermissions, "g-h"},
		{"GRANT CREATE CONNECTION ON METASTORE TO bob", catalog.ActionUpdatePermissions, ""},
		// Reads are not audited; http_request is audited by the call it makes.
		{"DESCRIBE CONNECTION gh", "", ""},
		{"SHOW CONNECTIONS", "", ""},
		{"SHOW GRANTS ON CONNECTION gh", "", ""},
		{"SELECT http_request(conn => 'gh', method => 'GET', path => '/')", "", ""},
	}
	for _, tc := range tests {
		s, err := Parse(tc.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.src, err)
		}
		if got := Action(s); got != tc.action {
			t.Errorf("Action(%q) = %q, want %q", tc.src, got, tc.action)
		}
		if got := ConnectionOf(s); got != tc.conn {
			t.Errorf("ConnectionOf(%q) = %q, want %q", tc.src, got, tc.conn)
		}
	}
}

func TestCreateRequest(t *testing.T) {
	s, err := Parse("CREATE CONNECTION c TYPE HTTP OPTIONS (HOST 'https://x.example.com', Credential_Type 'oauth_m2m', client_secret 's') COMMENT 'it''s'")
	if err != nil {
		t.Fatal(err)
	}
	req := createRequest(s.(*CreateConnection))
	if req.Name != "c" || req.ConnectionType != "HTTP" || req.CredentialType != "oauth_m2m" || req.Comment != "it's" {
		t.Errorf("createRequest = %+v", req)
	}
	if len(req.Options) != 2 || req.Options["host"] != "https://x.example.com" || req.Options["client_secret"] != "s" {
		t.Errorf("options = %v, want host and client_secret with lower-case keys, credential_type taken out", req.Options)
	}
}

func TestOptionDiffs(t *testing.T) {
	stored := map[string]string{"host": "https://x.example.com", "base_path": "/v1", "oauth_credential_exchange_method": "header_and_body"}
	tests := []struct {
		name     string
		declared map[string]string
		want     string
	}{
		{"same, the exchange method the server chose left out", map[string]string{"host": "https://x.example.com", "base_path": "/v1"}, ""},
		{"a given one is compared", map[string]string{"host": "https://x.example.com", "base_path": "/v1", "oauth_credential_exchange_method": "body_only"}, "options.oauth_credential_exchange_method"},
		{"changed and removed", map[string]string{"host": "https://y.example.com"}, "options.base_path,options.host"},
		{"added", map[string]string{"host": "https://x.example.com", "base_path": "/v1", "port": "8443"}, "options.port"},
		{"a secret given is a change", map[string]string{"host": "https://x.example.com", "base_path": "/v1", "bearer_token": "t"}, "bearer_token (a secret, replaced)"},
	}
	for _, tc := range tests {
		if got := strings.Join(optionDiffs(stored, tc.declared), ","); got != tc.want {
			t.Errorf("%s: optionDiffs = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzLike checks the LIKE matcher against a regular expression built from the same
// pattern: the same answer, for any pattern and name.
func FuzzLike(f *testing.F) {
	for _, s := range [][2]string{{"git%", "github"}, {"%a%b%", "xaxbx"}, {"a\\_b", "a_b"}, {"_%_", "ab"}, {"%\\", "x\\"}, {"é_", "éa"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 256 || !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			return
		}
		var re strings.Builder
		re.WriteString("^(?s)")
		p := []rune(strings.ToLower(pattern))
		for i := 0; i < len(p); i++ {
			switch {
			case p[i] == '%':
				re.WriteString(".*")
			case p[i] == '_':
				re.WriteString(".")
			case p[i] == '\\' && i+1 < len(p):
				i++
				re.WriteString(regexp.QuoteMeta(string(p[i])))
			case p[i] == '\\':
				// A trailing backslash escapes nothing and matches nothing.
				re.WriteString("[^\\x00-\\x{10FFFF}]")
			default:
				re.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(strings.ToLower(name))
		if got := likeMatcher(pattern)(name); got != want {
			t.Fatalf("LIKE %q on %q = %v, the regexp %s says %v", pattern, name, got, re.String(), want)
		}
	})
}
