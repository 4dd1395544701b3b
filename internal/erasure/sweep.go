package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// SweepPrincipal is the principal of the jobs a retention sweep starts.
const SweepPrincipal = "retention-sweep"

// SweepStore is what a sweep needs of the control-plane store.
type SweepStore interface {
	ListDatasets(ctx context.Context, opts store.ListDatasetsOptions) (store.Page[*dataset.Dataset], error)
	CreateJob(ctx context.Context, j *job.Job) (*job.Job, bool, error)
}

// SweepTables is what a sweep needs of the Iceberg layer (*tables.Catalog).
type SweepTables interface {
	MayHoldBefore(ctx context.Context, id string, cond tables.Before) (bool, error)
	ValuesBefore(ctx context.Context, id, column string, cond tables.Before, limit int) ([]string, bool, error)
}

// Sweeper starts the jobs that datasets' retention rules make due: a
// SEPARATE job for a dataset with retention.separateAfterDays whose table
// may hold rows past it, and an ERASE job, by subject id, for a dataset
// with retention.destroyAfterDays and no separateAfterDays (such as a
// separated dataset) whose rows past it have subject ids: at most
// MaxSubjects a day, erased from that dataset only. Each job's request id is derived from
// the kind, the dataset and the day, so that a dataset gets at most one
// job of each kind a day however often the sweep runs.
type Sweeper struct {
	Store  SweepStore
	Tables SweepTables
	// Queued, when set, wakes a worker after a job is queued.
	Queued func()
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger

	running sync.Mutex
}

// SweepReport is what one sweep did.
type SweepReport struct {
	// Skipped is true when another sweep was running: this one did nothing.
	Skipped bool
	// Started are the jobs queued by this sweep (a request id already used
	// that day returns its job, which is not listed).
	Started []*job.Job
}

// Run sweeps every interval until ctx ends; an interval of 0 or less
// returns at once. A failed sweep is logged and the next one tried.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger().Error("retention sweep failed", "error", err)
			continue
		}
		if len(rep.Started) > 0 {
			s.logger().Info("retention sweep started jobs", "jobs", len(rep.Started))
		}
	}
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Sweep looks at every dataset once and queues the jobs due. Only one
// sweep runs at a time: a sweep started while another runs is skipped.
// A dataset that cannot be looked at fails the sweep after the others
// were.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	if !s.running.TryLock() {
		return SweepReport{Skipped: true}, nil
	}
	defer s.running.Unlock()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	asOf := now().UTC()
	var datasets []*dataset.Dataset
	err := eachItem(ctx, func(token string) (store.Page[*dataset.Dataset], error) {
		return s.Store.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: store.MaxPageSize, PageToken: token})
	}, func(d *dataset.Dataset) { datasets = append(datasets, d) })
	if err != nil {
		return SweepReport{}, fmt.Errorf("retention sweep: list datasets: %w", err)
	}
	var (
		rep  SweepReport
		errs []error
	)
	for _, d := range datasets {
		if err := ctx.Err(); err != nil {
			return rep, context.Cause(ctx)
		}
		j, err := s.sweepDataset(ctx, d, asOf)
		if err != nil {
			errs = append(errs, fmt.Errorf("dataset %s: %w", d.ID, err))
			continue
		}
		if j != nil {
			rep.Started = append(rep.Started, j)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("retention sweep: %w", err)
	}
	return rep, nil
}

// sweepDataset queues the job due for d, if any, and returns it when it is
// new.
func (s *Sweeper) sweepDataset(ctx context.Context, d *dataset.Dataset, asOf time.Time) (*job.Job, error) {
	r := d.Retention
	if r.SeparateAfterColumn == "" {
		return nil, nil
	}
	day := asOf.Format(time.DateOnly)
	switch {
	case r.SeparateAfterDays > 0:
		cond := tables.Before{Column: r.SeparateAfterColumn, Time: asOf.AddDate(0, 0, -r.SeparateAfterDays)}
		due, err := s.Tables.MayHoldBefore(ctx, d.ID, cond)
		if err != nil || !due {
			return nil, err
		}
		return s.queue(ctx, job.Separate, d.ID, "retention-sweep/separate/"+d.ID+"/"+day, SeparateSpec{AsOf: asOf})
	case r.DestroyAfterDays > 0 && d.SubjectKey != "":
		cond := tables.Before{Column: r.SeparateAfterColumn, Time: asOf.AddDate(0, 0, -r.DestroyAfterDays)}
		due, err := s.Tables.MayHoldBefore(ctx, d.ID, cond)
		if err != nil || !due {
			return nil, err
		}
		ids, _, err := s.Tables.ValuesBefore(ctx, d.ID, d.SubjectKey, cond, MaxSubjects)
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		// More than MaxSubjects: the rest go in the next day's sweep.
		spec := EraseSpec{
			SubjectIDs: ids, Datasets: []string{d.ID},
			Reason: "retention: " + strconv.Itoa(r.DestroyAfterDays) + " days after " + r.SeparateAfterColumn + " passed (destroyAfterDays)",
		}
		return s.queue(ctx, job.Erase, "", "retention-sweep/erase/"+d.ID+"/"+day, spec)
	}
	return nil, nil
}

// queue stores a job of the sweep; a request id already used returns nil.
func (s *Sweeper) queue(ctx context.Context, kind job.Kind, datasetID, requestID string, spec any) (*job.Job, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode %s job spec: %w", kind, err)
	}
	j, created, err := s.Store.CreateJob(ctx, &job.Job{Kind: kind, Dataset: datasetID, RequestID: requestID, Principal: SweepPrincipal, Spec: raw})
	if err != nil {
		return nil, fmt.Errorf("queue %s job: %w", kind, err)
	}
	if !created {
		return nil, nil
	}
	if s.Queued != nil {
		s.Queued()
	}
	return j, nil
}
