package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestWalkthrough drives the README's five-minute walkthrough through the CLI code
// against a real server: create a bearer connection, grant USE_CONNECTION to a group,
// see the privilege arrive through the group, rotate the token, revoke. It runs as
// configured in production and again as a newcomer runs it, with --dev.
func TestWalkthrough(t *testing.T) {
	for _, v := range []struct {
		name string
		args []string
	}{{"default", nil}, {"dev", []string{"--dev"}}} {
		t.Run(v.name, func(t *testing.T) { walkthrough(t, v.args...) })
	}
}

// walkthrough is TestWalkthrough on a server started with args.
func walkthrough(t *testing.T, args ...string) {
	ts := startServer(t, "", nil, args...)
	if slices.Contains(args, "--dev") {
		for _, w := range devWarnings {
			if !strings.Contains(ts.Stdout.String(), "WARNING: "+w) {
				t.Errorf("--dev start does not say %q:\n%s", w, ts.Stdout.String())
			}
		}
	}
	admin := func(stdin string, args ...string) string {
		t.Helper()
		out, err := ts.cli(ts.Admin, stdin, args...)
		if err != nil {
			t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := admin("", "whoami"); !strings.Contains(out, "admin") {
		t.Fatalf("whoami = %q", out)
	}
	admin("", "users", "create", "alice@example.com")
	admin("", "groups", "create", "data-eng")
	admin("", "groups", "add-member", "data-eng", "alice@example.com")
	aliceTok := strings.TrimSpace(admin("", "tokens", "create", "--for-user", "alice@example.com", "--comment", "walkthrough"))
	if !strings.HasPrefix(aliceTok, "gth_") {
		t.Fatalf("tokens create printed %q, want the token", aliceTok)
	}

	admin("ghp_first_secret\n", "connections", "create", "github", "--option", "host=https://api.github.com", "--option", "bearer_token=@-", "--comment", "GitHub for the data team")
	out := admin("", "connections", "get", "github")
	for _, want := range []string{"github", "BEARER_TOKEN", "https://api.github.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("connections get lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ghp_first_secret") {
		t.Fatalf("connections get shows the secret")
	}

	// Before the grant alice cannot see the connection.
	if out, err := ts.cli(aliceTok, "", "connections", "get", "github"); err == nil || !strings.Contains(out, "PERMISSION_DENIED") {
		t.Fatalf("alice before the grant: %v %s; want PERMISSION_DENIED", err, out)
	}
	admin("", "grants", "grant", "github", "data-eng", "USE_CONNECTION")
	out = admin("", "grants", "get", "github")
	if !strings.Contains(out, "data-eng") || !strings.Contains(out, "USE_CONNECTION") {
		t.Fatalf("grants get:\n%s", out)
	}
	effJSON, err := ts.cli(aliceTok, "", "grants", "effective", "github", "-o", "json")
	if err != nil {
		t.Fatalf("alice effective: %v %s", err, effJSON)
	}
	var eff struct {
		PrivilegeAssignments []struct {
			Principal  string `json:"principal"`
			Privileges []struct {
				Privilege         string `json:"privilege"`
				InheritedFromType string `json:"inherited_from_type"`
				InheritedFromName string `json:"inherited_from_name"`
			} `json:"privileges"`
		} `json:"privilege_assignments"`
	}
	if err := json.Unmarshal([]byte(effJSON), &eff); err != nil {
		t.Fatalf("effective -o json: %v\n%s", err, effJSON)
	}
	if len(eff.PrivilegeAssignments) != 1 || len(eff.PrivilegeAssignments[0].Privileges) != 1 ||
		eff.PrivilegeAssignments[0].Privileges[0].InheritedFromName != "data-eng" {
		t.Fatalf("alice's effective privileges = %+v, want USE_CONNECTION from data-eng", eff)
	}
	if out, err := ts.cli(aliceTok, "", "connections", "get", "github"); err != nil {
		t.Fatalf("alice after the grant: %v %s", err, out)
	}

	// Rotation: one update, only the token.
	admin("ghp_second_secret\n", "connections", "update", "github", "--option", "bearer_token=@-")
	var info struct {
		Options   map[string]string `json:"options"`
		Comment   string            `json:"comment"`
		UpdatedBy string            `json:"updated_by"`
	}
	if err := json.Unmarshal([]byte(admin("", "connections", "get", "github", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Options["host"] != "https://api.github.com" || info.Comment != "GitHub for the data team" {
		t.Errorf("rotation changed other fields: %+v", info)
	}

	// Revoke: the very next request is refused.
	admin("", "grants", "revoke", "github", "data-eng", "USE_CONNECTION")
	if out, err := ts.cli(aliceTok, "", "connections", "get", "github"); err == nil || !strings.Contains(out, "PERMISSION_DENIED") {
		t.Fatalf("alice after the revoke: %v %s; want PERMISSION_DENIED", err, out)
	}
	// Disable, enable, rename keeps grants, delete.
	admin("", "grants", "grant", "github", "alice@example.com", "USE_CONNECTION")
	admin("", "connections", "update", "github", "--disable")
	if out := admin("", "connections", "get", "github"); !strings.Contains(out, "DISABLED") {
		t.Errorf("disabled connection shows:\n%s", out)
	}
	admin("", "connections", "update", "github", "--enable", "--new-name", "github-data")
	if out := admin("", "grants", "get", "github-data"); !strings.Contains(out, "alice@example.com") {
		t.Errorf("rename lost the grant:\n%s", out)
	}
	admin("", "connections", "update", "github-data", "--owner", "alice@example.com")
	if out, err := ts.cli(aliceTok, "", "connections", "delete", "github-data"); err != nil {
		t.Fatalf("new owner alice cannot delete: %v %s", err, out)
	}
	if out := admin("", "connections", "list"); strings.Contains(out, "github") {
		t.Errorf("deleted connection still listed:\n%s", out)
	}
	if strings.Contains(ts.responses.String(), "ghp_first_secret") || strings.Contains(ts.responses.String(), "ghp_second_secret") || strings.Contains(ts.Stderr.String(), "_secret") {
		t.Errorf("a secret reached CLI output or the log")
	}
}
