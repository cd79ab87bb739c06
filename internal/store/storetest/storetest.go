// Package storetest is the conformance suite of catalog.Store. Every store
// (internal/store/sqlite, later internal/store/postgres) runs Run against itself, so
// that the packages above the store can rely on one behaviour whichever is configured.
//
// The suite pins what catalog.Store's doc comments say, plus the few choices they leave
// open, each in a named subtest: lookups of principals by name ignore case; RemoveMember
// of a non-member is not an error; ListConnections with a limit of 0 lists everything;
// a last-used time never moves backwards; UpdateConnection keeps the creation time and
// creator; changes are announced after commit and failed writes announce nothing.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Run runs the conformance suite. open must return a new, empty store each time it is
// called, and close it when t ends (t.Cleanup). Subtests do not share stores.
func Run(t *testing.T, open func(t *testing.T) catalog.Store) {
	tests := []struct {
		name string
		fn   func(f *fixture)
	}{
		{"Principals/CreateGet", testPrincipalCreateGet},
		{"Principals/NameUniqueAcrossKinds", testPrincipalNameUnique},
		{"Principals/Missing", testPrincipalMissing},
		{"Principals/Invalid", testPrincipalInvalid},
		{"Principals/List", testPrincipalList},
		{"Principals/Update", testPrincipalUpdate},
		{"Principals/DeleteCascades", testPrincipalDeleteCascades},
		{"Principals/DeleteGroup", testPrincipalDeleteGroup},
		{"Principals/DeleteOwnerRefused", testPrincipalDeleteOwner},
		{"Members/AddListRemove", testMembersAddListRemove},
		{"Members/Refused", testMembersRefused},
		{"Members/Nested", testMembersNested},
		{"Members/Cycles", testMembersCycles},
		{"Tokens/CreateGet", testTokenCreateGet},
		{"Tokens/Refused", testTokenRefused},
		{"Tokens/List", testTokenList},
		{"Tokens/Delete", testTokenDelete},
		{"Tokens/Touch", testTokenTouch},
		{"Connections/CreateGet", testConnectionCreateGet},
		{"Connections/NilMaps", testConnectionNilMaps},
		{"Connections/Copies", testConnectionCopies},
		{"Connections/Refused", testConnectionRefused},
		{"Connections/Update", testConnectionUpdate},
		{"Connections/UpdateKeepsCreation", testConnectionUpdateKeepsCreation},
		{"Connections/RenameKeepsGrants", testConnectionRename},
		{"Connections/Delete", testConnectionDelete},
		{"Connections/Pagination", testConnectionPagination},
		{"Grants/Update", testGrantsUpdate},
		{"Grants/Atomic", testGrantsAtomic},
		{"Grants/Refused", testGrantsRefused},
		{"Grants/Metastore", testGrantsMetastore},
		{"Grants/Of", testGrantsOf},
		{"Meta", testMeta},
		{"Ping", testPing},
		{"Watch/Changes", testWatchChanges},
		{"Watch/FailedWritesAreSilent", testWatchFailedWrites},
		{"Watch/Several", testWatchSeveral},
		{"Watch/CallbackMayUseStore", testWatchCallbackUsesStore},
		{"Concurrency/Writes", testConcurrentWrites},
		{"Concurrency/Cycle", testConcurrentCycle},
		{"Credentials/RoundTrip", testCredentialRoundTrip},
		{"Credentials/SharedAndPerUser", testCredentialSharedAndPerUser},
		{"Credentials/Optimistic", testCredentialOptimistic},
		{"Credentials/CreateTwice", testCredentialCreateTwice},
		{"Credentials/Refused", testCredentialRefused},
		{"Credentials/List", testCredentialList},
		{"Credentials/Cascade", testCredentialCascade},
		{"Credentials/Touch", testCredentialTouch},
		{"Credentials/Watch", testCredentialWatch},
		{"Concurrency/Credentials", testCredentialConcurrency},
		// Refresh exactly once across replicas: LockCredential.
		{"Credentials/LockExclusive", testCredentialLockExclusive},
		{"Credentials/LockCurrent", testCredentialLockCurrent},
		{"Credentials/LockKeys", testCredentialLockKeys},
		{"Credentials/LockError", testCredentialLockError},
		{"Credentials/LockCancel", testCredentialLockCancel},
		{"Audit/AppendList", testAuditAppendList},
		{"Audit/LastEmpty", testAuditLastEmpty},
		{"Audit/Params", testAuditParams},
		{"Audit/Filters", testAuditFilters},
		{"Audit/Pagination", testAuditPagination},
		{"Audit/Limits", testAuditLimits},
		{"Audit/BatchAtomic", testAuditBatchAtomic},
		// Issue 11, one audit chain with several writers.
		{"Audit/ChainedRules", testAuditChainedRules},
		{"Audit/Chained", testAuditChained},
		{"Network/PolicyMissing", testNetworkPolicyMissing},
		{"Network/PolicyRoundTrip", testNetworkPolicyRoundTrip},
		{"Network/PolicyCopies", testNetworkPolicyCopies},
		{"Network/PolicyOptimistic", testNetworkPolicyOptimistic},
		{"Network/PolicyStaleOnEmpty", testNetworkPolicyStaleOnEmpty},
		{"Network/PolicyRefused", testNetworkPolicyRefused},
		{"Network/PolicyWatch", testNetworkPolicyWatch},
		{"Network/EventsAppendList", testNetworkEventsAppendList},
		{"Network/EventsFilters", testNetworkEventsFilters},
		{"Network/EventsPagination", testNetworkEventsPagination},
		{"Network/EventsLimits", testNetworkEventsLimits},
		{"Network/EventsBatchAtomic", testNetworkEventsBatchAtomic},
		{"MCPTools/RoundTrip", testMCPToolsRoundTrip},
		{"MCPTools/Optimistic", testMCPToolsOptimistic},
		{"MCPTools/Refused", testMCPToolsRefused},
		{"MCPTools/Approve", testMCPToolsApprove},
		{"MCPTools/Delete", testMCPToolsDelete},
		{"MCPTools/Cascade", testMCPToolsCascade},
		// Browser sessions and pending OAuth logins (sessions.go).
		{"Sessions/CreateGet", testSessionCreateGet},
		{"Sessions/Refused", testSessionRefused},
		{"Sessions/PerPrincipalBound", testSessionPerPrincipalBound},
		{"Sessions/ExpiredPurged", testSessionExpiredPurged},
		{"Sessions/Delete", testSessionDelete},
		// Workload identity federation (issue 12).
		{"FederationPolicies/CRUD", testFederationPolicyCRUD},
		{"FederationPolicies/Refused", testFederationPolicyRefused},
		{"FederationPolicies/DeletedWithPrincipal", testFederationPolicyDeletedWithPrincipal},
		{"PendingLogins/PutTake", testPendingPutTake},
		{"PendingLogins/SingleUse", testPendingSingleUse},
		{"PendingLogins/Expiry", testPendingExpiry},
		{"PendingLogins/Bounds", testPendingBounds},
		// Issue 12: single sign-on's rows in the session tables (sso.go).
		{"Sessions/SSO", testSSORows},
		// Issue 12: the authorization server's codes and refresh families (oauthgrants.go).
		{"OAuthGrants/CodeTakeOnce", testOAuthCodeTakeOnce}, {"OAuthGrants/CodeExpiry", testOAuthCodeExpiry}, {"OAuthGrants/CodeBound", testOAuthCodeBound}, {"OAuthGrants/CodeRefused", testOAuthCodeRefused}, {"OAuthGrants/FamilyCRUD", testOAuthFamilyCRUD}, {"OAuthGrants/FamilyBound", testOAuthFamilyBound}, {"OAuthGrants/FamilyRotate", testOAuthFamilyRotate}, {"OAuthGrants/EndWithPrincipal", testOAuthGrantsEndWithPrincipal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(&fixture{t: t, ctx: t.Context(), s: open(t)})
		})
	}
}

