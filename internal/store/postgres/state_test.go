package postgres

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// coreSchema reports whether 0001_core creates the connections and principals tables.
// Until the core schema is merged it does not, and the credential tests below create
// stand-ins holding only the IDs (which is all 0002_state references).
func coreSchema(t *testing.T) bool {
	t.Helper()
	b, err := migrationFiles.ReadFile("migrations/0001_core.sql")
	if err != nil {
		t.Fatalf("read 0001_core: %v", err)
	}
	return regexp.MustCompile(`(?i)create table (if not exists )?connections\b`).Match(b)
}

// stateDB opens the store on a new database; without the core schema it first creates
// the stand-in parent tables, so that 0002_state adds its foreign keys to them.
func stateDB(t *testing.T) (*DB, string) {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	if !coreSchema(t) {
		createStandIns(t, dsn)
	}
	return openDSN(t, dsn), dsn
}

func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn, Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func createStandIns(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `CREATE TABLE principals (id text PRIMARY KEY);
		CREATE TABLE connections (id text PRIMARY KEY)`); err != nil {
		t.Fatalf("create stand-in tables: %v", err)
	}
}

// parents creates a connection and principals by ID: directly in the stand-ins, or
// through the store once the core schema exists.
func parents(t *testing.T, db *DB, connectionID string, principalIDs ...string) {
	t.Helper()
	ctx := t.Context()
	if !coreSchema(t) {
		for _, id := range principalIDs {
			if _, err := db.pool.Exec(ctx, "INSERT INTO principals (id) VALUES ($1)", id); err != nil {
				t.Fatalf("insert principal: %v", err)
			}
		}
		if _, err := db.pool.Exec(ctx, "INSERT INTO connections (id) VALUES ($1)", connectionID); err != nil {
			t.Fatalf("insert connection: %v", err)
		}
		return
	}
	now := time.Now()
	for _, id := range principalIDs {
		p := &catalog.Principal{ID: id, Kind: catalog.KindUser, Name: id + "@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
		if err := db.CreatePrincipal(ctx, p); err != nil {
			t.Fatalf("CreatePrincipal: %v", err)
		}
	}
	c := &catalog.Connection{ID: connectionID, Name: "c" + connectionID, ConnectionType: "HTTP", CredentialType: catalog.BearerToken,
		OwnerID: principalIDs[0], Options: map[string]string{catalog.OptHost: "https://api.example.com"},
		Secrets: map[string][]byte{catalog.OptBearerToken: []byte("sealed")}, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateConnection(ctx, c); err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
}

func wantCode(t *testing.T, what string, err error, code catalog.ErrorCode) {
	t.Helper()
	var ce *catalog.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

func newCred(conn, principal string, at time.Time) *catalog.OAuthCredential {
	return &catalog.OAuthCredential{ConnectionID: conn, PrincipalID: principal, AccessToken: []byte("sealed-a:" + principal),
		RefreshToken: []byte("sealed-r:" + principal), AccessExpiresAt: at.Add(time.Hour), State: catalog.StateActive,
		Scope: "repo", LastRefreshedAt: at, CreatedAt: at, UpdatedAt: at}
}

// TestCredentialsSQL covers the credential statements against PostgreSQL with the
// parents inserted directly (the storetest subtests need the core store).
func TestCredentialsSQL(t *testing.T) {
	db, _ := stateDB(t)
	ctx := t.Context()
	conn, alice, bob, owner := catalog.NewID(), catalog.NewID(), catalog.NewID(), catalog.NewID()
	parents(t, db, conn, owner, alice, bob)
	// Nanoseconds in a zone that is not UTC come back equal.
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("x", 5*3600))

	var changes []catalog.Change
	var mu sync.Mutex
	db.Watch(func(c catalog.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })

	shared, ca, cb := newCred(conn, "", at), newCred(conn, alice, at), newCred(conn, bob, at)
	shared.RefreshToken = nil
	for _, c := range []*catalog.OAuthCredential{cb, shared, ca} {
		if err := db.PutCredential(ctx, c); err != nil || c.Version != 1 {
			t.Fatalf("PutCredential(create) = %v, version %d", err, c.Version)
		}
	}
	got, err := db.GetCredential(ctx, conn, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AccessExpiresAt.Equal(ca.AccessExpiresAt) || !got.CreatedAt.Equal(at) || string(got.AccessToken) != string(ca.AccessToken) ||
		got.State != catalog.StateActive || got.Scope != "repo" || !got.RefreshExpiresAt.IsZero() {
		t.Errorf("GetCredential = %+v, want %+v", got, ca)
	}
	if g, _ := db.GetCredential(ctx, conn, ""); g == nil || g.RefreshToken != nil {
		t.Errorf("shared credential's refresh token = %v, want nil", g)
	}

	// Optimistic versions: a stale writer is refused and changes nothing.
	stale := *got
	got.Reason = "refreshed"
	if err := db.PutCredential(ctx, got); err != nil || got.Version != 2 {
		t.Fatalf("PutCredential(replace) = %v, version %d", err, got.Version)
	}
	stale.Reason = "stale"
	wantCode(t, "PutCredential(stale)", db.PutCredential(ctx, &stale), catalog.ResourceAlreadyExists)
	if stale.Version != 1 {
		t.Errorf("stale put changed Version to %d", stale.Version)
	}
	wantCode(t, "PutCredential(create twice)", db.PutCredential(ctx, newCred(conn, alice, at)), catalog.ResourceAlreadyExists)

	for _, tc := range []struct {
		name string
		c    *catalog.OAuthCredential
		want catalog.ErrorCode
	}{
		{"missing connection", newCred(catalog.NewID(), "", at), catalog.ResourceDoesNotExist},
		{"missing principal", newCred(conn, catalog.NewID(), at), catalog.ResourceDoesNotExist},
		{"no connection", newCred("", alice, at), catalog.InvalidParameterValue},
		{"bad state", func() *catalog.OAuthCredential { c := newCred(conn, owner, at); c.State = "SLEEPY"; return c }(), catalog.InvalidParameterValue},
		{"out of range", func() *catalog.OAuthCredential {
			c := newCred(conn, owner, at)
			c.AccessExpiresAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			return c
		}(), catalog.InvalidParameterValue},
	} {
		err := db.PutCredential(ctx, tc.c)
		wantCode(t, "PutCredential("+tc.name+")", err, tc.want)
		if err != nil && regexp.MustCompile(`sealed-`).MatchString(err.Error()) {
			t.Errorf("PutCredential(%s): the error reveals a token: %v", tc.name, err)
		}
	}

	// List order: connection, then principal, the shared one first.
	list, err := db.ListCredentials(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list {
		keys = append(keys, c.PrincipalID)
	}
	want := []string{"", alice, bob}
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Errorf("ListCredentials order = %q, want %q", keys, want)
	}

	// Touches: no version change, never backwards, unknown keys ignored.
	later := at.Add(time.Minute)
	if err := db.TouchCredentials(ctx, map[string]time.Time{conn + "/" + alice: later, conn + "/": later, "nope/x": later, "noslash": later}); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchCredentials(ctx, map[string]time.Time{conn + "/" + alice: at}); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GetCredential(ctx, conn, alice); g == nil || !g.LastUsedAt.Equal(later) || g.Version != 2 {
		t.Errorf("after touches: %+v, want LastUsedAt %v and Version 2", g, later)
	}
	// A put with an older LastUsedAt does not move it back.
	g, _ := db.GetCredential(ctx, conn, alice)
	g.LastUsedAt = at
	if err := db.PutCredential(ctx, g); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GetCredential(ctx, conn, alice); !g.LastUsedAt.Equal(later) {
		t.Errorf("PutCredential moved LastUsedAt back to %v", g.LastUsedAt)
	}

	// Cascades: a principal's delete removes its credential only.
	if !coreSchema(t) {
		if _, err := db.pool.Exec(ctx, "DELETE FROM principals WHERE id = $1", bob); err != nil {
			t.Fatal(err)
		}
	} else if err := db.DeletePrincipal(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetCredential(ctx, conn, bob); !catalog.IsNotFound(err) {
		t.Errorf("bob's credential after his delete: %v, want RESOURCE_DOES_NOT_EXIST", err)
	}
	if err := db.DeleteCredential(ctx, conn, alice); err != nil {
		t.Fatalf("DeleteCredential(alice): %v", err)
	}
	wantCode(t, "DeleteCredential(missing)", db.DeleteCredential(ctx, conn, alice), catalog.ResourceDoesNotExist)
	if !coreSchema(t) {
		if _, err := db.pool.Exec(ctx, "DELETE FROM connections WHERE id = $1", conn); err != nil {
			t.Fatal(err)
		}
	} else if err := db.DeleteConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if all, err := db.ListCredentials(ctx, ""); err != nil || len(all) != 0 {
		t.Errorf("credentials after the connection's delete: %d (%v), want none", len(all), err)
	}

	mu.Lock()
	defer mu.Unlock()
	// The parents' own writes (principals, the connection, its delete) announce their
	// kinds; every credential change is about this connection.
	var creds int
	for _, c := range changes {
		switch c.Kind {
		case catalog.ChangeCredential:
			creds++
			if c.ID != conn {
				t.Errorf("announced %+v, want ChangeCredential %s", c, conn)
			}
		case catalog.ChangePrincipal, catalog.ChangeConnection, catalog.ChangeGrant:
		default:
			t.Errorf("announced %+v", c)
		}
	}
	// 3 creates, 1 replace, 1 put after the touches, 1 delete (and, with the core schema,
	// the connection's delete taking its credentials): touches and refused writes
	// announce nothing.
	if want := 6; creds != want && (!coreSchema(t) || creds != want+1) {
		t.Errorf("announced %d credential changes, want %d", creds, want)
	}
}
