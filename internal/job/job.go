// Package job defines a job — one piece of long work on the lake (an ingest,
// an erasure, a separation, a compaction, a snapshot expiry) — as plain Go
// values: what was asked, where it stands, and how it ended.
//
// Jobs are kept in the store, which queues them, leases each to one worker at
// a time and records their progress; the package itself holds no behaviour
// beyond the rules of its states.
package job

import (
	"encoding/json"
	"slices"
	"time"
)

// Kind is the kind of work a job does, as named in the public API.
type Kind string

// The kinds of job.
const (
	// Ingest loads a source object into a dataset.
	Ingest Kind = "INGEST"
	// Erase deletes data subjects' rows for good and proves they are gone.
	Erase Kind = "ERASE"
	// Separate moves ended relationships to a separated, more restricted
	// dataset.
	Separate Kind = "SEPARATE"
	// Optimize compacts a dataset's data files.
	Optimize Kind = "OPTIMIZE"
	// Expire expires a dataset's old snapshots and removes their files.
	Expire Kind = "EXPIRE"
)

// Kinds lists every kind of job.
var Kinds = []Kind{Ingest, Erase, Separate, Optimize, Expire}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// State is where a job is in its life, as named in the public API. A job is
// Queued until a worker claims it, Running while one works on it, and then
// ends Succeeded, Failed or Cancelled, never to change again.
type State string

// The states of a job.
const (
	// Queued jobs wait for a worker.
	Queued State = "QUEUED"
	// Running jobs are held by a worker under a lease.
	Running State = "RUNNING"
	// Succeeded jobs did all their work.
	Succeeded State = "SUCCEEDED"
	// Failed jobs stopped on an error, which they record.
	Failed State = "FAILED"
	// Cancelled jobs were stopped at a caller's request.
	Cancelled State = "CANCELLED"
)

// States lists every state of a job, in the order a job may pass through
// them.
var States = []State{Queued, Running, Succeeded, Failed, Cancelled}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Done reports whether s is a final state: Succeeded, Failed or Cancelled.
func (s State) Done() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Progress counts what a job has done so far.
type Progress struct {
	BytesRead    int64
	BytesTotal   int64 // 0 when unknown
	RowsRead     int64
	RowsWritten  int64
	RowsRejected int64
}

// Error says why a job failed, down to the row and column when known.
type Error struct {
	// Code is the gRPC status code name, for example "INVALID_ARGUMENT".
	Code    string
	Message string
	// Row is the 1-based line of the source object, 0 when the error is not
	// about a row.
	Row    int64
	Column string
}

// Job is one piece of long work and everything known about it.
type Job struct {
	// ID is assigned by the store when the job is queued.
	ID      string
	Kind    Kind
	Dataset string // "" for work that spans datasets, such as an erasure
	State   State
	// Phase names the step a running job is in, for example VALIDATING,
	// LOADING or VERIFYING.
	Phase    string
	Progress Progress
	// SnapshotID is the table snapshot the job committed, 0 for none.
	SnapshotID int64
	// Validations are the ids of the validation results the job recorded.
	Validations []string
	// Error is why the job failed; nil unless it did.
	Error *Error

	// Spec is the request that started the job, as JSON of a kind-specific
	// form. The store keeps it as it is given.
	Spec json.RawMessage
	// Result is the job's kind-specific outcome as JSON, for example an
	// erasure's certificate. The store keeps it as it is given.
	Result json.RawMessage

	// RequestID, when not empty, makes a retried request return the job the
	// first one queued instead of queueing another (one job per kind and
	// request id).
	RequestID string
	// Principal is who started the job.
	Principal string

	// CancelRequested is set once someone asked to cancel the job; the
	// worker running it stops and ends it Cancelled.
	CancelRequested bool
	// Attempt counts the times a worker claimed the job: 1 for a job that
	// ran once, more when workers died holding it.
	Attempt int
	// LeaseOwner is the worker that holds a running job, and LeaseExpires
	// when its hold ends unless renewed; both are empty when no worker
	// holds the job.
	LeaseOwner   string
	LeaseExpires time.Time

	CreateTime time.Time
	StartTime  time.Time // zero until first claimed
	EndTime    time.Time // zero until done
	// UpdateTime is when anything a watcher sees last changed.
	UpdateTime time.Time
}

// Clone returns a deep copy of j, sharing nothing with it.
func (j *Job) Clone() *Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Validations = slices.Clone(j.Validations)
	c.Spec = slices.Clone(j.Spec)
	c.Result = slices.Clone(j.Result)
	if j.Error != nil {
		e := *j.Error
		c.Error = &e
	}
	return &c
}
