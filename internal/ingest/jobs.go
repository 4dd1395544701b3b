package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/store"
)

// JobStore is what the service needs of the store's jobs.
type JobStore interface {
	CreateJob(ctx context.Context, j *job.Job) (*job.Job, bool, error)
	GetJob(ctx context.Context, id string) (*job.Job, error)
	ListJobs(ctx context.Context, opts store.ListJobsOptions) (store.Page[*job.Job], error)
	RequestCancel(ctx context.Context, id string) (*job.Job, error)
}

// StartIngest queues a load of a CSV object into a dataset. A request id
// already used for a load returns that load's job instead of a new one.
func (s *Service) StartIngest(ctx context.Context, datasetID, requestID string, spec IngestSpec) (*job.Job, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if requestID != "" {
		if existing, err := s.jobByRequest(ctx, requestID); err != nil || existing != nil {
			return existing, err
		}
	}
	d, err := s.GetDataset(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	if spec.Mode == ModeUpsert && len(d.PrimaryKey) == 0 {
		return nil, fault.Precondition("dataset %q has no primary key; UPSERT merges on it", d.ID)
	}
	info, err := s.sources.Head(ctx, spec.SourceURI)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.SourceURI, err)
	}
	spec.ObjectETag, spec.ObjectSize = info.ETag, info.Size
	spec.Team = TeamOf(ctx)
	if spec.Mode == ModeAppend && !spec.Force {
		if prior, err := s.priorLoad(ctx, d.ID, spec); err != nil {
			return nil, err
		} else if prior != nil {
			return nil, fault.Precondition("%s (etag %s, %d bytes) was already appended to %s by job %s; set force to load it again",
				spec.SourceURI, spec.ObjectETag, spec.ObjectSize, d.ID, prior.ID)
		}
	}
	return jobrun.Submit(ctx, s.jobs, job.Ingest, d.ID, requestID, spec, s.jobQueued)
}

// TeamOf is the team a caller's work is counted under: its first group in
// sorted order, or its name when it has none.
func TeamOf(ctx context.Context) string {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return ""
	}
	if len(p.Groups) == 0 {
		return p.Name
	}
	return slices.Min(p.Groups)
}

// jobByRequest returns the job a request id already started, if any.
func (s *Service) jobByRequest(ctx context.Context, requestID string) (*job.Job, error) {
	page, err := s.jobs.ListJobs(ctx, store.ListJobsOptions{RequestID: requestID, PageSize: 1})
	if err != nil {
		return nil, fmt.Errorf("look up request %q: %w", requestID, err)
	}
	if len(page.Items) == 0 {
		return nil, nil
	}
	return page.Items[0], nil
}

// priorLoad finds a queued, running or successful append of the same object
// (same URI, etag and size) into the dataset.
func (s *Service) priorLoad(ctx context.Context, datasetID string, spec IngestSpec) (*job.Job, error) {
	opts := store.ListJobsOptions{Dataset: datasetID, Kind: job.Ingest, PageSize: store.MaxPageSize}
	for {
		page, err := s.jobs.ListJobs(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("look up earlier loads of %s: %w", datasetID, err)
		}
		for _, j := range page.Items {
			if j.State == job.Failed || j.State == job.Cancelled {
				continue
			}
			var prior IngestSpec
			if json.Unmarshal(j.Spec, &prior) != nil || prior.Mode != ModeAppend {
				continue
			}
			if prior.ObjectETag == spec.ObjectETag && prior.ObjectSize == spec.ObjectSize && prior.SourceURI == spec.SourceURI {
				return j, nil
			}
		}
		if page.NextPageToken == "" {
			return nil, nil
		}
		opts.PageToken = page.NextPageToken
	}
}

// GetJob returns a job.
func (s *Service) GetJob(ctx context.Context, id string) (*job.Job, error) {
	if id == "" {
		return nil, fault.Invalid("id", "is required")
	}
	j, err := s.jobs.GetJob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	return j, nil
}

// ListJobs returns one page of jobs, newest first.
func (s *Service) ListJobs(ctx context.Context, opts store.ListJobsOptions) (store.Page[*job.Job], error) {
	if opts.PageSize < 0 {
		return store.Page[*job.Job]{}, fault.Invalid("pageSize", "must not be negative")
	}
	if opts.Dataset != "" {
		if err := dataset.ValidateID(opts.Dataset); err != nil {
			return store.Page[*job.Job]{}, fault.Invalid("dataset", "%v", err)
		}
	}
	page, err := s.jobs.ListJobs(ctx, opts)
	if errors.Is(err, store.ErrInvalidPageToken) {
		return page, fault.Invalid("pageToken", "is not a token this listing issued")
	}
	if err != nil {
		return page, fmt.Errorf("list jobs: %w", err)
	}
	return page, nil
}

// CancelJob asks a job to stop: a queued one is cancelled at once, a running
// one within about a second.
func (s *Service) CancelJob(ctx context.Context, id string) (*job.Job, error) {
	if id == "" {
		return nil, fault.Invalid("id", "is required")
	}
	j, err := s.jobs.RequestCancel(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cancel job %q: %w", id, err)
	}
	return j, nil
}

// watchInterval is how often WatchJob looks at a job. Polling the store
// works the same whichever server process runs the job.
const watchInterval = 200 * time.Millisecond

// WatchJob calls send with the job now and after each change, until the job
// ends or ctx does.
func (s *Service) WatchJob(ctx context.Context, id string, send func(*job.Job) error) error {
	var last *job.Job
	ticker := time.NewTicker(watchInterval)
	defer ticker.Stop()
	for {
		j, err := s.GetJob(ctx, id)
		if err != nil {
			return err
		}
		if last == nil || changed(last, j) {
			if err := send(j); err != nil {
				return err
			}
			last = j
		}
		if j.State.Done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

func changed(a, b *job.Job) bool {
	return a.State != b.State || a.Phase != b.Phase || a.Progress != b.Progress ||
		a.CancelRequested != b.CancelRequested || a.SnapshotID != b.SnapshotID || !reflect.DeepEqual(a.Error, b.Error)
}
