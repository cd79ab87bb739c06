package webui

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The CSRF token derived from a session id has the shape of a secret, is the same on
// every replica (a function of the id alone), differs between sessions, and is neither
// the id nor the store key.
func TestCSRFOfSession(t *testing.T) {
	a, b := newSecret(), newSecret()
	ta := csrfOf(a)
	key := keyOf(a)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"shape of a secret", validSecret(ta)},
		{"same for the same id", csrfOf(a) == ta},
		{"differs between sessions", csrfOf(b) != ta},
		{"not the id", ta != a && !strings.Contains(a, ta)},
		{"not the store key", ta != base64.RawURLEncoding.EncodeToString(key[:])},
	} {
		if !tc.ok {
			t.Errorf("%s: fails for id %q → %q", tc.name, a, ta)
		}
	}
}
