package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPAuthGrantStore (issue 12): an MCP client's refresh family lives in a store of
// its own. Another user creating codes well past his bound meets his own bound (the codes past it go
// back to the client as temporarily_unavailable) and ends nothing of Alice's: her
// refresh still rotates. Revocation (RFC 7009) by another client changes nothing; by
// hers it ends the family on the next refresh and its access token at once. A
// deactivated user's refresh is refused.
func TestMCPAuthGrantStore(t *testing.T) {
	const canary = "CANARY-mcpgrants-upstream"
	srv := newMCPServer()
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	var clientID string
	up := newUpstream(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/client.json" {
			rw.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(rw).Encode(map[string]any{"client_id": clientID, "client_name": "Spec Client",
				"redirect_uris": []string{"http://127.0.0.1/callback"}})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+canary {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		sdk.ServeHTTP(rw, r)
	})
	clientID = up.URL + "/client.json"
	client := mcpOAuthClient{id: clientID, redirect: "http://127.0.0.1:9/callback", verifier: "verifier-" + strings.Repeat("g", 50), state: "st"}
	ts := startServer(t, "", nil, "--upstream-ca-file", up.caFile)
	_, alice := ts.mkUser("alice@example.com")
	bobID, bob := ts.mkUser("bob@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "tools", "options": map[string]string{
		"host": up.URL, "base_path": "/mcp", "bearer_token": canary, "is_mcp_connection": "true"}}, nil)
	ts.grant("connection", "tools", "alice@example.com", "USE_CONNECTION")
	ts.grant("connection", "tools", "bob@example.com", "USE_CONNECTION")
	resource := ts.URL + "/api/2.0/mcp/external/tools"

	var md struct {
		Authorize  string `json:"authorization_endpoint"`
		Token      string `json:"token_endpoint"`
		Revocation string `json:"revocation_endpoint"`
	}
	ts.must("GET", "/.well-known/oauth-authorization-server", "", nil, &md)
	if md.Revocation != ts.URL+"/oidc/v1/revoke" {
		t.Fatalf("revocation_endpoint %q", md.Revocation)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {client.id}, "redirect_uri": {client.redirect}, "state": {client.state},
		"code_challenge": {client.challenge()}, "code_challenge_method": {"S256"}, "resource": {resource}}

	// approver signs a browser in with the user's token and returns a function that
	// consents once and returns where the browser is sent back to.
	approver := func(token string) func() (*url.URL, error) {
		b := newBrowser(nil)
		b.signIn(t, ts.URL, token)
		_, page := b.get(t, md.Authorize+"?"+q.Encode())
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no csrf on the consent page:\n%s", page)
		}
		form := url.Values{"csrf": {m[1] + m[2]}, "decision": {"allow"}}
		for k, v := range q {
			form[k] = v
		}
		return func() (*url.URL, error) {
			resp, err := b.c.PostForm(md.Authorize, form)
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			return url.Parse(resp.Header.Get("Location"))
		}
	}
	post := func(endpoint string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		code, body := send(t, req)
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		return code, out
	}
	signIn := func(approve func() (*url.URL, error)) (access, refresh string) {
		t.Helper()
		back, err := approve()
		if err != nil || back.Query().Get("code") == "" {
			t.Fatalf("approve: %v %v", back, err)
		}
		code, tok := post(md.Token, url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "client_id": {client.id},
			"redirect_uri": {client.redirect}, "code_verifier": {client.verifier}})
		if code != http.StatusOK {
			t.Fatalf("code exchange: %d %v", code, tok)
		}
		return tok["access_token"].(string), tok["refresh_token"].(string)
	}
	refresh := func(rt string) (int, map[string]any) {
		t.Helper()
		return post(md.Token, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client.id}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	calls := func(tokenValue string) bool {
		c := mcp.NewClient(&mcp.Implementation{Name: "spec-client", Version: "1.0.0"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{token: tokenValue, base: &http.Transport{}}}}, nil)
		if err != nil {
			return false
		}
		defer cs.Close()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
		return err == nil && callText(t, res) == "echo:hi"
	}

	access, rt := signIn(approver(alice))
	bobApprove := approver(bob)
	_, bobRT := signIn(bobApprove)

	// Bob creates codes well past his bound; with the one he exchanged he holds his
	// bound, and the rest go back to the client refused.
	const flood = catalog.MaxOAuthCodesPerPrincipal + 176
	floodStart := time.Now()
	var issued, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range flood / 4 {
				back, err := bobApprove()
				switch {
				case err != nil:
					t.Errorf("worker %d: %v", w, err)
					return
				case back.Query().Get("code") != "":
					issued.Add(1)
				case back.Query().Get("error") == "temporarily_unavailable" && back.Query().Get("state") == client.state:
					refused.Add(1)
				default:
					t.Errorf("worker %d: consent answered %v", w, back)
					return
				}
			}
		})
	}
	wg.Wait()
	switch took := time.Since(floodStart); {
	case refused.Load() != flood-issued.Load():
		t.Errorf("bob's flood: %d codes issued, %d refused of %d", issued.Load(), refused.Load(), flood)
	case took < authserver.CodeTTL && issued.Load()+1 != catalog.MaxOAuthCodesPerPrincipal:
		t.Errorf("bob's flood: %d codes issued, %d refused; want %d issued (his bound, with the code he exchanged)", issued.Load(), refused.Load(), catalog.MaxOAuthCodesPerPrincipal-1)
	case took >= authserver.CodeTTL && (issued.Load()+1 < catalog.MaxOAuthCodesPerPrincipal || refused.Load() == 0):
		// Slower than a code's lifetime (a loaded -race run): the first codes expired and
		// freed room, so the exact count no longer holds, but the bound still must.
		t.Errorf("bob's flood (%v, past the code lifetime): %d issued, %d refused; want at least his bound issued and some refused", took, issued.Load(), refused.Load())
	}

	// Alice's family survived: her refresh rotates and the new token calls.
	code, tok := refresh(rt)
	if code != http.StatusOK {
		t.Fatalf("alice's refresh after bob's flood: %d %v", code, tok)
	}
	access2, rt2 := tok["access_token"].(string), tok["refresh_token"].(string)
	if !calls(access2) {
		t.Fatal("the refreshed token does not call")
	}
	if calls(access) {
		t.Error("the access token replaced by the refresh still calls")
	}

	// Revocation by another client: 200, and nothing changes.
	if code, out := post(md.Revocation, url.Values{"token": {rt2}, "client_id": {up.URL + "/other.json"}}); code != http.StatusOK {
		t.Fatalf("revocation by another client: %d %v", code, out)
	}
	if !calls(access2) {
		t.Fatal("revocation by another client ended the family's access token")
	}
	// By her client: the access token stops at once, the next refresh is refused.
	if code, out := post(md.Revocation, url.Values{"token": {rt2}, "token_type_hint": {"refresh_token"}, "client_id": {client.id}}); code != http.StatusOK {
		t.Fatalf("revocation: %d %v", code, out)
	}
	if calls(access2) {
		t.Error("the access token of a revoked family still calls")
	}
	if code, out := refresh(rt2); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %v", code, out)
	}
	l := ts.waitAudit("action=tokenDelete&principal=alice@example.com", 1)
	found := false
	for _, e := range l.Events {
		found = found || (e.RequestParams["revoked"] == "refresh_token" && e.RequestParams["client_id"] == client.id && e.RequestParams["endpoint"] == "/oidc/v1/revoke")
	}
	if !found {
		t.Errorf("no tokenDelete record of the revocation: %+v", l.Events)
	}

	// Bob deactivated: his refresh is refused.
	ts.must("PATCH", "/api/2.0/preview/scim/v2/Users/"+bobID, ts.Admin, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, nil)
	if code, out := refresh(bobRT); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("refresh of a deactivated user: %d %v", code, out)
	}
}
