package tables

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// PropDeleteColumn is the snapshot summary property that names the column a
// DeleteWhere matched on (never its values).
const PropDeleteColumn = "lakeplane.delete-column"

// DeleteStats is what one DeleteWhere did.
type DeleteStats struct {
	// SnapshotID is the table's current snapshot after the delete: the
	// delete's own, or the manifest rewrite that followed it.
	SnapshotID int64
	// DeleteSnapshotID is the snapshot that removed the rows, 0 when no row
	// matched (then nothing was committed).
	DeleteSnapshotID int64
	RowsDeleted      int64
	// FilesRewritten counts the data files that held a matching row and
	// were replaced (by a rewrite without those rows, or by nothing).
	FilesRewritten int64
	// FilesExamined counts the data files whose column was read because
	// their bounds could not rule the values out; FilesTotal counts the
	// live data files.
	FilesExamined int64
	FilesTotal    int64
	// BytesRewritten is the size of the data files replaced.
	BytesRewritten int64
}

// DeleteWhere deletes, copy-on-write, the rows of the table of dataset id
// whose column equals one of values (text, parsed as the column's type:
// "42" for an integer column), in one commit. Only the data files that
// really hold one of the values are rewritten: a file is ruled out by its
// column bounds where the manifest keeps them, and otherwise its column is
// read to confirm (a PII or subject-key column has no bounds, so reading is
// the confirmation). When another writer commits first, the delete is redone
// on the new snapshot (see Write), keeping the rewrites of files still live.
//
// A manifest rewrite follows the delete in a second commit: the delete's
// tombstone entries of the replaced files carry those files' column bounds
// (of the deleted rows' other columns too, such as a customer number), and
// the rewrite leaves them out of the current snapshot's manifests, so that
// expiring the older snapshots removes the last copy. No delete file is
// ever written.
func (c *Catalog) DeleteWhere(ctx context.Context, id, column string, values []string) (DeleteStats, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return DeleteStats{}, err
	}
	if err := checkNoDeleteFiles(tbl.CurrentSnapshot()); err != nil {
		return DeleteStats{}, fmt.Errorf("dataset %s: %w", id, err)
	}
	keys, err := valueKeySet(tbl, column, values)
	if err != nil {
		return DeleteStats{}, fmt.Errorf("dataset %s: delete: %w", id, err)
	}
	w := c.maintenanceWriter(tbl, id, iceberg.Properties{PropWriteMode: "delete", PropDeleteColumn: column})
	u := &upsertPlan{w: w, keys: keys, examined: map[string]bool{}, rewrites: map[string][]iceberg.DataFile{}}
	var st DeleteStats
	snap, err := w.commit(ctx, tbl, func(ctx context.Context, tbl *table.Table, tx *table.Transaction) error {
		live, err := liveDataFiles(ctx, tbl)
		if err != nil {
			return err
		}
		st = DeleteStats{FilesTotal: int64(len(live))}
		for _, df := range live {
			if keys.mayHoldKeys(df.LowerBoundValues(), df.UpperBoundValues()) {
				st.FilesExamined++
			}
		}
		if err := u.build(ctx, tbl, tx); err != nil {
			return err
		}
		if len(u.rewrites) == 0 {
			return errNoChange
		}
		for _, df := range live {
			if _, ok := u.rewrites[df.FilePath()]; ok {
				st.FilesRewritten++
				st.BytesRewritten += df.FileSizeBytes()
			}
		}
		return nil
	})
	return c.finishDelete(ctx, id, tbl, w, snap, st, err)
}

// maintenanceWriter is the writer of a rewrite of tbl (a delete, a
// packing) whose snapshot summary carries props and a fresh write id.
func (c *Catalog) maintenanceWriter(tbl *table.Table, id string, props iceberg.Properties) *writer {
	w := &writer{
		c:         c,
		id:        id,
		tableUUID: tbl.Metadata().TableUUID(),
		writeID:   uuid.NewString(),
		written:   map[string]struct{}{},
		props:     props,
	}
	w.props[PropWriteID] = w.writeID
	return w
}

