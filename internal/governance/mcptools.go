package governance

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/mcp"
)

var _ catalog.MCPToolGate = (*Service)(nil)

// MCPToolsTouchEvery is how stale a tool record's last-seen time may get before a
// tools/list that changes nothing writes it again: a busy tools/list costs one read.
const MCPToolsTouchEvery = time.Minute

// What the caller is told about a tool it may not see or call (catalog.MCPToolGate).
const (
	ReasonToolChanged  = "definition changed since it was approved"
	ReasonToolNew      = "new tool since the tools were pinned"
	ReasonToolUnlisted = "not listed yet: list the tools first"
	// ReasonToolUnjudged is a tool last seen before pinning was turned on: its next
	// listing judges it against the definition seen then.
	ReasonToolUnjudged = "not listed since tool pinning was turned on: list the tools first"
)

var (
	reasonNameTooLong = fmt.Sprintf("tool name longer than %d bytes cannot be pinned", catalog.MaxMCPToolName)
	reasonTooMany     = fmt.Sprintf("more than %d tools on the connection: this one cannot be pinned", catalog.MaxMCPTools)
)

// observeAttempts bounds the re-reads of ObserveTools when another writer (a listing
// on another replica, an approval) changed the records between its read and its write.
const observeAttempts = 4

// pinsTools reports whether the connection pins its tools (mcp_pin_tools "true").
func pinsTools(c *catalog.Connection) bool {
	return strings.EqualFold(c.Options[catalog.OptMCPPinTools], "true")
}

// errNotMCP is the MCP proxy's own refusal of a connection that is not an MCP server
// (httpapi's errNotMCP), word for word.
func errNotMCP(name string) error {
	return catalog.Errorf(catalog.InvalidParameterValue, "connection %s is not an MCP connection (option %s is not \"true\")", name, catalog.OptIsMCP)
}

// ObserveTools records the tools of one tools/list answer on conn and returns those the
// caller must not see (catalog.MCPToolGate). On a pinning connection without records
// every tool listed is pinned; after that, a tool whose definition is not its pin is
// CHANGED and a name not seen before is NEW, and both are hidden until approved, while
// a tool back at its pin is PINNED again. Without pinning every record is UNPINNED, its
// pin following the definition seen, and nothing is hidden. A listing that changes no
// record writes nothing unless a record's last-seen time is MCPToolsTouchEvery old.
// Each time a tool enters CHANGED or NEW (a new seen definition, not every listing) it
// writes an mcpToolChange audit event naming principal, with hashes only.
//
// A tool whose name is longer than catalog.MaxMCPToolName, or that would make the
// connection's records more than catalog.MaxMCPTools, is not recorded (hidden when the
// connection pins). Tools not in the listing keep their records as they are.
func (s *Service) ObserveTools(ctx context.Context, conn *catalog.Connection, principal string, tools []mcp.ToolDefinition) (map[string]string, error) {
	pin := pinsTools(conn)
	for range observeAttempts {
		hidden, events, err := s.observe(ctx, conn, pin, tools)
		if catalog.IsAlreadyExists(err) {
			continue // someone else wrote since the read: judge again on what is stored now
		}
		if err != nil {
			return nil, fmt.Errorf("observe tools of %s: %w", conn.Name, err)
		}
		for _, e := range events {
			e.Principal = principal
			s.record(ctx, e)
		}
		return hidden, nil
	}
	return nil, fmt.Errorf("observe tools of %s: the records kept changing under %d attempts", conn.Name, observeAttempts)
}

