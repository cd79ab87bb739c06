package storetest

import (
	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Federation policies (issue 12, workload identity federation).

func (f *fixture) newFederationPolicy(principalID, subject string) *catalog.FederationPolicy {
	now := f.tick()
	return &catalog.FederationPolicy{ID: catalog.NewID(), PrincipalID: principalID, Issuer: "https://token.actions.githubusercontent.com",
		Audiences: []string{"gatehouse", "https://gatehouse.example.com"}, Subject: subject, SubjectClaim: "sub",
		CreatedAt: now, UpdatedAt: now}
}

func testFederationPolicyCRUD(f *fixture) {
	sp := f.principal(catalog.KindServicePrincipal, "ci-app")
	other := f.principal(catalog.KindServicePrincipal, "other-app")
	p1 := f.newFederationPolicy(sp.ID, "repo:acme/app:ref:refs/heads/main")
	p2 := f.newFederationPolicy(sp.ID, "system:serviceaccount:prod:app")
	p2.SubjectClaim = "email"
	p2.JWKSJSON = `{"keys":[]}`
	p3 := f.newFederationPolicy(other.ID, "x")
	for _, p := range []*catalog.FederationPolicy{p1, p2, p3} {
		f.must("CreateFederationPolicy", f.s.CreateFederationPolicy(f.ctx, p))
	}
	got, err := f.s.GetFederationPolicy(f.ctx, p2.ID)
	f.must("GetFederationPolicy", err)
	if d := diff(p2, got); d != "" {
		f.t.Errorf("GetFederationPolicy mismatch (-want +got):\n%s", d)
	}
	list, err := f.s.ListFederationPolicies(f.ctx, sp.ID)
	f.must("ListFederationPolicies", err)
	if d := diff([]*catalog.FederationPolicy{p1, p2}, list); d != "" {
		f.t.Errorf("ListFederationPolicies mismatch (-want +got):\n%s", d)
	}

	upd := *p1
	upd.PrincipalID = other.ID // ignored: a policy never moves
	upd.CreatedAt = f.tick()   // ignored
	upd.Issuer, upd.Audiences, upd.Subject, upd.SubjectClaim, upd.JWKSJSON = "https://kubernetes.default.svc", []string{"k8s"}, "system:serviceaccount:a:b", "sub", `{"keys":[1]}`
	upd.UpdatedAt = f.tick()
	f.must("UpdateFederationPolicy", f.s.UpdateFederationPolicy(f.ctx, &upd))
	got, err = f.s.GetFederationPolicy(f.ctx, p1.ID)
	f.must("GetFederationPolicy", err)
	want := upd
	want.PrincipalID, want.CreatedAt = p1.PrincipalID, p1.CreatedAt
	if d := diff(&want, got); d != "" {
		f.t.Errorf("after UpdateFederationPolicy (-want +got):\n%s", d)
	}

	f.must("DeleteFederationPolicy", f.s.DeleteFederationPolicy(f.ctx, p1.ID))
	_, err = f.s.GetFederationPolicy(f.ctx, p1.ID)
	f.wantCode("GetFederationPolicy(deleted)", err, catalog.ResourceDoesNotExist)
	f.wantCode("DeleteFederationPolicy(deleted)", f.s.DeleteFederationPolicy(f.ctx, p1.ID), catalog.ResourceDoesNotExist)
	f.wantCode("UpdateFederationPolicy(deleted)", f.s.UpdateFederationPolicy(f.ctx, p1), catalog.ResourceDoesNotExist)
	list, err = f.s.ListFederationPolicies(f.ctx, catalog.NewID())
	f.must("ListFederationPolicies(unknown)", err)
	if len(list) != 0 {
		f.t.Errorf("an unknown principal has %d policies", len(list))
	}
}

func testFederationPolicyRefused(f *fixture) {
	sp := f.principal(catalog.KindServicePrincipal, "ci-app")
	p := f.newFederationPolicy(catalog.NewID(), "s")
	f.wantCode("CreateFederationPolicy(unknown principal)", f.s.CreateFederationPolicy(f.ctx, p), catalog.ResourceDoesNotExist)
	p = f.newFederationPolicy(sp.ID, "s")
	f.must("CreateFederationPolicy", f.s.CreateFederationPolicy(f.ctx, p))
	f.wantCode("CreateFederationPolicy(same ID)", f.s.CreateFederationPolicy(f.ctx, p), catalog.ResourceAlreadyExists)
	noID := f.newFederationPolicy(sp.ID, "s")
	noID.ID = ""
	f.wantCode("CreateFederationPolicy(no ID)", f.s.CreateFederationPolicy(f.ctx, noID), catalog.InvalidParameterValue)
}

func testFederationPolicyDeletedWithPrincipal(f *fixture) {
	sp := f.principal(catalog.KindServicePrincipal, "ci-app")
	p := f.newFederationPolicy(sp.ID, "s")
	f.must("CreateFederationPolicy", f.s.CreateFederationPolicy(f.ctx, p))
	f.must("DeletePrincipal", f.s.DeletePrincipal(f.ctx, sp.ID))
	_, err := f.s.GetFederationPolicy(f.ctx, p.ID)
	f.wantCode("GetFederationPolicy(principal deleted)", err, catalog.ResourceDoesNotExist)
}
