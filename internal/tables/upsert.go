package tables

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// iceberg-go v0.7.0 has no MERGE. An upsert is built here from parts it
// does have, copy-on-write and without delete files:
//
//  1. the input is streamed into new data files (table.WriteRecords) while
//     its keys are collected in a keySet;
//  2. a key seen twice fails the write with ErrDuplicateKey; with dedupe
//     LAST it does not: each row is hashed whole too, the last row of each
//     duplicated key is found once the input is read, and the new files
//     that hold a duplicated key are written again with only that row of
//     it (see keepLast);
//  3. each live data file whose key bounds can hold an incoming key is read
//     for its key columns only; if it does hold one, it is read whole and
//     written again without the replaced rows;
//  4. one overwrite snapshot (Transaction.ReplaceDataFilesWithDataFiles)
//     removes the rewritten files and adds their rewrites and the new
//     files.
//
// When another writer commits first, steps 3-4 are redone on the new
// snapshot: rewrites of files that are still live are kept, rewrites of
// files that are gone are dropped (their rows were removed by the other
// writer and must not come back), and new files are examined.

// upsert is Write in the Upsert modes; dedupeLast is UpsertDedupeLast.
func (w *writer) upsert(ctx context.Context, tbl *table.Table, records array.RecordReader, dedupeLast bool) (int64, error) {
	cols, err := primaryKey(tbl.Schema(), tbl.Properties())
	if err != nil {
		return 0, err
	}
	keys := newKeySet(cols)
	if dedupeLast {
		names := make([]string, 0, tbl.Schema().NumFields())
		for _, f := range tbl.Schema().Fields() {
			names = append(names, f.Name)
		}
		keys.trackRows(names)
	}
	files, err := w.writeFiles(ctx, tbl, records.Schema(), w.input(ctx, tbl, records, keys.add))
	if err != nil {
		return 0, err
	}
	if dedupeLast {
		if last := keys.sealLast(); len(last) > 0 {
			if files, err = w.keepLast(ctx, tbl, files, keys, last); err != nil {
				return 0, fmt.Errorf("dedupe LAST: %w", err)
			}
		}
	} else if dup, found := keys.seal(); found {
		return 0, w.duplicateKey(ctx, tbl, files, keys, dup)
	}
	u := &upsertPlan{w: w, keys: keys, newFiles: files, examined: map[string]bool{}, rewrites: map[string][]iceberg.DataFile{}}
	return w.commit(ctx, tbl, u.build)
}

// primaryKey returns the identifier fields of a table's schema. A column
// whose metrics are off is PII (see tableProperties): its values are kept
// out of error messages.
func primaryKey(sc *iceberg.Schema, props iceberg.Properties) ([]keyColumn, error) {
	ids := sc.IdentifierFieldIDs
	if len(ids) == 0 {
		return nil, fault.Precondition("the table has no primary key; an upsert needs one")
	}
	cols := make([]keyColumn, len(ids))
	for i, id := range ids {
		f, ok := sc.FindFieldByID(id)
		if !ok {
			return nil, fmt.Errorf("primary key field %d is not in the schema", id)
		}
		cols[i] = keyColumn{name: f.Name, id: f.ID, typ: f.Type, pii: props[propMetricsColumn+f.Name] == metricsNone}
	}
	return cols, nil
}

// upsertPlan is what an upsert keeps across commit attempts.
type upsertPlan struct {
	w        *writer
	keys     *keySet
	newFiles []iceberg.DataFile
	// examined holds the paths of the data files already looked at.
	examined map[string]bool
	// rewrites maps a data file that holds incoming keys to the files that
	// replace it (none when every row of it is replaced).
	rewrites map[string][]iceberg.DataFile
}

// build stages the upsert on tbl's current snapshot.
func (u *upsertPlan) build(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
	if u.keys.len() == 0 {
		return errNoChange
	}
	live, err := liveDataFiles(ctx, tbl)
	if err != nil {
		return err
	}
	isLive := make(map[string]bool, len(live))
	for _, df := range live {
		isLive[df.FilePath()] = true
	}
	for src, outs := range u.rewrites {
		if !isLive[src] {
			u.w.forget(ctx, tbl, outs)
			delete(u.rewrites, src)
		}
	}
	for _, df := range live {
		if u.examined[df.FilePath()] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		outs, replaced, err := u.rewrite(ctx, tbl, df)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", df.FilePath(), err)
		}
		u.examined[df.FilePath()] = true
		if replaced {
			u.rewrites[df.FilePath()] = outs
		}
	}
	var del []iceberg.DataFile
	add := append([]iceberg.DataFile(nil), u.newFiles...)
	for _, df := range live {
		if outs, ok := u.rewrites[df.FilePath()]; ok {
			del = append(del, df)
			add = append(add, outs...)
		}
	}
	return tx.ReplaceDataFilesWithDataFiles(ctx, del, add, u.w.props, table.WithoutDuplicateCheck())
}

