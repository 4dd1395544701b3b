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
	"encoding/json"
	"errors"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/job"
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
	// ErrNoJob means that no job is waiting to be claimed.
	ErrNoJob = errors.New("no job to claim")
	// ErrLeaseLost means that the worker does not hold the job's lease (any
	// more): another worker claimed it after the lease expired, or the job
	// ended.
	ErrLeaseLost = errors.New("job lease lost")
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
	Grants
	GovernanceLog
	Sync
	Usage
	Quality
	Alerts
	Audit
	Jobs
	Erasures

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

// Jobs keeps the queue of long work and what became of it. A job is queued
// by CreateJob, claimed by one worker at a time under a lease that the worker
// renews while it works, and ended by that worker with FinishJob. A worker
// that dies leaves its lease to expire; ClaimJob then hands the job to
// another worker, and FailStaleJobs fails jobs interrupted too often.
//
// Leases are measured by the clocks of the processes sharing the store, so
// their clocks must agree to well within a lease. Values passed in are not
// modified and values returned are owned by the caller.
type Jobs interface {
	// CreateJob queues a new job of j's Kind, Dataset, Spec, RequestID and
	// Principal (its other fields are ignored) and returns it with a new ID,
	// state Queued and CreateTime and UpdateTime set; created is true.
	//
	// When j.RequestID is not empty and a job of the same kind was queued
	// with that request id before, nothing is queued: CreateJob returns that
	// job as it is now, and created is false. Concurrent calls with one
	// request id queue one job between them.
	CreateJob(ctx context.Context, j *job.Job) (out *job.Job, created bool, err error)
	// GetJob returns the job with the given id, or ErrNotFound.
	GetJob(ctx context.Context, id string) (*job.Job, error)
	// ListJobs returns one page of jobs, newest first.
	ListJobs(ctx context.Context, opts ListJobsOptions) (Page[*job.Job], error)

	// ClaimJob gives the worker owner the oldest job that waits for one —
	// a queued job, or a running job whose lease expired (its worker died) —
	// and leases it to owner until lease from now. The job becomes Running,
	// its Attempt grows by one and its StartTime is set on its first claim.
	// Each job is claimed by one worker at a time, whatever the number of
	// concurrent claimers and store replicas. It fails with ErrNoJob when
	// no job waits.
	//
	// A job claimed again may have CancelRequested set: its worker should
	// end it Cancelled without working on it.
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*job.Job, error)
	// RenewLease extends owner's lease on a running job to lease from now.
	// It fails with ErrLeaseLost when owner does not hold the job (any
	// more), and with ErrNotFound when there is no such job.
	RenewLease(ctx context.Context, id, owner string, lease time.Duration) error
	// ReleaseJob puts a running job that owner holds back in the queue, as
	// a worker does when its server shuts down mid-job; the claim it used
	// does not count as an attempt. It fails like RenewLease.
	ReleaseJob(ctx context.Context, id, owner string) error
	// UpdateJobProgress records the phase and progress of a running job
	// that owner holds, without renewing the lease, and reports whether
	// cancelling the job was requested, so that the worker stops. It fails
	// like RenewLease.
	UpdateJobProgress(ctx context.Context, id, owner, phase string, p job.Progress) (cancelRequested bool, err error)
	// FinishJob ends a running job that owner holds in state, which must be
	// final (State.Done), recording its snapshot, validations, error and
	// result, setting EndTime and releasing the lease. The phase and
	// progress stay as last recorded. It fails like RenewLease, so that a
	// worker whose lease another took cannot end the job.
	FinishJob(ctx context.Context, id, owner string, state job.State, snapshotID int64, validations []string, jobErr *job.Error, result json.RawMessage) (*job.Job, error)
	// RequestCancel asks for a job to be cancelled: a queued job is
	// Cancelled at once; a running one gets CancelRequested, and its worker
	// ends it; a job that is done is left as it is. It returns the job as
	// it is after the request, or ErrNotFound.
	RequestCancel(ctx context.Context, id string) (*job.Job, error)
	// FailStaleJobs fails the running jobs whose lease expired after they
	// were claimed maxAttempts times or more, with an error saying that
	// they were interrupted too often, and returns how many it failed.
	// Workers call it before ClaimJob, so that such jobs end rather than
	// run again.
	FailStaleJobs(ctx context.Context, maxAttempts int) (int, error)
}

// ListJobsOptions selects a page of jobs. The filters that are set must all
// match.
type ListJobsOptions struct {
	// PageSize is the most jobs to return: <= 0 means DefaultPageSize, and
	// it is capped at MaxPageSize.
	PageSize int
	// PageToken is the NextPageToken of the previous page, or "" for the
	// first page. It must be used with the same filters.
	PageToken string
	// Dataset, when not empty, keeps only the jobs on that dataset.
	Dataset string
	// State, when not empty, keeps only the jobs in that state.
	State job.State
	// Kind, when not empty, keeps only the jobs of that kind.
	Kind job.Kind
	// RequestID, when not empty, keeps only the jobs that request queued.
	RequestID string
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
