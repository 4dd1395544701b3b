package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/paging"
)

// ListSnapshots implements lakeplanev1.IngestServiceServer. The history is
// short enough (expiry keeps it so) to page in memory.
func (h *Handler) ListSnapshots(ctx context.Context, req *lakeplanev1.ListSnapshotsRequest) (*lakeplanev1.ListSnapshotsResponse, error) {
	snaps, err := h.svc.Snapshots(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	start, end, next, err := paging.Bounds(len(snaps), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListSnapshotsResponse{NextPageToken: next}
	for _, s := range snaps[start:end] {
		resp.Snapshots = append(resp.Snapshots, &lakeplanev1.Snapshot{
			Id:          s.ID,
			Time:        timestamppb.New(s.Time),
			Operation:   s.Operation,
			AddedRows:   s.AddedRows,
			DeletedRows: s.DeletedRows,
			ParentId:    s.ParentID,
			JobId:       s.Properties["lakeplane.job-id"],
		})
	}
	return resp, nil
}

// PreviewRows implements lakeplanev1.IngestServiceServer.
func (h *Handler) PreviewRows(ctx context.Context, req *lakeplanev1.PreviewRowsRequest) (*lakeplanev1.PreviewRowsResponse, error) {
	d, rec, err := h.svc.Preview(ctx, req.GetId(), int(req.GetLimit()))
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.PreviewRowsResponse{}
	for _, c := range d.Columns {
		resp.Columns = append(resp.Columns, c.Name)
	}
	if rec == nil {
		return resp, nil
	}
	defer rec.Release()
	cols := make([]arrow.Array, len(d.Columns))
	for i, c := range d.Columns {
		idx := rec.Schema().FieldIndices(c.Name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("preview of %s has no column %q", d.ID, c.Name)
		}
		cols[i] = rec.Column(idx[0])
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		values := make([]*structpb.Value, len(cols))
		for i, col := range cols {
			values[i] = cellValue(col, row)
		}
		resp.Rows = append(resp.Rows, &structpb.ListValue{Values: values})
	}
	return resp, nil
}

// cellValue renders one value as the API shows it: text, exact for
// decimals, ISO 8601 for dates and times, null for null.
func cellValue(a arrow.Array, row int) *structpb.Value {
	if a.IsNull(row) {
		return structpb.NewNullValue()
	}
	var s string
	switch col := a.(type) {
	case *array.String:
		s = col.Value(row)
	case *array.Boolean:
		s = strconv.FormatBool(col.Value(row))
	case *array.Int32:
		s = strconv.FormatInt(int64(col.Value(row)), 10)
	case *array.Int64:
		s = strconv.FormatInt(col.Value(row), 10)
	case *array.Float64:
		s = strconv.FormatFloat(col.Value(row), 'g', -1, 64)
	case *array.Decimal128:
		s = col.Value(row).ToString(col.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Date32:
		s = col.Value(row).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		unit := col.DataType().(*arrow.TimestampType).Unit
		s = col.Value(row).ToTime(unit).UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	default:
		s = a.ValueStr(row)
	}
	return structpb.NewStringValue(s)
}
