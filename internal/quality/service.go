package quality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// Store is what the service needs of the control-plane store.
type Store interface {
	store.Quality
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
}

// Objects reads the objects ValidateObject checks.
type Objects interface {
	Get(ctx context.Context, uri string, r *objects.Range) (io.ReadCloser, objects.Info, error)
}

// Tables reads dataset snapshots for ValidateDataset, the post-load rules
// of a load and the key sets of ReferentialIntegrity (tables.Catalog is
// one).
type Tables interface {
	Read(ctx context.Context, id string, snapshotID int64, fn func(arrow.RecordBatch) error) (int64, error)
	// SnapshotRowCount gives a snapshot's row count and id (the current
	// one's for snapshotID 0), for RowCount of a whole table after a load.
	SnapshotRowCount(ctx context.Context, id string, snapshotID int64) (rows, snapshot int64, err error)
}

// Alerts tells someone of the validations that did not pass (see package
// alert) and reads back what became of those alerts.
type Alerts interface {
	// Notify sends the alert of a FAIL or ERROR result, in the background:
	// it must not wait for any sink.
	Notify(ctx context.Context, v *suite.Validation)
	// Deliveries returns the recorded deliveries of the validations' alerts.
	Deliveries(ctx context.Context, validationIDs ...string) ([]*store.AlertDelivery, error)
}

// Service keeps suites and runs them.
type Service struct {
	store   Store
	objects Objects
	tables  Tables
	tempDir string
	alerts  Alerts
	refs    *tableReferences
	// discover types the columns of an object validated without a
	// dataset; nil refuses such a validation.
	discover Discoverer
	// decode is how ValidateObject decodes an object on several cores
	// (the zero value: one worker per GOMAXPROCS); tests shrink its chunks.
	decode csvstream.ParallelOptions
}

// NewService returns a Service; tempDir is where uniqueness and
// ReferentialIntegrity checks spill (the system's when empty).
// ReferentialIntegrity rules read the referenced datasets' tables through
// t, whatever their size.
func NewService(s Store, o Objects, t Tables, tempDir string) *Service {
	return &Service{store: s, objects: o, tables: t, tempDir: tempDir,
		refs: &tableReferences{store: s, tables: t}}
}

// WithAlerts makes every validation that does not pass, whichever way it
// ran (ValidateObject, ValidateDataset, the ingest gate), notify a; it
// returns s. Call it before the service is used.
func (s *Service) WithAlerts(a Alerts) *Service {
	s.alerts = a
	return s
}

// alertDeliveries returns the alert deliveries of the given validations,
// by validation id; none without alerts.
func (s *Service) alertDeliveries(ctx context.Context, ids ...string) (map[string][]*store.AlertDelivery, error) {
	if s.alerts == nil || len(ids) == 0 {
		return nil, nil
	}
	ds, err := s.alerts.Deliveries(ctx, ids...)
	if err != nil {
		return nil, fmt.Errorf("alert deliveries: %w", err)
	}
	out := make(map[string][]*store.AlertDelivery, len(ids))
	for _, d := range ds {
		out[d.ValidationID] = append(out[d.ValidationID], d)
	}
	return out, nil
}

// SuiteRules parses a suite given as DQDL text or as structured rules (not
// both) and checks that every rule can run on a dataset.
func SuiteRules(text string, structured []dqdl.StructuredRule) (*dqdl.Ruleset, error) {
	var rs *dqdl.Ruleset
	var err error
	switch {
	case text != "" && len(structured) > 0:
		return nil, fault.Invalid("suite", "give the rules as dqdl or as rules, not both")
	case text != "":
		if rs, err = dqdl.Parse(text); err != nil {
			return nil, fault.Invalid("suite.dqdl", "%v", err)
		}
	case len(structured) > 0:
		if rs, err = dqdl.FromStructured(structured); err != nil {
			return nil, fault.Invalid("suite.rules", "%v", err)
		}
	default:
		return nil, fault.Invalid("suite.dqdl", "a suite needs rules: dqdl text or structured rules")
	}
	if err := dqdl.Check(rs, dqdl.TargetDataset); err != nil {
		return nil, fault.Invalid("suite", "%v", err)
	}
	return rs, nil
}

