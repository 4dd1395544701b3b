// Package ingest is the IngestService: datasets and the jobs that load,
// erase, separate and maintain them. Service holds the logic on plain Go
// values; Handler translates it to gRPC.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// DatasetStore is what the service needs of the control-plane store.
type DatasetStore interface {
	CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
	ListDatasets(ctx context.Context, opts store.ListDatasetsOptions) (store.Page[*dataset.Dataset], error)
	UpdateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	DeleteDataset(ctx context.Context, id, etag string) error
}

// Service manages datasets.
type Service struct {
	store       DatasetStore
	gradeLevels int
}

// NewService returns a Service over a store; grades range over 1..gradeLevels.
func NewService(s DatasetStore, gradeLevels int) *Service {
	return &Service{store: s, gradeLevels: gradeLevels}
}

// CreateDataset validates and stores a new dataset.
func (s *Service) CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error) {
	if err := dataset.Validate(d, s.gradeLevels); err != nil {
		return nil, err
	}
	created, err := s.store.CreateDataset(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("create dataset %q: %w", d.ID, err)
	}
	return created, nil
}

// GetDataset returns a dataset.
func (s *Service) GetDataset(ctx context.Context, id string) (*dataset.Dataset, error) {
	if err := dataset.ValidateID(id); err != nil {
		return nil, fault.Invalid("id", "%v", err)
	}
	d, err := s.store.GetDataset(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get dataset %q: %w", id, err)
	}
	return d, nil
}

// ListDatasets returns one page of datasets, optionally of one namespace.
func (s *Service) ListDatasets(ctx context.Context, pageSize int, pageToken, namespace string) (store.Page[*dataset.Dataset], error) {
	if pageSize < 0 {
		return store.Page[*dataset.Dataset]{}, fault.Invalid("pageSize", "must not be negative")
	}
	if namespace != "" {
		if err := dataset.ValidateID(namespace + ".x"); err != nil {
			return store.Page[*dataset.Dataset]{}, fault.Invalid("namespace", "%v", err)
		}
	}
	page, err := s.store.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: pageSize, PageToken: pageToken, Namespace: namespace})
	if errors.Is(err, store.ErrInvalidPageToken) {
		return page, fault.Invalid("pageToken", "is not a token this listing issued")
	}
	if err != nil {
		return page, fmt.Errorf("list datasets: %w", err)
	}
	return page, nil
}

// Updatable fields of a dataset, by their proto field paths.
var updatable = []string{"description", "columns", "grade", "domain", "quality_suite", "retention", "subject_key"}

// UpdateDataset changes the fields of a dataset named by paths (proto field
// paths such as "description" or "retention.destroy_after_days"); no paths
// means every updatable field. Columns may only evolve as
// dataset.CheckEvolution allows. A non-empty next.Etag must be current.
func (s *Service) UpdateDataset(ctx context.Context, next *dataset.Dataset, paths []string) (*dataset.Dataset, error) {
	current, err := s.GetDataset(ctx, next.ID)
	if err != nil {
		return nil, err
	}
	if next.Etag != "" && next.Etag != current.Etag {
		return nil, fmt.Errorf("update dataset %q: etag %q is stale: %w", next.ID, next.Etag, store.ErrConflict)
	}
	merged := current.Clone()
	if len(paths) == 0 {
		paths = updatable
	}
	for _, p := range paths {
		if err := applyPath(merged, next, p); err != nil {
			return nil, err
		}
	}
	// Evolution first: a dropped column also breaks the keys that name it,
	// and the drop is what the caller needs to hear about.
	if err := dataset.CheckEvolution(current.Columns, merged.Columns); err != nil {
		return nil, err
	}
	if err := dataset.Validate(merged, s.gradeLevels); err != nil {
		return nil, err
	}
	updated, err := s.store.UpdateDataset(ctx, merged)
	if err != nil {
		return nil, fmt.Errorf("update dataset %q: %w", next.ID, err)
	}
	return updated, nil
}

func applyPath(dst, src *dataset.Dataset, path string) error {
	top, sub, _ := strings.Cut(path, ".")
	switch top {
	case "id", "etag", "create_time", "update_time", "current_snapshot_id", "row_count", "file_count", "size_bytes":
		// Identity, concurrency and output-only fields: a REST body that
		// carries them back is not asking to change them.
		return nil
	case "description":
		dst.Description = src.Description
	case "columns":
		dst.Columns = slices.Clone(src.Columns)
	case "grade":
		dst.Grade = src.Grade
	case "domain":
		dst.Domain = src.Domain
	case "quality_suite":
		dst.QualitySuite = src.QualitySuite
	case "subject_key":
		dst.SubjectKey = src.SubjectKey
	case "retention":
		switch sub {
		case "":
			dst.Retention = src.Retention
		case "separate_after_column":
			dst.Retention.SeparateAfterColumn = src.Retention.SeparateAfterColumn
		case "separate_after_days":
			dst.Retention.SeparateAfterDays = src.Retention.SeparateAfterDays
		case "destroy_after_days":
			dst.Retention.DestroyAfterDays = src.Retention.DestroyAfterDays
		default:
			return fault.Invalid("updateMask", "unknown field %q", path)
		}
	case "primary_key", "partition_by":
		return fault.Invalid("updateMask", "%q cannot be changed after the dataset is created", path)
	default:
		return fault.Invalid("updateMask", "unknown or read-only field %q (updatable: %s)", path, strings.Join(updatable, ", "))
	}
	return nil
}

// DeleteDataset removes a dataset; a non-empty etag must be current.
func (s *Service) DeleteDataset(ctx context.Context, id, etag string, purge bool) error {
	if err := dataset.ValidateID(id); err != nil {
		return fault.Invalid("id", "%v", err)
	}
	// The dataset has no table files until ingest lands, so purge has
	// nothing more to remove yet.
	_ = purge
	if err := s.store.DeleteDataset(ctx, id, etag); err != nil {
		return fmt.Errorf("delete dataset %q: %w", id, err)
	}
	return nil
}
