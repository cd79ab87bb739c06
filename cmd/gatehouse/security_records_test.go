package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// storeBytes is the size of the data folder's SQLite files, WAL and shared memory
// included.
func storeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "gatehouse.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no store files in %s (%v)", dir, err)
	}
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// verifiedAudit reads every audit event of a stopped server's store and checks that the
// keyed hash chain still verifies after bounding (with the server's development key).
func verifiedAudit(t *testing.T, dir string) []*catalog.AuditEvent {
	t.Helper()
	all := storedAudit(t, dir)
	master, _, _, err := seal.LoadMasterKey("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ChainKey(master)
	if err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier(key, "")
	links := make([]audit.Link, len(all))
	for i, e := range all {
		links[i] = audit.LinkOf(e)
	}
	if err := v.Add(links); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	if r, err := v.Finish(); err != nil {
		t.Errorf("audit chain: %d verified, %v", r.Events, err)
	}
	return all
}

// unauthTally counts the unauthenticated events of source ip: those written one by one
// and those counted in summaries.
func unauthTally(t *testing.T, all []*catalog.AuditEvent, ip string) (single, suppressed, summaries int) {
	t.Helper()
	for _, e := range all {
		if e.Principal != "" {
			continue
		}
		if e.Params[audit.SummaryParam] != "" {
			if e.Params["source_ip"] != ip {
				continue
			}
			n, err := strconv.Atoi(e.Params["suppressed"])
			if err != nil || n <= 0 {
				t.Errorf("summary without a positive count: %v", e.Params)
			}
			suppressed += n
			summaries++
		} else if e.SourceIP == ip {
			single++
		}
	}
	return single, suppressed, summaries
}

// rawControl reports whether s holds a control character as such.
func rawControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) })
}

// hugeNameBytes is the size of the names the table sends: as large as fits under the
// listeners' 64 KiB request-header bound (a 100 KB name is refused before any handler
// runs: TestHeaderBoundRefusesBeforeAnyRecord).
const hugeNameBytes = 56 << 10

// hugeName is a 56 KB connection name with a forged log line and an ANSI escape in
// it, as it arrives URL-encoded in a path and as the server decodes it.
func hugeName() (encoded, decoded string) {
	body := strings.Repeat("a", hugeNameBytes)
	return body + "%0Alevel=ERROR%20msg=forged%1B%5B2J", body + "\nlevel=ERROR msg=forged\x1b[2J"
}

