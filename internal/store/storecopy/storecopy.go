// Package storecopy copies a whole Gatehouse deployment from one catalog.Store to another
// (`gatehouse store copy`: an SQLite deployment moving to PostgreSQL) and verifies the
// copy, through the catalog interfaces only, so it works between any two stores.
//
// Everything is copied as it is stored: IDs are kept (the additional data of every sealed
// value binds it to its connection and principal IDs, so the sealed bytes stay valid
// where they land), token hashes and sealed secrets are copied as bytes (no master key is
// needed, and none is ever opened), audit events keep their hashes and their order, and
// versioned records (OAuth credentials, the network policy, MCP tool pins) keep their
// versions. The refresh families of Gatehouse's own authorization server live at the
// time of the copy are copied, so MCP clients and CLI sessions keep refreshing. Transient
// state (browser sessions, pending OAuth logins, authorization codes, which live minutes)
// is not copied: users sign in again and unfinished logins start over.
//
// The destination must be empty. The catalog interfaces offer no transaction that spans
// every kind of record, so the copy is not atomic: everything is read and checked before
// the first write, and if a write fails the error says what was written (everything in
// the destination came from this run: drop it and run again).
package storecopy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The kinds of record, in the order they are copied.
const (
	KindPrincipals       = "principals"
	KindMemberships      = "memberships"
	KindTokens           = "tokens"
	KindConnections      = "connections"
	KindGrants           = "grants"
	KindMeta             = "meta values"
	KindCredentials      = "OAuth credentials"
	KindNetworkPolicy    = "network policy"
	KindMCPTools         = "MCP tool pins"
	KindNetworkEvents    = "network events"
	KindAuditEvents      = "audit events"
	kindNotCopiedSession = "browser sessions, pending logins"
)

// KindFederationPolicies are the service principals' federation policies (issue 12).
const KindFederationPolicies = "federation policies"

// KindOAuthFamilies are the refresh-token families of the authorization server (issue
// 12) live at the time of the copy; their authorization codes live minutes and are left
// behind (NotCopied).
const KindOAuthFamilies = "OAuth refresh families"

// NotCopied names the transient state that a copy leaves behind.
const NotCopied = kindNotCopiedSession + ", authorization codes"

// KnownMetaKeys are the meta keys Gatehouse writes; they are copied when the source
// cannot list its keys (see MetaKeyLister). "keyring" holds the data keys sealed under
// the master key: the key check of a deployment.
var KnownMetaKeys = []string{"keyring"}

// MetaKeyLister is a store that can list its meta keys (internal/store/sqlite can);
// Copy then copies every meta value, not only KnownMetaKeys.
type MetaKeyLister interface {
	MetaKeys(ctx context.Context) ([]string, error)
}

// pageSize is how many audit or network events are read and appended at a time (the
// most that ListAudit and ListNetworkEvents return).
const pageSize = 1000

// Row is one kind of record: how many the source holds, how many were written and how
// many were read back from the destination equal to the source's.
type Row struct {
	Kind     string
	Source   int
	Copied   int
	Verified int
}

// Report is what Copy and Verify did, one Row per kind in copy order.
type Report struct {
	Rows []Row
	// Notes are facts worth telling the operator that are not errors (audit events
	// renumbered, a source chain that was already broken).
	Notes []string
}

func (r *Report) row(kind string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Kind == kind {
			return &r.Rows[i]
		}
	}
	r.Rows = append(r.Rows, Row{Kind: kind})
	return &r.Rows[len(r.Rows)-1]
}

// written describes what the destination holds after a failed write.
func (r *Report) written() string {
	var parts []string
	for _, row := range r.Rows {
		if row.Copied > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", row.Copied, row.Kind))
		}
	}
	if len(parts) == 0 {
		return "nothing was written yet"
	}
	return "written so far: " + strings.Join(parts, ", ")
}

// PartialError is a copy that failed after it wrote to the destination. The destination
// held nothing before the copy, so everything in it now is part of this failed copy.
type PartialError struct {
	Err     error
	Written string
}

// Error says what failed, what was written, and what to drop.
func (e *PartialError) Error() string {
	return fmt.Sprintf("copy failed: %v (%s); the destination now holds a partial copy: drop the destination database (or delete the destination SQLite file) and create it empty again, then run the copy again", e.Err, e.Written)
}

// Unwrap returns the error of the write that failed.
func (e *PartialError) Unwrap() error { return e.Err }

