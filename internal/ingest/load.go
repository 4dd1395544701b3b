package ingest

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// Phases of a load.
const (
	PhaseValidating = "VALIDATING"
	PhaseLoading    = "LOADING"
	PhaseCommitting = "COMMITTING"
)

// ObjectReader reads source objects.
type ObjectReader interface {
	Head(ctx context.Context, uri string) (objects.Info, error)
	Get(ctx context.Context, uri string, r *objects.Range) (io.ReadCloser, objects.Info, error)
}

// ObjectWriter writes the rejects objects of loads.
type ObjectWriter interface {
	Put(ctx context.Context, uri string, body io.Reader) (objects.Info, error)
}

// TableWriter commits record streams into dataset tables.
type TableWriter interface {
	Write(ctx context.Context, id string, mode tables.WriteMode, records array.RecordReader, props map[string]string) (int64, error)
}

// QualityGate starts the validation that gates a load.
type QualityGate interface {
	Start(ctx context.Context, suiteName string, d *dataset.Dataset, target string, header []string, schema *arrow.Schema, kind dqdl.TargetKind) (*quality.Run, error)
}

// Loader runs INGEST jobs.
type Loader struct {
	Datasets   DatasetStore
	Sources    ObjectReader
	Rejects    ObjectWriter
	RejectsDir string // URI prefix under which rejects objects are written
	Tables     TableWriter
	// Quality, when set, runs the load's suite (the request's, else the
	// dataset's) on the rows as they stream, before the commit.
	Quality QualityGate
	// Logger, when set, receives what the loader does besides the load
	// (the orphan sweep of a reclaimed job); slog.Default() otherwise.
	Logger *slog.Logger
}

// OrphanRemover is a TableWriter that can also remove the data files no
// snapshot references (tables.Catalog is one).
type OrphanRemover interface {
	RemoveOrphans(ctx context.Context, id string, olderThan time.Time) (int, error)
}

// JobLister is a DatasetStore that also lists jobs (the control-plane
// store is one).
type JobLister interface {
	ListJobs(ctx context.Context, opts store.ListJobsOptions) (store.Page[*job.Job], error)
}

// orphanClockSlack is how much earlier than a running job's start a file
// must be to count as older than it: the store's, the storage's and this
// process's clocks differ a little, and object times can be whole seconds.
const orphanClockSlack = 10 * time.Second

// Run is the jobrun.Executor of INGEST jobs: decode the source object as it
// streams, write it into the table in one commit, or leave the table as it
// was.
func (l *Loader) Run(ctx context.Context, j *job.Job, progress *jobrun.Progress) (jobrun.Outcome, error) {
	var spec IngestSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return jobrun.Outcome{}, fmt.Errorf("job %s: unreadable spec: %w", j.ID, err)
	}
	progress.SetPhase(PhaseValidating)
	d, err := l.Datasets.GetDataset(ctx, j.Dataset)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("dataset %s: %w", j.Dataset, err)
	}
	if j.Attempt > 1 {
		// Claimed again: the worker of the last attempt died, maybe after
		// writing data files it never committed.
		l.removeOrphans(ctx, j, d.ID)
	}
	body, info, err := l.Sources.Get(ctx, spec.SourceURI, nil)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("source %s: %w", spec.SourceURI, err)
	}
	defer body.Close()
	if spec.ObjectETag != "" && (info.ETag != spec.ObjectETag || info.Size != spec.ObjectSize) {
		return jobrun.Outcome{}, fault.Precondition("source %s changed since the load was queued (etag %s, %d bytes; now %s, %d bytes)",
			spec.SourceURI, spec.ObjectETag, spec.ObjectSize, info.ETag, info.Size)
	}
	progress.Update(func(p *job.Progress) { p.BytesTotal = info.Size })

	rejects := newRejectSink(ctx, l.Rejects, fmt.Sprintf("%s/%s/%s.csv", l.RejectsDir, d.ID, j.ID), spec.MaxBadRows)
	dec, err := csvstream.NewDecoder(body, decoderColumns(d), decoderFormat(spec.Format),
		csvstream.Options{OnBadRow: rejects.onBadRow})
	if err != nil {
		rejects.abort(err)
		return jobrun.Outcome{}, err
	}
	var gate *quality.Run
	if name := cmp.Or(spec.QualitySuite, d.QualitySuite); name != "" && l.Quality != nil {
		if gate, err = l.Quality.Start(ctx, name, d, spec.SourceURI, dec.Header(), tables.ArrowSchema(d), dqdl.TargetDatasetObject); err != nil {
			rejects.abort(err)
			return jobrun.Outcome{}, err
		}
	}
	progress.SetPhase(PhaseLoading)
	records := &decodedRecords{gate: gate, jobID: j.ID, ctx: ctx, dec: dec, schema: tables.ArrowSchema(d), onEOF: func() { progress.SetPhase(PhaseCommitting) },
		report: func(s csvstream.Stats, written int64) {
			progress.Update(func(p *job.Progress) {
				p.BytesRead, p.RowsRead, p.RowsRejected, p.RowsWritten = s.BytesRead, s.RowsRead, s.RowsRejected, written
			})
		}}
	records.refs.Store(1)
	defer records.Release()
	mode := map[Mode]tables.WriteMode{ModeAppend: tables.Append, ModeOverwrite: tables.Overwrite, ModeUpsert: tables.Upsert}[spec.Mode]
	if spec.Mode == ModeUpsert && spec.DedupeLast {
		mode = tables.UpsertDedupeLast
	}
	snapshot, err := l.Tables.Write(ctx, d.ID, mode, records, map[string]string{"lakeplane.job-id": j.ID})
	if err == nil {
		err = records.err
	}
	var outcome jobrun.Outcome
	if records.validation != nil {
		outcome.Validations = []string{records.validation.ID}
	} else if gate != nil {
		gate.Abort()
	}
	if err != nil {
		rejects.abort(err)
		return outcome, err
	}
	if err := rejects.close(); err != nil {
		return outcome, err
	}
	outcome.SnapshotID = snapshot
	return outcome, nil
}

