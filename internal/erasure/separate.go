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
	// Column and Before, when Column is set, replace the retention rule:
	// the rows whose DATE or TIMESTAMP column is before Before move.
	Column string    `json:"column,omitempty"`
	Before time.Time `json:"before,omitzero"`
}

// cutoff is the condition of a separation of d.
func (s *SeparateSpec) cutoff(d *dataset.Dataset) (tables.Before, error) {
	if s.Column != "" {
		if s.Before.IsZero() {
			return tables.Before{}, fault.Invalid("before", "is required with column")
		}
		return tables.Before{Column: s.Column, Time: s.Before}, nil
	}
	r := d.Retention
	if r.SeparateAfterColumn == "" {
		return tables.Before{}, fault.Precondition("dataset %s has no retention.separateAfterColumn: nothing says which rows to separate", d.ID)
	}
	asOf := s.AsOf
	if asOf.IsZero() {
		return tables.Before{}, fault.Invalid("asOf", "is required")
	}
	return tables.Before{Column: r.SeparateAfterColumn, Time: asOf.AddDate(0, 0, -r.SeparateAfterDays)}, nil
}

// SeparateResult is the Result of a SEPARATE job: what moved where, and
// the proof, as an erasure certificate gives it, that the rows left the
// source dataset.
type SeparateResult struct {
	TargetDataset string    `json:"targetDataset"`
	Column        string    `json:"column"`
	Before        time.Time `json:"before"`
	RowsMoved     int64     `json:"rowsMoved"`
	// CopySnapshotID is the separated dataset's snapshot that holds the
	// copy; CopyResumed is true when an earlier run of the job made it.
	CopySnapshotID int64 `json:"copySnapshotId"`
	CopyResumed    bool  `json:"copyResumed,omitempty"`
	DatasetCertificate
}

// Separate is the jobrun.Executor of SEPARATE jobs on j.Dataset. It copies
// the rows the retention rule (or the spec's condition) selects into the
// separated dataset (made on first use: grade 1, the source's subject key
// and all of its columns) in one commit tagged with the job's id, then
// deletes them from the source — rewriting only the data files that hold
// them, and only those the copy read — expires every older snapshot and
// verifies that no file of the source still holds such a row.
//
// It runs exactly once across a crash between the copy and the delete: run
// again, it finds the tagged copy, does not copy again, and deletes the
// rows of the source snapshot the copy read (when that snapshot is gone,
// an earlier run got past the delete and expiry, or another expiry ran
// first: the delete is skipped, and the verification tells which). Rows
// added to the source after the copy, or in files another writer rewrote
// meanwhile, stay there for a later separation.
//
// The Result is a SeparateResult. The API shows it only as the job's
// progress (rowsWritten: the rows moved) and snapshot id: jobpb renders a
// certificate for ERASE jobs only.
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
	cond, err := spec.cutoff(src)
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
	if err := r.ensureSeparated(ctx, src, target); err != nil {
		return jobrun.Outcome{}, err
	}
	res := SeparateResult{TargetDataset: target, Column: cond.Column, Before: cond.Time.UTC()}
	res.Dataset = src.ID
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

	progress.SetPhase(PhaseDeleting)
	held, err := r.holdsSnapshot(ctx, src.ID, within)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	// A source snapshot gone means an earlier run deleted and expired
	// (or another expiry ran first): the verification below tells.
	if held {
		del, err := r.Tables.DeleteBefore(ctx, src.ID, cond, within)
		if err != nil {
			return jobrun.Outcome{}, err
		}
		res.RowsDeleted, res.FilesRewritten, res.BytesRewritten = del.RowsDeleted, del.FilesRewritten, del.BytesRewritten
	}
	progress.SetPhase(PhaseExpiring)
	// As in an erasure: every snapshot but the current one goes.
	ex, err := r.Tables.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	res.SnapshotsExpired, res.FilesRemoved = ex.SnapshotsExpired, ex.FilesRemoved
	progress.SetPhase(PhaseVerifying)
	rep, err := r.Tables.VerifyNoneBefore(ctx, src.ID, cond)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	res.FilesScanned, res.Verified, res.VerifyTime = rep.FilesScanned, rep.Verified, rep.Time
	progress.Update(func(p *job.Progress) { p.BytesRead += rep.BytesScanned })
	body, err := json.Marshal(res)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("separation result: %w", err)
	}
	outcome := jobrun.Outcome{SnapshotID: ex.SnapshotID, Result: body}
	if !res.Verified {
		return outcome, fmt.Errorf("separation not verified: %d files under %s still hold rows with %s before %s", len(rep.Findings), rep.Location, cond.Column, res.Before.Format(time.RFC3339))
	}
	return outcome, nil
}

