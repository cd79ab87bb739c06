// Package access decides whether a principal may do something to a securable: the
// owner, grants held directly or through (nested) groups, and the admins group. It keeps
// an in-memory index of group closures and grants so that a decision costs a few map
// lookups, and it drops the affected parts of that index on every committed change the
// store announces, so a revoke bites on the very next request.
package access

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/freshness"
)

// PrivSet is a set of privileges as a bitmask.
type PrivSet uint8

// The privilege bits.
const (
	PrivUse PrivSet = 1 << iota
	PrivManage
	PrivAll
	PrivCreateConnection
)

// Everything is every privilege on a connection, as owners and admins hold it.
const Everything = PrivUse | PrivManage | PrivAll

// implied is what a grant of ALL_PRIVILEGES stands for: every connection privilege
// except MANAGE. As in Unity Catalog, "everything to use it" never hands out control
// (editing, re-granting, redirecting the connection); MANAGE is always granted by name.
const implied = PrivUse

func bit(p catalog.Privilege) PrivSet {
	switch p {
	case catalog.UseConnection:
		return PrivUse
	case catalog.Manage:
		return PrivManage
	case catalog.AllPrivileges:
		return PrivAll
	case catalog.CreateConnection:
		return PrivCreateConnection
	}
	return 0
}

// Has reports whether s grants p. ALL_PRIVILEGES implies every connection privilege
// except MANAGE.
func (s PrivSet) Has(p catalog.Privilege) bool {
	b := bit(p)
	return b != 0 && s.Expand()&b != 0
}

// Expand returns s with what ALL_PRIVILEGES implies added (USE_CONNECTION, never
// MANAGE), for callers that test bits: s.Expand()&PrivManage is MANAGE held by name.
func (s PrivSet) Expand() PrivSet {
	if s&PrivAll != 0 {
		return s | implied
	}
	return s
}

// Store is what the authorizer reads.
type Store interface {
	GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error)
	ListMemberships(ctx context.Context) ([]catalog.Membership, error)
	ListGrants(ctx context.Context, t catalog.SecurableType, securableID string) ([]catalog.Grant, error)
	Watch(fn func(catalog.Change))
}

// Authorizer answers access questions. It is safe for concurrent use.
type Authorizer struct {
	store Store

	mu sync.RWMutex
	// gen counts invalidations; a loader stores its result only if gen did not move
	// while it read, so a stale read never overwrites a newer invalidation.
	gen        uint64
	graph      map[string][]string // member ID → direct parent group IDs; nil = not loaded
	closures   map[string][]string // principal ID → every group it is in, transitively
	grants     map[string]map[string]PrivSet
	adminsID   string
	usersID    string
	builtinsOK bool
	// fresh and since bound how long the cache is served (scale-out): everything is
	// dropped once since is older than freshness.TTL or the store was deaf since. since
	// is read without a.mu (every decision checks it), written with a.mu held.
	fresh *freshness.Clock
	since atomic.Pointer[freshness.Stamp]
}

// New returns an authorizer over the store and subscribes it to the store's changes.
func New(s Store) *Authorizer {
	a := &Authorizer{store: s, closures: map[string][]string{}, grants: map[string]map[string]PrivSet{}, fresh: freshness.New(s, nil, 0)}
	a.restamp()
	s.Watch(a.invalidate)
	return a
}

// expire drops the whole cache when its window is over: older than the TTL, or the
// store was deaf since it started (scale-out). Callers then read the store again.
func (a *Authorizer) expire() {
	if a.fresh.Fresh(*a.since.Load()) {
		return
	}
	a.mu.Lock()
	if !a.fresh.Fresh(*a.since.Load()) {
		a.dropLocked()
		a.restamp()
	}
	a.mu.Unlock()
}

// restamp starts a new cache window now.
func (a *Authorizer) restamp() {
	s := a.fresh.Stamp()
	a.since.Store(&s)
}

// dropLocked forgets everything; a.mu is held.
func (a *Authorizer) dropLocked() {
	a.gen++
	a.graph = nil
	a.closures = map[string][]string{}
	a.grants = map[string]map[string]PrivSet{}
	a.builtinsOK = false
}