// removeOrphans removes, best-effort, the data files of dataset that no
// snapshot references and that no write which may still commit can have
// made: those older than now and than the start of every other running
// job on the dataset or on no particular dataset (an erasure spans
// datasets), less orphanClockSlack. The dead attempt's worker stopped
// renewing its lease at least a lease ago, so its files are older than
// that cutoff (those of its last orphanClockSlack, if any, stay). Nothing
// is removed when the tables or the store cannot do their part.
func (l *Loader) removeOrphans(ctx context.Context, j *job.Job, dataset string) {
	log := cmp.Or(l.Logger, slog.Default()).With("job", j.ID, "dataset", dataset, "attempt", j.Attempt)
	remover, ok := l.Tables.(OrphanRemover)
	if !ok {
		return
	}
	cutoff, err := l.orphanCutoff(ctx, j, dataset)
	if err != nil {
		log.Warn("reclaimed job: orphan data files not removed", "error", err)
		return
	}
	n, err := remover.RemoveOrphans(ctx, dataset, cutoff)
	if err != nil {
		log.Warn("reclaimed job: removing orphan data files failed", "removed", n, "error", err)
		return
	}
	if n > 0 {
		log.Info("reclaimed job: removed orphan data files", "removed", n, "olderThan", cutoff)
	}
}