// rewrite writes df again without the rows whose key is an incoming key.
// replaced is false (and nothing is written) when df holds none of them.
func (u *upsertPlan) rewrite(ctx context.Context, tbl *table.Table, df iceberg.DataFile) (outs []iceberg.DataFile, replaced bool, err error) {
	if !u.keys.mayHoldKeys(df.LowerBoundValues(), df.UpperBoundValues()) {
		return nil, false, nil
	}
	task := []table.FileScanTask{{File: df, Start: 0, Length: df.FileSizeBytes()}}
	names := make([]string, len(u.keys.cols))
	for i, c := range u.keys.cols {
		names[i] = c.name
	}
	// Pass 1: the key columns only, to learn whether df holds a key.
	_, recs, err := tbl.Scan(table.WithSelectedFields(names...)).ReadTasks(ctx, task)
	if err != nil {
		return nil, false, err
	}
	for rec, err := range recs {
		if err != nil {
			return nil, false, err
		}
		replaced, err = u.holdsKey(rec)
		rec.Release()
		if err != nil {
			return nil, false, err
		}
		if replaced {
			break
		}
	}
	if !replaced {
		return nil, false, nil
	}
	// Pass 2: every column, less the replaced rows, into new files.
	schema, recs, err := tbl.Scan().ReadTasks(ctx, task)
	if err != nil {
		return nil, false, err
	}
	outs, err = u.w.writeFiles(ctx, tbl, schema, u.keep(ctx, recs))
	return outs, true, err
}

// holdsKey reports whether a batch holds one of the incoming keys.
func (u *upsertPlan) holdsKey(rec arrow.RecordBatch) (bool, error) {
	arrs, err := keyArrays(rec, u.keys.cols)
	if err != nil {
		return false, err
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		h, err := u.keys.hasher.hash(arrs, row)
		if err != nil {
			return false, err
		}
		if u.keys.contains(h) {
			return true, nil
		}
	}
	return false, nil
}

// keep filters out of recs the rows whose key is an incoming key.
func (u *upsertPlan) keep(ctx context.Context, recs iter.Seq2[arrow.RecordBatch, error]) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			kept, err := u.filter(ctx, rec)
			rec.Release()
			if err != nil {
				yield(nil, err)
				return
			}
			if kept.NumRows() == 0 {
				kept.Release()
				continue
			}
			if !yield(kept, nil) {
				return
			}
		}
	}
}

func (u *upsertPlan) filter(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	arrs, err := keyArrays(rec, u.keys.cols)
	if err != nil {
		return nil, err
	}
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	mask.Reserve(int(rec.NumRows()))
	for row := 0; row < int(rec.NumRows()); row++ {
		h, err := u.keys.hasher.hash(arrs, row)
		if err != nil {
			return nil, err
		}
		mask.UnsafeAppend(!u.keys.contains(h))
	}
	m := mask.NewBooleanArray()
	defer m.Release()
	return compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
}

// forget removes rewrites that will not be committed.
func (w *writer) forget(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	w.remove(ctx, tbl, func(yield func(string) bool) {
		for _, df := range files {
			delete(w.written, df.FilePath())
			if !yield(df.FilePath()) {
				return
			}
		}
	})
}

// duplicateKey builds the error of an input that holds a key twice, naming
// the key: the key set keeps hashes only, so the new files' key columns are
// read back to find it.
func (w *writer) duplicateKey(ctx context.Context, tbl *table.Table, files []iceberg.DataFile, keys *keySet, dup keyHash) error {
	names := make([]string, len(keys.cols))
	for i, c := range keys.cols {
		names[i] = c.name
	}
	key := "one key"
	tasks := make([]table.FileScanTask, len(files))
	for i, df := range files {
		tasks[i] = table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
	}
	if _, recs, err := tbl.Scan(table.WithSelectedFields(names...)).ReadTasks(ctx, tasks); err == nil {
	scan:
		for rec, err := range recs {
			if err != nil {
				break
			}
			arrs, err := keyArrays(rec, keys.cols)
			for row := 0; err == nil && row < int(rec.NumRows()); row++ {
				if h, herr := keys.hasher.hash(arrs, row); herr == nil && h == dup {
					key = "(" + keys.describe(arrs, row) + ")"
					rec.Release()
					break scan
				}
			}
			rec.Release()
		}
	}
	return fmt.Errorf("%w: %w", ErrDuplicateKey, &fault.FieldError{
		Column: strings.Join(names, ","),
		Reason: fmt.Sprintf("primary key %s occurs more than once in the input; an upsert takes each key once", key),
	})
}

