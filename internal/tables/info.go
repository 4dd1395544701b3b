package tables

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Stats describes the current snapshot of a table, and its partitioning.
// A table without snapshots has all figures zero.
type Stats struct {
	CurrentSnapshotID int64
	RowCount          int64
	FileCount         int64
	SizeBytes         int64
	// PartitionBy is the table's partitioning (its current spec): the
	// dataset's own, or the buckets of its subject key that Create chose
	// for a dataset that named none (see WithSubjectKeyBuckets).
	PartitionBy []dataset.PartitionField
}

// Stats reads the current snapshot's summary (total-records,
// total-data-files, total-files-size) and the partition spec of the table
// of dataset id.
func (c *Catalog) Stats(ctx context.Context, id string) (Stats, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{PartitionBy: partitionFields(tbl.Schema(), tbl.Spec())}
	if s := tbl.CurrentSnapshot(); s != nil {
		st.CurrentSnapshotID = s.SnapshotID
		st.RowCount = summaryInt(s, "total-records")
		st.FileCount = summaryInt(s, "total-data-files")
		st.SizeBytes = summaryInt(s, "total-files-size")
	}
	return st, nil
}

// Snapshot is one snapshot of a table.
type Snapshot struct {
	ID          int64
	ParentID    int64 // 0 for the first snapshot
	Time        time.Time
	Operation   string // append, overwrite, delete, replace
	AddedRows   int64
	DeletedRows int64
	// Properties is the whole snapshot summary, including what the writer
	// passed to Write (such as "lakeplane.job-id").
	Properties map[string]string
}

// Snapshots lists the snapshots of the table of dataset id, newest first.
func (c *Catalog) Snapshots(ctx context.Context, id string) ([]Snapshot, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	snaps := tbl.Metadata().Snapshots()
	out := make([]Snapshot, 0, len(snaps))
	for i := range snaps {
		s := &snaps[i]
		snap := Snapshot{
			ID:          s.SnapshotID,
			Time:        time.UnixMilli(s.TimestampMs).UTC(),
			AddedRows:   summaryInt(s, "added-records"),
			DeletedRows: summaryInt(s, "deleted-records"),
		}
		if s.ParentSnapshotID != nil {
			snap.ParentID = *s.ParentSnapshotID
		}
		if s.Summary != nil {
			snap.Operation = string(s.Summary.Operation)
			snap.Properties = maps.Clone(map[string]string(s.Summary.Properties))
		}
		out = append(out, snap)
	}
	// Sequence numbers order the snapshots of a v2 table; the time breaks
	// ties between snapshots that carry none.
	seq := make(map[int64]int64, len(snaps))
	for _, s := range snaps {
		seq[s.SnapshotID] = s.SequenceNumber
	}
	slices.SortStableFunc(out, func(a, b Snapshot) int {
		if seq[a.ID] != seq[b.ID] {
			return cmp.Compare(seq[b.ID], seq[a.ID])
		}
		return b.Time.Compare(a.Time)
	})
	return out, nil
}

// MaxPreviewRows is the most rows Preview returns.
const MaxPreviewRows = 10000

// Preview returns the first limit rows (at most MaxPreviewRows) of the
// current snapshot of the table of dataset id, as one record batch with the
// table's Arrow schema; reading stops once it has them. The caller releases
// the batch.
func (c *Catalog) Preview(ctx context.Context, id string, limit int) (arrow.RecordBatch, error) {
	if limit < 1 || limit > MaxPreviewRows {
		return nil, fault.Invalid("limit", "must be 1-%d", MaxPreviewRows)
	}
	tbl, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	schema, records, err := tbl.Scan(table.WithLimit(int64(limit))).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: preview: %w", id, err)
	}
	var (
		batches []arrow.RecordBatch
		rows    int64
	)
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for rec, err := range records {
		if err != nil {
			return nil, fmt.Errorf("dataset %s: preview: %w", id, err)
		}
		if take := int64(limit) - rows; rec.NumRows() > take {
			sliced := rec.NewSlice(0, take)
			rec.Release()
			rec = sliced
		}
		batches = append(batches, rec)
		rows += rec.NumRows()
		if rows >= int64(limit) {
			break
		}
	}
	return concatBatches(schema, batches)
}

// concatBatches joins batches of one schema into one batch.
func concatBatches(schema *arrow.Schema, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i := range cols {
		parts := make([]arrow.Array, len(batches))
		for j, b := range batches {
			parts[j] = b.Column(i)
		}
		if len(parts) == 0 {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(i).Type, 0)
			continue
		}
		a, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			return nil, fmt.Errorf("preview: %w", err)
		}
		cols[i] = a
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

// Read streams every row of a snapshot of the table of dataset id (the
// current one when snapshotID is 0) to fn, batch by batch, until fn returns
// an error or the rows end. It returns the snapshot read. fn must not keep a
// batch after it returns.
func (c *Catalog) Read(ctx context.Context, id string, snapshotID int64, fn func(arrow.RecordBatch) error) (int64, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	var opts []table.ScanOption
	if snapshotID != 0 {
		if tbl.SnapshotByID(snapshotID) == nil {
			return 0, fault.Invalid("snapshotId", "dataset %s has no snapshot %d", id, snapshotID)
		}
		opts = append(opts, table.WithSnapshotID(snapshotID))
	} else if cur := tbl.CurrentSnapshot(); cur != nil {
		snapshotID = cur.SnapshotID
	}
	_, records, err := tbl.Scan(opts...).ToArrowRecords(ctx)
	if err != nil {
		return 0, fmt.Errorf("dataset %s: read snapshot %d: %w", id, snapshotID, err)
	}
	for rec, err := range records {
		if err != nil {
			return 0, fmt.Errorf("dataset %s: read snapshot %d: %w", id, snapshotID, err)
		}
		ferr := fn(rec)
		rec.Release()
		if ferr != nil {
			return snapshotID, ferr
		}
	}
	return snapshotID, nil
}
