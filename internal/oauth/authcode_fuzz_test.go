package oauth_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// FuzzAuthCodeURL: whatever the authorization endpoint's query and the scope, the
// standard parameters carry exactly Gatehouse's values, and prompt=consent is added
// exactly when the scope holds the tokens openid and offline_access and the endpoint
// sets no prompt.
func FuzzAuthCodeURL(f *testing.F) {
	f.Add("access_type=offline", "openid offline_access api.read")
	f.Add("prompt=login&state=x", "openid offline_access")
	f.Add("state=a&state=b&redirect_uri=https://evil.example", "offline_access")
	f.Add("%zz&prompt", "openid\toffline_access")
	f.Fuzz(func(t *testing.T, query, scope string) {
		cfg := oauth.Config{ClientID: "cid", AuthURL: "https://idp.example/authorize?" + query, Scope: scope}
		if _, err := url.Parse(cfg.AuthURL); err != nil {
			t.Skip("connection validation refuses an unparsable authorization_endpoint")
		}
		raw := oauth.AuthCodeURL(cfg, "st", "ch", "https://gh.example/login/oauth/http.html")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("unparsable URL %q: %v", raw, err)
		}
		q := u.Query()
		for k, v := range map[string]string{
			"response_type": "code", "client_id": "cid", "redirect_uri": "https://gh.example/login/oauth/http.html",
			"state": "st", "code_challenge": "ch", "code_challenge_method": "S256",
		} {
			if got := q[k]; len(got) != 1 || got[0] != v {
				t.Fatalf("%s = %q, want [%q] (URL %s)", k, got, v, raw)
			}
		}
		if u.Host != "idp.example" || u.Path != "/authorize" {
			t.Fatalf("URL moved: %s", raw)
		}
		orig, _ := url.ParseQuery(query)
		toks := strings.Split(scope, " ")
		offline := slices.Contains(toks, "openid") && slices.Contains(toks, "offline_access")
		switch {
		case orig.Has("prompt"):
			if !slices.Equal(q["prompt"], orig["prompt"]) {
				t.Fatalf("endpoint prompt %q became %q", orig["prompt"], q["prompt"])
			}
		case offline:
			if !slices.Equal(q["prompt"], []string{"consent"}) {
				t.Fatalf("prompt = %q, want consent (scope %q)", q["prompt"], scope)
			}
		default:
			if q.Has("prompt") {
				t.Fatalf("prompt %q added for scope %q", q["prompt"], scope)
			}
		}
	})
}
