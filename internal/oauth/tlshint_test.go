package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestUnknownAuthorityNamesTheFix: a token endpoint whose certificate no trusted CA
// signed is reported with the flag that trusts a private CA; other transport failures
// are not told about CAs.
func TestUnknownAuthorityNamesTheFix(t *testing.T) {
	const fix = "--upstream-ca-file"
	srv := httptest.NewTLSServer(answer(200, "application/json", `{"access_token":"a","token_type":"Bearer"}`))
	defer srv.Close()
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name    string
		url     string
		wantFix bool
	}{
		{"certificate from an unknown authority", srv.URL + "/token", true},
		{"connection refused", closedURL + "/token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := oauth.NewClient(oauth.ClientOptions{Now: func() time.Time { return t0 }, Timeout: 5 * time.Second}) // system roots only
			defer c.CloseIdleConnections()
			cfg := oauth.Config{ClientID: "client", ClientSecret: testSecret, TokenURL: tt.url}
			_, err := c.ClientCredentials(context.Background(), cfg)
			e := asError(t, err)
			if got := strings.Contains(err.Error(), fix); got != tt.wantFix {
				t.Fatalf("error %q names %s: %v, want %v", err, fix, got, tt.wantFix)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatal("the error shows the client secret")
			}
			if e.Class != oauth.ClassDegraded {
				t.Fatalf("class = %s, want %s", e.Class, oauth.ClassDegraded)
			}
		})
	}
}
