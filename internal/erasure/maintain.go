package erasure

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// Phases of EXPIRE and OPTIMIZE jobs.
const (
	PhaseOptimizing = "OPTIMIZING"
)

// ExpireResult is the Result of an EXPIRE job.
type ExpireResult struct {
	SnapshotsExpired     int64 `json:"snapshotsExpired"`
	DataFilesRemoved     int64 `json:"dataFilesRemoved"`
	ManifestsRemoved     int64 `json:"manifestsRemoved"`
	ManifestListsRemoved int64 `json:"manifestListsRemoved"`
	MetadataFilesRemoved int64 `json:"metadataFilesRemoved"`
	FilesRemoved         int64 `json:"filesRemoved"`
	BytesRemoved         int64 `json:"bytesRemoved"`
}

// OptimizeResult is the Result of an OPTIMIZE job.
type OptimizeResult struct {
	FilesBefore    int64 `json:"filesBefore"`
	FilesAfter     int64 `json:"filesAfter"`
	FilesRewritten int64 `json:"filesRewritten"`
	FilesWritten   int64 `json:"filesWritten"`
	BytesRewritten int64 `json:"bytesRewritten"`
	Rows           int64 `json:"rows"`
}

// Expire is the jobrun.Executor of EXPIRE jobs on j.Dataset: it expires the
// snapshots older than the spec's olderThan (now when unset) beyond the
// retainLast newest, and removes the files only they reached.
func (r *Runner) Expire(ctx context.Context, j *job.Job, progress *jobrun.Progress) (jobrun.Outcome, error) {
	var spec ExpireSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return jobrun.Outcome{}, fmt.Errorf("job %s: unreadable spec: %w", j.ID, err)
	}
	if j.Dataset == "" {
		return jobrun.Outcome{}, fault.Invalid("dataset", "is required")
	}
	if spec.RetainLast < 0 {
		return jobrun.Outcome{}, fault.Invalid("retainLast", "must not be negative")
	}
	if spec.OlderThan.IsZero() {
		spec.OlderThan = time.Now()
	}
	progress.SetPhase(PhaseExpiring)
	st, err := r.Tables.Expire(ctx, j.Dataset, spec.OlderThan, max(spec.RetainLast, 1))
	if err != nil {
		return jobrun.Outcome{}, err
	}
	body, err := json.Marshal(ExpireResult{
		SnapshotsExpired: st.SnapshotsExpired, DataFilesRemoved: st.DataFilesRemoved, ManifestsRemoved: st.ManifestsRemoved,
		ManifestListsRemoved: st.ManifestListsRemoved, MetadataFilesRemoved: st.MetadataFilesRemoved,
		FilesRemoved: st.FilesRemoved, BytesRemoved: st.BytesRemoved,
	})
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("expire result: %w", err)
	}
	return jobrun.Outcome{SnapshotID: st.SnapshotID, Result: body}, nil
}

// Optimize is the jobrun.Executor of OPTIMIZE jobs on j.Dataset: it packs
// the small data files into files of the spec's target size (the runner's
// TargetFileSize, else tables.DefaultOptimizeTargetFileSize, when unset).
func (r *Runner) Optimize(ctx context.Context, j *job.Job, progress *jobrun.Progress) (jobrun.Outcome, error) {
	var spec OptimizeSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return jobrun.Outcome{}, fmt.Errorf("job %s: unreadable spec: %w", j.ID, err)
	}
	if j.Dataset == "" {
		return jobrun.Outcome{}, fault.Invalid("dataset", "is required")
	}
	if spec.TargetFileSizeBytes < 0 {
		return jobrun.Outcome{}, fault.Invalid("targetFileSizeBytes", "must not be negative")
	}
	target := spec.TargetFileSizeBytes
	if target == 0 {
		target = r.TargetFileSize
	}
	if target == 0 {
		target = tables.DefaultOptimizeTargetFileSize
	}
	progress.SetPhase(PhaseOptimizing)
	st, err := r.Tables.Optimize(ctx, j.Dataset, target)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	progress.Update(func(p *job.Progress) { p.RowsRead, p.RowsWritten = st.Rows, st.Rows })
	body, err := json.Marshal(OptimizeResult{
		FilesBefore: st.FilesBefore, FilesAfter: st.FilesAfter, FilesRewritten: st.FilesRewritten,
		FilesWritten: st.FilesWritten, BytesRewritten: st.BytesRewritten, Rows: st.Rows,
	})
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("optimize result: %w", err)
	}
	return jobrun.Outcome{SnapshotID: st.SnapshotID, Result: body}, nil
}
