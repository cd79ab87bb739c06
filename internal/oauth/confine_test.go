package oauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestDiscoverConfinesEndpoints is the permanent table of metadata endpoints that
// point away from the configured endpoint: each is blanked, listed in Ignored and
// logged; endpoints on the configured origin are kept.
func TestDiscoverConfinesEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string // the metadata field set to url
		url   string // "{host}" is the server's host:port, "{port}" its port
		kept  bool
	}{
		{"same origin", "revocation_endpoint", "https://{host}/revoke", true},
		{"same origin, other path", "revocation_endpoint", "https://{host}/a/b/revoke?x=1", true},
		{"same origin, upper-case scheme", "revocation_endpoint", "HTTPS://{host}/revoke", true},
		{"another port", "revocation_endpoint", "https://127.0.0.1:1/revoke", false},
		{"another name for the same address", "revocation_endpoint", "https://localhost:{port}/revoke", false},
		{"another host", "revocation_endpoint", "https://attacker.example/revoke", false},
		{"default port instead of the configured one", "revocation_endpoint", "https://127.0.0.1/revoke", false},
		{"http on the same host and port", "revocation_endpoint", "http://{host}/revoke", false},
		{"user information", "revocation_endpoint", "https://user:pw@{host}/revoke", false},
		{"relative URL", "revocation_endpoint", "/revoke", false},
		{"not a URL", "revocation_endpoint", "https://[::1/revoke", false},
		{"token endpoint on another host", "token_endpoint", "https://attacker.example/token", false},
		{"introspection endpoint on another port", "introspection_endpoint", "https://127.0.0.1:1/introspect", false},
		{"authorization endpoint on another host", "authorization_endpoint", "https://attacker.example/authorize", false},
		{"a very long URL on another host", "revocation_endpoint", "https://attacker.example/" + strings.Repeat("a", 5000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/oauth-authorization-server" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(doc))
			}))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "https://")
			_, port, _ := net.SplitHostPort(host)
			u := strings.NewReplacer("{host}", host, "{port}", port).Replace(tc.url)
			fields := map[string]string{
				"token_endpoint":         srv.URL + "/token",
				"authorization_endpoint": srv.URL + "/authorize",
			}
			fields[tc.field] = u
			doc = `{"issuer":"` + srv.URL + `"`
			for k, v := range fields {
				doc += `,"` + k + `":"` + v + `"`
			}
			doc += "}"
			var logs bytes.Buffer
			c := oauth.NewClient(oauth.ClientOptions{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
				Now: func() time.Time { return t0 }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			t.Cleanup(c.CloseIdleConnections)
			md, err := c.Discover(context.Background(), srv.URL+"/token")
			if err != nil || md == nil {
				t.Fatalf("Discover = %v, %v", md, err)
			}
			got := map[string]string{"token_endpoint": md.TokenEndpoint, "authorization_endpoint": md.AuthorizationEndpoint,
				"revocation_endpoint": md.RevocationEndpoint, "introspection_endpoint": md.IntrospectionEndpoint}[tc.field]
			if tc.kept {
				if got != u || len(md.Ignored) != 0 {
					t.Fatalf("%s = %q (ignored %+v), want %q kept", tc.field, got, md.Ignored, u)
				}
				if logs.Len() != 0 {
					t.Errorf("a kept endpoint was logged: %s", logs.String())
				}
				return
			}
			if got != "" {
				t.Fatalf("%s = %q, want it blanked", tc.field, got)
			}
			if len(md.Ignored) != 1 || md.Ignored[0].Field != tc.field || md.Ignored[0].Origin != "https://"+host {
				t.Fatalf("Ignored = %+v, want %s off https://%s", md.Ignored, tc.field, host)
			}
			if len(md.Ignored[0].URL) > 250 || logs.Len() > 1000 {
				t.Errorf("the ignored URL is shown unbounded: %d bytes, log %d bytes", len(md.Ignored[0].URL), logs.Len())
			}
			if !strings.Contains(logs.String(), "field="+tc.field) || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log = %q, want a warning naming %s", logs.String(), tc.field)
			}
		})
	}
}

// TestCheckNamesIgnoredEndpoints: the provider check says which metadata endpoint it
// ignored and why; a compliant server gets no such line.
func TestCheckNamesIgnoredEndpoints(t *testing.T) {
	var foreign bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			w.Header().Set("Content-Type", "application/json")
			rev := "https://" + r.Host + "/revoke"
			if foreign {
				rev = "https://attacker.example:8443/revoke"
			}
			_, _ = w.Write([]byte(`{"issuer":"https://` + r.Host + `","token_endpoint":"https://` + r.Host + `/token","revocation_endpoint":"` + rev + `"}`))
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	for _, foreign = range []bool{false, true} {
		c := oauth.NewClient(oauth.ClientOptions{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, Now: func() time.Time { return t0 }})
		checks := c.CheckProvider(context.Background(), cfgFor(srv), "https://gh.example/cb", false)
		c.CloseIdleConnections()
		var line *oauth.Check
		for i := range checks {
			if checks[i].Name == oauth.CheckMetadataEndpoints {
				line = &checks[i]
			}
		}
		switch {
		case !foreign && line != nil:
			t.Errorf("same-host metadata got %+v", *line)
		case foreign && line == nil:
			t.Errorf("no %q check for a foreign revocation endpoint: %+v", oauth.CheckMetadataEndpoints, checks)
		case foreign && (line.Result != oauth.ResultFail || !strings.Contains(line.Evidence, "revocation_endpoint https://attacker.example:8443/revoke") ||
			!strings.Contains(line.Evidence, "is not on "+srv.URL) || line.Fix == ""):
			t.Errorf("check = %+v, want a fail naming the endpoint and the origin", *line)
		}
	}
}
