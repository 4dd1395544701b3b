package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// toStatus maps an error a handler returned to the one gRPC status the
// caller sees. Errors a caller can fix keep their message; anything else
// becomes INTERNAL with no detail (the detail goes to the log).
func toStatus(err error) *status.Status {
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
	case errors.Is(err, store.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, store.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, store.ErrConflict):
		code = codes.Aborted
	case errors.Is(err, store.ErrInvalidPageToken):
		code = codes.InvalidArgument
	case errors.Is(err, fault.ErrFailedPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, fault.ErrPermissionDenied):
		code = codes.PermissionDenied
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

// serviceAreas names the area of the lake each service belongs to, for
// UNIMPLEMENTED answers that say which part of the product is missing.
var serviceAreas = map[string]string{
	"lakeplane.v1.IngestService":     "ingest",
	"lakeplane.v1.QualityService":    "quality",
	"lakeplane.v1.GrantsService":     "grants",
	"lakeplane.v1.CostReportService": "cost",
	"lakeplane.v1.StorageService":    "storage",
}

// unimplemented rewrites the generated "method X not implemented" status to
// name the service, the method and the area still to come.
func unimplemented(fullMethod string) *status.Status {
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	area, ok := serviceAreas[service]
	if !ok {
		return status.New(codes.Unimplemented, fmt.Sprintf("%s is not implemented", fullMethod))
	}
	short := strings.TrimPrefix(service, "lakeplane.v1.")
	return status.New(codes.Unimplemented, fmt.Sprintf("%s.%s is not implemented yet: the %s area of lakeplane is still being built", short, method, area))
}
