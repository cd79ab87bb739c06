// Package pgtest gives tests a real PostgreSQL: the server named by
// GATEHOUSE_TEST_POSTGRES_DSN when it is set, otherwise a throwaway cluster made with
// initdb and pg_ctl (PostgreSQL 15 or later on PATH) in a temporary folder, listening
// only on a Unix socket in that folder, and removed when the tests end. Each test gets
// its own database. A test that needs PostgreSQL fails — never skips — when none can be
// started, so CI cannot pass without it.
//
// When the tests run as root (CI containers do), the cluster runs as the "postgres"
// user (else "nobody"), since PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that points the tests at an existing server instead; its
// role must be allowed to create databases.
const EnvDSN = "GATEHOUSE_TEST_POSTGRES_DSN"

// Cluster is one PostgreSQL server for tests.
type Cluster struct {
	// DSN reaches the cluster's maintenance database ("postgres") as a superuser, or is
	// the DSN of EnvDSN.
	DSN string

	dir      string // "" for an external server
	cred     *syscall.Credential
	external bool
}

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the cluster of this test binary, starting it on first use. Call
// StopShared from TestMain after m.Run so that the cluster goes away with the tests.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		t.Fatalf("pgtest: PostgreSQL is needed and could not be started: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared cluster if one was started.
func StopShared() {
	if shared != nil {
		_ = shared.Stop()
	}
}

// Main is a TestMain body for packages that use Shared: it runs the tests, then stops
// the cluster.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// Start returns the server of EnvDSN, or makes and starts a new cluster.
func Start() (*Cluster, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &Cluster{DSN: dsn, external: true}, nil
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return nil, fmt.Errorf("initdb is not on PATH (install PostgreSQL 15 or set %s): %w", EnvDSN, err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	if os.Geteuid() == 0 {
		if c.cred, err = runAs(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command(initdb, "-D", data, "-U", "gatehouse", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := c.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.DSN = (&url.URL{Scheme: "postgres", User: url.User("gatehouse"), Path: "/postgres", RawQuery: "host=" + url.QueryEscape(dir)}).String()
	return c, nil
}

// runAs picks the unprivileged user the cluster runs as when the tests are root.
func runAs() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Dir = c.dir
	}
	return cmd
}

func (c *Cluster) pgctl(args ...string) error {
	pgctl, err := exec.LookPath("pg_ctl")
	if err != nil {
		return fmt.Errorf("pg_ctl is not on PATH: %w", err)
	}
	all := append([]string{"-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log")}, args...)
	out, err := c.command(pgctl, all...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl %s: %w: %s\n%s", args[len(args)-1], err, strings.TrimSpace(string(out)), tail(log, 2000))
	}
	return nil
}

func (c *Cluster) start() error {
	opts := "-c listen_addresses='' -c unix_socket_directories='" + c.dir + "' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
	return c.pgctl("-w", "-t", "60", "-o", opts, "start")
}

// Stop stops the cluster and removes its folder (an external server is left alone).
func (c *Cluster) Stop() error {
	if c.external {
		return nil
	}
	err := c.pgctl("-w", "-m", "immediate", "stop")
	_ = os.RemoveAll(c.dir)
	return err
}

// Restart stops the server (fast shutdown: every connection is cut) and starts it
// again, for tests of what clients do when the database goes away. An external server
// cannot be restarted.
func (c *Cluster) Restart() error {
	if c.external {
		return errors.New("pgtest: cannot restart an external server")
	}
	if err := c.pgctl("-w", "-m", "fast", "stop"); err != nil {
		return err
	}
	return c.start()
}

// StopServer stops the server without removing its data; StartServer starts it again.
// Between the two every connection attempt fails.
func (c *Cluster) StopServer() error {
	if c.external {
		return errors.New("pgtest: cannot stop an external server")
	}
	return c.pgctl("-w", "-m", "fast", "stop")
}

// StartServer starts a server stopped by StopServer.
func (c *Cluster) StartServer() error { return c.start() }

// NewDatabase creates an empty database for one test and returns its DSN; the database
// is dropped when the test ends.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "gh_" + hex.EncodeToString(b[:])
	if err := c.exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := c.exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(c.DSN, name)
}

func (c *Cluster) exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn with its database replaced by name (URL or keyword/value form).
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