// orphanCutoff is the time before which an unreferenced data file of
// dataset cannot be one that a running job is about to commit.
func (l *Loader) orphanCutoff(ctx context.Context, j *job.Job, dataset string) (time.Time, error) {
	lister, ok := l.Datasets.(JobLister)
	if !ok {
		return time.Time{}, errors.New("the store cannot list running jobs")
	}
	cutoff := time.Now().Add(-orphanClockSlack)
	opts := store.ListJobsOptions{State: job.Running}
	for {
		if err := ctx.Err(); err != nil {
			return time.Time{}, context.Cause(ctx)
		}
		page, err := lister.ListJobs(ctx, opts)
		if err != nil {
			return time.Time{}, fmt.Errorf("list running jobs: %w", err)
		}
		for _, o := range page.Items {
			if o.ID == j.ID || (o.Dataset != dataset && o.Dataset != "") {
				continue
			}
			if o.StartTime.IsZero() {
				return time.Time{}, fmt.Errorf("running job %s has no start time", o.ID)
			}
			cutoff = minTime(cutoff, o.StartTime.Add(-orphanClockSlack))
		}
		if page.NextPageToken == "" {
			return cutoff, nil
		}
		opts.PageToken = page.NextPageToken
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func decoderColumns(d *dataset.Dataset) []csvstream.Column {
	schema := tablesSchema(d)
	cols := make([]csvstream.Column, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = csvstream.Column{Name: c.Name, Type: schema.Field(i).Type, Nullable: c.Nullable, PII: c.PII || c.Name == d.SubjectKey}
	}
	return cols
}

func tablesSchema(d *dataset.Dataset) *arrow.Schema { return tables.ArrowSchema(d) }

func decoderFormat(f Format) csvstream.Format {
	out := csvstream.Format{
		Header:          f.Header,
		NullValues:      f.NullValues,
		DateFormat:      f.DateFormat,
		TimestampFormat: f.TimestampFormat,
	}
	if f.Delimiter != "" {
		out.Delimiter = []rune(f.Delimiter)[0]
	}
	if f.Quote != "" {
		out.Quote = []rune(f.Quote)[0]
	}
	out.Encoding, _ = csvstream.EncodingFromName(f.Encoding) // validated when queued
	return out
}

// decodedRecords adapts the decoder to the record reader a table write
// consumes. A decode error ends the stream and is kept in err, so the write
// sees an error and commits nothing.
type decodedRecords struct {
	ctx context.Context
	// gate validates the rows on the way; at the end of the rows its
	// verdict decides whether the stream ends cleanly (and the write
	// commits) or with an error.
	gate       *quality.Run
	jobID      string
	validation *suite.Validation
	dec        *csvstream.Decoder
	schema     *arrow.Schema
	cur        arrow.RecordBatch
	err        error
	written    int64
	refs       atomic.Int64
	onEOF      func()
	report     func(csvstream.Stats, int64)
}

func (r *decodedRecords) Schema() *arrow.Schema { return r.schema }

func (r *decodedRecords) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	rec, err := r.dec.Next(r.ctx)
	if errors.Is(err, io.EOF) {
		r.report(r.dec.Stats(), r.written)
		r.err = r.verdict()
		if r.err == nil {
			r.onEOF()
		}
		return false
	}
	if err != nil {
		r.err = err
		return false
	}
	if r.gate != nil {
		if err := r.gate.Add(r.ctx, rec); err != nil {
			rec.Release()
			r.err = err
			return false
		}
	}
	r.cur = rec
	r.written += rec.NumRows()
	r.report(r.dec.Stats(), r.written)
	return true
}

// verdict finishes the gate's validation, recording it, and fails the
// stream when the suite did not pass.
func (r *decodedRecords) verdict() error {
	if r.gate == nil {
		return nil
	}
	v, passed, err := r.gate.Finish(r.ctx, r.jobID)
	if err != nil {
		return fmt.Errorf("quality gate: %w", err)
	}
	r.validation = v
	if !passed {
		return fault.Precondition("quality suite %q %s on %d rows (validation %s); nothing was loaded", v.Suite, v.Outcome, v.RowsEvaluated, v.ID)
	}
	return nil
}

func (r *decodedRecords) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *decodedRecords) Record() arrow.RecordBatch      { return r.cur }
func (r *decodedRecords) Err() error                     { return r.err }
func (r *decodedRecords) Retain()                        { r.refs.Add(1) }
func (r *decodedRecords) Release() {
	if r.refs.Add(-1) == 0 && r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

// rejectSink writes bad rows, up to a limit, to a rejects object (CSV of
// line, column, value, reason and the fields as a JSON list; PII values
// masked), streamed as they come.
type rejectSink struct {
	limit int64
	count int64
	pw    *io.PipeWriter
	w     *csv.Writer
	done  chan error
	open  func()
}

func newRejectSink(ctx context.Context, store ObjectWriter, uri string, limit int64) *rejectSink {
	s := &rejectSink{limit: limit, done: make(chan error, 1)}
	s.open = func() {
		pr, pw := io.Pipe()
		s.pw, s.w = pw, csv.NewWriter(pw)
		go func() {
			_, err := store.Put(ctx, uri, pr)
			pr.CloseWithError(err)
			s.done <- err
		}()
		_ = s.w.Write([]string{"line", "column", "value", "reason", "fields"})
	}
	return s
}

func (s *rejectSink) onBadRow(e *csvstream.RowError) error {
	s.count++
	if s.count > s.limit {
		if s.limit == 0 {
			return e
		}
		return fmt.Errorf("more than maxBadRows (%d) bad rows; the last: %w", s.limit, e)
	}
	if s.w == nil {
		s.open()
	}
	raw, _ := json.Marshal(e.Raw)
	return s.w.Write([]string{strconv.FormatInt(e.Line, 10), e.Column, e.Value, e.Reason, string(raw)})
}

func (s *rejectSink) close() error {
	if s.w == nil {
		return nil
	}
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		s.pw.CloseWithError(err)
		<-s.done
		return fmt.Errorf("write rejects: %w", err)
	}
	s.pw.Close()
	if err := <-s.done; err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return nil
}

func (s *rejectSink) abort(cause error) {
	if s.w == nil {
		return
	}
	s.pw.CloseWithError(cause)
	<-s.done
}
