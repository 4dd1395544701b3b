// Package fault holds the error kinds that services return for a caller to
// fix, so that the gRPC edge can map each to one status code without knowing
// the service that raised it.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is bad input: it names the field (a request path such as
// "dataset.columns[2].precision") and, for data, the row and the column.
type FieldError struct {
	Field  string
	Row    int64 // 1-based; 0 when the error is not about a row
	Column string
	Reason string
}

func (e *FieldError) Error() string {
	var where []string
	if e.Row > 0 {
		where = append(where, fmt.Sprintf("row %d", e.Row))
	}
	if e.Column != "" {
		where = append(where, fmt.Sprintf("column %q", e.Column))
	}
	if e.Field != "" {
		where = append(where, e.Field)
	}
	if len(where) == 0 {
		return e.Reason
	}
	return strings.Join(where, ", ") + ": " + e.Reason
}

// Invalid returns a FieldError for a request field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrFailedPrecondition marks a request that is well formed but cannot be
// done in the resource's present state (e.g. a schema change that would
// orphan stored data).
var ErrFailedPrecondition = errors.New("failed precondition")

// Precondition returns an error wrapping ErrFailedPrecondition.
func Precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFailedPrecondition, fmt.Sprintf(format, args...))
}

// ErrPermissionDenied marks a request the caller may not make.
var ErrPermissionDenied = errors.New("permission denied")

// Denied returns an error wrapping ErrPermissionDenied.
func Denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermissionDenied, fmt.Sprintf(format, args...))
}

// ErrUnavailable marks a request the service cannot answer correctly now,
// but may once what it depends on is back: the caller may retry.
var ErrUnavailable = errors.New("unavailable")

// Unavailable returns an error wrapping ErrUnavailable.
func Unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// FieldErrors returns every FieldError in err's tree (errors.Join included).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
