package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
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

// auditByRequest polls the audit log until an event of the action carries the request
// id, and returns it (or fails the test after 5 s).
func (ts *testServer) auditByRequest(t *testing.T, action, requestID string) (decision string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := auditList{}
		ts.must("GET", "/api/2.0/gatehouse/audit?order=desc&max_results=1000&action="+action, ts.Admin, nil, &l)
		for _, e := range l.Events {
			if e.RequestID == requestID {
				return e.Decision, e.Response.StatusCode
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s audit event with request id %q in %d events", action, requestID, len(l.Events))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCLIRoughNetworkDenialDecision: a call the network policy refuses is a DENY, in its
// useConnection event and its networkDenied event; a denial the policy only records
// (DRY_RUN) is DRY_RUN_DENY, and the call it let through an ALLOW. The networkDenied
// event carries the request id of the call, so "audit list" shows them together.
func TestCLIRoughNetworkDenialDecision(t *testing.T) {
	up := newUpstream(t, nil)
	local := newLocalhostUpstream(t)
	f, err := os.OpenFile(up.caFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(local.pem)
	f.Close()
	w := newProxyWorld(t, up)
	ts := w.ts
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "named", "options": map[string]string{
		"host": "https://localhost:" + local.port, "bearer_token": "t"}}, nil)
	ts.grant("connection", "named", "alice@example.com", "USE_CONNECTION")
	restrictedDryRun := map[string]any{"restriction_mode": "RESTRICTED_ACCESS", "enforcement_mode": "DRY_RUN", "allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"},
		"allowed_internet_destinations": []map[string]string{{"destination": "api.partner.test"}}}
	tests := []struct {
		name         string
		policy       map[string]any
		connection   string
		wantStatus   int
		wantCall     string // the useConnection decision
		wantNetwork  string // the networkDenied decision
		wantUpstream bool
	}{
		{"enforced denial is a DENY", noPrivate, "echo", http.StatusForbidden, "DENY", "DENY", false},
		{"dry-run denial is its own decision", restrictedDryRun, "named", http.StatusOK, "ALLOW", "DRY_RUN_DENY", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.setPolicy(tt.policy)
			before := up.hits.Load() + local.hits.Load()
			req, _ := http.NewRequest("GET", ts.URL+"/api/2.0/unity-catalog/connections/"+tt.connection+"/proxy/x", nil)
			req.Header.Set("Authorization", "Bearer "+w.alice)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			rid := resp.Header.Get("X-Gatehouse-Request-Id")
			if resp.StatusCode != tt.wantStatus || rid == "" {
				t.Fatalf("call = %d, request id %q; want %d and an id", resp.StatusCode, rid, tt.wantStatus)
			}
			if reached := up.hits.Load()+local.hits.Load() != before; reached != tt.wantUpstream {
				t.Errorf("upstream reached = %v, want %v", reached, tt.wantUpstream)
			}
			if d, status := ts.auditByRequest(t, "useConnection", rid); d != tt.wantCall || status != tt.wantStatus {
				t.Errorf("useConnection event = %s %d, want %s %d", d, status, tt.wantCall, tt.wantStatus)
			}
			if d, _ := ts.auditByRequest(t, "networkDenied", rid); d != tt.wantNetwork {
				t.Errorf("networkDenied event decision = %s, want %s", d, tt.wantNetwork)
			}
			// Through the CLI: the newest networkDenied row is this call's, with its decision.
			out, err := ts.cli(ts.Admin, "", "audit", "list", "--action", "networkDenied", "--limit", "1")
			if err != nil {
				t.Fatalf("audit list: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.Contains(lines[1], " "+tt.wantNetwork+" ") || !strings.Contains(lines[1], rid) {
				t.Errorf("audit list --action networkDenied:\n%s\nwant one row with %s and request id %s", out, tt.wantNetwork, rid)
			}
		})
	}
	ts.setPolicy(loopbackOnly)
}

// TestCLIRoughOAuthDenialRequestID: a token-endpoint call the network policy refuses,
// here the client-credentials exchange of an M2M connection's creation, leaves a
// networkDenied event with the request id of the API call it was made for.
func TestCLIRoughOAuthDenialRequestID(t *testing.T) {
	w := newOAuthWorld(t, time.Hour)
	w.ts.setPolicy(noPrivate)
	status, b := w.connection("m2m", "OAUTH_M2M", basicClient, map[string]string{"oauth_credential_exchange_method": "header_only"})
	rid := decodeErr(t, b).RequestID
	if status == 200 || rid == "" {
		t.Fatalf("M2M with the token endpoint denied = %d %s, want a refusal with a request id", status, b)
	}
	if d, _ := w.ts.auditByRequest(t, "networkDenied", rid); d != "DENY" {
		t.Errorf("networkDenied decision = %s, want DENY", d)
	}
	w.ts.setPolicy(loopbackOnly)
}

func TestCLICut(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short stays", "not granted", 20, "not granted"},
		{"exact fits", "0123456789", 10, "0123456789"},
		{"long is cut with an ellipsis", "0123456789abc", 10, "012345678…"},
		{"runes, not bytes", "grüße grüße grüße", 7, "grüße…"},
		{"line breaks folded", "a\nb\tc", 10, "a b c"},
		{"empty", "", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cliCut(tt.in, tt.n); got != tt.want {
				t.Errorf("cliCut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

// TestCLIRoughAuditReasonColumn: "audit list" shows why a call was refused, in a REASON
// column cut to fit the table.
func TestCLIRoughAuditReasonColumn(t *testing.T) {
	w := newProxyWorld(t, nil)
	ts := w.ts
	ts.setPolicy(noPrivate)
	req, _ := http.NewRequest("GET", ts.URL+"/api/2.0/unity-catalog/connections/echo/proxy/x", nil)
	req.Header.Set("Authorization", "Bearer "+w.alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ts.setPolicy(loopbackOnly)
	rid := resp.Header.Get("X-Gatehouse-Request-Id")
	ts.auditByRequest(t, "useConnection", rid)
	l := ts.waitAudit("action=useConnection&order=desc&max_results=1", 1)
	reason := l.Events[0].RequestParams["reason"]
	if l.Events[0].RequestID != rid || reason == "" {
		t.Fatalf("newest useConnection event %+v: want the refused call with a reason", l.Events[0])
	}
	out, err := ts.cli(ts.Admin, "", "audit", "list", "--action", "useConnection", "--limit", "1")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "REASON") {
		t.Fatalf("audit list:\n%s\nwant a header ending in REASON and one row", out)
	}
	want := cliCut(reason, cliAuditReasonWidth)
	if !strings.HasSuffix(lines[1], want) || len([]rune(want)) > cliAuditReasonWidth {
		t.Errorf("row %q does not end with the reason cut to %d: %q (full: %q)", lines[1], cliAuditReasonWidth, want, reason)
	}
}

// TestCLIRoughEnumFilters: an enumerated filter with a value the server never records
// is refused by the CLI before any request, naming the valid values and the closest
// one; the server checks the same lists (httpapi tests), and accepts every action it
// records, egressTunnel included.
func TestCLIRoughEnumFilters(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"audit action typo", []string{"audit", "list", "--action", "useconection"}, []string{`--action "useconection" is not valid`, `did you mean "useConnection"?`, "egressTunnel", "updateNetworkPolicy", "auditChainKeyed"}},
		{"audit action wrong case", []string{"audit", "list", "--action", "EGRESSTUNNEL"}, []string{`did you mean "egressTunnel"?`}},
		{"network source", []string{"network", "events", "--source", "tunnel"}, []string{`--source "tunnel" is not valid; valid values: proxy, oauth, egress`}},
		{"network access type", []string{"network", "events", "--access-type", "deny"}, []string{`--access-type "DENY" is not valid; valid values: DROP, DRY_RUN_DENIAL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCLIFakeAPI(t, nil)
			_, _, err := cliRun(t, cliEnv(f), "", tt.args...)
			if err == nil {
				t.Fatalf("%v succeeded", tt.args)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent; the CLI must refuse before asking the server", n)
			}
		})
	}
	ts := startServer(t, "", nil)
	for _, action := range []string{"egressTunnel", "updateNetworkPolicy", "auditChainKeyed", "networkDenied"} {
		if out, err := ts.cli(ts.Admin, "", "audit", "list", "--action", action); err != nil {
			t.Errorf("audit list --action %s: %v\n%s", action, err, out)
		}
	}
	if status, b := ts.do("GET", "/api/2.0/gatehouse/audit?action=egresstunnel", ts.Admin, nil); status != 400 || !strings.Contains(string(b), "egressTunnel") {
		t.Errorf("server with action=egresstunnel = %d %s, want 400 naming egressTunnel", status, b)
	}
}

// TestCLIRoughOptionTypo: a misspelt option name is the error of "connections create",
// with the closest valid name, before the credential type is inferred (without the
// check, hots=... with no bearer_token is "credential_type is required"); nothing is
// created.
func TestCLIRoughOptionTypo(t *testing.T) {
	ts := startServer(t, "", nil)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"typo of host, type inferred", []string{"--option", "hots=https://api.example.com", "--option", "bearer_token=t"}, `did you mean "host"?`},
		{"typo and no type to infer", []string{"--option", "hots=https://api.example.com"}, `options.hots: not an option of any credential type (did you mean "host"?)`},
		{"typo with a type given", []string{"--credential-type", "BEARER_TOKEN", "--option", "host=https://api.example.com", "--option", "bearer_tokn=t"}, `did you mean "bearer_token"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ts.cli(ts.Admin, "", append([]string{"connections", "create", "typo"}, tt.args...)...)
			if err == nil {
				t.Fatalf("create succeeded:\n%s", out)
			}
			if !strings.Contains(out, tt.want) || strings.Contains(out, "credential_type is required") {
				t.Errorf("create:\n%s\nwant %q and no word of credential_type", out, tt.want)
			}
			if status, _ := ts.do("GET", "/api/2.1/unity-catalog/connections/typo", ts.Admin, nil); status != http.StatusNotFound {
				t.Errorf("connection typo exists after a refused create: %d", status)
			}
		})
	}
}

// TestCLIRoughUnreachableTokenEndpoint: creating an M2M connection whose token endpoint
// cannot be reached says so and why, not that the client credentials were refused, and
// names no address; nothing is created.
func TestCLIRoughUnreachableTokenEndpoint(t *testing.T) {
	ts := startServer(t, "", nil)
	// Port 1 (tcpmux): nothing listens there, and unlike a port just closed no other
	// process on the machine can take it meanwhile without privileges.
	const closed = "127.0.0.1:1"
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer untrusted.Close()
	tests := []struct {
		name, endpoint, want string
	}{
		{"connection refused", "https://" + closed + "/token", "connection was refused"},
		{"unknown TLS authority", untrusted.URL + "/token", "--upstream-ca-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ts.cli(ts.Admin, "", "connections", "create", "m2m", "--option", "host=https://api.example.com",
				"--option", "token_endpoint="+tt.endpoint, "--option", "client_id=id", "--option", "client_secret=CANARY-m2m-secret")
			if err == nil {
				t.Fatalf("create succeeded:\n%s", out)
			}
			if !strings.Contains(out, "could not reach the token endpoint") || !strings.Contains(out, tt.want) || strings.Contains(out, "refused the client credentials") {
				t.Errorf("create:\n%s\nwant it to say the token endpoint could not be reached (%s), not that it refused the credentials", out, tt.want)
			}
			if strings.Contains(out, "CANARY-") || strings.Contains(out, "dial tcp") {
				t.Errorf("create:\n%s\nnames a secret or the address dialed", out)
			}
			if status, _ := ts.do("GET", "/api/2.1/unity-catalog/connections/m2m", ts.Admin, nil); status != http.StatusNotFound {
				t.Errorf("connection exists after a refused create: %d", status)
			}
		})
	}
}

// TestCLIRoughHostColumnShowsPort: the HOST column of "connections list" shows the
// port when it is not the scheme's default, so that connections to one host on two
// ports differ.
func TestCLIRoughHostColumnShowsPort(t *testing.T) {
	ts := startServer(t, "", nil)
	tests := []struct {
		name, host, want string
	}{
		{"other-port", "https://api.example.com:8443", "https://api.example.com:8443"},
		{"default-port", "https://api.example.com:443", "https://api.example.com "},
		{"no-port", "https://api.example.com", "https://api.example.com "},
		{"ipv6-port", "https://[2001:db8::1]:9443", "https://[2001:db8::1]:9443"},
	}
	for _, tt := range tests {
		ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": tt.name, "options": map[string]string{
			"host": tt.host, "bearer_token": "CANARY-host-column"}}, nil)
	}
	out, err := ts.cli(ts.Admin, "", "connections", "list")
	if err != nil {
		t.Fatalf("connections list: %v\n%s", err, out)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line + " "
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(rows[tt.name], tt.want) {
				t.Errorf("row %q lacks host %q", rows[tt.name], tt.want)
			}
		})
	}
	if strings.Contains(out, "CANARY-") {
		t.Errorf("connections list shows a secret:\n%s", out)
	}
}