// CreateSuite validates and stores a suite, as canonical DQDL.
func (s *Service) CreateSuite(ctx context.Context, name, description string, rs *dqdl.Ruleset) (*suite.Suite, error) {
	if err := dataset.ValidateSuiteName(name); err != nil {
		return nil, fault.Invalid("suite.name", "%v", err)
	}
	out, err := s.store.CreateSuite(ctx, &suite.Suite{Name: name, DQDL: rs.String(), Description: description})
	if err != nil {
		return nil, fmt.Errorf("create suite %q: %w", name, err)
	}
	return out, nil
}

// UpdateSuite replaces a suite's rules and description; a non-empty etag
// must be current.
func (s *Service) UpdateSuite(ctx context.Context, name, description, etag string, rs *dqdl.Ruleset) (*suite.Suite, error) {
	current, err := s.store.GetSuite(ctx, name)
	if err != nil {
		return nil, err
	}
	if etag != "" && etag != current.Etag {
		return nil, fmt.Errorf("update suite %q: etag %q is stale: %w", name, etag, store.ErrConflict)
	}
	next := *current
	next.Description = description
	if rs != nil {
		next.DQDL = rs.String()
	}
	out, err := s.store.UpdateSuite(ctx, &next)
	if err != nil {
		return nil, fmt.Errorf("update suite %q: %w", name, err)
	}
	return out, nil
}

// Suite returns a stored suite and its rules.
func (s *Service) Suite(ctx context.Context, name string) (*suite.Suite, *dqdl.Ruleset, error) {
	st, err := s.store.GetSuite(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	rs, err := dqdl.Parse(st.DQDL)
	if err != nil {
		return nil, nil, fmt.Errorf("stored suite %q no longer parses: %w", name, err)
	}
	return st, rs, nil
}

// Run is one validation in progress: feed it batches, then Finish.
type Run struct {
	done    bool
	svc     *Service
	ev      *eval.Evaluator
	record  suite.Validation
	started time.Time
}

// Start begins a validation of a suite over a stream of batches of schema;
// header is the source's header in file order (nil: the schema's). PII
// columns of d (nil for an untyped object) are masked in samples.
func (s *Service) Start(ctx context.Context, suiteName string, d *dataset.Dataset, target string, header []string, schema *arrow.Schema, kind dqdl.TargetKind) (*Run, error) {
	_, rs, err := s.Suite(ctx, suiteName)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, suiteName, rs, d, target, schema, kind, eval.Options{Header: header})
}

// start begins a validation of rs, the rules (or some of them) of suite
// suiteName; opts gives the header and, after a load, the table's figures.
// ReferentialIntegrity rules look keys up in the referenced datasets'
// current snapshots.
func (s *Service) start(ctx context.Context, suiteName string, rs *dqdl.Ruleset, d *dataset.Dataset, target string, schema *arrow.Schema, kind dqdl.TargetKind, opts eval.Options) (*Run, error) {
	if err := dqdl.Check(rs, kind); err != nil {
		return nil, fault.Precondition("suite %q cannot run on %s: %v", suiteName, target, err)
	}
	masked := func(string) bool { return false }
	datasetID := ""
	if d != nil {
		datasetID = d.ID
		masked = func(col string) bool {
			c := d.Column(col)
			return c != nil && (c.PII || col == d.SubjectKey)
		}
	}
	opts.Masked, opts.TempDir = masked, s.tempDir
	if kind != dqdl.TargetObject && s.tables != nil {
		opts.References = s.refs
	}
	ev, err := eval.New(ctx, rs, schema, opts)
	if err != nil {
		return nil, fmt.Errorf("suite %q: %w", suiteName, err)
	}
	return &Run{svc: s, ev: ev, started: time.Now(), record: suite.Validation{Suite: suiteName, Target: target, Dataset: datasetID}}, nil
}