// CheckEmpty returns nil when dst holds no principals, tokens, connections, OAuth
// credentials, network policy, network or audit events, nor a keyring; otherwise an
// INVALID_PARAMETER_VALUE error naming what it holds.
func CheckEmpty(ctx context.Context, dst catalog.Store) error {
	var found []string
	ps, err := dst.ListPrincipals(ctx, "")
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(ps) > 0 {
		found = append(found, fmt.Sprintf("%d principals", len(ps)))
	}
	ts, err := dst.ListTokens(ctx, "")
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(ts) > 0 {
		found = append(found, fmt.Sprintf("%d tokens", len(ts)))
	}
	cs, err := dst.ListConnections(ctx, "", 1)
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(cs) > 0 {
		found = append(found, "connections")
	}
	creds, err := dst.ListCredentials(ctx, "")
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(creds) > 0 {
		found = append(found, fmt.Sprintf("%d OAuth credentials", len(creds)))
	}
	if _, err := dst.GetNetworkPolicy(ctx); err == nil {
		found = append(found, "a network policy")
	} else if !catalog.IsNotFound(err) {
		return fmt.Errorf("check destination: %w", err)
	}
	ne, err := dst.ListNetworkEvents(ctx, catalog.NetworkEventFilter{Limit: 1})
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(ne) > 0 {
		found = append(found, "network events")
	}
	ae, err := dst.ListAudit(ctx, catalog.AuditFilter{Limit: 1})
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if len(ae) > 0 {
		found = append(found, "audit events")
	}
	for _, k := range KnownMetaKeys {
		if _, err := dst.GetMeta(ctx, k); err == nil {
			found = append(found, "a "+k)
		} else if !catalog.IsNotFound(err) {
			return fmt.Errorf("check destination: %w", err)
		}
	}
	if len(found) > 0 {
		return catalog.Errorf(catalog.InvalidParameterValue,
			"the destination is not empty (it holds %s): store copy only writes into an empty store; nothing was written", strings.Join(found, ", "))
	}
	return nil
}

// snapshot is the source's state apart from the logs, read before anything is written.
type snapshot struct {
	principals  []*catalog.Principal
	memberships []catalog.Membership
	tokens      []*catalog.Token
	connections []*catalog.Connection
	grants      []catalog.Grant
	metaKeys    []string
	meta        map[string][]byte
	credentials []*catalog.OAuthCredential
	policy      *catalog.NetworkPolicy // nil: none stored
	tools       map[string][]*catalog.MCPTool
	// federation policies of every principal (issue 12), in principal order
	federation []*catalog.FederationPolicy
	// refresh families live at the time of the read (issue 12), in principal order
	families []*catalog.OAuthFamily
}

// read reads the source's state; refresh families are those live at now.
func read(ctx context.Context, s catalog.Store, now time.Time) (*snapshot, error) {
	var sn snapshot
	var err error
	if sn.principals, err = s.ListPrincipals(ctx, ""); err != nil {
		return nil, fmt.Errorf("read principals: %w", err)
	}
	if sn.memberships, err = s.ListMemberships(ctx); err != nil {
		return nil, fmt.Errorf("read memberships: %w", err)
	}
	if sn.tokens, err = s.ListTokens(ctx, ""); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	if sn.connections, err = s.ListConnections(ctx, "", 0); err != nil {
		return nil, fmt.Errorf("read connections: %w", err)
	}
	ms, err := s.ListGrants(ctx, catalog.SecurableMetastore, catalog.MetastoreID)
	if err != nil {
		return nil, fmt.Errorf("read metastore grants: %w", err)
	}
	sn.grants = append(sn.grants, ms...)
	sn.tools = map[string][]*catalog.MCPTool{}
	for _, c := range sn.connections {
		gs, err := s.ListGrants(ctx, catalog.SecurableConnection, c.ID)
		if err != nil {
			return nil, fmt.Errorf("read grants of connection %s: %w", c.Name, err)
		}
		sn.grants = append(sn.grants, gs...)
		ts, err := s.ListMCPTools(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("read MCP tool pins of connection %s: %w", c.Name, err)
		}
		if len(ts) > 0 {
			sn.tools[c.ID] = ts
		}
	}
	for _, p := range sn.principals { // issue 12: federation policies
		fps, err := s.ListFederationPolicies(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("read federation policies of %s: %w", p.Name, err)
		}
		sn.federation = append(sn.federation, fps...)
		fams, err := s.ListOAuthFamilies(ctx, p.ID, now)
		if err != nil {
			return nil, fmt.Errorf("read refresh families of %s: %w", p.Name, err)
		}
		sn.families = append(sn.families, fams...)
	}
	sn.metaKeys = KnownMetaKeys
	if l, ok := s.(MetaKeyLister); ok {
		if sn.metaKeys, err = l.MetaKeys(ctx); err != nil {
			return nil, fmt.Errorf("read meta keys: %w", err)
		}
	}
	sn.meta = map[string][]byte{}
	var keys []string
	for _, k := range sn.metaKeys {
		v, err := s.GetMeta(ctx, k)
		if catalog.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read meta %s: %w", k, err)
		}
		sn.meta[k] = v
		keys = append(keys, k)
	}
	sn.metaKeys = keys
	if sn.credentials, err = s.ListCredentials(ctx, ""); err != nil {
		return nil, fmt.Errorf("read OAuth credentials: %w", err)
	}
	sn.policy, err = s.GetNetworkPolicy(ctx)
	if catalog.IsNotFound(err) {
		sn.policy, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read network policy: %w", err)
	}
	return &sn, nil
}

