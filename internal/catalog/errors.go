// Package catalog is Gatehouse's domain: connections, credential types, principals,
// privileges and grants, the user-visible error type, and the store interfaces that the
// adapters (SQLite, PostgreSQL) implement. It imports nothing else of Gatehouse, so that
// every other package can depend on it and none of them on each other.
package catalog

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode is one of the error codes of the HTTP API contract (docs/api.md, "Errors").
type ErrorCode string

// The error codes clients may see.
const (
	InvalidParameterValue  ErrorCode = "INVALID_PARAMETER_VALUE"
	Unauthenticated        ErrorCode = "UNAUTHENTICATED"
	OAuthLoginRequired     ErrorCode = "OAUTH_LOGIN_REQUIRED"
	PermissionDenied       ErrorCode = "PERMISSION_DENIED"
	NetworkPolicyDenied    ErrorCode = "NETWORK_POLICY_DENIED"
	ResourceDoesNotExist   ErrorCode = "RESOURCE_DOES_NOT_EXIST"
	ResourceAlreadyExists  ErrorCode = "RESOURCE_ALREADY_EXISTS"
	RequestLimitExceeded   ErrorCode = "REQUEST_LIMIT_EXCEEDED"
	UpstreamError          ErrorCode = "UPSTREAM_ERROR"
	UpstreamTimeout        ErrorCode = "UPSTREAM_TIMEOUT"
	TemporarilyUnavailable ErrorCode = "TEMPORARILY_UNAVAILABLE"
	InternalError          ErrorCode = "INTERNAL_ERROR"
)

// HTTPStatus is the HTTP status that goes with the code.
func (c ErrorCode) HTTPStatus() int {
	switch c {
	case InvalidParameterValue:
		return http.StatusBadRequest
	case Unauthenticated, OAuthLoginRequired:
		return http.StatusUnauthorized
	case PermissionDenied, NetworkPolicyDenied:
		return http.StatusForbidden
	case ResourceDoesNotExist:
		return http.StatusNotFound
	case ResourceAlreadyExists:
		return http.StatusConflict
	case RequestLimitExceeded:
		return http.StatusTooManyRequests
	case UpstreamError:
		return http.StatusBadGateway
	case UpstreamTimeout:
		return http.StatusGatewayTimeout
	case TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is the one error type whose message a user may see. Anything that is not an
// *Error becomes INTERNAL_ERROR with a request id, and its text goes only to the log.
// Messages must never contain a secret.
type Error struct {
	Code    ErrorCode
	Message string
	// LoginURL is set with OAUTH_LOGIN_REQUIRED.
	LoginURL string
	// Status overrides the code's HTTP status where the contract needs another one
	// (413 for an oversized body keeps the code INVALID_PARAMETER_VALUE, since the
	// contract's list of codes is closed).
	Status int
}

// HTTPStatus is the status to answer with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.HTTPStatus()
}

// TooLarge is the error for a request body over its limit.
func TooLarge(limit int64) *Error {
	return &Error{Code: InvalidParameterValue, Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or InternalError.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return InternalError
}

// IsNotFound reports whether err is a RESOURCE_DOES_NOT_EXIST error.
func IsNotFound(err error) bool { return err != nil && CodeOf(err) == ResourceDoesNotExist }

// IsAlreadyExists reports whether err is a RESOURCE_ALREADY_EXISTS error.
func IsAlreadyExists(err error) bool { return err != nil && CodeOf(err) == ResourceAlreadyExists }
