package jobrun

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func queue(t *testing.T, s store.Store, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		j, _, err := s.CreateJob(context.Background(), &job.Job{Kind: job.Ingest, Dataset: "sales.orders"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	return ids
}

// startPool runs a pool until the test ends (or stop is called).
func startPool(t *testing.T, s store.Store, exec Executor, opts Options) (stop func()) {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = 50 * time.Millisecond
	}
	p := New(s, map[job.Kind]Executor{job.Ingest: exec}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls a job until cond holds, or fails the test after 10s.
func waitFor(t *testing.T, s store.Store, id string, what string, cond func(*job.Job) bool) *job.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := s.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never became %s; last: %+v", id, what, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoolRunsEveryJobOnce(t *testing.T) {
	s := openStore(t)
	var runs, ends atomic.Int64
	startPool(t, s, func(ctx context.Context, j *job.Job, p *Progress) (Outcome, error) {
		runs.Add(1)
		return Outcome{SnapshotID: 42, Validations: []string{"v-" + j.ID}}, nil
	}, Options{Workers: 3, OnEnd: func(_ context.Context, j *job.Job, cpu time.Duration) {
		if j.State == job.Succeeded && j.SnapshotID == 42 && cpu >= 0 {
			ends.Add(1)
		}
	}})
	ids := queue(t, s, 7)
	for _, id := range ids {
		j := waitFor(t, s, id, "SUCCEEDED", func(j *job.Job) bool { return j.State.Done() })
		if j.State != job.Succeeded || j.SnapshotID != 42 || len(j.Validations) != 1 || j.Attempt != 1 || j.EndTime.IsZero() {
			t.Fatalf("job %s ended as %+v", id, j)
		}
	}
	if runs.Load() != 7 {
		t.Fatalf("executor ran %d times for 7 jobs", runs.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for ends.Load() != 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ends.Load() != 7 {
		t.Fatalf("OnEnd saw %d ended jobs, want 7", ends.Load())
	}
}

func TestFailureRecordsCodeRowAndColumn(t *testing.T) {
	s := openStore(t)
	startPool(t, s, func(ctx context.Context, j *job.Job, p *Progress) (Outcome, error) {
		return Outcome{}, fmt.Errorf("decode: %w", &fault.FieldError{Row: 1042, Column: "premium", Reason: `"12,5" is not a decimal`})
	}, Options{})
	id := queue(t, s, 1)[0]
	j := waitFor(t, s, id, "done", func(j *job.Job) bool { return j.State.Done() })
	if j.State != job.Failed || j.Error == nil || j.Error.Code != "INVALID_ARGUMENT" || j.Error.Row != 1042 || j.Error.Column != "premium" {
		t.Fatalf("failed job: %+v, error %+v", j, j.Error)
	}
}

func TestProgressAndCancel(t *testing.T) {
	s := openStore(t)
	startPool(t, s, func(ctx context.Context, j *job.Job, p *Progress) (Outcome, error) {
		p.SetPhase("LOADING")
		p.Update(func(pr *job.Progress) { pr.RowsRead = 1000 })
		<-ctx.Done()
		return Outcome{}, ctx.Err()
	}, Options{})
	id := queue(t, s, 1)[0]
	waitFor(t, s, id, "loading with progress", func(j *job.Job) bool { return j.Phase == "LOADING" && j.Progress.RowsRead == 1000 })

	asked := time.Now()
	if _, err := s.RequestCancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	j := waitFor(t, s, id, "CANCELLED", func(j *job.Job) bool { return j.State.Done() })
	if j.State != job.Cancelled {
		t.Fatalf("job ended %s, want CANCELLED", j.State)
	}
	if took := j.EndTime.Sub(asked); took > time.Second {
		t.Fatalf("cancellation took %v", took)
	}
}

func TestInterruptedJobIsClaimedAgain(t *testing.T) {
	s := openStore(t)
	started := make(chan struct{}, 1)
	var attempts atomic.Int64
	exec := func(ctx context.Context, j *job.Job, p *Progress) (Outcome, error) {
		if attempts.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done() // the first worker is shut down mid-job
			return Outcome{}, ctx.Err()
		}
		return Outcome{SnapshotID: 7}, nil
	}
	stopFirst := startPool(t, s, exec, Options{Lease: 300 * time.Millisecond})
	id := queue(t, s, 1)[0]
	<-started
	stopFirst()
	if j, _ := s.GetJob(context.Background(), id); j.State != job.Queued || j.Attempt != 0 {
		t.Fatalf("after shutdown the job is %s (attempt %d); it should be queued again", j.State, j.Attempt)
	}
	startPool(t, s, exec, Options{Lease: 300 * time.Millisecond})
	j := waitFor(t, s, id, "SUCCEEDED", func(j *job.Job) bool { return j.State.Done() })
	if j.State != job.Succeeded || j.Attempt != 1 || j.SnapshotID != 7 {
		t.Fatalf("reclaimed job: %+v", j)
	}
}

func TestUnknownKindFails(t *testing.T) {
	s := openStore(t)
	startPool(t, s, func(context.Context, *job.Job, *Progress) (Outcome, error) {
		return Outcome{}, errors.New("not reached")
	}, Options{})
	j, _, err := s.CreateJob(context.Background(), &job.Job{Kind: job.Optimize, Dataset: "a.b"})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, s, j.ID, "done", func(j *job.Job) bool { return j.State.Done() })
	if got.State != job.Failed || got.Error.Code != "FAILED_PRECONDITION" {
		t.Fatalf("job of a kind with no executor: %+v %+v", got, got.Error)
	}
}
