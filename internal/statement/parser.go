package statement

import (
	"errors"
	"fmt"
)

// SyntaxError is a statement that could not be parsed: where, and what was wrong.
type SyntaxError struct {
	Pos Pos
	Msg string
}

// Error prints the error as "line L, column C: msg".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

var errNotYet = errors.New("statement: parser not implemented yet")

// Parse parses exactly one statement (a trailing ';' allowed). Errors are *SyntaxError.
func Parse(src string) (Statement, error) { return nil, errNotYet }

// ParseScript parses ';'-separated statements (a trailing ';' optional, empty statements
// ignored), stopping at the first error, which is a *SyntaxError whose position counts
// from the start of src.
func ParseScript(src string) ([]Statement, error) { return nil, errNotYet }
