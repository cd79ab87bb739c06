// Package statement is Gatehouse's SQL face (DESIGN §3 `gatehouse sql`): a hand-written
// lexer and parser for the governance statements of the seed system (CREATE CONNECTION,
// GRANT USE CONNECTION ..., SELECT http_request(...)), a canonical printer, the redaction
// that keeps secret values out of audit records, and the executor that turns each
// statement into the governance operation it stands for.
//
// The parser knows only syntax: names are kept as written (connection names are
// normalized by catalog), privileges are spelled as the API spells them, and whether a
// privilege fits its securable or an option fits its credential type is decided by the
// domain, so that a statement fails exactly where its API call would.
package statement

import "github.com/gatehouse/gatehouse/internal/catalog"

// Pos is a position in a statement's source text. Offset counts bytes from the start of
// the source (of the whole script for ParseScript); Line and Col are 1-based, and Col
// counts characters (runes, an invalid UTF-8 byte counting as one) from the start of
// the line.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// Statement is one parsed statement: one of *CreateConnection, *AlterConnection,
// *DropConnection, *DescribeConnection, *ShowConnections, *Grant, *Revoke, *ShowGrants
// and *SelectHTTPRequest.
type Statement interface {
	// Position is where the statement's first keyword starts.
	Position() Pos
	statement()
}

// Ident is a name as written: a connection, a principal or an option key. Value is the
// name without its backticks (a doubled backtick inside them unescaped).
type Ident struct {
	Value string
	Pos   Pos
}

// Option is one `key 'value'` pair of an OPTIONS list; Pos is where its key starts.
type Option struct {
	Key   string
	Value string
	Pos   Pos
}

// CreateConnection is CREATE CONNECTION [IF NOT EXISTS] name TYPE type OPTIONS (key
// 'value', ...) [COMMENT 'text']. Type is upper-cased ("HTTP"); the domain refuses any
// other. Options are in source order, with no key given twice (keys compared without
// regard to case).
type CreateConnection struct {
	Pos         Pos
	IfNotExists bool
	Name        Ident
	Type        string
	Options     []Option
	Comment     *string
}

// AlterConnection is ALTER CONNECTION name followed by exactly one of OWNER TO principal
// (OwnerTo set), OPTIONS (...) (Options non-empty), RENAME TO new (RenameTo set), ENABLE
// or DISABLE (Enabled set to true or false).
type AlterConnection struct {
	Pos      Pos
	Name     Ident
	OwnerTo  *Ident
	Options  []Option
	RenameTo *Ident
	Enabled  *bool
}

// DropConnection is DROP CONNECTION [IF EXISTS] name.
type DropConnection struct {
	Pos      Pos
	IfExists bool
	Name     Ident
}

// DescribeConnection is DESCRIBE (or DESC) CONNECTION [EXTENDED] name.
type DescribeConnection struct {
	Pos      Pos
	Extended bool
	Name     Ident
}

// ShowConnections is SHOW CONNECTIONS [LIKE 'pattern'].
type ShowConnections struct {
	Pos  Pos
	Like *string
}

// Securable is what a GRANT or REVOKE is on: a connection (Type
// catalog.SecurableConnection, Name its name) or the metastore (Type
// catalog.SecurableMetastore, Name empty).
type Securable struct {
	Type catalog.SecurableType
	Name Ident
	Pos  Pos
}

// Grant is GRANT privilege[, ...] ON securable TO principal. Privileges are spelled as
// the API spells them: USE CONNECTION is "USE_CONNECTION", ALL PRIVILEGES
// "ALL_PRIVILEGES", CREATE CONNECTION "CREATE_CONNECTION", MANAGE "MANAGE"; whether they
// fit the securable is the domain's decision.
type Grant struct {
	Pos        Pos
	Privileges []string
	Securable  Securable
	Principal  Ident
}

// Revoke is REVOKE privilege[, ...] ON securable FROM principal, with the fields of Grant.
type Revoke struct {
	Pos        Pos
	Privileges []string
	Securable  Securable
	Principal  Ident
}

// ShowGrants is SHOW GRANTS [principal] ON CONNECTION name.
type ShowGrants struct {
	Pos        Pos
	Principal  *Ident
	Connection Ident
}

// StringArg is a string literal argument of http_request; Pos is where it starts.
type StringArg struct {
	Value string
	Pos   Pos
}

// MapEntry is one key and value of a map('k', 'v', ...) argument.
type MapEntry struct {
	Key   string
	Value string
	Pos   Pos
}

// Map is a map('k', 'v', ...) argument, its entries in source order with no key given
// twice (header names compared without regard to case).
type Map struct {
	Entries []MapEntry
	Pos     Pos
}

// Values returns the entries as a Go map.
func (m *Map) Values() map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m.Entries))
	for _, e := range m.Entries {
		out[e.Key] = e.Value
	}
	return out
}

// SelectHTTPRequest is SELECT http_request(conn => 'name', method => 'GET', path =>
// '/x'[, headers => map(...)][, params => map(...)][, json => '...']), the named
// arguments in any order, each at most once. Conn, Method and Path are required; the
// others are nil when absent.
type SelectHTTPRequest struct {
	Pos     Pos
	Conn    StringArg
	Method  StringArg
	Path    StringArg
	Headers *Map
	Params  *Map
	JSON    *StringArg
}

// Position returns where the statement starts.
func (s *CreateConnection) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *AlterConnection) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *DropConnection) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *DescribeConnection) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *ShowConnections) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *Grant) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *Revoke) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *ShowGrants) Position() Pos { return s.Pos }

// Position returns where the statement starts.
func (s *SelectHTTPRequest) Position() Pos { return s.Pos }

func (*CreateConnection) statement()   {}
func (*AlterConnection) statement()    {}
func (*DropConnection) statement()     {}
func (*DescribeConnection) statement() {}
func (*ShowConnections) statement()    {}
func (*Grant) statement()              {}
func (*Revoke) statement()             {}
func (*ShowGrants) statement()         {}
func (*SelectHTTPRequest) statement()  {}
