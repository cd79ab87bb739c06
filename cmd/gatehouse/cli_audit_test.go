package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// auditFakeAPI serves a fixed audit log in pages of pageSize, with the page token the
// index of the next event, and records each request's query.
type auditFakeAPI struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
}

func newAuditFakeAPI(t *testing.T, events []httpapi.AuditEventInfo, pageSize int) *auditFakeAPI {
	t.Helper()
	f := &auditFakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/2.0/gatehouse/audit" || r.Header.Get("Authorization") != "Bearer "+cliTestToken {
			http.Error(w, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no"}`, http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.mu.Unlock()
		start, _ := strconv.Atoi(q.Get("page_token"))
		size := pageSize
		if n, err := strconv.Atoi(q.Get("max_results")); err == nil && n > 0 && n < size {
			size = n
		}
		end := min(start+size, len(events))
		resp := httpapi.ListAuditResponse{Events: events[start:end]}
		if end < len(events) {
			resp.NextPageToken = strconv.Itoa(end)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *auditFakeAPI) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

var cliAuditT0 = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// auditLog returns n events in a valid chain.
func auditLog(n int) []httpapi.AuditEventInfo {
	events := make([]httpapi.AuditEventInfo, n)
	prev := audit.Genesis
	for i := range events {
		e := httpapi.AuditEventInfo{
			EventID:       fmt.Sprintf("ev-%02d", i),
			EventTime:     cliAuditT0.Add(time.Duration(i) * time.Second).UnixMilli(),
			ActionName:    "useConnection",
			Principal:     "billing-agent",
			SourceIP:      "192.0.2.7",
			RequestID:     fmt.Sprintf("req-%02d", i),
			Connection:    "github",
			RequestParams: map[string]string{"method": "GET", "path": "/repos"},
			Response:      httpapi.AuditResponse{StatusCode: 200},
			Decision:      "ALLOW",
		}
		if i == 1 {
			e.Response = httpapi.AuditResponse{StatusCode: 403, ErrorCode: "PERMISSION_DENIED"}
			e.Decision = "DENY"
		}
		if i == 2 {
			e.Connection, e.RequestParams, e.ActionName = "", nil, "tokenCreate"
		}
		e.PrevHash = prev
		e.Hash = audit.HashOf(prev, cliAuditLink(e).Canonical)
		prev = e.Hash
		events[i] = e
	}
	return events
}

// cliAuditLink is the chain's view of an event as the API shows it.
func cliAuditLink(e httpapi.AuditEventInfo) audit.Link {
	return audit.Link{
		Canonical: audit.Canonical{
			EventID:    e.EventID,
			EventTime:  e.EventTime,
			ActionName: e.ActionName,
			Principal:  e.Principal,
			SourceIP:   e.SourceIP,
			RequestID:  e.RequestID,
			Connection: e.Connection,
			Params:     e.RequestParams,
			StatusCode: e.Response.StatusCode,
			ErrorCode:  e.Response.ErrorCode,
			Decision:   e.Decision,
		},
		PrevHash: e.PrevHash,
		Hash:     e.Hash,
	}
}

func auditEnv(f *auditFakeAPI) map[string]string {
	return map[string]string{"GATEHOUSE_HOST": f.URL, "GATEHOUSE_TOKEN": cliTestToken}
}

func TestCLIAuditList(t *testing.T) {
	t.Parallel()
	f := newAuditFakeAPI(t, auditLog(5), 2)
	stdout, stderr, err := cliRun(t, auditEnv(f), "", "audit", "list",
		"--since", "2025-03-14T15:00:00Z", "--until", "1741966000000", "--principal", "billing-agent",
		"--connection", "github", "--action", "useConnection")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, stderr)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3 (pages of 2 until the last)", len(reqs))
	}
	q := reqs[0]
	for k, want := range map[string]string{
		"since": strconv.FormatInt(time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC).UnixMilli(), 10), "until": "1741966000000",
		"principal": "billing-agent", "connection": "github", "action": "useConnection", "max_results": "100",
		"order": "desc",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("query %s = %q, want %q", k, got, want)
		}
	}
	if reqs[1].Get("page_token") != "2" || reqs[1].Get("principal") != "billing-agent" {
		t.Errorf("second request %v: want the page token and the same filters", reqs[1])
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("stdout has %d lines, want a header and 5 rows:\n%s", len(lines), stdout)
	}
	for _, want := range []string{"TIME", "ACTION", "PRINCIPAL", "CONNECTION", "DECISION", "STATUS", "REQUEST ID"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for i, want := range [][]string{
		1: {"2025-03-14T15:09:27.535Z", "useConnection", "billing-agent", "github", "DENY", "403 PERMISSION_DENIED", "req-01"},
		2: {"tokenCreate", "-", "200", "req-02"},
	} {
		if want == nil {
			continue
		}
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i, lines[i+1], w)
			}
		}
	}
}

