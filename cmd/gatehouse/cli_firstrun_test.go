package main

// Tests of the first-session rough edges of issue 9 point 7 (second half): login of a
// type without one, inventory rows of connections nobody logged in to, check output on
// an 80-column terminal, version, token lifetimes, privilege names and revokes of
// privileges not held.

import (
	"strings"
	"testing"
)

func TestCLILoginChecksCredentialType(t *testing.T) {
	t.Parallel()
	conn := func(name, typ string) cliResponse {
		return cliResponse{body: `{"name":"` + name + `","credential_type":"` + typ + `","options":{}}`}
	}
	f := newCLIFakeAPI(t, map[string]cliResponse{
		"GET /api/2.1/unity-catalog/connections/stripe":  conn("stripe", "BEARER_TOKEN"),
		"GET /api/2.1/unity-catalog/connections/billing": conn("billing", "OAUTH_M2M"),
		"GET /api/2.1/unity-catalog/connections/github":  conn("github", "OAUTH_U2M_PER_USER"),
		"GET /api/2.1/unity-catalog/connections/jira":    conn("jira", "OAUTH_U2M"),
	})
	tests := []struct {
		name    string
		conn    string
		wantErr []string // "" for success
		wantOut string
	}{
		{name: "bearer has no login", conn: "stripe",
			wantErr: []string{"connection stripe uses BEARER_TOKEN", "has no login", "bearer_token", "only OAUTH_U2M and OAUTH_U2M_PER_USER"}},
		{name: "machine-to-machine has no login", conn: "billing",
			wantErr: []string{"connection billing uses OAUTH_M2M", "has no login", "client credentials", "only OAUTH_U2M and OAUTH_U2M_PER_USER"}},
		{name: "per-user prints the URL", conn: "github", wantOut: "/connections/github/login"},
		{name: "shared user-to-machine prints the URL", conn: "jira", wantOut: "/connections/jira/login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := cliRun(t, cliEnv(f), "", "login", tt.conn, "--open=false")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("login %s: %v", tt.conn, err)
				}
				if !strings.Contains(stdout, f.URL+tt.wantOut) {
					t.Errorf("stdout = %q, want the URL %s", stdout, f.URL+tt.wantOut)
				}
				return
			}
			if err == nil {
				t.Fatalf("login %s = nil error; stdout %q", tt.conn, stdout)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want no URL printed", stdout)
			}
		})
	}
}
