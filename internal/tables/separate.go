package tables

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Snapshot summary properties of a separation's copy.
const (
	// PropJobID names the job that made a snapshot, so that a job run
	// again can find what it committed before.
	PropJobID = "lakeplane.job-id"
	// PropSourceSnapshot is, in the summary of a CopyMatching snapshot, the
	// id of the source snapshot the rows were read from.
	PropSourceSnapshot = "lakeplane.source-snapshot"
)

// Before is a condition on one DATE or TIMESTAMP column: the rows whose
// value is before Time. A DATE matches when its day is before Time's day
// (in UTC); a null never matches. It is the Condition "Column LESS Time"
// (see CutoffCondition); the ...Before methods are the ...Matching ones
// with that condition.
type Before struct {
	Column string
	Time   time.Time
}

// predFor resolves a row selection against a table's schema.
type predFor func(sc *iceberg.Schema) (condPred, error)

// matching selects the rows that match cond.
func matching(cond Condition) predFor {
	return func(sc *iceberg.Schema) (condPred, error) { return newCondPred(sc, cond) }
}

// before selects the rows before a cutoff.
func before(b Before) predFor {
	return func(sc *iceberg.Schema) (condPred, error) {
		f, ok := sc.FindFieldByName(b.Column)
		if !ok {
			return condPred{}, fault.Invalid("column", "the table has no column %q", b.Column)
		}
		cond, err := b.condition(f.Type)
		if err != nil {
			return condPred{}, err
		}
		return newCondPred(sc, cond)
	}
}

// CopyStats is what one CopyMatching did.
type CopyStats struct {
	// SourceSnapshotID is the source snapshot read (0: the source had none).
	SourceSnapshotID int64
	// SnapshotID is the destination's snapshot after the copy: the copy's
	// own, or the current one when no row matched (nothing committed).
	SnapshotID int64
	// Rows counts the rows copied; RowsPresent the matching rows that
	// were not, because the destination held them already.
	Rows        int64
	RowsPresent int64
}

// CopyOptions tune CopyMatching.
type CopyOptions struct {
	// Props are added to the snapshot summary (see Write).
	Props map[string]string
	// SkipPresent leaves out the rows dst holds already — the same values
	// in all of dst's columns (n equal rows of src, of which dst holds m,
	// copy n-m times) — so that a copy run again, after its first commit
	// was lost from dst's snapshots (expired), duplicates nothing;
	// RowsPresent counts them. It reads dst's rows that match the
	// condition into memory first: set it for a copy that may have run
	// before, not for every copy.
	SkipPresent bool
}

// CopyMatching appends, in one commit, the rows of the current snapshot of
// the table of dataset src that match cond to the table of dataset dst,
// projected on dst's columns (each of which src must have: a column dst
// lacks is left behind). opts.Props are added to the snapshot summary,
// with PropSourceSnapshot set to the source snapshot read, which
// DeleteMatching can then be limited to.
func (c *Catalog) CopyMatching(ctx context.Context, src, dst string, cond Condition, opts CopyOptions) (CopyStats, error) {
	from, err := c.load(ctx, src)
	if err != nil {
		return CopyStats{}, err
	}
	to, err := c.load(ctx, dst)
	if err != nil {
		return CopyStats{}, err
	}
	cur := from.CurrentSnapshot()
	if cur == nil {
		return CopyStats{SnapshotID: snapshotID(to.CurrentSnapshot())}, nil
	}
	pred, err := newCondPred(from.Schema(), cond)
	if err != nil {
		return CopyStats{}, fmt.Errorf("dataset %s: copy: %w", src, err)
	}
	var names []string
	for _, f := range to.Schema().Fields() {
		if _, ok := from.Schema().FindFieldByName(f.Name); !ok {
			return CopyStats{}, fault.Precondition("dataset %s has column %q, which dataset %s lacks", dst, f.Name, src)
		}
		names = append(names, f.Name)
	}
	schema, recs, err := from.Scan(table.WithSnapshotID(cur.SnapshotID)).ToArrowRecords(ctx)
	if err != nil {
		return CopyStats{}, fmt.Errorf("dataset %s: copy: read snapshot %d: %w", src, cur.SnapshotID, err)
	}
	outSchema, err := project(schema, names)
	if err != nil {
		return CopyStats{}, fmt.Errorf("dataset %s: copy: %w", src, err)
	}
	var present *presentSet
	if opts.SkipPresent {
		if present, err = presentRows(ctx, to, names, cond); err != nil {
			return CopyStats{}, fmt.Errorf("dataset %s: copy: %w", dst, err)
		}
	}
	st := CopyStats{SourceSnapshotID: cur.SnapshotID}
	matching := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			out, err := pred.filter(ctx, rec, true)
			rec.Release()
			var projected arrow.RecordBatch
			if err == nil {
				projected, err = projectBatch(out, outSchema)
				out.Release()
			}
			var skipped int64
			if err == nil && present != nil {
				projected, skipped, err = present.drop(ctx, projected)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			st.RowsPresent += skipped
			if projected.NumRows() == 0 {
				projected.Release()
				continue
			}
			st.Rows += projected.NumRows()
			// The reader owns the batch now, and releases it.
			if !yield(projected, nil) {
				return
			}
		}
	}
	rdr := array.ReaderFromIter(outSchema, matching)
	defer rdr.Release()
	p := maps.Clone(opts.Props)
	if p == nil {
		p = map[string]string{}
	}
	p[PropSourceSnapshot] = strconv.FormatInt(cur.SnapshotID, 10)
	if st.SnapshotID, err = c.Write(ctx, dst, Append, rdr, p); err != nil {
		return CopyStats{}, fmt.Errorf("copy from dataset %s: %w", src, err)
	}
	return st, nil
}