// keepLast writes again, before anything is committed, each of an upsert's
// new data files that holds a key of last (the input's duplicated keys),
// keeping of such a key only the row whose whole-row hash is that of the
// key's last row in input order (and of identical rows, one). It returns
// the new files as they are then; the files it replaced are removed.
//
// The rows are matched by their values, not their positions, because the
// writer does not keep the input's order across files and partitions.
func (w *writer) keepLast(ctx context.Context, tbl *table.Table, files []iceberg.DataFile, keys *keySet, last []lastRow) ([]iceberg.DataFile, error) {
	kept := make([]bool, len(last))
	var out []iceberg.DataFile
	for _, df := range files {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		task := []table.FileScanTask{{File: df, Start: 0, Length: df.FileSizeBytes()}}
		holds, err := w.holdsLast(ctx, tbl, task, keys, last)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", df.FilePath(), err)
		}
		if !holds {
			out = append(out, df)
			continue
		}
		schema, recs, err := tbl.Scan().ReadTasks(ctx, task)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", df.FilePath(), err)
		}
		filtered := func(yield func(arrow.RecordBatch, error) bool) {
			for rec, err := range recs {
				if err != nil {
					yield(nil, err)
					return
				}
				rec2, err := filterLast(ctx, rec, keys, last, kept)
				rec.Release()
				if err != nil {
					yield(nil, err)
					return
				}
				if rec2.NumRows() == 0 {
					rec2.Release()
					continue
				}
				if !yield(rec2, nil) {
					return
				}
			}
		}
		outs, err := w.writeFiles(ctx, tbl, schema, filtered)
		if err != nil {
			return nil, fmt.Errorf("rewrite %s: %w", df.FilePath(), err)
		}
		out = append(out, outs...)
		w.forget(ctx, tbl, []iceberg.DataFile{df})
	}
	// Every duplicated key's last row was written, so it must have been
	// found; anything else would lose the key's rows altogether.
	for i, ok := range kept {
		if !ok {
			return nil, fmt.Errorf("the last row of a duplicated key (%d of %d) was not found in the files written; nothing was committed", i+1, len(last))
		}
	}
	return out, nil
}

// holdsLast reports whether the data file of task holds one of the keys of
// last, reading its key columns only.
func (w *writer) holdsLast(ctx context.Context, tbl *table.Table, task []table.FileScanTask, keys *keySet, last []lastRow) (bool, error) {
	names := make([]string, len(keys.cols))
	for i, c := range keys.cols {
		names[i] = c.name
	}
	_, recs, err := tbl.Scan(table.WithSelectedFields(names...)).ReadTasks(ctx, task)
	if err != nil {
		return false, err
	}
	for rec, err := range recs {
		if err != nil {
			return false, err
		}
		found, err := func() (bool, error) {
			defer rec.Release()
			arrs, err := keyArrays(rec, keys.cols)
			if err != nil {
				return false, err
			}
			for row := 0; row < int(rec.NumRows()); row++ {
				h, err := keys.hasher.hash(arrs, row)
				if err != nil {
					return false, err
				}
				if _, ok := findLast(last, h); ok {
					return true, nil
				}
			}
			return false, nil
		}()
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// filterLast filters out of rec the rows of a duplicated key that are not
// its last row, or that are a copy of it already kept; kept[i] records
// that the row of last[i] was kept.
func filterLast(ctx context.Context, rec arrow.RecordBatch, keys *keySet, last []lastRow, kept []bool) (arrow.RecordBatch, error) {
	arrs, err := keyArrays(rec, keys.cols)
	if err != nil {
		return nil, err
	}
	rowCols := keys.rows.columns(rec)
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	mask.Reserve(int(rec.NumRows()))
	for row := 0; row < int(rec.NumRows()); row++ {
		h, err := keys.hasher.hash(arrs, row)
		if err != nil {
			return nil, err
		}
		i, dup := findLast(last, h)
		if !dup {
			mask.UnsafeAppend(true)
			continue
		}
		rh, err := keys.rows.hash(rowCols, row)
		if err != nil {
			return nil, err
		}
		keep := rh == last[i].row && !kept[i]
		if keep {
			kept[i] = true
		}
		mask.UnsafeAppend(keep)
	}
	m := mask.NewBooleanArray()
	defer m.Release()
	return compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
}
