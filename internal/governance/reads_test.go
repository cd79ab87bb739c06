package governance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestReadsAndGrants checks the moved read and grant operations over a real store: a
// list shows only what its viewer holds a privilege on, pages without loss, never a
// secret; grants need MANAGE, refuse a bad change whole and say what changed.
func TestReadsAndGrants(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := w.svc.CreateConnection(ctx, w.p["olivia"], CreateConnection{Name: fmt.Sprintf("c%d", i), CredentialType: "BEARER_TOKEN",
			Options: map[string]string{"host": "https://api.example.com", "bearer_token": "canary-secret-value"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rec := &Record{}
	if _, err := w.svc.UpdatePermissions(ctx, w.p["olivia"], "connection", "c3", []PermissionChange{{Principal: "mike", Add: []string{"use connection"}}}, rec); err != nil {
		t.Fatal(err)
	}
	if rec.Params["changes"] != "add USE_CONNECTION mike" || rec.Params["securable_type"] != "CONNECTION" {
		t.Errorf("record params %v", rec.Params)
	}

	names := func(who string, size int) []string {
		var out []string
		tok := ""
		for range 10 {
			page, err := w.svc.ListConnections(ctx, w.p[who], ListConnectionsRequest{MaxResults: size, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Connections {
				if strings.Contains(fmt.Sprint(v.Options, v.Connection.Options, v.Connection.Secrets), "canary") {
					t.Fatalf("secret in view of %s", v.Connection.Name)
				}
				out = append(out, v.Connection.Name)
			}
			if tok = page.NextPageToken; tok == "" {
				return out
			}
		}
		t.Fatal("paging did not end")
		return nil
	}
	tests := []struct {
		name string
		who  string
		size int
		want string
	}{
		{"owner sees all", "olivia", 0, "c0 c1 c2 c3 c4"},
		{"owner pages of two", "olivia", 2, "c0 c1 c2 c3 c4"},
		{"grantee sees the granted one", "mike", 1, "c3"},
		{"admin sees all", "root", 3, "c0 c1 c2 c3 c4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(names(tt.who, tt.size), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	errTests := []struct {
		name string
		run  func() error
		code catalog.ErrorCode
	}{
		{"grantee cannot change grants", func() error {
			_, err := w.svc.UpdatePermissions(ctx, w.p["mike"], "connection", "c3", []PermissionChange{{Principal: "mike", Add: []string{"MANAGE"}}}, nil)
			return err
		}, catalog.PermissionDenied},
		{"bad privilege changes nothing", func() error {
			_, err := w.svc.UpdatePermissions(ctx, w.p["olivia"], "connection", "c3", []PermissionChange{{Principal: "mike", Remove: []string{"USE_CONNECTION"}}, {Principal: "mike", Add: []string{"FLY"}}}, nil)
			return err
		}, catalog.InvalidParameterValue},
		{"no privilege, no permissions", func() error {
			_, err := w.svc.Permissions(ctx, w.p["mike"], "connection", "c1", "")
			return err
		}, catalog.PermissionDenied},
		{"no privilege, no connection", func() error {
			_, err := w.svc.GetConnection(ctx, w.p["mike"], "c1")
			return err
		}, catalog.PermissionDenied},
		{"others' effective privileges need MANAGE", func() error {
			_, _, err := w.svc.EffectivePermissions(ctx, w.p["mike"], "connection", "c3", "olivia")
			return err
		}, catalog.PermissionDenied},
		{"bearer connections have no provider check", func() error {
			_, err := w.svc.CheckProvider(ctx, w.p["olivia"], "c3")
			return err
		}, catalog.InvalidParameterValue},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); catalog.CodeOf(err) != tt.code {
				t.Errorf("error %v, want %s", err, tt.code)
			}
		})
	}
	got, err := w.svc.Permissions(ctx, w.p["mike"], "connection", "c3", "")
	if err != nil || len(got) != 1 || got[0].Principal != "mike" || strings.Join(got[0].Privileges, ",") != "USE_CONNECTION" {
		t.Errorf("grants after a refused change: %v %v", got, err)
	}
}
