package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Exit codes. They are the contract with shell scripts, CI jobs and the MCP shim.
const (
	ExitOK          = 0   // success; for checks: all passed
	ExitFailure     = 1   // operational failure: a step, a connection, I/O, internal
	ExitUsage       = 2   // usage or validation error: bad arguments, invalid input
	ExitInterrupted = 130 // interrupted by SIGINT
)

// Error is a failure with its exit code and its JSON error document. Fields are merged
// into the document next to status, error_type and message.
type Error struct {
	Code    int
	Type    string // snake_case error_type
	Message string
	Fields  map[string]any
	Err     error // cause, for errors.Is; never printed
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// UsageError is a bad invocation: exit 2.
func UsageError(format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Type: "usage_error", Message: fmt.Sprintf(format, args...)}
}

// ValidationError is invalid input (a file, a reference, a value): exit 2.
func ValidationError(errType, msg string, fields map[string]any) *Error {
	return &Error{Code: ExitUsage, Type: errType, Message: msg, Fields: fields}
}

// FailureError is an operational failure: exit 1.
func FailureError(errType, msg string, fields map[string]any) *Error {
	return &Error{Code: ExitFailure, Type: errType, Message: msg, Fields: fields}
}

// NotFoundError is a named thing that does not exist (a run, a component): exit 2.
func NotFoundError(msg string) *Error {
	return &Error{Code: ExitUsage, Type: "not_found", Message: msg}
}

// asError maps any error to an *Error. Unknown errors are operational failures whose
// message is redacted, since it may come from a library that quotes its input.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) {
		return &Error{Code: ExitUsage, Type: "config_error", Message: cfgErr.Error(), Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: ExitInterrupted, Type: "interrupted", Message: "interrupted", Err: err}
	}
	return &Error{
		Code: ExitFailure, Type: "internal_error", Message: secrets.RedactText(err.Error()),
		Err: err,
	}
}

// errorDocument is the JSON printed on stdout for a failure in --json mode.
func errorDocument(e *Error) map[string]any {
	doc := map[string]any{}
	for k, v := range e.Fields {
		doc[k] = v
	}
	doc["status"] = "error"
	doc["error_type"] = e.Type
	doc["message"] = secrets.RedactText(e.Message)
	return doc
}