func (a *Authorizer) invalidate(c catalog.Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	switch c.Kind {
	case catalog.ChangeAll:
		a.dropLocked()
	case catalog.ChangeMembership, catalog.ChangePrincipal:
		a.graph = nil
		a.closures = map[string][]string{}
		if c.Kind == catalog.ChangePrincipal {
			a.builtinsOK = false
		}
	case catalog.ChangeGrant, catalog.ChangeConnection:
		delete(a.grants, c.ID)
	}
}

func (a *Authorizer) builtins(ctx context.Context) (admins, users string, err error) {
	a.expire()
	a.mu.RLock()
	if a.builtinsOK {
		admins, users = a.adminsID, a.usersID
		a.mu.RUnlock()
		return admins, users, nil
	}
	gen := a.gen
	a.mu.RUnlock()
	ad, err := a.store.GetPrincipalByName(ctx, catalog.AdminsGroup)
	if err != nil {
		return "", "", fmt.Errorf("find admins group: %w", err)
	}
	us, err := a.store.GetPrincipalByName(ctx, catalog.UsersGroup)
	if err != nil {
		return "", "", fmt.Errorf("find users group: %w", err)
	}
	a.mu.Lock()
	if a.gen == gen {
		a.adminsID, a.usersID, a.builtinsOK = ad.ID, us.ID, true
	}
	a.mu.Unlock()
	return ad.ID, us.ID, nil
}

// Groups returns the IDs of every group p belongs to, directly, through nested groups,
// and implicitly (`users` for every user and service principal). The slice is shared:
// do not modify it.
func (a *Authorizer) Groups(ctx context.Context, p *catalog.Principal) ([]string, error) {
	a.expire()
	a.mu.RLock()
	cl, ok := a.closures[p.ID]
	a.mu.RUnlock()
	if ok {
		return cl, nil
	}
	_, usersID, err := a.builtins(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	graph, gen := a.graph, a.gen
	a.mu.RUnlock()
	if graph == nil {
		edges, err := a.store.ListMemberships(ctx)
		if err != nil {
			return nil, fmt.Errorf("load memberships: %w", err)
		}
		graph = make(map[string][]string, len(edges))
		for _, e := range edges {
			// users holds everyone implicitly; an edge that makes it a member of a
			// group (refused since, but possibly stored by an older version) would
			// give that group's rights, admins' included, to every user.
			if e.MemberID == usersID {
				continue
			}
			graph[e.MemberID] = append(graph[e.MemberID], e.GroupID)
		}
	}
	seen := map[string]bool{}
	var out []string
	var walk func(id string)
	walk = func(id string) {
		for _, g := range graph[id] {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
				walk(g)
			}
		}
	}
	walk(p.ID)
	if p.Kind != catalog.KindGroup && !seen[usersID] {
		seen[usersID] = true
		out = append(out, usersID)
		walk(usersID)
	}
	sort.Strings(out)
	a.mu.Lock()
	if a.gen == gen {
		a.graph = graph
		a.closures[p.ID] = out
	}
	a.mu.Unlock()
	return out, nil
}

// IsAdmin reports whether p is in the admins group (directly or nested).
func (a *Authorizer) IsAdmin(ctx context.Context, p *catalog.Principal) (bool, error) {
	if p == nil || (p.Kind != catalog.KindGroup && !p.Active) {
		return false, nil
	}
	adminsID, _, err := a.builtins(ctx)
	if err != nil {
		return false, err
	}
	if p.ID == adminsID {
		return true, nil
	}
	groups, err := a.Groups(ctx, p)
	if err != nil {
		return false, err
	}
	return contains(groups, adminsID), nil
}

func contains(sorted []string, id string) bool {
	i := sort.SearchStrings(sorted, id)
	return i < len(sorted) && sorted[i] == id
}

func (a *Authorizer) securableGrants(ctx context.Context, t catalog.SecurableType, id string) (map[string]PrivSet, error) {
	a.expire()
	a.mu.RLock()
	m, ok := a.grants[id]
	gen := a.gen
	a.mu.RUnlock()
	if ok {
		return m, nil
	}
	gs, err := a.store.ListGrants(ctx, t, id)
	if err != nil {
		return nil, fmt.Errorf("load grants: %w", err)
	}
	m = make(map[string]PrivSet, len(gs))
	for _, g := range gs {
		m[g.PrincipalID] |= bit(g.Privilege)
	}
	a.mu.Lock()
	if a.gen == gen {
		a.grants[id] = m
	}
	a.mu.Unlock()
	return m, nil
}

