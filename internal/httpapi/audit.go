package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// listAudit answers GET /api/2.0/gatehouse/audit: audit events, oldest first, for
// metastore admins only (the log names every principal and what they did).
//
// Query: since (inclusive) and until (exclusive), each epoch milliseconds or RFC 3339;
// principal, connection, action and decision, exact matches (action one of
// catalog.AuditActions, decision ALLOW or DENY, else 400 listing them); max_results (default 100, at most
// 1000); page_token, from the previous page's next_page_token; order, "asc" (the
// default, so that existing clients keep oldest first) or "desc" (newest first, each
// next page older than the last). A page token continues the query it came from, order
// included.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	q := r.URL.Query()
	lw, err := parseLogWindow(q)
	if err != nil {
		return err
	}
	page, err := s.Governance.ListAudit(r.Context(), who.Principal, governance.AuditQuery{LogWindow: lw,
		Principal: q.Get("principal"), Connection: q.Get("connection"), Action: q.Get("action"), Decision: q.Get("decision"), Order: q.Get("order")})
	if err != nil {
		return err
	}
	resp := ListAuditResponse{NextPageToken: page.NextPageToken, Events: make([]AuditEventInfo, 0, len(page.Events))}
	for _, e := range page.Events {
		resp.Events = append(resp.Events, auditEventInfo(e))
	}
	return ok(w, resp)
}

// The values of the audit list's order parameter.
const (
	AuditOrderAsc  = governance.AuditOrderAsc  // oldest first (the default)
	AuditOrderDesc = governance.AuditOrderDesc // newest first
)

// verifyAudit answers GET /api/2.0/gatehouse/audit/verify[?head=HASH]: the server
// checks the keyed hash chain of the whole log, since only it holds the chain key (a
// client without it could not tell a keyed chain from a forged one). Metastore admins
// only. head, a hash a previous verify answered as head_hash, must be in the log for
// the answer to be intact: that proves nothing was cut off the end since it was saved.
//
// A broken chain is an answer (intact false, with where and why), not an error.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	head := r.URL.Query().Get("head")
	v, err := s.Governance.VerifyAudit(r.Context(), who.Principal, head)
	if err != nil {
		return err
	}
	resp := VerifyAuditResponse{
		Intact: v.Intact, Events: v.Events, KeyedEvents: v.Keyed, LegacyEvents: v.Legacy,
		HeadHash: v.Head, SavedHead: head, SavedHeadFound: v.SavedHeadFound,
	}
	if v.Broken != nil {
		resp.Broken = &AuditChainBreak{Index: v.Broken.Index, EventID: v.Broken.EventID, Reason: v.Broken.Reason}
	}
	return ok(w, resp)
}

// parseAuditTime reads a time parameter: epoch milliseconds or RFC 3339. An empty value
// is the zero time (no bound).
func parseAuditTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		// Year 1678 to 2262: what the store's nanosecond times hold.
		if ms < 0 || ms > (1<<63-1)/int64(time.Millisecond) {
			return time.Time{}, catalog.Errorf(catalog.InvalidParameterValue, "%s must be epoch milliseconds between 0 and the year 2262", name)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, catalog.Errorf(catalog.InvalidParameterValue, "%s must be epoch milliseconds or an RFC 3339 time such as 2025-03-14T15:09:26Z", name)
	}
	if t.Year() < 1970 || t.Year() > 2261 {
		return time.Time{}, catalog.Errorf(catalog.InvalidParameterValue, "%s must be between the years 1970 and 2261", name)
	}
	return t, nil
}

// auditEventInfo is the API's view of an event. Its fields are exactly what the hash
// chain covers (audit.Canonical), so that clients can verify the chain.
func auditEventInfo(e *catalog.AuditEvent) AuditEventInfo {
	return AuditEventInfo{
		EventID:       e.EventID,
		EventTime:     msec(e.EventTime),
		ActionName:    e.ActionName,
		Principal:     e.Principal,
		SourceIP:      e.SourceIP,
		RequestID:     e.RequestID,
		Connection:    e.Connection,
		RequestParams: e.Params,
		Response:      AuditResponse{StatusCode: e.StatusCode, ErrorCode: e.ErrorCode},
		Decision:      e.Decision,
		PrevHash:      e.PrevHash,
		Hash:          e.Hash,
	}
}
