package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// listAudit answers GET /api/2.0/gatehouse/audit: audit events, oldest first, for
// metastore admins only (the log names every principal and what they did).
//
// Query: since (inclusive) and until (exclusive), each epoch milliseconds or RFC 3339;
// principal, connection and action, exact matches (action one of
// catalog.AuditActions, else 400 listing them); max_results (default 100, at most
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
	f := catalog.AuditFilter{Since: lw.since, Until: lw.until, AfterSeq: lw.afterSeq, Limit: lw.storeLimit(),
		Principal: q.Get("principal"), Connection: q.Get("connection"), Action: q.Get("action")}
	if err := catalog.OneOf("action", f.Action, catalog.AuditActions()); err != nil {
		return err
	}
	switch order := q.Get("order"); order {
	case "", AuditOrderAsc:
	case AuditOrderDesc:
		// The token is the seq of the last event listed: in this order, continue below it.
		f.Descending, f.AfterSeq, f.BeforeSeq = true, 0, lw.afterSeq
	default:
		return catalog.Errorf(catalog.InvalidParameterValue, "order must be %s or %s, not %q", AuditOrderAsc, AuditOrderDesc, bound.Truncate(order, 40))
	}
	events, err := s.Store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	var resp ListAuditResponse
	events, resp.NextPageToken = pageOf(lw, events, func(e *catalog.AuditEvent) int64 { return e.Seq })
	resp.Events = make([]AuditEventInfo, 0, len(events))
	for _, e := range events {
		resp.Events = append(resp.Events, auditEventInfo(e))
	}
	return ok(w, resp)
}

// The values of the audit list's order parameter.
const (
	AuditOrderAsc  = "asc"  // oldest first (the default)
	AuditOrderDesc = "desc" // newest first
)

// verifyAudit answers GET /api/2.0/gatehouse/audit/verify[?head=HASH]: the server
// checks the keyed hash chain of the whole log, since only it holds the chain key (a
// client without it could not tell a keyed chain from a forged one). Metastore admins
// only. head, a hash a previous verify answered as head_hash, must be in the log for
// the answer to be intact: that proves nothing was cut off the end since it was saved.
//
// A broken chain is an answer (intact false, with where and why), not an error.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	head := r.URL.Query().Get("head")
	if head != "" && !isHexHash(head) {
		return catalog.Errorf(catalog.InvalidParameterValue, "head must be an audit hash: 64 lower-case hexadecimal characters, as verify prints it")
	}
	if len(s.AuditChainKey) == 0 {
		return catalog.Errorf(catalog.TemporarilyUnavailable, "this server has no audit chain key, so it cannot verify the audit chain")
	}
	rep, err := audit.VerifyStore(r.Context(), s.Store, s.AuditChainKey, head)
	var ce *audit.ChainError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	resp := VerifyAuditResponse{
		Intact: err == nil, Events: rep.Events, KeyedEvents: rep.Keyed, LegacyEvents: rep.Legacy,
		HeadHash: rep.Head, SavedHead: head, SavedHeadFound: rep.SavedHeadFound,
	}
	if ce != nil {
		resp.Broken = &AuditChainBreak{Index: ce.Index, EventID: ce.EventID, Reason: ce.Reason}
	}
	return ok(w, resp)
}

// isHexHash reports whether v looks like an audit hash.
func isHexHash(v string) bool {
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

// The page token is opaque to clients: base64url of the last listed event's seq.
func encodeAuditPageToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodeAuditPageToken(v string) (int64, error) {
	bad := catalog.Errorf(catalog.InvalidParameterValue, "page_token is not one this server issued")
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) > 20 {
		return 0, bad
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq <= 0 {
		return 0, bad
	}
	return seq, nil
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
