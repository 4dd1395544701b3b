package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// PhaseCopying is the phase of a SEPARATE job that copies the rows into
// the separated dataset; DELETING, EXPIRING and VERIFYING follow, as in an
// ERASE job.
const PhaseCopying = "COPYING"

// SeparatedSuffix ends the namespace of a separated dataset: the rows of
// "credit.loans" are separated into "credit_separated.loans".
const SeparatedSuffix = "_separated"

// SeparatedID is the default separated dataset of dataset id.
func SeparatedID(id string) string {
	ns, name, _ := dataset.SplitID(id)
	return ns + SeparatedSuffix + "." + name
}

// SeparateSpec is the spec of a SEPARATE job.
type SeparateSpec struct {
	// TargetDataset receives the rows; SeparatedID of the job's dataset
	// when empty.
	TargetDataset string `json:"targetDataset,omitempty"`
	// AsOf is fixed when the job is queued, so that a job run again moves
	// the same rows: those whose retention column is before AsOf less the
	// dataset's separateAfterDays.
	AsOf time.Time `json:"asOf"`
	// Condition, when set, replaces the retention rule: the rows it
	// selects move. Its value is canonical (see tables.Condition), so that
	// a job run again selects exactly the rows the first run did.
	Condition *tables.Condition `json:"condition,omitempty"`
}

// condition is the condition of a separation of d: the spec's, or the
// retention rule's "separateAfterColumn LESS AsOf - separateAfterDays".
func (s *SeparateSpec) condition(d *dataset.Dataset) (tables.Condition, error) {
	if s.Condition != nil {
		if err := tables.ValidateCondition(d, *s.Condition); err != nil {
			return tables.Condition{}, err
		}
		return *s.Condition, nil
	}
	r := d.Retention
	if r.SeparateAfterColumn == "" {
		return tables.Condition{}, fault.Precondition("dataset %s has no retention.separateAfterColumn and the request no condition: nothing says which rows to separate", d.ID)
	}
	if s.AsOf.IsZero() {
		return tables.Condition{}, fault.Invalid("asOf", "is required")
	}
	col := d.Column(r.SeparateAfterColumn)
	if col == nil {
		return tables.Condition{}, fault.Precondition("dataset %s has no column %q, its retention.separateAfterColumn", d.ID, r.SeparateAfterColumn)
	}
	return tables.CutoffCondition(*col, s.AsOf.AddDate(0, 0, -r.SeparateAfterDays))
}

// SeparateResult is the Result of a SEPARATE job: what moved where, and
// the proof, as an erasure certificate gives it, that the moved rows left
// the source dataset. Its JSON field names are those of the proto
// SeparationResult (plus copyResumed, which the proto does not carry).
type SeparateResult struct {
	TargetDataset string           `json:"targetDataset"`
	Condition     tables.Condition `json:"condition"`
	RowsMoved     int64            `json:"rowsMoved"`
	// RowsFoundSeparated counts the rows of RowsMoved that the separated
	// dataset held already, so that they were not copied again: the copy
	// of an earlier run of the job whose snapshot was expired since.
	RowsFoundSeparated int64 `json:"rowsFoundSeparated,omitempty"`
	// CopySnapshotID is the separated dataset's snapshot that holds the
	// copy (0: no row matched); CopyResumed is true when an earlier run of
	// the job made it.
	CopySnapshotID int64 `json:"copySnapshotId"`
	CopyResumed    bool  `json:"copyResumed,omitempty"`
	// Columns are the separated dataset's columns, which the copy kept.
	Columns []string `json:"columns"`
	// Certificate is the erasure of the moved rows from the source: one
	// dataset, and SubjectCount the distinct subjects moved (0 when the
	// source has no subject key).
	Certificate Certificate `json:"certificate"`
}

