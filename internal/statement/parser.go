package statement

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Limits on what the parser reads: larger input is refused with a SyntaxError, so bad
// input costs bounded memory and time.
const (
	// MaxStatementBytes bounds one statement (and the whole input of Parse).
	MaxStatementBytes = 1 << 20
	// MaxScriptBytes bounds the input of ParseScript.
	MaxScriptBytes = 16 << 20
	// MaxStatements bounds the statements of one script.
	MaxStatements = 10000
	// MaxOptions bounds the options of one OPTIONS list.
	MaxOptions = 100
	// MaxMapEntries bounds the entries of one map(...).
	MaxMapEntries = 100
)

// SyntaxError is a statement that could not be parsed: where, and what was wrong. Its
// message never quotes a string literal or an option value, which may be a secret.
type SyntaxError struct {
	Pos Pos
	Msg string
}

// Error prints the error as "line L, column C: msg".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// Parse parses exactly one statement (a trailing ';' allowed). Errors are *SyntaxError.
func Parse(src string) (Statement, error) {
	if len(src) > MaxStatementBytes {
		return nil, &SyntaxError{Pos: Pos{Line: 1, Col: 1}, Msg: fmt.Sprintf("statement is larger than %d bytes", MaxStatementBytes)}
	}
	p := newParser(src)
	var out Statement
	for {
		t := p.peek(0)
		switch {
		case t.kind == tokSemi:
			p.next()
			continue
		case t.kind == tokEOF && out == nil:
			return nil, p.fail(t, "expected a statement, found end of input")
		case t.kind == tokEOF:
			return out, nil
		case out != nil:
			return nil, p.fail(t, "expected one statement, found a second one (run several with a script)")
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = s
	}
}

// ParseScript parses ';'-separated statements (a trailing ';' optional, empty statements
// ignored), stopping at the first error, which is a *SyntaxError whose position counts
// from the start of src. With an error it also returns the statements before it; a
// caller that must not act on a partly valid script ignores them.
func ParseScript(src string) ([]Statement, error) {
	if len(src) > MaxScriptBytes {
		return nil, &SyntaxError{Pos: Pos{Line: 1, Col: 1}, Msg: fmt.Sprintf("script is larger than %d bytes", MaxScriptBytes)}
	}
	p := newParser(src)
	var out []Statement
	for {
		t := p.peek(0)
		switch t.kind {
		case tokSemi:
			p.next()
			continue
		case tokEOF:
			return out, nil
		}
		if len(out) == MaxStatements {
			return out, p.fail(t, "more than %d statements in one script", MaxStatements)
		}
		s, err := p.statement()
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
}

// parser reads statements from a lexer with a few tokens of lookahead.
type parser struct {
	lx  *lexer
	buf []token
	// quiet is set while reading option values, maps and http_request arguments: an
	// error there names the kind of token found, never its text, which may be (part of)
	// a secret written without its quotes.
	quiet bool
	last  token // the last token consumed
}

func newParser(src string) *parser { return &parser{lx: newLexer(src)} }

func (p *parser) peek(i int) token {
	for len(p.buf) <= i {
		p.buf = append(p.buf, p.lx.next())
	}
	return p.buf[i]
}

func (p *parser) next() token {
	t := p.peek(0)
	if t.kind != tokError && t.kind != tokEOF {
		p.buf = p.buf[1:]
	}
	p.last = t
	return t
}

// fail is a SyntaxError at t, or t's own error if t is a lexical error.
func (p *parser) fail(t token, format string, args ...any) error {
	if t.kind == tokError {
		return t.err
	}
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

// describe names t for an error message.
func (p *parser) describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "a string"
	case tokWord:
		if p.quiet {
			return "a name"
		}
		return "'" + clip(t.text) + "'"
	case tokQuoted:
		if p.quiet {
			return "a quoted name"
		}
		return clip(t.text)
	}
	return "'" + t.text + "'"
}

// clip shortens s to 40 characters for a message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "..."
}

