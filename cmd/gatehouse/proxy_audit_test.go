package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type auditList struct {
	Events []struct {
		EventID       string            `json:"event_id"`
		EventTime     int64             `json:"event_time"`
		ActionName    string            `json:"action_name"`
		Principal     string            `json:"principal"`
		SourceIP      string            `json:"source_ip"`
		RequestID     string            `json:"request_id"`
		Connection    string            `json:"connection"`
		RequestParams map[string]string `json:"request_params"`
		Response      struct {
			StatusCode int    `json:"status_code"`
			ErrorCode  string `json:"error_code"`
		} `json:"response"`
		Decision string `json:"decision"`
		PrevHash string `json:"prev_hash"`
		Hash     string `json:"hash"`
	} `json:"events"`
	NextPageToken string `json:"next_page_token"`
}

// waitAudit polls the audit API until the filter yields at least n events.
func (ts *testServer) waitAudit(query string, n int) auditList {
	ts.t.Helper()
	var l auditList
	deadline := time.Now().Add(5 * time.Second)
	for {
		l = auditList{}
		ts.must("GET", "/api/2.0/gatehouse/audit?"+query, ts.Admin, nil, &l)
		if len(l.Events) >= n || time.Now().After(deadline) {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEveryCallIsAudited: allowed and refused calls each leave one useConnection event
// with the principal, connection, method, upstream host, path without query values,
// status, bytes, duration, decision and request id; the bearer token appears in no
// response, log line, audit record or database file.
func TestEveryCallIsAudited(t *testing.T) {
	w := newProxyWorld(t, nil)
	ts := w.ts
	_, bobTok := ts.mkUser("bob@example.com")
	resp, _ := w.call(w.alice, "POST", "/items?secret_query=QUERYVALUE", nil, "request-body")
	allowedID := resp.Header.Get("X-Gatehouse-Request-Id")
	resp, _ = w.call(bobTok, "GET", "/items", nil, "")
	deniedID := resp.Header.Get("X-Gatehouse-Request-Id")
	w.call("", "GET", "/items", nil, "")
	w.call(w.alice, "GET", "/../etc", nil, "")

	l := ts.waitAudit("action=useConnection", 4)
	if len(l.Events) != 4 {
		t.Fatalf("got %d useConnection events, want 4: %+v", len(l.Events), l.Events)
	}
	byReq := map[string]int{}
	for i, e := range l.Events {
		byReq[e.RequestID] = i
		if e.Connection != "echo" {
			t.Errorf("event %d connection = %q", i, e.Connection)
		}
	}
	a := l.Events[byReq[allowedID]]
	host := strings.TrimPrefix(w.up.URL, "https://")
	if a.Principal != "alice@example.com" || a.Decision != "ALLOW" || a.Response.StatusCode != http.StatusTeapot ||
		a.RequestParams["method"] != "POST" || a.RequestParams["upstream_host"] != host || a.RequestParams["path"] != "/base/items" ||
		a.RequestParams["bytes_in"] != "12" || a.RequestParams["bytes_out"] == "" || a.RequestParams["duration_ms"] == "" || a.SourceIP != "127.0.0.1" {
		t.Errorf("allowed event = %+v", a)
	}
	d := l.Events[byReq[deniedID]]
	if d.Principal != "bob@example.com" || d.Decision != "DENY" || d.Response.StatusCode != 403 || d.Response.ErrorCode != "PERMISSION_DENIED" || !strings.Contains(d.RequestParams["reason"], "USE_CONNECTION") {
		t.Errorf("denied event = %+v", d)
	}
	// The whole chain links: each event's prev_hash is the hash of the one before.
	full := ts.waitAudit("max_results=1000", 1)
	for i := 1; i < len(full.Events); i++ {
		if full.Events[i].PrevHash != full.Events[i-1].Hash || len(full.Events[i].Hash) != 64 {
			t.Errorf("event %d does not link to event %d", i, i-1)
		}
	}
	// Management actions are audited too.
	if m := ts.waitAudit("action=createConnection", 1); len(m.Events) != 1 || m.Events[0].Connection != "echo" || m.Events[0].Principal != "admin" {
		t.Errorf("createConnection events = %+v", m.Events)
	}
	if m := ts.waitAudit("action=updatePermissions", 1); len(m.Events) != 1 || !strings.Contains(m.Events[0].RequestParams["changes"], "USE_CONNECTION alice@example.com") {
		t.Errorf("updatePermissions events = %+v", m.Events)
	}
	if out, err := ts.cli(ts.Admin, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify: %v %s", err, out)
	}
	if out, err := ts.cli(ts.Admin, "", "audit", "list", "--action", "useConnection"); err != nil || !strings.Contains(out, "alice@example.com") {
		t.Errorf("audit list: %v %s", err, out)
	}

	// Canary scan: responses, CLI output, logs, audit records and the database files.
	all, _ := json.Marshal(ts.waitAudit("max_results=1000", 1))
	ts.Stop()
	scan := map[string][]byte{"responses": []byte(ts.responses.String()), "log": []byte(ts.Stderr.String() + ts.Stdout.String()), "audit": all}
	files, _ := filepath.Glob(filepath.Join(ts.DataDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		scan[f] = b
	}
	for where, b := range scan {
		for _, secret := range []string{w.canary, "QUERYVALUE", "request-body"} {
			if where == "responses" && secret != w.canary {
				continue // the echo upstream returns the query and body to the caller, as it should
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%q found in %s", secret, where)
			}
		}
	}
}

func TestCLICall(t *testing.T) {
	w := newProxyWorld(t, nil)
	out, err := w.ts.cli(w.alice, `{"a":1}`, "call", "echo", "POST", "/things?x=1", "--json", "@-", "-H", "X-Trace: 7")
	if err == nil || !strings.Contains(err.Error(), "418") {
		t.Fatalf("call: %v (the echo upstream answers 418)", err)
	}
	var e echoed
	if jerr := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &e); jerr != nil {
		t.Fatalf("call output %q: %v", out, jerr)
	}
	if e.Path != "/base/things" || e.RawQuery != "x=1" || e.Body != `{"a":1}` || e.Header["X-Trace"][0] != "7" || e.Header["Content-Type"][0] != "application/json" {
		t.Errorf("upstream got %+v", e)
	}
	_, bobTok := w.ts.mkUser("bob@example.com")
	if out, err := w.ts.cli(bobTok, "", "call", "echo", "GET", "/x"); err == nil || !strings.Contains(out, "PERMISSION_DENIED") {
		t.Errorf("bob's call: %v %s", err, out)
	}
}