// Separate is the jobrun.Executor of SEPARATE jobs on j.Dataset. It copies
// the rows the spec's condition (or the retention rule) selects into the
// separated dataset (made on first use: grade 1, the source's subject key,
// and the columns separatedColumns keeps) in one commit tagged with the
// job's id, then deletes them from the source — rewriting only the data
// files that hold them, and only those the copy read — expires every older
// snapshot and verifies that no file under the source's location still
// holds a moved row (tables.VerifySeparated).
//
// It runs exactly once across a crash between the copy and the delete: run
// again, it finds the tagged copy, does not copy again, and deletes the
// rows of the source snapshot the copy read (when that snapshot is gone,
// an earlier run got past the delete and expiry, or another expiry ran
// first: the delete is skipped, and the verification tells which). When
// the tagged copy's snapshot was expired in the meantime, the copy runs
// again but skips every row the separated dataset holds already, and the
// verification looks for every separated row that matches the condition.
// Rows added to the source after the copy, or in files another writer
// rewrote meanwhile, stay there for a later separation.
//
// The source side is an erasure's (see erase): old object versions, the
// moved subjects' rejected rows and validation samples go too, the load
// sources are listed, and the store's remnants are purged.
//
// The Result is a SeparateResult, which the API shows as the job's
// separation (see jobpb).
func (r *Runner) Separate(ctx context.Context, j *job.Job, progress *jobrun.Progress) (jobrun.Outcome, error) {
	var spec SeparateSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return jobrun.Outcome{}, fmt.Errorf("job %s: unreadable spec: %w", j.ID, err)
	}
	if j.Dataset == "" {
		return jobrun.Outcome{}, fault.Invalid("dataset", "is required")
	}
	src, err := r.Store.GetDataset(ctx, j.Dataset)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("dataset %s: %w", j.Dataset, err)
	}
	cond, err := spec.condition(src)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	target := spec.TargetDataset
	if target == "" {
		target = SeparatedID(src.ID)
	}
	if target == src.ID {
		return jobrun.Outcome{}, fault.Invalid("targetDataset", "is the dataset itself")
	}
	progress.SetPhase(PhaseCopying)
	dst, err := r.ensureSeparated(ctx, src, target, cond)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	res := SeparateResult{TargetDataset: target, Condition: cond, Columns: columnNames(dst)}
	within, err := r.copyOnce(ctx, j, src.ID, target, cond, &res)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	progress.Update(func(p *job.Progress) { p.RowsRead, p.RowsWritten = res.RowsMoved, res.RowsMoved })
	if r.AfterCopy != nil {
		if err := r.AfterCopy(ctx, j); err != nil {
			return jobrun.Outcome{}, fmt.Errorf("dataset %s: after the copy into %s: %w", src.ID, target, err)
		}
	}
	snaps, err := r.erase(ctx, progress, []removal{r.separation(src, cond, within, &res)}, &res.Certificate)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	body, err := json.Marshal(res)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("separation result: %w", err)
	}
	outcome := jobrun.Outcome{SnapshotID: snaps[0], Result: body}
	if err := r.purge(ctx); err != nil {
		return outcome, err
	}
	if !res.Certificate.Verified {
		return outcome, fmt.Errorf("separation not verified: files under the location of dataset %s still hold rows moved to %s (%s)", src.ID, res.TargetDataset, cond)
	}
	return outcome, nil
}

// separation is the removal from src of the rows that the copy res
// describes moved: the rows of its snapshot within that match cond
// (unless that snapshot is gone), verified gone by tables.VerifySeparated,
// and the subjects none of whose rows stay in src removed from its rejects
// and the validation samples as an erasure removes them.
// res.Certificate.SubjectCount is set by its verify step.
func (r *Runner) separation(src *dataset.Dataset, cond tables.Condition, within int64, res *SeparateResult) removal {
	key := separationKey(src)
	return removal{
		d: src,
		del: func(ctx context.Context) (tables.DeleteStats, error) {
			held, err := r.holdsSnapshot(ctx, src.ID, within)
			// A source snapshot gone means an earlier run deleted and
			// expired (or another expiry ran first): the verification
			// tells.
			if err != nil || !held {
				return tables.DeleteStats{}, err
			}
			return r.Tables.DeleteMatching(ctx, src.ID, cond, within)
		},
		verify: func(ctx context.Context) (tables.VerifyReport, []string, error) {
			moved := tables.Separated{Target: res.TargetDataset, CopySnapshotID: res.CopySnapshotID, KeyColumn: key}
			if res.RowsFoundSeparated > 0 {
				// Some of the rows were there already (an earlier run's
				// copy, whose snapshot is gone): the moved rows are
				// named by the condition.
				moved.CopySnapshotID, moved.Condition = 0, &cond
			}
			rep, err := r.Tables.VerifySeparated(ctx, src.ID, moved)
			if err != nil || key == "" || key != src.SubjectKey {
				return rep.VerifyReport, nil, err
			}
			res.Certificate.SubjectCount = rep.KeyValues
			return rep.VerifyReport, rep.KeysGone, nil
		},
	}
}

