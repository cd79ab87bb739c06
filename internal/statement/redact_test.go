package statement

import (
	"strings"
	"testing"
)

// secret stands for a credential in the redaction cases; it appears nowhere else.
const secret = "Zq9SECRETx"

// redactCases are statements holding secret in every place and spelling Redact must
// hide it, valid or not, with what Redact returns.
var redactCases = []struct {
	name, src, want string
}{
	{"bearer token", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'https://h', bearer_token '" + secret + "')",
		"CREATE CONNECTION c TYPE HTTP OPTIONS (host 'https://h', bearer_token '***')"},
	{"key in upper case", "create connection c type http options (BEARER_TOKEN '" + secret + "', host 'h')",
		"create connection c type http options (BEARER_TOKEN '***', host 'h')"},
	{"key in backticks", "ALTER CONNECTION c OPTIONS (`Client_Secret` '" + secret + "')",
		"ALTER CONNECTION c OPTIONS (`Client_Secret` '***')"},
	{"key in backticks with spaces", "ALTER CONNECTION c OPTIONS (` client_secret ` '" + secret + "')",
		"ALTER CONNECTION c OPTIONS (` client_secret ` '***')"},
	{"key in single quotes", "ALTER CONNECTION c OPTIONS ('client_secret' '" + secret + "')",
		"ALTER CONNECTION c OPTIONS ('client_secret' '***')"},
	{"escaped quotes in the value", "ALTER CONNECTION c OPTIONS (client_secret 'a''" + secret + "''b', host 'h')",
		"ALTER CONNECTION c OPTIONS (client_secret '***', host 'h')"},
	{"value without quotes", "ALTER CONNECTION c OPTIONS (bearer_token " + secret + ")",
		"ALTER CONNECTION c OPTIONS (bearer_token '***')"},
	{"value in several tokens", "ALTER CONNECTION c OPTIONS (bearer_token 'x' " + secret + " `" + secret + "`, host 'h')",
		"ALTER CONNECTION c OPTIONS (bearer_token '***', host 'h')"},
	{"value in parentheses", "ALTER CONNECTION c OPTIONS (bearer_token ('x', " + secret + "), host 'h')",
		"ALTER CONNECTION c OPTIONS (bearer_token '***', host 'h')"},
	{"value after an arrow", "ALTER CONNECTION c OPTIONS (bearer_token => '" + secret + "')",
		"ALTER CONNECTION c OPTIONS (bearer_token => '***')"},
	{"value with an equals sign", "ALTER CONNECTION c OPTIONS (bearer_token = '" + secret + "')",
		"ALTER CONNECTION c OPTIONS (bearer_token " + unreadable},
	{"unterminated value", "ALTER CONNECTION c OPTIONS (host 'h', bearer_token '" + secret,
		"ALTER CONNECTION c OPTIONS (host 'h', bearer_token " + unreadable},
	{"a quote inside the value", "ALTER CONNECTION c OPTIONS (bearer_token 'ab'" + secret + "')",
		"ALTER CONNECTION c OPTIONS (bearer_token '***' " + unreadable},
	{"options without parentheses", "CREATE CONNECTION c TYPE HTTP OPTIONS bearer_token '" + secret + "', host 'h'",
		"CREATE CONNECTION c TYPE HTTP OPTIONS bearer_token '***', host 'h'"},
	{"a connection named like a secret", "GRANT MANAGE ON CONNECTION bearer_token TO p; DROP CONNECTION client_secret",
		"GRANT MANAGE ON CONNECTION bearer_token TO p; DROP CONNECTION client_secret"},
	{"json without parentheses", "SELECT http_request json => '" + secret + "'",
		"SELECT http_request json => '***'"},
	{"secret in a comment", "ALTER CONNECTION c /* token " + secret + " */ ENABLE -- " + secret + "\n;",
		"ALTER CONNECTION c   ENABLE  \n;"},
	{"several statements", "ALTER CONNECTION a OPTIONS (bearer_token '" + secret + "');\nSHOW GRANTS bearer_token ON CONNECTION a;\nALTER CONNECTION b OPTIONS (client_secret '" + secret + "')",
		"ALTER CONNECTION a OPTIONS (bearer_token '***');\nSHOW GRANTS bearer_token ON CONNECTION a;\nALTER CONNECTION b OPTIONS (client_secret '***')"},

	{"header values", "SELECT http_request(conn => 'c', method => 'GET', path => '/', headers => map('Authorization', 'Bearer " + secret + "', 'X-Key', '" + secret + "'), params => map('page', '2'))",
		"SELECT http_request(conn => 'c', method => 'GET', path => '/', headers => map('Authorization', '***', 'X-Key', '***'), params => map('page', '2'))"},
	{"headers in any case", "SELECT http_request(HEADERS => MAP('a', '" + secret + "'))",
		"SELECT http_request(HEADERS => MAP('a', '***'))"},
	{"header value without its comma", "SELECT http_request(headers => map('Authorization' '" + secret + "', 'b', 'c'))",
		"SELECT http_request(headers => map('***', '***', '***'))"},
	{"header value after a missing comma", "SELECT http_request(headers => map('Authorization', Bearer " + secret + ", 'b', 'c'))",
		"SELECT http_request(headers => map('Authorization', '***', '***', '***'))"},
	{"header value without quotes", "SELECT http_request(headers => map('Authorization', Bearer " + secret + "))",
		"SELECT http_request(headers => map('Authorization', '***'))"},
	{"header key without quotes", "SELECT http_request(headers => map(" + secret + ", 'v'))",
		"SELECT http_request(headers => map('***', '***'))"},
	{"header key without a value", "SELECT http_request(headers => map('Authorization: Bearer " + secret + "'), conn => 'c')",
		"SELECT http_request(headers => map('***'), conn => 'c')"},
	{"header key before a missing comma", "SELECT http_request(headers => map('A' 'v', 'Authorization: " + secret + "'))",
		"SELECT http_request(headers => map('***', '***'))"},
	{"headers not a map", "SELECT http_request(headers => 'Authorization: " + secret + "', conn => 'c')",
		"SELECT http_request(headers => '***', conn => 'c')"},
	{"headers map without parenthesis", "SELECT http_request(headers => map '" + secret + "')",
		"SELECT http_request(headers => map '***')"},
	{"json body", "SELECT http_request(conn => 'c', json => '{\"password\": \"" + secret + "\"}', path => '/')",
		"SELECT http_request(conn => 'c', json => '***', path => '/')"},
	{"json body unquoted", "SELECT http_request(json => {" + secret + "})",
		"SELECT http_request(json => " + unreadable},
}

func TestRedact(t *testing.T) {
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.src)
			if got != tc.want {
				t.Errorf("Redact(%q)\n = %q\nwant %q", tc.src, got, tc.want)
			}
			if strings.Contains(got, secret) || strings.Contains(got, secret[2:8]) {
				t.Errorf("Redact(%q) = %q: the secret survives", tc.src, got)
			}
		})
	}
}

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
