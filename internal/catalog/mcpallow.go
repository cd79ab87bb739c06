package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MCPAllowList is a connection's mcp_allowed_tools: exact tool names and name prefixes. The
// zero value allows every tool (the option unset).
type MCPAllowList struct {
	restricted bool
	exact      map[string]struct{}
	prefixes   []string
}

// ParseMCPAllowList parses mcp_allowed_tools: comma-separated exact names or `prefix*`,
// spaces around entries ignored. Empty means every tool. An entry that is empty, holds a
// space or control character, or has `*` anywhere but at its end is an error, so that a
// typo never silently widens or empties the list.
func ParseMCPAllowList(s string) (MCPAllowList, error) {
	if strings.TrimSpace(s) == "" {
		return MCPAllowList{}, nil
	}
	if !utf8.ValidString(s) {
		return MCPAllowList{}, errors.New("mcp_allowed_tools must be valid UTF-8")
	}
	a := MCPAllowList{restricted: true, exact: make(map[string]struct{})}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return MCPAllowList{}, fmt.Errorf("mcp_allowed_tools entry %d is empty", i+1)
		}
		for _, r := range entry {
			if unicode.IsSpace(r) || unicode.IsControl(r) {
				return MCPAllowList{}, fmt.Errorf("mcp_allowed_tools entry %d holds a space or control character", i+1)
			}
		}
		star := strings.IndexByte(entry, '*')
		switch {
		case star < 0:
			a.exact[entry] = struct{}{}
		case star == len(entry)-1:
			a.prefixes = append(a.prefixes, entry[:star])
		default:
			return MCPAllowList{}, fmt.Errorf("mcp_allowed_tools entry %d has '*' before its end; only a trailing '*' (prefix match) is allowed", i+1)
		}
	}
	return a, nil
}

// Restricted reports whether the list limits tools at all.
func (a MCPAllowList) Restricted() bool { return a.restricted }

// Allowed reports whether the tool name is on the list: an exact, case-sensitive match
// or a prefix match.
func (a MCPAllowList) Allowed(name string) bool {
	if !a.restricted {
		return true
	}
	if _, ok := a.exact[name]; ok {
		return true
	}
	for _, p := range a.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
