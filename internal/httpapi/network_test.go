package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/buildinfo"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// networkAPI is a server over a SQLite store with an admin and a non-admin, a fixed
// clock, and the audit events it records kept in memory.
type networkAPI struct {
	url   string
	admin *Client
	alice *Client
	store *sqlite.DB
	audit *networkRecorder
}

// networkRecorder keeps the audit events of the server.
type networkRecorder struct {
	mu     sync.Mutex
	events []*catalog.AuditEvent
}

func (r *networkRecorder) Record(_ context.Context, e *catalog.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *networkRecorder) byAction(action string) []*catalog.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*catalog.AuditEvent
	for _, e := range r.events {
		if e.ActionName == action {
			out = append(out, e)
		}
	}
	return out
}

var networkNow = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// stubNormalizePolicy stands in for egress.NormalizePolicy: it refuses unknown modes and
// lower-cases destinations, so that tests can tell that the normalized policy is what
// is stored.
func stubNormalizePolicy(p *catalog.NetworkPolicy) (*catalog.NetworkPolicy, error) {
	switch p.RestrictionMode {
	case catalog.FullAccess, catalog.RestrictedAccess:
	default:
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "restriction_mode %q: want FULL_ACCESS or RESTRICTED_ACCESS", p.RestrictionMode)
	}
	switch p.EnforcementMode {
	case catalog.Enforced, catalog.DryRun:
	default:
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "enforcement_mode %q: want ENFORCED or DRY_RUN", p.EnforcementMode)
	}
	out := *p
	out.AllowedDestinations, out.BlockedDestinations = nil, nil
	for _, d := range p.AllowedDestinations {
		out.AllowedDestinations = append(out.AllowedDestinations, strings.ToLower(d))
	}
	for _, d := range p.BlockedDestinations {
		out.BlockedDestinations = append(out.BlockedDestinations, strings.ToLower(d))
	}
	return &out, nil
}

func newNetworkAPI(t *testing.T, normalize func(*catalog.NetworkPolicy) (*catalog.NetworkPolicy, error), counts func() map[string]int64) *networkAPI {
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
	rec := &networkRecorder{}
	s := NewServer(Deps{
		Store: st, Auth: identity.NewAuthenticator(st, nil, slog.New(slog.DiscardHandler)), Access: access.New(st),
		Audit: rec, Now: func() time.Time { return networkNow }, NormalizePolicy: normalize, NetworkCounts: counts,
	})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &networkAPI{url: ts.URL, admin: NewClient(ts.URL, adminToken, nil), alice: NewClient(ts.URL, aliceToken, nil), store: st, audit: rec}
}

// wantAPIError fails unless err is an *APIError with the status and code, and a
// message containing msg.
func wantAPIError(t *testing.T, what string, err error, status int, code, msg string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: error %v, want %d %s", what, err, status, code)
		return
	}
	if ae.Status != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Errorf("%s: %d %s %q, want %d %s with a message containing %q", what, ae.Status, ae.Code, ae.Message, status, code, msg)
	}
}

// networkJSONDiff compares two JSON texts by value.
func networkJSONDiff(t *testing.T, got, want string) string {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return "not JSON: " + got
	}
	return cmp.Diff(w, g)
}

