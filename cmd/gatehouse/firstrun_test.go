package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var printedTokenRE = regexp.MustCompile(`(?m)^    (` + regexp.QuoteMeta(identity.TokenPrefix) + `\S+)$`)

// launch starts the server like startServer but with exactly env (no bootstrap token
// unless env has one) and no policy change; Admin is the token it printed, if any.
func launch(t *testing.T, dir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	ts := runServer(t, dir, env, args...)
	if m := printedTokenRE.FindStringSubmatch(ts.Stdout.String()); m != nil {
		ts.Admin = m[1]
	}
	t.Cleanup(func() { ts.Stop() })
	return ts
}

// storedUsers lists the users in a stopped server's store.
func storedUsers(t *testing.T, dir string) []*catalog.Principal {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	us, err := st.ListPrincipals(t.Context(), catalog.KindUser)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// TestFirstRunBindsBeforeBootstrap: a first start that cannot bind a listener fails
// before it creates the admin, so the next start creates it and prints its token.
func TestFirstRunBindsBeforeBootstrap(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"api port in use", []string{"--listen", busy.Addr().String()}, "listen:"},
		{"egress port in use", []string{"--egress-listen", busy.Addr().String()}, "egress-listen:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			err := run(ctx, append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dir}, tc.args...), mapEnv(map[string]string{}), strings.NewReader(""), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start with the port in use = %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(out.String(), identity.TokenPrefix) || strings.Contains(out.String(), "Created user admin") {
				t.Fatalf("the failed start printed a token:\n%s", out.String())
			}
			if us := storedUsers(t, dir); len(us) != 0 {
				t.Fatalf("the failed start created %d users, want none", len(us))
			}
			ts := launch(t, dir, map[string]string{})
			if ts.Admin == "" || !strings.Contains(ts.Stdout.String(), "Created user admin") {
				t.Fatalf("the second start printed no admin token:\n%s", ts.Stdout.String())
			}
			if out, err := ts.cli(ts.Admin, "", "whoami"); err != nil || !strings.Contains(out, "admin") {
				t.Fatalf("whoami with the printed token = %q, %v", out, err)
			}
		})
	}
}

// TestFirstRunBootstrapTokenIgnoredWarns: GATEHOUSE_BOOTSTRAP_TOKEN on a store that has
// its admin is not silently ignored, and it does not become a token.
func TestFirstRunBootstrapTokenIgnoredWarns(t *testing.T) {
	dir := t.TempDir()
	first := launch(t, dir, map[string]string{})
	if first.Admin == "" {
		t.Fatalf("first start printed no token:\n%s", first.Stdout.String())
	}
	first.Stop()
	late := identity.NewTokenValue()
	ts := launch(t, dir, map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": late})
	const warning = "ignored: the store already has an admin; use gatehouse admin recover"
	if !strings.Contains(ts.Stderr.String(), warning) || !strings.Contains(ts.Stderr.String(), "level=WARN") {
		t.Fatalf("stderr has no warning %q:\n%s", warning, ts.Stderr.String())
	}
	if strings.Contains(ts.Stdout.String()+ts.Stderr.String(), late) {
		t.Fatal("the ignored bootstrap token was printed")
	}
	if ts.Admin != "" {
		t.Fatalf("the second start printed a token")
	}
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", late, nil); status != 401 {
		t.Fatalf("the ignored bootstrap token answers %d, want 401", status)
	}
	if status, _ := ts.do("GET", "/api/2.0/preview/scim/v2/Me", first.Admin, nil); status != 200 {
		t.Fatalf("the first admin token answers %d, want 200", status)
	}
}