// project returns the fields of schema named by names, in that order.
func project(schema *arrow.Schema, names []string) (*arrow.Schema, error) {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		idx := schema.FieldIndices(n)
		if len(idx) != 1 {
			return nil, fmt.Errorf("column %q is not in the rows read", n)
		}
		fields[i] = schema.Field(idx[0])
	}
	return arrow.NewSchema(fields, nil), nil
}

// projectBatch returns the columns of rec that schema names, in its order.
func projectBatch(rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("column %q is not in the rows read", f.Name)
		}
		cols[i] = rec.Column(idx[0])
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}

// DeleteMatching deletes, copy-on-write, the rows of the table of dataset
// id that match cond, in one commit, as DeleteWhere does for values: only
// the data files that hold a matching row are rewritten (a file whose
// column bounds rule the condition out is not read), and a manifest rewrite
// follows so that expiring the older snapshots leaves no bound of a deleted
// row behind.
//
// With within set, only the data files that snapshot within of the table
// holds are considered: the rows a CopyMatching read from within are
// deleted, and rows added since (also matching ones) are left for a later
// separation. A within the table no longer has is an error.
func (c *Catalog) DeleteMatching(ctx context.Context, id string, cond Condition, within int64) (DeleteStats, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return DeleteStats{}, err
	}
	if err := checkNoDeleteFiles(tbl.CurrentSnapshot()); err != nil {
		return DeleteStats{}, fmt.Errorf("dataset %s: %w", id, err)
	}
	pred, err := newCondPred(tbl.Schema(), cond)
	if err != nil {
		return DeleteStats{}, fmt.Errorf("dataset %s: delete: %w", id, err)
	}
	var allowed map[string]bool
	if within != 0 {
		if allowed, err = dataFilesOf(ctx, tbl, within); err != nil {
			return DeleteStats{}, fmt.Errorf("dataset %s: delete: %w", id, err)
		}
	}
	w := c.maintenanceWriter(tbl, id, iceberg.Properties{PropWriteMode: "delete", PropDeleteColumn: pred.field.Name})
	examined := map[string]bool{}
	rewrites := map[string][]iceberg.DataFile{}
	var st DeleteStats
	snap, err := w.commit(ctx, tbl, func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
		live, err := liveDataFiles(ctx, tbl)
		if err != nil {
			return err
		}
		st = DeleteStats{FilesTotal: int64(len(live))}
		isLive := make(map[string]bool, len(live))
		for _, df := range live {
			isLive[df.FilePath()] = true
		}
		for src, outs := range rewrites {
			if !isLive[src] {
				w.forget(ctx, tbl, outs)
				delete(rewrites, src)
			}
		}
		var del, add []iceberg.DataFile
		for _, df := range live {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			path := df.FilePath()
			if (allowed != nil && !allowed[path]) || !pred.mayHold(df.LowerBoundValues(), df.UpperBoundValues()) {
				continue
			}
			st.FilesExamined++
			if !examined[path] {
				outs, replaced, err := pred.rewrite(ctx, w, tbl, df)
				if err != nil {
					return fmt.Errorf("rewrite %s: %w", path, err)
				}
				examined[path] = true
				if replaced {
					rewrites[path] = outs
				}
			}
			if outs, ok := rewrites[path]; ok {
				del = append(del, df)
				add = append(add, outs...)
				st.FilesRewritten++
				st.BytesRewritten += df.FileSizeBytes()
			}
		}
		if len(del) == 0 {
			return errNoChange
		}
		return tx.ReplaceDataFilesWithDataFiles(ctx, del, add, w.props, table.WithoutDuplicateCheck())
	})
	return c.finishDelete(ctx, id, tbl, w, snap, st, err)
}