// check refuses a snapshot whose references do not hold (a destination store would
// refuse it halfway through the copy).
func (sn *snapshot) check() error {
	principals := map[string]bool{}
	for _, p := range sn.principals {
		if p.ID == "" {
			return fmt.Errorf("source principal %q has no ID", p.Name)
		}
		principals[p.ID] = true
	}
	connections := map[string]bool{}
	for _, c := range sn.connections {
		connections[c.ID] = true
		if !principals[c.OwnerID] {
			return fmt.Errorf("source connection %s is owned by principal %s, which does not exist", c.Name, c.OwnerID)
		}
	}
	for _, m := range sn.memberships {
		if !principals[m.GroupID] || !principals[m.MemberID] {
			return fmt.Errorf("source membership %s in %s names a principal that does not exist", m.MemberID, m.GroupID)
		}
	}
	for _, t := range sn.tokens {
		if !principals[t.PrincipalID] {
			return fmt.Errorf("source token %s belongs to principal %s, which does not exist", t.ID, t.PrincipalID)
		}
	}
	for _, f := range sn.families {
		if !principals[f.PrincipalID] {
			return fmt.Errorf("source refresh family %s belongs to principal %s, which does not exist", f.ID, f.PrincipalID)
		}
	}
	for _, g := range sn.grants {
		if !principals[g.PrincipalID] {
			return fmt.Errorf("source grant of %s on %s %s names principal %s, which does not exist", g.Privilege, g.SecurableType, g.SecurableID, g.PrincipalID)
		}
	}
	for _, c := range sn.credentials {
		if !connections[c.ConnectionID] || (c.PrincipalID != "" && !principals[c.PrincipalID]) {
			return fmt.Errorf("source OAuth credential %s/%s names a connection or principal that does not exist", c.ConnectionID, c.PrincipalID)
		}
		if c.Version < 1 {
			return fmt.Errorf("source OAuth credential %s/%s has version %d", c.ConnectionID, c.PrincipalID, c.Version)
		}
	}
	if sn.policy != nil && sn.policy.Version < 1 {
		return fmt.Errorf("source network policy has version %d", sn.policy.Version)
	}
	for _, ts := range sn.tools {
		for _, t := range ts {
			if t.Version < 1 {
				return fmt.Errorf("source MCP tool %s of connection %s has version %d", t.Name, t.ConnectionID, t.Version)
			}
		}
	}
	return nil
}

// Copy copies everything in src to dst, which must be empty (CheckEmpty), and returns
// what it copied; Verify then proves the copy. Nothing is written unless dst is empty
// and src reads back whole and consistent. A write that fails is a *PartialError saying
// what had been written.
func Copy(ctx context.Context, src, dst catalog.Store) (*Report, error) {
	if err := CheckEmpty(ctx, dst); err != nil {
		return nil, err
	}
	// Refresh families are those live now, by the machine's clock: the copy is offline,
	// and the servers on the destination judge expiry by the same clock.
	sn, err := read(ctx, src, time.Now())
	if err != nil {
		return nil, fmt.Errorf("read the source: %w; nothing was written", err)
	}
	if err := sn.check(); err != nil {
		return nil, fmt.Errorf("%w; nothing was written", err)
	}
	r := &Report{}
	for _, k := range []string{KindPrincipals, KindMemberships, KindTokens, KindConnections, KindGrants, KindMeta,
		KindCredentials, KindNetworkPolicy, KindMCPTools, KindFederationPolicies, KindOAuthFamilies, KindNetworkEvents, KindAuditEvents} {
		r.row(k)
	}
	if err := write(ctx, src, dst, sn, r); err != nil {
		return r, &PartialError{Err: err, Written: r.written()}
	}
	return r, nil
}

