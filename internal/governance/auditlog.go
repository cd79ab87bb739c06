package governance

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// The audit log, for metastore admins only: it names every principal and what they did.

// The orders of an audit listing.
const (
	AuditOrderAsc  = "asc"  // oldest first (the default)
	AuditOrderDesc = "desc" // newest first
)

// AuditQuery selects audit events: the window, and exact matches on principal,
// connection, action (one of catalog.AuditActions) and decision (ALLOW or DENY); empty
// fields do not filter. Order is AuditOrderAsc (or "") or AuditOrderDesc, in which each
// next page is older than the last; a page token continues the query it came from,
// order included.
type AuditQuery struct {
	LogWindow
	Principal, Connection, Action, Decision string
	Order                                   string
}

// AuditPage is one page of audit events and the token of the next, "" at the end.
type AuditPage struct {
	Events        []*catalog.AuditEvent
	NextPageToken string
}

// AuditDecisions are the values of an audit event's decision.
func AuditDecisions() []string { return []string{catalog.DecisionAllow, catalog.DecisionDeny} }

// ListAudit lists audit events; admins only.
func (s *Service) ListAudit(ctx context.Context, who *catalog.Principal, q AuditQuery) (AuditPage, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return AuditPage{}, err
	}
	lw, err := q.check()
	if err != nil {
		return AuditPage{}, err
	}
	f := catalog.AuditFilter{Since: lw.since, Until: lw.until, AfterSeq: lw.afterSeq, Limit: lw.storeLimit(),
		Principal: q.Principal, Connection: q.Connection, Action: q.Action, Decision: q.Decision}
	if err := catalog.OneOf("action", f.Action, catalog.AuditActions()); err != nil {
		return AuditPage{}, err
	}
	if err := catalog.OneOf("decision", f.Decision, AuditDecisions()); err != nil {
		return AuditPage{}, err
	}
	switch q.Order {
	case "", AuditOrderAsc:
	case AuditOrderDesc:
		// The token is the seq of the last event listed: in this order, continue below it.
		f.Descending, f.AfterSeq, f.BeforeSeq = true, 0, lw.afterSeq
	default:
		return AuditPage{}, catalog.Errorf(catalog.InvalidParameterValue, "order must be %s or %s, not %q", AuditOrderAsc, AuditOrderDesc, bound.Truncate(q.Order, 40))
	}
	events, err := s.d.Store.ListAudit(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	var p AuditPage
	p.Events, p.NextPageToken = pageOf(lw, events, func(e *catalog.AuditEvent) int64 { return e.Seq })
	return p, nil
}

// AuditVerification is the result of checking the audit log's keyed hash chain.
type AuditVerification struct {
	audit.Report
	// Intact is true when every event verified, legacy (unkeyed) events appear only as
	// a prefix followed by keyed ones, and the saved head, if one was given, is in the
	// log.
	Intact bool
	// Broken says where and why the chain breaks, when it does.
	Broken *audit.ChainError
}

// VerifyAudit checks the keyed hash chain of the whole log; admins only. Only the
// server can, since only it holds the chain key. head, a hash a previous verification
// answered as its head, must be in the log for the answer to be intact: that proves
// nothing was cut off the end since it was saved. A broken chain is an answer (Intact
// false, Broken set), not an error.
func (s *Service) VerifyAudit(ctx context.Context, who *catalog.Principal, head string) (AuditVerification, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return AuditVerification{}, err
	}
	if head != "" && !IsAuditHash(head) {
		return AuditVerification{}, catalog.Errorf(catalog.InvalidParameterValue, "head must be an audit hash: 64 lower-case hexadecimal characters, as verify prints it")
	}
	if len(s.d.AuditChainKey) == 0 {
		return AuditVerification{}, catalog.Errorf(catalog.TemporarilyUnavailable, "this server has no audit chain key, so it cannot verify the audit chain")
	}
	rep, err := audit.VerifyStore(ctx, s.d.Store, s.d.AuditChainKey, head)
	var ce *audit.ChainError
	if err != nil && !errors.As(err, &ce) {
		return AuditVerification{}, err
	}
	return AuditVerification{Report: rep, Intact: err == nil, Broken: ce}, nil
}

// IsAuditHash reports whether v looks like an audit hash.
func IsAuditHash(v string) bool {
	if len(v) != len(audit.Genesis) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
