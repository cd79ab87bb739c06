package catalog

import (
	"strings"

	"github.com/gatehouse/gatehouse/internal/bound"
)

// The input checks of the stores: what a store refuses before it writes anything, as
// INVALID_PARAMETER_VALUE. Both stores (internal/store/sqlite, internal/store/postgres)
// call these first, so that they refuse the same records with the same messages;
// checks that need the store's rows (does the owner exist, is the name taken) stay in
// the stores. Values a caller sent are quoted cut short (truncateValue, bound.Truncate),
// never whole.

// Valid reports whether s is a known credential state.
func (s CredentialState) Valid() bool {
	switch s {
	case StateActive, StateExpiring, StateNeedsLogin, StateReauthRequired,
		StateDegraded, StateMisconfigured, StateDisabled:
		return true
	}
	return false
}

// Valid reports whether k is a known principal kind.
func (k PrincipalKind) Valid() bool {
	return k == KindUser || k == KindServicePrincipal || k == KindGroup
}

// CheckPrincipal refuses a principal a store cannot create: no ID or name, or an
// unknown kind.
func CheckPrincipal(p *Principal) error {
	switch {
	case p.ID == "":
		return Errorf(InvalidParameterValue, "a principal needs an ID")
	case p.Name == "":
		return Errorf(InvalidParameterValue, "a principal needs a name")
	case !p.Kind.Valid():
		return Errorf(InvalidParameterValue, "unknown principal kind %q", p.Kind)
	}
	return nil
}

// CheckPrincipalUpdate refuses an update of a principal without a name (the ID and
// kind are the stored principal's).
func CheckPrincipalUpdate(p *Principal) error {
	if p.Name == "" {
		return Errorf(InvalidParameterValue, "a principal needs a name")
	}
	return nil
}

// CheckGroup refuses to add members to a principal (named name, of kind kind) that is
// not a group.
func CheckGroup(name string, kind PrincipalKind) error {
	if kind != KindGroup {
		return Errorf(InvalidParameterValue, "principal %s is not a group", name)
	}
	return nil
}

// CheckMember refuses a principal (named name, of kind kind) that cannot be a member of
// any group: the built-in group UsersGroup, which holds every user and service
// principal implicitly; as a member of a group (admins above all) it would give that
// group's rights to everyone.
func CheckMember(name string, kind PrincipalKind) error {
	if kind == KindGroup && strings.EqualFold(name, UsersGroup) {
		return Errorf(InvalidParameterValue, "the built-in group %s cannot be a member of any group", name)
	}
	return nil
}

// CheckToken refuses a token without an ID or a hash.
func CheckToken(t *Token) error {
	switch {
	case t.ID == "":
		return Errorf(InvalidParameterValue, "a token needs an ID")
	case len(t.Hash) == 0:
		return Errorf(InvalidParameterValue, "a token needs a hash")
	}
	return nil
}

// CheckConnection refuses a connection without an ID or a name.
func CheckConnection(c *Connection) error {
	switch {
	case c.ID == "":
		return Errorf(InvalidParameterValue, "a connection needs an ID")
	case c.Name == "":
		return Errorf(InvalidParameterValue, "a connection needs a name")
	}
	return nil
}

// CheckGrantUpdate refuses an UpdateGrants call a store must not apply: an unknown
// securable type, a grant (in add or remove) naming another securable than the one
// updated, or an added privilege that is not valid on the type.
func CheckGrantUpdate(t SecurableType, securableID string, add, remove []Grant) error {
	if t != SecurableConnection && t != SecurableMetastore {
		return Errorf(InvalidParameterValue, "unknown securable type %q", t)
	}
	for _, list := range [][]Grant{add, remove} {
		for _, g := range list {
			if (g.SecurableType != "" && g.SecurableType != t) || (g.SecurableID != "" && g.SecurableID != securableID) {
				return Errorf(InvalidParameterValue, "a grant on %s %s cannot be changed through %s %s", g.SecurableType, g.SecurableID, t, securableID)
			}
		}
	}
	for _, g := range add {
		if !ValidPrivilege(t, g.Privilege) {
			return Errorf(InvalidParameterValue, "privilege %s cannot be granted on a %s", g.Privilege, t)
		}
	}
	return nil
}

// CheckCredential refuses a credential a store cannot keep: no connection ID, a
// negative version, or an unknown state. Messages name the credential, never its
// tokens.
func CheckCredential(c *OAuthCredential) error {
	switch {
	case c.ConnectionID == "":
		return Errorf(InvalidParameterValue, "a credential needs a connection ID")
	case c.Version < 0:
		return Errorf(InvalidParameterValue, "%s: version %d is negative", DescribeCredential(c.ConnectionID, c.PrincipalID), c.Version)
	case !c.State.Valid():
		return Errorf(InvalidParameterValue, "%s: unknown state %q", DescribeCredential(c.ConnectionID, c.PrincipalID), truncateValue(string(c.State)))
	}
	return nil
}

// DescribeCredential names the credential of a connection for a principal ("" for the
// shared one) in messages. It never includes token bytes.
func DescribeCredential(connectionID, principalID string) string {
	if principalID == "" {
		return "shared credential of connection " + connectionID
	}
	return "credential of connection " + connectionID + " for principal " + principalID
}

