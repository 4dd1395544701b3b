package tables

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// DefaultOptimizeTargetFileSize is the file size Optimize packs towards
// when given none.
const DefaultOptimizeTargetFileSize = 512 << 20

// OptimizeStats is what one Optimize did.
type OptimizeStats struct {
	// SnapshotID is the snapshot Optimize committed, or the current one
	// when there was nothing to pack.
	SnapshotID int64
	// FilesBefore and FilesAfter count the live data files.
	FilesBefore int64
	FilesAfter  int64
	// FilesRewritten were packed into FilesWritten new ones.
	FilesRewritten int64
	FilesWritten   int64
	BytesRewritten int64
	// Rows is the table's row count, the same before and after.
	Rows int64
}

// Optimize bin-packs the small data files of the table of dataset id into
// files of about targetFileSize bytes (DefaultOptimizeTargetFileSize when
// ≤ 0), in one commit that leaves the rows unchanged. A file is small when
// it is under three quarters of the target; the small files of each
// partition (two at least) are read and written again together. When
// another writer commits first, the packing is kept if every file it
// replaces is still live, and planned again otherwise.
func (c *Catalog) Optimize(ctx context.Context, id string, targetFileSize int64) (OptimizeStats, error) {
	if targetFileSize <= 0 {
		targetFileSize = DefaultOptimizeTargetFileSize
	}
	tbl, err := c.load(ctx, id)
	if err != nil {
		return OptimizeStats{}, err
	}
	if err := checkNoDeleteFiles(tbl.CurrentSnapshot()); err != nil {
		return OptimizeStats{}, fmt.Errorf("dataset %s: %w", id, err)
	}
	sized := *c
	sized.opts.targetFileSize = targetFileSize
	w := sized.maintenanceWriter(tbl, id, iceberg.Properties{PropWriteMode: "optimize"})
	var (
		st   OptimizeStats
		del  []iceberg.DataFile
		outs []iceberg.DataFile
	)
	snap, err := w.commit(ctx, tbl, func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
		live, err := liveDataFiles(ctx, tbl)
		if err != nil {
			return err
		}
		isLive := make(map[string]bool, len(live))
		for _, df := range live {
			isLive[df.FilePath()] = true
		}
		if del != nil && slices.ContainsFunc(del, func(df iceberg.DataFile) bool { return !isLive[df.FilePath()] }) {
			w.forget(ctx, tbl, outs)
			del, outs = nil, nil
		}
		if del == nil {
			if del, outs, err = w.pack(ctx, tbl, live, targetFileSize); err != nil {
				return err
			}
		}
		st = OptimizeStats{FilesBefore: int64(len(live))}
		for _, df := range live {
			st.Rows += df.Count()
		}
		if len(del) == 0 {
			st.FilesAfter = st.FilesBefore
			return errNoChange
		}
		st.FilesRewritten, st.FilesWritten = int64(len(del)), int64(len(outs))
		for _, df := range del {
			st.BytesRewritten += df.FileSizeBytes()
		}
		st.FilesAfter = st.FilesBefore - st.FilesRewritten + st.FilesWritten
		return tx.ReplaceDataFilesWithDataFiles(ctx, del, outs, w.props, table.WithoutDuplicateCheck())
	})
	if err != nil {
		if !w.outcomeUnknown {
			w.removeWritten(ctx, tbl)
		}
		return OptimizeStats{}, fmt.Errorf("dataset %s: optimize: %w", id, err)
	}
	st.SnapshotID = snap
	return st, nil
}

// pack writes the small files of each partition of live together into
// target-sized files, and returns the files it replaces and their
// replacements.
func (w *writer) pack(ctx context.Context, tbl *table.Table, live []iceberg.DataFile, target int64) (del, outs []iceberg.DataFile, err error) {
	groups := map[string][]iceberg.DataFile{}
	for _, df := range live {
		if df.FileSizeBytes() < target/4*3 {
			k := fmt.Sprint(df.SpecID(), df.Partition())
			groups[k] = append(groups[k], df)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, context.Cause(ctx)
		}
		tasks := make([]table.FileScanTask, len(g))
		for i, df := range g {
			tasks[i] = table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
		}
		schema, recs, err := tbl.Scan().ReadTasks(ctx, tasks)
		if err != nil {
			return nil, nil, fmt.Errorf("read %d small files: %w", len(g), err)
		}
		files, err := w.writeFiles(ctx, tbl, schema, recs)
		outs = append(outs, files...)
		if err != nil {
			return nil, outs, err
		}
		del = append(del, g...)
	}
	return del, outs, nil
}
