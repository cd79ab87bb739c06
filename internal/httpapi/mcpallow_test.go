package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// setAllowList stores allow as the mcp_allowed_tools of "limited", past the API's
// validation (the store announces the change, as an update through the API does).
func (w *gateWorld) setAllowList(tb testing.TB, allow string) {
	tb.Helper()
	conn, err := w.st.GetConnection(tb.Context(), "limited")
	if err != nil {
		tb.Fatal(err)
	}
	conn.Options = maps.Clone(conn.Options)
	conn.Options[catalog.OptMCPAllowedTools] = allow
	if err := w.st.UpdateConnection(tb.Context(), conn); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkMCPToolCallInspection is the MCP proxy's own work on one tools/call, without
// the upstream: the caller authenticated, the connection (cached) and its
// mcp_allowed_tools, the body read, parsed and judged, and the call (of a tool off the
// allow-list) answered -32003 and recorded. The allow-list is the world's (5 entries)
// or a long one (60 names and prefixes).
func BenchmarkMCPToolCallInspection(b *testing.B) {
	w := newGateWorld(b)
	long := []string{"echo"}
	for i := range 59 {
		if i%2 == 0 {
			long = append(long, fmt.Sprintf("tool_%02d", i))
		} else {
			long = append(long, fmt.Sprintf("ns%02d_*", i))
		}
	}
	for _, bc := range []struct {
		name, allow string
	}{
		{"5 entries", "echo,changed,failing,broken,silent"},
		{"60 entries", strings.Join(long, ",")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w.setAllowList(b, bc.allow)
			body := toolCall(1, "delete")
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/2.0/mcp/external/limited", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+w.alice)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				rec := httptest.NewRecorder()
				w.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "-32003") {
					b.Fatalf("tools/call of delete on limited = %d %s, want a -32003 refusal", rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestMCPAllowListFollowsUpdates: the allow-list is parsed once per connection version
// (connEntry), and every change of mcp_allowed_tools decides the very next call: a tool
// added is forwarded, removed again is refused, and a stored list that does not parse
// (written past validation) refuses every call (an internal error, as before the
// cache) rather than allowing every tool.
func TestMCPAllowListFollowsUpdates(t *testing.T) {
	w := newGateWorld(t)
	for _, tc := range []struct {
		name, allow string
		forwarded   bool
		status      int // of a refusal: 200 with -32003, or 500
	}{
		{"not on the list", "echo,changed,failing,broken,silent", false, http.StatusOK},
		{"added", "echo,del*", true, 0},
		{"called again, from the cache", "", true, 0},
		{"removed", "echo", false, http.StatusOK},
		{"unset: every tool", " ", true, 0},
		{"stored list that does not parse", "echo,,delete", false, http.StatusInternalServerError},
		{"fixed", "delete", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.allow != "" {
				w.setAllowList(t, tc.allow)
			}
			before := len(w.up.received())
			resp, body := w.post(t, "limited", toolCall(1, "delete"), nil)
			forwarded := len(w.up.received()) > before
			if forwarded != tc.forwarded {
				t.Fatalf("forwarded = %v, want %v (status %d: %s)", forwarded, tc.forwarded, resp.StatusCode, body)
			}
			if !forwarded && (resp.StatusCode != tc.status || (tc.status == http.StatusOK) != strings.Contains(body, "-32003")) {
				t.Errorf("refusal = %d %s, want %d (-32003 with 200)", resp.StatusCode, body, tc.status)
			}
		})
	}
}
