package statement

import (
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Text prints s back in canonical form: keywords upper-case, one space between tokens,
// names in backticks where they need them, strings in single quotes with a doubled quote
// for a quote, http_request's arguments in the order conn, method, path, headers,
// params, json. Parsing Text(s) gives s again, positions aside. Text shows secret
// values: print with RedactedText whatever may be kept or shown.
func Text(s Statement) string { return render(s, false) }

// RedactedText is Text with every secret value printed as '***': the values of the
// options that catalog seals (catalog.SecretOptions; keys in any case), and the header
// values and the json body of http_request, which can carry credentials. It is what an
// audit record keeps of a statement.
func RedactedText(s Statement) string { return render(s, true) }

const redacted = "'***'"

// keywords are the words of the grammar; a name spelled like one is printed in
// backticks, so that it can never be read as the keyword.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`ALL ALTER CONNECTION CONNECTIONS COMMENT CREATE DESC DESCRIBE
		DISABLE DROP ENABLE EXISTS EXTENDED FROM GRANT GRANTS HTTP_REQUEST IF LIKE MANAGE MAP
		METASTORE NOT ON OPTIONS OWNER PRIVILEGES RENAME REVOKE SELECT SET SHOW TO TYPE USE`) {
		keywords[k] = true
	}
}

var bareName = regexp.MustCompile(`^[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*$`)

// quoteName prints a name bare where it reads back as itself, else in backticks.
func quoteName(n string) string {
	if bareName.MatchString(n) && !keywords[strings.ToUpper(n)] {
		return n
	}
	return "`" + strings.ReplaceAll(n, "`", "``") + "`"
}

// quoteString prints a string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// isSecretOption reports whether an option key names a sealed option, in any case and
// with any surrounding space, so that no spelling of the key lets its value through.
func isSecretOption(key string) bool {
	return catalog.SecretOptions[strings.ToLower(strings.TrimSpace(key))]
}

func render(s Statement, redact bool) string {
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p)
		}
	}
	options := func(opts []Option) {
		var o strings.Builder
		o.WriteString("OPTIONS (")
		for i, opt := range opts {
			if i > 0 {
				o.WriteString(", ")
			}
			v := quoteString(opt.Value)
			if redact && isSecretOption(opt.Key) {
				v = redacted
			}
			o.WriteString(quoteName(opt.Key) + " " + v)
		}
		o.WriteString(")")
		w(o.String())
	}
	switch s := s.(type) {
	case *CreateConnection:
		w("CREATE CONNECTION")
		if s.IfNotExists {
			w("IF NOT EXISTS")
		}
		w(quoteName(s.Name.Value), "TYPE", quoteType(s.Type))
		options(s.Options)
		if s.Comment != nil {
			w("COMMENT", quoteString(*s.Comment))
		}
	case *AlterConnection:
		w("ALTER CONNECTION", quoteName(s.Name.Value))
		switch {
		case s.OwnerTo != nil:
			w("OWNER TO", quoteName(s.OwnerTo.Value))
		case s.RenameTo != nil:
			w("RENAME TO", quoteName(s.RenameTo.Value))
		case s.Enabled != nil && *s.Enabled:
			w("ENABLE")
		case s.Enabled != nil:
			w("DISABLE")
		default:
			options(s.Options)
		}
	case *DropConnection:
		w("DROP CONNECTION")
		if s.IfExists {
			w("IF EXISTS")
		}
		w(quoteName(s.Name.Value))
	case *DescribeConnection:
		w("DESCRIBE CONNECTION")
		if s.Extended {
			w("EXTENDED")
		}
		w(quoteName(s.Name.Value))
	case *ShowConnections:
		w("SHOW CONNECTIONS")
		if s.Like != nil {
			w("LIKE", quoteString(*s.Like))
		}
	case *Grant:
		w("GRANT", privileges(s.Privileges), "ON", securable(s.Securable), "TO", quoteName(s.Principal.Value))
	case *Revoke:
		w("REVOKE", privileges(s.Privileges), "ON", securable(s.Securable), "FROM", quoteName(s.Principal.Value))
	case *ShowGrants:
		w("SHOW GRANTS")
		if s.Principal != nil {
			w(quoteName(s.Principal.Value))
		}
		w("ON CONNECTION", quoteName(s.Connection.Value))
	case *SelectHTTPRequest:
		args := []string{
			"conn => " + quoteString(s.Conn.Value),
			"method => " + quoteString(s.Method.Value),
			"path => " + quoteString(s.Path.Value),
		}
		if s.Headers != nil {
			args = append(args, "headers => "+printMap(s.Headers, redact))
		}
		if s.Params != nil {
			args = append(args, "params => "+printMap(s.Params, false))
		}
		if s.JSON != nil {
			v := quoteString(s.JSON.Value)
			if redact {
				v = redacted
			}
			args = append(args, "json => "+v)
		}
		w("SELECT http_request(" + strings.Join(args, ", ") + ")")
	}
	return b.String()
}

// privileges prints privileges as the seed writes them (USE CONNECTION, ALL PRIVILEGES).
func privileges(ps []string) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if n := privilegeNames[p]; n != "" {
			out[i] = n
		} else {
			out[i] = quoteName(p)
		}
	}
	return strings.Join(out, ", ")
}

func securable(s Securable) string {
	if s.Type == catalog.SecurableMetastore {
		return "METASTORE"
	}
	return "CONNECTION " + quoteName(s.Name.Value)
}

// printMap prints map('k', 'v', ...), the values as '***' when redact is set.
func printMap(m *Map, redact bool) string {
	parts := make([]string, 0, 2*len(m.Entries))
	for _, e := range m.Entries {
		v := quoteString(e.Value)
		if redact {
			v = redacted
		}
		parts = append(parts, quoteString(e.Key), v)
	}
	return "map(" + strings.Join(parts, ", ") + ")"
}

// quoteType prints a connection type: it follows TYPE, so a keyword needs no backticks.
func quoteType(t string) string {
	if bareName.MatchString(t) {
		return t
	}
	return quoteName(t)
}