// TestCLIRoughEgressDenialRequestID: a CONNECT through the egress proxy that the network
// policy refuses leaves a networkDenied event with the request id of the tunnel's
// answer (X-Gatehouse-Request-Id), as the egressTunnel event has.
func TestCLIRoughEgressDenialRequestID(t *testing.T) {
	target := newUpstream(t, nil)
	ts := startServer(t, "", nil, "--egress-listen", "127.0.0.1:0")
	egressAddr := egressAddrOf(t, ts)
	_, alice := ts.mkUser("alice@example.com")
	ts.setPolicy(noPrivate)
	dest := strings.TrimPrefix(target.URL, "https://")
	conn, err := net.DialTimeout("tcp", egressAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	auth := base64.StdEncoding.EncodeToString([]byte("x:" + alice))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", dest, dest, auth)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rid := resp.Header.Get("X-Gatehouse-Request-Id")
	if resp.StatusCode != http.StatusForbidden || rid == "" {
		t.Fatalf("CONNECT to a denied destination = %d, request id %q; want 403 and an id", resp.StatusCode, rid)
	}
	if d, _ := ts.auditByRequest(t, "networkDenied", rid); d != "DENY" {
		t.Errorf("networkDenied decision = %s, want DENY", d)
	}
	if d, _ := ts.auditByRequest(t, "egressTunnel", rid); d != "DENY" {
		t.Errorf("egressTunnel decision = %s, want DENY", d)
	}
	ts.setPolicy(loopbackOnly)
}
