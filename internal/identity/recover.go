package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// RecoverStore is what RecoverAdmin needs of the store.
type RecoverStore interface {
	GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error)
	CreatePrincipal(ctx context.Context, p *catalog.Principal) error
	UpdatePrincipal(ctx context.Context, p *catalog.Principal) error
	AddMember(ctx context.Context, groupID, memberID string) error
	CreateToken(ctx context.Context, t *catalog.Token) error
}

// Recovery is what RecoverAdmin did: the new token (its value, shown once, and its
// record) and which repairs the admin user needed.
type Recovery struct {
	Token       string
	Record      *catalog.Token
	Created     bool // the user admin did not exist and was created
	Reactivated bool // the user admin was deactivated and is active again
}

// RecoverAdmin is the way back in when no admin token is left: it makes sure the
// built-in groups and the user `admin` exist, that admin is active and a direct member
// of `admins`, and mints a new token for it that expires at expires (zero: never).
// A name `admin` held by a group or a service principal is refused, not taken over.
func RecoverAdmin(ctx context.Context, s RecoverStore, now, expires time.Time) (*Recovery, error) {
	var adminsID string
	for _, name := range []string{catalog.AdminsGroup, catalog.UsersGroup} {
		g, err := s.GetPrincipalByName(ctx, name)
		if catalog.IsNotFound(err) {
			g = &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindGroup, Name: name, DisplayName: name, Active: true, CreatedAt: now, UpdatedAt: now}
			err = s.CreatePrincipal(ctx, g)
		}
		if err != nil {
			return nil, fmt.Errorf("recover: group %s: %w", name, err)
		}
		if g.Kind != catalog.KindGroup {
			return nil, fmt.Errorf("recover: the name %q is taken by a %s, but it is reserved for a built-in group", name, g.Kind)
		}
		if name == catalog.AdminsGroup {
			adminsID = g.ID
		}
	}
	rec := &Recovery{}
	admin, err := s.GetPrincipalByName(ctx, "admin")
	switch {
	case catalog.IsNotFound(err):
		admin = &catalog.Principal{ID: catalog.NewID(), Kind: catalog.KindUser, Name: "admin", DisplayName: "Administrator", Active: true, CreatedAt: now, UpdatedAt: now}
		if err := s.CreatePrincipal(ctx, admin); err != nil {
			return nil, fmt.Errorf("recover: create user admin: %w", err)
		}
		rec.Created = true
	case err != nil:
		return nil, fmt.Errorf("recover: read user admin: %w", err)
	case admin.Kind != catalog.KindUser:
		return nil, fmt.Errorf("recover: the name \"admin\" is taken by a %s, not a user; rename it through the API first", admin.Kind)
	case !admin.Active:
		admin.Active, admin.UpdatedAt = true, now
		if err := s.UpdatePrincipal(ctx, admin); err != nil {
			return nil, fmt.Errorf("recover: reactivate user admin: %w", err)
		}
		rec.Reactivated = true
	}
	if err := s.AddMember(ctx, adminsID, admin.ID); err != nil {
		return nil, fmt.Errorf("recover: add admin to %s: %w", catalog.AdminsGroup, err)
	}
	rec.Token = NewTokenValue()
	rec.Record = &catalog.Token{ID: catalog.NewID(), PrincipalID: admin.ID, Hash: HashToken(rec.Token), Comment: "recovered admin token (gatehouse admin recover)",
		CreatedBy: admin.ID, CreatedAt: now, ExpiresAt: expires}
	if err := s.CreateToken(ctx, rec.Record); err != nil {
		return nil, fmt.Errorf("recover: create admin token: %w", err)
	}
	return rec, nil
}
