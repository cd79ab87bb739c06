package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// FuzzDecodeRequests feeds arbitrary bodies to the decoder of every request type: it
// must never panic, every failure must be a 400 (or a 413 past the limit), and the
// message must never quote the input (bodies carry secrets).
func FuzzDecodeRequests(f *testing.F) {
	f.Add(`{"name":"github","connection_type":"HTTP","options":{"host":"https://api.github.com","bearer_token":"SECRETVALUE"}}`)
	f.Add(`{"options":{"bearer_token":"SECRETVALUE"},"new_name":"x","enabled":false}`)
	f.Add(`{"changes":[{"principal":"alice","add":["USE_CONNECTION"]}]}`)
	f.Add(`{"lifetime_seconds":3600,"comment":"SECRETVALUE"}`)
	f.Add(`{"schemas":[],"Operations":[{"op":"add","path":"members","value":[{"value":"x"}]}]}`)
	f.Add(`{"name":"SECRETVALUE"`)
	f.Add(`{"options":{"port":SECRETVALUE}}`)
	f.Add("\x00\xff{")
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&CreateConnectionRequest{}, &UpdateConnectionRequest{}, &UpdatePermissions{}, &CreateTokenRequest{}, &CreateOBOTokenRequest{}, &SCIMPatch{}, &SCIMUser{}, &SCIMGroup{}} {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Body = http.MaxBytesReader(rec, r.Body, 512)
			err := decodeJSON(r.Body, v)
			if err == nil {
				continue
			}
			var mbe *http.MaxBytesError
			if ce, ok := err.(*catalog.Error); ok {
				if ce.Code != catalog.InvalidParameterValue {
					t.Fatalf("decode error code %s, want INVALID_PARAMETER_VALUE", ce.Code)
				}
				if bytes.Contains([]byte(ce.Message), []byte("SECRETVALUE")) {
					t.Fatalf("decode error %q quotes the input", ce.Message)
				}
			} else if !asMaxBytes(err, &mbe) {
				t.Fatalf("decode error %T %v is not a user error", err, err)
			}
		}
	})
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	e, ok := err.(*http.MaxBytesError)
	if ok {
		*target = e
	}
	return ok
}

func TestParseSCIMFilter(t *testing.T) {
	tests := []struct {
		in      string
		attr    string
		value   string
		wantErr bool
	}{
		{`userName eq "alice@example.com"`, "username", "alice@example.com", false},
		{`displayName  EQ "team \"a\""`, "displayname", `team "a"`, false},
		{`applicationId eq "bot"`, "applicationid", "bot", false},
		{``, "", "", false},
		{`userName sw "a"`, "", "", true},
		{`userName eq alice`, "", "", true},
		{`password eq "x"`, "", "", true},
		{`userName eq "a" or userName eq "b"`, "", "", true},
	}
	for _, tc := range tests {
		f, err := parseSCIMFilter(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseSCIMFilter(%q) accepted, want an error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseSCIMFilter(%q) = %v", tc.in, err)
			continue
		}
		if f == nil {
			if tc.attr != "" {
				t.Errorf("parseSCIMFilter(%q) = nil", tc.in)
			}
			continue
		}
		if f.attr != tc.attr || f.value != tc.value {
			t.Errorf("parseSCIMFilter(%q) = %+v, want %s %q", tc.in, f, tc.attr, tc.value)
		}
	}
}

// FuzzParseSCIMFilter: never panics; what it accepts names a supported attribute.
func FuzzParseSCIMFilter(f *testing.F) {
	f.Add(`userName eq "alice"`)
	f.Add(`displayName eq "a\"b"`)
	f.Add(`x`)
	f.Add(`members[value eq "id"]`)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseSCIMFilter(s)
		if err != nil || flt == nil {
			return
		}
		switch flt.attr {
		case "id", "username", "displayname", "applicationid", "externalid":
		default:
			t.Fatalf("accepted unsupported attribute %q", flt.attr)
		}
		_, _ = parseMemberValueFilter(s)
	})
}