// observe is one read-judge-write round of ObserveTools.
func (s *Service) observe(ctx context.Context, conn *catalog.Connection, pin bool, tools []mcp.ToolDefinition) (map[string]string, []*catalog.AuditEvent, error) {
	stored, err := s.d.Store.ListMCPTools(ctx, conn.ID)
	if err != nil {
		return nil, nil, err
	}
	old := make(map[string]*catalog.MCPTool, len(stored))
	for _, t := range stored {
		old[t.Name] = t
	}
	first := len(stored) == 0 // nothing was ever pinned here: what is listed now is pinned
	now := s.d.Now()
	hidden := map[string]string{}
	next := map[string]*catalog.MCPTool{}
	var order []string
	differs := map[string]bool{} // a definition listed now is not the pin: stays CHANGED
	count := len(stored)
	for _, d := range tools {
		if d.Name == "" {
			continue
		}
		if len(d.Name) > catalog.MaxMCPToolName {
			if pin {
				hidden[d.Name] = reasonNameTooLong
			}
			continue
		}
		r := next[d.Name]
		if r == nil {
			if o := old[d.Name]; o != nil {
				c := *o
				r = &c
			} else {
				if count >= catalog.MaxMCPTools {
					if pin {
						hidden[d.Name] = reasonTooMany
					}
					continue
				}
				count++
				r = &catalog.MCPTool{ConnectionID: conn.ID, Name: d.Name, FirstSeen: now, State: catalog.MCPToolNew}
				if !pin || first {
					r.State, r.PinHash = catalog.MCPToolPinned, d.Hash
				}
			}
			next[d.Name] = r
			order = append(order, d.Name)
		}
		if differs[d.Name] && d.Hash == r.PinHash {
			continue // a second definition under one name: the one that differs counts
		}
		r.SeenHash, r.Description = d.Hash, catalog.BoundMCPToolDescription(d.Description)
		switch {
		case !pin:
			r.State, r.PinHash = catalog.MCPToolUnpinned, d.Hash
		case r.State == catalog.MCPToolNew:
			// No pin yet: it stays NEW, whatever it says, until approved.
		case d.Hash == r.PinHash:
			r.State = catalog.MCPToolPinned
		default:
			r.State = catalog.MCPToolChanged
			differs[d.Name] = true
		}
	}

	var events []*catalog.AuditEvent
	write := false
	for _, name := range order {
		r, o := next[name], old[name]
		if o != nil && o.SeenHash != r.SeenHash || o == nil && r.State == catalog.MCPToolChanged {
			r.ChangedAt = now // a definition other than the one stored (or two at first sight)
		}
		if o == nil || o.State != r.State || o.PinHash != r.PinHash || o.SeenHash != r.SeenHash || o.Description != r.Description ||
			now.Sub(o.LastSeen) >= MCPToolsTouchEvery {
			write = true
		}
		if r.State != catalog.MCPToolChanged && r.State != catalog.MCPToolNew {
			continue
		}
		if r.State == catalog.MCPToolChanged {
			hidden[name] = ReasonToolChanged
		} else {
			hidden[name] = ReasonToolNew
		}
		if o == nil || o.State != r.State || o.SeenHash != r.SeenHash {
			events = append(events, &catalog.AuditEvent{
				ActionName: catalog.ActionMCPToolChange, Connection: conn.Name, Decision: catalog.DecisionDeny,
				Params: map[string]string{"tool": bound.String(name), "state": string(r.State), "pin": r.PinHash, "seen": r.SeenHash},
			})
		}
	}
	if !pin {
		hidden = nil
	}
	if !write {
		return hidden, nil, nil
	}
	writes := make([]*catalog.MCPTool, 0, len(order))
	for _, name := range order {
		r := next[name]
		r.LastSeen = now
		writes = append(writes, r)
	}
	if err := s.d.Store.PutMCPTools(ctx, conn.ID, writes); err != nil {
		return nil, nil, err
	}
	return hidden, events, nil
}

// ToolCallable says whether a tools/call of tool on conn may reach the upstream
// (catalog.MCPToolGate): "" on a connection that does not pin (without reading the
// store: that is the hot path), else "" only for a PINNED tool and the reason for any
// other (changed, new, never listed, not listed since pinning was turned on).
func (s *Service) ToolCallable(ctx context.Context, conn *catalog.Connection, tool string) (string, error) {
	if !pinsTools(conn) {
		return "", nil
	}
	if tool == "" || len(tool) > catalog.MaxMCPToolName {
		return ReasonToolUnlisted, nil
	}
	t, err := s.d.Store.GetMCPTool(ctx, conn.ID, tool)
	if catalog.IsNotFound(err) {
		return ReasonToolUnlisted, nil
	}
	if err != nil {
		return "", fmt.Errorf("tool callable on %s: %w", conn.Name, err)
	}
	switch {
	case t.State == catalog.MCPToolPinned && t.PinHash == t.SeenHash:
		return "", nil
	case t.State == catalog.MCPToolNew:
		return ReasonToolNew, nil
	case t.State == catalog.MCPToolUnpinned:
		return ReasonToolUnjudged, nil
	}
	return ReasonToolChanged, nil
}

