package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

const cliTestToken = "dapi-cli-test-token"

// cliRequest is one request as the fake API saw it.
type cliRequest struct {
	Method, Path, Query, Auth, Body string
}

// cliFakeAPI answers "METHOD /escaped/path" from a table of canned JSON responses and
// records every request; anything else is a RESOURCE_DOES_NOT_EXIST error.
type cliFakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []cliRequest
	routes map[string]cliResponse
}

type cliResponse struct {
	status int
	body   string
}

func newCLIFakeAPI(t *testing.T, routes map[string]cliResponse) *cliFakeAPI {
	t.Helper()
	f := &cliFakeAPI{routes: routes}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.EscapedPath()
		f.mu.Lock()
		f.reqs = append(f.reqs, cliRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(b)})
		f.mu.Unlock()
		resp, ok := routes[key]
		if !ok {
			resp = cliResponse{http.StatusNotFound, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no route ` + key + `"}`}
		}
		if resp.status == 0 {
			resp.status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *cliFakeAPI) requests() []cliRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cliRequest(nil), f.reqs...)
}

// last returns the last request with the method, or fails the test.
func (f *cliFakeAPI) last(t *testing.T, method string) cliRequest {
	t.Helper()
	reqs := f.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			return reqs[i]
		}
	}
	t.Fatalf("no %s request; got %+v", method, reqs)
	return cliRequest{}
}

// cliRun runs one gatehouse command line with env as the environment.
func cliRun(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// cliEnv points the CLI at f with the test token.
func cliEnv(f *cliFakeAPI) map[string]string {
	return map[string]string{"GATEHOUSE_HOST": f.URL, "GATEHOUSE_TOKEN": cliTestToken}
}

// cliJSONDiff compares JSON texts by value.
func cliJSONDiff(t *testing.T, want, got string) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return "not JSON: " + got
	}
	return cmp.Diff(w, g)
}

