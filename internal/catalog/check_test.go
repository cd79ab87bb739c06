package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStoreChecks pins each input check of the stores: a valid record passes, and each
// fault is INVALID_PARAMETER_VALUE with the message both stores gave before the checks
// moved here (storetest checks the codes on both stores; this checks the words).
func TestStoreChecks(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 100)     // 100 runes, 200 bytes
	cut := strings.Repeat("é", 64) + "…" // what truncateValue keeps of it

	principal := func(f func(*Principal)) *Principal {
		p := &Principal{ID: "p1", Kind: KindUser, Name: "alice@example.com"}
		if f != nil {
			f(p)
		}
		return p
	}
	credential := func(f func(*OAuthCredential)) *OAuthCredential {
		c := &OAuthCredential{ConnectionID: "c1", PrincipalID: "p1", State: StateActive,
			AccessToken: []byte("sealed-access"), RefreshToken: []byte("sealed-refresh")}
		if f != nil {
			f(c)
		}
		return c
	}
	policy := func(f func(*NetworkPolicy)) *NetworkPolicy {
		p := &NetworkPolicy{Version: 1, RestrictionMode: RestrictedAccess, EnforcementMode: DryRun}
		if f != nil {
			f(p)
		}
		return p
	}
	event := func(f func(*NetworkEvent)) *NetworkEvent {
		e := &NetworkEvent{Time: at, AccessType: AccessDrop}
		if f != nil {
			f(e)
		}
		return e
	}
	tool := func(name string, f func(*MCPTool)) *MCPTool {
		t := &MCPTool{ConnectionID: "c1", Name: name, State: MCPToolPinned}
		if f != nil {
			f(t)
		}
		return t
	}
	session := func(f func(*BrowserSession)) *BrowserSession {
		s := &BrowserSession{PrincipalID: "p1", TokenID: "t1", TokenHash: []byte{1}}
		if f != nil {
			f(s)
		}
		return s
	}
	login := func(f func(*PendingLogin)) *PendingLogin {
		l := &PendingLogin{PrincipalID: "p1", ConnectionID: "c1", SealedVerifier: []byte{1}}
		if f != nil {
			f(l)
		}
		return l
	}
	limits := PendingLoginLimits{MaxTotal: 3, MaxPerSession: 2, MaxPerPrincipal: 1}
	connGrant := Grant{PrincipalID: "p1", Privilege: UseConnection}

	tests := []struct {
		name  string
		check func() error
		want  string // the message; "" for no error
	}{
		{"principal", func() error { return CheckPrincipal(principal(nil)) }, ""},
		{"group principal", func() error { return CheckPrincipal(principal(func(p *Principal) { p.Kind = KindGroup })) }, ""},
		{"principal without ID", func() error { return CheckPrincipal(principal(func(p *Principal) { p.ID = "" })) }, "a principal needs an ID"},
		{"principal without ID or name", func() error {
			return CheckPrincipal(principal(func(p *Principal) { p.ID, p.Name = "", "" }))
		}, "a principal needs an ID"},
		{"principal without name", func() error { return CheckPrincipal(principal(func(p *Principal) { p.Name = "" })) }, "a principal needs a name"},
		{"principal of unknown kind", func() error { return CheckPrincipal(principal(func(p *Principal) { p.Kind = "ROBOT" })) }, `unknown principal kind "ROBOT"`},
		{"principal without kind", func() error { return CheckPrincipal(principal(func(p *Principal) { p.Kind = "" })) }, `unknown principal kind ""`},
		{"principal update", func() error { return CheckPrincipalUpdate(principal(func(p *Principal) { p.ID, p.Kind = "", "" })) }, ""},
		{"principal update without name", func() error { return CheckPrincipalUpdate(principal(func(p *Principal) { p.Name = "" })) }, "a principal needs a name"},

		{"group", func() error { return CheckGroup("admins", KindGroup) }, ""},
		{"user as a group", func() error { return CheckGroup("alice", KindUser) }, "principal alice is not a group"},
		{"member user", func() error { return CheckMember("alice", KindUser) }, ""},
		{"member group", func() error { return CheckMember("admins", KindGroup) }, ""},
		{"user named users as a member", func() error { return CheckMember("users", KindUser) }, ""},
		{"users as a member", func() error { return CheckMember("users", KindGroup) }, "the built-in group users cannot be a member of any group"},
		{"Users as a member", func() error { return CheckMember("Users", KindGroup) }, "the built-in group Users cannot be a member of any group"},

		{"token", func() error { return CheckToken(&Token{ID: "t1", Hash: []byte{1}}) }, ""},
		{"token without ID", func() error { return CheckToken(&Token{Hash: []byte{1}}) }, "a token needs an ID"},
		{"token without hash", func() error { return CheckToken(&Token{ID: "t1", Hash: []byte{}}) }, "a token needs a hash"},

		{"connection", func() error { return CheckConnection(&Connection{ID: "c1", Name: "github"}) }, ""},
		{"connection without ID", func() error { return CheckConnection(&Connection{Name: "github"}) }, "a connection needs an ID"},
		{"connection without name", func() error { return CheckConnection(&Connection{ID: "c1"}) }, "a connection needs a name"},

		{"grant on a connection", func() error {
			return CheckGrantUpdate(SecurableConnection, "c1", []Grant{connGrant}, []Grant{{PrincipalID: "p2", Privilege: "ANYTHING"}})
		}, ""},
		{"grant naming its securable", func() error {
			g := connGrant
			g.SecurableType, g.SecurableID = SecurableConnection, "c1"
			return CheckGrantUpdate(SecurableConnection, "c1", []Grant{g}, nil)
		}, ""},
		{"grant on the metastore", func() error {
			return CheckGrantUpdate(SecurableMetastore, MetastoreID, []Grant{{PrincipalID: "p1", Privilege: CreateConnection}}, nil)
		}, ""},
		{"grant on an unknown type", func() error { return CheckGrantUpdate("TABLE", "c1", []Grant{connGrant}, nil) }, `unknown securable type "TABLE"`},
		{"removed grant of another securable", func() error {
			g := connGrant
			g.SecurableID = "c2"
			return CheckGrantUpdate(SecurableConnection, "c1", nil, []Grant{g})
		}, "a grant on  c2 cannot be changed through CONNECTION c1"},
		{"added grant of another type", func() error {
			g := connGrant
			g.SecurableType = SecurableMetastore
			return CheckGrantUpdate(SecurableConnection, "c1", []Grant{g}, nil)
		}, "a grant on METASTORE  cannot be changed through CONNECTION c1"},
		{"privilege not valid on the type", func() error {
			return CheckGrantUpdate(SecurableMetastore, MetastoreID, []Grant{connGrant}, nil)
		}, "privilege USE_CONNECTION cannot be granted on a METASTORE"},

		{"credential", func() error { return CheckCredential(credential(nil)) }, ""},
		{"credential in every state", func() error {
			for _, s := range []CredentialState{StateActive, StateExpiring, StateNeedsLogin, StateReauthRequired,
				StateDegraded, StateMisconfigured, StateDisabled} {
				if err := CheckCredential(credential(func(c *OAuthCredential) { c.State = s })); err != nil {
					return err
				}
			}
			return nil
		}, ""},
		{"credential without connection", func() error {
			return CheckCredential(credential(func(c *OAuthCredential) { c.ConnectionID = "" }))
		}, "a credential needs a connection ID"},
		{"credential with negative version", func() error {
			return CheckCredential(credential(func(c *OAuthCredential) { c.Version = -1 }))
		}, "credential of connection c1 for principal p1: version -1 is negative"},
		{"shared credential of unknown state", func() error {
			return CheckCredential(credential(func(c *OAuthCredential) { c.PrincipalID, c.State = "", "SLEEPY" }))
		}, `shared credential of connection c1: unknown state "SLEEPY"`},
		{"credential without state", func() error {
			return CheckCredential(credential(func(c *OAuthCredential) { c.State = "" }))
		}, `credential of connection c1 for principal p1: unknown state ""`},
		{"credential of a long unknown state", func() error {
			return CheckCredential(credential(func(c *OAuthCredential) { c.State = CredentialState(long) }))
		}, `credential of connection c1 for principal p1: unknown state "` + cut + `"`},

		{"network policy", func() error { return CheckNetworkPolicy(policy(nil)) }, ""},
		{"zero network policy", func() error { return CheckNetworkPolicy(&NetworkPolicy{}) }, ""},
		{"network policy full access, enforced", func() error {
			return CheckNetworkPolicy(policy(func(p *NetworkPolicy) { p.RestrictionMode, p.EnforcementMode = FullAccess, Enforced }))
		}, ""},
		{"network policy with negative version", func() error {
			return CheckNetworkPolicy(policy(func(p *NetworkPolicy) { p.Version = -2 }))
		}, "network policy version -2 is negative"},
		{"network policy of unknown restriction", func() error {
			return CheckNetworkPolicy(policy(func(p *NetworkPolicy) { p.RestrictionMode = "open" }))
		}, `unknown restriction mode "open": want FULL_ACCESS or RESTRICTED_ACCESS`},
		{"network policy of long unknown enforcement", func() error {
			return CheckNetworkPolicy(policy(func(p *NetworkPolicy) { p.EnforcementMode = long }))
		}, `unknown enforcement mode "` + cut + `": want ENFORCED or DRY_RUN`},

		{"network event", func() error { return CheckNetworkEvent(0, event(nil)) }, ""},
		{"dry-run network event", func() error {
			return CheckNetworkEvent(0, event(func(e *NetworkEvent) { e.AccessType = AccessDryRunDenial }))
		}, ""},
		{"nil network event", func() error { return CheckNetworkEvent(3, nil) }, "network event 3 of the batch is nil"},
		{"network event without time", func() error {
			return CheckNetworkEvent(1, event(func(e *NetworkEvent) { e.Time = time.Time{} }))
		}, "network event 1 of the batch has no time"},
		{"network event of long unknown access type", func() error {
			return CheckNetworkEvent(2, event(func(e *NetworkEvent) { e.AccessType = long }))
		}, `network event 2 of the batch: unknown access type "` + cut + `": want DROP or DRY_RUN_DENIAL`},

		{"audit event", func() error { return CheckAuditEvent(0, &AuditEvent{EventID: "e1", ActionName: ActionUseConnection}) }, ""},
		{"audit event without id", func() error { return CheckAuditEvent(4, &AuditEvent{ActionName: ActionUseConnection}) }, "audit event 4 of the batch has no event id"},
		{"audit event without action", func() error { return CheckAuditEvent(4, &AuditEvent{EventID: "e1"}) }, "audit event e1 has no action name"},

		{"MCP tools", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", nil), tool("A", func(t *MCPTool) {
				t.State, t.Version, t.Description = MCPToolNew, 3, strings.Repeat("d", MaxMCPToolDescription)
			}), tool(strings.Repeat("n", MaxMCPToolName), nil)})
		}, ""},
		{"no MCP tools", func() error { return CheckMCPTools("c1", nil) }, ""},
		{"MCP tool of another connection", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", func(t *MCPTool) { t.ConnectionID = "c2" })})
		}, `MCP tool "a" belongs to connection c2, not c1`},
		{"MCP tool without name", func() error { return CheckMCPTools("c1", []*MCPTool{tool("", nil)}) }, "MCP tool name must be 1 to 256 bytes"},
		{"MCP tool with too long a name", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool(strings.Repeat("n", MaxMCPToolName+1), nil)})
		}, "MCP tool name must be 1 to 256 bytes"},
		{"MCP tool with too long a description", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", func(t *MCPTool) { t.Description = strings.Repeat("d", MaxMCPToolDescription+1) })})
		}, `MCP tool "a": description longer than 1024 bytes`},
		{"MCP tool of unknown state", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", func(t *MCPTool) { t.State = "APPROVED" })})
		}, `MCP tool "a": unknown state "APPROVED"`},
		{"MCP tool with negative version", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", func(t *MCPTool) { t.Version = -1 })})
		}, `MCP tool "a": version -1 is negative`},
		{"MCP tool given twice", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", nil), tool("b", nil), tool("a", nil)})
		}, `MCP tool "a" is given twice`},
		{"first refusal of the batch", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a", nil), tool("b", func(t *MCPTool) { t.Version = -1 }), tool("", nil)})
		}, `MCP tool "b": version -1 is negative`},
		{"MCP tool name quoted bounded", func() error {
			return CheckMCPTools("c1", []*MCPTool{tool("a\nb", func(t *MCPTool) { t.Version = -1 })})
		}, `MCP tool "a\\nb": version -1 is negative`},

		{"federation policy", func() error { return CheckFederationPolicy(&FederationPolicy{ID: "f1"}) }, ""},
		{"federation policy without ID", func() error { return CheckFederationPolicy(&FederationPolicy{PrincipalID: "p1"}) }, "a federation policy needs an ID"},

		{"browser session", func() error { return CheckBrowserSession(session(nil), 1) }, ""},
		{"browser session without principal", func() error {
			return CheckBrowserSession(session(func(s *BrowserSession) { s.PrincipalID = "" }), 1)
		}, "a browser session needs a principal and a token"},
		{"browser session without token ID", func() error {
			return CheckBrowserSession(session(func(s *BrowserSession) { s.TokenID = "" }), 1)
		}, "a browser session needs a principal and a token"},
		{"browser session without token hash", func() error {
			return CheckBrowserSession(session(func(s *BrowserSession) { s.TokenHash = nil }), 0)
		}, "a browser session needs a principal and a token"},
		{"browser sessions bound zero", func() error { return CheckBrowserSession(session(nil), 0) },
			"the bound of sessions per principal must be positive, not 0"},

		{"pending login", func() error { return CheckPendingLogin(login(nil), limits) }, ""},
		{"pending logins total bound zero", func() error {
			lim := limits
			lim.MaxTotal = 0
			return CheckPendingLogin(login(func(l *PendingLogin) { l.PrincipalID = "" }), lim)
		}, "the bounds of pending logins must be positive"},
		{"pending logins session bound negative", func() error {
			lim := limits
			lim.MaxPerSession = -1
			return CheckPendingLogin(login(nil), lim)
		}, "the bounds of pending logins must be positive"},
		{"pending logins principal bound zero", func() error {
			lim := limits
			lim.MaxPerPrincipal = 0
			return CheckPendingLogin(login(nil), lim)
		}, "the bounds of pending logins must be positive"},
		{"pending login without principal", func() error {
			return CheckPendingLogin(login(func(l *PendingLogin) { l.PrincipalID = "" }), limits)
		}, "a pending login needs a principal, a connection and a sealed verifier"},
		{"pending login without connection", func() error {
			return CheckPendingLogin(login(func(l *PendingLogin) { l.ConnectionID = "" }), limits)
		}, "a pending login needs a principal, a connection and a sealed verifier"},
		{"pending login without verifier", func() error {
			return CheckPendingLogin(login(func(l *PendingLogin) { l.SealedVerifier = []byte{} }), limits)
		}, "a pending login needs a principal, a connection and a sealed verifier"},

		{"rotation", func() error { return CheckOAuthRotation(OAuthRotation{FamilyID: "f1", NewTokenID: "t2"}) }, ""},
		{"rotation without token", func() error { return CheckOAuthRotation(OAuthRotation{FamilyID: "f1"}) }, "a rotation needs the new access token"},

		{"meta key", func() error { return CheckMetaKey("k") }, ""},
		{"empty meta key", func() error { return CheckMetaKey("") }, "a meta value needs a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *catalog.Error %q", err, tt.want)
			}
			if ce.Code != InvalidParameterValue || ce.Message != tt.want {
				t.Errorf("got %s %q, want %s %q", ce.Code, ce.Message, InvalidParameterValue, tt.want)
			}
			if strings.Contains(ce.Message, "sealed-") {
				t.Errorf("message %q quotes a token", ce.Message)
			}
		})
	}
}

func TestTruncateValue(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"short", "DROP", "DROP"},
		{"64 runes kept", strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{"65 runes cut", strings.Repeat("x", 65), strings.Repeat("x", 64) + "…"},
		{"cut on a rune boundary", strings.Repeat("€", 70), strings.Repeat("€", 64) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := truncateValue(tt.in); got != tt.want {
				t.Errorf("truncateValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
