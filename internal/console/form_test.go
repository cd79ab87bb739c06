package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormRefusalConnection: a form refused before its body was read to the end (no
// session; a form over maxFormBytes) ends its HTTP/1.1 connection instead of waiting for
// the rest (Connection: close), but not an HTTP/2 one, where Connection: close would
// have net/http send GOAWAY for a connection a balancer shares (issue 10).
func TestFormRefusalConnection(t *testing.T) {
	addRoutesForTest(t, route{"POST /test-form-refusal", func(c *Console, w http.ResponseWriter, r *http.Request, v *viewer) {
		w.WriteHeader(http.StatusNoContent)
	}})
	w := newWorld(t)
	small := url.Values{"csrf": {csrfOf("mike")}}.Encode()
	large := small + "&pad=" + strings.Repeat("a", maxFormBytes)
	for _, tc := range []struct {
		name       string
		who        string
		body       string
		protoMajor int
		status     int
		wantClose  bool
	}{
		{"signed out over HTTP/1.1", "", small, 1, http.StatusSeeOther, true},
		{"signed out over HTTP/2", "", small, 2, http.StatusSeeOther, false},
		{"form too large over HTTP/1.1", "mike", large, 1, http.StatusBadRequest, true},
		{"form too large over HTTP/2", "mike", large, 2, http.StatusBadRequest, false},
		{"form read over HTTP/1.1", "mike", small, 1, http.StatusNoContent, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("POST", "/test-form-refusal", strings.NewReader(tc.body), true, tc.who)
			if tc.protoMajor == 2 {
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
			}
			rec := serve(w.c, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Connection") == "close"; got != tc.wantClose {
				t.Errorf("Connection: close = %v, want %v", got, tc.wantClose)
			}
		})
	}
}