func TestCLIConfigResolution(t *testing.T) {
	t.Parallel()
	// Each server says who it is in /Me, so the output shows which one was asked.
	servers := map[string]*cliFakeAPI{}
	for _, name := range []string{"flag", "env", "file", "prod"} {
		servers[name] = newCLIFakeAPI(t, map[string]cliResponse{
			"GET /api/2.0/preview/scim/v2/Me": {body: `{"id":"1","userName":"` + name + `","active":true}`},
		})
	}
	file := "[DEFAULT]\nhost = " + servers["file"].URL + "\ntoken = file-token\n\n# production\n[prod]\nhost=" + servers["prod"].URL + "/\ntoken=prod-token\n"

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		file       string // config file content; "" for none
		mode       os.FileMode
		atHome     bool // put the file at $HOME/.gatehouse/config instead of GATEHOUSE_CONFIG_FILE
		wantServer string
		wantToken  string
		wantErr    []string
		wantStderr string
	}{
		{
			name: "flag beats env and file",
			args: []string{"--host", servers["flag"].URL},
			env:  map[string]string{"GATEHOUSE_HOST": servers["env"].URL, "GATEHOUSE_TOKEN": "env-token"},
			file: file, wantServer: "flag", wantToken: "env-token",
		},
		{
			name: "env beats file",
			env:  map[string]string{"GATEHOUSE_HOST": servers["env"].URL, "GATEHOUSE_TOKEN": "env-token"},
			file: file, wantServer: "env", wantToken: "env-token",
		},
		{
			name: "file fills what env leaves out",
			env:  map[string]string{"GATEHOUSE_TOKEN": "env-token"},
			file: file, wantServer: "file", wantToken: "env-token",
		},
		{
			name: "DEFAULT profile", file: file, wantServer: "file", wantToken: "file-token",
		},
		{
			name: "file in HOME", file: file, atHome: true, wantServer: "file", wantToken: "file-token",
		},
		{
			name: "--profile", args: []string{"--profile", "prod"}, file: file, wantServer: "prod", wantToken: "prod-token",
		},
		{
			name: "GATEHOUSE_PROFILE", env: map[string]string{"GATEHOUSE_PROFILE": "prod"}, file: file, wantServer: "prod", wantToken: "prod-token",
		},
		{
			name: "--profile beats GATEHOUSE_PROFILE", args: []string{"--profile", "DEFAULT"},
			env: map[string]string{"GATEHOUSE_PROFILE": "prod"}, file: file, wantServer: "file", wantToken: "file-token",
		},
		{
			name: "file open to others draws a warning", file: file, mode: 0o644,
			wantServer: "file", wantToken: "file-token", wantStderr: "chmod 600",
		},
		{
			name:    "nothing configured names what to set",
			wantErr: []string{"GATEHOUSE_HOST", "--host", "GATEHOUSE_TOKEN", "profile [DEFAULT]"},
		},
		{
			name:    "missing token names the env var and the profile key",
			env:     map[string]string{"GATEHOUSE_HOST": servers["env"].URL},
			file:    "[DEFAULT]\nhost = " + servers["file"].URL + "\n",
			wantErr: []string{"no token", "GATEHOUSE_TOKEN", "token in profile [DEFAULT]"},
		},
		{
			name:    "unknown profile",
			args:    []string{"--profile", "staging"},
			file:    file,
			wantErr: []string{`profile "staging" not found`},
		},
		{
			name:    "host must be a URL",
			args:    []string{"--host", "gatehouse.example.com"},
			env:     map[string]string{"GATEHOUSE_TOKEN": "env-token"},
			wantErr: []string{"want a URL"},
		},
		{
			name:    "syntax error names the line, not its content",
			file:    "[DEFAULT]\nhost = x\nfile-token-without-equals\n",
			wantErr: []string{"line 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the subtests share the fake servers, and each checks the
			// Authorization of the last request its server received.
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file != "" {
				dir := t.TempDir()
				path := filepath.Join(dir, "config")
				if tt.atHome {
					env["HOME"] = dir
					path = filepath.Join(dir, ".gatehouse", "config")
					if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
						t.Fatal(err)
					}
				} else {
					env["GATEHOUSE_CONFIG_FILE"] = path
				}
				mode := tt.mode
				if mode == 0 {
					mode = 0o600
				}
				if err := os.WriteFile(path, []byte(tt.file), mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, mode); err != nil { // umask may have narrowed it
					t.Fatal(err)
				}
			}
			args := append(append([]string{}, tt.args...), "whoami", "-o", "json")
			stdout, stderr, err := cliRun(t, env, "", args...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("gatehouse %v = nil error, want one containing %q", args, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error = %q, want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "file-token") {
					t.Errorf("error = %q contains a token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("gatehouse %v: %v (stderr %q)", args, err, stderr)
			}
			var me httpapi.SCIMMe
			if err := json.Unmarshal([]byte(stdout), &me); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			if me.UserName != tt.wantServer {
				t.Errorf("asked server %q, want %q", me.UserName, tt.wantServer)
			}
			if got := servers[tt.wantServer].last(t, "GET").Auth; got != "Bearer "+tt.wantToken {
				t.Errorf("Authorization = %q, want Bearer %s", got, tt.wantToken)
			}
			if tt.wantStderr != "" && !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if tt.wantStderr == "" && stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
		})
	}
}