// Add evaluates one batch.
func (r *Run) Add(ctx context.Context, rec arrow.RecordBatch) error { return r.ev.Add(ctx, rec) }

// Finish computes the results, records them and reports whether the suite
// passed. jobID links the result to the load it gated, if any. A result
// that did not pass is handed to the service's alerts, which deliver it in
// the background.
func (r *Run) Finish(ctx context.Context, jobID string) (*suite.Validation, bool, error) {
	r.done = true
	defer r.ev.Close()
	results := r.ev.Finish(ctx)
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	raw, err := json.Marshal(results)
	if err != nil {
		return nil, false, fmt.Errorf("encode validation results: %w", err)
	}
	v := r.record
	v.JobID, v.RowsEvaluated, v.RuleResults = jobID, r.ev.Rows(), raw
	v.Outcome = outcomeOf(eval.Overall(results))
	v.StartTime, v.EndTime = r.started, time.Now()
	stored, err := r.svc.store.CreateValidation(context.WithoutCancel(ctx), &v)
	if err != nil {
		return nil, false, err
	}
	if stored.Outcome != suite.Pass && r.svc.alerts != nil {
		r.svc.alerts.Notify(ctx, stored)
	}
	return stored, v.Outcome == suite.Pass, nil
}

// Abort drops a validation that will not finish; after Finish it does nothing.
func (r *Run) Abort() {
	if !r.done {
		r.done = true
		_ = r.ev.Close()
	}
}

func outcomeOf(o eval.Outcome) suite.Outcome {
	switch o {
	case eval.Pass:
		return suite.Pass
	case eval.Fail:
		return suite.Fail
	default:
		return suite.Error
	}
}