// MCPTools is what ListMCPTools and ApproveMCPTools answer: the connection, whether it
// pins its tools, and its tool records ordered by name.
type MCPTools struct {
	Connection *catalog.Connection
	PinTools   bool
	Tools      []*catalog.MCPTool
}

// visibleConnection returns the named connection if who may see it: any privilege on
// it, the rule of the get-connection API.
func (s *Service) visibleConnection(ctx context.Context, who *catalog.Principal, name string) (*catalog.Connection, error) {
	c, _, err := s.visible(ctx, who, name)
	return c, err
}

// MCPConnection returns the named MCP connection if who may see it (any privilege, as
// for getting the connection); a connection that is not an MCP server is the MCP
// proxy's 400. Surfaces call it before they read a request body.
func (s *Service) MCPConnection(ctx context.Context, who *catalog.Principal, name string) (*catalog.Connection, error) {
	c, err := s.visibleConnection(ctx, who, name)
	if err != nil {
		return nil, err
	}
	if !c.IsMCP() {
		return nil, errNotMCP(c.Name)
	}
	return c, nil
}

// ListMCPTools lists the tool records of the named MCP connection, for whoever may get
// the connection.
func (s *Service) ListMCPTools(ctx context.Context, who *catalog.Principal, name string) (*MCPTools, error) {
	c, err := s.MCPConnection(ctx, who, name)
	if err != nil {
		return nil, err
	}
	ts, err := s.d.Store.ListMCPTools(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return &MCPTools{Connection: c, PinTools: pinsTools(c), Tools: ts}, nil
}

// ApproveMCPTools approves the named tools of an MCP connection at the definition each
// was last seen with (pin = seen hash, state PINNED, approved by who, now); who needs
// owner, MANAGE or admin. All or nothing: a name without a record is
// RESOURCE_DOES_NOT_EXIST naming it, and nothing changes; an empty list is
// INVALID_PARAMETER_VALUE; approving a PINNED tool changes nothing. The record gets
// tools (the names, comma-joined) and pin.NAME (each tool's pin after) — hashes, never
// descriptions.
func (s *Service) ApproveMCPTools(ctx context.Context, who *catalog.Principal, name string, tools []string, rec *Record) (*MCPTools, error) {
	c, err := s.ManagedConnection(ctx, who, name)
	if err != nil {
		return nil, err
	}
	rec.setConnection(c.Name)
	if !c.IsMCP() {
		return nil, errNotMCP(c.Name)
	}
	if len(tools) == 0 {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "tools: name at least one tool to approve")
	}
	names := make([]string, 0, len(tools))
	dup := make(map[string]bool, len(tools))
	for _, t := range tools {
		if !dup[t] {
			dup[t] = true
			names = append(names, t)
		}
	}
	rec.Set("tools", bound.String(strings.Join(names, ",")))
	stored, err := s.d.Store.ListMCPTools(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(stored))
	for _, t := range stored {
		known[t.Name] = true
	}
	for _, n := range names {
		if !known[n] {
			return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "Tool %s of connection %s does not exist (no tools/list has shown it); nothing was approved",
				strconv.Quote(truncate(n, 64)), c.Name)
		}
	}
	after, err := s.d.Store.ApproveMCPTools(ctx, c.ID, names, who.ID, s.d.Now())
	if err != nil {
		return nil, err
	}
	for _, t := range after {
		if dup[t.Name] {
			rec.Set("pin."+t.Name, t.PinHash)
		}
	}
	return &MCPTools{Connection: c, PinTools: pinsTools(c), Tools: after}, nil
}

// record writes an audit event when the service has a recorder.
func (s *Service) record(ctx context.Context, e *catalog.AuditEvent) {
	if s.d.Audit != nil {
		info := catalog.RequestInfoFrom(ctx)
		if e.RequestID == "" {
			e.RequestID, e.SourceIP = info.RequestID, info.SourceIP
		}
		s.d.Audit.Record(context.WithoutCancel(ctx), e)
	}
}