func TestCLIAuditListLimitAndJSON(t *testing.T) {
	t.Parallel()
	f := newAuditFakeAPI(t, auditLog(5), 2)
	stdout, stderr, err := cliRun(t, auditEnv(f), "", "audit", "list", "--limit", "3", "-o", "json")
	if err != nil {
		t.Fatalf("audit list: %v", err)
	}
	var got httpapi.ListAuditResponse
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if len(got.Events) != 3 || got.Events[2].EventID != "ev-02" || got.NextPageToken == "" {
		t.Errorf("got %d events ending %v, token %q; want 3, ev-02 and a token for the rest", len(got.Events), got.Events, got.NextPageToken)
	}
	if reqs := f.requests(); len(reqs) != 2 || reqs[0].Get("max_results") != "3" || reqs[1].Get("max_results") != "1" {
		t.Errorf("requests %v; want max_results 3 then 1", reqs)
	}
	if stderr != "" {
		t.Errorf("stderr = %q with -o json", stderr)
	}

	// For people, a cut-off list says so.
	_, stderr, err = cliRun(t, auditEnv(f), "", "audit", "list", "--limit", "2")
	if err != nil || !strings.Contains(stderr, "More events match") {
		t.Errorf("audit list --limit 2: %v, stderr %q; want a note that more events match", err, stderr)
	}
}

func TestCLIAuditTimes(t *testing.T) {
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"1741964966535", time.UnixMilli(1741964966535)},
		{"2025-03-14T15:09:26Z", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)},
		{"2025-03-14T15:09:26.5+01:00", time.Date(2025, 3, 14, 14, 9, 26, 500_000_000, time.UTC)},
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := cliAuditTime("since", tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("cliAuditTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-5", "-1h", "2025-13-01", "3w", "d"} {
		if _, err := cliAuditTime("since", bad, now); err == nil || !strings.Contains(err.Error(), "--since") {
			t.Errorf("cliAuditTime(%q) = %v; want an error naming --since", bad, err)
		}
	}

	// A bad value fails before any request.
	f := newAuditFakeAPI(t, auditLog(1), 10)
	if _, _, err := cliRun(t, auditEnv(f), "", "audit", "list", "--until", "tomorrow"); err == nil || !strings.Contains(err.Error(), "--until") {
		t.Errorf("audit list --until tomorrow: %v; want an error naming --until", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests after a bad flag, want none", n)
	}
}

// TestCLIAuditVerify: verify asks the server (which holds the chain key), passes --head
// on, prints the head to save, and fails on any answer that is not intact.
func TestCLIAuditVerify(t *testing.T) {
	t.Parallel()
	head := strings.Repeat("ab", 32)
	saved := strings.Repeat("cd", 32)
	tests := []struct {
		name    string
		args    []string
		answer  httpapi.VerifyAuditResponse
		wantOut []string
		wantErr []string
	}{
		{"intact", nil, httpapi.VerifyAuditResponse{Intact: true, Events: 7, KeyedEvents: 7, HeadHash: head},
			[]string{"audit chain intact: 7 events\n", "head hash: " + head}, nil},
		{"with legacy prefix", nil, httpapi.VerifyAuditResponse{Intact: true, Events: 9, KeyedEvents: 6, LegacyEvents: 3, HeadHash: head},
			[]string{"9 events, of which 3 legacy", head}, nil},
		{"saved head found", []string{"--head", strings.ToUpper(saved)}, httpapi.VerifyAuditResponse{Intact: true, Events: 9, KeyedEvents: 9, HeadHash: head, SavedHead: saved, SavedHeadFound: true},
			[]string{"saved head " + saved + " is in the log", head}, nil},
		{"broken event", nil, httpapi.VerifyAuditResponse{Events: 4, KeyedEvents: 4, HeadHash: head,
			Broken: &httpapi.AuditChainBreak{Index: 4, EventID: "ev-04", Reason: "hash does not match"}},
			nil, []string{"#4", "ev-04", "hash does not match", "4 events verified intact", head}},
		{"saved head missing", []string{"--head", saved}, httpapi.VerifyAuditResponse{Events: 5, KeyedEvents: 5, HeadHash: head, SavedHead: saved,
			Broken: &httpapi.AuditChainBreak{Index: 5, Reason: "the log does not contain the saved head"}},
			nil, []string{"after 5 events", "does not contain the saved head"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var gotHead atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/api/2.0/gatehouse/audit/verify" || r.Header.Get("Authorization") != "Bearer "+cliTestToken {
					http.Error(w, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no"}`, http.StatusNotFound)
					return
				}
				gotHead.Store(r.URL.Query().Get("head"))
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(tt.answer)
			}))
			defer srv.Close()
			env := map[string]string{"GATEHOUSE_HOST": srv.URL, "GATEHOUSE_TOKEN": cliTestToken}
			stdout, _, err := cliRun(t, env, "", append([]string{"audit", "verify"}, tt.args...)...)
			if want := tt.answer.SavedHead; gotHead.Load() != want {
				t.Errorf("server got head %q, want %q", gotHead.Load(), want)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("audit verify: %v", err)
				}
				for _, w := range tt.wantOut {
					if !strings.Contains(stdout, w) {
						t.Errorf("stdout = %q, want %q", stdout, w)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("audit verify succeeded on a broken chain; stdout %q", stdout)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(stdout, "intact") {
				t.Errorf("stdout = %q on a broken chain", stdout)
			}
		})
	}
}
