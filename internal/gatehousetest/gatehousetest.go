// Package gatehousetest runs a whole real Gatehouse server in its own process for
// tests that need one (browser tests, scale-out tests): it builds ./cmd/gatehouse once
// per test binary, starts `gatehouse server` on a free loopback port with a temporary
// data folder and master key, waits until /readyz answers, and stops the process when
// the test ends. The server's log (stderr) and its messages to the operator (stdout:
// the first start's banner, which shows the admin token once, by design) are captured
// to files, for canary scans and for the failure report.
//
// Because the server is a separate process, a package of such tests builds and runs in
// parallel with cmd/gatehouse's own tests. Call Main from the package's TestMain so
// that the built binary is removed afterwards:
//
//	func TestMain(m *testing.M) { os.Exit(gatehousetest.Main(m)) }
//
// The API is small on purpose and kept stable: Start, the Server's fields, Do, Must,
// MakeUser, MakeConnection, Grant, Log, Output and Stop.
package gatehousetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// ReadyTimeout bounds how long Start waits for the server's /readyz.
const ReadyTimeout = 60 * time.Second

// The gatehouse binary, built once per test binary.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// Binary returns the path of the gatehouse binary, building ./cmd/gatehouse into a
// temporary folder on first use; it fails the test when the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "gatehousetest-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/gatehouse/gatehouse/cmd/gatehouse")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/gatehouse: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("gatehousetest: build gatehouse: %v", binErr)
	}
	return binPath
}

// Main runs the package's tests and then removes the binary Binary built. Call it
// from TestMain: os.Exit(gatehousetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	return code
}

// Options configure Start. The zero value is a server on SQLite with defaults.
type Options struct {
	// Args are extra server flags, e.g. "--oidc-issuer", url. --listen, --data-dir,
	// --public-url and --master-key-file are set by Start (a --public-url in Args
	// overrides Start's, which is the server's own http://127.0.0.1:PORT).
	Args []string
	// Env holds extra environment variables (GATEHOUSE_*) of the process.
	Env map[string]string
	// KeepNetworkPolicy leaves the network policy as the server starts it. By default
	// Start opens loopback (127.0.0.0/8, ::1) once the server is ready, because the
	// tests' providers and upstreams listen there, as a private API would.
	KeepNetworkPolicy bool
}

// Server is a running gatehouse server process.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT (also its public URL unless
	// Options.Args sets another).
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string
	// Admin is the bootstrap admin token (GATEHOUSE_BOOTSTRAP_TOKEN).
	Admin string
	// DataDir is the server's --data-dir.
	DataDir string

	t          testing.TB
	logPath    string // stderr
	outputPath string // stdout
	client     *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// LoopbackPolicy is the network policy Start sets unless Options.KeepNetworkPolicy:
// every destination, loopback included.
var LoopbackPolicy = map[string]any{"restriction_mode": "FULL_ACCESS", "enforcement_mode": "ENFORCED",
	"allowed_ip_ranges": []string{"127.0.0.0/8", "::1/128"}}

// Start starts a server and waits until it is ready; it is stopped when the test ends
// (and its log tail reported if the test failed).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{t: t, Admin: identity.NewTokenValue(), DataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "server.log"),
		outputPath: filepath.Join(dir, "server.out"),
		client:     &http.Client{Timeout: 30 * time.Second}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gatehousetest: pick a port: %v", err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	s.URL = "http://" + s.Addr
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatalf("gatehousetest: %v", err)
	}
	args := append([]string{"server", "--listen", s.Addr, "--data-dir", s.DataDir, "--public-url", s.URL,
		"--master-key-file", keyFile}, opts.Args...)
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("gatehousetest: %v", err)
	}
	outf, err := os.OpenFile(s.outputPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		logf.Close()
		t.Fatalf("gatehousetest: %v", err)
	}
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_BOOTSTRAP_TOKEN="+s.Admin)
	for k, v := range opts.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = outf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		outf.Close()
		t.Fatalf("gatehousetest: start gatehouse: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); outf.Close(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("gatehouse server output:\n%s\ngatehouse server log (tail):\n%s", tail(s.Output(), 2000), tail(s.Log(), 6000))
		}
	})
	if err := s.waitReady(); err != nil {
		t.Fatal(err)
	}
	if !opts.KeepNetworkPolicy {
		s.Must("PUT", "/api/2.0/gatehouse/network-policy", s.Admin, LoopbackPolicy, nil)
	}
	return s
}

// waitReady polls /readyz until it answers 200, the process exits, or ReadyTimeout.
func (s *Server) waitReady() error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := hc.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("gatehousetest: the server exited before it was ready; output:\n%s\nlog:\n%s", tail(s.Output(), 2000), tail(s.Log(), 4000))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gatehousetest: the server was not ready within %s; log:\n%s", ReadyTimeout, tail(s.Log(), 4000))
		}
	}
}

// Stop ends the process (SIGINT, then SIGKILL after 15 s) and waits for it; it may be
// called more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Log returns the server's log so far (what it wrote to stderr): no secret may
// appear in it.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Output returns what the server wrote to stdout so far: its messages to the
// operator, among them the first start's banner with the admin token.
func (s *Server) Output() string {
	b, _ := os.ReadFile(s.outputPath)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Do sends a request to the server and returns the status and body. token, when
// not empty, is sent as the bearer token; body, when not nil, is a string or []byte
// sent as is, or a value sent as JSON. A transport error fails the test.
func (s *Server) Do(method, path, token string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("gatehousetest: encode the body of %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatalf("gatehousetest: %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("gatehousetest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("gatehousetest: %s %s: read the answer: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// Must sends a request that must answer 2xx and decodes the answer into out (if not
// nil); anything else fails the test.
func (s *Server) Must(method, path, token string, body, out any) {
	s.t.Helper()
	status, b := s.Do(method, path, token, body)
	if status/100 != 2 {
		s.t.Fatalf("%s %s = %d %s, want 2xx", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// MakeUser creates an active user (SCIM) and returns its id and a personal access
// token for it that the admin minted.
func (s *Server) MakeUser(name string) (id, token string) {
	s.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	s.Must("POST", "/api/2.0/preview/scim/v2/Users", s.Admin, map[string]any{"userName": name}, &u)
	var tok struct {
		TokenValue string `json:"token_value"`
	}
	s.Must("POST", "/api/2.0/token-management/on-behalf-of/tokens", s.Admin, map[string]any{"user_name": name, "comment": "gatehousetest"}, &tok)
	return u.ID, tok.TokenValue
}

// MakeConnection creates an HTTP connection as the admin. credentialType "" is the
// default (a bearer connection); options are the connection's options.
func (s *Server) MakeConnection(name, credentialType string, options map[string]string) {
	s.t.Helper()
	body := map[string]any{"name": name, "connection_type": "HTTP", "options": options}
	if credentialType != "" {
		body["credential_type"] = credentialType
	}
	s.Must("POST", "/api/2.1/unity-catalog/connections", s.Admin, body, nil)
}

// Grant adds privileges on a securable ("connection" or "metastore") to a principal,
// as the admin.
func (s *Server) Grant(securable, name, principal string, privileges ...string) {
	s.t.Helper()
	s.Must("PATCH", "/api/2.1/unity-catalog/permissions/"+securable+"/"+name, s.Admin,
		map[string]any{"changes": []map[string]any{{"principal": principal, "add": privileges}}}, nil)
}
