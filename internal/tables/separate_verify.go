package tables

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Separated names the rows one separation moved: those that snapshot
// CopySnapshotID (a CopyMatching) of the table of dataset Target added, or,
// with Condition set, every row of Target's current snapshot that matches
// it (when the copy's snapshot is gone: rows separated before by the same
// condition, or an earlier one, must be gone from the source too). A
// CopySnapshotID of 0 and no Condition moved none.
type Separated struct {
	Target         string
	CopySnapshotID int64
	Condition      *Condition
	// KeyColumn, when set, is the column (the subject key, else a one-column
	// primary key) whose moved values are also searched for byte for byte.
	KeyColumn string
}

// SeparationReport is what VerifySeparated found. Findings of How "row"
// name a Parquet file that still holds a moved row (ValueIndex 0); those
// of How "bytes" a file that holds the stored form of the moved key value
// at ValueIndex of the values searched for.
type SeparationReport struct {
	VerifyReport
	// RowsMoved counts the moved rows looked for.
	RowsMoved int64
	// KeyValues counts the distinct key values of the moved rows;
	// KeyValuesKept those of them that rows still in the source hold (a
	// subject with other rows that did not match), which are looked for
	// as moved rows only, not byte for byte.
	KeyValues     int
	KeyValuesKept int
	// KeysGone are the moved key values that no row of the source holds
	// any more, sorted, as FormatValue writes them: with the subject key
	// as KeyColumn, the subjects the separation took out of the source.
	KeysGone []string
}

// VerifySeparated confirms that no file under the location of the table
// of dataset id — live, expired or orphaned — still holds a row that
// moved.Target's snapshot moved.CopySnapshotID received from it:
//
//   - every Parquet file's columns that the copy kept are decoded, and a
//     row whose values in all of them equal a moved row's is a finding
//     (a row the separation left behind, or an old file that still holds
//     it);
//   - every file (manifests with their column bounds, manifest lists,
//     metadata, data files' statistics), and in a versioned bucket every
//     old version of one, is searched byte for byte, as VerifyAbsent
//     searches, for the stored forms of the moved rows' values of
//     moved.KeyColumn, less the values that rows still in the source hold
//     (those legitimately remain).
//
// Rows that match the separation's condition but were not moved (loaded
// after the copy) are no finding: they wait for a later separation.
func (c *Catalog) VerifySeparated(ctx context.Context, id string, moved Separated) (SeparationReport, error) {
	src, err := c.load(ctx, id)
	if err != nil {
		return SeparationReport{}, err
	}
	rows, keys, err := c.movedRows(ctx, moved)
	if err != nil {
		return SeparationReport{}, fmt.Errorf("dataset %s: verify the separation: %w", id, err)
	}
	rep := SeparationReport{RowsMoved: int64(rows.len()), KeyValues: len(keys)}
	var forms []searchForm
	if moved.KeyColumn != "" && len(keys) > 0 {
		f, ok := src.Schema().FindFieldByName(moved.KeyColumn)
		if !ok {
			return rep, fault.Invalid("keyColumn", "dataset %s has no column %q", id, moved.KeyColumn)
		}
		values, kept, err := keysGone(ctx, src, f.Name, keys)
		if err != nil {
			return rep, fmt.Errorf("dataset %s: verify the separation: %w", id, err)
		}
		rep.KeyValuesKept, rep.KeysGone = kept, values
		forms, rep.UnsearchedForms = storedForms(f.Type, values)
	}
	fields := sourceFields(src.Schema(), rows.names)
	rep.VerifyReport, err = c.scanLocation(ctx, src, rep.VerifyReport, forms, func(fsys icebergio.IO, path string) ([]Finding, error) {
		if rows.len() == 0 {
			return nil, nil
		}
		hit, err := parquetRows(ctx, fsys, path, fields, rows.holdsAny)
		if !hit {
			return nil, err
		}
		return []Finding{{Path: path, How: "row"}}, err
	})
	if err != nil {
		return rep, fmt.Errorf("dataset %s: verify the separation: %w", id, err)
	}
	return rep, nil
}

