package governance

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// RequireAdmin refuses a principal who is not a metastore admin. The operations that
// only admins may run (inventory, audit, network policy, principals, the tokens of
// others) call it first; surfaces may call it before they read a request body.
func (s *Service) RequireAdmin(ctx context.Context, who *catalog.Principal) error {
	admin, err := s.d.Access.IsAdmin(ctx, who)
	if err != nil {
		return err
	}
	if !admin {
		return catalog.Errorf(catalog.PermissionDenied, "User %s is not a metastore admin", who.Name)
	}
	return nil
}

// IsAdmin reports whether who is a metastore admin, for surfaces that show admins more
// (the operations check again themselves).
func (s *Service) IsAdmin(ctx context.Context, who *catalog.Principal) (bool, error) {
	return s.d.Access.IsAdmin(ctx, who)
}

// principalName returns the name of the principal with id (PrincipalNames' rules).
func (s *Service) principalName(ctx context.Context, id string) (string, error) {
	n, err := s.PrincipalNames(ctx, id)
	if err != nil {
		return "", err
	}
	return n[0], nil
}

// names resolves principal ids to names through a cache that lives for one operation,
// so that a list naming the same principals many times reads each once.
type names struct {
	s     *Service
	cache map[string]string
}

func (s *Service) names() *names { return &names{s: s, cache: map[string]string{}} }

func (n *names) of(ctx context.Context, id string) (string, error) {
	if v, ok := n.cache[id]; ok {
		return v, nil
	}
	v, err := n.s.principalName(ctx, id)
	if err != nil {
		return "", err
	}
	n.cache[id] = v
	return v, nil
}
