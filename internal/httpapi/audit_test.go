package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// auditAPI is a server over a SQLite store with an admin, a non-admin and an audit
// log filled through a real recorder.
type auditAPI struct {
	url   string
	admin *Client
	alice *Client
	store *sqlite.DB
	rec   *audit.Recorder
	// events are what the test recorded, in order.
	events []*catalog.AuditEvent
}

func newAuditAPI(t *testing.T) *auditAPI {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	adminToken, err := identity.Bootstrap(ctx, st, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	alice := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true}
	if err := st.CreatePrincipal(ctx, alice); err != nil {
		t.Fatal(err)
	}
	aliceToken := identity.NewTokenValue()
	if err := st.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: alice.ID, Hash: identity.HashToken(aliceToken)}); err != nil {
		t.Fatal(err)
	}
	rec, err := audit.New(st, nil, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	s := NewServer(Deps{Store: st, Auth: identity.NewAuthenticator(st, nil, slog.New(slog.DiscardHandler)), Access: access.New(st)})
	// Until the route is in routes.go, serve it here; once it is, use it as it is.
	probe := httptest.NewRequest(http.MethodGet, "/api/2.0/gatehouse/audit", nil)
	if _, pattern := s.mux.Handler(probe); pattern == "/" {
		s.mux.Handle("GET /api/2.0/gatehouse/audit", s.authed(s.listAudit))
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &auditAPI{url: ts.URL, admin: NewClient(ts.URL, adminToken, nil), alice: NewClient(ts.URL, aliceToken, nil), store: st, rec: rec}
}

// record stores events through the recorder, at the given times.
func (a *auditAPI) record(t *testing.T, events ...*catalog.AuditEvent) {
	t.Helper()
	for _, e := range events {
		a.rec.Record(t.Context(), e)
		a.events = append(a.events, e)
	}
	if err := a.rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

var auditT0 = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)

func auditEvent(i int, action, principal, connection string) *catalog.AuditEvent {
	return &catalog.AuditEvent{
		EventTime:  auditT0.Add(time.Duration(i) * time.Minute),
		ActionName: action,
		Principal:  principal,
		SourceIP:   "192.0.2.7",
		RequestID:  fmt.Sprintf("req-%d", i),
		Connection: connection,
		Params:     map[string]string{"method": "GET", "path": fmt.Sprintf("/v1/items/%d", i)},
		StatusCode: 200,
		Decision:   catalog.DecisionAllow,
	}
}

func eventIDs(events []AuditEventInfo) []string {
	ids := []string{}
	for _, e := range events {
		ids = append(ids, e.EventID)
	}
	return ids
}

func recordedIDs(events []*catalog.AuditEvent, idx ...int) []string {
	ids := []string{}
	for _, i := range idx {
		ids = append(ids, events[i].EventID)
	}
	return ids
}

// linkOf is the conversion the CLI makes from the API's view to the chain's.
func linkOf(e AuditEventInfo) audit.Link {
	return audit.Link{
		Canonical: audit.Canonical{
			EventID: e.EventID, EventTime: e.EventTime, ActionName: e.ActionName, Principal: e.Principal,
			SourceIP: e.SourceIP, RequestID: e.RequestID, Connection: e.Connection, Params: e.RequestParams,
			StatusCode: e.Response.StatusCode, ErrorCode: e.Response.ErrorCode, Decision: e.Decision,
		},
		PrevHash: e.PrevHash,
		Hash:     e.Hash,
	}
}

func TestListAuditShowsEvents(t *testing.T) {
	a := newAuditAPI(t)
	denied := auditEvent(1, catalog.ActionUseConnection, "alice@example.com", "github")
	denied.StatusCode, denied.ErrorCode, denied.Decision = 403, string(catalog.PermissionDenied), catalog.DecisionDeny
	token := auditEvent(2, catalog.ActionTokenCreate, "admin", "")
	token.Params = nil
	a.record(t, auditEvent(0, catalog.ActionCreateConnection, "admin", "github"), denied, token)

	resp, err := a.admin.ListAudit(t.Context(), AuditQuery{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if resp.NextPageToken != "" {
		t.Errorf("next_page_token = %q on the only page", resp.NextPageToken)
	}
	if len(resp.Events) != 3 {
		t.Fatalf("ListAudit = %d events, want 3", len(resp.Events))
	}
	want := AuditEventInfo{
		EventID: denied.EventID, EventTime: auditT0.Add(time.Minute).UnixMilli(), ActionName: "useConnection",
		Principal: "alice@example.com", SourceIP: "192.0.2.7", RequestID: "req-1", Connection: "github",
		RequestParams: map[string]string{"method": "GET", "path": "/v1/items/1"},
		Response:      AuditResponse{StatusCode: 403, ErrorCode: "PERMISSION_DENIED"},
		Decision:      "DENY", PrevHash: resp.Events[0].Hash, Hash: resp.Events[1].Hash,
	}
	if d := cmp.Diff(want, resp.Events[1]); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}
	if resp.Events[0].PrevHash != audit.Genesis || len(resp.Events[1].Hash) != 64 {
		t.Errorf("hashes = %q, %q; want the chain from genesis", resp.Events[0].PrevHash, resp.Events[1].Hash)
	}

	// The API's view verifies: it shows every field that the hash covers.
	var chain []audit.Link
	for _, e := range resp.Events {
		chain = append(chain, linkOf(e))
	}
	if n, err := audit.Verify(chain); err != nil || n != 3 {
		t.Errorf("Verify of the API's view = %d, %v; want 3, nil", n, err)
	}
}

func TestListAuditFilters(t *testing.T) {
	a := newAuditAPI(t)
	a.record(t,
		auditEvent(0, catalog.ActionUseConnection, "alice@example.com", "github"),
		auditEvent(1, catalog.ActionUseConnection, "bob@example.com", "github"),
		auditEvent(2, catalog.ActionUseConnection, "alice@example.com", "slack"),
		auditEvent(3, catalog.ActionTokenCreate, "alice@example.com", ""),
		auditEvent(4, catalog.ActionUpdatePermissions, "admin", "github"),
	)
	ms := func(i int) string { return fmt.Sprint(auditT0.Add(time.Duration(i) * time.Minute).UnixMilli()) }
	tests := []struct {
		name  string
		query string
		want  []int
	}{
		{"all", "", []int{0, 1, 2, 3, 4}},
		{"principal", "principal=alice@example.com", []int{0, 2, 3}},
		{"connection", "connection=github", []int{0, 1, 4}},
		{"action", "action=useConnection", []int{0, 1, 2}},
		{"combined", "principal=alice@example.com&connection=github", []int{0}},
		{"since in ms, inclusive", "since=" + ms(2), []int{2, 3, 4}},
		{"until in ms, exclusive", "until=" + ms(2), []int{0, 1}},
		{"since as RFC 3339", "since=2025-03-14T15:03:00Z", []int{3, 4}},
		{"until as RFC 3339 in another zone", "until=2025-03-14T16:32:00%2B01:30", []int{0, 1}},
		{"since and until", "since=" + ms(1) + "&until=" + ms(4), []int{1, 2, 3}},
		{"since 0 is the start", "since=0", []int{0, 1, 2, 3, 4}},
		{"nothing matches", "principal=nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ListAuditResponse
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.admin.do(t.Context(), http.MethodGet, clientAuditPath, q, nil, &got); err != nil {
				t.Fatalf("GET ?%s: %v", tt.query, err)
			}
			if got.Events == nil {
				t.Errorf("events is null; want a list, even an empty one")
			}
			if d := cmp.Diff(recordedIDs(a.events, tt.want...), eventIDs(got.Events)); d != "" {
				t.Errorf("GET ?%s event ids (-want +got):\n%s", tt.query, d)
			}
		})
	}

	// The client sends times as epoch milliseconds.
	resp, err := a.admin.ListAudit(t.Context(), AuditQuery{Since: auditT0.Add(time.Minute), Until: auditT0.Add(3 * time.Minute), Principal: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recordedIDs(a.events, 2), eventIDs(resp.Events)); d != "" {
		t.Errorf("client ListAudit (-want +got):\n%s", d)
	}
}

func TestListAuditPagination(t *testing.T) {
	a := newAuditAPI(t)
	var events []*catalog.AuditEvent
	for i := range 25 {
		events = append(events, auditEvent(i, catalog.ActionUseConnection, "alice@example.com", "github"))
	}
	a.record(t, events...)

	// Page by page: full pages carry a token, the last one none.
	q := AuditQuery{MaxResults: 10}
	var sizes []int
	var got []AuditEventInfo
	for range 10 {
		page, err := a.admin.ListAudit(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Events))
		got = append(got, page.Events...)
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if d := cmp.Diff([]int{10, 10, 5}, sizes); d != "" {
		t.Errorf("page sizes (-want +got):\n%s", d)
	}
	all := make([]int, 25)
	for i := range all {
		all[i] = i
	}
	if d := cmp.Diff(recordedIDs(a.events, all...), eventIDs(got)); d != "" {
		t.Errorf("paged event ids (-want +got):\n%s", d)
	}

	// A page that ends exactly at the last event has no token.
	page, err := a.admin.ListAudit(t.Context(), AuditQuery{MaxResults: 25})
	if err != nil || len(page.Events) != 25 || page.NextPageToken != "" {
		t.Errorf("ListAudit(max 25) = %v events, token %q, %v; want 25 and no token", len(page.Events), page.NextPageToken, err)
	}

	// ListAllAudit follows the tokens, with filters kept on every page.
	everything, err := a.admin.ListAllAudit(t.Context(), AuditQuery{MaxResults: 7, Since: auditT0.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recordedIDs(a.events, all[5:]...), eventIDs(everything)); d != "" {
		t.Errorf("ListAllAudit (-want +got):\n%s", d)
	}
}

// TestListAuditNewestFirst: order=desc lists newest first, and its pages walk back
// through the log without gap or repeat, filters kept; the default stays oldest first.
func TestListAuditNewestFirst(t *testing.T) {
	a := newAuditAPI(t)
	var events []*catalog.AuditEvent
	for i := range 25 {
		action := catalog.ActionUseConnection
		if i%5 == 0 {
			action = catalog.ActionTokenCreate
		}
		events = append(events, auditEvent(i, action, "alice@example.com", "github"))
	}
	a.record(t, events...)
	desc := func(idx ...int) []string {
		slices.Reverse(idx)
		return recordedIDs(a.events, idx...)
	}
	every := make([]int, 25)
	for i := range every {
		every[i] = i
	}
	tests := []struct {
		name string
		q    AuditQuery
		want []string
	}{
		{"default is oldest first", AuditQuery{MaxResults: 3}, recordedIDs(a.events, 0, 1, 2)},
		{"asc is oldest first", AuditQuery{MaxResults: 3, Order: AuditOrderAsc}, recordedIDs(a.events, 0, 1, 2)},
		{"desc page is the newest", AuditQuery{MaxResults: 3, Order: AuditOrderDesc}, desc(22, 23, 24)},
		{"desc with a filter", AuditQuery{MaxResults: 3, Order: AuditOrderDesc, Action: catalog.ActionTokenCreate}, desc(10, 15, 20)},
		{"desc with until", AuditQuery{MaxResults: 2, Order: AuditOrderDesc, Until: auditT0.Add(10 * time.Minute)}, desc(8, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := a.admin.ListAudit(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, eventIDs(page.Events)); d != "" {
				t.Errorf("event ids (-want +got):\n%s", d)
			}
		})
	}
	all, err := a.admin.ListAllAudit(t.Context(), AuditQuery{MaxResults: 7, Order: AuditOrderDesc})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(desc(every...), eventIDs(all)); d != "" {
		t.Errorf("desc pages (-want +got):\n%s", d)
	}
	tokens, err := a.admin.ListAllAudit(t.Context(), AuditQuery{MaxResults: 2, Order: AuditOrderDesc, Action: catalog.ActionTokenCreate})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(desc(0, 5, 10, 15, 20), eventIDs(tokens)); d != "" {
		t.Errorf("desc pages with a filter (-want +got):\n%s", d)
	}
}

func TestListAuditPageSizes(t *testing.T) {
	a := newAuditAPI(t)
	var events []*catalog.AuditEvent
	for i := range 1005 {
		events = append(events, auditEvent(i, catalog.ActionUseConnection, "alice@example.com", "github"))
	}
	a.record(t, events...)
	for _, tt := range []struct {
		maxResults int
		want       int
		token      bool
	}{
		{0, 100, true},
		{1, 1, true},
		{5000, 1000, true},
	} {
		page, err := a.admin.ListAudit(t.Context(), AuditQuery{MaxResults: tt.maxResults})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != tt.want || (page.NextPageToken != "") != tt.token {
			t.Errorf("max_results=%d: %d events, token %q; want %d events, token %v", tt.maxResults, len(page.Events), page.NextPageToken, tt.want, tt.token)
		}
	}
	all, err := a.admin.ListAllAudit(t.Context(), AuditQuery{MaxResults: 1000})
	if err != nil || len(all) != 1005 {
		t.Errorf("ListAllAudit = %d events, %v; want 1005", len(all), err)
	}
}

func TestListAuditRefused(t *testing.T) {
	a := newAuditAPI(t)
	a.record(t, auditEvent(0, catalog.ActionUseConnection, "alice@example.com", "github"))
	tests := []struct {
		name     string
		client   *Client
		query    string
		wantCode string
		wantMsg  string
	}{
		{"not an admin", a.alice, "", "PERMISSION_DENIED", "alice@example.com is not a metastore admin"},
		{"no token", NewClient(a.url, "", nil), "", "UNAUTHENTICATED", ""},
		{"since not a time", a.admin, "since=yesterday", "INVALID_PARAMETER_VALUE", "since"},
		{"until not a time", a.admin, "until=2025-13-01T00:00:00Z", "INVALID_PARAMETER_VALUE", "until"},
		{"since negative", a.admin, "since=-5", "INVALID_PARAMETER_VALUE", "since"},
		{"since too far", a.admin, "since=99999999999999999", "INVALID_PARAMETER_VALUE", "since"},
		{"until before since", a.admin, "since=2000&until=1000", "INVALID_PARAMETER_VALUE", "until must be later than since"},
		{"until equals since", a.admin, "since=1000&until=1000", "INVALID_PARAMETER_VALUE", "until"},
		{"max_results not a number", a.admin, "max_results=ten", "INVALID_PARAMETER_VALUE", "max_results"},
		{"max_results negative", a.admin, "max_results=-1", "INVALID_PARAMETER_VALUE", "max_results"},
		{"page_token not base64", a.admin, "page_token=%%%", "INVALID_PARAMETER_VALUE", "page_token"},
		{"page_token not a seq", a.admin, "page_token=" + base64.RawURLEncoding.EncodeToString([]byte("abc")), "INVALID_PARAMETER_VALUE", "page_token"},
		{"page_token zero", a.admin, "page_token=" + base64.RawURLEncoding.EncodeToString([]byte("0")), "INVALID_PARAMETER_VALUE", "page_token"},
		{"page_token negative", a.admin, "page_token=" + base64.RawURLEncoding.EncodeToString([]byte("-3")), "INVALID_PARAMETER_VALUE", "page_token"},
		{"order unknown", a.admin, "order=newest", "INVALID_PARAMETER_VALUE", "order must be asc or desc"},
		{"order upper case", a.admin, "order=DESC", "INVALID_PARAMETER_VALUE", "order must be asc or desc"},
		{"action unknown", a.admin, "action=useconnection", "INVALID_PARAMETER_VALUE", `action "useconnection" is not valid (did you mean "useConnection"?); valid values: createConnection,`},
		{"action list has egressTunnel", a.admin, "action=tunnel", "INVALID_PARAMETER_VALUE", "egressTunnel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			if tt.query == "page_token=%%%" {
				q = url.Values{"page_token": {"%%%"}}
			}
			err := tt.client.do(t.Context(), http.MethodGet, clientAuditPath, q, nil, &ListAuditResponse{})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("GET ?%s = %v, want %s", tt.query, err, tt.wantCode)
			}
			if ae.Code != tt.wantCode || !strings.Contains(ae.Message, tt.wantMsg) {
				t.Errorf("GET ?%s = %s %q; want %s mentioning %q", tt.query, ae.Code, ae.Message, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestVerifyAudit: the server verifies the keyed chain with its key, for admins only;
// a saved head must be in the log; a server without the key refuses rather than
// pretend.
func TestVerifyAudit(t *testing.T) {
	key, err := audit.ChainKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := newAuditAPI(t)
	// A keyed recorder over the same store: the test's unkeyed recorder has written
	// nothing yet, so the log is keyed from genesis.
	rec, err := audit.New(a.store, nil, audit.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rec.Record(t.Context(), auditEvent(i, catalog.ActionUseConnection, "alice@example.com", "github"))
	}
	if err := rec.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := a.admin.ListAllAudit(t.Context(), AuditQuery{})
	if err != nil || len(events) != 3 {
		t.Fatalf("ListAllAudit = %d events, %v", len(events), err)
	}
	s := NewServer(Deps{Store: a.store, Auth: identity.NewAuthenticator(a.store, nil, slog.New(slog.DiscardHandler)), Access: access.New(a.store), AuditChainKey: key})
	ts := httptest.NewServer(s)
	defer ts.Close()
	admin := NewClient(ts.URL, a.admin.token, nil)

	got, err := admin.VerifyAudit(t.Context(), events[1].Hash)
	want := &VerifyAuditResponse{Intact: true, Events: 3, KeyedEvents: 3, HeadHash: events[2].Hash, SavedHead: events[1].Hash, SavedHeadFound: true}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("VerifyAudit(head 1) = %+v, %v; want %+v", got, err, want)
	}
	got, err = admin.VerifyAudit(t.Context(), strings.Repeat("0f", 32))
	if err != nil || got.Intact || got.Broken == nil || !strings.Contains(got.Broken.Reason, "does not contain the saved head") {
		t.Errorf("VerifyAudit(unknown head) = %+v, %v; want not intact, naming the saved head", got, err)
	}

	for _, tt := range []struct {
		name     string
		client   *Client
		head     string
		wantCode string
	}{
		{"not an admin", NewClient(ts.URL, a.alice.token, nil), "", "PERMISSION_DENIED"},
		{"no token", NewClient(ts.URL, "", nil), "", "UNAUTHENTICATED"},
		{"head not hex", admin, strings.Repeat("zz", 32), "INVALID_PARAMETER_VALUE"},
		{"head too short", admin, "abc", "INVALID_PARAMETER_VALUE"},
		{"no chain key", NewClient(a.url, a.admin.token, nil), "", "TEMPORARILY_UNAVAILABLE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.VerifyAudit(t.Context(), tt.head)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.wantCode {
				t.Errorf("VerifyAudit = %v, want %s", err, tt.wantCode)
			}
		})
	}
}

// TestListAuditDecisionFilter: decision=ALLOW or DENY selects by outcome (the console's
// audit filter, issue 13); another value is a 400 that names the valid ones.
func TestListAuditDecisionFilter(t *testing.T) {
	a := newAuditAPI(t)
	denied := auditEvent(1, catalog.ActionUseConnection, "bob@example.com", "github")
	denied.Decision, denied.StatusCode, denied.ErrorCode = catalog.DecisionDeny, 403, string(catalog.PermissionDenied)
	a.record(t, auditEvent(0, catalog.ActionUseConnection, "alice@example.com", "github"), denied, auditEvent(2, catalog.ActionTokenCreate, "alice@example.com", ""))
	tests := []struct {
		name, query string
		want        []int
	}{
		{"deny", "decision=DENY", []int{1}},
		{"allow", "decision=ALLOW", []int{0, 2}},
		{"deny and principal", "decision=DENY&principal=alice@example.com", nil},
		{"newest first", "decision=ALLOW&order=desc", []int{2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ListAuditResponse
			q, _ := url.ParseQuery(tt.query)
			if err := a.admin.do(t.Context(), http.MethodGet, clientAuditPath, q, nil, &got); err != nil {
				t.Fatalf("GET ?%s: %v", tt.query, err)
			}
			if d := cmp.Diff(recordedIDs(a.events, tt.want...), eventIDs(got.Events)); d != "" {
				t.Errorf("GET ?%s event ids (-want +got):\n%s", tt.query, d)
			}
		})
	}
	err := a.admin.do(t.Context(), http.MethodGet, clientAuditPath, url.Values{"decision": {"deny"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "INVALID_PARAMETER_VALUE") || !strings.Contains(err.Error(), "ALLOW, DENY") {
		t.Errorf("decision=deny: %v, want INVALID_PARAMETER_VALUE naming ALLOW and DENY", err)
	}
}