// movedRows reads the rows moved names (from the data files its copy
// snapshot added to the target, or the target's current rows that match
// its condition) into a row set over every column read,
// and returns with it the distinct values, as FormatValue writes them, of
// moved.KeyColumn (none when it is unset).
func (c *Catalog) movedRows(ctx context.Context, moved Separated) (*rowSet, map[string]struct{}, error) {
	keys := map[string]struct{}{}
	if moved.CopySnapshotID == 0 && moved.Condition == nil {
		return newRowSet(nil), keys, nil
	}
	dst, err := c.load(ctx, moved.Target)
	if err != nil {
		return nil, nil, err
	}
	var (
		schema *arrow.Schema
		recs   iter.Seq2[arrow.RecordBatch, error]
		pred   *condPred
	)
	switch {
	case moved.Condition != nil && dst.CurrentSnapshot() == nil:
		return newRowSet(nil), keys, nil
	case moved.Condition != nil:
		cp, err := newCondPred(dst.Schema(), *moved.Condition)
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: %w", moved.Target, err)
		}
		pred = &cp
		schema, recs, err = dst.Scan().ToArrowRecords(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: read: %w", moved.Target, err)
		}
	default:
		files, err := addedDataFiles(ctx, dst, moved.CopySnapshotID)
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: %w", moved.Target, err)
		}
		tasks := make([]table.FileScanTask, len(files))
		for i, df := range files {
			tasks[i] = table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()}
		}
		schema, recs, err = dst.Scan(table.WithSnapshotID(moved.CopySnapshotID)).ReadTasks(ctx, tasks)
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: read the copy: %w", moved.Target, err)
		}
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	set := newRowSet(names)
	for rec, err := range recs {
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: read the copy: %w", moved.Target, err)
		}
		if pred != nil {
			out, err := pred.filter(ctx, rec, true)
			rec.Release()
			if err != nil {
				return nil, nil, fmt.Errorf("separated dataset %s: %w", moved.Target, err)
			}
			rec = out
		}
		err = set.add(rec, moved.KeyColumn, keys)
		rec.Release()
		if err != nil {
			return nil, nil, fmt.Errorf("separated dataset %s: %w", moved.Target, err)
		}
	}
	set.seal()
	return set, keys, nil
}

// addedDataFiles returns the data files that snapshot snap of tbl added.
func addedDataFiles(ctx context.Context, tbl *table.Table, snap int64) ([]iceberg.DataFile, error) {
	s := tbl.SnapshotByID(snap)
	if s == nil {
		return nil, fault.Precondition("snapshot %d, which holds the copy, was expired: the moved rows can no longer be named", snap)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	manifests, err := s.Manifests(fsys)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: read manifest list: %w", snap, err)
	}
	var files []iceberg.DataFile
	for _, m := range manifests {
		// An entry a snapshot added is in a manifest that snapshot wrote.
		if m.SnapshotID() != snap || m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fsys, true) {
			if err != nil {
				return nil, fmt.Errorf("snapshot %d: read manifest %s: %w", snap, m.FilePath(), err)
			}
			if e.Status() == iceberg.EntryStatusADDED && e.SnapshotID() == snap {
				files = append(files, e.DataFile())
			}
		}
	}
	return files, nil
}

// keysGone returns the values of keys that no row of the current snapshot
// of tbl holds in column, sorted, and how many of keys rows still hold.
func keysGone(ctx context.Context, tbl *table.Table, column string, keys map[string]struct{}) ([]string, int, error) {
	left := make(map[string]struct{}, len(keys))
	for k := range keys {
		left[k] = struct{}{}
	}
	if tbl.CurrentSnapshot() != nil {
		_, recs, err := tbl.Scan(table.WithSelectedFields(column)).ToArrowRecords(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", column, err)
		}
		for rec, err := range recs {
			if err != nil {
				return nil, 0, fmt.Errorf("read %s: %w", column, err)
			}
			err = forEachValue(rec.Column(0), func(v string) { delete(left, v) })
			rec.Release()
			if err != nil {
				return nil, 0, err
			}
		}
	}
	values := make([]string, 0, len(left))
	for v := range left {
		values = append(values, v)
	}
	slices.Sort(values)
	return values, len(keys) - len(left), nil
}

// forEachValue calls fn with each non-null value of a, as FormatValue
// writes it.
func forEachValue(a arrow.Array, fn func(string)) error {
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		v, err := FormatValue(a, i)
		if err != nil {
			return err
		}
		fn(v)
	}
	return nil
}

// sourceFields resolves names against the source's schema; a column the
// source no longer has is matched by name only.
func sourceFields(sc *iceberg.Schema, names []string) []iceberg.NestedField {
	out := make([]iceberg.NestedField, len(names))
	for i, n := range names {
		f, ok := sc.FindFieldByName(n)
		if !ok {
			f = iceberg.NestedField{ID: -1, Name: n}
		}
		out[i] = f
	}
	return out
}

