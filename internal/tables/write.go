package tables

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// WriteMode says how Write combines its records with the table's rows.
type WriteMode int

// The write modes. The zero WriteMode is not one of them.
const (
	// Append adds the records as new rows.
	Append WriteMode = iota + 1
	// Overwrite replaces every row of the table with the records.
	Overwrite
	// Upsert replaces the rows whose primary key matches a record's and
	// adds the other records as new rows. A key present twice in the
	// records is an error.
	Upsert
	// UpsertDedupeLast is Upsert where a key present more than once in the
	// records is no error: of each such key, only its last record (in the
	// order read) is upserted.
	UpsertDedupeLast
)

// String names the mode as snapshot summaries do: append, overwrite,
// upsert (for both upsert modes: the snapshot made is the same kind).
func (m WriteMode) String() string {
	switch m {
	case Append:
		return "append"
	case Overwrite:
		return "overwrite"
	case Upsert, UpsertDedupeLast:
		return "upsert"
	}
	return fmt.Sprintf("WriteMode(%d)", int(m))
}

// Snapshot summary properties that Write sets itself.
const (
	// PropWriteID is a fresh id per Write, by which a write whose commit
	// outcome is unknown (a lost connection) finds out whether it landed.
	PropWriteID = "lakeplane.write-id"
	// PropWriteMode is the WriteMode of the Write that made a snapshot.
	PropWriteMode = "lakeplane.write-mode"
)

// Memory bounds of the writer: batches queued per open data file, and
// goroutines that split batches by partition.
const (
	writerQueuedBatches = 4
	writerWorkers       = 2
)

// Write writes records into the table of dataset id in one atomic commit,
// and returns the id of the snapshot it made (or the current snapshot's id
// when there was nothing to commit, such as an append of no rows).
//
// The records are streamed into Parquet data files as they are read,
// partitioned by the table's spec and rolled at the catalog's target file
// size; only the data files' metadata is kept, so memory stays bounded
// whatever the input's size: a few batches and one buffered row group
// (≤ 32 MiB, 256Ki rows) per partition written to at once. An upsert also
// keeps its input's keys, compactly: about 24 MB per million keys of a
// one-column key. props are added to the snapshot summary (keys must
// contain a "." and not start with "partitions.", e.g. "lakeplane.job-id").
//
// If another writer commits first, Write refreshes the table and commits
// again, with backoff, up to the catalog's commit attempts; an upsert then
// redoes its rewrite against the new snapshot. On any error, or when ctx is
// cancelled, no snapshot is added and the files written for the commit are
// removed; the one exception is a commit whose outcome cannot be learnt
// (the database cannot be read back), which leaves its files in place
// rather than risk removing committed data.
//
// Upsert matches rows on the table's primary key (its identifier fields):
// a key present twice in the input is an error wrapping ErrDuplicateKey.
// It rewrites, copy-on-write, only the data files whose key bounds can hold
// an incoming key and that really hold one. UpsertDedupeLast takes the
// last row of a key present more than once instead: it also hashes each
// input row whole (8 more bytes per row, and 8 per key while the keys are
// sorted), and before the commit rewrites the new data files that hold a
// duplicated key without its earlier rows.
//
// While a Write runs, RemoveOrphans in the same process leaves the table's
// files younger than the Write alone.
func (c *Catalog) Write(ctx context.Context, id string, mode WriteMode, records array.RecordReader, props map[string]string) (int64, error) {
	if mode < Append || mode > UpsertDedupeLast {
		return 0, fault.Invalid("mode", "unknown write mode %d", int(mode))
	}
	if err := checkSummaryProps(props); err != nil {
		return 0, err
	}
	tbl, err := c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := checkNoDeleteFiles(tbl.CurrentSnapshot()); err != nil {
		return 0, fmt.Errorf("dataset %s: %w", id, err)
	}
	w := &writer{
		c:         c,
		id:        id,
		tableUUID: tbl.Metadata().TableUUID(),
		writeID:   uuid.NewString(),
		written:   map[string]struct{}{},
	}
	w.props = iceberg.Properties(maps.Clone(props))
	if w.props == nil {
		w.props = iceberg.Properties{}
	}
	w.props[PropWriteID] = w.writeID
	w.props[PropWriteMode] = mode.String()
	inflight.begin(w)
	defer inflight.end(w)

	for _, f := range tbl.Schema().Fields() {
		if f.Required && len(records.Schema().FieldIndices(f.Name)) != 1 {
			return 0, fmt.Errorf("dataset %s: %w", id, &fault.FieldError{Column: f.Name, Reason: "the records lack this required column"})
		}
	}

	var snap int64
	switch mode {
	case Append:
		snap, err = w.append(ctx, tbl, records)
	case Overwrite:
		snap, err = w.overwrite(ctx, tbl, records)
	case Upsert, UpsertDedupeLast:
		snap, err = w.upsert(ctx, tbl, records, mode == UpsertDedupeLast)
	}
	if err != nil {
		if !w.outcomeUnknown {
			w.removeWritten(ctx, tbl)
		}
		return 0, fmt.Errorf("dataset %s: %s: %w", id, mode, err)
	}
	return snap, nil
}

