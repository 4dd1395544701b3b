package ingest

import (
	"context"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset/datasetpb"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/job/jobpb"
	"github.com/lakeplane/lakeplane/internal/store"
)

// StartIngest implements lakeplanev1.IngestServiceServer.
func (h *Handler) StartIngest(ctx context.Context, req *lakeplanev1.StartIngestRequest) (*lakeplanev1.StartIngestResponse, error) {
	f := req.GetFormat()
	spec := IngestSpec{
		SourceURI: req.GetSourceUri(),
		Format: Format{
			Delimiter:       f.GetDelimiter(),
			Header:          f == nil || f.Header == nil || f.GetHeader(),
			Quote:           f.GetQuote(),
			Encoding:        datasetpb.EnumName[string](f.GetEncoding(), lakeplanev1.Encoding_ENCODING_UNSPECIFIED),
			NullValues:      f.GetNullValues(),
			DateFormat:      f.GetDateFormat(),
			TimestampFormat: f.GetTimestampFormat(),
		},
		Mode:         datasetpb.EnumName[Mode](req.GetMode(), lakeplanev1.IngestMode_INGEST_MODE_UNSPECIFIED),
		MaxBadRows:   req.GetMaxBadRows(),
		QualitySuite: req.GetQualitySuite(),
		Force:        req.GetForce(),
		DedupeLast:   req.GetDedupe() == lakeplanev1.StartIngestRequest_LAST,
	}
	j, err := h.svc.StartIngest(ctx, req.GetId(), req.GetRequestId(), spec)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.StartIngestResponse{Job: jobpb.ToProto(j)}, nil
}

// GetJob implements lakeplanev1.IngestServiceServer.
func (h *Handler) GetJob(ctx context.Context, req *lakeplanev1.GetJobRequest) (*lakeplanev1.GetJobResponse, error) {
	j, err := h.svc.GetJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.GetJobResponse{Job: jobpb.ToProto(j)}, nil
}

// ListJobs implements lakeplanev1.IngestServiceServer.
func (h *Handler) ListJobs(ctx context.Context, req *lakeplanev1.ListJobsRequest) (*lakeplanev1.ListJobsResponse, error) {
	page, err := h.svc.ListJobs(ctx, store.ListJobsOptions{
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
		Dataset:   req.GetDataset(),
		State:     datasetpb.EnumName[job.State](req.GetState(), lakeplanev1.JobState_JOB_STATE_UNSPECIFIED),
		Kind:      datasetpb.EnumName[job.Kind](req.GetKind(), lakeplanev1.JobKind_JOB_KIND_UNSPECIFIED),
	})
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListJobsResponse{NextPageToken: page.NextPageToken}
	for _, j := range page.Items {
		resp.Jobs = append(resp.Jobs, jobpb.ToProto(j))
	}
	return resp, nil
}

// CancelJob implements lakeplanev1.IngestServiceServer.
func (h *Handler) CancelJob(ctx context.Context, req *lakeplanev1.CancelJobRequest) (*lakeplanev1.CancelJobResponse, error) {
	j, err := h.svc.CancelJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CancelJobResponse{Job: jobpb.ToProto(j)}, nil
}

// WatchJob implements lakeplanev1.IngestServiceServer.
func (h *Handler) WatchJob(req *lakeplanev1.WatchJobRequest, stream lakeplanev1.IngestService_WatchJobServer) error {
	return h.svc.WatchJob(stream.Context(), req.GetId(), func(j *job.Job) error {
		return stream.Send(&lakeplanev1.WatchJobResponse{Job: jobpb.ToProto(j)})
	})
}