// recoverRun runs `gatehouse admin recover` with env and args.
func recoverRun(t *testing.T, dir string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"admin", "recover", "--data-dir", dir}, args...), mapEnv(env), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestAdminRecover: `gatehouse admin recover` with the server stopped and the master key
// mints a working admin token, audited in the keyed chain; it refuses a wrong key and a
// running server and then changes nothing.
func TestAdminRecover(t *testing.T) {
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xb2}, 32))
	dir := t.TempDir()
	ts := launch(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA})
	if ts.Admin == "" {
		t.Fatal("no token printed")
	}
	lost := ts.Admin
	// The admin loses its only token.
	var list struct {
		TokenInfos []struct {
			TokenID string `json:"token_id"`
		} `json:"token_infos"`
	}
	ts.must("GET", "/api/2.0/token/list", lost, nil, &list)
	if len(list.TokenInfos) != 1 {
		t.Fatalf("tokens = %+v", list)
	}

	t.Run("refused while the server runs", func(t *testing.T) {
		out, _, err := recoverRun(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA})
		if err == nil || !strings.Contains(err.Error(), "stop the server first") {
			t.Fatalf("recover under a running server = %v, want \"stop the server first\"", err)
		}
		if strings.Contains(out, identity.TokenPrefix) {
			t.Fatalf("printed a token: %s", out)
		}
	})
	ts.must("POST", "/api/2.0/token/delete", lost, map[string]string{"token_id": list.TokenInfos[0].TokenID}, nil)
	ts.Stop()
	before := len(storedAudit(t, dir))

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"wrong master key", map[string]string{"GATEHOUSE_MASTER_KEY": keyB}, nil, "does not open this store's keyring"},
		{"no master key", map[string]string{}, nil, "set GATEHOUSE_MASTER_KEY or --master-key-file"},
		{"malformed master key", map[string]string{"GATEHOUSE_MASTER_KEY": "not-a-key"}, nil, "GATEHOUSE_MASTER_KEY"},
		{"bad lifetime", map[string]string{"GATEHOUSE_MASTER_KEY": keyA}, []string{"--lifetime", "-1h"}, "lifetime"},
		{"no store", map[string]string{"GATEHOUSE_MASTER_KEY": keyA}, []string{"--data-dir", t.TempDir()}, "no store at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := recoverRun(t, dir, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("recover = %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(out, identity.TokenPrefix) {
				t.Fatalf("printed a token: %s", out)
			}
			if strings.Contains(err.Error(), keyA) || strings.Contains(err.Error(), keyB) {
				t.Fatal("the error shows a master key")
			}
		})
	}
	if n := len(storedAudit(t, dir)); n != before {
		t.Fatalf("refused recoveries wrote %d audit events", n-before)
	}

	out, _, err := recoverRun(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA}, "--lifetime", "2h")
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	m := printedTokenRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("recover printed no token:\n%s", out)
	}
	fresh := m[1]
	events := storedAudit(t, dir)
	last := events[len(events)-1]
	if last.ActionName != catalog.ActionTokenCreate || last.Params[recoverParam] != "true" || last.Principal != "admin" || last.Params["lifetime_seconds"] != "7200" {
		t.Fatalf("last audit event = %+v, want tokenCreate recovered=true by admin", last)
	}
	for _, e := range events {
		for _, v := range e.Params {
			if strings.Contains(v, fresh) {
				t.Fatal("the token is in the audit log")
			}
		}
	}

	ts = launch(t, dir, map[string]string{"GATEHOUSE_MASTER_KEY": keyA})
	if out, err := ts.cli(fresh, "", "whoami"); err != nil || !strings.Contains(out, "admin") {
		t.Fatalf("whoami with the recovered token = %q, %v", out, err)
	}
	ts.Admin = fresh
	verifyHead(t, ts, len(events))
	var again struct {
		TokenInfos []struct {
			ExpiryTime int64 `json:"expiry_time"`
		} `json:"token_infos"`
	}
	ts.must("GET", "/api/2.0/token/list", fresh, nil, &again)
	if len(again.TokenInfos) != 1 || again.TokenInfos[0].ExpiryTime <= 0 {
		t.Fatalf("tokens after recover = %+v, want one that expires", again)
	}
	if exp := time.UnixMilli(again.TokenInfos[0].ExpiryTime); exp.Before(time.Now().Add(time.Hour)) || exp.After(time.Now().Add(3*time.Hour)) {
		t.Fatalf("recovered token expires at %v, want in about 2h", exp)
	}
}

// TestFirstRunBootstrapTokenNotEchoed: a first admin token the operator gave in
// GATEHOUSE_BOOTSTRAP_TOKEN works, and the start says so without copying the secret to
// stdout (which often ends up in a journal or a CI log) or to the log.
func TestFirstRunBootstrapTokenNotEchoed(t *testing.T) {
	tok := identity.NewTokenValue()
	ts := launch(t, t.TempDir(), map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN": tok})
	out := ts.Stdout.String()
	if !strings.Contains(out, "Created user admin with the token in GATEHOUSE_BOOTSTRAP_TOKEN") {
		t.Fatalf("the first start did not say it created the admin:\n%s", out)
	}
	if strings.Contains(out, tok) || strings.Contains(ts.Stderr.String(), tok) {
		t.Fatalf("the start echoed the operator's bootstrap token")
	}
	if got, err := ts.cli(tok, "", "whoami"); err != nil || !strings.Contains(got, "admin") {
		t.Fatalf("whoami with the bootstrap token = %q, %v", got, err)
	}
}
