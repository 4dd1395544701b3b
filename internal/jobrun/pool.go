// Package jobrun runs the control plane's long work: a pool of workers
// claims queued jobs from the store under a lease, runs each with the
// executor registered for its kind, reports progress at least every second,
// stops a job whose cancellation was requested, and records how it ended.
//
// A job whose worker dies keeps its lease until it expires; then any worker
// (of this process or another sharing the store) claims it again, up to
// MaxAttempts times, after which it fails with a reason.
package jobrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/errcode"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Store is what the pool needs of the control-plane store.
type Store interface {
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*job.Job, error)
	RenewLease(ctx context.Context, id, owner string, lease time.Duration) error
	ReleaseJob(ctx context.Context, id, owner string) error
	UpdateJobProgress(ctx context.Context, id, owner, phase string, p job.Progress) (cancelRequested bool, err error)
	FinishJob(ctx context.Context, id, owner string, state job.State, snapshotID int64, validations []string, jobErr *job.Error, result json.RawMessage) (*job.Job, error)
	FailStaleJobs(ctx context.Context, maxAttempts int) (int, error)
}

// Outcome is what a successful executor produced.
type Outcome struct {
	SnapshotID  int64
	Validations []string
	Result      json.RawMessage
}

// Executor does the work of one job. It must return promptly once ctx ends,
// leaving nothing half-written.
type Executor func(ctx context.Context, j *job.Job, p *Progress) (Outcome, error)

// Options tune a pool; zero values take the defaults.
type Options struct {
	Workers       int           // 2
	Lease         time.Duration // 30s; renewed every third of it
	Poll          time.Duration // 500ms between looks at an empty queue
	FlushInterval time.Duration // 500ms between progress writes
	MaxAttempts   int           // 3
	Logger        *slog.Logger
	// OnEnd, when set, is told of every job that ended (succeeded, failed
	// or was cancelled) with the process CPU time spent while it ran,
	// shared evenly among the jobs that ran at the same time.
	OnEnd func(ctx context.Context, j *job.Job, cpu time.Duration)
}

// Pool is a set of workers.
type Pool struct {
	store     Store
	executors map[job.Kind]Executor
	opts      Options
	owner     string
	wake      chan struct{}
	running   atomic.Int64
}

// New returns a pool; Run starts it.
func New(s Store, executors map[job.Kind]Executor, opts Options) *Pool {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 500 * time.Millisecond
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pool{store: s, executors: executors, opts: opts, owner: "worker-" + uuid.NewString()[:8], wake: make(chan struct{}, 1)}
}

// Notify tells an idle worker that a job was queued.
func (p *Pool) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends, then waits for the workers. Jobs running at that
// moment are interrupted, not finished: they go back to the queue for the
// next worker (or, if that fails, wait for their lease to expire).
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < p.opts.Workers; i++ {
		wg.Go(func() { p.work(ctx, fmt.Sprintf("%s-%d", p.owner, i)) })
	}
	wg.Wait()
}

func (p *Pool) work(ctx context.Context, owner string) {
	for ctx.Err() == nil {
		if n, err := p.store.FailStaleJobs(ctx, p.opts.MaxAttempts); err != nil && ctx.Err() == nil {
			p.opts.Logger.Error("failing stale jobs", "error", err)
		} else if n > 0 {
			p.opts.Logger.Warn("failed jobs interrupted too often", "jobs", n)
		}
		j, err := p.store.ClaimJob(ctx, owner, p.opts.Lease)
		switch {
		case errors.Is(err, store.ErrNoJob):
			p.idle(ctx)
			continue
		case err != nil:
			if ctx.Err() == nil {
				p.opts.Logger.Error("claiming a job", "error", err)
				p.idle(ctx)
			}
			continue
		}
		p.run(ctx, owner, j)
	}
}

func (p *Pool) idle(ctx context.Context) {
	t := time.NewTimer(p.opts.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-p.wake:
	case <-t.C:
	}
}

// Reasons a job's context ends before its executor does.
var (
	errCancelRequested = errors.New("job cancelled by request")
	errLeaseLost       = errors.New("job lease lost to another worker")
)