func isKw(t token, kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

func isName(t token) bool { return t.kind == tokWord || t.kind == tokQuoted }

// keyword consumes the keyword kw, which must follow after.
func (p *parser) keyword(kw, after string) error {
	if t := p.next(); !isKw(t, kw) {
		return p.fail(t, "expected %s after %s, found %s", kw, after, p.describe(t))
	}
	return nil
}

// punct consumes a token of kind k, spelled s, which must follow after.
func (p *parser) punct(k tokenKind, s, after string) error {
	if t := p.next(); t.kind != k {
		return p.fail(t, "expected '%s' after %s, found %s", s, after, p.describe(t))
	}
	return nil
}

// name reads a name (what) that must follow after.
func (p *parser) name(what, after string) (Ident, error) {
	t := p.next()
	switch t.kind {
	case tokWord, tokQuoted:
		return Ident{Value: t.value, Pos: t.pos}, nil
	case tokString:
		return Ident{}, p.fail(t, "expected %s after %s, found a string: quote names with backticks, not single quotes", what, after)
	}
	return Ident{}, p.fail(t, "expected %s after %s, found %s", what, after, p.describe(t))
}

// str reads a string literal (what) that must follow after.
func (p *parser) str(what, after string) (string, Pos, error) {
	t := p.next()
	if t.kind != tokString {
		return "", t.pos, p.fail(t, "expected %s in single quotes after %s, found %s", what, after, p.describe(t))
	}
	return t.value, t.pos, nil
}

func (p *parser) statement() (Statement, error) {
	t := p.next()
	switch {
	case isKw(t, "CREATE"):
		return p.create(t)
	case isKw(t, "ALTER"):
		return p.alter(t)
	case isKw(t, "DROP"):
		return p.drop(t)
	case isKw(t, "DESCRIBE"), isKw(t, "DESC"):
		return p.describeConnection(t)
	case isKw(t, "SHOW"):
		return p.show(t)
	case isKw(t, "GRANT"), isKw(t, "REVOKE"):
		return p.grant(t)
	case isKw(t, "SELECT"):
		return p.selectHTTPRequest(t)
	}
	return nil, p.fail(t, "expected a statement (CREATE, ALTER, DROP, DESCRIBE, SHOW, GRANT, REVOKE or SELECT), found %s", p.describe(t))
}

// end checks that statement s ends here, at ';' or the end of input, and is not too large.
func (p *parser) end(s Statement) (Statement, error) {
	t := p.peek(0)
	if t.kind != tokSemi && t.kind != tokEOF {
		return nil, p.fail(t, "expected ';' or end of input after the statement, found %s", p.describe(t))
	}
	if n := p.last.end - s.Position().Offset; n > MaxStatementBytes {
		return nil, &SyntaxError{Pos: s.Position(), Msg: fmt.Sprintf("statement is larger than %d bytes", MaxStatementBytes)}
	}
	return s, nil
}

func upper(t token) string { return strings.ToUpper(t.text) }

func (p *parser) create(start token) (Statement, error) {
	if err := p.keyword("CONNECTION", upper(start)); err != nil {
		return nil, err
	}
	s := &CreateConnection{Pos: start.pos}
	if isKw(p.peek(0), "IF") && isKw(p.peek(1), "NOT") {
		p.next()
		p.next()
		if err := p.keyword("EXISTS", "IF NOT"); err != nil {
			return nil, err
		}
		s.IfNotExists = true
	}
	var err error
	if s.Name, err = p.name("a connection name", "CONNECTION"); err != nil {
		return nil, err
	}
	if err := p.keyword("TYPE", "the connection name"); err != nil {
		return nil, err
	}
	t := p.next()
	if !isName(t) {
		return nil, p.fail(t, "expected a connection type (HTTP) after TYPE, found %s", p.describe(t))
	}
	s.Type = strings.ToUpper(t.value)
	if err := p.keyword("OPTIONS", "TYPE "+clip(s.Type)); err != nil {
		return nil, err
	}
	if s.Options, err = p.options(); err != nil {
		return nil, err
	}
	if isKw(p.peek(0), "COMMENT") {
		p.next()
		c, _, err := p.str("the comment", "COMMENT")
		if err != nil {
			return nil, err
		}
		s.Comment = &c
	}
	return p.end(s)
}

// options reads "(key 'value', ...)" after OPTIONS.
func (p *parser) options() ([]Option, error) {
	if err := p.punct(tokLParen, "(", "OPTIONS"); err != nil {
		return nil, err
	}
	p.quiet = true
	defer func() { p.quiet = false }()
	var out []Option
	for {
		t := p.next()
		if !isName(t) {
			return nil, p.fail(t, "expected an option name, found %s", p.describe(t))
		}
		key := t.value
		for _, o := range out {
			if strings.EqualFold(o.Key, key) {
				return nil, p.fail(t, "duplicate option '%s'", clip(key))
			}
		}
		if len(out) == MaxOptions {
			return nil, p.fail(t, "more than %d options", MaxOptions)
		}
		v, _, err := p.str("the value of option '"+clip(key)+"'", "its name")
		if err != nil {
			return nil, err
		}
		out = append(out, Option{Key: key, Value: v, Pos: t.pos})
		switch t := p.next(); t.kind {
		case tokComma:
		case tokRParen:
			return out, nil
		default:
			return nil, p.fail(t, "expected ',' or ')' after the value of option '%s', found %s", clip(key), p.describe(t))
		}
	}
}

func (p *parser) alter(start token) (Statement, error) {
	if err := p.keyword("CONNECTION", "ALTER"); err != nil {
		return nil, err
	}
	s := &AlterConnection{Pos: start.pos}
	var err error
	if s.Name, err = p.name("a connection name", "CONNECTION"); err != nil {
		return nil, err
	}
	t := p.next()
	switch {
	case isKw(t, "SET") && isKw(p.peek(0), "OWNER"), isKw(t, "OWNER"):
		// ALTER CONNECTION c SET OWNER TO p is the Databricks spelling of the same.
		if isKw(t, "SET") {
			p.next()
		}
		if err := p.keyword("TO", "OWNER"); err != nil {
			return nil, err
		}
		o, err := p.name("a principal", "OWNER TO")
		if err != nil {
			return nil, err
		}
		s.OwnerTo = &o
	case isKw(t, "OPTIONS"):
		if s.Options, err = p.options(); err != nil {
			return nil, err
		}
	case isKw(t, "RENAME"):
		if err := p.keyword("TO", "RENAME"); err != nil {
			return nil, err
		}
		n, err := p.name("the new connection name", "RENAME TO")
		if err != nil {
			return nil, err
		}
		s.RenameTo = &n
	case isKw(t, "ENABLE"), isKw(t, "DISABLE"):
		on := isKw(t, "ENABLE")
		s.Enabled = &on
	default:
		return nil, p.fail(t, "expected OWNER TO, OPTIONS, RENAME TO, ENABLE or DISABLE after the connection name, found %s", p.describe(t))
	}
	return p.end(s)
}

func (p *parser) drop(start token) (Statement, error) {
	if err := p.keyword("CONNECTION", "DROP"); err != nil {
		return nil, err
	}
	s := &DropConnection{Pos: start.pos}
	if isKw(p.peek(0), "IF") && isKw(p.peek(1), "EXISTS") {
		p.next()
		p.next()
		s.IfExists = true
	}
	var err error
	if s.Name, err = p.name("a connection name", "CONNECTION"); err != nil {
		return nil, err
	}
	return p.end(s)
}

func (p *parser) describeConnection(start token) (Statement, error) {
	if err := p.keyword("CONNECTION", upper(start)); err != nil {
		return nil, err
	}
	s := &DescribeConnection{Pos: start.pos}
	if isKw(p.peek(0), "EXTENDED") && isName(p.peek(1)) {
		p.next()
		s.Extended = true
	}
	var err error
	if s.Name, err = p.name("a connection name", "CONNECTION"); err != nil {
		return nil, err
	}
	return p.end(s)
}

func (p *parser) show(start token) (Statement, error) {
	t := p.next()
	switch {
	case isKw(t, "CONNECTIONS"):
		s := &ShowConnections{Pos: start.pos}
		if isKw(p.peek(0), "LIKE") {
			p.next()
			v, _, err := p.str("a pattern", "LIKE")
			if err != nil {
				return nil, err
			}
			s.Like = &v
		}
		return p.end(s)
	case isKw(t, "GRANTS"):
		s := &ShowGrants{Pos: start.pos}
		if !(isKw(p.peek(0), "ON") && isKw(p.peek(1), "CONNECTION")) {
			pr, err := p.name("a principal or ON", "GRANTS")
			if err != nil {
				return nil, err
			}
			s.Principal = &pr
			if err := p.keyword("ON", "the principal"); err != nil {
				return nil, err
			}
		} else {
			p.next()
		}
		if err := p.keyword("CONNECTION", "ON"); err != nil {
			return nil, err
		}
		var err error
		if s.Connection, err = p.name("a connection name", "CONNECTION"); err != nil {
			return nil, err
		}
		return p.end(s)
	}
	return nil, p.fail(t, "expected CONNECTIONS or GRANTS after SHOW, found %s", p.describe(t))
}

// privilegeNames maps each privilege to the words the seed writes it with.
var privilegeNames = map[string]string{
	string(catalog.UseConnection):    "USE CONNECTION",
	string(catalog.Manage):           "MANAGE",
	string(catalog.AllPrivileges):    "ALL PRIVILEGES",
	string(catalog.CreateConnection): "CREATE CONNECTION",
}

// privilege reads one privilege after what (GRANT, REVOKE or ',').
func (p *parser) privilege(after string) (string, error) {
	t := p.next()
	var priv string
	switch {
	case isKw(t, "USE"):
		if err := p.keyword("CONNECTION", "USE"); err != nil {
			return "", err
		}
		priv = string(catalog.UseConnection)
	case isKw(t, "CREATE"):
		if err := p.keyword("CONNECTION", "CREATE"); err != nil {
			return "", err
		}
		priv = string(catalog.CreateConnection)
	case isKw(t, "ALL"):
		if isKw(p.peek(0), "PRIVILEGES") {
			p.next()
		}
		priv = string(catalog.AllPrivileges)
	case t.kind == tokWord && privilegeNames[upper(t)] != "":
		// The API's spellings (USE_CONNECTION, MANAGE, ...) are accepted too.
		priv = upper(t)
	default:
		return "", p.fail(t, "expected a privilege (USE CONNECTION, MANAGE, ALL PRIVILEGES or CREATE CONNECTION) after %s, found %s", after, p.describe(t))
	}
	return priv, nil
}

func (p *parser) grant(start token) (Statement, error) {
	verb := upper(start)
	var privs []string
	after := verb
	for {
		at := p.peek(0)
		priv, err := p.privilege(after)
		if err != nil {
			return nil, err
		}
		for _, q := range privs {
			if q == priv {
				return nil, p.fail(at, "privilege %s listed twice", privilegeNames[priv])
			}
		}
		privs = append(privs, priv)
		if p.peek(0).kind != tokComma {
			break
		}
		p.next()
		after = "','"
	}
	if t := p.next(); !isKw(t, "ON") {
		return nil, p.fail(t, "expected ON or ',' after the privilege, found %s", p.describe(t))
	}
	on := p.next()
	sec := Securable{Pos: on.pos}
	switch {
	case isKw(on, "CONNECTION"):
		sec.Type = catalog.SecurableConnection
		var err error
		if sec.Name, err = p.name("a connection name", "ON CONNECTION"); err != nil {
			return nil, err
		}
	case isKw(on, "METASTORE"):
		sec.Type = catalog.SecurableMetastore
	default:
		return nil, p.fail(on, "expected CONNECTION or METASTORE after ON, found %s", p.describe(on))
	}
	to := "TO"
	if verb == "REVOKE" {
		to = "FROM"
	}
	if err := p.keyword(to, "the securable"); err != nil {
		return nil, err
	}
	pr, err := p.name("a principal", to)
	if err != nil {
		return nil, err
	}
	if verb == "REVOKE" {
		return p.end(&Revoke{Pos: start.pos, Privileges: privs, Securable: sec, Principal: pr})
	}
	return p.end(&Grant{Pos: start.pos, Privileges: privs, Securable: sec, Principal: pr})
}

// httpRequestArgs are the named arguments of http_request, in canonical order.
var httpRequestArgs = []string{"conn", "method", "path", "headers", "params", "json"}

func (p *parser) selectHTTPRequest(start token) (Statement, error) {
	if t := p.next(); !isKw(t, "http_request") {
		return nil, p.fail(t, "expected http_request after SELECT (the one function there is), found %s", p.describe(t))
	}
	if err := p.punct(tokLParen, "(", "http_request"); err != nil {
		return nil, err
	}
	s := &SelectHTTPRequest{Pos: start.pos}
	seen := map[string]bool{}
	p.quiet = true
	defer func() { p.quiet = false }()
	for {
		t := p.next()
		if t.kind == tokRParen && len(seen) == 0 {
			break
		}
		if t.kind != tokWord {
			return nil, p.fail(t, "expected an argument name (%s), found %s", strings.Join(httpRequestArgs, ", "), p.describe(t))
		}
		arg := strings.ToLower(t.text)
		known := false
		for _, a := range httpRequestArgs {
			known = known || a == arg
		}
		if !known {
			return nil, p.fail(t, "unknown argument '%s' of http_request; expected one of %s", clip(t.text), strings.Join(httpRequestArgs, ", "))
		}
		if seen[arg] {
			return nil, p.fail(t, "duplicate argument '%s'", arg)
		}
		seen[arg] = true
		if err := p.punct(tokArrow, "=>", "argument name '"+arg+"'"); err != nil {
			return nil, err
		}
		if err := p.httpArg(s, arg); err != nil {
			return nil, err
		}
		t = p.next()
		if t.kind == tokRParen {
			break
		}
		if t.kind != tokComma {
			return nil, p.fail(t, "expected ',' or ')' after the value of argument '%s', found %s", arg, p.describe(t))
		}
	}
	var missing []string
	for _, a := range httpRequestArgs[:3] {
		if !seen[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return nil, p.fail(p.last, "http_request needs conn, method and path: missing %s", strings.Join(missing, ", "))
	}
	return p.end(s)
}

// httpArg reads the value of argument arg into s.
func (p *parser) httpArg(s *SelectHTTPRequest, arg string) error {
	if arg == "headers" || arg == "params" {
		m, err := p.mapArg(arg)
		if err != nil {
			return err
		}
		if arg == "headers" {
			s.Headers = m
		} else {
			s.Params = m
		}
		return nil
	}
	v, pos, err := p.str("the value of argument '"+arg+"'", "=>")
	if err != nil {
		return err
	}
	a := StringArg{Value: v, Pos: pos}
	switch arg {
	case "conn":
		s.Conn = a
	case "method":
		s.Method = a
	case "path":
		s.Path = a
	case "json":
		s.JSON = &a
	}
	return nil
}

// mapArg reads map('k', 'v', ...) as the value of arg. Header names repeat when they
// differ only in case, as HTTP compares them.
func (p *parser) mapArg(arg string) (*Map, error) {
	t := p.next()
	if !isKw(t, "map") {
		return nil, p.fail(t, "expected map('key', 'value', ...) as the value of argument '%s', found %s", arg, p.describe(t))
	}
	m := &Map{Pos: t.pos, Entries: []MapEntry{}}
	if err := p.punct(tokLParen, "(", "map"); err != nil {
		return nil, err
	}
	if p.peek(0).kind == tokRParen {
		p.next()
		return m, nil
	}
	for {
		k, kpos, err := p.str("a key", "'(' or ','")
		if err != nil {
			return nil, err
		}
		for _, e := range m.Entries {
			if e.Key == k || arg == "headers" && strings.EqualFold(e.Key, k) {
				return nil, p.fail(token{pos: kpos}, "duplicate key '%s' in %s", clip(k), arg)
			}
		}
		if len(m.Entries) == MaxMapEntries {
			return nil, p.fail(token{pos: kpos}, "more than %d entries in %s", MaxMapEntries, arg)
		}
		if err := p.punct(tokComma, ",", "the key '"+clip(k)+"' (map takes key, value pairs)"); err != nil {
			return nil, err
		}
		v, _, err := p.str("the value of key '"+clip(k)+"'", "','")
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, MapEntry{Key: k, Value: v, Pos: kpos})
		switch t := p.next(); t.kind {
		case tokComma:
		case tokRParen:
			return m, nil
		default:
			return nil, p.fail(t, "expected ',' or ')' after the value of key '%s', found %s", clip(k), p.describe(t))
		}
	}
}
