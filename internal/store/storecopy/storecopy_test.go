package storecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// base has nanoseconds and a zone that is not UTC: a copy must keep instants exactly.
var base = time.Date(2026, time.March, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fill is a source deployment with every kind of record: the sealed values are stand-in
// bytes (no master key is involved in a copy).
type fill struct {
	alice, admins *catalog.Principal
	conn, oauth   *catalog.Connection
	tokenHash     []byte
	// family and other are alice's live refresh families (family rotated, its access
	// token the token of tokenHash), expired one of bob's that ended.
	family, other, expired *catalog.OAuthFamily
}

func populate(t *testing.T, s catalog.Store) *fill {
	t.Helper()
	ctx := t.Context()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("populate: %s: %v", what, err)
		}
	}
	tick := 0
	at := func() time.Time { tick++; return base.Add(time.Duration(tick) * (time.Second + time.Nanosecond)) }
	var f fill
	prin := func(kind catalog.PrincipalKind, name string, active bool) *catalog.Principal {
		now := at()
		p := &catalog.Principal{ID: catalog.NewID(), Kind: kind, Name: name, DisplayName: "Display " + name,
			Active: active, ExternalID: "ext-" + name, CreatedAt: now, UpdatedAt: now.Add(time.Minute)}
		must("principal "+name, s.CreatePrincipal(ctx, p))
		return p
	}
	f.alice = prin(catalog.KindUser, "alice@example.com", true)
	bob := prin(catalog.KindUser, "bob@example.com", false)
	f.admins = prin(catalog.KindGroup, catalog.AdminsGroup, true)
	team := prin(catalog.KindGroup, "team", true)
	sp := prin(catalog.KindServicePrincipal, "ci-robot", true)
	must("member", s.AddMember(ctx, f.admins.ID, f.alice.ID))
	must("member", s.AddMember(ctx, team.ID, bob.ID))
	must("member", s.AddMember(ctx, f.admins.ID, team.ID))

	must("federation policy", s.CreateFederationPolicy(ctx, &catalog.FederationPolicy{ID: catalog.NewID(), PrincipalID: sp.ID,
		Issuer: "https://token.actions.githubusercontent.com", Audiences: []string{"gatehouse"}, Subject: "repo:acme/app:ref:refs/heads/main",
		SubjectClaim: "sub", CreatedAt: at(), UpdatedAt: at()}))
	h := sha256.Sum256([]byte("the token"))
	f.tokenHash = h[:]
	tok := &catalog.Token{ID: catalog.NewID(), PrincipalID: f.alice.ID, Hash: h[:], Comment: "laptop", CreatedBy: f.alice.ID,
		CreatedAt: at(), ExpiresAt: at().Add(24 * time.Hour), LastUsedAt: at()}
	must("token", s.CreateToken(ctx, tok))
	h2 := sha256.Sum256([]byte("another"))
	must("token", s.CreateToken(ctx, &catalog.Token{ID: catalog.NewID(), PrincipalID: sp.ID, Hash: h2[:], CreatedBy: f.alice.ID, CreatedAt: at()}))

	// Refresh families: two of alice's live (one rotated, its access token being tok),
	// one of bob's that expired, which a copy leaves behind. Live means at the time of
	// the copy: the live ones end years after base.
	family := func(who *catalog.Principal, tokenID string, expires time.Time) *catalog.OAuthFamily {
		created := at()
		fam := &catalog.OAuthFamily{ID: catalog.NewID(), PrincipalID: who.ID, ClientID: "https://client.example/" + who.Name, Audience: "https://gatehouse.example/mcp",
			SecretHash: sha256.Sum256([]byte("refresh secret " + tokenID)), TokenID: tokenID, CreatedAt: created, ExpiresAt: expires, RotatedAt: created}
		must("refresh family", s.CreateOAuthFamily(ctx, fam, catalog.MaxOAuthFamiliesPerPrincipal))
		return fam
	}
	f.expired = family(bob, catalog.NewID(), base.Add(time.Hour))
	f.family = family(f.alice, catalog.NewID(), base.AddDate(20, 0, 0))
	rot := catalog.OAuthRotation{FamilyID: f.family.ID, OldSecretHash: f.family.SecretHash, NewSecretHash: sha256.Sum256([]byte("rotated")), NewTokenID: tok.ID, At: at()}
	_, err := s.RotateOAuthFamily(ctx, rot)
	must("rotate refresh family", err)
	f.family.SecretHash, f.family.TokenID, f.family.RotatedAt = rot.NewSecretHash, rot.NewTokenID, rot.At
	f.other = family(f.alice, catalog.NewID(), base.AddDate(20, 0, 0))

	now := at()
	f.conn = &catalog.Connection{ID: catalog.NewID(), Name: "github", ConnectionType: "HTTP", CredentialType: catalog.BearerToken,
		OwnerID: f.alice.ID, Comment: "the GitHub API",
		Options: map[string]string{catalog.OptHost: "https://api.github.com", catalog.OptBasePath: "/v1"},
		Secrets: map[string][]byte{catalog.OptBearerToken: []byte("sealed:\x00\x01\xffbearer")},
		Enabled: true, CreatedAt: now, CreatedBy: f.alice.ID, UpdatedAt: at(), UpdatedBy: bob.ID}
	must("connection", s.CreateConnection(ctx, f.conn))
	now = at()
	f.oauth = &catalog.Connection{ID: catalog.NewID(), Name: "drive", ConnectionType: "HTTP", CredentialType: catalog.OAuthU2MPerUser,
		OwnerID: bob.ID, Options: map[string]string{catalog.OptHost: "https://www.googleapis.com"},
		Secrets: map[string][]byte{catalog.OptClientSecret: []byte("sealed-client-secret")},
		Enabled: false, CreatedAt: now, CreatedBy: bob.ID, UpdatedAt: now, UpdatedBy: bob.ID}
	must("connection", s.CreateConnection(ctx, f.oauth))

	must("grant", s.UpdateGrants(ctx, catalog.SecurableConnection, f.conn.ID, []catalog.Grant{
		{PrincipalID: team.ID, Privilege: catalog.UseConnection}, {PrincipalID: sp.ID, Privilege: catalog.Manage}}, nil))
	must("grant", s.UpdateGrants(ctx, catalog.SecurableMetastore, catalog.MetastoreID, []catalog.Grant{
		{PrincipalID: bob.ID, Privilege: catalog.CreateConnection}}, nil))
	must("meta", s.SetMeta(ctx, "keyring", []byte("sealed keyring \x00\xfe")))
	must("meta", s.SetMeta(ctx, "other", []byte{}))

	// Credentials at versions 1 and 3.
	for i, who := range []string{f.alice.ID, bob.ID} {
		c := &catalog.OAuthCredential{ConnectionID: f.oauth.ID, PrincipalID: who, AccessToken: []byte("sealed-access-" + who),
			RefreshToken: []byte("sealed-refresh-" + who), AccessExpiresAt: at(), Scope: "drive", State: catalog.StateActive,
			AuthorizedBy: who, LastRefreshedAt: at(), CreatedAt: at(), UpdatedAt: at()}
		must("credential", s.PutCredential(ctx, c))
		for range i * 2 {
			c.AccessToken = append(c.AccessToken, '+')
			c.UpdatedAt = at()
			c.State = catalog.StateExpiring
			c.Reason = "soon"
			must("credential", s.PutCredential(ctx, c))
		}
	}
	// Policy at version 2.
	p := &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.DryRun,
		AllowedDestinations: []string{"api.github.com", "*.googleapis.com"}, AllowConnectionDestinations: true,
		AllowedIPRanges: []string{"10.0.0.0/8"}, UpdatedAt: at(), UpdatedBy: f.alice.ID}
	must("policy", s.PutNetworkPolicy(ctx, p))
	p.BlockedDestinations = []string{"evil.example"}
	p.UpdatedAt = at()
	must("policy", s.PutNetworkPolicy(ctx, p))
	// Tools at versions 1 and 2.
	tools := []*catalog.MCPTool{
		{ConnectionID: f.conn.ID, Name: "search", Description: "Search", State: catalog.MCPToolPinned, PinHash: "h1", SeenHash: "h1",
			FirstSeen: at(), LastSeen: at(), ApprovedBy: f.alice.ID, ApprovedAt: at()},
		{ConnectionID: f.conn.ID, Name: "Write", State: catalog.MCPToolNew, SeenHash: "h2", FirstSeen: at(), LastSeen: at()},
	}
	must("tools", s.PutMCPTools(ctx, f.conn.ID, tools))
	tools[1].State = catalog.MCPToolChanged
	tools[1].ChangedAt = at()
	must("tools", s.PutMCPTools(ctx, f.conn.ID, tools[1:]))

	// Logs: more than a page of audit events, chained (stand-in hashes), and network events.
	var batch []*catalog.AuditEvent
	prev := "0000000000000000000000000000000000000000000000000000000000000000"
	for i := range pageSize + 7 {
		e := &catalog.AuditEvent{EventID: catalog.NewID(), EventTime: at(), ActionName: catalog.ActionUseConnection,
			Principal: "alice@example.com", SourceIP: "127.0.0.1", RequestID: fmt.Sprint("req-", i), Connection: "github",
			Params: map[string]string{"method": "GET", "n": fmt.Sprint(i)}, StatusCode: 200, Decision: catalog.DecisionAllow,
			PrevHash: prev, Hash: fmt.Sprintf("%064x", sha256.Sum256([]byte(prev)))}
		if i%5 == 0 {
			e.Params = nil
			e.ErrorCode = "PERMISSION_DENIED"
		}
		prev = e.Hash
		batch = append(batch, e)
		if len(batch) == 300 {
			must("audit", s.AppendAudit(ctx, batch))
			batch = nil
		}
	}
	must("audit", s.AppendAudit(ctx, batch))
	must("network events", s.AppendNetworkEvents(ctx, []*catalog.NetworkEvent{
		{Time: at(), Destination: "evil.example:443", Source: catalog.SourceProxy, Principal: "alice@example.com",
			Connection: "github", Reason: "blocked", AccessType: catalog.AccessDrop},
		{Time: at(), Destination: "10.1.2.3:80", ResolvedAddress: "10.1.2.3", Source: catalog.SourceEgress, Reason: "private", AccessType: catalog.AccessDryRunDenial},
	}))
	return &f
}

