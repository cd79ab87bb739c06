package catalog

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// AuditActions is every action name the server records, in the order the docs list
// them. The audit API and the CLI check an action filter against it, so that a typo
// is an error naming the valid values rather than an empty list.
func AuditActions() []string {
	return []string{
		ActionCreateConnection, ActionUpdateConnection, ActionDeleteConnection,
		ActionUpdatePermissions, ActionUseConnection, ActionOAuthLogin, ActionOAuthRefresh,
		ActionCredentialState, ActionNetworkDenied, ActionEgressTunnel, ActionTokenCreate,
		ActionTokenDelete, ActionPrincipalChange, ActionUpdateNetworkPolicy, ActionAuditChainKeyed,
		ActionMCPToolCall, ActionMCPToolChange, ActionMCPToolApprove,
		ActionSignIn, // issue 12: single sign-on
	}
}

// AuditDecisions is every decision an audit event can carry.
func AuditDecisions() []string {
	return []string{DecisionAllow, DecisionDeny, DecisionDryRunDeny}
}

// NetworkSources is every source of a network event.
func NetworkSources() []string { return []string{SourceProxy, SourceOAuth, SourceEgress} }

// NetworkAccessTypes is every access type of a network event.
func NetworkAccessTypes() []string { return []string{AccessDrop, AccessDryRunDenial} }

// OneOf checks that value, the value of the parameter or flag called name, is one of
// valid; "" (no filter) is accepted. The error, INVALID_PARAMETER_VALUE, lists the
// valid values and names the closest one when value looks like a typo of it.
func OneOf(name, value string, valid []string) error {
	if value == "" {
		return nil
	}
	for _, v := range valid {
		if v == value {
			return nil
		}
	}
	return Errorf(InvalidParameterValue, "%s %s is not valid%s; valid values: %s",
		name, quoteShort(value), DidYouMean(value, valid), strings.Join(valid, ", "))
}

// DidYouMean returns ` (did you mean "x"?)` for the candidate closest to s, or "" when
// none is close enough to be a likely typo: within one edit for short names, two for
// longer ones, ignoring case (a transposition counts as one edit).
func DidYouMean(s string, candidates []string) string {
	if c := Closest(s, candidates); c != "" {
		return " (did you mean " + strconv.Quote(c) + "?)"
	}
	return ""
}

// Closest returns the candidate closest to s by edit distance, ignoring case, when it
// is a likely typo of it; otherwise "". Inputs longer than 64 bytes match nothing.
func Closest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	ls := strings.ToLower(s)
	best, bestD := "", -1
	for _, c := range candidates {
		if len(c) > 64 {
			continue
		}
		d := editDistance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	if utf8.RuneCountInString(s) > 4 {
		limit = 2
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance of a and b, by runes:
// insertions, deletions, substitutions and transpositions of neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// quoteShort quotes v for an error message, cut to 64 bytes on a rune boundary.
func quoteShort(v string) string {
	if len(v) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.Quote(v[:cut]) + "…"
	}
	return strconv.Quote(v)
}