func TestCLISecretsStayOutOfOutput(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-bearer-value"
	secretFile := filepath.Join(t.TempDir(), "token.txt")
	if err := os.WriteFile(secretFile, []byte(secret+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server that wrongly echoed the secret must still not make the CLI print it.
	echo := `{"name":"github","credential_type":"BEARER_TOKEN","owner":"admin","enabled":true,
		"options":{"host":"https://api.github.com","bearer_token":"` + secret + `"}}`
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"create from stdin", []string{"connections", "create", "github", "--option", "host=https://api.github.com", "--option", "bearer_token=@-"}, secret + "\n"},
		{"create from stdin, json", []string{"-o", "json", "connections", "create", "github", "--option", "host=https://api.github.com", "--option", "bearer_token=@-"}, secret + "\n"},
		{"create from a file", []string{"connections", "create", "github", "--option", "host=https://api.github.com", "--option", "bearer_token=@" + secretFile}, ""},
		{"rotate from stdin", []string{"connections", "update", "github", "--option", "bearer_token=@-"}, secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newCLIFakeAPI(t, map[string]cliResponse{
				"POST /api/2.1/unity-catalog/connections":         {body: echo},
				"GET /api/2.1/unity-catalog/connections/github":   {body: echo},
				"PATCH /api/2.1/unity-catalog/connections/github": {body: echo},
			})
			stdout, stderr, err := cliRun(t, cliEnv(f), tt.stdin, tt.args...)
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			reqs := f.requests()
			var body httpapi.CreateConnectionRequest // options is all we look at
			if err := json.Unmarshal([]byte(reqs[len(reqs)-1].Body), &body); err != nil {
				t.Fatal(err)
			}
			if got := body.Options["bearer_token"]; got != secret {
				t.Errorf("request bearer_token = %q, want the secret", got)
			}
			for name, s := range map[string]string{"stdout": stdout, "stderr": stderr} {
				if strings.Contains(s, secret) {
					t.Errorf("%s contains the secret:\n%s", name, s)
				}
			}
		})
	}

	t.Run("secret on the command line draws a warning without the value", func(t *testing.T) {
		t.Parallel()
		f := newCLIFakeAPI(t, map[string]cliResponse{"POST /api/2.1/unity-catalog/connections": {body: echo}})
		_, stderr, err := cliRun(t, cliEnv(f), "", "connections", "create", "github", "--option", "host=https://api.github.com", "--option", "bearer_token="+secret)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stderr, "shell history") || strings.Contains(stderr, secret) {
			t.Errorf("stderr = %q, want a shell-history warning without the secret", stderr)
		}
	})
}