// wantRows are the counts populate stores.
var wantRows = map[string]int{
	KindPrincipals: 5, KindMemberships: 3, KindTokens: 2, KindConnections: 2, KindGrants: 3, KindMeta: 2,
	KindCredentials: 2, KindNetworkPolicy: 1, KindMCPTools: 2, KindNetworkEvents: 2, KindAuditEvents: pageSize + 7,
	KindFederationPolicies: 1, KindOAuthFamilies: 2,
}

// copyAndVerify copies a populated src into dst and checks the report and a few records.
func copyAndVerify(t *testing.T, src, dst catalog.Store) {
	ctx := t.Context()
	f := populate(t, src)
	r, err := Copy(ctx, src, dst)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if r, err = Verify(ctx, src, dst, r); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(r.Rows) != len(wantRows) {
		t.Errorf("report has %d rows, want %d", len(r.Rows), len(wantRows))
	}
	for _, row := range r.Rows {
		want := wantRows[row.Kind]
		if row.Source != want || row.Copied != want || row.Verified != want {
			t.Errorf("%s: source %d, copied %d, verified %d; want %d each", row.Kind, row.Source, row.Copied, row.Verified, want)
		}
	}
	if len(r.Notes) != 0 {
		t.Errorf("notes: %q, want none", r.Notes)
	}
	// Spot checks through the destination's own lookups.
	tok, err := dst.GetTokenByHash(ctx, f.tokenHash)
	if err != nil || tok.PrincipalID != f.alice.ID {
		t.Errorf("GetTokenByHash in the destination: %v, %v", tok, err)
	}
	c, err := dst.GetConnection(ctx, "github")
	if err != nil || c.ID != f.conn.ID || !bytes.Equal(c.Secrets[catalog.OptBearerToken], f.conn.Secrets[catalog.OptBearerToken]) {
		t.Errorf("GetConnection(github) in the destination: ID kept %v, sealed secret kept %v, %v", c != nil && c.ID == f.conn.ID, c != nil && bytes.Equal(c.Secrets[catalog.OptBearerToken], f.conn.Secrets[catalog.OptBearerToken]), err)
	}
	cred, err := dst.GetCredential(ctx, f.oauth.ID, f.alice.ID)
	if err != nil || cred.Version != 1 {
		t.Errorf("credential in the destination: %v", err)
	}
	if fam, err := dst.GetOAuthFamily(ctx, f.family.ID, time.Now()); err != nil || differs(f.family, fam) != "" {
		t.Errorf("the rotated refresh family in the destination: %v, differs in %q", err, differs(f.family, fam))
	}
	if _, err := dst.GetOAuthFamily(ctx, f.expired.ID, f.expired.CreatedAt); !catalog.IsNotFound(err) {
		t.Errorf("the expired refresh family was copied: %v", err)
	}
	last, err := dst.LastAudit(ctx)
	sl, _ := src.LastAudit(ctx)
	if err != nil || last.Hash != sl.Hash || last.Seq != sl.Seq {
		t.Errorf("LastAudit in the destination differs from the source's (%v)", err)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KIND", "audit events", "1007", "not copied (transient): browser sessions, pending logins"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table does not show %q:\n%s", want, buf.String())
		}
	}
	// A second copy into the now full destination is refused, and writes nothing.
	if _, err := Copy(ctx, src, dst); catalog.CodeOf(err) != catalog.InvalidParameterValue || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second Copy: %v, want not empty", err)
	}
	if _, err := Verify(ctx, src, dst, nil); err != nil {
		t.Errorf("Verify after the refused copy: %v", err)
	}
}

