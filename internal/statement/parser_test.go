package statement

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

func id(v string) Ident { return Ident{Value: v} }

func conn(name string) Securable {
	return Securable{Type: catalog.SecurableConnection, Name: id(name)}
}

var metastore = Securable{Type: catalog.SecurableMetastore}

// ignorePos compares trees without their positions (TestPositions checks those).
var ignorePos = cmpopts.IgnoreTypes(Pos{})

// validStatements are statements of every form of issue 14 with the tree each parses to.
var validStatements = []struct {
	name string
	src  string
	want Statement
}{
	// The seed's own examples, verbatim.
	{"seed grant", "GRANT USE CONNECTION ON CONNECTION github TO data-eng",
		&Grant{Privileges: []string{"USE_CONNECTION"}, Securable: conn("github"), Principal: id("data-eng")}},
	{"seed revoke", "REVOKE USE CONNECTION ON CONNECTION github FROM data-eng",
		&Revoke{Privileges: []string{"USE_CONNECTION"}, Securable: conn("github"), Principal: id("data-eng")}},
	{"design create", "CREATE CONNECTION github TYPE HTTP OPTIONS (host 'https://api.github.com', bearer_token 'ghp_x')",
		&CreateConnection{Name: id("github"), Type: "HTTP", Options: []Option{{Key: "host", Value: "https://api.github.com"}, {Key: "bearer_token", Value: "ghp_x"}}}},
	{"design http_request", "SELECT http_request(conn => 'github', method => 'GET', path => '/user')",
		&SelectHTTPRequest{Conn: StringArg{Value: "github"}, Method: StringArg{Value: "GET"}, Path: StringArg{Value: "/user"}}},

	{"keywords in any case", "gRaNt use Connection on connection GitHub to Data-Eng;",
		&Grant{Privileges: []string{"USE_CONNECTION"}, Securable: conn("GitHub"), Principal: id("Data-Eng")}},
	{"several privileges", "GRANT USE CONNECTION, MANAGE, ALL PRIVILEGES ON CONNECTION c TO `alice@example.com`",
		&Grant{Privileges: []string{"USE_CONNECTION", "MANAGE", "ALL_PRIVILEGES"}, Securable: conn("c"), Principal: id("alice@example.com")}},
	{"ALL alone", "GRANT ALL ON CONNECTION c TO g",
		&Grant{Privileges: []string{"ALL_PRIVILEGES"}, Securable: conn("c"), Principal: id("g")}},
	{"API spellings", "REVOKE use_connection, all_privileges, Manage ON CONNECTION c FROM g",
		&Revoke{Privileges: []string{"USE_CONNECTION", "ALL_PRIVILEGES", "MANAGE"}, Securable: conn("c"), Principal: id("g")}},
	{"grant on metastore", "GRANT CREATE CONNECTION ON METASTORE TO `alice@example.com`",
		&Grant{Privileges: []string{"CREATE_CONNECTION"}, Securable: metastore, Principal: id("alice@example.com")}},
	{"revoke on metastore", "revoke create_connection on metastore from users",
		&Revoke{Privileges: []string{"CREATE_CONNECTION"}, Securable: metastore, Principal: id("users")}},
	{"privilege mismatch is the domain's", "GRANT MANAGE ON METASTORE TO p",
		&Grant{Privileges: []string{"MANAGE"}, Securable: metastore, Principal: id("p")}},

	{"create everything", "CREATE CONNECTION IF NOT EXISTS `my.api` TYPE http OPTIONS (host 'https://x.example', credential_type 'BEARER_TOKEN', bearer_token 'it''s') COMMENT 'Bob''s API'",
		&CreateConnection{IfNotExists: true, Name: id("my.api"), Type: "HTTP", Options: []Option{
			{Key: "host", Value: "https://x.example"}, {Key: "credential_type", Value: "BEARER_TOKEN"}, {Key: "bearer_token", Value: "it's"}},
			Comment: ptr("Bob's API")}},
	{"create with a backtick in a name", "CREATE CONNECTION `we``ird` TYPE HTTP OPTIONS (host 'h')",
		&CreateConnection{Name: id("we`ird"), Type: "HTTP", Options: []Option{{Key: "host", Value: "h"}}}},
	{"create named like a keyword", "CREATE CONNECTION if TYPE HTTP OPTIONS (`comment` '', host 'h')",
		&CreateConnection{Name: id("if"), Type: "HTTP", Options: []Option{{Key: "comment", Value: ""}, {Key: "host", Value: "h"}}}},
	{"create named with a digit first and dashes", "CREATE CONNECTION 3scale-api-v2 TYPE HTTP OPTIONS (host 'h')",
		&CreateConnection{Name: id("3scale-api-v2"), Type: "HTTP", Options: []Option{{Key: "host", Value: "h"}}}},
	{"unicode in strings", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'h') COMMENT 'héllo — ✓ 日本'",
		&CreateConnection{Name: id("c"), Type: "HTTP", Options: []Option{{Key: "host", Value: "h"}}, Comment: ptr("héllo — ✓ 日本")}},
	{"multi-line string", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'h') COMMENT 'a\nb'",
		&CreateConnection{Name: id("c"), Type: "HTTP", Options: []Option{{Key: "host", Value: "h"}}, Comment: ptr("a\nb")}},

	{"alter owner", "ALTER CONNECTION github OWNER TO `bob@example.com`",
		&AlterConnection{Name: id("github"), OwnerTo: ptr(id("bob@example.com"))}},
	{"alter set owner", "alter connection github set owner to data-eng",
		&AlterConnection{Name: id("github"), OwnerTo: ptr(id("data-eng"))}},
	{"alter options", "ALTER CONNECTION github OPTIONS (host 'https://h2', bearer_token 'new')",
		&AlterConnection{Name: id("github"), Options: []Option{{Key: "host", Value: "https://h2"}, {Key: "bearer_token", Value: "new"}}}},
	{"alter rename", "ALTER CONNECTION github RENAME TO gh2",
		&AlterConnection{Name: id("github"), RenameTo: ptr(id("gh2"))}},
	{"alter enable", "ALTER CONNECTION github ENABLE", &AlterConnection{Name: id("github"), Enabled: ptr(true)}},
	{"alter disable", "ALTER CONNECTION github disable", &AlterConnection{Name: id("github"), Enabled: ptr(false)}},

	{"drop", "DROP CONNECTION github", &DropConnection{Name: id("github")}},
	{"drop if exists", "drop connection if exists github", &DropConnection{IfExists: true, Name: id("github")}},
	{"drop a connection named if", "DROP CONNECTION if", &DropConnection{Name: id("if")}},

	{"describe", "DESCRIBE CONNECTION github", &DescribeConnection{Name: id("github")}},
	{"desc extended", "DESC CONNECTION EXTENDED github", &DescribeConnection{Extended: true, Name: id("github")}},
	{"describe a connection named extended", "DESCRIBE CONNECTION extended", &DescribeConnection{Name: id("extended")}},

	{"show connections", "SHOW CONNECTIONS", &ShowConnections{}},
	{"show connections like", "show connections like 'git%'", &ShowConnections{Like: ptr("git%")}},
	{"show grants", "SHOW GRANTS ON CONNECTION github", &ShowGrants{Connection: id("github")}},
	{"show grants of a principal", "SHOW GRANTS `alice@example.com` ON CONNECTION github",
		&ShowGrants{Principal: ptr(id("alice@example.com")), Connection: id("github")}},
	{"show grants of a dashed principal", "SHOW GRANTS data-eng ON CONNECTION github",
		&ShowGrants{Principal: ptr(id("data-eng")), Connection: id("github")}},
	{"show grants of a principal named on", "SHOW GRANTS on ON CONNECTION github",
		&ShowGrants{Principal: ptr(id("on")), Connection: id("github")}},

	{"http_request, every argument", "SELECT http_request(conn => 'github', method => 'POST', path => '/repos', headers => map('Accept', 'application/json', 'X-Key', 'k'), params => map('page', '2'), json => '{\"a\": \"it''s\"}')",
		&SelectHTTPRequest{Conn: StringArg{Value: "github"}, Method: StringArg{Value: "POST"}, Path: StringArg{Value: "/repos"},
			Headers: &Map{Entries: []MapEntry{{Key: "Accept", Value: "application/json"}, {Key: "X-Key", Value: "k"}}},
			Params:  &Map{Entries: []MapEntry{{Key: "page", Value: "2"}}},
			JSON:    &StringArg{Value: `{"a": "it's"}`}}},
	{"http_request, any order and case, empty map", "select HTTP_REQUEST(PATH => '/x', Json => '{}', conn => 'c', headers => MAP(), method => 'get')",
		&SelectHTTPRequest{Conn: StringArg{Value: "c"}, Method: StringArg{Value: "get"}, Path: StringArg{Value: "/x"},
			Headers: &Map{Entries: []MapEntry{}}, JSON: &StringArg{Value: "{}"}}},

	{"comments everywhere", "-- a grant\n/* block\n comment */ GRANT /* here */ USE -- there\n CONNECTION ON CONNECTION c TO p -- end",
		&Grant{Privileges: []string{"USE_CONNECTION"}, Securable: conn("c"), Principal: id("p")}},
	{"a comment that looks like a dash", "GRANT MANAGE ON CONNECTION c TO data--eng\n",
		&Grant{Privileges: []string{"MANAGE"}, Securable: conn("c"), Principal: id("data")}},
	{"semicolons around", ";; SHOW CONNECTIONS ;;", &ShowConnections{}},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validStatements {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tc.src, err)
			}
			if d := cmp.Diff(tc.want, got, ignorePos); d != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.src, d)
			}
			// The canonical text reads back as the same statement, its redacted text
			// hides the secrets, and the canonical text is stable.
			checkRoundTrip(t, got)
			again, _ := Parse(Text(got))
			if t2 := Text(again); t2 != Text(got) {
				t.Errorf("Text not stable: %q then %q", Text(got), t2)
			}
		})
	}
}