// dataFilesOf returns the paths of the live data files of snapshot id.
func dataFilesOf(ctx context.Context, tbl *table.Table, id int64) (map[string]bool, error) {
	s := tbl.SnapshotByID(id)
	if s == nil {
		return nil, fault.Precondition("the table no longer has snapshot %d (it was expired)", id)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	err = reachable(ctx, fsys, s, true, func(path string, k fileKind) {
		if k == kindData {
			files[path] = true
		}
	})
	return files, err
}

// MayHoldBefore is MayHoldMatching with the rows before a cutoff.
func (c *Catalog) MayHoldBefore(ctx context.Context, id string, cond Before) (bool, error) {
	return c.mayHoldWhere(ctx, id, before(cond))
}

// MayHoldMatching reports whether the current snapshot of the table of
// dataset id may hold a row that matches cond, from the data files' column
// bounds alone (no data file is read): false is certain, true is not.
func (c *Catalog) MayHoldMatching(ctx context.Context, id string, cond Condition) (bool, error) {
	return c.mayHoldWhere(ctx, id, matching(cond))
}

func (c *Catalog) mayHoldWhere(ctx context.Context, id string, sel predFor) (bool, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return false, err
	}
	pred, err := sel(tbl.Schema())
	if err != nil {
		return false, fmt.Errorf("dataset %s: %w", id, err)
	}
	live, err := liveDataFiles(ctx, tbl)
	if err != nil {
		return false, fmt.Errorf("dataset %s: %w", id, err)
	}
	for _, df := range live {
		if pred.mayHold(df.LowerBoundValues(), df.UpperBoundValues()) {
			return true, nil
		}
	}
	return false, nil
}

// ValuesBefore returns the distinct values, as text (as DeleteWhere takes
// them), of column in the rows of the current snapshot of the table of
// dataset id that are before the cutoff cond; at most limit of them (limit
// > 0), with more set when there are others.
func (c *Catalog) ValuesBefore(ctx context.Context, id, column string, cond Before, limit int) (values []string, more bool, err error) {
	return c.valuesWhere(ctx, id, column, before(cond), limit)
}

func (c *Catalog) valuesWhere(ctx context.Context, id, column string, sel predFor, limit int) (values []string, more bool, err error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if limit < 1 {
		return nil, false, fault.Invalid("limit", "must be positive")
	}
	pred, err := sel(tbl.Schema())
	if err != nil {
		return nil, false, fmt.Errorf("dataset %s: %w", id, err)
	}
	if _, ok := tbl.Schema().FindFieldByName(column); !ok {
		return nil, false, fault.Invalid("column", "dataset %s has no column %q", id, column)
	}
	if tbl.CurrentSnapshot() == nil {
		return nil, false, nil
	}
	fields := []string{column}
	if column != pred.field.Name {
		fields = append(fields, pred.field.Name)
	}
	_, recs, err := tbl.Scan(table.WithSelectedFields(fields...)).ToArrowRecords(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("dataset %s: read: %w", id, err)
	}
	seen := map[string]bool{}
	for rec, err := range recs {
		if err != nil {
			return nil, false, fmt.Errorf("dataset %s: read: %w", id, err)
		}
		out, err := pred.filter(ctx, rec, true)
		rec.Release()
		if err != nil {
			return nil, false, fmt.Errorf("dataset %s: %w", id, err)
		}
		col := out.Column(out.Schema().FieldIndices(column)[0])
		for i := 0; i < col.Len() && !more; i++ {
			if v := col.ValueStr(i); !col.IsNull(i) && !seen[v] {
				if len(values) == limit {
					more = true
					break
				}
				seen[v] = true
				values = append(values, v)
			}
		}
		out.Release()
		if more {
			break
		}
	}
	return values, more, nil
}

// VerifyNoneMatching confirms that no Parquet file under the location of
// the table of dataset id — live, expired or orphaned — holds a row that
// matches cond: each file's column is decoded and compared. Findings name
// the files (ValueIndex 0, How "column").
func (c *Catalog) VerifyNoneMatching(ctx context.Context, id string, cond Condition) (VerifyReport, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return VerifyReport{}, err
	}
	pred, err := newCondPred(tbl.Schema(), cond)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("dataset %s: verify: %w", id, err)
	}
	rep := VerifyReport{Location: tbl.Location()}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return rep, fmt.Errorf("dataset %s: verify: %w", id, err)
	}
	lister, ok := fsys.(icebergio.ListableIO)
	if !ok {
		return rep, fmt.Errorf("dataset %s: verify: the file IO %T cannot list files", id, fsys)
	}
	err = lister.WalkDir(tbl.Location(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return nil
		}
		rep.FilesScanned++
		rep.DataFilesRead++
		rep.BytesScanned += fileSize(fsys, path)
		hit, err := pred.parquetMatches(ctx, fsys, path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if hit {
			rep.add(Finding{Path: path, How: "column"})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("dataset %s: verify: %w", id, err)
	}
	rep.Verified = len(rep.Findings) == 0
	rep.Time = time.Now().UTC()
	return rep, nil
}