// rowSet is a set of rows, each as a 128-bit hash of its values in the
// columns names (a null as a 0 byte, any other value as a 1 byte and its
// canonical encoding, as the keys of an upsert are hashed), so that a row
// read back from any file, whatever the width its integers were stored
// in, hashes as the row it was written from.
type rowSet struct {
	names  []string
	seeds  [2]maphash.Seed
	buf    []byte
	hashes []keyHash
}

func newRowSet(names []string) *rowSet {
	return &rowSet{names: names, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

func (s *rowSet) len() int { return len(s.hashes) }

// hash hashes row of cols, one array per name (nil: the column is absent,
// and hashes as nulls).
func (s *rowSet) hash(cols []arrow.Array, row int) (keyHash, error) {
	s.buf = s.buf[:0]
	for i, a := range cols {
		if a == nil || a.IsNull(row) {
			s.buf = append(s.buf, 0)
			continue
		}
		s.buf = append(s.buf, 1)
		var err error
		if s.buf, err = appendKeyValue(s.buf, a, row); err != nil {
			return keyHash{}, fmt.Errorf("column %s: %w", s.names[i], err)
		}
	}
	return keyHash{maphash.Bytes(s.seeds[0], s.buf), maphash.Bytes(s.seeds[1], s.buf)}, nil
}

// add adds the rows of rec, and the values of keyColumn (if set) to keys.
func (s *rowSet) add(rec arrow.RecordBatch, keyColumn string, keys map[string]struct{}) error {
	cols := make([]arrow.Array, len(s.names))
	for i, n := range s.names {
		if idx := rec.Schema().FieldIndices(n); len(idx) == 1 {
			cols[i] = rec.Column(idx[0])
		}
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		h, err := s.hash(cols, row)
		if err != nil {
			return err
		}
		s.hashes = append(s.hashes, h)
	}
	if keyColumn == "" {
		return nil
	}
	idx := rec.Schema().FieldIndices(keyColumn)
	if len(idx) != 1 {
		return fmt.Errorf("the moved rows have no column %q", keyColumn)
	}
	return forEachValue(rec.Column(idx[0]), func(v string) { keys[v] = struct{}{} })
}

// seal sorts the set for contains.
func (s *rowSet) seal() {
	slices.SortFunc(s.hashes, compareHash)
	s.hashes = slices.Compact(s.hashes)
}

// holdsAny reports whether one of the n rows of cols is in the set.
func (s *rowSet) holdsAny(cols []arrow.Array, n int) (bool, error) {
	for row := range n {
		h, err := s.hash(cols, row)
		if err != nil {
			return false, err
		}
		if _, found := slices.BinarySearchFunc(s.hashes, h, compareHash); found {
			return true, nil
		}
	}
	return false, nil
}

// parquetRows streams the columns of fields (each found by field id, else
// by name) of a Parquet file, chunk by chunk, as arrays in fields' order
// (nil for a column the file lacks), until found reports a hit. A file
// with none of the columns has none.
func parquetRows(ctx context.Context, fsys icebergio.IO, path string, fields []iceberg.NestedField, found func(cols []arrow.Array, n int) (bool, error)) (bool, error) {
	fh, err := fsys.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	pf, err := file.NewParquetReader(fh)
	if err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	defer pf.Close()
	at := parquetColumns(pf, fields)
	var wanted []int
	for _, c := range at {
		if c >= 0 && !slices.Contains(wanted, c) {
			wanted = append(wanted, c)
		}
	}
	if len(wanted) == 0 {
		return false, nil
	}
	// The reader returns the columns in the file's order.
	slices.Sort(wanted)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, wanted, nil)
	if err != nil {
		return false, fmt.Errorf("read parquet columns: %w", err)
	}
	defer rr.Release()
	cols := make([]arrow.Array, len(fields))
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		rec := rr.RecordBatch()
		for i, c := range at {
			cols[i] = nil
			if c >= 0 {
				cols[i] = rec.Column(slices.Index(wanted, c))
			}
		}
		if hit, err := found(cols, int(rec.NumRows())); err != nil || hit {
			return hit, err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read parquet columns: %w", err)
	}
	return false, nil
}

// parquetColumns returns, for each field, the index of its column in the
// Parquet file (by field id, else by name), or -1.
func parquetColumns(pf *file.Reader, fields []iceberg.NestedField) []int {
	sc := pf.MetaData().Schema
	out := make([]int, len(fields))
	for i, f := range fields {
		out[i] = -1
		for c := 0; c < sc.NumColumns() && f.ID >= 0; c++ {
			if sc.Column(c).SchemaNode().FieldID() == int32(f.ID) {
				out[i] = c
				break
			}
		}
		if out[i] < 0 {
			out[i] = sc.ColumnIndexByName(f.Name)
		}
	}
	return out
}
