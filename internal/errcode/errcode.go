// Package errcode maps the errors services return to the one gRPC status a
// caller sees: at the gRPC edge, and where a job records why it failed.
package errcode

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Status maps an error a handler returned to the one gRPC status the
// caller sees. Errors a caller can fix keep their message; anything else
// becomes INTERNAL with no detail (the detail goes to the log).
func Status(err error) *status.Status {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	if fields := fault.FieldErrors(err); len(fields) > 0 {
		return invalidArgument(err, fields)
	}
	code := codes.Internal
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, objects.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, store.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, store.ErrConflict):
		code = codes.Aborted
	case errors.Is(err, store.ErrInvalidPageToken):
		code = codes.InvalidArgument
	case errors.Is(err, fault.ErrFailedPrecondition), errors.Is(err, store.ErrStale):
		code = codes.FailedPrecondition
	case errors.Is(err, fault.ErrPermissionDenied):
		code = codes.PermissionDenied
	case errors.Is(err, fault.ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	if code == codes.Internal {
		return status.New(codes.Internal, "internal error")
	}
	return status.New(code, err.Error())
}

func invalidArgument(err error, fields []*fault.FieldError) *status.Status {
	msgs := make([]string, len(fields))
	details := &errdetails.BadRequest{}
	for i, f := range fields {
		msgs[i] = f.Error()
		details.FieldViolations = append(details.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       f.Field,
			Description: f.Error(),
		})
	}
	msg := strings.Join(msgs, "; ")
	if len(fields) == 1 {
		// Keep the context the service wrapped around the one problem.
		msg = err.Error()
	}
	st := status.New(codes.InvalidArgument, msg)
	if withDetails, derr := st.WithDetails(details); derr == nil {
		return withDetails
	}
	return st
}

// Code is the gRPC code of err.
func Code(err error) codes.Code { return Status(err).Code() }

// Name is a code's canonical name as the API writes it: INVALID_ARGUMENT,
// NOT_FOUND, ...
func Name(c codes.Code) string {
	if c == codes.OK {
		return "OK"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