// inflight holds the Writes running in this process and when each began,
// for RemoveOrphans.
var inflight = &inflightWrites{writes: map[*writer]time.Time{}}

type inflightWrites struct {
	mu     sync.Mutex
	writes map[*writer]time.Time
}

func (f *inflightWrites) begin(w *writer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes[w] = time.Now()
}

func (f *inflightWrites) end(w *writer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.writes, w)
}

// earliest returns when the oldest Write into table tableUUID running in
// this process began, if one runs.
func (f *inflightWrites) earliest(tableUUID uuid.UUID) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first time.Time
	for w, t := range f.writes {
		if w.tableUUID == tableUUID && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first, !first.IsZero()
}

func checkSummaryProps(props map[string]string) error {
	for k := range props {
		if !strings.Contains(k, ".") || strings.HasPrefix(k, "partitions.") {
			return fault.Invalid("props", "snapshot property %q must be namespaced, as in lakeplane.job-id", k)
		}
	}
	return nil
}

// checkNoDeleteFiles refuses a table that delete files apply to: rewriting
// its data files copy-on-write would bring deleted rows back
// (apache/iceberg-go#2042), and this package never makes such a table.
func checkNoDeleteFiles(s *table.Snapshot) error {
	if n := summaryInt(s, "total-delete-files"); n > 0 {
		return errDeleteFiles(fmt.Sprintf("%d delete files", n))
	}
	return nil
}

func errDeleteFiles(what string) error {
	return fault.Precondition("the table has %s (written by another engine); lakeplane writes copy-on-write only and cannot safely rewrite it until it is compacted", what)
}

// writer is the state of one Write.
type writer struct {
	c         *Catalog
	id        string
	tableUUID uuid.UUID
	writeID   string
	props     iceberg.Properties
	// written holds the data files written and not (yet) known committed.
	written map[string]struct{}
	// outcomeUnknown is set when a commit failed in a way that may have
	// landed and the table could not be read back to tell.
	outcomeUnknown bool
}

func (w *writer) append(ctx context.Context, tbl *table.Table, records array.RecordReader) (int64, error) {
	files, err := w.writeFiles(ctx, tbl, records.Schema(), w.input(ctx, tbl, records, nil))
	if err != nil {
		return 0, err
	}
	return w.commit(ctx, tbl, func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
		if len(files) == 0 {
			return errNoChange
		}
		return tx.AddDataFiles(ctx, files, w.props, table.WithoutDuplicateCheck())
	})
}

func (w *writer) overwrite(ctx context.Context, tbl *table.Table, records array.RecordReader) (int64, error) {
	files, err := w.writeFiles(ctx, tbl, records.Schema(), w.input(ctx, tbl, records, nil))
	if err != nil {
		return 0, err
	}
	return w.commit(ctx, tbl, func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
		old, err := liveDataFiles(ctx, tbl)
		if err != nil {
			return err
		}
		if len(old) == 0 && len(files) == 0 {
			return errNoChange
		}
		return tx.ReplaceDataFilesWithDataFiles(ctx, old, files, w.props, table.WithoutDuplicateCheck())
	})
}

