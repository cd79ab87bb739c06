package sqlite

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// TestSetConnectionOption: the option is set only while the expected options hold,
// and nothing else of the connection changes (secrets, other options, update time).
func TestSetConnectionOption(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	owner := &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "alice@example.com", Active: true, CreatedAt: time.Unix(1, 0)}
	if err := db.CreatePrincipal(ctx, owner); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &catalog.Connection{ID: catalog.NewID(), Name: "peruser", ConnectionType: catalog.ConnectionTypeHTTP, CredentialType: catalog.OAuthU2MPerUser,
		OwnerID: owner.ID, Enabled: true, CreatedAt: at, CreatedBy: owner.ID, UpdatedAt: at, UpdatedBy: owner.ID,
		Options: map[string]string{catalog.OptHost: "https://api.example.com", catalog.OptTokenEndpoint: "https://idp.example.com/token"},
		Secrets: map[string][]byte{catalog.OptClientSecret: []byte("sealed-bytes")}}
	if err := db.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	const key = catalog.OptCredentialExchange
	for _, tc := range []struct {
		name   string
		id     string
		expect map[string]string
		want   bool
		value  string
		stored string
	}{
		{"other token endpoint", c.ID, map[string]string{key: "", catalog.OptTokenEndpoint: "https://other.example.com/token"}, false, "body_only", ""},
		{"unknown connection", catalog.NewID(), map[string]string{key: ""}, false, "body_only", ""},
		{"expected state", c.ID, map[string]string{key: "", catalog.OptTokenEndpoint: "https://idp.example.com/token"}, true, "body_only", "body_only"},
		{"already set", c.ID, map[string]string{key: ""}, false, "header_only", "body_only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := db.SetConnectionOption(ctx, tc.id, key, tc.value, tc.expect)
			if err != nil || ok != tc.want {
				t.Fatalf("SetConnectionOption = %v %v, want %v", ok, err, tc.want)
			}
			got, err := db.GetConnection(ctx, "peruser")
			if err != nil {
				t.Fatal(err)
			}
			if got.Options[key] != tc.stored || got.Options[catalog.OptHost] != "https://api.example.com" || len(got.Options) != 2+btoi(tc.stored != "") {
				t.Errorf("options = %v", got.Options)
			}
			if !bytes.Equal(got.Secrets[catalog.OptClientSecret], []byte("sealed-bytes")) || !got.UpdatedAt.Equal(at) || got.UpdatedBy != owner.ID {
				t.Errorf("something else changed: %+v", got)
			}
		})
	}
}

// A sealed option is never written in clear through SetConnectionOption.
func TestSetConnectionOptionRefusesSecrets(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	for key := range catalog.SecretOptions {
		ok, err := db.SetConnectionOption(ctx, catalog.NewID(), key, "CANARY-plain-secret", nil)
		if ok || catalog.CodeOf(err) != catalog.InvalidParameterValue || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("SetConnectionOption(%s) = %v, %v; want INVALID_PARAMETER_VALUE without the value", key, ok, err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