// rewriteManifests merges the current snapshot's data manifests into new
// ones, which keep no entry of a file removed by an earlier snapshot, and
// returns the current snapshot after it.
func (c *Catalog) rewriteManifests(ctx context.Context, id string) (int64, error) {
	for attempt := 1; ; attempt++ {
		tbl, err := c.load(ctx, id)
		if err != nil {
			return 0, err
		}
		tx := tbl.NewTransaction()
		res, err := tx.RewriteManifests(ctx)
		if err != nil {
			return 0, fmt.Errorf("rewrite manifests: %w", err)
		}
		if res.IsNoOp() {
			return snapshotID(tbl.CurrentSnapshot()), nil
		}
		committed, err := tx.Commit(ctx)
		if err == nil {
			return snapshotID(committed.CurrentSnapshot()), nil
		}
		if !isConflict(err) && !isTransient(err) || attempt >= c.opts.commitAttempts {
			return 0, fmt.Errorf("rewrite manifests: commit: %w", err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return 0, err
		}
	}
}

// valueKeySet parses values as the type of column in tbl and returns them
// as a sealed one-column key set, ready for mayHoldKeys and contains.
func valueKeySet(tbl *table.Table, column string, values []string) (*keySet, error) {
	if len(values) == 0 {
		return nil, fault.Invalid("values", "at least one value is required")
	}
	f, ok := tbl.Schema().FindFieldByName(column)
	if !ok {
		return nil, fault.Invalid("column", "the table has no column %q", column)
	}
	return valueKeys(f, tbl.Properties()[propMetricsColumn+column] == metricsNone, values)
}

// valueKeys parses values as the type of field f into a sealed key set.
// A pii field's values are kept out of error messages.
func valueKeys(f iceberg.NestedField, pii bool, values []string) (*keySet, error) {
	typ, err := table.TypeToArrowType(f.Type, false, false)
	if err != nil {
		return nil, fault.Invalid("column", "column %q: %v", f.Name, err)
	}
	b := array.NewBuilder(memory.DefaultAllocator, typ)
	defer b.Release()
	for i, v := range uniqueStrings(values) {
		if err := b.AppendValueFromString(v); err != nil {
			if pii {
				return nil, fault.Invalid("values", "value %d is not a %s", i+1, f.Type)
			}
			return nil, fault.Invalid("values", "value %q is not a %s", v, f.Type)
		}
	}
	arr := b.NewArray()
	defer arr.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: f.Name, Type: typ}}, nil), []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	keys := newKeySet([]keyColumn{{name: f.Name, id: f.ID, typ: f.Type, pii: pii}})
	if err := keys.add(rec); err != nil {
		return nil, fault.Invalid("values", "%v", err)
	}
	// Two texts of one value ("7" and "07") are one key: no error.
	keys.seal()
	keys.hashes = slices.Compact(keys.hashes)
	return keys, nil
}

// uniqueStrings returns values without repeats, in their first order.
func uniqueStrings(values []string) []string {
	seen := make(map[string]struct{}, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

// finishDelete completes a copy-on-write delete that committed snapshot
// snap, or failed with err: after a failure it removes what the attempt
// wrote (unless the commit's outcome is unknown); after a commit it counts
// the rows deleted and rewrites the manifests, so that no delete entry keeps
// the removed files' bounds (and with them the deleted values).
func (c *Catalog) finishDelete(ctx context.Context, id string, tbl *table.Table, w *writer, snap int64, st DeleteStats, err error) (DeleteStats, error) {
	if err != nil {
		if !w.outcomeUnknown {
			w.removeWritten(ctx, tbl)
		}
		return DeleteStats{}, fmt.Errorf("dataset %s: delete: %w", id, err)
	}
	st.SnapshotID = snap
	if st.FilesRewritten == 0 {
		return st, nil
	}
	st.DeleteSnapshotID = snap
	if tbl, err = c.load(ctx, id); err != nil {
		return st, fmt.Errorf("dataset %s: deleted, but reading the table back failed: %w", id, err)
	}
	if s := tbl.SnapshotByID(snap); s != nil {
		st.RowsDeleted = summaryInt(s, "deleted-records") - summaryInt(s, "added-records")
	}
	if snap, err = c.rewriteManifests(ctx, id); err != nil {
		return st, fmt.Errorf("dataset %s: deleted, but rewriting its manifests failed: %w", id, err)
	}
	st.SnapshotID = snap
	return st, nil
}