// TestUnauthenticatedRecordsBounded: requests without a valid token that carry 56 KB
// connection names (with a forged log line and an ANSI escape) grow the store by less
// than 1 MB and the log by a bounded amount per request; every stored string is
// bounded, escaped and valid UTF-8; nothing is lost: the events written one by one
// plus the counts of the summaries are exactly the requests; the chain verifies.
func TestUnauthenticatedRecordsBounded(t *testing.T) {
	const requests = 40
	type attack struct {
		name   string
		egress bool
		send   func(t *testing.T, ts *testServer, i int)
		json   bool // the server logs JSON instead of text
	}
	proxy := func(auth string) func(t *testing.T, ts *testServer, i int) {
		return func(t *testing.T, ts *testServer, i int) {
			enc, _ := hugeName()
			req, err := http.NewRequest("GET", ts.URL+"/api/2.0/unity-catalog/connections/"+enc+"/proxy/items", nil)
			if err != nil {
				t.Fatal(err)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			// Not send: its errors would quote the 100 KB URL.
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request %d: %.300v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("request %d = %d %.200s, want 401", i, resp.StatusCode, body)
			}
		}
	}
	attacks := []attack{
		{"proxy without a token", false, proxy(""), false},
		{"proxy without a token, JSON log", false, proxy(""), true},
		{"proxy with a forged token", false, proxy("Bearer " + identity.NewTokenValue()), false},
		{"proxy with a long forged Authorization header", false, proxy("Bearer " + strings.Repeat("x", 6<<10)), false},
		{"external-function without a token", false, func(t *testing.T, ts *testServer, i int) {
			_, dec := hugeName()
			b, err := json.Marshal(map[string]any{"connection_name": dec, "method": "GET", "path": "/items"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(ts.URL+"/api/2.0/external-function", "application/json", bytes.NewReader(b))
			if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
				// Refused on its headers: the server answered 401 and closed the
				// connection without reading the body this client was still writing.
				return
			}
			if err != nil {
				t.Fatalf("request %d: %.300v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("request %d = %d %.200s, want 401", i, resp.StatusCode, body)
			}
		}, false},
		// The egress proxy refuses a destination longer than a host name (400, before
		// any record); what it records of a 407 is bounded all the same.
		{"egress CONNECT without Proxy-Authorization", true, func(t *testing.T, ts *testServer, i int) {
			c, err := net.DialTimeout("tcp", egressAddrOf(t, ts), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\nUser-Agent: %s\r\nProxy-Authorization: Basic %s\r\n\r\n",
				strings.Repeat("u", 20<<10), strings.Repeat("A", 36<<10))
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusProxyAuthRequired {
				t.Fatalf("request %d = %d, want 407", i, resp.StatusCode)
			}
		}, false},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			var args []string
			if a.egress {
				args = []string{"--egress-listen", "127.0.0.1:0"}
			}
			dir := t.TempDir()
			env := map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": identity.NewTokenValue()}
			if a.json {
				env["GATEHOUSE_LOG_FORMAT"] = "json"
			}
			// A first run creates the store; its size after a clean stop is the baseline.
			ts := startServer(t, dir, env, args...)
			ts.Stop()
			before := storeBytes(t, dir)

			ts = startServer(t, dir, env, args...)
			logBefore := len(ts.Stderr.String())
			for i := range requests {
				a.send(t, ts, i)
			}
			ts.Stop() // the recorder's Close stores every event and summary
			grown := storeBytes(t, dir) - before
			if grown >= 1<<20 {
				t.Errorf("%d requests with 56 KB names grew the store by %d bytes, want under 1 MB", requests, grown)
			}

			logs := ts.Stderr.String()[logBefore:]
			t.Logf("%d requests grew the store by %d bytes and the log by %d bytes", requests, grown, len(logs))
			if len(logs) > requests*4096 {
				t.Errorf("the log grew by %d bytes for %d requests, want at most %d", len(logs), requests, requests*4096)
			}
			long, forged := 0, 0
			for _, line := range strings.Split(logs, "\n") {
				if len(line) > 4096 {
					long++
				}
				if strings.Contains(line, "\x1b") || strings.HasPrefix(line, "level=ERROR msg=forged") || (a.json && line != "" && !json.Valid([]byte(line))) {
					forged++
				}
			}
			if long > 0 || forged > 0 {
				t.Errorf("%d log lines longer than 4096 bytes, %d with a raw escape or forged", long, forged)
			}

			all := verifiedAudit(t, dir)
			maxLen := bound.MaxLen(bound.Limit)
			for _, e := range all {
				fields := []string{e.EventID, e.ActionName, e.Principal, e.SourceIP, e.RequestID, e.Connection, e.ErrorCode, e.Decision}
				for k, v := range e.Params {
					fields = append(fields, k, v)
				}
				for _, f := range fields {
					if len(f) > maxLen || !utf8.ValidString(f) || rawControl(f) {
						t.Errorf("stored %s event holds %d bytes %.80q: not bounded and escaped", e.ActionName, len(f), f)
					}
				}
				if len(e.Params) > audit.MaxParams+1 {
					t.Errorf("stored %s event has %d params", e.ActionName, len(e.Params))
				}
			}
			single, suppressed, _ := unauthTally(t, all, "127.0.0.1")
			if single+suppressed != requests {
				t.Errorf("%d events written + %d in summaries = %d, want exactly %d requests", single, suppressed, single+suppressed, requests)
			}
			// The proxy path names its connection before authentication, so its record
			// does (bounded); external-function may refuse before reading the body.
			if strings.HasPrefix(a.name, "proxy") {
				_, dec := hugeName()
				want := bound.String(dec)
				found := false
				for _, e := range all {
					found = found || e.Connection == want
				}
				if !found {
					t.Errorf("no event names the connection as %.60q…, bounded with its length", want)
				}
			}
		})
	}
}