// separationKey is the column whose moved values the verification also
// searches for byte for byte: the subject key, else a one-column primary
// key, else none (the moved rows are still looked for, whole).
func separationKey(d *dataset.Dataset) string {
	switch {
	case d.SubjectKey != "":
		return d.SubjectKey
	case len(d.PrimaryKey) == 1:
		return d.PrimaryKey[0]
	}
	return ""
}

// copyOnce copies the rows into target unless an earlier run of job j
// did, fills in res, and returns the source snapshot the copy read. The
// earlier run's copy is found by its snapshot, tagged with j's id; when
// that snapshot was expired since, the copy skips the rows the target
// holds already (see tables.CopyOptions.SkipPresent), and those count as
// moved. A job's first attempt has no earlier copy to find, and skips
// nothing: the check reads the target's matching rows.
func (r *Runner) copyOnce(ctx context.Context, j *job.Job, src, target string, cond tables.Condition, res *SeparateResult) (int64, error) {
	snaps, err := r.Tables.Snapshots(ctx, target)
	if err != nil {
		return 0, fmt.Errorf("separated dataset %s: %w", target, err)
	}
	for _, s := range snaps {
		if s.Properties[tables.PropJobID] != j.ID {
			continue
		}
		within, err := strconv.ParseInt(s.Properties[tables.PropSourceSnapshot], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("separated dataset %s: snapshot %d of job %s names no source snapshot: %w", target, s.ID, j.ID, err)
		}
		res.RowsMoved, res.CopySnapshotID, res.CopyResumed = s.AddedRows, s.ID, true
		return within, nil
	}
	cp, err := r.Tables.CopyMatching(ctx, src, target, cond, tables.CopyOptions{
		Props:       map[string]string{tables.PropJobID: j.ID},
		SkipPresent: j.Attempt != 1,
	})
	if err != nil {
		return 0, err
	}
	res.RowsMoved, res.RowsFoundSeparated, res.CopySnapshotID = cp.Rows+cp.RowsPresent, cp.RowsPresent, cp.SnapshotID
	if cp.Rows == 0 {
		// Nothing was committed, so nothing tags the job: the delete
		// that follows finds no matching row of that snapshot either,
		// but for those the target held already.
		res.CopySnapshotID = 0
	}
	return cp.SourceSnapshotID, nil
}

// holdsSnapshot reports whether the table of dataset id still has
// snapshot snap (0: the table had none, which it holds).
func (r *Runner) holdsSnapshot(ctx context.Context, id string, snap int64) (bool, error) {
	if snap == 0 {
		return true, nil
	}
	snaps, err := r.Tables.Snapshots(ctx, id)
	if err != nil {
		return false, fmt.Errorf("dataset %s: %w", id, err)
	}
	return slices.ContainsFunc(snaps, func(s tables.Snapshot) bool { return s.ID == snap }), nil
}