// fixture is one subtest's store and helpers that create rows in it.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     catalog.Store
	ticks int
}

// base is the suite's clock origin: nanoseconds, and a zone that is not UTC, so that
// round trips must keep the instant exactly.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// tick returns a new time, one second and one nanosecond after the previous one.
func (f *fixture) tick() time.Time {
	f.ticks++
	return base.Add(time.Duration(f.ticks) * (time.Second + time.Nanosecond))
}

func (f *fixture) principal(kind catalog.PrincipalKind, name string) *catalog.Principal {
	f.t.Helper()
	now := f.tick()
	p := &catalog.Principal{
		ID:          catalog.NewID(),
		Kind:        kind,
		Name:        name,
		DisplayName: "Display " + name,
		Active:      true,
		ExternalID:  "ext-" + name,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	f.must("create principal "+name, f.s.CreatePrincipal(f.ctx, p))
	return p
}

func (f *fixture) user(name string) *catalog.Principal {
	f.t.Helper()
	return f.principal(catalog.KindUser, name)
}

func (f *fixture) group(name string) *catalog.Principal {
	f.t.Helper()
	return f.principal(catalog.KindGroup, name)
}

// newToken returns a token for principalID with a random hash, not yet stored.
func (f *fixture) newToken(principalID string) *catalog.Token {
	h := sha256.Sum256([]byte(catalog.NewID()))
	return &catalog.Token{
		ID:          catalog.NewID(),
		PrincipalID: principalID,
		Hash:        h[:],
		Comment:     "test token",
		CreatedBy:   principalID,
		CreatedAt:   f.tick(),
	}
}

func (f *fixture) token(principalID string) *catalog.Token {
	f.t.Helper()
	tk := f.newToken(principalID)
	f.must("create token", f.s.CreateToken(f.ctx, tk))
	return tk
}

// newConnection returns a bearer-token connection owned by ownerID, not yet stored.
func (f *fixture) newConnection(name, ownerID string) *catalog.Connection {
	now := f.tick()
	return &catalog.Connection{
		ID:             catalog.NewID(),
		Name:           name,
		ConnectionType: "HTTP",
		CredentialType: catalog.BearerToken,
		OwnerID:        ownerID,
		Comment:        "the " + name + " API",
		Options:        map[string]string{catalog.OptHost: "https://" + name + ".example.com", catalog.OptBasePath: "/v1"},
		Secrets:        map[string][]byte{catalog.OptBearerToken: []byte("sealed:" + name)},
		Enabled:        true,
		CreatedAt:      now,
		CreatedBy:      ownerID,
		UpdatedAt:      now,
		UpdatedBy:      ownerID,
	}
}

func (f *fixture) connection(name, ownerID string) *catalog.Connection {
	f.t.Helper()
	c := f.newConnection(name, ownerID)
	f.must("create connection "+name, f.s.CreateConnection(f.ctx, c))
	return c
}

func (f *fixture) grant(t catalog.SecurableType, securableID, principalID string, p catalog.Privilege) {
	f.t.Helper()
	f.must(fmt.Sprintf("grant %s on %s %s", p, t, securableID),
		f.s.UpdateGrants(f.ctx, t, securableID, []catalog.Grant{{PrincipalID: principalID, Privilege: p}}, nil))
}

// must stops the subtest when err is not nil.
func (f *fixture) must(what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

// wantCode reports an error unless err carries the code.
func (f *fixture) wantCode(what string, err error, want catalog.ErrorCode) {
	f.t.Helper()
	if err == nil {
		f.t.Errorf("%s succeeded, want %s", what, want)
		return
	}
	if got := catalog.CodeOf(err); got != want {
		f.t.Errorf("%s: %v, want code %s", what, err, want)
	}
}

// wantMessage reports an error unless err's message contains every part.
func (f *fixture) wantMessage(what string, err error, parts ...string) {
	f.t.Helper()
	if err == nil {
		return // wantCode has said so
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			f.t.Errorf("%s: message %q does not mention %q", what, err.Error(), p)
		}
	}
}

// diff is cmp.Diff with nil and empty slices and maps equal: stores may return either
// for an empty list.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}