// ValidateObject runs a suite over a CSV object, without loading it, and
// records the result, whose target is the object. A dataset's schema types
// the object's columns and its PII columns are masked in samples; without
// a dataset (datasetID empty) the columns are typed by discovering the
// object's schema (see discoverColumns), and the rules that need a dataset
// are refused before the object is read (see canRunWithoutDataset).
func (s *Service) ValidateObject(ctx context.Context, suiteName, uri, datasetID string, format csvstream.Format) (*suite.Validation, error) {
	if uri == "" {
		return nil, fault.Invalid("sourceUri", "is required")
	}
	_, rs, err := s.Suite(ctx, suiteName)
	if err != nil {
		return nil, err
	}
	var d *dataset.Dataset
	if datasetID != "" {
		if d, err = s.store.GetDataset(ctx, datasetID); err != nil {
			return nil, err
		}
	} else if err := s.canRunWithoutDataset(suiteName, rs); err != nil {
		return nil, err
	}
	body, err := s.openObject(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if d != nil {
		return s.validateObject(ctx, suiteName, rs, d, uri, body, d, format)
	}
	typed, format, err := s.discoverColumns(ctx, uri, format)
	if err != nil {
		return nil, err
	}
	v, err := s.validateObject(ctx, suiteName, rs, nil, uri, body, typed, format)
	return v, typedByDiscovery(err)
}

// openObject opens the object ValidateObject reads.
func (s *Service) openObject(ctx context.Context, uri string) (io.ReadCloser, error) {
	body, _, err := s.objects.Get(ctx, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", uri, asSourceURI(err))
	}
	return body, nil
}

// asSourceURI gives a field error about "uri" (what the object store and
// schema discovery call the URI they are given) the request's name for
// it, sourceUri; it returns any other error as it is.
func asSourceURI(err error) error {
	fields := fault.FieldErrors(err)
	if len(fields) != 1 || fields[0].Field != "uri" {
		return err
	}
	return &fault.FieldError{Field: "sourceUri", Reason: fields[0].Reason}
}

// validateObject decodes body, the object at uri, into the columns of
// typed (in the object's header by their names) and runs rs, the rules of
// suite suiteName, over it in one pass; d is the dataset the object is
// validated for (nil for none), whose PII columns are masked in samples.
func (s *Service) validateObject(ctx context.Context, suiteName string, rs *dqdl.Ruleset, d *dataset.Dataset, uri string, body io.Reader, typed *dataset.Dataset, format csvstream.Format) (*suite.Validation, error) {
	schema := tables.ArrowSchema(typed)
	cols := make([]csvstream.Column, len(typed.Columns))
	for i, c := range typed.Columns {
		cols[i] = csvstream.Column{Name: c.Name, Type: schema.Field(i).Type, Nullable: c.Nullable, PII: c.PII || c.Name == typed.SubjectKey}
	}
	dec, err := csvstream.NewDecoder(body, cols, format, csvstream.Options{})
	if err != nil {
		return nil, err
	}
	run, err := s.start(ctx, suiteName, rs, d, uri, schema, dqdl.TargetDatasetObject, eval.Options{Header: dec.Header()})
	if err != nil {
		return nil, err
	}
	if err := s.evaluateObject(ctx, dec, run); err != nil {
		run.Abort()
		return nil, err
	}
	v, _, err := run.Finish(ctx, "")
	return v, err
}

// evaluateObject feeds every batch of dec to run, in source order. Only
// the columns some rule reads are parsed (the others are split, not
// checked). With more than one core it decodes chunks of the object in
// parallel while the batches are evaluated; with one it decodes the next
// batch while the current one is evaluated.
func (s *Service) evaluateObject(ctx context.Context, dec *csvstream.Decoder, run *Run) error {
	if err := dec.Project(run.ev.ColumnsRead()); err != nil {
		return err
	}
	workers := s.decode.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers == 1 {
		return evaluateDecoded(ctx, dec, run)
	}
	opts := s.decode
	opts.Workers = workers
	return dec.DecodeParallel(ctx, opts, func(rec arrow.RecordBatch) error { return run.Add(ctx, rec) })
}

// evaluateDecoded feeds every batch of dec to run, decoding the next batch
// on another goroutine while the current one is evaluated.
func evaluateDecoded(ctx context.Context, dec *csvstream.Decoder, run *Run) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan arrow.RecordBatch, 2)
	decodeErr := make(chan error, 1)
	go func() {
		defer close(batches)
		for {
			rec, err := dec.Next(ctx)
			if errors.Is(err, io.EOF) {
				decodeErr <- nil
				return
			}
			if err != nil {
				decodeErr <- err
				return
			}
			select {
			case batches <- rec:
			case <-ctx.Done():
				rec.Release()
				decodeErr <- ctx.Err()
				return
			}
		}
	}()
	var evalErr error
	for rec := range batches {
		if evalErr == nil {
			if evalErr = run.Add(ctx, rec); evalErr != nil {
				cancel()
			}
		}
		rec.Release()
	}
	if evalErr != nil {
		return evalErr
	}
	return <-decodeErr
}

// ValidateDataset runs a suite over a snapshot of a dataset's table (the
// current one when snapshotID is 0) and records the result.
func (s *Service) ValidateDataset(ctx context.Context, suiteName, datasetID string, snapshotID int64) (*suite.Validation, error) {
	d, err := s.store.GetDataset(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	schema := tables.ArrowSchema(d)
	target := fmt.Sprintf("%s@%d", d.ID, snapshotID)
	run, err := s.Start(ctx, suiteName, d, target, nil, schema, dqdl.TargetDataset)
	if err != nil {
		return nil, err
	}
	read, err := s.tables.Read(ctx, d.ID, snapshotID, func(rec arrow.RecordBatch) error { return run.Add(ctx, rec) })
	if err != nil {
		run.Abort()
		return nil, err
	}
	run.record.Target = fmt.Sprintf("%s@%d", d.ID, read)
	v, _, err := run.Finish(ctx, "")
	return v, err
}

// Validation returns a recorded result.
func (s *Service) Validation(ctx context.Context, id string) (*suite.Validation, error) {
	return s.store.GetValidation(ctx, id)
}