// TestText checks the canonical form of a few statements exactly.
func TestText(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"seed grant", "grant use connection on connection github to data-eng", "GRANT USE CONNECTION ON CONNECTION github TO data-eng"},
		{"names quoted where needed", "ALTER CONNECTION `if` OWNER TO `alice@example.com`", "ALTER CONNECTION `if` OWNER TO `alice@example.com`"},
		{"backtick and quote escapes", "CREATE CONNECTION `a``b` TYPE HTTP OPTIONS (host 'it''s') COMMENT ''''",
			"CREATE CONNECTION `a``b` TYPE HTTP OPTIONS (host 'it''s') COMMENT ''''"},
		{"privileges as the seed writes them", "REVOKE use_connection, all ON METASTORE FROM `p q`", "REVOKE USE CONNECTION, ALL PRIVILEGES ON METASTORE FROM `p q`"},
		{"arguments in canonical order", "SELECT http_request(json => '{}', path => '/', method => 'GET', conn => 'c')",
			"SELECT http_request(conn => 'c', method => 'GET', path => '/', json => '{}')"},
		{"desc and set owner canonical", "desc connection x", "DESCRIBE CONNECTION x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := Text(s); got != tc.want {
				t.Errorf("Text(Parse(%q)) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestPositions checks the positions parsed nodes carry (bytes for Offset, characters
// for Col, on several lines) against hand-counted values and against the text found
// there.
func TestPositions(t *testing.T) {
	src := "/* é */ CREATE CONNECTION\n  `日本` TYPE HTTP OPTIONS (\n\thost 'é', bearer_token 't')"
	s, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	c := s.(*CreateConnection)
	src2 := "SELECT http_request(conn => 'c', method => 'GET',\n path => '/p', headers => map('A', 'b'))"
	s2, err := Parse(src2)
	if err != nil {
		t.Fatal(err)
	}
	r := s2.(*SelectHTTPRequest)
	for _, tc := range []struct {
		what, src string
		got, want Pos
		text      string
	}{
		{"statement", src, c.Pos, Pos{Offset: 9, Line: 1, Col: 9}, "CREATE"},
		{"name", src, c.Name.Pos, Pos{Offset: 29, Line: 2, Col: 3}, "`日本`"},
		{"first option", src, c.Options[0].Pos, Pos{Offset: 59, Line: 3, Col: 2}, "host"},
		{"second option", src, c.Options[1].Pos, Pos{Offset: 70, Line: 3, Col: 12}, "bearer_token"},
		{"conn", src2, r.Conn.Pos, Pos{Offset: 28, Line: 1, Col: 29}, "'c'"},
		{"path", src2, r.Path.Pos, Pos{Offset: 59, Line: 2, Col: 10}, "'/p'"},
		{"headers map", src2, r.Headers.Pos, Pos{Offset: 76, Line: 2, Col: 27}, "map("},
		{"header entry", src2, r.Headers.Entries[0].Pos, Pos{Offset: 80, Line: 2, Col: 31}, "'A'"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s at %+v, want %+v", tc.what, tc.got, tc.want)
		}
		checkPos(t, tc.src, tc.got, tc.text)
	}
}

// invalidStatements are statements the parser refuses, with the exact position and
// message of the error.
var invalidStatements = []struct {
	name      string
	src       string
	line, col int
	msg       string
}{
	{"empty", "", 1, 1, "expected a statement, found end of input"},
	{"only a comment", "-- nothing\n", 2, 1, "expected a statement, found end of input"},
	{"unknown statement", "UPDATE connections", 1, 1, "expected a statement (CREATE, ALTER, DROP, DESCRIBE, SHOW, GRANT, REVOKE or SELECT), found 'UPDATE'"},
	{"drop table", "DROP TABLE t", 1, 6, "expected CONNECTION after DROP, found 'TABLE'"},
	{"trailing words", "DROP CONNECTION a b", 1, 19, "expected ';' or end of input after the statement, found 'b'"},
	{"two statements", "DROP CONNECTION a; DROP CONNECTION b", 1, 20, "expected one statement, found a second one (run several with a script)"},
	{"name in single quotes", "DROP CONNECTION 'github'", 1, 17, "expected a connection name after CONNECTION, found a string: quote names with backticks, not single quotes"},
	{"unterminated string", "CREATE CONNECTION c TYPE HTTP\nOPTIONS (host 'h',\n  bearer_token 'abc", 3, 16, "unterminated string: no closing ' before the end of input"},
	{"unterminated comment", "SHOW /* CONNECTIONS", 1, 6, "unterminated comment: no */ closes this /*"},
	{"unterminated quoted name", "DROP CONNECTION `abc", 1, 17, "unterminated quoted name: no closing ` before the end of input"},
	{"empty quoted name", "DROP CONNECTION ``", 1, 17, "empty quoted name ``"},
	{"double quotes", `DROP CONNECTION "github"`, 1, 17, `unexpected character '"': strings are in single quotes, names with '-', '@' or '.' in backticks`},
	{"unquoted email", "GRANT MANAGE ON CONNECTION c TO alice@example.com", 1, 38, "unexpected character '@': quote a name holding '@' or '.' with backticks, as in `alice@example.com`"},
	{"equals in options", "CREATE CONNECTION c TYPE HTTP OPTIONS (host = 'h')", 1, 45, "unexpected character '=': write an option as key 'value', an argument as name => 'value'"},
	{"invalid UTF-8", "DROP CONNECTION a\xff", 1, 18, "invalid UTF-8 encoding"},
	{"invalid UTF-8 in a string", "SHOW CONNECTIONS LIKE 'é\xff'", 1, 25, "invalid UTF-8 encoding in a string"},
	{"control character", "SHOW\x00 CONNECTIONS", 1, 5, "unexpected control character U+0000"},
	{"other character", "SHOW CONNECTIONS *", 1, 18, "unexpected character '*'"},

	{"create without type", "CREATE CONNECTION c OPTIONS (host 'h')", 1, 21, "expected TYPE after the connection name, found 'OPTIONS'"},
	{"create without options", "CREATE CONNECTION c TYPE HTTP", 1, 30, "expected OPTIONS after TYPE HTTP, found end of input"},
	{"create if not without exists", "CREATE CONNECTION IF NOT c TYPE HTTP OPTIONS (host 'h')", 1, 26, "expected EXISTS after IF NOT, found 'c'"},
	{"empty options", "CREATE CONNECTION c TYPE HTTP OPTIONS ()", 1, 40, "expected an option name, found ')'"},
	{"duplicate option", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'a', HOST 'b')", 1, 50, "duplicate option 'HOST'"},
	{"unquoted option value", "CREATE CONNECTION c TYPE HTTP OPTIONS (bearer_token ghp_secret)", 1, 53, "expected the value of option 'bearer_token' in single quotes after its name, found a name"},
	{"missing comma", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'a' port '1')", 1, 49, "expected ',' or ')' after the value of option 'host', found a name"},
	{"comment without string", "CREATE CONNECTION c TYPE HTTP OPTIONS (host 'a') COMMENT x", 1, 58, "expected the comment in single quotes after COMMENT, found 'x'"},

	{"alter without action", "ALTER CONNECTION c", 1, 19, "expected OWNER TO, OPTIONS, RENAME TO, ENABLE or DISABLE after the connection name, found end of input"},
	{"alter set comment", "ALTER CONNECTION c SET COMMENT 'x'", 1, 20, "expected OWNER TO, OPTIONS, RENAME TO, ENABLE or DISABLE after the connection name, found 'SET'"},
	{"alter owner without to", "ALTER CONNECTION c OWNER bob", 1, 26, "expected TO after OWNER, found 'bob'"},
	{"rename without name", "ALTER CONNECTION c RENAME TO ;", 1, 30, "expected the new connection name after RENAME TO, found ';'"},

	{"describe without name", "DESCRIBE CONNECTION", 1, 20, "expected a connection name after CONNECTION, found end of input"},
	{"show tables", "SHOW TABLES", 1, 6, "expected CONNECTIONS or GRANTS after SHOW, found 'TABLES'"},
	{"like without pattern", "SHOW CONNECTIONS LIKE git", 1, 23, "expected a pattern in single quotes after LIKE, found 'git'"},
	{"show grants on a table", "SHOW GRANTS p ON TABLE t", 1, 18, "expected CONNECTION after ON, found 'TABLE'"},
	{"show grants without on", "SHOW GRANTS p", 1, 14, "expected ON after the principal, found end of input"},

	{"unknown privilege", "GRANT SELECT ON CONNECTION c TO p", 1, 7, "expected a privilege (USE CONNECTION, MANAGE, ALL PRIVILEGES or CREATE CONNECTION) after GRANT, found 'SELECT'"},
	{"use without connection", "GRANT USE ON CONNECTION c TO p", 1, 11, "expected CONNECTION after USE, found 'ON'"},
	{"privilege twice", "GRANT USE CONNECTION, MANAGE, use_connection ON CONNECTION c TO p", 1, 31, "privilege USE CONNECTION listed twice"},
	{"trailing comma in privileges", "REVOKE MANAGE, ON CONNECTION c FROM p", 1, 16, "expected a privilege (USE CONNECTION, MANAGE, ALL PRIVILEGES or CREATE CONNECTION) after ',', found 'ON'"},
	{"grant on a table", "GRANT MANAGE ON TABLE t TO p", 1, 17, "expected CONNECTION or METASTORE after ON, found 'TABLE'"},
	{"grant without on", "GRANT MANAGE TO p", 1, 14, "expected ON or ',' after the privilege, found 'TO'"},
	{"revoke with to", "REVOKE MANAGE ON CONNECTION c TO p", 1, 31, "expected FROM after the securable, found 'TO'"},
	{"grant without principal", "GRANT MANAGE ON CONNECTION c TO", 1, 32, "expected a principal after TO, found end of input"},

	{"another function", "SELECT now()", 1, 8, "expected http_request after SELECT (the one function there is), found 'now'"},
	{"missing arguments", "SELECT http_request(conn => 'c')", 1, 32, "http_request needs conn, method and path: missing method, path"},
	{"no arguments", "SELECT http_request()", 1, 21, "http_request needs conn, method and path: missing conn, method, path"},
	{"unknown argument", "SELECT http_request(conn => 'c', body => 'x')", 1, 34, "unknown argument 'body' of http_request; expected one of conn, method, path, headers, params, json"},
	{"duplicate argument", "SELECT http_request(conn => 'c', CONN => 'd')", 1, 34, "duplicate argument 'conn'"},
	{"positional argument", "SELECT http_request('c', 'GET', '/')", 1, 21, "expected an argument name (conn, method, path, headers, params, json), found a string"},
	{"argument without arrow", "SELECT http_request(conn 'c')", 1, 26, "expected '=>' after argument name 'conn', found a string"},
	{"trailing comma in arguments", "SELECT http_request(conn => 'c', method => 'GET', path => '/',)", 1, 63, "expected an argument name (conn, method, path, headers, params, json), found ')'"},
	{"headers not a map", "SELECT http_request(conn => 'c', headers => 'A: b')", 1, 45, "expected map('key', 'value', ...) as the value of argument 'headers', found a string"},
	{"map key without value", "SELECT http_request(conn => 'c', headers => map('A'))", 1, 52, "expected ',' after the key 'A' (map takes key, value pairs), found ')'"},
	{"unquoted header value", "SELECT http_request(conn => 'c', headers => map('Authorization', Bearer abc))", 1, 66, "expected the value of key 'Authorization' in single quotes after ',', found a name"},
	{"duplicate header in another case", "SELECT http_request(conn => 'c', headers => map('X-A', '1', 'x-a', '2'))", 1, 61, "duplicate key 'x-a' in headers"},
	{"unquoted json", "SELECT http_request(conn => 'c', json => secret)", 1, 42, "expected the value of argument 'json' in single quotes after =>, found a name"},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidStatements {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.src)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tc.src, Text(s))
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", tc.src, err, err)
			}
			if se.Pos.Line != tc.line || se.Pos.Col != tc.col || se.Msg != tc.msg {
				t.Errorf("Parse(%q) = %d:%d %q\n want %d:%d %q", tc.src, se.Pos.Line, se.Pos.Col, se.Msg, tc.line, tc.col, tc.msg)
			}
			if want := lineCol(tc.src, se.Pos.Offset); want != [2]int{se.Pos.Line, se.Pos.Col} {
				t.Errorf("offset %d is at %v, the error says %d:%d", se.Pos.Offset, want, se.Pos.Line, se.Pos.Col)
			}
			if want := fmt.Sprintf("line %d, column %d: %s", tc.line, tc.col, tc.msg); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestErrorsKeepSecrets checks that an error about a badly written secret never
// quotes it.
func TestErrorsKeepSecrets(t *testing.T) {
	const secret = "s3cr3tVALUE"
	for _, src := range []string{
		"CREATE CONNECTION c TYPE HTTP OPTIONS (bearer_token " + secret + ")",
		"CREATE CONNECTION c TYPE HTTP OPTIONS (bearer_token 'x' " + secret + ")",
		"CREATE CONNECTION c TYPE HTTP OPTIONS (bearer_token 'x'" + secret + "')",
		"CREATE CONNECTION c TYPE HTTP OPTIONS (bearer_token `" + secret + "`)",
		"ALTER CONNECTION c OPTIONS (client_secret '" + secret + "' '" + secret + "')",
		"SELECT http_request(conn => 'c', headers => map('Authorization', Bearer " + secret + "))",
		"SELECT http_request(conn => 'c', headers => map('Authorization', 'Bearer' " + secret + "))",
		"SELECT http_request(conn => 'c', json => '{}' " + secret + ")",
		"SELECT http_request(conn => 'c', json => " + secret + ")",
	} {
		_, err := Parse(src)
		if err == nil {
			t.Errorf("Parse(%q) = nil error", src)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Parse(%q) = %v: the error quotes the secret", src, err)
		}
	}
}

// TestLimits checks that oversized input is refused with an error, not parsed.
func TestLimits(t *testing.T) {
	opts := make([]string, MaxOptions+1)
	for i := range opts {
		opts[i] = fmt.Sprintf("k%d 'v'", i)
	}
	entries := make([]string, MaxMapEntries+1)
	for i := range entries {
		entries[i] = fmt.Sprintf("'k%d', 'v'", i)
	}
	big := "SHOW CONNECTIONS LIKE '" + strings.Repeat("x", MaxStatementBytes) + "'"
	for _, tc := range []struct {
		name, src string
		parse     func(string) error
		msg       string
	}{
		{"options", "CREATE CONNECTION c TYPE HTTP OPTIONS (" + strings.Join(opts, ", ") + ")", parseOne,
			fmt.Sprintf("more than %d options", MaxOptions)},
		{"map entries", "SELECT http_request(conn => 'c', params => map(" + strings.Join(entries, ", ") + "))", parseOne,
			fmt.Sprintf("more than %d entries in params", MaxMapEntries)},
		{"statement", big, parseOne, fmt.Sprintf("statement is larger than %d bytes", MaxStatementBytes)},
		{"statement in a script", "SHOW CONNECTIONS;\n" + big, parseScript, fmt.Sprintf("statement is larger than %d bytes", MaxStatementBytes)},
		{"script", strings.Repeat(" ", MaxScriptBytes+1), parseScript, fmt.Sprintf("script is larger than %d bytes", MaxScriptBytes)},
		{"statements", strings.Repeat("SHOW CONNECTIONS;", MaxStatements+1), parseScript, fmt.Sprintf("more than %d statements in one script", MaxStatements)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) || se.Msg != tc.msg {
				t.Errorf("error %v, want %q", err, tc.msg)
			}
		})
	}
}

