package csvstream

import (
	"fmt"
	"strings"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// RowError is a record that could not be loaded: malformed CSV, a wrong
// number of fields, or a value its column cannot hold. It converts to a
// *fault.FieldError (see AsFault), which is how it reaches the caller as
// INVALID_ARGUMENT.
type RowError struct {
	// Line is the 1-based physical line the record starts on.
	Line int64
	// Column is the dataset column at fault; empty when the record as a
	// whole is (e.g. a wrong number of fields).
	Column string
	// Value is the offending value, masked when the column is PII.
	Value string
	// Reason says what is wrong, in words that follow the quoted value
	// (e.g. "is not a decimal(18,2)") or, without a value, on their own.
	Reason string
	// Raw holds the record's fields as read, PII columns masked; every
	// field is masked when a wrong field count leaves it unclear which
	// field belongs to which column. Nil when the record could not be split.
	Raw []string

	hasValue bool
}

// Error returns e.g. `line 1042, column "premium": "12,5" is not a
// decimal(18,2)`.
func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.message())
	return b.String()
}

// message is the error without its place: the quoted value and the reason.
func (e *RowError) message() string {
	if e.hasValue {
		return fmt.Sprintf("%q %s", e.Value, e.Reason)
	}
	return e.Reason
}

// AsFault returns the error as the FieldError the service edge maps to
// INVALID_ARGUMENT: Field "source", Row the line, and the column.
func (e *RowError) AsFault() *fault.FieldError {
	return &fault.FieldError{Field: "source", Row: e.Line, Column: e.Column, Reason: e.message()}
}

// Unwrap lets errors.As and fault.FieldErrors find the FieldError.
func (e *RowError) Unwrap() error { return e.AsFault() }
