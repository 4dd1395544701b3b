package erasure

import (
	"context"
	"fmt"
	"time"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/job/jobpb"
	"github.com/lakeplane/lakeplane/internal/jobrun"
)

// Queue is what the handler needs to start jobs.
type Queue interface {
	CreateJob(ctx context.Context, j *job.Job) (*job.Job, bool, error)
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
}

// Handler serves the IngestService calls that start erasure and
// maintenance jobs: EraseSubjects, SeparateRecords, ExpireSnapshots and
// OptimizeDataset.
type Handler struct {
	queue  Queue
	queued func()
}

// NewHandler returns a Handler; queued, when set, wakes a worker.
func NewHandler(q Queue, queued func()) *Handler { return &Handler{queue: q, queued: queued} }

func (h *Handler) start(ctx context.Context, kind job.Kind, datasetID, requestID string, spec any) (*lakeplanev1.Job, error) {
	if datasetID != "" {
		if err := dataset.ValidateID(datasetID); err != nil {
			return nil, fault.Invalid("id", "%v", err)
		}
		if _, err := h.queue.GetDataset(ctx, datasetID); err != nil {
			return nil, err
		}
	}
	j, err := jobrun.Submit(ctx, h.queue, kind, datasetID, requestID, spec, h.queued)
	if err != nil {
		return nil, err
	}
	return jobpb.ToProto(j), nil
}

// EraseSubjects queues an ERASE job.
func (h *Handler) EraseSubjects(ctx context.Context, req *lakeplanev1.EraseSubjectsRequest) (*lakeplanev1.EraseSubjectsResponse, error) {
	spec := EraseSpec{SubjectIDs: req.GetSubjectIds(), Datasets: req.GetDatasets(), Reason: req.GetReason()}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	for i, id := range spec.Datasets {
		if err := dataset.ValidateID(id); err != nil {
			return nil, fault.Invalid(fmt.Sprintf("datasets[%d]", i), "%v", err)
		}
		if _, err := h.queue.GetDataset(ctx, id); err != nil {
			return nil, err
		}
	}
	j, err := h.start(ctx, job.Erase, "", req.GetRequestId(), spec)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.EraseSubjectsResponse{Job: j}, nil
}

// ExpireSnapshots queues an EXPIRE job.
func (h *Handler) ExpireSnapshots(ctx context.Context, req *lakeplanev1.ExpireSnapshotsRequest) (*lakeplanev1.ExpireSnapshotsResponse, error) {
	if req.GetRetainLast() < 0 {
		return nil, fault.Invalid("retainLast", "must not be negative")
	}
	spec := ExpireSpec{RetainLast: int(req.GetRetainLast())}
	if req.OlderThan != nil {
		spec.OlderThan = req.GetOlderThan().AsTime()
		if spec.OlderThan.After(time.Now().Add(time.Minute)) {
			return nil, fault.Invalid("olderThan", "is in the future")
		}
	}
	j, err := h.start(ctx, job.Expire, req.GetId(), req.GetRequestId(), spec)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.ExpireSnapshotsResponse{Job: j}, nil
}

// OptimizeDataset queues an OPTIMIZE job.
func (h *Handler) OptimizeDataset(ctx context.Context, req *lakeplanev1.OptimizeDatasetRequest) (*lakeplanev1.OptimizeDatasetResponse, error) {
	if req.GetTargetFileSizeBytes() < 0 {
		return nil, fault.Invalid("targetFileSizeBytes", "must not be negative")
	}
	j, err := h.start(ctx, job.Optimize, req.GetId(), req.GetRequestId(), OptimizeSpec{TargetFileSizeBytes: req.GetTargetFileSizeBytes()})
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.OptimizeDatasetResponse{Job: j}, nil
}