// rawRequest sends body (empty for none) with the token and returns status and body.
func rawRequest(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestNetworkPolicyDefault(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	got, err := a.admin.GetNetworkPolicy(t.Context())
	if err != nil {
		t.Fatalf("GetNetworkPolicy: %v", err)
	}
	want := &NetworkPolicyInfo{
		RestrictionMode: "FULL_ACCESS", EnforcementMode: "ENFORCED",
		AllowedInternetDestinations: []InternetDestination{}, BlockedInternetDestinations: []InternetDestination{},
		AllowedIPRanges: []string{},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("default policy (-want +got):\n%s", d)
	}
	// Programs see every field, lists as [] rather than null.
	status, body := rawRequest(t, http.MethodGet, a.url+clientNetworkPolicyPath, a.admin.token, "")
	if status != http.StatusOK || networkJSONDiff(t, body, `{"restriction_mode":"FULL_ACCESS","enforcement_mode":"ENFORCED",
		"allowed_internet_destinations":[],"blocked_internet_destinations":[],"allow_connection_destinations":false,
		"allowed_ip_ranges":[],"version":0}`) != "" {
		t.Errorf("GET = %d %s", status, body)
	}
}

func TestNetworkPolicyRoundTrip(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	ctx := t.Context()
	put := NetworkPolicyInfo{
		RestrictionMode: "RESTRICTED_ACCESS", EnforcementMode: "DRY_RUN",
		AllowedInternetDestinations: []InternetDestination{{Destination: "API.GitHub.com", InternetDestinationType: "DNS_NAME"}, {Destination: "*.slack.com"}},
		BlockedInternetDestinations: []InternetDestination{{Destination: "Evil.example.com"}},
		AllowConnectionDestinations: true,
		AllowedIPRanges:             []string{"10.0.0.0/8"},
		UpdatedBy:                   "someone else", // the server's to set
		UpdatedAt:                   1,
	}
	got, err := a.admin.PutNetworkPolicy(ctx, put)
	if err != nil {
		t.Fatalf("PutNetworkPolicy: %v", err)
	}
	want := &NetworkPolicyInfo{
		RestrictionMode: "RESTRICTED_ACCESS", EnforcementMode: "DRY_RUN",
		AllowedInternetDestinations: []InternetDestination{{"api.github.com", "DNS_NAME"}, {"*.slack.com", "DNS_NAME"}},
		BlockedInternetDestinations: []InternetDestination{{"evil.example.com", "DNS_NAME"}},
		AllowConnectionDestinations: true,
		AllowedIPRanges:             []string{"10.0.0.0/8"},
		Version:                     1,
		UpdatedAt:                   networkNow.UnixMilli(),
		UpdatedBy:                   "admin",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("PUT answer (-want +got):\n%s", d)
	}
	read, err := a.admin.GetNetworkPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, read); d != "" {
		t.Errorf("GET after PUT (-want +got):\n%s", d)
	}
	// The store holds the normalized policy, attributed to the admin's principal ID.
	stored, err := a.store.GetNetworkPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored.AllowedDestinations[0] != "api.github.com" || stored.UpdatedBy == "" || stored.UpdatedBy == "admin" {
		t.Errorf("stored policy %+v: want normalized destinations and the admin's ID as UpdatedBy", stored)
	}

	// Modes left out mean the defaults.
	got, err = a.admin.PutNetworkPolicy(ctx, NetworkPolicyInfo{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got.RestrictionMode != "FULL_ACCESS" || got.EnforcementMode != "ENFORCED" || got.Version != 2 || len(got.AllowedInternetDestinations) != 0 {
		t.Errorf("PUT of an empty policy = %+v; want FULL_ACCESS, ENFORCED, version 2, no destinations", got)
	}

	// The change is audited, with a summary of the policy rather than its lists.
	events := a.audit.byAction("updateNetworkPolicy")
	if len(events) != 2 {
		t.Fatalf("audit events = %d, want 2", len(events))
	}
	e := events[0]
	if e.Principal != "admin" || e.Decision != catalog.DecisionAllow || e.StatusCode != 200 ||
		e.Params["policy"] != "RESTRICTED_ACCESS DRY_RUN allowed=2 blocked=1 ip_ranges=1 connection_destinations=true" ||
		e.Params["version"] != "0" {
		t.Errorf("audit event %+v", e)
	}
}

func TestNetworkPolicyStaleVersion(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	ctx := t.Context()
	p := NetworkPolicyInfo{RestrictionMode: "RESTRICTED_ACCESS", EnforcementMode: "ENFORCED"}
	if _, err := a.admin.PutNetworkPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	// A second writer that read version 0 loses.
	_, err := a.admin.PutNetworkPolicy(ctx, p)
	wantAPIError(t, "PUT with version 0 over version 1", err, http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "stored version is 1")
	p.Version = 7
	_, err = a.admin.PutNetworkPolicy(ctx, p)
	wantAPIError(t, "PUT with version 7", err, http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "version 7 is stale")
	p.Version = 1
	got, err := a.admin.PutNetworkPolicy(ctx, p)
	if err != nil || got.Version != 2 {
		t.Fatalf("PUT with the current version = %+v, %v; want version 2", got, err)
	}
	// Without a version the PUT replaces whatever is stored.
	status, body := rawRequest(t, http.MethodPut, a.url+clientNetworkPolicyPath, a.admin.token, `{"restriction_mode":"FULL_ACCESS","enforcement_mode":"DRY_RUN"}`)
	if status != http.StatusOK || !strings.Contains(body, `"version":3`) {
		t.Errorf("PUT without version = %d %s; want 200 and version 3", status, body)
	}
	// The refused PUTs were audited as such.
	var codes []string
	for _, e := range a.audit.byAction("updateNetworkPolicy") {
		codes = append(codes, fmt.Sprint(e.StatusCode, " ", e.ErrorCode))
	}
	if d := cmp.Diff([]string{"200 ", "409 RESOURCE_ALREADY_EXISTS", "409 RESOURCE_ALREADY_EXISTS", "200 ", "200 "}, codes); d != "" {
		t.Errorf("audited outcomes (-want +got):\n%s", d)
	}
}

func TestNetworkPolicyBadInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		normalize func(*catalog.NetworkPolicy) (*catalog.NetworkPolicy, error)
		body      string
		msg       string
	}{
		{"restriction mode typo", stubNormalizePolicy, `{"restriction_mode":"RESTRICTED","enforcement_mode":"ENFORCED"}`, "restriction_mode"},
		{"enforcement mode typo", stubNormalizePolicy, `{"restriction_mode":"FULL_ACCESS","enforcement_mode":"ENFORCING"}`, "enforcement_mode"},
		{"mode typo without a normalizer", nil, `{"restriction_mode":"FULL","enforcement_mode":"ENFORCED"}`, "unknown restriction mode"},
		{"destination type", stubNormalizePolicy, `{"allowed_internet_destinations":[{"destination":"10.0.0.1","internet_destination_type":"IP_ADDRESS"}]}`, "allowed_internet_destinations[0]: internet_destination_type"},
		{"empty destination", stubNormalizePolicy, `{"blocked_internet_destinations":[{"destination":" "}]}`, "blocked_internet_destinations[0]: destination is empty"},
		{"empty IP range", stubNormalizePolicy, `{"allowed_ip_ranges":["10.0.0.0/8",""]}`, "allowed_ip_ranges[1]"},
		{"unknown field", stubNormalizePolicy, `{"restriction_mode":"FULL_ACCESS","allowed_destinations":["x.com"]}`, "unknown field"},
		{"wrong type", stubNormalizePolicy, `{"allow_connection_destinations":"yes"}`, "allow_connection_destinations"},
		{"negative version", stubNormalizePolicy, `{"version":-1}`, "negative"},
		{"empty body", stubNormalizePolicy, ``, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newNetworkAPI(t, tc.normalize, nil)
			status, body := rawRequest(t, http.MethodPut, a.url+clientNetworkPolicyPath, a.admin.token, tc.body)
			if status != http.StatusBadRequest || !strings.Contains(body, "INVALID_PARAMETER_VALUE") || !strings.Contains(body, tc.msg) {
				t.Errorf("PUT %s = %d %s; want 400 INVALID_PARAMETER_VALUE mentioning %q", tc.body, status, body, tc.msg)
			}
			if _, err := a.store.GetNetworkPolicy(t.Context()); !catalog.IsNotFound(err) {
				t.Errorf("after a refused PUT the store holds a policy (%v)", err)
			}
		})
	}
}