func write(ctx context.Context, src, dst catalog.Store, sn *snapshot, r *Report) error {
	row := r.row(KindPrincipals)
	row.Source = len(sn.principals)
	for _, p := range sn.principals {
		cp := *p
		if err := dst.CreatePrincipal(ctx, &cp); err != nil {
			return fmt.Errorf("write principal %s: %w", p.Name, err)
		}
		row.Copied++
	}
	row = r.row(KindMemberships)
	row.Source = len(sn.memberships)
	for _, m := range sn.memberships {
		if err := dst.AddMember(ctx, m.GroupID, m.MemberID); err != nil {
			return fmt.Errorf("write membership of %s in %s: %w", m.MemberID, m.GroupID, err)
		}
		row.Copied++
	}
	row = r.row(KindTokens)
	row.Source = len(sn.tokens)
	for _, t := range sn.tokens {
		cp := *t
		if err := dst.CreateToken(ctx, &cp); err != nil {
			return fmt.Errorf("write token %s: %w", t.ID, err)
		}
		row.Copied++
	}
	row = r.row(KindFederationPolicies)
	row.Source = len(sn.federation)
	for _, p := range sn.federation {
		cp := *p
		if err := dst.CreateFederationPolicy(ctx, &cp); err != nil {
			return fmt.Errorf("write federation policy %s: %w", p.ID, err)
		}
		row.Copied++
	}
	if err := putFamilies(ctx, dst, sn.families, r.row(KindOAuthFamilies)); err != nil {
		return err
	}
	row = r.row(KindConnections)
	row.Source = len(sn.connections)
	for _, c := range sn.connections {
		cp := *c
		if err := dst.CreateConnection(ctx, &cp); err != nil {
			return fmt.Errorf("write connection %s: %w", c.Name, err)
		}
		row.Copied++
	}
	row = r.row(KindGrants)
	row.Source = len(sn.grants)
	for _, g := range sn.grants {
		add := []catalog.Grant{{SecurableType: g.SecurableType, SecurableID: g.SecurableID, PrincipalID: g.PrincipalID, Privilege: g.Privilege}}
		if err := dst.UpdateGrants(ctx, g.SecurableType, g.SecurableID, add, nil); err != nil {
			return fmt.Errorf("write grant of %s on %s %s: %w", g.Privilege, g.SecurableType, g.SecurableID, err)
		}
		row.Copied++
	}
	row = r.row(KindMeta)
	row.Source = len(sn.metaKeys)
	for _, k := range sn.metaKeys {
		if err := dst.SetMeta(ctx, k, sn.meta[k]); err != nil {
			return fmt.Errorf("write meta %s: %w", k, err)
		}
		row.Copied++
	}
	row = r.row(KindCredentials)
	row.Source = len(sn.credentials)
	for _, c := range sn.credentials {
		if err := putCredential(ctx, dst, c); err != nil {
			return fmt.Errorf("write OAuth credential %s/%s: %w", c.ConnectionID, c.PrincipalID, err)
		}
		row.Copied++
	}
	row = r.row(KindNetworkPolicy)
	if sn.policy != nil {
		row.Source = 1
		if err := putPolicy(ctx, dst, sn.policy); err != nil {
			return fmt.Errorf("write network policy: %w", err)
		}
		row.Copied++
	}
	row = r.row(KindMCPTools)
	for _, c := range sn.connections {
		ts := sn.tools[c.ID]
		row.Source += len(ts)
		if len(ts) == 0 {
			continue
		}
		if err := putTools(ctx, dst, c.ID, ts); err != nil {
			return fmt.Errorf("write MCP tool pins of connection %s: %w", c.Name, err)
		}
		row.Copied += len(ts)
	}
	if err := copyNetworkEvents(ctx, src, dst, r.row(KindNetworkEvents)); err != nil {
		return err
	}
	return copyAudit(ctx, src, dst, r.row(KindAuditEvents))
}