func TestCopySQLiteToSQLite(t *testing.T) {
	copyAndVerify(t, openSQLite(t), openSQLite(t))
}

// The same copy from SQLite into PostgreSQL.
func TestCopySQLiteToPostgres(t *testing.T) {
	dst, err := postgres.Open(t.Context(), pgtest.Shared(t).NewDatabase(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = dst.Close() })
	copyAndVerify(t, openSQLite(t), dst)
}

// Verify finds a changed record and names the field, never the value.
func TestVerifyFindsDifferences(t *testing.T) {
	tests := []struct {
		name   string
		change func(ctx context.Context, dst catalog.Store, f *fill) error
		want   string
	}{
		{"sealed secret", func(ctx context.Context, dst catalog.Store, f *fill) error {
			c, err := dst.GetConnectionByID(ctx, f.conn.ID)
			if err != nil {
				return err
			}
			c.Secrets[catalog.OptBearerToken] = []byte("other sealed bytes")
			return dst.UpdateConnection(ctx, c)
		}, "connection github differs in Secrets[bearer_token]"},
		{"membership removed", func(ctx context.Context, dst catalog.Store, f *fill) error {
			return dst.RemoveMember(ctx, f.admins.ID, f.alice.ID)
		}, "3 memberships, the destination 2"},
		{"credential version", func(ctx context.Context, dst catalog.Store, f *fill) error {
			c, err := dst.GetCredential(ctx, f.oauth.ID, f.alice.ID)
			if err != nil {
				return err
			}
			return dst.PutCredential(ctx, c)
		}, "differs in Version"},
		{"meta", func(ctx context.Context, dst catalog.Store, f *fill) error {
			return dst.SetMeta(ctx, "keyring", []byte("another keyring"))
		}, "meta keyring differs in Value"},
		{"audit event added", func(ctx context.Context, dst catalog.Store, f *fill) error {
			return dst.AppendAudit(ctx, []*catalog.AuditEvent{{EventID: catalog.NewID(), EventTime: base, ActionName: catalog.ActionTokenCreate}})
		}, "audit log differs in length"},
		{"refresh family ended", func(ctx context.Context, dst catalog.Store, f *fill) error {
			// The one whose access token is not a stored token: ending it ends nothing else.
			_, err := dst.DeleteOAuthFamily(ctx, f.other.ID)
			return err
		}, "2 OAuth refresh families, the destination 1"},
		{"principal renamed", func(ctx context.Context, dst catalog.Store, f *fill) error {
			p := *f.alice
			p.Name = "mallory@example.com"
			return dst.UpdatePrincipal(ctx, &p)
		}, "differs in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			src, dst := openSQLite(t), openSQLite(t)
			f := populate(t, src)
			if _, err := Copy(ctx, src, dst); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if err := tc.change(ctx, dst, f); err != nil {
				t.Fatalf("change: %v", err)
			}
			_, err := Verify(ctx, src, dst, nil)
			if !errors.Is(err, errMismatch) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v, want a mismatch mentioning %q", err, tc.want)
			}
			for _, secret := range []string{"other sealed bytes", "sealed:", "another keyring", "sealed keyring"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Verify's error shows a stored value: %v", err)
				}
			}
		})
	}
}

