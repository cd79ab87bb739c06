package governance

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// deafStore is the store as a replica that stopped hearing changes sees it: its
// authorizer keeps deciding on what it loaded (up to the freshness TTL).
type deafStore struct{ *sqlite.DB }

func (deafStore) Watch(func(catalog.Change)) {}

// deafService is the operations over w's store with an authorizer that hears no change,
// primed with who's admin decision.
func (w *opsWorld) deafService(t *testing.T, who string) *Service {
	t.Helper()
	s := New(Deps{Store: w.st, Access: access.New(deafStore{w.st})})
	if ok, err := s.IsAdmin(context.Background(), w.p[who]); err != nil || !ok {
		t.Fatalf("%s is not an admin before the change: %v, %v", who, ok, err)
	}
	return s
}

func (w *opsWorld) member(t *testing.T, group, member string) {
	t.Helper()
	if err := w.st.AddMember(context.Background(), w.p[group].ID, w.p[member].ID); err != nil {
		t.Fatal(err)
	}
}

func (w *opsWorld) deactivate(t *testing.T, name string) {
	t.Helper()
	p := *w.p[name]
	p.Active = false
	if err := w.st.UpdatePrincipal(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	w.p[name] = &p
}

// state is what the last-admin rule protects: each principal's active flag and the
// group graph, as text to compare before and after a refused change.
func (w *opsWorld) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ps, err := w.st.ListPrincipals(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	edges, err := w.st.ListMemberships(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := map[string]string{}
	var out []string
	for _, p := range ps {
		name[p.ID] = p.Name
		if p.Active {
			out = append(out, p.Name+" active")
		} else {
			out = append(out, p.Name+" inactive")
		}
	}
	for _, e := range edges {
		out = append(out, name[e.MemberID]+" in "+name[e.GroupID])
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestLastAdminRule: a change that would leave the admins group without an active
// member (direct, or through a nested group that has one) is refused with
// INVALID_PARAMETER_VALUE and changes nothing; the same change is allowed while another
// active admin remains. The deactivation and deletion cases run on a replica whose
// authorizer did not hear that the caller left admins: the rule reads the store.
func TestLastAdminRule(t *testing.T) {
	tests := []struct {
		name string
		// setup builds the graph from newOpsWorld's (root alone in admins); change
		// runs as root through svc.
		setup   func(t *testing.T, w *opsWorld)
		deaf    bool
		change  func(w *opsWorld, svc *Service) error
		refused bool
	}{
		{name: "remove yourself, the last admin", change: func(w *opsWorld, svc *Service) error {
			return removeMember(w, svc, catalog.AdminsGroup, "root")
		}, refused: true},
		{name: "remove yourself while olivia remains", setup: func(t *testing.T, w *opsWorld) { w.member(t, catalog.AdminsGroup, "olivia") },
			change: func(w *opsWorld, svc *Service) error { return removeMember(w, svc, catalog.AdminsGroup, "root") }},
		{name: "remove yourself while only an inactive admin remains", setup: func(t *testing.T, w *opsWorld) {
			w.member(t, catalog.AdminsGroup, "olivia")
			w.deactivate(t, "olivia")
		}, change: func(w *opsWorld, svc *Service) error { return removeMember(w, svc, catalog.AdminsGroup, "root") }, refused: true},
		{name: "replace the members with an inactive user", setup: func(t *testing.T, w *opsWorld) { w.deactivate(t, "mike") },
			change: func(w *opsWorld, svc *Service) error {
				g := w.p[catalog.AdminsGroup]
				_, err := svc.UpdatePrincipal(context.Background(), w.p["root"], g, *g, []MemberOp{{Op: MembersReplace, IDs: []string{w.p["mike"].ID}}}, nil)
				return err
			}, refused: true},
		{name: "replace the members with an active user", change: func(w *opsWorld, svc *Service) error {
			g := w.p[catalog.AdminsGroup]
			_, err := svc.UpdatePrincipal(context.Background(), w.p["root"], g, *g, []MemberOp{{Op: MembersReplace, IDs: []string{w.p["olivia"].ID}}}, nil)
			return err
		}},
		{name: "remove yourself and add olivia in one change", change: func(w *opsWorld, svc *Service) error {
			g := w.p[catalog.AdminsGroup]
			_, err := svc.UpdatePrincipal(context.Background(), w.p["root"], g, *g, []MemberOp{
				{Op: MembersRemove, IDs: []string{w.p["root"].ID}}, {Op: MembersAdd, IDs: []string{w.p["olivia"].ID}}}, nil)
			return err
		}},
		{name: "remove yourself, an active nested group remains", setup: func(t *testing.T, w *opsWorld) {
			w.add(t, "ops", catalog.KindGroup)
			w.member(t, "ops", "olivia")
			w.member(t, catalog.AdminsGroup, "ops")
		}, change: func(w *opsWorld, svc *Service) error { return removeMember(w, svc, catalog.AdminsGroup, "root") }},
		{name: "remove yourself, the nested group has only inactive members", setup: func(t *testing.T, w *opsWorld) {
			w.add(t, "ops", catalog.KindGroup)
			w.member(t, "ops", "mike")
			w.deactivate(t, "mike")
			w.member(t, catalog.AdminsGroup, "ops")
		}, change: func(w *opsWorld, svc *Service) error { return removeMember(w, svc, catalog.AdminsGroup, "root") }, refused: true},
		{name: "remove the nested group that holds the last admin", setup: nestedRoot,
			change:  func(w *opsWorld, svc *Service) error { return removeMember(w, svc, catalog.AdminsGroup, "ops") },
			refused: true},
		{name: "leave the nested group that makes you admin", setup: nestedRoot,
			change:  func(w *opsWorld, svc *Service) error { return removeMember(w, svc, "ops", "root") },
			refused: true},
		{name: "delete the nested group that holds the last admin", setup: nestedRoot,
			change: func(w *opsWorld, svc *Service) error {
				return svc.DeletePrincipal(context.Background(), w.p["root"], catalog.KindGroup, w.p["ops"].ID, nil)
			}, refused: true},
		{name: "delete a nested group while a direct admin remains", setup: func(t *testing.T, w *opsWorld) {
			nestedRoot(t, w)
			w.member(t, catalog.AdminsGroup, "olivia")
		}, change: func(w *opsWorld, svc *Service) error {
			return svc.DeletePrincipal(context.Background(), w.p["root"], catalog.KindGroup, w.p["ops"].ID, nil)
		}},
		{name: "deactivate the last admin", setup: staleRoot, deaf: true, change: func(w *opsWorld, svc *Service) error {
			_, err := svc.SetPrincipalActive(context.Background(), w.p["root"], catalog.KindUser, w.p["olivia"].ID, false, nil)
			return err
		}, refused: true},
		{name: "delete the last admin", setup: staleRoot, deaf: true, change: func(w *opsWorld, svc *Service) error {
			return svc.DeletePrincipal(context.Background(), w.p["root"], catalog.KindUser, w.p["olivia"].ID, nil)
		}, refused: true},
		{name: "deactivate a user who is no admin", setup: staleRoot, deaf: true, change: func(w *opsWorld, svc *Service) error {
			_, err := svc.SetPrincipalActive(context.Background(), w.p["root"], catalog.KindUser, w.p["mike"].ID, false, nil)
			return err
		}},
		{name: "deactivate another admin while you remain", setup: func(t *testing.T, w *opsWorld) { w.member(t, catalog.AdminsGroup, "olivia") },
			change: func(w *opsWorld, svc *Service) error {
				_, err := svc.SetPrincipalActive(context.Background(), w.p["root"], catalog.KindUser, w.p["olivia"].ID, false, nil)
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newOpsWorld(t)
			svc := w.svc
			if tc.deaf {
				svc = w.deafService(t, "root")
			}
			if tc.setup != nil {
				tc.setup(t, w)
			}
			before := w.state(t)
			err := tc.change(w, svc)
			if !tc.refused {
				if err != nil {
					t.Fatalf("change refused: %v", err)
				}
				if w.state(t) == before {
					t.Error("the change changed nothing")
				}
				return
			}
			if catalog.CodeOf(err) != catalog.InvalidParameterValue || !strings.Contains(err.Error(), "without an active member") ||
				!strings.Contains(err.Error(), "make another user or service principal an admin first") {
				t.Fatalf("change = %v, want INVALID_PARAMETER_VALUE saying why and what to do", err)
			}
			if after := w.state(t); after != before {
				t.Errorf("a refused change changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// nestedRoot makes root an admin only through the group ops.
func nestedRoot(t *testing.T, w *opsWorld) {
	t.Helper()
	w.add(t, "ops", catalog.KindGroup)
	w.member(t, "ops", "root")
	w.member(t, catalog.AdminsGroup, "ops")
	if err := w.st.RemoveMember(context.Background(), w.p[catalog.AdminsGroup].ID, w.p["root"].ID); err != nil {
		t.Fatal(err)
	}
}

// staleRoot leaves olivia the only admin, changed on another replica: root's (deaf)
// authorizer still takes root for an admin.
func staleRoot(t *testing.T, w *opsWorld) {
	t.Helper()
	w.member(t, catalog.AdminsGroup, "olivia")
	if err := w.st.RemoveMember(context.Background(), w.p[catalog.AdminsGroup].ID, w.p["root"].ID); err != nil {
		t.Fatal(err)
	}
}

func removeMember(w *opsWorld, svc *Service, group, member string) error {
	_, err := svc.ChangeMembers(context.Background(), w.p["root"], w.p[group].ID, MemberOp{Op: MembersRemove, IDs: []string{w.p[member].ID}}, nil)
	return err
}

// TestAdminsRemoveEachOther: root and olivia, the two admins, remove each other one
// after the other. The first removal goes through; the second is refused, whether the
// replica serving it already knows olivia is no admin (PERMISSION_DENIED) or not yet
// (the last-admin rule, which reads the store). root stays an admin.
func TestAdminsRemoveEachOther(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	w.member(t, catalog.AdminsGroup, "olivia")
	stale := w.deafService(t, "olivia")
	admins := w.p[catalog.AdminsGroup]
	if _, err := w.svc.ChangeMembers(ctx, w.p["root"], admins.ID, MemberOp{Op: MembersRemove, IDs: []string{w.p["olivia"].ID}}, nil); err != nil {
		t.Fatalf("root removes olivia: %v", err)
	}
	second := MemberOp{Op: MembersRemove, IDs: []string{w.p["root"].ID}}
	if _, err := w.svc.ChangeMembers(ctx, w.p["olivia"], admins.ID, second, nil); catalog.CodeOf(err) != catalog.PermissionDenied {
		t.Errorf("olivia removes root = %v, want PERMISSION_DENIED (she is no admin now)", err)
	}
	if _, err := stale.ChangeMembers(ctx, w.p["olivia"], admins.ID, second, nil); catalog.CodeOf(err) != catalog.InvalidParameterValue ||
		!strings.Contains(err.Error(), "without an active member") {
		t.Errorf("olivia removes root on a replica that did not hear = %v, want the last-admin refusal", err)
	}
	if ok, err := w.svc.IsAdmin(ctx, w.p["root"]); err != nil || !ok {
		t.Errorf("root is an admin after both: %v, %v", ok, err)
	}
}
