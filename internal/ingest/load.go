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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/erasure/subjecttag"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/pii"
	"github.com/lakeplane/lakeplane/internal/quality"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// Phases of a load.
const (
	PhaseValidating = "VALIDATING"
	PhaseLoading    = "LOADING"
	PhaseCommitting = "COMMITTING"
	// PhasePostLoad runs the suite's post-load rules on the new snapshot.
	PhasePostLoad = "POST_LOAD_VALIDATING"
	// PhaseRollingBack puts the table back to the snapshot before the load
	// after the post-load rules failed (policy ROLLBACK).
	PhaseRollingBack = "ROLLING_BACK"
	// PhaseQualityWarning is the phase a load ends in when the post-load
	// rules failed and the dataset's policy KEEP kept the snapshot: the
	// job succeeds and its phase reads "QUALITY_WARNING: " and what failed.
	PhaseQualityWarning = "QUALITY_WARNING"
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

// TableWriter commits record streams into dataset tables, and undoes a
// load whose post-load quality rules failed (tables.Catalog is one).
type TableWriter interface {
	Write(ctx context.Context, id string, mode tables.WriteMode, records array.RecordReader, props map[string]string) (int64, error)
	// Stats tells whether the table has rows before a load.
	Stats(ctx context.Context, id string) (tables.Stats, error)
	// Snapshots tells whether a snapshot is the load's own (its
	// "lakeplane.job-id" property) before it is rolled back.
	Snapshots(ctx context.Context, id string) ([]tables.Snapshot, error)
	// Rollback makes the parent of the current snapshot snapshotID current
	// again, and returns it.
	Rollback(ctx context.Context, id string, snapshotID int64) (int64, error)
}

// QualityGate starts the quality check of a load: its stream rules run on
// the rows as they stream, its post-load rules on the new snapshot.
type QualityGate interface {
	StartLoad(ctx context.Context, suiteName string, d *dataset.Dataset, source string, header []string, schema *arrow.Schema, intoRows bool) (*quality.LoadGate, error)
}

// Loader runs INGEST jobs.
type Loader struct {
	Datasets   DatasetStore
	Sources    ObjectReader
	Rejects    ObjectWriter
	RejectsDir string // URI prefix under which rejects objects are written
	Tables     TableWriter
	// Quality, when set, runs the load's suite (the request's, else the
	// dataset's): its stream rules on the rows as they stream, before the
	// commit, and its post-load rules on the new snapshot, before the job
	// succeeds; on a post-load failure the dataset's quality failure
	// policy rolls the table back (the job fails) or keeps the snapshot
	// (the job succeeds in phase PhaseQualityWarning).
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

// jobPropertyKey is the snapshot summary property naming the job whose
// load made the snapshot.
const jobPropertyKey = "lakeplane.job-id"

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

	rejects, cols, err := l.openRejects(ctx, d, j, spec.MaxBadRows)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	dec, err := csvstream.NewDecoder(body, cols, decoderFormat(spec.Format),
		csvstream.Options{OnBadRow: rejects.onBadRow})
	if err != nil {
		rejects.abort(err)
		return jobrun.Outcome{}, err
	}
	rejects.tags.locate(dec.Header(), d)
	var gate *quality.LoadGate
	if name := cmp.Or(spec.QualitySuite, d.QualitySuite); name != "" && l.Quality != nil {
		if gate, err = l.startGate(ctx, name, d, spec, dec.Header()); err != nil {
			rejects.abort(err)
			return jobrun.Outcome{}, err
		}
	}
	var stream *quality.Run
	if gate != nil {
		stream = gate.Stream
	}
	progress.SetPhase(PhaseLoading)
	records := &decodedRecords{gate: stream, jobID: j.ID, ctx: ctx, dec: dec, schema: tables.ArrowSchema(d), onEOF: func() { progress.SetPhase(PhaseCommitting) },
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
	snapshot, err := l.Tables.Write(ctx, d.ID, mode, records, map[string]string{jobPropertyKey: j.ID})
	if err == nil {
		err = records.err
	}
	var outcome jobrun.Outcome
	if records.validation != nil {
		outcome.Validations = []string{records.validation.ID}
	} else {
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
	if gate.HasPostLoad() {
		return l.postLoad(ctx, j, d, gate, outcome, progress)
	}
	return outcome, nil
}

// startGate starts the quality check of a load with suite name. An APPEND
// or UPSERT into a table that has rows makes the suite's uniqueness rules
// post-load ones (see quality.PostLoad).
func (l *Loader) startGate(ctx context.Context, name string, d *dataset.Dataset, spec IngestSpec, header []string) (*quality.LoadGate, error) {
	intoRows := false
	if spec.Mode != ModeOverwrite {
		st, err := l.Tables.Stats(ctx, d.ID)
		if err != nil {
			return nil, fmt.Errorf("quality gate: %w", err)
		}
		intoRows = st.RowCount > 0
	}
	return l.Quality.StartLoad(ctx, name, d, spec.SourceURI, header, tables.ArrowSchema(d), intoRows)
}

// postLoad runs the post-load rules of a committed load on its snapshot
// (outcome.SnapshotID), links their validation from the job, and when
// they do not pass (or cannot be run) applies the dataset's policy:
//
//   - ROLLBACK (the default): the table goes back to the snapshot before
//     the load, if the load committed one and nothing was committed on top
//     of it since, and the job fails with FAILED_PRECONDITION (the
//     rollback's own error, when it fails, is part of the job's error);
//   - KEEP: the snapshot stays and the job succeeds, its phase
//     "QUALITY_WARNING: " and what failed (the job has no message of its
//     own on success); a post-load run that could not finish (a read
//     error, a cancellation) is such a warning too rather than a failure,
//     so that a retried job does not load the same rows twice.
func (l *Loader) postLoad(ctx context.Context, j *job.Job, d *dataset.Dataset, gate *quality.LoadGate, outcome jobrun.Outcome, progress *jobrun.Progress) (jobrun.Outcome, error) {
	progress.SetPhase(PhasePostLoad)
	v, passed, err := gate.PostLoad(ctx, outcome.SnapshotID, j.ID)
	if v != nil {
		outcome.Validations = append(outcome.Validations, v.ID)
	}
	if err == nil && passed {
		return outcome, nil
	}
	var what string
	if err != nil {
		what = fmt.Sprintf("the post-load rules of quality suite %q could not be evaluated on snapshot %d: %v", gate.Suite(), outcome.SnapshotID, err)
	} else {
		what = fmt.Sprintf("quality suite %q's post-load rules %s on snapshot %d (validation %s)", v.Suite, v.Outcome, outcome.SnapshotID, v.ID)
	}
	log := cmp.Or(l.Logger, slog.Default()).With("job", j.ID, "dataset", d.ID, "snapshot", outcome.SnapshotID)
	if d.QualityFailurePolicy.Effective() == dataset.PolicyKeep {
		log.Warn("post-load quality rules did not pass; the snapshot is kept (policy KEEP)", "detail", what)
		progress.SetPhase(PhaseQualityWarning + ": " + what + "; the snapshot is kept (policy KEEP)")
		return outcome, nil
	}
	progress.SetPhase(PhaseRollingBack)
	// The verdict stands even when the job is being cancelled or the
	// server stops: the rollback must not depend on ctx.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	snap := outcome.SnapshotID
	outcome.SnapshotID = 0
	own, oerr := l.ownSnapshot(rctx, d.ID, snap, j.ID)
	switch {
	case oerr != nil:
		return outcome, fault.Precondition("%s; the table may keep the load: looking its snapshot up for the rollback failed: %v", what, oerr)
	case !own:
		return outcome, fault.Precondition("%s; the load committed no snapshot, so the table is as it was", what)
	}
	restored, rerr := l.Tables.Rollback(rctx, d.ID, snap)
	if rerr != nil {
		return outcome, fault.Precondition("%s; the table keeps the load: rolling snapshot %d back failed: %v", what, snap, rerr)
	}
	log.Warn("post-load quality rules did not pass; the table was rolled back (policy ROLLBACK)", "detail", what, "restored", restored)
	return outcome, fault.Precondition("%s; the table was rolled back to snapshot %d (policy ROLLBACK)", what, restored)
}

// ownSnapshot reports whether snapshot of dataset id was committed by job
// jobID (a load that committed nothing returns the current snapshot,
// which another writer may have made).
func (l *Loader) ownSnapshot(ctx context.Context, id string, snapshot int64, jobID string) (bool, error) {
	if snapshot == 0 {
		return false, nil
	}
	snaps, err := l.Tables.Snapshots(ctx, id)
	if err != nil {
		return false, err
	}
	for _, s := range snaps {
		if s.ID == snapshot {
			return s.Properties[jobPropertyKey] == jobID, nil
		}
	}
	return false, nil
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
// masked), streamed as they come. For a dataset with a subject key, when
// the store keeps a tag key (subjecttag.KeyStore), it also writes the
// rejects object's index (<uri>.subjects: each record's line and the keyed
// hashes of its subject key), so that an erasure finds a subject's
// rejected rows although the rejects show the key masked.
type rejectSink struct {
	limit int64
	count int64
	rows  *pipedCSV
	index *pipedCSV
	tags  *subjectTagger // nil: no index, and the decoder masks
}

func newRejectSink(ctx context.Context, store ObjectWriter, uri string, limit int64, tags *subjectTagger) *rejectSink {
	s := &rejectSink{limit: limit, tags: tags,
		rows: &pipedCSV{ctx: ctx, store: store, uri: uri, header: []string{"line", "column", "value", "reason", "fields"}}}
	if tags != nil {
		s.index = &pipedCSV{ctx: ctx, store: store, uri: uri + subjecttag.IndexSuffix, header: subjecttag.IndexHeader}
	}
	return s
}

// openRejects returns the sink of a load's bad rows and the columns to
// decode with: with a subject tagger, the decoder masks nothing and the
// sink masks what the decoder would have (see subjectTagger.redact).
func (l *Loader) openRejects(ctx context.Context, d *dataset.Dataset, j *job.Job, limit int64) (*rejectSink, []csvstream.Column, error) {
	cols := decoderColumns(d)
	uri := fmt.Sprintf("%s/%s/%s.csv", l.RejectsDir, d.ID, j.ID)
	keys, ok := l.Datasets.(subjecttag.KeyStore)
	if d.SubjectKey == "" || !ok {
		return newRejectSink(ctx, l.Rejects, uri, limit, nil), cols, nil
	}
	key, err := keys.Secret(ctx, subjecttag.KeyName)
	if err != nil {
		return nil, nil, fmt.Errorf("rejects: subject tag key: %w", err)
	}
	tags := &subjectTagger{key: key, subjectKey: d.SubjectKey, masked: map[string]bool{}}
	if c := d.Column(d.SubjectKey); c != nil {
		tags.keyType = c.Type
	}
	for i := range cols {
		tags.masked[cols[i].Name] = cols[i].PII
		cols[i].PII = false
	}
	return newRejectSink(ctx, l.Rejects, uri, limit, tags), cols, nil
}

func (s *rejectSink) onBadRow(e *csvstream.RowError) error {
	var tags []string
	if s.tags != nil {
		tags = s.tags.redact(e)
	}
	s.count++
	if s.count > s.limit {
		if s.limit == 0 {
			return e
		}
		return fmt.Errorf("more than maxBadRows (%d) bad rows; the last: %w", s.limit, e)
	}
	raw, _ := json.Marshal(e.Raw)
	line := strconv.FormatInt(e.Line, 10)
	if err := s.rows.write([]string{line, e.Column, e.Value, e.Reason, string(raw)}); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	return s.index.write([]string{line, strings.Join(tags, " ")})
}

func (s *rejectSink) close() error {
	if err := s.rows.close(); err != nil {
		if s.index != nil {
			s.index.abort(err)
		}
		return fmt.Errorf("write rejects: %w", err)
	}
	if s.index == nil {
		return nil
	}
	if err := s.index.close(); err != nil {
		return fmt.Errorf("write rejects index: %w", err)
	}
	return nil
}

func (s *rejectSink) abort(cause error) {
	s.rows.abort(cause)
	if s.index != nil {
		s.index.abort(cause)
	}
}

// subjectTagger tags a bad row with keyed hashes of its subject key, and
// masks its PII and subject key values (the decoder, told of no PII column,
// passes them in clear).
type subjectTagger struct {
	key        []byte
	subjectKey string
	keyType    dataset.ColumnType // tags are of values in its canonical form
	masked     map[string]bool    // by column name: PII or the subject key
	// fields are the columns of the source's fields by position (the
	// header's names, or the dataset's columns without a header).
	fields []string
}

// locate learns the columns of the source's fields from the decoder's
// header (nil: the dataset's columns in order).
func (t *subjectTagger) locate(header []string, d *dataset.Dataset) {
	if t == nil {
		return
	}
	t.fields = header
	if header == nil {
		for _, c := range d.Columns {
			t.fields = append(t.fields, c.Name)
		}
	}
}

// redact masks e's PII and subject key values, as the decoder would, and
// returns the tags of its subject key: of the key's field, or of every
// field of a record whose wrong number of fields leaves unclear which
// field is the key (whose fields are then all masked).
func (t *subjectTagger) redact(e *csvstream.RowError) []string {
	if e.Column != "" && t.masked[e.Column] {
		e.Value = pii.Mask(e.Value)
	}
	if e.Raw == nil {
		return nil
	}
	var tags []string
	aligned := len(e.Raw) == len(t.fields)
	for i, v := range e.Raw {
		if !aligned {
			tags = append(tags, subjecttag.Tag(t.key, t.keyType, v))
			e.Raw[i] = pii.Mask(v)
			continue
		}
		if t.fields[i] == t.subjectKey {
			tags = append(tags, subjecttag.Tag(t.key, t.keyType, v))
		}
		if t.masked[t.fields[i]] {
			e.Raw[i] = pii.Mask(v)
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// pipedCSV streams CSV records into one object, opened at the first
// record (with its header record first).
type pipedCSV struct {
	ctx    context.Context
	store  ObjectWriter
	uri    string
	header []string
	pw     *io.PipeWriter
	w      *csv.Writer
	done   chan error
}

func (p *pipedCSV) write(rec []string) error {
	if p.w == nil {
		pr, pw := io.Pipe()
		p.pw, p.w, p.done = pw, csv.NewWriter(pw), make(chan error, 1)
		go func() {
			_, err := p.store.Put(p.ctx, p.uri, pr)
			pr.CloseWithError(err)
			p.done <- err
		}()
		if err := p.w.Write(p.header); err != nil {
			return err
		}
	}
	return p.w.Write(rec)
}

// close flushes the records and waits for the object to be written.
func (p *pipedCSV) close() error {
	if p.w == nil {
		return nil
	}
	p.w.Flush()
	if err := p.w.Error(); err != nil {
		p.pw.CloseWithError(err)
		<-p.done
		return err
	}
	p.pw.Close()
	return <-p.done
}

// abort stops the write, leaving no object (a failed Put writes none).
func (p *pipedCSV) abort(cause error) {
	if p.w == nil {
		return
	}
	p.pw.CloseWithError(cause)
	<-p.done
}