// Connection returns p's privileges on the connection: everything for admins and the
// owner (or a member of an owning group), else the union of the grants p holds directly
// and through its groups. An inactive principal holds nothing.
func (a *Authorizer) Connection(ctx context.Context, p *catalog.Principal, c *catalog.Connection) (PrivSet, error) {
	if p == nil || (p.Kind != catalog.KindGroup && !p.Active) {
		return 0, nil
	}
	groups, err := a.Groups(ctx, p)
	if err != nil {
		return 0, err
	}
	adminsID, _, err := a.builtins(ctx)
	if err != nil {
		return 0, err
	}
	if p.ID == adminsID || contains(groups, adminsID) || p.ID == c.OwnerID || contains(groups, c.OwnerID) {
		return Everything, nil
	}
	gm, err := a.securableGrants(ctx, catalog.SecurableConnection, c.ID)
	if err != nil {
		return 0, err
	}
	s := gm[p.ID]
	for _, g := range groups {
		s |= gm[g]
	}
	return s, nil
}

// Metastore returns p's privileges on the metastore (CREATE_CONNECTION), which admins
// always hold.
func (a *Authorizer) Metastore(ctx context.Context, p *catalog.Principal) (PrivSet, error) {
	if p == nil || (p.Kind != catalog.KindGroup && !p.Active) {
		return 0, nil
	}
	admin, err := a.IsAdmin(ctx, p)
	if err != nil || admin {
		return PrivCreateConnection, err
	}
	groups, err := a.Groups(ctx, p)
	if err != nil {
		return 0, err
	}
	gm, err := a.securableGrants(ctx, catalog.SecurableMetastore, catalog.MetastoreID)
	if err != nil {
		return 0, err
	}
	s := gm[p.ID]
	for _, g := range groups {
		s |= gm[g]
	}
	return s, nil
}

// Source says where an effective privilege comes from.
type Source struct {
	Privilege catalog.Privilege
	// Type is "" for a direct grant, else "GROUP", "OWNER" or "ADMINS".
	Type string
	// ID is the principal ID of the group or owner it comes from.
	ID string
}

// Effective lists p's privileges on a securable with where each comes from. For a
// connection, c is the connection; for the metastore, c is nil.
func (a *Authorizer) Effective(ctx context.Context, p *catalog.Principal, c *catalog.Connection) ([]Source, error) {
	if p == nil || (p.Kind != catalog.KindGroup && !p.Active) {
		return nil, nil
	}
	groups, err := a.Groups(ctx, p)
	if err != nil {
		return nil, err
	}
	adminsID, _, err := a.builtins(ctx)
	if err != nil {
		return nil, err
	}
	t, id, all := catalog.SecurableMetastore, catalog.MetastoreID, []catalog.Privilege{catalog.CreateConnection}
	if c != nil {
		t, id, all = catalog.SecurableConnection, c.ID, []catalog.Privilege{catalog.AllPrivileges, catalog.Manage, catalog.UseConnection}
	}
	var out []Source
	if p.ID == adminsID || contains(groups, adminsID) {
		for _, pr := range all {
			out = append(out, Source{Privilege: pr, Type: "ADMINS", ID: adminsID})
		}
	}
	if c != nil && (p.ID == c.OwnerID || contains(groups, c.OwnerID)) {
		for _, pr := range all {
			out = append(out, Source{Privilege: pr, Type: "OWNER", ID: c.OwnerID})
		}
	}
	gm, err := a.securableGrants(ctx, t, id)
	if err != nil {
		return nil, err
	}
	add := func(s PrivSet, typ, from string) {
		// An ALL_PRIVILEGES grant shows what it stands for (USE_CONNECTION, never
		// MANAGE), from the same source.
		s = s.Expand()
		for _, pr := range all {
			if s&bit(pr) != 0 {
				out = append(out, Source{Privilege: pr, Type: typ, ID: from})
			}
		}
	}
	add(gm[p.ID], "", "")
	for _, g := range groups {
		add(gm[g], "GROUP", g)
	}
	return out, nil
}
