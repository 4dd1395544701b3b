package errcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store"
)

func TestToStatus(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    codes.Code
		message string
	}{
		{"not found", fmt.Errorf("get dataset %q: %w", "a.b", store.ErrNotFound), codes.NotFound, `"a.b"`},
		{"object not found", fmt.Errorf("source file:///x.csv: %w", objects.ErrNotFound), codes.NotFound, "x.csv"},
		{"exists", fmt.Errorf("create: %w", store.ErrAlreadyExists), codes.AlreadyExists, "already exists"},
		{"stale etag", fmt.Errorf("update: %w", store.ErrConflict), codes.Aborted, "etag"},
		{"page token", store.ErrInvalidPageToken, codes.InvalidArgument, "page token"},
		{"precondition", fault.Precondition("column %q would be dropped", "x"), codes.FailedPrecondition, "would be dropped"},
		{"denied", fault.Denied("outside the allowed directories"), codes.PermissionDenied, "outside"},
		{"unavailable", fmt.Errorf("check access: %w", fault.Unavailable("index stale for %s", "31s")), codes.Unavailable, "index stale for 31s"},
		{"field", fmt.Errorf("create: %w", fault.Invalid("columns[1].type", "unknown type")), codes.InvalidArgument, "create: columns[1].type: unknown type"},
		{"row error", &fault.FieldError{Row: 1042, Column: "premium", Reason: `"12,5" is not a decimal`}, codes.InvalidArgument, `row 1042, column "premium": "12,5" is not a decimal`},
		{"canceled", fmt.Errorf("load: %w", context.Canceled), codes.Canceled, "canceled"},
		{"status kept", status.Error(codes.Unauthenticated, "missing bearer token"), codes.Unauthenticated, "missing bearer token"},
		{"internal hides detail", errors.New("pq: password for user x"), codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Status(tt.err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.message) {
				t.Fatalf("Status(%v) = %s %q; want %s containing %q", tt.err, st.Code(), st.Message(), tt.code, tt.message)
			}
			if tt.code == codes.Internal && strings.Contains(st.Message(), "password") {
				t.Fatal("an internal error leaked its detail")
			}
		})
	}
}

func TestInvalidArgumentCarriesFieldViolations(t *testing.T) {
	err := errors.Join(fault.Invalid("id", "bad"), fault.Invalid("columns[0].name", "bad too"))
	st := Status(err)
	var violations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			violations = append(violations, br.GetFieldViolations()...)
		}
	}
	if len(violations) != 2 || violations[0].GetField() != "id" || violations[1].GetField() != "columns[0].name" {
		t.Fatalf("field violations: %v", violations)
	}
}

func TestName(t *testing.T) {
	for c, want := range map[codes.Code]string{codes.OK: "OK", codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.Aborted: "ABORTED"} {
		if got := Name(c); got != want {
			t.Errorf("Name(%v) = %q, want %q", c, got, want)
		}
	}
}
