package shipgraph

import (
	"errors"
	"fmt"
)

// Code classifies an Error. The GraphQL layer reports it verbatim as
// extensions.code, so the values are part of the API contract.
type Code string

// The error codes clients can branch on.
const (
	CodeBadUserInput    Code = "BAD_USER_INPUT"
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeConflict        Code = "CONFLICT"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeTimeout         Code = "TIMEOUT" // ran past the request timeout and was cancelled
	CodeInternal        Code = "INTERNAL_SERVER_ERROR"

	// CodePersistedQueryNotFound: the server does not know the hash of a
	// persisted query; an Automatic Persisted Queries client resends it
	// with its text. The spelling is Apollo's, which clients look for.
	CodePersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	// CodePersistedQueryNotAllowed: in trusted documents mode, the
	// operation is not in the manifest, so it does not run.
	CodePersistedQueryNotAllowed Code = "PERSISTED_QUERY_NOT_ALLOWED"
)

// Error is the one error type of Shipgraph. Its Message is safe to show to
// clients; Err, when set, is the internal cause and only ever reaches the logs.
type Error struct {
	Code    Code
	Field   string // the offending input field, for CodeBadUserInput
	Message string
	Err     error
}

// Error implements error. It includes the cause, so logs see everything;
// clients only ever see Message (see PublicMessage).
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the internal cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a client-safe formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports bad input in one field, so a client can point at it.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. Clients see a generic message; the
// cause is kept for the logs.
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "internal server error", Err: err}
}

// ErrorCode returns the code of err, or CodeInternal when err is not an
// *Error: anything unclassified is treated as a server fault.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
