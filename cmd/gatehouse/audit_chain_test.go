package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var headRE = regexp.MustCompile(`head hash: ([0-9a-f]{64})`)

// verifyHead runs audit verify (with the args) until the log holds at least min events
// (the recorder writes in the background; the wait is bounded) and returns the head it
// printed.
func verifyHead(t *testing.T, ts *testServer, min int, args ...string) string {
	t.Helper()
	countRE := regexp.MustCompile(`audit chain intact: (\d+) events`)
	for i := 0; i < 200; i++ {
		out, err := ts.cli(ts.Admin, "", append([]string{"audit", "verify"}, args...)...)
		c, m := countRE.FindStringSubmatch(out), headRE.FindStringSubmatch(out)
		if err != nil || c == nil || m == nil {
			t.Fatalf("audit verify %v: %v\n%s", args, err, out)
		}
		if n, _ := strconv.Atoi(c[1]); n >= min {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the audit log did not reach %d events", min)
	return ""
}

// copyDataDir copies a stopped server's data folder (the store and its WAL files).
func copyDataDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// storedAudit reads the whole audit log of a stopped server's data folder.
func storedAudit(t *testing.T, dir string) []*catalog.AuditEvent {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []*catalog.AuditEvent
	var after int64
	for range 100 {
		page, err := st.ListAudit(t.Context(), catalog.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		after = page[len(page)-1].Seq
	}
	t.Fatal("audit log longer than the test expects")
	return nil
}

// rewriteAudit writes the principal, decision and hashes of events back to the store,
// as someone with write access to the SQLite file (but not the master key) would.
func rewriteAudit(t *testing.T, dir string, events []*catalog.AuditEvent) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, e := range events {
		if _, err := db.ExecContext(t.Context(), "UPDATE audit_events SET principal = ?, decision = ?, prev_hash = ?, hash = ? WHERE seq = ?",
			e.Principal, e.Decision, e.PrevHash, e.Hash, e.Seq); err != nil {
			t.Fatalf("rewrite event %d: %v", e.Seq, err)
		}
	}
}

// rechain recomputes the hashes from index i on with hash (HashOf, or another key's).
func rechain(events []*catalog.AuditEvent, i int, hash func(prev string, c audit.Canonical) string) {
	for ; i < len(events); i++ {
		if i > 0 {
			events[i].PrevHash = events[i-1].Hash
		}
		events[i].Hash = hash(events[i].PrevHash, audit.LinkOf(events[i]).Canonical)
	}
}

// startFails runs the server on dir and returns the error it stopped with; it fails the
// test if the server starts.
func startFails(t *testing.T, dir string, env map[string]string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	argv := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dir}, args...)
	err := run(ctx, argv, mapEnv(env), strings.NewReader(""), &out, &errOut)
	if err == nil || strings.Contains(out.String(), "Gatehouse is listening on") {
		t.Fatalf("the server started (err %v); stdout:\n%s", err, out.String())
	}
	return err
}