// CheckNetworkPolicy refuses a policy with a negative version or an unknown mode; an
// empty mode is the zero policy's (FULL_ACCESS, ENFORCED). Destinations and ranges are
// not checked here: the egress package normalizes them before they get to a store.
func CheckNetworkPolicy(p *NetworkPolicy) error {
	switch {
	case p.Version < 0:
		return Errorf(InvalidParameterValue, "network policy version %d is negative", p.Version)
	case p.RestrictionMode != "" && p.RestrictionMode != FullAccess && p.RestrictionMode != RestrictedAccess:
		return Errorf(InvalidParameterValue, "unknown restriction mode %q: want %s or %s",
			truncateValue(p.RestrictionMode), FullAccess, RestrictedAccess)
	case p.EnforcementMode != "" && p.EnforcementMode != Enforced && p.EnforcementMode != DryRun:
		return Errorf(InvalidParameterValue, "unknown enforcement mode %q: want %s or %s",
			truncateValue(p.EnforcementMode), Enforced, DryRun)
	}
	return nil
}

// CheckNetworkEvent refuses event i of a batch: nil, without a time, or with an access
// type other than DROP or DRY_RUN_DENIAL.
func CheckNetworkEvent(i int, e *NetworkEvent) error {
	switch {
	case e == nil:
		return Errorf(InvalidParameterValue, "network event %d of the batch is nil", i)
	case e.Time.IsZero():
		return Errorf(InvalidParameterValue, "network event %d of the batch has no time", i)
	case e.AccessType != AccessDrop && e.AccessType != AccessDryRunDenial:
		return Errorf(InvalidParameterValue, "network event %d of the batch: unknown access type %q: want %s or %s",
			i, truncateValue(e.AccessType), AccessDrop, AccessDryRunDenial)
	}
	return nil
}

// CheckAuditEvent refuses event i of a batch without an event id or an action name.
func CheckAuditEvent(i int, e *AuditEvent) error {
	switch {
	case e.EventID == "":
		return Errorf(InvalidParameterValue, "audit event %d of the batch has no event id", i)
	case e.ActionName == "":
		return Errorf(InvalidParameterValue, "audit event %s has no action name", e.EventID)
	}
	return nil
}

// CheckMCPTools refuses a PutMCPTools batch with a record a store must not keep: one of
// another connection than connectionID, an empty or too long name, a description
// longer than MaxMCPToolDescription, an unknown state, a negative version, or a name
// given twice. The records are checked in order and the first refusal is returned.
func CheckMCPTools(connectionID string, tools []*MCPTool) error {
	seen := make(map[string]bool, len(tools))
	for _, t := range tools {
		if err := checkMCPTool(connectionID, t, seen); err != nil {
			return err
		}
		seen[t.Name] = true
	}
	return nil
}

// checkMCPTool is CheckMCPTools for one record; seen holds the names before it. The
// name is cut for a message only when there is one to write.
func checkMCPTool(connectionID string, t *MCPTool, seen map[string]bool) error {
	switch {
	case t.ConnectionID != connectionID:
		return Errorf(InvalidParameterValue, "MCP tool %q belongs to connection %s, not %s", bound.Truncate(t.Name, 64), t.ConnectionID, connectionID)
	case t.Name == "" || len(t.Name) > MaxMCPToolName:
		return Errorf(InvalidParameterValue, "MCP tool name must be 1 to %d bytes", MaxMCPToolName)
	case len(t.Description) > MaxMCPToolDescription:
		return Errorf(InvalidParameterValue, "MCP tool %q: description longer than %d bytes", bound.Truncate(t.Name, 64), MaxMCPToolDescription)
	case !t.State.Valid():
		return Errorf(InvalidParameterValue, "MCP tool %q: unknown state %q", bound.Truncate(t.Name, 64), bound.Truncate(string(t.State), 32))
	case t.Version < 0:
		return Errorf(InvalidParameterValue, "MCP tool %q: version %d is negative", bound.Truncate(t.Name, 64), t.Version)
	case seen[t.Name]:
		return Errorf(InvalidParameterValue, "MCP tool %q is given twice", bound.Truncate(t.Name, 64))
	}
	return nil
}

// CheckFederationPolicy refuses a federation policy without an ID.
func CheckFederationPolicy(p *FederationPolicy) error {
	if p.ID == "" {
		return Errorf(InvalidParameterValue, "a federation policy needs an ID")
	}
	return nil
}

// CheckBrowserSession refuses a browser session without a principal or a token, or a
// bound of sessions per principal that is not positive.
func CheckBrowserSession(s *BrowserSession, maxPerPrincipal int) error {
	if s.PrincipalID == "" || s.TokenID == "" || len(s.TokenHash) == 0 {
		return Errorf(InvalidParameterValue, "a browser session needs a principal and a token")
	}
	if maxPerPrincipal < 1 {
		return Errorf(InvalidParameterValue, "the bound of sessions per principal must be positive, not %d", maxPerPrincipal)
	}
	return nil
}

// CheckPendingLogin refuses bounds of pending logins that are not all positive, or a
// login without a principal, a connection or a sealed verifier.
func CheckPendingLogin(l *PendingLogin, lim PendingLoginLimits) error {
	if lim.MaxTotal < 1 || lim.MaxPerSession < 1 || lim.MaxPerPrincipal < 1 {
		return Errorf(InvalidParameterValue, "the bounds of pending logins must be positive")
	}
	if l.PrincipalID == "" || l.ConnectionID == "" || len(l.SealedVerifier) == 0 {
		return Errorf(InvalidParameterValue, "a pending login needs a principal, a connection and a sealed verifier")
	}
	return nil
}

// CheckOAuthRotation refuses a rotation without the new access token.
func CheckOAuthRotation(r OAuthRotation) error {
	if r.NewTokenID == "" {
		return Errorf(InvalidParameterValue, "a rotation needs the new access token")
	}
	return nil
}

// CheckMetaKey refuses an empty meta key.
func CheckMetaKey(key string) error {
	if key == "" {
		return Errorf(InvalidParameterValue, "a meta value needs a key")
	}
	return nil
}

// truncateValue shortens a value quoted in an error message to 64 runes.
func truncateValue(s string) string {
	n := 0
	for i := range s {
		if n == 64 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
