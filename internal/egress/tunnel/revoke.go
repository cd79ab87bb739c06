package tunnel

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/revoke"
)

// track registers an authenticated tunnel or request with the revoke registry: its
// context ends when a re-check of its identity fails or its token expires. Without a
// registry it returns ctx as it is.
func (s *Server) track(ctx context.Context, t *trip) (context.Context, func()) {
	if s.cfg.Revoke == nil || s.cfg.Recheck == nil || t.who == nil {
		return ctx, func() {}
	}
	who := t.who
	e := revoke.Entry{Since: t.since, Check: func(ctx context.Context) error { return s.cfg.Recheck(ctx, who) }}
	if !who.ExpiresAt.IsZero() {
		e.Expires, e.Expired = who.ExpiresAt, who.Expired()
	}
	return s.cfg.Revoke.TrackEntry(ctx, e)
}

// revokedReason is the audit reason of a tunnel or request whose tracked context
// ended: a revoke, or the client going away.
func revokedReason(ctx context.Context) string {
	cause := context.Cause(ctx)
	var ce *catalog.Error
	switch {
	case errors.As(cause, &ce):
		return "access revoked: " + ce.Message
	case errors.Is(cause, context.Canceled):
		return "client gone"
	}
	return "access revoked: the re-check failed"
}

// revoked answers a request that a revoke ended before the destination answered.
func (s *Server) revoked(w http.ResponseWriter, t *trip, ctx context.Context) {
	var ce *catalog.Error
	if errors.As(context.Cause(ctx), &ce) && ce.Code == catalog.Unauthenticated {
		s.unauthenticated(w, t, ce.Message)
		return
	}
	msg := revokedReason(ctx)
	s.refuse(w, t, http.StatusForbidden, catalog.PermissionDenied, msg, msg)
}
