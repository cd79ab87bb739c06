package governance

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// opsWorld is the operations over a real SQLite store, with a token endpoint on
// loopback that counts every request it gets.
type opsWorld struct {
	svc   *Service
	st    *sqlite.DB
	p     map[string]*catalog.Principal
	calls atomic.Int64
	idp   *httptest.Server
}

func newOpsWorld(t *testing.T) *opsWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	w := &opsWorld{st: st, p: map[string]*catalog.Principal{}}
	w.idp = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		if r.URL.Path != "/token" {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(w.idp.Close)
	oc := oauth.NewClient(oauth.ClientOptions{AllowHTTP: true})
	az := access.New(st)
	w.svc = New(Deps{Store: st, Keyring: kr, Access: az, Broker: credential.New(kr, st, oc, credential.Options{}), OAuth: oc,
		Validation: catalog.ValidationPolicy{AllowHTTP: true}})
	for _, g := range []string{catalog.AdminsGroup, catalog.UsersGroup} {
		w.add(t, g, catalog.KindGroup)
	}
	for _, u := range []string{"root", "olivia", "mike"} {
		w.add(t, u, catalog.KindUser)
	}
	if err := st.AddMember(ctx, w.p[catalog.AdminsGroup].ID, w.p["root"].ID); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateGrants(ctx, catalog.SecurableMetastore, catalog.MetastoreID,
		[]catalog.Grant{{SecurableType: catalog.SecurableMetastore, SecurableID: catalog.MetastoreID, PrincipalID: w.p["olivia"].ID, Privilege: catalog.CreateConnection}}, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *opsWorld) add(t *testing.T, name string, kind catalog.PrincipalKind) {
	t.Helper()
	p := &catalog.Principal{ID: catalog.NewID(), Kind: kind, Name: name, Active: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := w.st.CreatePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	w.p[name] = p
}

// create makes a connection owned by olivia on which mike holds MANAGE.
func (w *opsWorld) create(t *testing.T, name string, ct catalog.CredentialType, opts map[string]string) *catalog.Connection {
	t.Helper()
	ctx := context.Background()
	c, err := w.svc.CreateConnection(ctx, w.p["olivia"], CreateConnection{Name: name, CredentialType: string(ct), Options: opts}, nil)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := w.st.UpdateGrants(ctx, catalog.SecurableConnection, c.ID,
		[]catalog.Grant{{SecurableType: catalog.SecurableConnection, SecurableID: c.ID, PrincipalID: w.p["mike"].ID, Privilege: catalog.Manage}}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUpdateRefusesBeforeAnyCall: a destination change without the secret is refused
// for the MANAGE holder, the owner and an admin alike, before any outbound call
// (metadata discovery, the M2M token) and without writing anything; the record names
// the change and no secret.
func TestUpdateRefusesBeforeAnyCall(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	const secret = "CANARY-ops-secret-1c0d"
	m2m := map[string]string{"host": "http://127.0.0.1:1", "client_id": "id", "client_secret": secret, "token_endpoint": w.idp.URL + "/token"}
	w.create(t, "m2m", catalog.OAuthM2M, m2m)
	w.create(t, "bearer", catalog.BearerToken, map[string]string{"host": "https://api.example.com", "bearer_token": secret})
	tests := []struct {
		name, conn string
		opts       map[string]string
		want       string // the options the message must name
	}{
		{"token endpoint", "m2m", map[string]string{"host": "http://127.0.0.1:1", "client_id": "id", "token_endpoint": "http://127.0.0.2:9/token"}, "options.token_endpoint"},
		{"host", "m2m", map[string]string{"host": "http://127.0.0.2:1", "client_id": "id", "token_endpoint": w.idp.URL + "/token"}, "options.host"},
		{"bearer port", "bearer", map[string]string{"host": "https://api.example.com:8443"}, "options.port"},
		{"bearer header", "bearer", map[string]string{"host": "https://api.example.com", "auth_header_name": "X-Echo"}, "options.auth_header_name"},
	}
	for _, tc := range tests {
		for _, who := range []string{"mike", "olivia", "root"} {
			t.Run(tc.name+"/"+who, func(t *testing.T) {
				before, err := w.st.GetConnection(ctx, tc.conn)
				if err != nil {
					t.Fatal(err)
				}
				calls := w.calls.Load()
				rec := &Record{}
				_, err = w.svc.UpdateConnection(ctx, w.p[who], tc.conn, UpdateConnection{Options: tc.opts}, rec)
				if catalog.CodeOf(err) != catalog.InvalidParameterValue || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("UpdateConnection(%v) as %s = %v, want INVALID_PARAMETER_VALUE naming %s", tc.opts, who, err, tc.want)
				}
				if n := w.calls.Load() - calls; n != 0 {
					t.Errorf("%d outbound calls before the refusal, want none", n)
				}
				after, err := w.st.GetConnection(ctx, tc.conn)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(before, after) {
					t.Errorf("connection changed by a refused update:\n%+v\n%+v", before, after)
				}
				if rec.Params["destination_changed"] == "" {
					t.Errorf("record %v has no destination_changed", rec.Params)
				}
				for k, v := range rec.Params {
					if strings.Contains(v, secret) || strings.Contains(k, "secret") && k != "secrets_replaced" || strings.Contains(k, "bearer_token") {
						t.Errorf("record param %s=%q names a secret", k, v)
					}
				}
			})
		}
	}
	// With the secret the M2M change goes through and fetches from the new endpoint.
	calls := w.calls.Load()
	rec := &Record{}
	opts := map[string]string{"host": "http://127.0.0.2:1", "client_id": "id", "client_secret": "CANARY-ops-new", "token_endpoint": w.idp.URL + "/token"}
	if _, err := w.svc.UpdateConnection(ctx, w.p["mike"], "m2m", UpdateConnection{Options: opts}, rec); err != nil {
		t.Fatalf("update with the secret: %v", err)
	}
	if w.calls.Load() == calls {
		t.Error("no token fetched after a destination change with the secret")
	}
	want := map[string]string{"destination_changed": "host", "secrets_replaced": "client_secret",
		"options.host.old": "http://127.0.0.1", "options.host.new": "http://127.0.0.2", "changed": "options"}
	for k, v := range want {
		if rec.Params[k] != v {
			t.Errorf("record %s = %q, want %q (all: %v)", k, rec.Params[k], v, rec.Params)
		}
	}
	// An option change that keeps the destination needs no secret.
	if _, err := w.svc.UpdateConnection(ctx, w.p["mike"], "bearer", UpdateConnection{Options: map[string]string{"host": "HTTPS://API.example.com:443", "base_path": "/v2"}}, nil); err != nil {
		t.Errorf("same destination spelled differently: %v", err)
	}
}
