// Package oml reads, validates and describes OML v0.1.0, the YAML language of Osiris
// pipelines. The CLI, the MCP twins and the compiler share it, so a document that
// `osiris oml validate` accepts is one the compiler accepts too.
package oml

import (
	"fmt"
	"strings"
)

// Severities of an Issue. A document is valid when no issue has SeverityError.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Issue is one finding of the parser or the validator. Location names the field the way
// a user finds it in the file ("root", "steps[2].config.path"); Line and Column are
// 1-based and point at that field, or at its parent when the field is missing.
type Issue struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Location string `json:"location"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
}

// IsError reports whether the issue makes the document invalid.
func (i Issue) IsError() bool { return i.Severity == SeverityError }

// String renders "line:col: location: message", the form used in terminal output.
func (i Issue) String() string {
	return fmt.Sprintf("%d:%d: %s: %s", i.Line, i.Column, i.Location, i.Message)
}

// ValidationError is an OML document that cannot be used: it does not parse or it has
// validation errors. The CLI maps it to exit code 2, error_type validation_error.
type ValidationError struct {
	File   string
	Issues []Issue
}

// Error names the first error as file:line:col: field: message, so a single line in a
// terminal or a log already tells the user where to look.
func (e *ValidationError) Error() string {
	errs := Errors(e.Issues)
	if len(errs) == 0 {
		return e.File + ": invalid OML"
	}
	first := errs[0]
	msg := fmt.Sprintf("%s:%d:%d: %s: %s", displayFile(e.File), first.Line, first.Column,
		first.Location, first.Message)
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
	}
	return msg
}

func displayFile(file string) string {
	if file == "" {
		return "<stdin>"
	}
	return file
}

// Errors returns the issues of severity error, in order.
func Errors(issues []Issue) []Issue {
	return filter(issues, SeverityError)
}

// Warnings returns the issues of severity warning, in order.
func Warnings(issues []Issue) []Issue {
	return filter(issues, SeverityWarning)
}

// HasErrors reports whether any issue is an error.
func HasErrors(issues []Issue) bool {
	return len(Errors(issues)) > 0
}

func filter(issues []Issue, severity string) []Issue {
	out := []Issue{}
	for _, i := range issues {
		if i.Severity == severity {
			out = append(out, i)
		}
	}
	return out
}

// path is a location inside the document: string keys and int list indexes.
type path []any

func (p path) key(k string) path { return append(append(path{}, p...), k) }
func (p path) idx(i int) path    { return append(append(path{}, p...), i) }

// String renders the path as "steps[2].config.path"; the empty path is "root".
func (p path) String() string {
	if len(p) == 0 {
		return "root"
	}
	var b strings.Builder
	for _, seg := range p {
		switch s := seg.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}