func TestNetworkAdminOnly(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	ctx := t.Context()
	_, err := a.alice.GetNetworkPolicy(ctx)
	wantAPIError(t, "GET policy as alice", err, http.StatusForbidden, "PERMISSION_DENIED", "alice@example.com is not a metastore admin")
	_, err = a.alice.PutNetworkPolicy(ctx, NetworkPolicyInfo{RestrictionMode: "FULL_ACCESS", EnforcementMode: "ENFORCED"})
	wantAPIError(t, "PUT policy as alice", err, http.StatusForbidden, "PERMISSION_DENIED", "not a metastore admin")
	_, err = a.alice.ListNetworkEvents(ctx, NetworkEventsQuery{})
	wantAPIError(t, "GET events as alice", err, http.StatusForbidden, "PERMISSION_DENIED", "not a metastore admin")
	anon := NewClient(a.url, "", nil)
	_, err = anon.GetNetworkPolicy(ctx)
	wantAPIError(t, "GET policy without a token", err, http.StatusUnauthorized, "UNAUTHENTICATED", "")
	_, err = anon.ListNetworkEvents(ctx, NetworkEventsQuery{})
	wantAPIError(t, "GET events without a token", err, http.StatusUnauthorized, "UNAUTHENTICATED", "")

	if _, err := a.store.GetNetworkPolicy(ctx); !catalog.IsNotFound(err) {
		t.Errorf("alice's PUT stored a policy (%v)", err)
	}
	events := a.audit.byAction("updateNetworkPolicy")
	if len(events) != 1 || events[0].Principal != "alice@example.com" || events[0].Decision != catalog.DecisionDeny || events[0].StatusCode != 403 {
		t.Errorf("audit of alice's PUT = %+v; want one DENY 403", events)
	}
}