func TestCLIOutputFormats(t *testing.T) {
	t.Parallel()
	list := `{"connections":[
		{"name":"github","credential_type":"BEARER_TOKEN","owner":"admin","enabled":true,
		 "options":{"host":"https://api.github.com"},"credential_status":{"state":"ACTIVE"}},
		{"name":"billing","credential_type":"OAUTH_M2M","owner":"alice@example.com","enabled":false,
		 "options":{"host":"https://billing.example.com"},"credential_status":{"state":"DISABLED"}}]}`
	one := `{"name":"github","connection_type":"HTTP","credential_type":"BEARER_TOKEN","owner":"admin","enabled":true,
		"options":{"host":"https://api.github.com","base_path":"/v3"},"credential_status":{"state":"ACTIVE"}}`
	f := newCLIFakeAPI(t, map[string]cliResponse{
		"GET /api/2.1/unity-catalog/connections":        {body: list},
		"GET /api/2.1/unity-catalog/connections/github": {body: one},
	})
	tests := []struct {
		name     string
		args     []string
		wantJSON string   // with -o json: the API's JSON
		want     []string // in table output, each a line's fields
	}{
		{
			name: "list as a table",
			args: []string{"connections", "list"},
			want: []string{
				"NAME CREDENTIAL TYPE OWNER HOST ENABLED STATE",
				"github BEARER_TOKEN admin https://api.github.com true ACTIVE",
				"billing OAUTH_M2M alice@example.com https://billing.example.com false DISABLED",
			},
		},
		{
			name:     "list as JSON",
			args:     []string{"connections", "list", "-o", "json"},
			wantJSON: list,
		},
		{
			name: "get as a description",
			args: []string{"connections", "get", "github"},
			want: []string{"Name: github", "Credential type: BEARER_TOKEN", "State: ACTIVE", "Option base_path: /v3"},
		},
		{
			name:     "get as JSON",
			args:     []string{"-o", "json", "connections", "get", "github"},
			wantJSON: one,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := cliRun(t, cliEnv(f), "", tt.args...)
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			if tt.wantJSON != "" {
				// The CLI decodes and re-encodes, so compare after the same round trip.
				var want any
				if strings.Contains(tt.args[len(tt.args)-1], "github") {
					want = &httpapi.ConnectionInfo{}
				} else {
					want = &httpapi.ListConnectionsResponse{}
				}
				if err := json.Unmarshal([]byte(tt.wantJSON), want); err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(want)
				if d := cliJSONDiff(t, string(b), stdout); d != "" {
					t.Errorf("JSON (-want +got):\n%s", d)
				}
				if !strings.Contains(stdout, "\n  ") {
					t.Errorf("JSON is not indented:\n%s", stdout)
				}
				return
			}
			var lines []string
			for l := range strings.Lines(stdout) {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("output has no line %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestCLIUpdateMergesOptions(t *testing.T) {
	t.Parallel()
	current := `{"name":"github","options":{"host":"https://api.github.com","base_path":"/v3","port":"443"}}`
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantCalls []string // method and path, in order
		wantBody  string
	}{
		{
			name:      "rotate the token only",
			args:      []string{"--option", "bearer_token=@-"},
			stdin:     "new-token\n",
			wantCalls: []string{"GET /api/2.1/unity-catalog/connections/github", "PATCH /api/2.1/unity-catalog/connections/github"},
			wantBody:  `{"options":{"host":"https://api.github.com","base_path":"/v3","port":"443","bearer_token":"new-token"}}`,
		},
		{
			name:      "change one option, remove another",
			args:      []string{"--option", "base_path=/v4", "--remove-option", "port"},
			wantCalls: []string{"GET /api/2.1/unity-catalog/connections/github", "PATCH /api/2.1/unity-catalog/connections/github"},
			wantBody:  `{"options":{"host":"https://api.github.com","base_path":"/v4"}}`,
		},
		{
			name:      "options from JSON, --option wins",
			args:      []string{"--options-json", `{"base_path":"/x","auth_header_name":"X-Key"}`, "--option", "base_path=/y"},
			wantCalls: []string{"GET /api/2.1/unity-catalog/connections/github", "PATCH /api/2.1/unity-catalog/connections/github"},
			wantBody:  `{"options":{"host":"https://api.github.com","base_path":"/y","port":"443","auth_header_name":"X-Key"}}`,
		},
		{
			name:      "disable without touching options",
			args:      []string{"--disable"},
			wantCalls: []string{"PATCH /api/2.1/unity-catalog/connections/github"},
			wantBody:  `{"enabled":false}`,
		},
		{
			name:      "rename, transfer and clear the comment",
			args:      []string{"--new-name", "gh", "--owner", "alice@example.com", "--comment", ""},
			wantCalls: []string{"PATCH /api/2.1/unity-catalog/connections/github"},
			wantBody:  `{"new_name":"gh","owner":"alice@example.com","comment":""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newCLIFakeAPI(t, map[string]cliResponse{
				"GET /api/2.1/unity-catalog/connections/github":   {body: current},
				"PATCH /api/2.1/unity-catalog/connections/github": {body: current},
			})
			args := append([]string{"connections", "update", "github"}, tt.args...)
			if _, _, err := cliRun(t, cliEnv(f), tt.stdin, args...); err != nil {
				t.Fatalf("gatehouse %v: %v", args, err)
			}
			var calls []string
			for _, r := range f.requests() {
				calls = append(calls, r.Method+" "+r.Path)
			}
			if d := cmp.Diff(tt.wantCalls, calls); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
			if d := cliJSONDiff(t, tt.wantBody, f.last(t, "PATCH").Body); d != "" {
				t.Errorf("PATCH body (-want +got):\n%s", d)
			}
		})
	}
}

func TestCLIGrants(t *testing.T) {
	t.Parallel()
	assignments := `{"privilege_assignments":[{"principal":"alice@example.com","privileges":["USE_CONNECTION"]}]}`
	tests := []struct {
		name      string
		args      []string
		wantCall  string
		wantQuery string
		wantBody  string // "" for none
		wantOut   string
		// wantAround are the calls a revoke makes before and after its PATCH: the
		// direct grants, then the effective privileges left.
		wantAround [2]string
	}{
		{
			name:     "grant on a connection",
			args:     []string{"grants", "grant", "github", "alice@example.com", "use_connection", "MANAGE"},
			wantCall: "PATCH /api/2.1/unity-catalog/permissions/connection/github",
			wantBody: `{"changes":[{"principal":"alice@example.com","add":["USE_CONNECTION","MANAGE"]}]}`,
			wantOut:  "alice@example.com",
		},
		{
			name:       "revoke on a connection",
			args:       []string{"grants", "revoke", "github", "data-eng", "USE_CONNECTION"},
			wantCall:   "PATCH /api/2.1/unity-catalog/permissions/connection/github",
			wantBody:   `{"changes":[{"principal":"data-eng","remove":["USE_CONNECTION"]}]}`,
			wantAround: [2]string{"GET /api/2.1/unity-catalog/permissions/connection/github", "GET /api/2.1/unity-catalog/effective-permissions/connection/github"},
		},
		{
			name:     "grant CREATE_CONNECTION on the metastore",
			args:     []string{"grants", "grant", "--metastore", "billing-agent", "CREATE_CONNECTION"},
			wantCall: "PATCH /api/2.1/unity-catalog/permissions/metastore/default",
			wantBody: `{"changes":[{"principal":"billing-agent","add":["CREATE_CONNECTION"]}]}`,
		},
		{
			name:       "revoke on the metastore",
			args:       []string{"grants", "revoke", "--metastore", "bob", "create-connection"},
			wantCall:   "PATCH /api/2.1/unity-catalog/permissions/metastore/default",
			wantBody:   `{"changes":[{"principal":"bob","remove":["CREATE_CONNECTION"]}]}`,
			wantAround: [2]string{"GET /api/2.1/unity-catalog/permissions/metastore/default", "GET /api/2.1/unity-catalog/effective-permissions/metastore/default"},
		},
		{
			name:     "show grants",
			args:     []string{"grants", "get", "github"},
			wantCall: "GET /api/2.1/unity-catalog/permissions/connection/github",
			wantOut:  "USE_CONNECTION",
		},
		{
			name:      "effective privileges",
			args:      []string{"grants", "effective", "github", "--principal", "alice@example.com"},
			wantCall:  "GET /api/2.1/unity-catalog/effective-permissions/connection/github",
			wantQuery: "principal=alice%40example.com",
			wantOut:   "group data-eng",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newCLIFakeAPI(t, map[string]cliResponse{
				"GET /api/2.1/unity-catalog/permissions/connection/github":           {body: assignments},
				"PATCH /api/2.1/unity-catalog/permissions/connection/github":         {body: assignments},
				"PATCH /api/2.1/unity-catalog/permissions/metastore/default":         {body: `{"privilege_assignments":[]}`},
				"GET /api/2.1/unity-catalog/permissions/metastore/default":           {body: `{"privilege_assignments":[]}`},
				"GET /api/2.1/unity-catalog/effective-permissions/metastore/default": {body: `{"privilege_assignments":[]}`},
				"GET /api/2.1/unity-catalog/effective-permissions/connection/github": {body: `{"privilege_assignments":[{"principal":"alice@example.com",
					"privileges":[{"privilege":"USE_CONNECTION","inherited_from_type":"GROUP","inherited_from_name":"data-eng"}]}]}`},
			})
			stdout, _, err := cliRun(t, cliEnv(f), "", tt.args...)
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			reqs := f.requests()
			if tt.wantAround[0] != "" {
				if len(reqs) != 3 || reqs[0].Method+" "+reqs[0].Path != tt.wantAround[0] || reqs[2].Method+" "+reqs[2].Path != tt.wantAround[1] {
					t.Fatalf("requests = %+v, want %s, the PATCH, %s", reqs, tt.wantAround[0], tt.wantAround[1])
				}
				reqs = reqs[1:2]
			}
			if len(reqs) != 1 {
				t.Fatalf("requests = %+v, want one", reqs)
			}
			r := reqs[0]
			if got := r.Method + " " + r.Path; got != tt.wantCall || r.Query != tt.wantQuery {
				t.Errorf("request = %s?%s, want %s?%s", got, r.Query, tt.wantCall, tt.wantQuery)
			}
			if tt.wantBody != "" {
				if d := cliJSONDiff(t, tt.wantBody, r.Body); d != "" {
					t.Errorf("body (-want +got):\n%s", d)
				}
			} else if r.Body != "" {
				t.Errorf("body = %q, want none", r.Body)
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tt.wantOut)
			}
		})
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	f := newCLIFakeAPI(t, map[string]cliResponse{
		"GET /api/2.1/unity-catalog/connections/github": {status: http.StatusForbidden,
			body: `{"error_code":"PERMISSION_DENIED","message":"User bob does not have USE_CONNECTION on connection github","request_id":"req-42"}`},
	})
	tests := []struct {
		name  string
		args  []string
		want  string
		calls int
	}{
		{"API error keeps code, message and request id", []string{"connections", "get", "github"},
			"PERMISSION_DENIED: User bob does not have USE_CONNECTION on connection github (request id req-42)", 1},
		{"not found", []string{"connections", "delete", "nope"}, "RESOURCE_DOES_NOT_EXIST", 1},
		{"missing argument", []string{"connections", "get"}, "want 1 argument(s): NAME", 0},
		{"bad output format", []string{"connections", "list", "-o", "yaml"}, `--output "yaml"`, 0},
		{"nothing to update", []string{"connections", "update", "github"}, "nothing to update", 0},
		{"option without a value is not echoed", []string{"connections", "create", "x", "--option", "sk-live-123"}, "--option #1: want KEY=VALUE", 0},
		{"grant without privileges", []string{"grants", "grant", "github", "alice"}, "at least one PRIVILEGE", 0},
		{"enable and disable", []string{"connections", "update", "github", "--enable", "--disable"}, "none of the others can be", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.requests())
			stdout, _, err := cliRun(t, cliEnv(f), "", tt.args...)
			if err == nil {
				t.Fatalf("gatehouse %v = nil error, want %q", tt.args, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "sk-live-123") || strings.Contains(err.Error(), cliTestToken) {
				t.Errorf("error = %q leaks a secret", err)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing on error", stdout)
			}
			if n := len(f.requests()) - before; n != tt.calls {
				t.Errorf("API calls = %d, want %d", n, tt.calls)
			}
		})
	}
}

func TestCLITokens(t *testing.T) {
	t.Parallel()
	created := `{"token_value":"dapi-new-value","token_info":{"token_id":"t-1","expiry_time":-1}}`
	tests := []struct {
		name       string
		args       []string
		wantCall   string
		wantBody   string
		wantStdout string
		wantStderr string
	}{
		{
			name:       "create prints the value once, alone on stdout",
			args:       []string{"tokens", "create", "--lifetime", "1h", "--comment", "ci"},
			wantCall:   "POST /api/2.0/token/create",
			wantBody:   `{"lifetime_seconds":3600,"comment":"ci"}`,
			wantStdout: "dapi-new-value\n",
			wantStderr: "will not be shown again",
		},
		{
			name:       "on behalf of a service principal",
			args:       []string{"tokens", "create", "--for-service-principal", "billing-agent", "--lifetime-seconds", "600"},
			wantCall:   "POST /api/2.0/token-management/on-behalf-of/tokens",
			wantBody:   `{"application_id":"billing-agent","lifetime_seconds":600}`,
			wantStdout: "dapi-new-value\n",
			wantStderr: "t-1",
		},
		{
			name:       "on behalf of a user",
			args:       []string{"tokens", "create", "--for-user", "alice@example.com"},
			wantCall:   "POST /api/2.0/token-management/on-behalf-of/tokens",
			wantBody:   `{"user_name":"alice@example.com"}`,
			wantStdout: "dapi-new-value\n",
		},
		{
			name:       "revoke own",
			args:       []string{"tokens", "revoke", "t-1"},
			wantCall:   "POST /api/2.0/token/delete",
			wantBody:   `{"token_id":"t-1"}`,
			wantStdout: "Revoked token t-1.\n",
		},
		{
			name:       "revoke any",
			args:       []string{"tokens", "revoke", "t-1", "--any"},
			wantCall:   "DELETE /api/2.0/token-management/tokens/t-1",
			wantStdout: "Revoked token t-1.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newCLIFakeAPI(t, map[string]cliResponse{
				"POST /api/2.0/token/create":                         {body: created},
				"POST /api/2.0/token-management/on-behalf-of/tokens": {body: created},
				"POST /api/2.0/token/delete":                         {body: `{}`},
				"DELETE /api/2.0/token-management/tokens/t-1":        {body: `{}`},
			})
			stdout, stderr, err := cliRun(t, cliEnv(f), "", tt.args...)
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			r := f.requests()[0]
			if got := r.Method + " " + r.Path; got != tt.wantCall {
				t.Errorf("request = %s, want %s", got, tt.wantCall)
			}
			if tt.wantBody != "" {
				if d := cliJSONDiff(t, tt.wantBody, r.Body); d != "" {
					t.Errorf("body (-want +got):\n%s", d)
				}
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) || strings.Contains(stderr, "dapi-new-value") {
				t.Errorf("stderr = %q, want it to contain %q and not the token", stderr, tt.wantStderr)
			}
		})
	}
}

func TestCLIGroupMembers(t *testing.T) {
	t.Parallel()
	routes := map[string]cliResponse{
		// No user is called billing-agent, so the CLI looks among service principals next.
		"GET /api/2.0/preview/scim/v2/Users":             {body: `{"totalResults":0,"Resources":[]}`},
		"GET /api/2.0/preview/scim/v2/ServicePrincipals": {body: `{"totalResults":1,"Resources":[{"id":"sp-7","applicationId":"billing-agent"}]}`},
		"GET /api/2.0/preview/scim/v2/Groups":            {body: `{"totalResults":1,"Resources":[{"id":"g-1","displayName":"data-eng"}]}`},
		"PATCH /api/2.0/preview/scim/v2/Groups/g-1":      {body: `{"id":"g-1","displayName":"data-eng"}`},
	}
	tests := []struct {
		name     string
		args     []string
		wantBody string
		wantErr  string
	}{
		{
			name:     "add a service principal",
			args:     []string{"groups", "add-member", "data-eng", "billing-agent"},
			wantBody: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"sp-7"}]}]}`,
		},
		{
			name:     "remove a service principal",
			args:     []string{"groups", "remove-member", "data-eng", "billing-agent"},
			wantBody: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"sp-7\"]"}]}`,
		},
		{
			name:    "unknown principal",
			args:    []string{"groups", "add-member", "data-eng", "nobody"},
			wantErr: `RESOURCE_DOES_NOT_EXIST: no user, service principal or group is called "nobody"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newCLIFakeAPI(t, routes)
			_, _, err := cliRun(t, cliEnv(f), "", tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("gatehouse %v: %v", tt.args, err)
			}
			if d := cliJSONDiff(t, tt.wantBody, f.last(t, "PATCH").Body); d != "" {
				t.Errorf("PATCH body (-want +got):\n%s", d)
			}
		})
	}
}

// Every command explains itself in --help.
func TestCLICommandsHaveShortHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"connections", "grants", "tokens", "users", "service-principals", "groups", "whoami", "GATEHOUSE_HOST"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("gatehouse --help does not mention %q", w)
		}
	}
	for _, group := range []string{"connections", "grants", "tokens", "users", "service-principals", "groups"} {
		var out bytes.Buffer
		if err := run(t.Context(), []string{group, "--help"}, func(string) string { return "" }, nil, &out, &out); err != nil {
			t.Fatal(err)
		}
		for l := range strings.Lines(out.String()) {
			// Subcommand lines read "  name   Short"; a missing Short leaves the name alone.
			if f := strings.Fields(l); strings.HasPrefix(l, "  ") && len(f) == 1 && !strings.HasPrefix(f[0], "-") && !strings.Contains(l, "gatehouse") {
				t.Errorf("gatehouse %s: subcommand %q has no Short description", group, f[0])
			}
		}
	}
}