// putCredential writes c with its version: a create gives version 1 and each replace
// adds one, so a credential at version n takes n writes (all but the last of the same
// values, which the last one leaves).
func putCredential(ctx context.Context, dst catalog.CredentialStore, c *catalog.OAuthCredential) error {
	cp := *c
	cp.Version = 0
	for cp.Version < c.Version {
		if err := dst.PutCredential(ctx, &cp); err != nil {
			return err
		}
	}
	if cp.Version != c.Version {
		return fmt.Errorf("the destination gave version %d, want %d", cp.Version, c.Version)
	}
	return nil
}

// putFamilies writes the refresh families with their IDs (each names its principal and
// its live access token, both copied with their IDs before). A principal's bound is the
// number of its families being copied: the source's bound held when they were made.
func putFamilies(ctx context.Context, dst catalog.OAuthGrantStore, fams []*catalog.OAuthFamily, row *Row) error {
	row.Source = len(fams)
	per := map[string]int{}
	for _, f := range fams {
		per[f.PrincipalID]++
	}
	for _, f := range fams {
		cp := *f
		if err := dst.CreateOAuthFamily(ctx, &cp, per[f.PrincipalID]); err != nil {
			return fmt.Errorf("write refresh family %s: %w", f.ID, err)
		}
		row.Copied++
	}
	return nil
}

// putPolicy writes the policy with its version, as putCredential.
func putPolicy(ctx context.Context, dst catalog.NetworkStore, p *catalog.NetworkPolicy) error {
	cp := *p
	cp.Version = 0
	for cp.Version < p.Version {
		if err := dst.PutNetworkPolicy(ctx, &cp); err != nil {
			return err
		}
	}
	if cp.Version != p.Version {
		return fmt.Errorf("the destination gave version %d, want %d", cp.Version, p.Version)
	}
	return nil
}

// putTools writes one connection's tool records with their versions: every round writes
// the records not yet at their version, in one transaction.
func putTools(ctx context.Context, dst catalog.MCPToolStore, connectionID string, ts []*catalog.MCPTool) error {
	cur := make([]*catalog.MCPTool, len(ts))
	for i, t := range ts {
		cp := *t
		cp.Version = 0
		cur[i] = &cp
	}
	for {
		var round []*catalog.MCPTool
		for i, t := range cur {
			if t.Version < ts[i].Version {
				round = append(round, t)
			}
		}
		if len(round) == 0 {
			break
		}
		if err := dst.PutMCPTools(ctx, connectionID, round); err != nil {
			return err
		}
	}
	for i, t := range cur {
		if t.Version != ts[i].Version {
			return fmt.Errorf("tool %s: the destination gave version %d, want %d", t.Name, t.Version, ts[i].Version)
		}
	}
	return nil
}

// copyNetworkEvents appends the source's network events page by page, oldest first.
func copyNetworkEvents(ctx context.Context, src, dst catalog.NetworkStore, row *Row) error {
	var after int64
	for {
		page, err := src.ListNetworkEvents(ctx, catalog.NetworkEventFilter{AfterSeq: after, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("read network events: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		row.Source += len(page)
		out := make([]*catalog.NetworkEvent, len(page))
		for i, e := range page {
			cp := *e
			cp.Seq = 0
			out[i] = &cp
		}
		if err := dst.AppendNetworkEvents(ctx, out); err != nil {
			return fmt.Errorf("write network events after seq %d: %w", after, err)
		}
		row.Copied += len(out)
		after = page[len(page)-1].Seq
	}
}

// copyAudit appends the source's audit log page by page in Seq order, every event as
// stored (its hashes included): AppendAudit stores events exactly as given.
func copyAudit(ctx context.Context, src, dst catalog.AuditStore, row *Row) error {
	var after int64
	for {
		page, err := src.ListAudit(ctx, catalog.AuditFilter{AfterSeq: after, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("read audit events: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		row.Source += len(page)
		out := make([]*catalog.AuditEvent, len(page))
		for i, e := range page {
			cp := *e
			cp.Seq = 0
			out[i] = &cp
		}
		if err := dst.AppendAudit(ctx, out); err != nil {
			return fmt.Errorf("write audit events after seq %d: %w", after, err)
		}
		row.Copied += len(out)
		after = page[len(page)-1].Seq
	}
}

// errMismatch marks a verification that found a difference.
var errMismatch = errors.New("the copy does not match the source")