func parseOne(src string) error { _, err := Parse(src); return err }

func parseScript(src string) error { _, err := ParseScript(src); return err }

func TestParseScript(t *testing.T) {
	src := "-- connections as code\n" +
		"CREATE CONNECTION github TYPE HTTP\n" +
		"  OPTIONS (host 'https://api.github.com', bearer_token 'ghp_x');\n" +
		";\n" +
		"GRANT USE CONNECTION ON CONNECTION github TO data-eng;\n" +
		"/* the last one\n   without ; */ SHOW GRANTS ON CONNECTION github"
	got, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Statement{
		&CreateConnection{Name: id("github"), Type: "HTTP", Options: []Option{{Key: "host", Value: "https://api.github.com"}, {Key: "bearer_token", Value: "ghp_x"}}},
		&Grant{Privileges: []string{"USE_CONNECTION"}, Securable: conn("github"), Principal: id("data-eng")},
		&ShowGrants{Connection: id("github")},
	}
	if d := cmp.Diff(want, got, ignorePos); d != "" {
		t.Errorf("ParseScript (-want +got):\n%s", d)
	}
	for i, p := range []struct {
		line, col int
		text      string
	}{{2, 1, "CREATE"}, {5, 1, "GRANT"}, {7, 17, "SHOW"}} {
		if at := got[i].Position(); at.Line != p.line || at.Col != p.col {
			t.Errorf("statement %d at %d:%d, want %d:%d", i, at.Line, at.Col, p.line, p.col)
		}
		checkPos(t, src, got[i].Position(), p.text)
	}

	for _, tc := range []struct {
		name      string
		src       string
		parsed    int
		line, col int
		msg       string
	}{
		{"error on a later line", "SHOW CONNECTIONS;\nDROP CONNECTION a;\n\n  GRANT MANAGE ON CONNECTION a TO;\nSHOW CONNECTIONS", 2, 4, 34,
			"expected a principal after TO, found ';'"},
		{"missing semicolon", "SHOW CONNECTIONS\nSHOW CONNECTIONS", 0, 2, 1, "expected ';' or end of input after the statement, found 'SHOW'"},
		{"unterminated string stops the script", "DROP CONNECTION a;\nSHOW CONNECTIONS LIKE 'x;\nDROP CONNECTION b;", 1, 2, 23,
			"unterminated string: no closing ' before the end of input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stmts, err := ParseScript(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseScript error %v, want a *SyntaxError", err)
			}
			if se.Pos.Line != tc.line || se.Pos.Col != tc.col || se.Msg != tc.msg {
				t.Errorf("error %d:%d %q, want %d:%d %q", se.Pos.Line, se.Pos.Col, se.Msg, tc.line, tc.col, tc.msg)
			}
			if len(stmts) != tc.parsed {
				t.Errorf("%d statements before the error, want %d", len(stmts), tc.parsed)
			}
		})
	}

	for _, src := range []string{"", ";;", "-- nothing\n/* at all */;"} {
		if stmts, err := ParseScript(src); err != nil || len(stmts) != 0 {
			t.Errorf("ParseScript(%q) = %d statements, %v; want none and no error", src, len(stmts), err)
		}
	}
}

