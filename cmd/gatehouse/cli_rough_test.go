package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIRoughAuditNewestFirst: against a real server, "audit list" shows the newest
// events first, so a --limit keeps the latest; --oldest-first turns it around.
func TestCLIRoughAuditNewestFirst(t *testing.T) {
	ts := startServer(t, "", nil)
	for _, name := range []string{"first@example.com", "second@example.com", "third@example.com"} {
		ts.mkUser(name)
	}
	asc := ts.waitAudit("action=tokenCreate", 3)
	if len(asc.Events) < 3 {
		t.Fatalf("tokenCreate events = %d, want 3", len(asc.Events))
	}
	oldest, newest := asc.Events[0], asc.Events[len(asc.Events)-1]
	tests := []struct {
		name string
		args []string
		want []string // event ids, in order
	}{
		{"newest first by default", []string{"--limit", "2"}, []string{newest.EventID, asc.Events[len(asc.Events)-2].EventID}},
		{"oldest first on request", []string{"--limit", "1", "--oldest-first"}, []string{oldest.EventID}},
		{"all of them newest first", []string{"--limit", "0"}, func() []string {
			var ids []string
			for i := len(asc.Events) - 1; i >= 0; i-- {
				ids = append(ids, asc.Events[i].EventID)
			}
			return ids
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ts.cli(ts.Admin, "", append([]string{"audit", "list", "--action", "tokenCreate", "-o", "json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("audit list: %v\n%s", err, out)
			}
			var got auditList
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			var ids []string
			for _, e := range got.Events {
				ids = append(ids, e.EventID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("event ids %v, want %v", ids, tt.want)
			}
		})
	}
	// The table's first row is the newest event.
	out, err := ts.cli(ts.Admin, "", "audit", "list", "--action", "tokenCreate")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], newest.RequestID) {
		t.Errorf("first row of\n%s\nis not the newest event (request id %s)", out, newest.RequestID)
	}
}