func (p *Pool) run(ctx context.Context, owner string, j *job.Job) {
	log := p.opts.Logger.With("job", j.ID, "kind", j.Kind, "dataset", j.Dataset, "attempt", j.Attempt)
	if j.CancelRequested {
		// Cancelled while its last worker was dying: nothing more to do.
		p.finish(log, j, owner, job.Cancelled, Outcome{}, errCancelRequested, 0)
		return
	}
	exec, ok := p.executors[j.Kind]
	if !ok {
		p.finish(log, j, owner, job.Failed, Outcome{}, fault.Precondition("this server has no executor for %s jobs", j.Kind), 0)
		return
	}
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	progress := newProgress(j)
	concurrent := p.running.Add(1)
	cpuStart := processCPU()
	defer func() { p.running.Add(-1) }()

	var wg sync.WaitGroup
	wg.Go(func() { p.keepAlive(jobCtx, cancel, owner, j.ID, progress) })
	log.Info("job started")
	outcome, err := exec(jobCtx, j, progress)
	cancel(nil)
	wg.Wait()

	cause := context.Cause(jobCtx)
	if ctx.Err() == nil && !errors.Is(cause, errLeaseLost) {
		p.flush(owner, j.ID, progress)
	}
	cpu := (processCPU() - cpuStart) / time.Duration(max(concurrent, p.running.Load()))
	switch {
	case err == nil:
		p.finish(log, j, owner, job.Succeeded, outcome, nil, cpu)
	case errors.Is(cause, errCancelRequested):
		p.finish(log, j, owner, job.Cancelled, outcome, errCancelRequested, cpu)
	case errors.Is(cause, errLeaseLost):
		log.Warn("job lease lost; another worker owns it now", "error", err)
	case ctx.Err() != nil:
		p.release(log, j, owner, err)
	default:
		p.finish(log, j, owner, job.Failed, outcome, err, cpu)
	}
}

// keepAlive writes progress every FlushInterval (learning whether a cancel
// was requested) and renews the lease every third of it, until ctx ends.
func (p *Pool) keepAlive(ctx context.Context, cancel context.CancelCauseFunc, owner, id string, progress *Progress) {
	flush := time.NewTicker(p.opts.FlushInterval)
	defer flush.Stop()
	renew := time.NewTicker(p.opts.Lease / 3)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			phase, prog := progress.Snapshot()
			cancelRequested, err := p.store.UpdateJobProgress(ctx, id, owner, phase, prog)
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				cancel(errLeaseLost)
			case err != nil:
				if ctx.Err() == nil {
					p.opts.Logger.Warn("writing job progress", "job", id, "error", err)
				}
			case cancelRequested:
				cancel(errCancelRequested)
			}
		case <-renew.C:
			if err := p.store.RenewLease(ctx, id, owner, p.opts.Lease); errors.Is(err, store.ErrLeaseLost) {
				cancel(errLeaseLost)
			} else if err != nil && ctx.Err() == nil {
				p.opts.Logger.Warn("renewing job lease", "job", id, "error", err)
			}
		}
	}
}

// release puts a job interrupted by shutdown back in the queue, so that the
// next worker takes it at once instead of after its lease.
func (p *Pool) release(log *slog.Logger, j *job.Job, owner string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.store.ReleaseJob(ctx, j.ID, owner); err != nil {
		log.Warn("job interrupted by shutdown; it will be claimed again when its lease expires", "error", err, "cause", cause)
		return
	}
	log.Info("job interrupted by shutdown and queued again", "cause", cause)
}

// flush writes the job's last progress, so that a finished job shows all it did.
func (p *Pool) flush(owner, id string, progress *Progress) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	phase, prog := progress.Snapshot()
	if _, err := p.store.UpdateJobProgress(ctx, id, owner, phase, prog); err != nil {
		p.opts.Logger.Warn("writing final job progress", "job", id, "error", err)
	}
}

func (p *Pool) finish(log *slog.Logger, j *job.Job, owner string, state job.State, o Outcome, cause error, cpu time.Duration) {
	// The job's own context has ended; recording its end must not depend on it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var jobErr *job.Error
	if cause != nil && state == job.Failed {
		jobErr = ErrorOf(cause)
	}
	ended, err := p.store.FinishJob(ctx, j.ID, owner, state, o.SnapshotID, o.Validations, jobErr, o.Result)
	if err != nil {
		log.Error("recording the end of a job", "state", state, "error", err)
		return
	}
	if p.opts.OnEnd != nil {
		p.opts.OnEnd(ctx, ended, cpu)
	}
	if jobErr != nil {
		log.Warn("job failed", "code", jobErr.Code, "error", jobErr.Message)
		return
	}
	log.Info("job ended", "state", state, "snapshot", o.SnapshotID)
}

// ErrorOf describes why a job failed, as the caller will read it: the gRPC
// code name, the message, and the row and column when the error is about one.
func ErrorOf(err error) *job.Error {
	st := errcode.Status(err)
	e := &job.Error{Code: errcode.Name(st.Code()), Message: st.Message()}
	if fields := fault.FieldErrors(err); len(fields) > 0 {
		e.Row, e.Column = fields[0].Row, fields[0].Column
	}
	return e
}

// processCPU is the CPU time (user and system) the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