// copyOnce copies the rows into target unless an earlier run of job j
// did, fills in res, and returns the source snapshot the copy read.
func (r *Runner) copyOnce(ctx context.Context, j *job.Job, src, target string, cond tables.Before, res *SeparateResult) (int64, error) {
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
	cp, err := r.Tables.CopyBefore(ctx, src, target, cond, map[string]string{tables.PropJobID: j.ID})
	if err != nil {
		return 0, err
	}
	res.RowsMoved, res.CopySnapshotID = cp.Rows, cp.SnapshotID
	if cp.Rows == 0 {
		// Nothing was committed, so nothing tags the job: the delete
		// that follows finds no matching row of that snapshot either.
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
// its table) unless it exists.
func (r *Runner) ensureSeparated(ctx context.Context, src *dataset.Dataset, id string) error {
	if err := dataset.ValidateID(id); err != nil {
		return fault.Invalid("targetDataset", "%v", err)
	}
	d, err := r.Store.GetDataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		d, err = r.Store.CreateDataset(ctx, separatedDataset(src, id))
		if errors.Is(err, store.ErrAlreadyExists) {
			d, err = r.Store.GetDataset(ctx, id)
		}
	}
	if err != nil {
		return fmt.Errorf("separated dataset %s: %w", id, err)
	}
	// The record may have been made by a run that died before the table.
	err = r.Tables.Create(ctx, d)
	switch {
	case errors.Is(err, tables.ErrAlreadyExists):
		return nil
	case err != nil:
		return fmt.Errorf("separated dataset %s: %w", id, err)
	}
	if r.DatasetChanged != nil {
		if err := r.DatasetChanged(ctx, id); err != nil {
			return fmt.Errorf("separated dataset %s made, but the access index did not follow: %w", id, err)
		}
	}
	return nil
}

// separatedDataset is the dataset made to receive src's separated rows:
// grade 1, src's subject key, every column of src, and a retention rule
// that keeps src's destroyAfterDays (for the retention sweep's erasures).
func separatedDataset(src *dataset.Dataset, id string) *dataset.Dataset {
	d := src.Clone()
	d.ID = id
	d.Description = "Rows separated from " + src.ID + " (분리)."
	d.Grade = 1
	d.QualitySuite = ""
	d.Retention = dataset.Retention{SeparateAfterColumn: src.Retention.SeparateAfterColumn, DestroyAfterDays: src.Retention.DestroyAfterDays}
	d.Etag, d.CreateTime, d.UpdateTime = "", time.Time{}, time.Time{}
	return d
}

// SeparateRecords queues a SEPARATE job.
func (h *Handler) SeparateRecords(ctx context.Context, req *lakeplanev1.SeparateRecordsRequest) (*lakeplanev1.SeparateRecordsResponse, error) {
	if err := dataset.ValidateID(req.GetId()); err != nil {
		return nil, fault.Invalid("id", "%v", err)
	}
	d, err := h.queue.GetDataset(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if d.Retention.SeparateAfterColumn == "" {
		return nil, fault.Precondition("dataset %s has no retention.separateAfterColumn: nothing says which rows to separate", d.ID)
	}
	spec := SeparateSpec{TargetDataset: req.GetTargetDataset(), AsOf: time.Now().UTC()}
	if req.AsOf != nil {
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
