package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// syncBuffer is a bytes.Buffer safe for a server writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a real Gatehouse started through run on 127.0.0.1:0.
type testServer struct {
	t       testing.TB
	URL     string
	Admin   string // admin token
	DataDir string
	Stdout  *syncBuffer
	Stderr  *syncBuffer
	env     map[string]string
	stop    context.CancelFunc
	done    chan error
	// responses records every response body the test saw, for canary scans.
	responses *syncBuffer
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runServer starts the server through run in dataDir with exactly env and waits until
// it listens (ts.URL); it fails the test if the server exits or does not start in time.
func runServer(t testing.TB, dataDir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{t: t, DataDir: dataDir, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, env: env, stop: cancel, done: make(chan error, 1), responses: &syncBuffer{}}
	argv := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)
	go func() { ts.done <- run(ctx, argv, mapEnv(env), strings.NewReader(""), ts.Stdout, ts.Stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := ts.Stdout.String()
		if i := strings.Index(out, "Gatehouse is listening on "); i >= 0 {
			rest := out[i+len("Gatehouse is listening on "):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				ts.URL = rest[:j]
				break
			}
		}
		select {
		case err := <-ts.done:
			cancel()
			t.Fatalf("server exited before listening: %v\nstderr:\n%s", err, ts.Stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start; stderr:\n%s", ts.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ts
}

// startServer starts the server in dataDir ("" for a new temporary one) with the extra
// environment, and stops it when the test ends.
func startServer(t testing.TB, dataDir string, extraEnv map[string]string, args ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	env := map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": identity.NewTokenValue()}
	for k, v := range extraEnv {
		env[k] = v
	}
	ts := runServer(t, dataDir, env, args...)
	ts.Admin = env["GATEHOUSE_BOOTSTRAP_TOKEN"]
	t.Cleanup(func() { ts.Stop() })
	// The tests' upstreams and authorization servers listen on loopback, which the
	// network policy refuses unless a range opens it, as a deployment would for a
	// private API.
	ts.setPolicy(loopbackOnly)
	return ts
}

// Stop shuts the server down and waits for run to return; it may be called twice.
func (ts *testServer) Stop() {
	ts.stop()
	if ts.done == nil {
		return
	}
	select {
	case err := <-ts.done:
		if err != nil {
			ts.t.Errorf("server returned %v", err)
		}
	case <-time.After(30 * time.Second):
		ts.t.Errorf("server did not stop within 30s")
	}
	ts.done = nil
}

// do sends a request and returns the status and body. body may be nil, a string (sent
// as is) or a value encoded as JSON.
func (ts *testServer) do(method, path, token string, body any) (int, []byte) {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if resp.Header.Get("X-Gatehouse-Request-Id") == "" {
		ts.t.Errorf("%s %s: response has no X-Gatehouse-Request-Id", method, path)
	}
	ts.responses.Write(out)
	for k, vs := range resp.Header {
		ts.responses.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
	}
	return resp.StatusCode, out
}

// must sends a request that must answer 2xx and decodes the answer into out (if not nil).
func (ts *testServer) must(method, path, token string, body, out any) {
	ts.t.Helper()
	status, b := ts.do(method, path, token, body)
	if status/100 != 2 {
		ts.t.Fatalf("%s %s = %d %s, want 2xx", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// cli runs a gatehouse CLI command against the server with the token and returns stdout.
func (ts *testServer) cli(token string, stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := map[string]string{"GATEHOUSE_HOST": ts.URL, "GATEHOUSE_TOKEN": token, "HOME": ts.t.TempDir()}
	err := run(context.Background(), args, mapEnv(env), strings.NewReader(stdin), &out, &errOut)
	ts.responses.Write(out.Bytes())
	ts.responses.Write(errOut.Bytes())
	if err != nil {
		// main prints a returned error; include it as a user would see it.
		return out.String() + errOut.String() + "gatehouse: " + err.Error(), err
	}
	return out.String(), nil
}

type apiErr struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func decodeErr(t testing.TB, b []byte) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(b, &e); err != nil || e.ErrorCode == "" || e.Message == "" || e.RequestID == "" {
		t.Fatalf("not an error envelope: %s (%v)", b, errors.Join(err))
	}
	return e
}

// mkUser creates a user and returns its id and a fresh token for it.
func (ts *testServer) mkUser(name string) (id, token string) {
	ts.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	ts.must("POST", "/api/2.0/preview/scim/v2/Users", ts.Admin, map[string]any{"userName": name}, &u)
	var tok struct {
		TokenValue string `json:"token_value"`
	}
	ts.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", ts.Admin, map[string]any{"user_name": name, "comment": "test"}, &tok)
	return u.ID, tok.TokenValue
}

// mkGroup creates a group with the given member ids and returns its id.
func (ts *testServer) mkGroup(name string, memberIDs ...string) string {
	ts.t.Helper()
	members := []map[string]string{}
	for _, m := range memberIDs {
		members = append(members, map[string]string{"value": m})
	}
	var g struct {
		ID string `json:"id"`
	}
	ts.must("POST", "/api/2.0/preview/scim/v2/Groups", ts.Admin, map[string]any{"displayName": name, "members": members}, &g)
	return g.ID
}

func (ts *testServer) grant(securable, name, principal string, privs ...string) {
	ts.t.Helper()
	ts.must("PATCH", "/api/2.1/unity-catalog/permissions/"+securable+"/"+name, ts.Admin,
		map[string]any{"changes": []map[string]any{{"principal": principal, "add": privs}}}, nil)
}

func newRequest(method, url, body string) (*http.Request, error) {
	return http.NewRequest(method, url, strings.NewReader(body))
}

func send(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
