package tables

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// CopyBefore and DeleteBefore move the rows before a cutoff exactly once:
// the delete, limited to the snapshot the copy read, leaves a matching row
// added after the copy; VerifyNoneBefore finds it until it goes too.
func TestCopyDeleteVerifyBefore(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src, dst := customers("lake.c"), customers("lake_separated.c")
	mustCreate(t, c, src)
	mustCreate(t, c, dst)
	for _, r := range [][2]int64{{0, 100}, {100, 200}, {200, 300}} {
		mustWrite(t, c, src.ID, Append, reader(t, src, genRange(r[0], r[1], 1)), nil)
	}
	// gen(id) was born id days after 1980-01-01: ids 0..99 are before.
	cond := Before{Column: "birth", Time: time.Date(1980, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, 100)}
	if may, err := c.MayHoldBefore(ctx, src.ID, cond); err != nil || !may {
		t.Fatalf("MayHoldBefore before the move: %v %v", may, err)
	}

	cp, err := c.CopyBefore(ctx, src.ID, dst.ID, cond, map[string]string{PropJobID: "job-1"})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Rows != 100 || cp.SourceSnapshotID != mustStats(t, c, src.ID).CurrentSnapshotID {
		t.Fatalf("copy: %+v", cp)
	}
	snaps := mustSnapshots(t, c, dst.ID)
	if len(snaps) != 1 || snaps[0].Properties[PropJobID] != "job-1" || snaps[0].AddedRows != 100 {
		t.Fatalf("copy snapshot: %+v", snaps)
	}
	ids, more, err := c.ValuesBefore(ctx, dst.ID, "customer_no", cond, 10)
	if err != nil || len(ids) != 10 || !more {
		t.Fatalf("ValuesBefore: %v %v %v", ids, more, err)
	}
	if rep, err := c.VerifyNoneBefore(ctx, src.ID, cond); err != nil || rep.Verified || len(rep.Findings) == 0 {
		t.Fatalf("verify before the delete must find rows: %+v %v", rep, err)
	}

	// A matching row loaded after the copy was not copied: the delete
	// limited to the copy's snapshot leaves it.
	late := gen(5000, 1)
	late.Birth = ptr(time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC))
	mustWrite(t, c, src.ID, Append, reader(t, src, []customer{late}), nil)

	del, err := c.DeleteBefore(ctx, src.ID, cond, cp.SourceSnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if del.RowsDeleted != 100 || del.FilesRewritten == 0 || del.FilesRewritten > del.FilesExamined || del.FilesExamined >= del.FilesTotal {
		t.Fatalf("delete: %+v", del)
	}
	rows := readAll(t, c, src.ID)
	if len(rows) != 201 {
		t.Fatalf("source rows after the delete: %d, want 201", len(rows))
	}
	for id := range rows {
		if id < 100 {
			t.Fatalf("row %d is still in the source", id)
		}
	}
	moved := readAll(t, c, dst.ID)
	if len(moved) != 100 {
		t.Fatalf("separated rows: %d", len(moved))
	}
	for id := range moved {
		if id >= 100 {
			t.Fatalf("row %d was separated", id)
		}
	}
	// Run again (a rerun of the job): nothing more of that snapshot.
	if again, err := c.DeleteBefore(ctx, src.ID, cond, cp.SourceSnapshotID); err != nil || again.RowsDeleted != 0 || again.FilesRewritten != 0 {
		t.Fatalf("second delete: %+v %v", again, err)
	}

	if _, err := c.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	rep, err := c.VerifyNoneBefore(ctx, src.ID, cond)
	if err != nil || rep.Verified || len(rep.Findings) != 1 {
		t.Fatalf("verify must find the late row's file only: %+v %v", rep, err)
	}
	if _, err := c.DeleteBefore(ctx, src.ID, cond, cp.SourceSnapshotID); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Fatalf("delete within an expired snapshot: %v", err)
	}
	if del, err := c.DeleteBefore(ctx, src.ID, cond, 0); err != nil || del.RowsDeleted != 1 {
		t.Fatalf("delete of the late row: %+v %v", del, err)
	}
	if _, err := c.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.VerifyNoneBefore(ctx, src.ID, cond); err != nil || !rep.Verified || rep.FilesScanned == 0 {
		t.Fatalf("verify after the moves: %+v %v", rep, err)
	}
	if may, err := c.MayHoldBefore(ctx, src.ID, cond); err != nil || may {
		t.Fatalf("MayHoldBefore after the moves: %v %v", may, err)
	}
	if n := len(readAll(t, c, src.ID)); n != 200 {
		t.Fatalf("source rows at the end: %d", n)
	}
}

// A TIMESTAMP cutoff, and a cutoff on a column of another type.
func TestBeforeTimestampAndBadColumn(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src := customers("lake.t")
	mustCreate(t, c, src)
	mustWrite(t, c, src.ID, Append, reader(t, src, genRange(0, 30, 1)), nil)
	// updated is epoch plus id%3 days: ids with id%3 == 0 are before.
	del, err := c.DeleteBefore(ctx, src.ID, Before{Column: "updated", Time: epoch.Add(time.Hour)}, 0)
	if err != nil || del.RowsDeleted != 10 {
		t.Fatalf("timestamp delete: %+v %v", del, err)
	}
	for id := range readAll(t, c, src.ID) {
		if id%3 == 0 {
			t.Fatalf("row %d is left", id)
		}
	}
	var fe *fault.FieldError
	if _, err := c.DeleteBefore(ctx, src.ID, Before{Column: "name", Time: epoch}, 0); !errors.As(err, &fe) {
		t.Fatalf("a STRING cutoff column: %v", err)
	}
}