var networkT0 = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)

// appendNetworkEvents stores events i = 0..n-1 at networkT0 + i minutes, with source,
// principal and access type chosen by pick(i).
func (a *networkAPI) appendNetworkEvents(t *testing.T, n int, pick func(i int) (source, principal, accessType string)) []*catalog.NetworkEvent {
	t.Helper()
	events := make([]*catalog.NetworkEvent, n)
	for i := range events {
		source, principal, accessType := pick(i)
		events[i] = &catalog.NetworkEvent{
			Time: networkT0.Add(time.Duration(i) * time.Minute), Destination: fmt.Sprintf("host-%d.example.com:443", i),
			ResolvedAddress: "192.0.2.10", Source: source, Principal: principal, Connection: "github",
			Reason: "not in the allowed list", AccessType: accessType,
		}
	}
	if err := a.store.AppendNetworkEvents(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	return events
}

func networkEventSeqs(events []*catalog.NetworkEvent, idx ...int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, strconv.FormatInt(events[i].Seq, 10))
	}
	return out
}

func networkEventIDs(events []NetworkEventInfo) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.EventID)
	}
	return out
}

func TestNetworkEventsFilters(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	type ev struct{ source, principal, access string }
	spec := []ev{
		{"proxy", "alice@example.com", "DROP"},
		{"egress", "bob@example.com", "DROP"},
		{"egress", "alice@example.com", "DRY_RUN_DENIAL"},
		{"oauth", "alice@example.com", "DROP"},
		{"egress", "admin", "DRY_RUN_DENIAL"},
	}
	events := a.appendNetworkEvents(t, len(spec), func(i int) (string, string, string) {
		return spec[i].source, spec[i].principal, spec[i].access
	})

	// Every field shows.
	resp, err := a.admin.ListNetworkEvents(t.Context(), NetworkEventsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := NetworkEventInfo{
		EventID: strconv.FormatInt(events[1].Seq, 10), Time: networkT0.Add(time.Minute).UnixMilli(),
		Destination: "host-1.example.com:443", ResolvedAddress: "192.0.2.10", Source: "egress",
		Principal: "bob@example.com", Connection: "github", Reason: "not in the allowed list", AccessType: "DROP",
	}
	if len(resp.Events) != 5 || resp.NextPageToken != "" {
		t.Fatalf("ListNetworkEvents = %d events, token %q; want 5, none", len(resp.Events), resp.NextPageToken)
	}
	if d := cmp.Diff(want, resp.Events[1]); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}

	ms := func(i int) string { return fmt.Sprint(networkT0.Add(time.Duration(i) * time.Minute).UnixMilli()) }
	tests := []struct {
		name  string
		query string
		want  []int
	}{
		{"all", "", []int{0, 1, 2, 3, 4}},
		{"source", "source=egress", []int{1, 2, 4}},
		{"principal", "principal=alice@example.com", []int{0, 2, 3}},
		{"access type", "access_type=DRY_RUN_DENIAL", []int{2, 4}},
		{"access type in lower case", "access_type=drop", []int{0, 1, 3}},
		{"combined", "source=egress&principal=alice@example.com", []int{2}},
		{"since in ms, inclusive", "since=" + ms(2), []int{2, 3, 4}},
		{"until in ms, exclusive", "until=" + ms(2), []int{0, 1}},
		{"since as RFC 3339", "since=2025-03-14T15:03:00Z", []int{3, 4}},
		{"since and until", "since=" + ms(1) + "&until=" + ms(4), []int{1, 2, 3}},
		{"nothing matches", "principal=nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ListNetworkEventsResponse
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.admin.do(t.Context(), http.MethodGet, clientNetworkEventsPath, q, nil, &got); err != nil {
				t.Fatalf("GET ?%s: %v", tt.query, err)
			}
			if got.Events == nil {
				t.Errorf("events is null; want a list, even an empty one")
			}
			if d := cmp.Diff(networkEventSeqs(events, tt.want...), networkEventIDs(got.Events)); d != "" {
				t.Errorf("GET ?%s event ids (-want +got):\n%s", tt.query, d)
			}
		})
	}

	// The client sends times as epoch milliseconds.
	resp, err = a.admin.ListNetworkEvents(t.Context(), NetworkEventsQuery{Since: networkT0.Add(time.Minute), Until: networkT0.Add(3 * time.Minute), Source: "egress", AccessType: "DROP"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(networkEventSeqs(events, 1), networkEventIDs(resp.Events)); d != "" {
		t.Errorf("client ListNetworkEvents (-want +got):\n%s", d)
	}
}

func TestNetworkEventsPaging(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	events := a.appendNetworkEvents(t, 25, func(i int) (string, string, string) {
		if i%2 == 0 {
			return "egress", "alice@example.com", "DROP"
		}
		return "proxy", "bob@example.com", "DRY_RUN_DENIAL"
	})
	all := make([]int, 25)
	for i := range all {
		all[i] = i
	}

	q := NetworkEventsQuery{MaxResults: 10}
	var sizes []int
	var got []NetworkEventInfo
	for range 10 {
		page, err := a.admin.ListNetworkEvents(t.Context(), q)
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
	if d := cmp.Diff(networkEventSeqs(events, all...), networkEventIDs(got)); d != "" {
		t.Errorf("paged event ids (-want +got):\n%s", d)
	}

	// A page that ends exactly at the last event has no token.
	page, err := a.admin.ListNetworkEvents(t.Context(), NetworkEventsQuery{MaxResults: 25})
	if err != nil || len(page.Events) != 25 || page.NextPageToken != "" {
		t.Errorf("ListNetworkEvents(max 25) = %d events, token %q, %v; want 25 and no token", len(page.Events), page.NextPageToken, err)
	}

	// ListAllNetworkEvents follows the tokens with the filters kept on every page.
	evens, err := a.admin.ListAllNetworkEvents(t.Context(), NetworkEventsQuery{MaxResults: 4, Source: "egress"})
	if err != nil {
		t.Fatal(err)
	}
	var wantEvens []int
	for i := 0; i < 25; i += 2 {
		wantEvens = append(wantEvens, i)
	}
	if d := cmp.Diff(networkEventSeqs(events, wantEvens...), networkEventIDs(evens)); d != "" {
		t.Errorf("ListAllNetworkEvents(source=egress) (-want +got):\n%s", d)
	}
}

func TestNetworkEventsRefused(t *testing.T) {
	a := newNetworkAPI(t, stubNormalizePolicy, nil)
	for _, tc := range []struct {
		name, query, msg string
	}{
		{"since not a time", "since=yesterday", "since"},
		{"until before since", "since=2000&until=1000", "until must be later than since"},
		{"access type unknown", "access_type=DENY", `access_type \"DENY\" is not valid; valid values: DROP, DRY_RUN_DENIAL`},
		{"source unknown", "source=tunnel", `source \"tunnel\" is not valid; valid values: proxy, oauth, egress`},
		{"source typo", "source=oath", `did you mean \"oauth\"?`},
		{"max_results not a number", "max_results=ten", "max_results"},
		{"page token forged", "page_token=bm90LWEtbnVtYmVy", "page_token"},
	} {
		status, body := rawRequest(t, http.MethodGet, a.url+clientNetworkEventsPath+"?"+tc.query, a.admin.token, "")
		if status != http.StatusBadRequest || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: GET ?%s = %d %s; want 400 mentioning %q", tc.name, tc.query, status, body, tc.msg)
		}
	}
}

func TestMetrics(t *testing.T) {
	counts := map[string]int64{
		"proxy/DROP":             3,
		"egress/DRY_RUN_DENIAL":  2,
		"egress/DROP":            12,
		"odd\"source\\\n/DROP":   1,
		"oauth/DROP":             0,
		"negative/DROP":          -1,
		"no-slash":               4,
		"with/slash/in/src/DROP": 5,
	}
	a := newNetworkAPI(t, nil, func() map[string]int64 { return counts })

	// No token needed.
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q, want the text format 0.0.4", ct)
	}
	body := string(b)
	if !strings.HasSuffix(body, "\n") {
		t.Errorf("body does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	bi := buildinfo.Get()
	if len(lines) < 3 || lines[2] != `gatehouse_build_info{version="`+bi.Version+`",commit="`+bi.Commit+`",goversion="`+bi.GoVersion+`"} 1` {
		t.Fatalf("build info missing or malformed:\n%s", body)
	}
	lines[2] = "gatehouse_build_info{...} 1"
	want := []string{
		"# HELP gatehouse_build_info Build information of the running Gatehouse (as `gatehouse version` prints it); always 1.",
		"# TYPE gatehouse_build_info gauge",
		"gatehouse_build_info{...} 1",
		"# HELP gatehouse_network_denials_total Outbound connections the network policy denied (access_type DROP) or, in DRY_RUN, would have denied (DRY_RUN_DENIAL), by source (proxy, oauth, egress).",
		"# TYPE gatehouse_network_denials_total counter",
		`gatehouse_network_denials_total{source="egress",access_type="DROP"} 12`,
		`gatehouse_network_denials_total{source="egress",access_type="DRY_RUN_DENIAL"} 2`,
		`gatehouse_network_denials_total{source="no-slash",access_type=""} 4`,
		`gatehouse_network_denials_total{source="oauth",access_type="DROP"} 0`,
		`gatehouse_network_denials_total{source="odd\"source\\\n",access_type="DROP"} 1`,
		`gatehouse_network_denials_total{source="proxy",access_type="DROP"} 3`,
		`gatehouse_network_denials_total{source="with/slash/in/src",access_type="DROP"} 5`,
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}

	// Without counts: the family is declared, with no samples.
	a = newNetworkAPI(t, nil, nil)
	status, body := rawRequest(t, http.MethodGet, a.url+"/metrics", "", "")
	if status != http.StatusOK || strings.Contains(body, "gatehouse_network_denials_total{") || !strings.Contains(body, "# TYPE gatehouse_network_denials_total counter\n") {
		t.Errorf("GET /metrics without counts = %d\n%s", status, body)
	}
}
