package gatehousetest

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestStart proves the harness: the server process is ready when Start returns, the
// bootstrap token is its admin's, MakeUser's token signs in as the user, a grant
// reaches the permissions, the log is captured, and Stop ends the process.
func TestStart(t *testing.T) {
	s := Start(t, Options{})
	var me struct {
		UserName string `json:"userName"`
	}
	s.Must("GET", "/api/2.0/preview/scim/v2/Me", s.Admin, nil, &me)
	if me.UserName != "admin" {
		t.Errorf("the bootstrap token is %q's, want admin's", me.UserName)
	}
	_, alice := s.MakeUser("alice@example.com")
	s.Must("GET", "/api/2.0/preview/scim/v2/Me", alice, nil, &me)
	if me.UserName != "alice@example.com" {
		t.Errorf("MakeUser's token is %q's", me.UserName)
	}
	s.MakeConnection("api", "", map[string]string{"host": "https://api.example.com", "bearer_token": "gatehousetest-canary"})
	s.Grant("connection", "api", "alice@example.com", "USE_CONNECTION")
	status, b := s.Do("GET", "/api/2.1/unity-catalog/permissions/connection/api", s.Admin, nil)
	var perms struct {
		Assignments []struct {
			Principal  string   `json:"principal"`
			Privileges []string `json:"privileges"`
		} `json:"privilege_assignments"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &perms) != nil || len(perms.Assignments) != 1 || perms.Assignments[0].Principal != "alice@example.com" {
		t.Errorf("permissions after Grant = %d %s", status, b)
	}
	if status, _ := s.Do("GET", "/api/2.0/preview/scim/v2/Me", "", nil); status != http.StatusUnauthorized {
		t.Errorf("no token = %d, want 401", status)
	}
	if !strings.Contains(s.Output(), "Gatehouse is listening on "+s.URL) {
		t.Errorf("the output was not captured:\n%s", s.Output())
	}
	if !strings.Contains(s.Log(), "path=/api/2.0/preview/scim/v2/Me") {
		t.Errorf("the log was not captured:\n%s", s.Log())
	}
	if strings.Contains(s.Log(), s.Admin) {
		t.Errorf("the log shows the admin token")
	}
	s.Stop()
	if _, err := http.Get(s.URL + "/readyz"); err == nil {
		t.Error("the server still answers after Stop")
	}
	s.Stop() // twice is fine
}