// TestHeaderBoundRefusesBeforeAnyRecord: 40 requests without a token whose URLs carry
// 100 KB connection names are refused (431) at the listener's 64 KiB header bound, before
// any handler runs, so they grow the store by less than 1 MB and write no audit event.
func TestHeaderBoundRefusesBeforeAnyRecord(t *testing.T) {
	const requests = 40
	dir := t.TempDir()
	env := map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": identity.NewTokenValue()}
	ts := startServer(t, dir, env)
	ts.Stop()
	before := storeBytes(t, dir)
	eventsBefore := len(storedAudit(t, dir))
	ts = startServer(t, dir, env)
	name := strings.Repeat("a", 100<<10)
	for i := range requests {
		resp, err := http.Get(ts.URL + "/api/2.0/unity-catalog/connections/" + name + "/proxy/items")
		if err != nil {
			t.Fatalf("request %d: %.300v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("request %d = %d, want 431", i, resp.StatusCode)
		}
	}
	ts.Stop()
	if grown := storeBytes(t, dir) - before; grown >= 1<<20 {
		t.Errorf("%d requests with 100 KB names grew the store by %d bytes, want under 1 MB", requests, grown)
	}
	for _, e := range storedAudit(t, dir)[eventsBefore:] {
		if e.Principal != "" {
			continue // the harness's own setup (its network policy)
		}
		t.Errorf("audit event %s %s %d written for a request refused at the header bound, want none", e.ActionName, e.Principal, e.StatusCode)
	}
}

// TestUnauthenticatedBurstAggregated: 100 requests without a token from one source in
// a burst leave at most the burst plus what the rate allowed in the elapsed time as
// events of their own, and summaries whose counts make the total exactly 100.
func TestUnauthenticatedBurstAggregated(t *testing.T) {
	const requests, rate, burst = 100, 10.0, 20
	dir := t.TempDir()
	ts := startServer(t, dir, map[string]string{"GATEHOUSE_AUDIT_UNAUTHENTICATED_RATE": "10"})
	start := time.Now()
	for i := range requests {
		status, _ := ts.do("GET", "/api/2.0/unity-catalog/connections/echo/proxy/x", "", nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("request %d = %d, want 401", i, status)
		}
	}
	elapsed := time.Since(start)
	ts.Stop()
	single, suppressed, summaries := unauthTally(t, storedAudit(t, dir), "127.0.0.1")
	allowed := burst + int(math.Ceil(rate*elapsed.Seconds())) + 1
	t.Logf("%d requests in %v: %d written, %d counted in %d summaries", requests, elapsed, single, suppressed, summaries)
	if single > allowed {
		t.Errorf("%d events written one by one, want at most %d (burst %d + rate %v/s over %v)", single, allowed, burst, rate, elapsed)
	}
	if single+suppressed != requests {
		t.Errorf("%d written + %d in summaries = %d, want exactly %d", single, suppressed, single+suppressed, requests)
	}
	if suppressed > 0 && (summaries < 1 || summaries > 2) {
		t.Errorf("%d summaries, want one (two if the burst crossed a window)", summaries)
	}
}

// TestAuditUnauthenticatedRateConfig: the flag and its variable set the rate; anything
// but a positive number is refused with the flag's name.
func TestAuditUnauthenticatedRateConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    float64
		wantErr bool
	}{
		{"default", nil, "", audit.DefaultUnauthenticatedRate, false},
		{"variable", nil, "2.5", 2.5, false},
		{"flag wins", []string{"--audit-unauthenticated-rate", "50"}, "2", 50, false},
		{"zero", nil, "0", 0, true},
		{"negative", []string{"--audit-unauthenticated-rate", "-1"}, "", 0, true},
		{"not a number", nil, "fast", 0, true},
		{"infinite", nil, "+Inf", 0, true},
		{"nan", nil, "NaN", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := serverCommand(&env{getenv: func(string) string { return "" }})
			fs := cmd.Flags()
			if err := fs.Parse(tt.args); err != nil {
				if tt.wantErr {
					return
				}
				t.Fatal(err)
			}
			cfg, err := loadServerConfig(fs, func(k string) string {
				if k == "GATEHOUSE_AUDIT_UNAUTHENTICATED_RATE" {
					return tt.env
				}
				return ""
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "audit-unauthenticated-rate") {
					t.Errorf("loadServerConfig = %v, want an error naming audit-unauthenticated-rate", err)
				}
				return
			}
			if err != nil || cfg.AuditUnauthRate != tt.want {
				t.Errorf("rate = %v, %v; want %v", cfg, err, tt.want)
			}
		})
	}
}