// lineCol computes the line and column (in characters) of a byte offset of src.
func lineCol(src string, off int) [2]int {
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return [2]int{line, col}
}

// checkPos checks that at is where text starts in src, its line and column included.
func checkPos(t *testing.T, src string, at Pos, text string) {
	t.Helper()
	if !strings.HasPrefix(src[at.Offset:], text) {
		t.Errorf("offset %d: %q, want it to start with %q", at.Offset, src[at.Offset:min(len(src), at.Offset+len(text))], text)
	}
	if lc := lineCol(src, at.Offset); lc != [2]int{at.Line, at.Col} {
		t.Errorf("offset %d is at %v, the position says %d:%d", at.Offset, lc, at.Line, at.Col)
	}
}

// TestDocsExamples parses the examples of docs/sql.md, so that the page shows only
// statements that parse, and checks its error examples against the parser.
func TestDocsExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, rest, ok := strings.Cut(doc, "```sql\n")
	if !ok {
		t.Fatal("docs/sql.md has no ```sql example")
	}
	script, _, _ := strings.Cut(rest, "```")
	stmts, err := ParseScript(script)
	if err != nil {
		t.Fatalf("docs/sql.md example: %v", err)
	}
	if len(stmts) < 15 {
		t.Errorf("docs/sql.md example: %d statements, want every form", len(stmts))
	}
	known := map[string]bool{}
	for _, tc := range invalidStatements {
		known[fmt.Sprintf("line %d, column %d: %s", tc.line, tc.col, tc.msg)] = true
	}
	_, errs, ok := strings.Cut(doc, "### Errors")
	if !ok {
		t.Fatal("docs/sql.md has no Errors section")
	}
	_, errs, _ = strings.Cut(errs, "```\n")
	errs, _, _ = strings.Cut(errs, "```")
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !known[line] {
			t.Errorf("docs/sql.md shows the error %q, which no case of invalidStatements gives", line)
		}
	}
}