// TestAuditVerifyKeyedChain is the permanent table of attacks on the audit log by
// someone who can write the store but does not hold the master key: each edits a copy
// of a real server's SQLite file, and then the server refuses to start on it or
// `gatehouse audit verify` fails; `--head` catches events cut off the end.
func TestAuditVerifyKeyedChain(t *testing.T) {
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xb2}, 32))
	otherChain, err := audit.ChainKey(bytes.Repeat([]byte{0xb2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts := startServer(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA})
	admin := ts.Admin
	for i := range 3 {
		ts.mkUser(fmt.Sprintf("user%d@example.com", i))
	}
	// The policy change and two events (user, token) per user.
	h1 := verifyHead(t, ts, 7)
	ts.mkUser("late@example.com")
	h2 := verifyHead(t, ts, 9, "--head", h1)
	ts.Stop()
	events := storedAudit(t, dir)
	if len(events) < 6 {
		t.Fatalf("only %d audit events", len(events))
	}
	mid := len(events) / 2
	env := func(key string) map[string]string {
		return map[string]string{"GATEHOUSE_MASTER_KEY": key, "GATEHOUSE_BOOTSTRAP_TOKEN": admin}
	}
	type check struct {
		args    []string
		wantErr string // "" means intact
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		// startErr, when set, is what a plain restart must fail with; the checks then
		// run on a server started with startArgs.
		startErr  string
		startArgs []string
		checks    []check
	}{
		{
			name:   "untouched",
			tamper: func(*testing.T, string) {},
			checks: []check{{nil, ""}, {[]string{"--head", h1}, ""}, {[]string{"--head", h2}, ""}},
		},
		{
			name: "field changed",
			tamper: func(t *testing.T, dir string) {
				ev := storedAudit(t, dir)
				ev[mid].Principal = "mallory"
				rewriteAudit(t, dir, ev[mid:mid+1])
			},
			checks: []check{{nil, fmt.Sprintf("#%d", mid)}, {nil, "the event was changed"}},
		},
		{
			name: "field changed, rest rehashed unkeyed",
			tamper: func(t *testing.T, dir string) {
				ev := storedAudit(t, dir)
				ev[mid].Decision = catalog.DecisionAllow + "X"
				rechain(ev, mid, audit.HashOf)
				rewriteAudit(t, dir, ev[mid:])
			},
			startErr:  "the newest audit event has an unkeyed hash",
			startArgs: []string{"--audit-anchor-legacy-chain"},
			checks:    []check{{nil, "unkeyed hash after the keyed chain began"}},
		},
		{
			name: "field changed, rest rehashed with another key",
			tamper: func(t *testing.T, dir string) {
				ev := storedAudit(t, dir)
				ev[mid].Principal = "mallory"
				rechain(ev, mid, func(prev string, c audit.Canonical) string { return audit.KeyedHashOf(otherChain, prev, c) })
				rewriteAudit(t, dir, ev[mid:])
			},
			checks: []check{{nil, "hashed with another key"}},
		},
		{
			// An operator who accepts a rewritten log as legacy (the one decision the
			// chain cannot take for them) is still caught by a head saved elsewhere.
			name: "whole log rewritten unkeyed",
			tamper: func(t *testing.T, dir string) {
				ev := storedAudit(t, dir)
				ev[1].Principal = "mallory"
				rechain(ev, 0, audit.HashOf)
				rewriteAudit(t, dir, ev)
			},
			startErr:  "the newest audit event has an unkeyed hash",
			startArgs: []string{"--audit-anchor-legacy-chain"},
			checks:    []check{{nil, ""}, {[]string{"--head", h1}, "does not contain the saved head"}},
		},
		{
			name: "last events cut off",
			tamper: func(t *testing.T, dir string) {
				db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				res, err := db.ExecContext(t.Context(), "DELETE FROM audit_events WHERE seq > (SELECT seq FROM audit_events WHERE hash = ?)", h1)
				if n, _ := res.RowsAffected(); err != nil || n == 0 {
					t.Fatalf("cut the log: %d rows, %v", n, err)
				}
			},
			checks: []check{{nil, ""}, {[]string{"--head", h1}, ""}, {[]string{"--head", h2}, "does not contain the saved head " + h2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := copyDataDir(t, dir)
			tt.tamper(t, d)
			if tt.startErr != "" {
				if err := startFails(t, d, env(keyA)); !strings.Contains(err.Error(), tt.startErr) {
					t.Fatalf("restart on the tampered log: %v, want %q", err, tt.startErr)
				}
			}
			s := startServer(t, d, env(keyA), tt.startArgs...)
			for _, c := range tt.checks {
				out, err := s.cli(admin, "", append([]string{"audit", "verify"}, c.args...)...)
				if c.wantErr == "" {
					if err != nil || !strings.Contains(out, "audit chain intact") {
						t.Errorf("audit verify %v: %v\n%s; want intact", c.args, err, out)
					}
					continue
				}
				if err == nil {
					t.Errorf("audit verify %v passed on a tampered log:\n%s", c.args, out)
				} else if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("audit verify %v: %v; want it to say %q", c.args, err, c.wantErr)
				}
			}
		})
	}
	t.Run("wrong master key", func(t *testing.T) {
		err := startFails(t, copyDataDir(t, dir), env(keyB))
		if !strings.Contains(err.Error(), "master key") {
			t.Errorf("start with another master key: %v, want a master key error", err)
		}
	})
}
