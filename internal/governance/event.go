package governance

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Event is the one audit record of a request a surface served: the action, who asked,
// the request's id and source address (from the context's catalog.RequestInfo), what
// the operation put in rec, and the outcome — err nil is allowed with status (200 when
// zero); an error gives its code and HTTP status, and PERMISSION_DENIED is a deny.
// Every surface (the API's audited wrapper, the console's forms) builds its records
// here, so that a record of the same operation is the same whichever surface served it.
func Event(action string, who *catalog.Principal, info catalog.RequestInfo, rec *Record, status int, err error) *catalog.AuditEvent {
	e := &catalog.AuditEvent{ActionName: action, SourceIP: info.SourceIP, RequestID: info.RequestID,
		Decision: catalog.DecisionAllow, StatusCode: status, Params: map[string]string{}}
	if who != nil {
		e.Principal = who.Name
	}
	if rec != nil {
		e.Connection = rec.Connection
		for k, v := range rec.Params {
			e.Params[k] = v
		}
	}
	if e.StatusCode == 0 {
		e.StatusCode = http.StatusOK
	}
	if err != nil {
		e.ErrorCode = string(catalog.CodeOf(err))
		e.StatusCode = catalog.InternalError.HTTPStatus()
		var ce *catalog.Error
		if errors.As(err, &ce) {
			e.StatusCode = ce.HTTPStatus()
		}
		if e.ErrorCode == string(catalog.PermissionDenied) {
			e.Decision = catalog.DecisionDeny
		}
	}
	return e
}
