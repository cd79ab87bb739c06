package audit_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestRecordBoundsEveryString: whatever a request put into an event — a 1 MB connection
// name, control characters in a path, a multi-byte character at the cut — the stored
// event holds it truncated to 256 bytes plus the original length, escaped, valid UTF-8,
// and the chain verifies, from the store and from the API's JSON view.
func TestRecordBoundsEveryString(t *testing.T) {
	mb := strings.Repeat("n", 1<<20)
	a256 := strings.Repeat("a", 256)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ascii", "github", "github"},
		{"exactly 256", a256, a256},
		{"257", a256 + "z", a256 + "…[truncated, 257 bytes]"},
		{"multi-byte at the cut", strings.Repeat("a", 254) + "日", strings.Repeat("a", 254) + "…[truncated, 257 bytes]"},
		{"control characters", "a\nb\r\x1b[2J\x00\x7f\u0085", `a\nb\r\x1b[2J\x00\x7f\u0085`},
		{"invalid utf-8", "al\xffice", `al\xffice`},
		{"1 MB", mb, strings.Repeat("n", 256) + "…[truncated, 1048576 bytes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			r := newRecorder(t, db, nil, audit.Options{})
			e := &catalog.AuditEvent{
				EventID: tt.in, ActionName: tt.in, Principal: tt.in, SourceIP: tt.in, RequestID: tt.in,
				Connection: tt.in, ErrorCode: tt.in, Decision: tt.in, StatusCode: 401,
				Params: map[string]string{"path": tt.in, tt.in: "key"},
			}
			r.Record(t.Context(), e)
			flush(t, r)
			all := wantIntact(t, db, 1)
			if len(all) != 1 {
				return
			}
			got := all[0]
			for field, v := range map[string]string{"event_id": got.EventID, "action_name": got.ActionName, "principal": got.Principal,
				"source_ip": got.SourceIP, "request_id": got.RequestID, "connection": got.Connection, "error_code": got.ErrorCode,
				"decision": got.Decision, "params[path]": got.Params["path"]} {
				if v != tt.want {
					t.Errorf("stored %s = %.60q (%d bytes), want %.60q (%d bytes)", field, v, len(v), tt.want, len(tt.want))
				}
				if !utf8.ValidString(v) || len(v) > bound.MaxLen(bound.Limit) {
					t.Errorf("stored %s is not valid UTF-8 within %d bytes", field, bound.MaxLen(bound.Limit))
				}
			}
			if v, ok := got.Params[tt.want]; !ok || v != "key" || len(got.Params) != 2 {
				t.Errorf("stored params %.200q; want the key bounded to %.60q", got.Params, tt.want)
			}
			// The API's view after a JSON round trip verifies too.
			b, err := json.Marshal(links(all))
			if err != nil {
				t.Fatal(err)
			}
			var viewed []audit.Link
			if err := json.Unmarshal(b, &viewed); err != nil {
				t.Fatal(err)
			}
			if n, err := audit.Verify(viewed); err != nil || n != 1 {
				t.Errorf("Verify of the JSON view = %d, %v; want 1, nil", n, err)
			}
		})
	}
}

// TestRecordBoundsParams: an event with more than MaxParams params keeps the first
// MaxParams in key order and counts the others in params_omitted; keys that become the
// same once bounded are counted too rather than silently merged.
func TestRecordBoundsParams(t *testing.T) {
	long := strings.Repeat("k", 300)
	tests := []struct {
		name        string
		params      map[string]string
		wantLen     int
		wantOmitted string
	}{
		{"few", map[string]string{"method": "GET", "path": "/x"}, 2, ""},
		{"exactly the bound", numbered(audit.MaxParams), audit.MaxParams, ""},
		{"one more", numbered(audit.MaxParams + 1), audit.MaxParams + 1, "1"},
		{"ten thousand", numbered(10000), audit.MaxParams + 1, fmt.Sprint(10000 - audit.MaxParams)},
		{"keys alike once bounded", map[string]string{long + "1": "a", long + "2": "b"}, 2, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			r := newRecorder(t, db, nil, audit.Options{})
			e := event(1)
			e.Params = tt.params
			r.Record(t.Context(), e)
			flush(t, r)
			all := wantIntact(t, db, 1)
			if len(all) != 1 {
				return
			}
			got := all[0].Params
			if len(got) != tt.wantLen || got["params_omitted"] != tt.wantOmitted {
				t.Errorf("stored %d params, params_omitted = %q; want %d, %q", len(got), got["params_omitted"], tt.wantLen, tt.wantOmitted)
			}
			if tt.name == "ten thousand" {
				// The first MaxParams in key order are the ones kept.
				if _, ok := got["p00000"]; !ok {
					t.Errorf("kept params %v do not start at p00000", got)
				}
			}
		})
	}
}

func numbered(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("p%05d", i)] = "v"
	}
	return m
}