// A destination that holds anything is refused before a single write.
func TestCopyRefusesNonEmptyDestination(t *testing.T) {
	tests := []struct {
		name string
		fill func(ctx context.Context, dst catalog.Store) error
		want string
	}{
		{"principal", func(ctx context.Context, dst catalog.Store) error {
			return dst.CreatePrincipal(ctx, &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "x", Active: true, CreatedAt: base, UpdatedAt: base})
		}, "1 principals"},
		{"audit event", func(ctx context.Context, dst catalog.Store) error {
			return dst.AppendAudit(ctx, []*catalog.AuditEvent{{EventID: catalog.NewID(), EventTime: base, ActionName: catalog.ActionTokenCreate}})
		}, "audit events"},
		{"keyring", func(ctx context.Context, dst catalog.Store) error { return dst.SetMeta(ctx, "keyring", []byte("k")) }, "a keyring"},
		{"network policy", func(ctx context.Context, dst catalog.Store) error {
			return dst.PutNetworkPolicy(ctx, &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced, UpdatedAt: base})
		}, "a network policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			src, dst := openSQLite(t), openSQLite(t)
			populate(t, src)
			if err := tc.fill(ctx, dst); err != nil {
				t.Fatal(err)
			}
			_, err := Copy(ctx, src, dst)
			if catalog.CodeOf(err) != catalog.InvalidParameterValue || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("Copy: %v, want not empty naming %q", err, tc.want)
			}
			ps, _ := dst.ListPrincipals(ctx, "")
			cs, _ := dst.ListConnections(ctx, "", 0)
			as, _ := dst.ListAudit(ctx, catalog.AuditFilter{Limit: 1000})
			if len(cs) != 0 || len(ps) > 1 || len(as) > 1 {
				t.Errorf("the refused copy wrote: %d principals, %d connections, %d audit events", len(ps), len(cs), len(as))
			}
		})
	}
}

