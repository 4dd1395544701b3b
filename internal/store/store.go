// Package store defines the port through which the control plane keeps its
// state: one Store interface composed of small per-concern interfaces, the
// paging types they share and the sentinel errors every adapter wraps.
//
// Adapters live in the sub-packages sqlite and postgres; both are built on the
// shared SQL core in sqlstore and are held to the same behaviour by the
// conformance suite in storetest.
package store

import (
	"context"
	"errors"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

// Sentinel errors. Adapters wrap them with context (for example
// fmt.Errorf("dataset %q: %w", id, ErrNotFound)), so callers test for them
// with errors.Is.
var (
	// ErrNotFound means that the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means that an object with the same id exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means that the etag a write named is not the stored one:
	// the object changed since the caller read it (optimistic concurrency).
	ErrConflict = errors.New("etag mismatch")
	// ErrInvalidPageToken means that a page token was not one this store
	// issued, or was issued for a different listing.
	ErrInvalidPageToken = errors.New("invalid page token")
)

// Paging limits shared by every List method.
const (
	// DefaultPageSize is the page size used when a caller asks for none.
	DefaultPageSize = 50
	// MaxPageSize is the largest page a List method returns; larger
	// requests are capped to it.
	MaxPageSize = 1000
)

// Store is the control plane's persistent state. Implementations are safe
// for concurrent use.
type Store interface {
	Datasets

	// Ping checks that the backing database can be reached.
	Ping(ctx context.Context) error
	// Close releases the store's resources. The store must not be used
	// afterwards.
	Close() error
}

// Datasets keeps the lake's datasets, keyed by their id
// ("namespace.table"). Values passed in are not modified and values
// returned are owned by the caller.
type Datasets interface {
	// CreateDataset stores a new dataset and returns it with its Etag,
	// CreateTime and UpdateTime set (the ones in d are ignored). It fails
	// with ErrAlreadyExists when the id is taken.
	CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	// GetDataset returns the dataset with the given id, or ErrNotFound.
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
	// ListDatasets returns one page of datasets ordered by id.
	ListDatasets(ctx context.Context, opts ListDatasetsOptions) (Page[*dataset.Dataset], error)
	// UpdateDataset replaces the stored dataset with id d.ID. d.Etag must
	// equal the stored etag, else the update fails with ErrConflict and
	// nothing changes; a missing dataset gives ErrNotFound. It returns the
	// dataset with a new Etag and UpdateTime and the original CreateTime.
	UpdateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
	// DeleteDataset removes the dataset with the given id. A non-empty etag
	// must equal the stored one, else ErrConflict; an empty etag deletes
	// unconditionally. A missing dataset gives ErrNotFound.
	DeleteDataset(ctx context.Context, id, etag string) error
}

// ListDatasetsOptions selects a page of datasets.
type ListDatasetsOptions struct {
	// PageSize is the most datasets to return: <= 0 means DefaultPageSize,
	// and it is capped at MaxPageSize.
	PageSize int
	// PageToken is the NextPageToken of the previous page, or "" for the
	// first page. It must be used with the same Namespace.
	PageToken string
	// Namespace, when not empty, keeps only the datasets of that namespace.
	Namespace string
}

// Page is one page of a listing.
type Page[T any] struct {
	// Items are the page's objects, in listing order.
	Items []T
	// NextPageToken fetches the next page; it is empty on the last page.
	NextPageToken string
}

// NormalizePageSize applies the paging limits to a requested page size:
// <= 0 gives DefaultPageSize, and anything above MaxPageSize is capped.
func NormalizePageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	default:
		return n
	}
}
