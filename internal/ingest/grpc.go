package ingest

import (
	"context"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset/datasetpb"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Handler serves IngestService over gRPC: datasets, loads and their jobs.
// The server answers EraseSubjects, SeparateRecords, ExpireSnapshots and
// OptimizeDataset with package erasure's handler.
type Handler struct {
	lakeplanev1.UnimplementedIngestServiceServer
	svc *Service
}

var _ lakeplanev1.IngestServiceServer = (*Handler)(nil)

// NewHandler returns a Handler over a Service.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// CreateDataset implements lakeplanev1.IngestServiceServer.
func (h *Handler) CreateDataset(ctx context.Context, req *lakeplanev1.CreateDatasetRequest) (*lakeplanev1.CreateDatasetResponse, error) {
	if req.GetDataset() == nil {
		return nil, fault.Invalid("dataset", "is required")
	}
	d, err := h.svc.CreateDataset(ctx, datasetpb.FromProto(req.GetDataset()))
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CreateDatasetResponse{Dataset: datasetpb.ToProto(d)}, nil
}

// GetDataset implements lakeplanev1.IngestServiceServer.
func (h *Handler) GetDataset(ctx context.Context, req *lakeplanev1.GetDatasetRequest) (*lakeplanev1.GetDatasetResponse, error) {
	d, err := h.svc.GetDataset(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	stats, err := h.svc.TableStats(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	if len(d.PartitionBy) == 0 {
		// The layout the table was given by default (see
		// tables.WithSubjectKeyBuckets).
		d.PartitionBy = stats.PartitionBy
	}
	p := datasetpb.ToProto(d)
	p.CurrentSnapshotId, p.RowCount, p.FileCount, p.SizeBytes = stats.CurrentSnapshotID, stats.RowCount, stats.FileCount, stats.SizeBytes
	return &lakeplanev1.GetDatasetResponse{Dataset: p}, nil
}

// ListDatasets implements lakeplanev1.IngestServiceServer.
func (h *Handler) ListDatasets(ctx context.Context, req *lakeplanev1.ListDatasetsRequest) (*lakeplanev1.ListDatasetsResponse, error) {
	page, err := h.svc.ListDatasets(ctx, int(req.GetPageSize()), req.GetPageToken(), req.GetNamespace())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListDatasetsResponse{NextPageToken: page.NextPageToken}
	for _, d := range page.Items {
		resp.Datasets = append(resp.Datasets, datasetpb.ToProto(d))
	}
	return resp, nil
}

// UpdateDataset implements lakeplanev1.IngestServiceServer.
func (h *Handler) UpdateDataset(ctx context.Context, req *lakeplanev1.UpdateDatasetRequest) (*lakeplanev1.UpdateDatasetResponse, error) {
	if req.GetDataset() == nil {
		return nil, fault.Invalid("dataset", "is required")
	}
	d, err := h.svc.UpdateDataset(ctx, datasetpb.FromProto(req.GetDataset()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.UpdateDatasetResponse{Dataset: datasetpb.ToProto(d)}, nil
}

// DeleteDataset implements lakeplanev1.IngestServiceServer.
func (h *Handler) DeleteDataset(ctx context.Context, req *lakeplanev1.DeleteDatasetRequest) (*lakeplanev1.DeleteDatasetResponse, error) {
	if err := h.svc.DeleteDataset(ctx, req.GetId(), req.GetEtag(), req.GetPurge()); err != nil {
		return nil, err
	}
	return &lakeplanev1.DeleteDatasetResponse{}, nil
}
