package httpapi

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// auditNote collects what a management handler wants in its audit record. Handlers
// add names and privileges, never option values: bodies carry secrets.
type auditNote struct {
	connection string
	params     map[string]string
}

// auditNoteKey is the context key of a request's auditNote.
type auditNoteKey struct{}

// note adds a parameter to the request's audit record, if it has one.
func note(r *http.Request, k, v string) {
	if n, ok := r.Context().Value(auditNoteKey{}).(*auditNote); ok {
		n.params[k] = v
	}
}

// noteConnection names the connection of the request's audit record (after a rename,
// the new name).
func noteConnection(r *http.Request, name string) {
	if n, ok := r.Context().Value(auditNoteKey{}).(*auditNote); ok {
		n.connection = name
	}
}

// noteRecord copies what a governance operation put in its audit record into the
// request's record.
func noteRecord(r *http.Request, rec *governance.Record) {
	if rec.Connection != "" {
		noteConnection(r, rec.Connection)
	}
	for k, v := range rec.Params {
		note(r, k, v)
	}
}

// audited wraps an authenticated handler that changes state, recording one audit event
// with its outcome, allowed or refused.
func (s *Server) audited(action string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
		n := &auditNote{connection: r.PathValue("name"), params: map[string]string{"method": r.Method, "path": r.URL.Path}}
		r = r.WithContext(context.WithValue(r.Context(), auditNoteKey{}, n))
		err := h(w, r, who)
		status := 0
		if rec, ok := w.(*statusRecorder); ok {
			status = rec.status
		}
		e := governance.Event(action, who.Principal, catalog.RequestInfoFrom(r.Context()), &governance.Record{Connection: n.connection, Params: n.params}, status, err)
		if s.Audit != nil {
			s.Audit.Record(context.WithoutCancel(r.Context()), e)
		}
		return err
	}
}