// input streams the records of a write, checked, because iceberg-go writes
// what it is given: a null in a required column would be stored as a zero
// value, and a decimal beyond its column's precision as a wrapped-around
// number. onBatch, if set, sees each batch too.
func (w *writer) input(ctx context.Context, tbl *table.Table, records array.RecordReader, onBatch func(arrow.RecordBatch) error) iter.Seq2[arrow.RecordBatch, error] {
	type check struct {
		name      string
		required  bool
		precision int32 // of a decimal column; 0 otherwise
	}
	var checks []check
	for _, f := range tbl.Schema().Fields() {
		c := check{name: f.Name, required: f.Required}
		if dt, ok := f.Type.(iceberg.DecimalType); ok {
			c.precision = int32(dt.Precision())
		}
		if c.required || c.precision > 0 {
			checks = append(checks, c)
		}
	}
	var seen int64
	return recordBatches(ctx, records, func(rec arrow.RecordBatch) error {
		for _, c := range checks {
			idx := rec.Schema().FieldIndices(c.name)
			if len(idx) != 1 {
				if c.required {
					return &fault.FieldError{Column: c.name, Reason: "the records lack this required column"}
				}
				continue
			}
			col := rec.Column(idx[0])
			if c.required && col.NullN() > 0 {
				row := 0
				for col.IsValid(row) {
					row++
				}
				return &fault.FieldError{Row: seen + int64(row) + 1, Column: c.name, Reason: "null in a required column"}
			}
			if dec, ok := col.(*array.Decimal128); ok && c.precision > 0 {
				for row := 0; row < dec.Len(); row++ {
					if dec.IsValid(row) && !dec.Value(row).FitsInPrecision(c.precision) {
						return &fault.FieldError{Row: seen + int64(row) + 1, Column: c.name,
							Reason: fmt.Sprintf("the value has more than the column's %d digits", c.precision)}
					}
				}
			}
		}
		seen += rec.NumRows()
		if onBatch != nil {
			return onBatch(rec)
		}
		return nil
	})
}

// recordBatches streams rdr's batches, checking ctx between them and
// calling onBatch (if set) on each before it is written. Each batch is
// retained for the writer, which releases it.
func recordBatches(ctx context.Context, rdr array.RecordReader, onBatch func(arrow.RecordBatch) error) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			if err := ctx.Err(); err != nil {
				yield(nil, context.Cause(ctx))
				return
			}
			rec := rdr.RecordBatch()
			if onBatch != nil {
				if err := onBatch(rec); err != nil {
					yield(nil, err)
					return
				}
			}
			rec.Retain()
			if !yield(rec, nil) {
				return
			}
		}
		if err := rdr.Err(); err != nil {
			yield(nil, fmt.Errorf("read records: %w", err))
		}
	}
}

// writeFiles writes records into new data files of tbl and returns them.
// Every file written is recorded in w.written, also when an error ends the
// write half-way (iceberg-go removes the file it was writing then; the
// files it had finished are returned to us and removed by Write).
func (w *writer) writeFiles(ctx context.Context, tbl *table.Table, schema *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error]) ([]iceberg.DataFile, error) {
	var (
		files []iceberg.DataFile
		first error
	)
	// Never stop ranging early: the iterator reports every finished file
	// before its error, and a file not seen here could not be cleaned up.
	for df, err := range table.WriteRecords(ctx, tbl, schema, records,
		table.WithTargetFileSize(w.c.opts.targetFileSize),
		table.WithRecordBatchBufferSize(writerQueuedBatches),
		table.WithMaxWriteWorkers(writerWorkers),
	) {
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		w.written[df.FilePath()] = struct{}{}
		files = append(files, df)
	}
	if first != nil {
		return files, fmt.Errorf("write data files: %w", first)
	}
	if err := ctx.Err(); err != nil {
		return files, context.Cause(ctx)
	}
	return files, nil
}

// removeWritten deletes, best-effort, the data files this write made.
func (w *writer) removeWritten(ctx context.Context, tbl *table.Table) {
	w.remove(ctx, tbl, func(yield func(string) bool) {
		for p := range w.written {
			if !yield(p) {
				return
			}
		}
	})
	clear(w.written)
}

// remove deletes files best-effort; a file already gone is fine.
func (w *writer) remove(ctx context.Context, tbl *table.Table, paths iter.Seq[string]) {
	fs, err := tbl.FS(context.WithoutCancel(ctx))
	if err != nil {
		return
	}
	for p := range paths {
		_ = fs.Remove(p)
	}
}

// errNoChange is returned by a commit's build function when there is
// nothing to commit.
var errNoChange = errors.New("nothing to commit")

// buildFunc stages a write's changes on a transaction of tbl (the table as
// it is for this attempt).
type buildFunc func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error

