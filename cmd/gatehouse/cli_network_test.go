package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// networkFakeAPI keeps a network policy with versions as the server does, and serves a
// fixed list of network events in pages of pageSize with the page token the index of
// the next event. conflicts makes that many PUTs lose to "another writer", who adds
// other.example.com to the allowed list.
type networkFakeAPI struct {
	*httptest.Server
	mu        sync.Mutex
	policy    httpapi.NetworkPolicyInfo
	conflicts int
	puts      []string
	queries   []url.Values
}

func newNetworkFakeAPI(t *testing.T, policy httpapi.NetworkPolicyInfo, events []httpapi.NetworkEventInfo, pageSize int) *networkFakeAPI {
	t.Helper()
	f := &networkFakeAPI{policy: policy}
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+cliTestToken {
			answer(w, http.StatusUnauthorized, httpapi.ErrorBody{ErrorCode: "UNAUTHENTICATED", Message: "no"})
			return
		}
		switch r.Method + " " + r.URL.Path {
		case "GET /api/2.0/gatehouse/network-policy":
			answer(w, http.StatusOK, f.policy)
		case "PUT /api/2.0/gatehouse/network-policy":
			var body bytes.Buffer
			body.ReadFrom(r.Body)
			f.puts = append(f.puts, body.String())
			var p httpapi.NetworkPolicyInfo
			if err := json.Unmarshal(body.Bytes(), &p); err != nil {
				answer(w, http.StatusBadRequest, httpapi.ErrorBody{ErrorCode: "INVALID_PARAMETER_VALUE", Message: err.Error()})
				return
			}
			if f.conflicts > 0 {
				f.conflicts--
				f.policy.Version++
				f.policy.AllowedInternetDestinations = append(f.policy.AllowedInternetDestinations, httpapi.InternetDestination{Destination: "other.example.com", InternetDestinationType: "DNS_NAME"})
			}
			if p.Version != f.policy.Version {
				answer(w, http.StatusConflict, httpapi.ErrorBody{ErrorCode: "RESOURCE_ALREADY_EXISTS",
					Message: fmt.Sprintf("network policy version %d is stale: the stored version is %d", p.Version, f.policy.Version)})
				return
			}
			p.Version++
			p.UpdatedAt, p.UpdatedBy = cliAuditT0.UnixMilli(), "admin"
			f.policy = p
			answer(w, http.StatusOK, p)
		case "GET /api/2.0/gatehouse/network-events":
			q := r.URL.Query()
			f.queries = append(f.queries, q)
			start, _ := strconv.Atoi(q.Get("page_token"))
			size := pageSize
			if n, err := strconv.Atoi(q.Get("max_results")); err == nil && n > 0 && n < size {
				size = n
			}
			end := min(start+size, len(events))
			resp := httpapi.ListNetworkEventsResponse{Events: events[start:end]}
			if end < len(events) {
				resp.NextPageToken = strconv.Itoa(end)
			}
			answer(w, http.StatusOK, resp)
		default:
			answer(w, http.StatusNotFound, httpapi.ErrorBody{ErrorCode: "RESOURCE_DOES_NOT_EXIST", Message: "no route " + r.Method + " " + r.URL.Path})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *networkFakeAPI) env() map[string]string {
	return map[string]string{"GATEHOUSE_HOST": f.URL, "GATEHOUSE_TOKEN": cliTestToken}
}

// putBodies returns the PUT bodies decoded.
func (f *networkFakeAPI) putBodies(t *testing.T) []httpapi.NetworkPolicyInfo {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []httpapi.NetworkPolicyInfo
	for _, b := range f.puts {
		var p httpapi.NetworkPolicyInfo
		if err := json.Unmarshal([]byte(b), &p); err != nil {
			t.Fatalf("PUT body %s: %v", b, err)
		}
		out = append(out, p)
	}
	return out
}

func (f *networkFakeAPI) eventQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

// networkCLIRun runs a command line through run once the network command is registered
// in cli.go, and until then through a root with the same global flags and the network
// command alone.
func networkCLIRun(t *testing.T, vars map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return cliRun(t, vars, stdin, args...)
}

func cliTestDNS(names ...string) []httpapi.InternetDestination {
	out := []httpapi.InternetDestination{}
	for _, n := range names {
		out = append(out, httpapi.InternetDestination{Destination: n, InternetDestinationType: "DNS_NAME"})
	}
	return out
}

// networkPolicy is the fake's starting policy: version 4, a bit of everything.
func cliTestNetworkPolicy() httpapi.NetworkPolicyInfo {
	return httpapi.NetworkPolicyInfo{
		RestrictionMode:             "RESTRICTED_ACCESS",
		EnforcementMode:             "ENFORCED",
		AllowedInternetDestinations: cliTestDNS("api.github.com", "*.slack.com"),
		BlockedInternetDestinations: cliTestDNS("paste.example.com"),
		AllowConnectionDestinations: true,
		AllowedIPRanges:             []string{"10.0.0.0/8"},
		Version:                     4,
		UpdatedAt:                   cliAuditT0.UnixMilli(),
		UpdatedBy:                   "admin",
	}
}

func TestCLINetworkGet(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	stdout, stderr, err := networkCLIRun(t, f.env(), "", "network", "get")
	if err != nil {
		t.Fatalf("network get: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"restriction mode:", "RESTRICTED_ACCESS", "enforcement mode:", "ENFORCED",
		"allowed destinations:", "api.github.com, *.slack.com", "blocked destinations:", "paste.example.com",
		"connection hosts allowed:", "true", "allowed IP ranges:", "10.0.0.0/8", "version:", "4",
		"updated:", "2025-03-14T15:09:26Z by admin",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("network get output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, err = networkCLIRun(t, f.env(), "", "network", "get", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got httpapi.NetworkPolicyInfo
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout)
	}
	if d := cmp.Diff(cliTestNetworkPolicy(), got); d != "" {
		t.Errorf("-o json (-want +got):\n%s", d)
	}
}

func TestCLINetworkSetMerge(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	stdout, stderr, err := networkCLIRun(t, f.env(), "", "network", "set",
		"--enforcement-mode", "dry-run",
		"--allow", "files.example.com", "--allow", "API.GitHub.com", // the second is there already
		"--block", "bad.example.com,worse.example.com", "--remove-block", "Paste.Example.com.",
		"--remove-allow", "nothere.example.com",
		"--allow-ip-range", "192.168.0.0/16", "--remove-ip-range", "10.1.2.3/8",
		"--allow-connection-destinations=false")
	if err != nil {
		t.Fatalf("network set: %v\n%s", err, stderr)
	}
	puts := f.putBodies(t)
	if len(puts) != 1 {
		t.Fatalf("PUTs = %d, want 1", len(puts))
	}
	want := httpapi.NetworkPolicyInfo{
		RestrictionMode:             "RESTRICTED_ACCESS",
		EnforcementMode:             "DRY_RUN",
		AllowedInternetDestinations: cliTestDNS("api.github.com", "*.slack.com", "files.example.com"),
		BlockedInternetDestinations: cliTestDNS("bad.example.com", "worse.example.com"),
		AllowConnectionDestinations: false,
		AllowedIPRanges:             []string{"192.168.0.0/16"},
		Version:                     4,
	}
	if d := cmp.Diff(want, puts[0]); d != "" {
		t.Errorf("PUT body (-want +got):\n%s", d)
	}
	if !strings.Contains(stderr, "nothere.example.com is not in the allowed destinations") {
		t.Errorf("stderr lacks the warning about a removal of nothing:\n%s", stderr)
	}
	if !strings.Contains(stdout, "DRY_RUN") || !strings.Contains(stdout, "version:") || !strings.Contains(stdout, "5") {
		t.Errorf("output does not show the stored policy:\n%s", stdout)
	}
}

// TestCLINetworkSetRetriesMerge: a merge that loses a race is made again on the policy
// as it is now, so the other writer's change survives.
func TestCLINetworkSetRetriesMerge(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	f.conflicts = 1
	if _, stderr, err := networkCLIRun(t, f.env(), "", "network", "set", "--allow", "files.example.com"); err != nil {
		t.Fatalf("network set: %v\n%s", err, stderr)
	}
	puts := f.putBodies(t)
	if len(puts) != 2 {
		t.Fatalf("PUTs = %d, want 2 (one lost, one retried)", len(puts))
	}
	last := puts[1]
	if last.Version != 5 || !cmp.Equal(cliDestinationNames(last.AllowedInternetDestinations), []string{"api.github.com", "*.slack.com", "other.example.com", "files.example.com"}) {
		t.Errorf("retried PUT = %+v; want version 5 with the other writer's destination and ours", last)
	}

	// Losing every time ends with an error that says what happened.
	f.conflicts = 10
	_, _, err := networkCLIRun(t, f.env(), "", "network", "set", "--block", "x.example.com")
	if err == nil || !strings.Contains(err.Error(), "changed by someone else") || !strings.Contains(err.Error(), "RESOURCE_ALREADY_EXISTS") {
		t.Errorf("network set losing every race: %v; want the conflict explained", err)
	}
	if n := len(f.putBodies(t)); n != 2+cliNetworkAttempts {
		t.Errorf("PUTs = %d, want %d (bounded retries)", n, 2+cliNetworkAttempts)
	}
}

func TestCLINetworkSetReplace(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	_, stderr, err := networkCLIRun(t, f.env(), "", "network", "set", "--replace", "--restriction-mode", "restricted_access", "--allow", "api.openai.com")
	if err != nil {
		t.Fatalf("network set --replace: %v\n%s", err, stderr)
	}
	want := httpapi.NetworkPolicyInfo{
		RestrictionMode:             "RESTRICTED_ACCESS",
		EnforcementMode:             "ENFORCED",
		AllowedInternetDestinations: cliTestDNS("api.openai.com"),
		BlockedInternetDestinations: []httpapi.InternetDestination{},
		AllowedIPRanges:             []string{},
		Version:                     4,
	}
	if d := cmp.Diff(want, f.putBodies(t)[0]); d != "" {
		t.Errorf("PUT body (-want +got):\n%s", d)
	}

	// A policy that denies everything draws a warning.
	_, stderr, err = networkCLIRun(t, f.env(), "", "network", "set", "--replace", "--restriction-mode", "RESTRICTED_ACCESS")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "denies every destination") {
		t.Errorf("stderr lacks the deny-everything warning:\n%s", stderr)
	}
}

func TestCLINetworkSetFromFile(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	dir := t.TempDir()

	// Without a version: replaces the current policy (version read just before).
	noVersion := filepath.Join(dir, "policy.json")
	os.WriteFile(noVersion, []byte(`{"restriction_mode":"RESTRICTED_ACCESS","enforcement_mode":"DRY_RUN",
		"allowed_internet_destinations":[{"destination":"a.example.com","internet_destination_type":"DNS_NAME"}]}`), 0o600)
	if _, stderr, err := networkCLIRun(t, f.env(), "", "network", "set", "--from-file", noVersion, "--allow", "b.example.com"); err != nil {
		t.Fatalf("network set --from-file: %v\n%s", err, stderr)
	}
	got := f.putBodies(t)[0]
	if got.Version != 4 || got.EnforcementMode != "DRY_RUN" || !cmp.Equal(cliDestinationNames(got.AllowedInternetDestinations), []string{"a.example.com", "b.example.com"}) ||
		len(got.BlockedInternetDestinations) != 0 || got.AllowConnectionDestinations {
		t.Errorf("PUT from file = %+v", got)
	}

	// With a stale version (what `network get -o json` printed before someone else's
	// change): refused, not retried.
	stale := cliTestNetworkPolicy()
	stale.Version = 3
	b, _ := json.Marshal(stale)
	if _, _, err := networkCLIRun(t, f.env(), string(b), "network", "set", "--from-file", "-"); err == nil || !strings.Contains(err.Error(), "version 3 is stale") {
		t.Errorf("network set --from-file with a stale version: %v; want the 409", err)
	}
	if n := len(f.putBodies(t)); n != 2 {
		t.Errorf("PUTs = %d, want 2 (no retry of a file's version)", n)
	}

	// What `network get -o json` prints goes back in as it is.
	current, _, err := networkCLIRun(t, f.env(), "", "network", "get", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := networkCLIRun(t, f.env(), current, "network", "set", "--from-file", "-"); err != nil {
		t.Errorf("network set --from-file of get's output: %v\n%s", err, stderr)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"restriction_mode":"FULL_ACCESS","allowed_destinations":["x.com"]}`), 0o600)
	if _, _, err := networkCLIRun(t, f.env(), "", "network", "set", "--from-file", bad); err == nil || !strings.Contains(err.Error(), "allowed_destinations") {
		t.Errorf("network set --from-file with an unknown field: %v; want it named", err)
	}
}

func TestCLINetworkSetRefused(t *testing.T) {
	t.Parallel()
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), nil, 10)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "set"}, "nothing to change"},
		{[]string{"network", "set", "--replace", "--remove-allow", "a.com"}, "make no sense with --replace"},
		{[]string{"network", "set", "--replace", "--from-file", "x.json"}, "give one of them"},
		{[]string{"network", "set", "--from-file", filepath.Join(t.TempDir(), "missing.json")}, "--from-file"},
	} {
		_, _, err := networkCLIRun(t, f.env(), "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error mentioning %q", tc.args, err, tc.want)
		}
	}
	if n := len(f.putBodies(t)); n != 0 {
		t.Errorf("refused command lines sent %d PUTs", n)
	}
}

func TestCLINetworkEvents(t *testing.T) {
	t.Parallel()
	var events []httpapi.NetworkEventInfo
	for i := range 5 {
		events = append(events, httpapi.NetworkEventInfo{
			EventID: strconv.Itoa(i + 1), Time: cliAuditT0.Add(time.Duration(i) * time.Second).UnixMilli(),
			Destination: fmt.Sprintf("host-%d.example.com:443", i), ResolvedAddress: "192.0.2.10", Source: "egress",
			Principal: "billing-agent", Reason: "not in the allowed list", AccessType: "DROP",
		})
	}
	events[1].AccessType, events[1].Connection, events[1].ResolvedAddress = "DRY_RUN_DENIAL", "github", ""
	f := newNetworkFakeAPI(t, cliTestNetworkPolicy(), events, 2)

	stdout, stderr, err := networkCLIRun(t, f.env(), "", "network", "events",
		"--since", "2025-03-14T15:00:00Z", "--until", "1741966000000", "--source", "Egress",
		"--principal", "billing-agent", "--access-type", "drop")
	if err != nil {
		t.Fatalf("network events: %v\n%s", err, stderr)
	}
	qs := f.eventQueries()
	if len(qs) != 3 {
		t.Fatalf("requests = %d, want 3 (pages of 2 until the last)", len(qs))
	}
	for k, want := range map[string]string{
		"since": strconv.FormatInt(time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC).UnixMilli(), 10), "until": "1741966000000",
		"source": "egress", "principal": "billing-agent", "access_type": "DROP", "max_results": "100",
	} {
		if got := qs[0].Get(k); got != want {
			t.Errorf("query %s = %q, want %q", k, got, want)
		}
	}
	if qs[1].Get("page_token") != "2" || qs[1].Get("source") != "egress" {
		t.Errorf("second request %v: want the page token and the same filters", qs[1])
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("stdout has %d lines, want a header and 5 rows:\n%s", len(lines), stdout)
	}
	for _, want := range []string{"TIME", "ACCESS", "SOURCE", "PRINCIPAL", "DESTINATION", "RESOLVED", "CONNECTION", "REASON"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for _, want := range []string{"2025-03-14T15:09:27.535Z", "DRY_RUN_DENIAL", "egress", "billing-agent", "host-1.example.com:443", "github", "not in the allowed list"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %s", lines[2], want)
		}
	}

	// --limit stops early, says so, and -o json prints the API's page.
	stdout, stderr, err = networkCLIRun(t, f.env(), "", "network", "events", "--limit", "3", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var resp httpapi.ListNetworkEventsResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout)
	}
	if len(resp.Events) != 3 || resp.Events[2].EventID != "3" || resp.NextPageToken == "" {
		t.Errorf("--limit 3 -o json = %d events, token %q", len(resp.Events), resp.NextPageToken)
	}
	_, stderr, err = networkCLIRun(t, f.env(), "", "network", "events", "--limit", "3")
	if err != nil || !strings.Contains(stderr, "More events match") {
		t.Errorf("--limit 3: %v, stderr %q; want a note that more events match", err, stderr)
	}

	if _, _, err := networkCLIRun(t, f.env(), "", "network", "events", "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("--since yesterday: %v; want it refused", err)
	}
}
