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

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// DatasetStore is what the service needs of the control-plane store.
type DatasetStore interface {
	CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
	ListDatasets(ctx context.Context, opts store.ListDatasetsOptions) (store.Page[*dataset.Dataset], error)
	UpdateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	DeleteDataset(ctx context.Context, id, etag string) error
}

// Service manages datasets and their jobs.
type Service struct {
	store       DatasetStore
	tables      Tables
	jobs        JobStore
	sources     ObjectReader
	gradeLevels int
	jobQueued   func()
	changed     func(ctx context.Context, id string) error
	readable    func(ctx context.Context, d *dataset.Dataset) (map[string]bool, error)
}

// Deps are what a Service works with.
type Deps struct {
	Datasets DatasetStore
	// Tables keeps the Iceberg table behind each dataset.
	Tables Tables
	Jobs   JobStore
	// Sources reads the objects loads come from.
	Sources ObjectReader
	// GradeLevels is the size of the grade scale: grades are 1..GradeLevels.
	GradeLevels int
	// JobQueued, when set, is called after a job is queued (to wake a worker).
	JobQueued func()
	// DatasetChanged, when set, is told of every dataset created, updated
	// or deleted (the access index follows datasets' grades through it).
	DatasetChanged func(ctx context.Context, id string) error
	// ReadableColumns, when set, says which columns of a dataset the caller
	// may read (nil: all); PreviewRows shows no others.
	ReadableColumns func(ctx context.Context, d *dataset.Dataset) (map[string]bool, error)
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	return &Service{store: d.Datasets, tables: d.Tables, jobs: d.Jobs, sources: d.Sources, gradeLevels: d.GradeLevels, jobQueued: d.JobQueued,
		changed: d.DatasetChanged, readable: d.ReadableColumns}
}

// Tables keeps the Iceberg tables of datasets.
type Tables interface {
	Create(ctx context.Context, d *dataset.Dataset) error
	Evolve(ctx context.Context, d *dataset.Dataset) error
	Drop(ctx context.Context, id string, purge bool) error
	Stats(ctx context.Context, id string) (tables.Stats, error)
	Snapshots(ctx context.Context, id string) ([]tables.Snapshot, error)
	Preview(ctx context.Context, id string, limit int) (arrow.RecordBatch, error)
}

// CreateDataset validates and stores a new dataset and creates its table.
// The stored record claims the id first; if the table cannot be made, the
// record is removed again.
func (s *Service) CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error) {
	if err := dataset.Validate(d, s.gradeLevels); err != nil {
		return nil, err
	}
	created, err := s.store.CreateDataset(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("create dataset %q: %w", d.ID, err)
	}
	if err := s.tables.Create(ctx, created); err != nil {
		if derr := s.store.DeleteDataset(context.WithoutCancel(ctx), created.ID, created.Etag); derr != nil {
			err = errors.Join(err, fmt.Errorf("and removing its record again: %w", derr))
		}
		return nil, fmt.Errorf("create table of dataset %q: %w", d.ID, err)
	}
	return created, s.notifyChanged(ctx, created.ID)
}

// notifyChanged tells the listener of a dataset change. The change is
// stored already; a listener that fails to follow is reported, not undone.
func (s *Service) notifyChanged(ctx context.Context, id string) error {
	if s.changed == nil {
		return nil
	}
	if err := s.changed(context.WithoutCancel(ctx), id); err != nil {
		return fmt.Errorf("dataset %q changed, but the access index did not follow: %w", id, err)
	}
	return nil
}

// TableStats returns the current snapshot's figures of a dataset's table.
func (s *Service) TableStats(ctx context.Context, id string) (tables.Stats, error) {
	st, err := s.tables.Stats(ctx, id)
	if err != nil {
		return st, fmt.Errorf("table of dataset %q: %w", id, err)
	}
	return st, nil
}

// Snapshots lists the snapshots of a dataset's table, newest first.
func (s *Service) Snapshots(ctx context.Context, id string) ([]tables.Snapshot, error) {
	if _, err := s.GetDataset(ctx, id); err != nil {
		return nil, err
	}
	snaps, err := s.tables.Snapshots(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("snapshots of dataset %q: %w", id, err)
	}
	return snaps, nil
}

// Preview reads the first rows of a dataset's table; the dataset returned
// holds only the columns the caller may read.
func (s *Service) Preview(ctx context.Context, id string, limit int) (*dataset.Dataset, arrow.RecordBatch, error) {
	switch {
	case limit < 0:
		return nil, nil, fault.Invalid("limit", "must not be negative")
	case limit == 0:
		limit = 20
	case limit > 1000:
		return nil, nil, fault.Invalid("limit", "%d is more than 1000 rows", limit)
	}
	d, err := s.GetDataset(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if s.readable != nil {
		readable, err := s.readable(ctx, d)
		if err != nil {
			return nil, nil, err
		}
		if readable != nil {
			kept := d.Clone()
			kept.Columns = slices.DeleteFunc(kept.Columns, func(c dataset.Column) bool { return !readable[c.Name] })
			if len(kept.Columns) == 0 {
				return nil, nil, fault.Denied("no column of dataset %q is open to the caller's groups", id)
			}
			d = kept
		}
	}
	rec, err := s.tables.Preview(ctx, id, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("preview dataset %q: %w", id, err)
	}
	return d, rec, nil
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
var updatable = []string{"description", "columns", "grade", "domain", "quality_suite", "quality_failure_policy", "retention", "subject_key"}

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
	if slices.EqualFunc(current.Columns, updated.Columns, sameStorage) {
		return updated, s.notifyChanged(ctx, updated.ID)
	}
	if err := s.tables.Evolve(ctx, updated); err != nil {
		// Put the record back as it was, so that it keeps describing the table.
		current.Etag = updated.Etag
		if _, rerr := s.store.UpdateDataset(context.WithoutCancel(ctx), current); rerr != nil {
			err = errors.Join(err, fmt.Errorf("and restoring its record: %w", rerr))
		}
		return nil, fmt.Errorf("evolve table of dataset %q: %w", next.ID, err)
	}
	return updated, s.notifyChanged(ctx, updated.ID)
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
	case "quality_failure_policy":
		dst.QualityFailurePolicy = src.QualityFailurePolicy
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

// sameStorage reports whether two columns are stored alike in the table
// (grades, PII flags and descriptions are not the table's business).
func sameStorage(a, b dataset.Column) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Precision == b.Precision && a.Scale == b.Scale && a.Nullable == b.Nullable
}

// DeleteDataset drops a dataset's table (with purge, its files too) and
// removes the dataset; a non-empty etag must be current.
func (s *Service) DeleteDataset(ctx context.Context, id, etag string, purge bool) error {
	d, err := s.GetDataset(ctx, id)
	if err != nil {
		return err
	}
	if etag != "" && etag != d.Etag {
		return fmt.Errorf("delete dataset %q: etag %q is stale: %w", id, etag, store.ErrConflict)
	}
	if err := s.tables.Drop(ctx, id, purge); err != nil && !errors.Is(err, tables.ErrNotFound) {
		return fmt.Errorf("drop table of dataset %q: %w", id, err)
	}
	if err := s.store.DeleteDataset(ctx, id, d.Etag); err != nil {
		return fmt.Errorf("delete dataset %q: %w", id, err)
	}
	return s.notifyChanged(ctx, id)
}
