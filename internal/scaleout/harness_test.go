package scaleout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// clusterOptions configure newCluster.
type clusterOptions struct {
	// Replicas is how many gatehouse processes to start (default 3).
	Replicas int
	// SQLite runs one replica on the embedded store instead of PostgreSQL.
	SQLite bool
	// Args are extra server flags for every replica (e.g. --upstream-ca-file).
	Args []string
	// Together starts every replica at once on the empty database (migrations and
	// the first admin race); by default replica 0 starts first.
	Together bool
}

// cluster is N gatehouse replicas sharing one PostgreSQL database (or, with SQLite,
// one replica on its data folder), one master key and one public URL.
type cluster struct {
	t         testing.TB
	pg        *pgtest.Cluster // nil with SQLite
	dbDSN     string          // the test database, without application_name
	Admin     string          // the bootstrap admin token
	PublicURL string          // every replica's --public-url: replica 0's address
	keyFile   string
	args      []string
	sqlite    bool
	Replicas  []*replica
}

// replica is one gatehouse server process.
type replica struct {
	c       *cluster
	Index   int
	AppName string // application_name of its PostgreSQL connections
	Addr    string // 127.0.0.1:PORT, kept across restarts
	URL     string
	dataDir string
	logPath string
	starts  int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// newCluster starts the replicas and waits until every one is ready. Replica 0
// starts first (it applies the migrations and creates the admin); the others then
// start together.
func newCluster(t testing.TB, opts clusterOptions) *cluster {
	t.Helper()
	if opts.Replicas <= 0 {
		opts.Replicas = 3
	}
	c := &cluster{t: t, Admin: identity.NewTokenValue(), args: opts.Args, sqlite: opts.SQLite}
	if opts.SQLite {
		opts.Replicas = 1
	} else {
		c.pg = pgtest.Shared(t)
		c.dbDSN = c.pg.NewDatabase(t)
	}
	dir := t.TempDir()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.keyFile = filepath.Join(dir, "master.key")
	if err := os.WriteFile(c.keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < opts.Replicas; i++ {
		r := &replica{c: c, Index: i, AppName: fmt.Sprintf("gatehouse-replica-%d", i), Addr: freeAddr(t), dataDir: filepath.Join(dir, fmt.Sprintf("data-%d", i))}
		r.URL = "http://" + r.Addr
		r.logPath = filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
		c.Replicas = append(c.Replicas, r)
	}
	c.PublicURL = c.Replicas[0].URL
	t.Cleanup(func() {
		for _, r := range c.Replicas {
			r.stop()
		}
		if t.Failed() {
			for _, r := range c.Replicas {
				t.Logf("log of %s:\n%s", r.AppName, r.logTail(6000))
			}
		}
	})
	rest := c.Replicas
	if !opts.Together {
		c.Replicas[0].start()
		c.Replicas[0].waitReady()
		// Set before the other replicas start, so that each loads it at start and no
		// test depends on the policy's propagation.
		c.Replicas[0].must("PUT", "/api/2.0/gatehouse/network-policy", c.Admin, gatehousetest.LoopbackPolicy, nil)
		rest = c.Replicas[1:]
	}
	for _, r := range rest {
		r.start()
	}
	errs := make([]error, len(rest))
	var wg sync.WaitGroup
	for i, r := range rest {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.waitReadyErr() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// freeAddr picks a free loopback port (replicas keep their address across restarts,
// and every replica's public URL is known before the first one starts).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// storeArg is the replica's --store value: the test database with the replica's own
// application_name, so that pg_stat_activity tells its connections apart.
func (r *replica) storeArg() string {
	u, err := url.Parse(r.c.dbDSN)
	if err != nil {
		r.c.t.Fatalf("pgtest DSN does not parse: %v", err)
	}
	q := u.Query()
	q.Set("application_name", r.AppName)
	u.RawQuery = q.Encode()
	return u.String()
}

// start starts the process (again, after a kill) on the replica's address.
func (r *replica) start() {
	t := r.c.t
	t.Helper()
	args := []string{"server", "--listen", r.Addr, "--data-dir", r.dataDir, "--public-url", r.c.PublicURL,
		"--master-key-file", r.c.keyFile, "--log-level", "warn"}
	if !r.c.sqlite {
		args = append(args, "--store", r.storeArg())
	}
	args = append(args, r.c.args...)
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	r.starts++
	fmt.Fprintf(logf, "=== start %d of %s\n", r.starts, r.AppName)
	cmd := exec.Command(gatehousetest.Binary(t), args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_BOOTSTRAP_TOKEN="+r.c.Admin)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", r.AppName, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
}

// waitReady waits (at most 60 s) until /readyz answers 200, failing the test if the
// process exits first.
func (r *replica) waitReady() {
	r.c.t.Helper()
	if err := r.waitReadyErr(); err != nil {
		r.c.t.Fatal(err)
	}
}

func (r *replica) waitReadyErr() error {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := hc.Get(r.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready; log:\n%s", r.AppName, r.logTail(4000))
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within 60s; log:\n%s", r.AppName, r.logTail(4000))
		}
	}
}

// kill sends SIGKILL (kill -9) and waits until the process is gone.
func (r *replica) kill() {
	r.c.t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.c.t.Fatalf("%s did not die within 10s of SIGKILL", r.AppName)
	}
}

// restart starts a killed replica again and waits until it is ready.
func (r *replica) restart() {
	r.c.t.Helper()
	r.start()
	r.waitReady()
}

// stop ends the process (SIGTERM, then SIGKILL after 15 s).
func (r *replica) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (r *replica) logTail(n int) string {
	b, _ := os.ReadFile(r.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// apiClient is the client of every API call the tests make; callers that must not
// share connections make their own.
var apiClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// do sends a request to the replica and returns the status and body; a transport
// error is status 0 with the error as body.
func (r *replica) do(method, path, token string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, []byte(err.Error())
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, r.URL+path, rd)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must sends a request that must answer 2xx, decoding the answer into out if not nil.
func (r *replica) must(method, path, token string, body, out any) {
	t := r.c.t
	t.Helper()
	status, b := r.do(method, path, token, body)
	if status/100 != 2 {
		t.Fatalf("%s: %s %s = %d %s, want 2xx", r.AppName, method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %s %s: decode %s: %v", r.AppName, method, path, b, err)
		}
	}
}

// call calls path below the connection's proxy as token and returns the status and
// body.
func (r *replica) call(token, conn, path string) (int, []byte) {
	return r.do("GET", "/api/2.0/unity-catalog/connections/"+conn+"/proxy"+path, token, nil)
}

// mkUser creates a user and returns its id, a token for it and the token's id.
func (r *replica) mkUser(name string) (id, token, tokenID string) {
	r.c.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	r.must("POST", "/api/2.0/preview/scim/v2/Users", r.c.Admin, map[string]any{"userName": name}, &u)
	var tok struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID string `json:"token_id"`
		} `json:"token_info"`
	}
	r.must("POST", "/api/2.0/token-management/on-behalf-of/tokens", r.c.Admin, map[string]any{"user_name": name, "comment": "scaleout"}, &tok)
	return u.ID, tok.TokenValue, tok.TokenInfo.TokenID
}

// grant adds privileges on a securable.
func (r *replica) grant(securable, name, principal string, privs ...string) {
	r.c.t.Helper()
	r.must("PATCH", "/api/2.1/unity-catalog/permissions/"+securable+"/"+name, r.c.Admin,
		map[string]any{"changes": []map[string]any{{"principal": principal, "add": privs}}}, nil)
}

// mkConnection creates a connection (credential type "" is a bearer connection).
func (r *replica) mkConnection(name, credType string, opts map[string]string) {
	r.c.t.Helper()
	body := map[string]any{"name": name, "options": opts}
	if credType != "" {
		body["credential_type"] = credType
	}
	r.must("POST", "/api/2.1/unity-catalog/connections", r.c.Admin, body, nil)
}

// auditVerify asks the replica to verify the whole audit chain.
func (r *replica) auditVerify() (intact bool, events int, raw string) {
	r.c.t.Helper()
	status, b := r.do("GET", "/api/2.0/gatehouse/audit/verify", r.c.Admin, nil)
	if status != 200 {
		r.c.t.Fatalf("%s: audit verify = %d %s", r.AppName, status, b)
	}
	var v struct {
		Intact bool `json:"intact"`
		Events int  `json:"events"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		r.c.t.Fatalf("%s: audit verify: %s: %v", r.AppName, b, err)
	}
	return v.Intact, v.Events, string(b)
}

// lockHolder is one granted advisory lock: the replica whose connection holds it.
type lockHolder struct {
	AppName        string
	ClassID, ObjID uint32
	Waiters        int // connections waiting for the same lock
}

// advisoryLocks lists the granted advisory locks in the test database with the
// application_name of their holder and how many others wait for each.
func (c *cluster) advisoryLocks(ctx context.Context) ([]lockHolder, error) {
	conn, err := pgx.Connect(ctx, c.dbDSN)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT a.application_name, l.classid::bigint, l.objid::bigint,
		       (SELECT count(*) FROM pg_locks w
		         WHERE w.locktype = 'advisory' AND NOT w.granted AND w.database = l.database
		           AND w.classid = l.classid AND w.objid = l.objid AND w.objsubid = l.objsubid)
		  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		 WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lockHolder
	for rows.Next() {
		var h lockHolder
		var classID, objID, waiters int64
		if err := rows.Scan(&h.AppName, &classID, &objID, &waiters); err != nil {
			return nil, err
		}
		h.ClassID, h.ObjID, h.Waiters = uint32(classID), uint32(objID), int(waiters)
		out = append(out, h)
	}
	return out, rows.Err()
}

// replicaByApp returns the replica of an application_name, or nil.
func (c *cluster) replicaByApp(app string) *replica {
	for _, r := range c.Replicas {
		if r.AppName == app {
			return r
		}
	}
	return nil
}

// containsAny reports whether s contains one of subs.
func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
