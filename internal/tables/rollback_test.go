package tables

import (
	"context"
	"errors"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// After a second append, Rollback makes the first snapshot current again:
// its rows, its stats; the undone snapshot stays in the history, a second
// rollback of it is refused, and the next write builds on the first.
func TestRollbackUndoesTheLastCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, _ string) {
		ctx := context.Background()
		d := customers("crm.rollback")
		mustCreate(t, c, d)
		first := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 10, 1)), nil)
		second := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(10, 25, 1)), nil)
		if rows, snap, err := c.SnapshotRowCount(ctx, d.ID, second); err != nil || rows != 25 || snap != second {
			t.Fatalf("SnapshotRowCount(second) = %d, %d, %v", rows, snap, err)
		}

		restored, err := c.Rollback(ctx, d.ID, second)
		if err != nil || restored != first {
			t.Fatalf("Rollback(second) = %d, %v; want %d", restored, err, first)
		}
		if st := mustStats(t, c, d.ID); st.CurrentSnapshotID != first || st.RowCount != 10 {
			t.Fatalf("stats after the rollback: %+v (first snapshot %d)", st, first)
		}
		if rows := readAll(t, c, d.ID); len(rows) != 10 {
			t.Fatalf("rows after the rollback: %d, want 10", len(rows))
		}
		if rows, _, err := c.SnapshotRowCount(ctx, d.ID, second); err != nil || rows != 25 {
			t.Fatalf("the undone snapshot is still readable by id: %d rows, %v", rows, err)
		}

		_, err = c.Rollback(ctx, d.ID, second)
		if !errors.Is(err, ErrNotCurrent) || !errors.Is(err, fault.ErrFailedPrecondition) {
			t.Fatalf("rolling back a snapshot that is no longer current: %v", err)
		}

		third := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(100, 105, 1)), nil)
		var parent int64 = -1
		for _, s := range mustSnapshots(t, c, d.ID) {
			if s.ID == third {
				parent = s.ParentID
			}
		}
		if parent != first {
			t.Fatalf("the write after the rollback has parent %d, want %d", parent, first)
		}
		if st := mustStats(t, c, d.ID); st.RowCount != 15 {
			t.Fatalf("rows after the next write: %d, want 15", st.RowCount)
		}
	})
}

// Rolling back a table's first snapshot leaves it as it was before its
// first write: no current snapshot, no rows; and it can be written again.
func TestRollbackOfTheFirstSnapshot(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, _ string) {
		ctx := context.Background()
		d := customers("crm.rollback_first")
		mustCreate(t, c, d)
		first := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 5, 1)), nil)
		restored, err := c.Rollback(ctx, d.ID, first)
		if err != nil || restored != 0 {
			t.Fatalf("Rollback(first) = %d, %v; want 0", restored, err)
		}
		if st := mustStats(t, c, d.ID); figures(st) != ([4]int64{}) {
			t.Fatalf("stats after rolling back the first snapshot: %+v", st)
		}
		if rows := readAll(t, c, d.ID); len(rows) != 0 {
			t.Fatalf("rows after rolling back the first snapshot: %d", len(rows))
		}
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 3, 1)), nil)
		if st := mustStats(t, c, d.ID); st.RowCount != 3 {
			t.Fatalf("rows after writing again: %d, want 3", st.RowCount)
		}
		if _, err := c.Rollback(ctx, d.ID, 12345); !errors.Is(err, ErrNotCurrent) {
			t.Fatalf("rolling back an unknown snapshot: %v", err)
		}
	})
}
