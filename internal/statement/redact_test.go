package statement

import (
	"strings"
	"testing"
)

// secret stands for a credential in TestRedactedText; it appears nowhere else.
const secret = "Zq9SECRETx"

// TestRedactedText checks the canonical printer's redaction, and that it hides nothing
// else.
func TestRedactedText(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"create", "create connection c type http options (host 'h', Bearer_Token '" + secret + "', client_secret 'a''" + secret + "') comment 'c'",
			"CREATE CONNECTION c TYPE HTTP OPTIONS (host 'h', Bearer_Token '***', client_secret '***') COMMENT 'c'"},
		{"alter", "ALTER CONNECTION c OPTIONS (`CLIENT_SECRET` '" + secret + "', client_id 'id')",
			"ALTER CONNECTION c OPTIONS (CLIENT_SECRET '***', client_id 'id')"},
		{"http_request", "SELECT http_request(conn => 'c', method => 'POST', path => '/p', headers => map('Authorization', '" + secret + "'), params => map('q', 'v'), json => '{\"k\": \"" + secret + "\"}')",
			"SELECT http_request(conn => 'c', method => 'POST', path => '/p', headers => map('Authorization', '***'), params => map('q', 'v'), json => '***')"},
		{"nothing secret", "GRANT USE CONNECTION ON CONNECTION github TO data-eng", "GRANT USE CONNECTION ON CONNECTION github TO data-eng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := RedactedText(s); got != tc.want {
				t.Errorf("RedactedText = %q, want %q", got, tc.want)
			}
			if !strings.Contains(tc.src, secret) {
				return
			}
			if got := Text(s); !strings.Contains(got, secret) {
				t.Errorf("Text = %q: the secret should be there, unredacted", got)
			}
		})
	}
}