// commit builds and commits a transaction, and when another writer
// committed first, refreshes the table and does it again.
func (w *writer) commit(ctx context.Context, tbl *table.Table, build buildFunc) (int64, error) {
	for attempt := 1; ; attempt++ {
		tx := tbl.NewTransaction()
		if err := build(ctx, tbl, tx); err != nil {
			if errors.Is(err, errNoChange) {
				return snapshotID(tbl.CurrentSnapshot()), nil
			}
			return 0, err
		}
		staged := stagedMetadataFiles(ctx, tbl, tx)
		committed, err := tx.Commit(ctx)
		if err == nil {
			clear(w.written)
			return committed.CurrentSnapshot().SnapshotID, nil
		}
		if !isConflict(err) {
			// The commit may have landed: look for it before anything is
			// removed.
			id, found, lerr := w.findCommitted(ctx)
			switch {
			case lerr != nil:
				w.outcomeUnknown = true
				return 0, fmt.Errorf("commit: %w (whether it landed is unknown: reading the table back failed: %v)", err, lerr)
			case found:
				clear(w.written)
				return id, nil
			case !isTransient(err) || ctx.Err() != nil:
				w.remove(ctx, tbl, slices.Values(staged))
				return 0, fmt.Errorf("commit: %w", err)
			}
		}
		w.remove(ctx, tbl, slices.Values(staged))
		if attempt >= w.c.opts.commitAttempts {
			return 0, fmt.Errorf("commit: gave up after %d attempts while other writers kept committing first: %w", attempt, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return 0, err
		}
		if tbl, err = w.reload(ctx); err != nil {
			return 0, err
		}
	}
}

// reload loads the table afresh for another commit attempt; a table
// dropped and made again meanwhile is not the one this write was for.
func (w *writer) reload(ctx context.Context) (*table.Table, error) {
	tbl, err := w.c.load(ctx, w.id)
	if err != nil {
		return nil, fmt.Errorf("refresh for another commit attempt: %w", err)
	}
	if tbl.Metadata().TableUUID() != w.tableUUID {
		return nil, fault.Precondition("the table was dropped and created again during the write")
	}
	if err := checkNoDeleteFiles(tbl.CurrentSnapshot()); err != nil {
		return nil, err
	}
	return tbl, nil
}

// findCommitted looks for the snapshot of this write in the table, for a
// commit whose error does not tell whether it landed.
func (w *writer) findCommitted(ctx context.Context) (id int64, found bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	tbl, err := w.c.load(ctx, w.id)
	if err != nil {
		return 0, false, err
	}
	for _, s := range tbl.Metadata().Snapshots() {
		if s.Summary != nil && s.Summary.Properties[PropWriteID] == w.writeID {
			return s.SnapshotID, true, nil
		}
	}
	return 0, false, nil
}

// isConflict reports whether a commit failed because the table changed
// underneath it, so that nothing was committed. The SQL catalog reports a
// lost compare-and-swap as table.ErrCommitFailed, but a changed branch head
// (the common case: it re-reads the table before validating) only as a
// "requirement failed" error of no type, hence the text match.
func isConflict(err error) bool {
	return errors.Is(err, table.ErrCommitFailed) ||
		strings.Contains(strings.ToLower(err.Error()), "requirement failed")
}

// isTransient reports whether an error is a database's way of saying "try
// again": a busy SQLite file, a PostgreSQL serialization failure or deadlock.
func isTransient(err error) bool {
	var st interface{ SQLState() string }
	if errors.As(err, &st) && (st.SQLState() == "40001" || st.SQLState() == "40P01") {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// backoff is the wait before commit attempt n+1: exponential from 25 ms,
// capped at 2 s, with jitter so that racing writers spread out.
func backoff(attempt int) time.Duration {
	d := 25 * time.Millisecond << min(attempt-1, 7)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func snapshotID(s *table.Snapshot) int64 {
	if s == nil {
		return 0
	}
	return s.SnapshotID
}

// stagedMetadataFiles lists the manifest list and manifests that building
// tx wrote for its new snapshot, so that a failed attempt can remove them.
func stagedMetadataFiles(ctx context.Context, tbl *table.Table, tx *table.Transaction) []string {
	st, err := tx.StagedTable()
	if err != nil {
		return nil
	}
	snap := st.CurrentSnapshot()
	if snap == nil || snap.SnapshotID == snapshotID(tbl.CurrentSnapshot()) {
		return nil
	}
	out := []string{snap.ManifestList}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return out
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return out
	}
	for _, m := range manifests {
		if m.SnapshotID() == snap.SnapshotID {
			out = append(out, m.FilePath())
		}
	}
	return out
}

// liveDataFiles lists the data files of tbl's current snapshot. A delete
// manifest with live entries is an error: see checkNoDeleteFiles.
func liveDataFiles(ctx context.Context, tbl *table.Table) ([]iceberg.DataFile, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return nil, fmt.Errorf("read manifest list: %w", err)
	}
	var files []iceberg.DataFile
	for _, m := range manifests {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			df := e.DataFile()
			if m.ManifestContent() != iceberg.ManifestContentData || df.ContentType() != iceberg.EntryContentData {
				return nil, errDeleteFiles("delete files in manifest " + m.FilePath())
			}
			files = append(files, df)
		}
	}
	return files, nil
}
