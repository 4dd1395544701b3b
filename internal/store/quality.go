package store

import (
	"context"
	"time"

	"github.com/lakeplane/lakeplane/internal/quality/suite"
)

// Quality keeps quality suites and every validation result.
type Quality interface {
	// CreateSuite stores a new suite (ErrAlreadyExists when the name is taken).
	CreateSuite(ctx context.Context, s *suite.Suite) (*suite.Suite, error)
	// GetSuite returns a suite, or ErrNotFound.
	GetSuite(ctx context.Context, name string) (*suite.Suite, error)
	// ListSuites returns one page of suites ordered by name.
	ListSuites(ctx context.Context, pageSize int, pageToken string) (Page[*suite.Suite], error)
	// UpdateSuite replaces a suite; s.Etag must be the stored one (ErrConflict).
	UpdateSuite(ctx context.Context, s *suite.Suite) (*suite.Suite, error)
	// DeleteSuite removes a suite; a non-empty etag must be the stored one.
	DeleteSuite(ctx context.Context, name, etag string) error
	// CreateValidation records a validation result and gives it its id.
	CreateValidation(ctx context.Context, v *suite.Validation) (*suite.Validation, error)
	// GetValidation returns a recorded result, or ErrNotFound.
	GetValidation(ctx context.Context, id string) (*suite.Validation, error)
	// ListValidations returns one page of results, newest first.
	ListValidations(ctx context.Context, opts ListValidationsOptions) (Page[*suite.Validation], error)
}

// ListValidationsOptions selects a page of validation results; the filters
// that are set must all match. Start <= start time < End.
type ListValidationsOptions struct {
	PageSize  int
	PageToken string
	Dataset   string
	Suite     string
	Outcome   suite.Outcome
	Start     time.Time
	End       time.Time
}
