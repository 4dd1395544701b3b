package tables

import (
	"context"
	"fmt"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// ErrNotCurrent marks a Rollback of a snapshot that is no longer the
// table's current one: another commit landed on top of it, and undoing it
// would undo that commit too.
// It wraps fault.ErrFailedPrecondition.
var ErrNotCurrent = fmt.Errorf("%w: the snapshot is not the current one", fault.ErrFailedPrecondition)

// Rollback undoes the commit that made snap, the current snapshot of
// the table of dataset id: its parent becomes the current snapshot again
// (or, for the table's first snapshot, the table has no current snapshot
// again, as before its first write). It returns the snapshot now current,
// 0 for none.
//
// It is a metadata-only commit of iceberg-go's set-snapshot-ref update on
// the main branch (remove-snapshot-ref for a first snapshot), the same
// thing Transaction.RollbackToSnapshot stages, but committed with a
// requirement that the branch head is still snap: were it committed
// through a Transaction, a concurrent commit would make it retry against
// the new head and roll back to snap's parent over that commit. So
// when another writer committed after snap, nothing changes and the
// error wraps ErrNotCurrent (FAILED_PRECONDITION). The undone snapshot
// stays in the table's history, no longer current, and its data files go
// when snapshots are expired.
func (c *Catalog) Rollback(ctx context.Context, id string, snap int64) (int64, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	cur := tbl.CurrentSnapshot()
	if cur == nil || cur.SnapshotID != snap {
		return 0, fmt.Errorf("dataset %s: cannot roll back snapshot %d (the current snapshot is %d): %w",
			id, snap, snapshotID(cur), ErrNotCurrent)
	}
	head := snap
	reqs := []table.Requirement{
		table.AssertTableUUID(tbl.Metadata().TableUUID()),
		table.AssertRefSnapshotID(table.MainBranch, &head),
	}
	var (
		updates []table.Update
		parent  int64
	)
	if cur.ParentSnapshotID != nil && tbl.SnapshotByID(*cur.ParentSnapshotID) != nil {
		parent = *cur.ParentSnapshotID
		b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
		if err != nil {
			return 0, fmt.Errorf("dataset %s: roll back snapshot %d: %w", id, snap, err)
		}
		updates = []table.Update{b.NewRetainingSnapshotRefUpdate(table.MainBranch, parent, table.BranchRef)}
	} else if cur.ParentSnapshotID != nil {
		return 0, fault.Precondition("dataset %s: cannot roll back snapshot %d: its parent %d has been expired", id, snap, *cur.ParentSnapshotID)
	} else {
		updates = []table.Update{table.NewRemoveSnapshotRefUpdate(table.MainBranch)}
	}
	if _, _, err := c.cat.CommitTable(ctx, tbl.Identifier(), reqs, updates); err != nil {
		if isConflict(err) {
			return 0, fmt.Errorf("dataset %s: cannot roll back snapshot %d (another commit landed first: %v): %w", id, snap, err, ErrNotCurrent)
		}
		return 0, fmt.Errorf("dataset %s: roll back snapshot %d: %w", id, snap, err)
	}
	return parent, nil
}

// SnapshotRowCount returns the row count of a snapshot of the table of
// dataset id (the current one when snap is 0; 0 rows for a table
// without snapshots) from its summary's total-records, with the id of the
// snapshot counted.
func (c *Catalog) SnapshotRowCount(ctx context.Context, id string, snap int64) (rows, snapshot int64, err error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	s := tbl.CurrentSnapshot()
	if snap != 0 {
		if s = tbl.SnapshotByID(snap); s == nil {
			return 0, 0, fault.Invalid("snapshotId", "dataset %s has no snapshot %d", id, snap)
		}
	}
	return summaryInt(s, "total-records"), snapshotID(s), nil
}