// A write that fails halfway says what it wrote and what to drop.
func TestCopyPartialFailure(t *testing.T) {
	ctx := t.Context()
	src, dst := openSQLite(t), openSQLite(t)
	populate(t, src)
	failing := &failAudit{Store: dst}
	_, err := Copy(ctx, src, failing)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Copy: %v, want a *PartialError", err)
	}
	for _, want := range []string{"5 principals", "2 connections", "drop the destination database", "run the copy again", "disk full"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// failAudit is a store whose audit appends fail.
type failAudit struct{ catalog.Store }

func (f *failAudit) AppendAudit(context.Context, []*catalog.AuditEvent) error {
	return errors.New("disk full")
}

func TestDiffers(t *testing.T) {
	t1 := base
	t2 := base.UTC()
	tests := []struct {
		name string
		a, b any
		want string
	}{
		{"same instant other zone", &catalog.Token{CreatedAt: t1}, &catalog.Token{CreatedAt: t2}, ""},
		{"nil and empty bytes", &catalog.OAuthCredential{RefreshToken: nil}, &catalog.OAuthCredential{RefreshToken: []byte{}}, ""},
		{"nil and empty map", &catalog.Connection{Options: nil}, &catalog.Connection{Options: map[string]string{}}, ""},
		{"time", &catalog.Token{CreatedAt: t1}, &catalog.Token{CreatedAt: t1.Add(time.Nanosecond)}, "CreatedAt"},
		{"bytes", &catalog.Token{Hash: []byte{1}}, &catalog.Token{Hash: []byte{2}}, "Hash"},
		{"map key", &catalog.Connection{Secrets: map[string][]byte{"a": {1}}}, &catalog.Connection{Secrets: map[string][]byte{"a": {2}}}, "Secrets[a]"},
		{"slice", &catalog.NetworkPolicy{AllowedIPRanges: []string{"a"}}, &catalog.NetworkPolicy{AllowedIPRanges: []string{"b"}}, "AllowedIPRanges[]"},
		{"bool", &catalog.Principal{Active: true}, &catalog.Principal{}, "Active"},
		{"nil pointer", (*catalog.Token)(nil), &catalog.Token{}, "record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := differs(tc.a, tc.b); got != tc.want {
				t.Errorf("differs = %q, want %q", got, tc.want)
			}
		})
	}
}

// A source log that does not link is copied as it is, and the report says where.
func TestCopyNotesBrokenSourceChain(t *testing.T) {
	ctx := t.Context()
	src, dst := openSQLite(t), openSQLite(t)
	populate(t, src)
	odd := &catalog.AuditEvent{EventID: "odd-one", EventTime: base, ActionName: catalog.ActionTokenCreate, PrevHash: "not the head", Hash: "h"}
	if err := src.AppendAudit(ctx, []*catalog.AuditEvent{odd}); err != nil {
		t.Fatal(err)
	}
	r, err := Copy(ctx, src, dst)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if r, err = Verify(ctx, src, dst, r); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "does not link at event odd-one") {
		t.Errorf("notes = %q, want one naming odd-one", r.Notes)
	}
}
