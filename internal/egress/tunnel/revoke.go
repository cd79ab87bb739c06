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

// revocation returns why a revoke ended the tracked context ctx, or nil when ctx has
// not ended or ended with its parent (the client went away): the registry's causes, the
// token's expiry included, are *catalog.Error values, a parent's are not.
func revocation(ctx context.Context) *catalog.Error {
	var ce *catalog.Error
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &ce) {
		return ce
	}
	return nil
}

// revokedReason is the audit reason of a tunnel or request whose tracked context
// ended: a revoke, or the client going away.
func revokedReason(ctx context.Context) string {
	if ce := revocation(ctx); ce != nil {
		return "access revoked: " + ce.Message
	}
	return "client gone"
}

// revoked answers a request that a revoke ended before the destination answered.
func (s *Server) revoked(w http.ResponseWriter, t *trip, ce *catalog.Error) {
	if ce.Code == catalog.Unauthenticated {
		s.unauthenticated(w, t, ce.Message)
		return
	}
	msg := "access revoked: " + ce.Message
	s.refuse(w, t, ce.HTTPStatus(), ce.Code, msg, msg)
}
