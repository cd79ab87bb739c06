package bound

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler is a slog.Handler that bounds every string of a record before passing it on:
// the message, every attribute key, every string value (in groups too, and those added
// with WithAttrs), and the text of errors, fmt.Stringers and any other value that is
// not a number, a bool, a time or a duration. So no request-supplied string — a path,
// a header value, a name — makes a log line longer than about the limit per value (four
// times it for the message and an error's text), or puts a control character into it,
// whatever handler writes the line.
//
// A record with nothing to change goes to the wrapped handler as it is, without
// allocating.
type Handler struct {
	next  slog.Handler
	limit int
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that bounds strings to limit bytes (Limit when limit is
// zero or negative) and passes records to next.
func NewHandler(next slog.Handler, limit int) *Handler {
	if limit <= 0 {
		limit = Limit
	}
	return &Handler{next: next, limit: limit}
}

// msgLimit is the bound of a record's message and of an error's text: both are
// composed by Gatehouse and may carry a chain of causes an operator needs, so they get
// four times the room of a value, and are still bounded whatever they quote.
func (h *Handler) msgLimit() int { return 4 * h.limit }

// Enabled reports whether the wrapped handler handles records at level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle bounds r's message and attributes and passes the result on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	change := !clean(r.Message, h.msgLimit())
	if !change {
		r.Attrs(func(a slog.Attr) bool {
			change = !h.cleanAttr(a)
			return !change
		})
	}
	if !change {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Truncate(r.Message, h.msgLimit()), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs bounds attrs and returns a Handler whose wrapped handler has them.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	b := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		b[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(b), limit: h.limit}
}

// WithGroup returns a Handler whose wrapped handler opens the (bounded) group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(Truncate(name, h.limit)), limit: h.limit}
}

// cleanAttr reports whether a needs no change. Values of kind Any other than plain
// strings are never clean: their text is only known once formatted.
func (h *Handler) cleanAttr(a slog.Attr) bool {
	if !clean(a.Key, h.limit) {
		return false
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return clean(a.Value.String(), h.limit)
	case slog.KindGroup:
		for _, g := range a.Value.Group() {
			if !h.cleanAttr(g) {
				return false
			}
		}
		return true
	case slog.KindAny, slog.KindLogValuer:
		return false
	}
	return true
}

// attr returns a with its key and every string in its value bounded.
func (h *Handler) attr(a slog.Attr) slog.Attr {
	a.Key = Truncate(a.Key, h.limit)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Truncate(v.String(), h.limit))
	case slog.KindGroup:
		g := v.Group()
		b := make([]slog.Attr, len(g))
		for i, ga := range g {
			b[i] = h.attr(ga)
		}
		a.Value = slog.GroupValue(b...)
	case slog.KindAny:
		a.Value = h.any(v.Any())
	default:
		a.Value = v
	}
	return a
}

// any bounds the text of a value of kind Any. Errors and Stringers become their
// bounded text; other values (slices, maps, structs) too, since a handler would
// otherwise format them at whatever length they have.
func (h *Handler) any(x any) slog.Value {
	var s string
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(Truncate(x.Error(), h.msgLimit()))
	case []byte:
		s = string(x)
	default:
		s = fmt.Sprintf("%+v", x) // Stringers too; fmt recovers if String panics
	}
	return slog.StringValue(Truncate(s, h.limit))
}