// ensureSeparated makes the separated dataset id of src (its record and
// its table) unless it exists, and returns its record. A separated dataset
// that exists must have every column separatedColumns keeps for cond.
func (r *Runner) ensureSeparated(ctx context.Context, src *dataset.Dataset, id string, cond tables.Condition) (*dataset.Dataset, error) {
	if err := dataset.ValidateID(id); err != nil {
		return nil, fault.Invalid("targetDataset", "%v", err)
	}
	d, err := r.Store.GetDataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		d, err = r.Store.CreateDataset(ctx, separatedDataset(src, id, cond))
		if errors.Is(err, store.ErrAlreadyExists) {
			d, err = r.Store.GetDataset(ctx, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("separated dataset %s: %w", id, err)
	}
	if err := checkSeparatedColumns(src, d, cond); err != nil {
		return nil, err
	}
	// The record may have been made by a run that died before the table.
	err = r.Tables.Create(ctx, d)
	switch {
	case errors.Is(err, tables.ErrAlreadyExists):
		return d, nil
	case err != nil:
		return nil, fmt.Errorf("separated dataset %s: %w", id, err)
	}
	if r.DatasetChanged != nil {
		if err := r.DatasetChanged(ctx, id); err != nil {
			return nil, fmt.Errorf("separated dataset %s made, but the access index did not follow: %w", id, err)
		}
	}
	return d, nil
}

// separatedDataset is the dataset made to receive src's separated rows
// selected by cond: grade 1, src's subject key and primary key, only the
// columns separatedColumns keeps (and the partition fields on them), and a
// retention rule that keeps src's separateAfterColumn and destroyAfterDays
// (for the retention sweep's erasures).
func separatedDataset(src *dataset.Dataset, id string, cond tables.Condition) *dataset.Dataset {
	d := src.Clone()
	d.ID = id
	d.Description = "Rows separated from " + src.ID + " (분리)."
	d.Grade = 1
	d.QualitySuite = ""
	d.Retention = dataset.Retention{SeparateAfterColumn: src.Retention.SeparateAfterColumn, DestroyAfterDays: src.Retention.DestroyAfterDays}
	d.Columns = separatedColumns(src, cond)
	d.PartitionBy = slices.DeleteFunc(d.PartitionBy, func(p dataset.PartitionField) bool { return d.Column(p.Column) == nil })
	d.Etag, d.CreateTime, d.UpdateTime = "", time.Time{}, time.Time{}
	return d
}

// SeparateRecords queues a SEPARATE job: of the rows req.condition
// selects, or else of those the dataset's retention rule selects as of
// req.asOf (now when unset).
func (h *Handler) SeparateRecords(ctx context.Context, req *lakeplanev1.SeparateRecordsRequest) (*lakeplanev1.SeparateRecordsResponse, error) {
	if err := dataset.ValidateID(req.GetId()); err != nil {
		return nil, fault.Invalid("id", "%v", err)
	}
	d, err := h.queue.GetDataset(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	spec := SeparateSpec{TargetDataset: req.GetTargetDataset(), AsOf: time.Now().UTC()}
	switch {
	case req.Condition != nil && req.AsOf != nil:
		return nil, fault.Invalid("asOf", "applies to the retention rule, which a condition replaces: give one or the other")
	case req.Condition != nil:
		cond, err := rowCondition(d, req.GetCondition())
		if err != nil {
			return nil, err
		}
		spec.Condition = &cond
	case d.Retention.SeparateAfterColumn == "":
		return nil, fault.Precondition("dataset %s has no retention.separateAfterColumn and the request no condition: nothing says which rows to separate", d.ID)
	case req.AsOf != nil:
		spec.AsOf = req.GetAsOf().AsTime()
		if spec.AsOf.After(time.Now().Add(time.Minute)) {
			return nil, fault.Invalid("asOf", "is in the future")
		}
	}
	if spec.TargetDataset != "" {
		if err := dataset.ValidateID(spec.TargetDataset); err != nil {
			return nil, fault.Invalid("targetDataset", "%v", err)
		}
		if spec.TargetDataset == d.ID {
			return nil, fault.Invalid("targetDataset", "is the dataset itself")
		}
	}
	j, err := h.start(ctx, job.Separate, d.ID, req.GetRequestId(), spec)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.SeparateRecordsResponse{Job: j}, nil
}
