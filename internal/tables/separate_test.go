package tables

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// CopyMatching and DeleteMatching move the rows before a cutoff (a
// retention rule's condition) exactly once: a copy run again copies none
// of the rows the destination holds; the delete, limited to the snapshot
// the copy read, leaves a matching row added after the copy;
// VerifyNoneMatching finds it until it goes too.
func TestCopyDeleteVerifyCutoff(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src, dst := customers("lake.c"), customers("lake_separated.c")
	mustCreate(t, c, src)
	mustCreate(t, c, dst)
	for _, r := range [][2]int64{{0, 100}, {100, 200}, {200, 300}} {
		mustWrite(t, c, src.ID, Append, reader(t, src, genRange(r[0], r[1], 1)), nil)
	}
	// gen(id) was born id days after 1980-01-01: ids 0..99 are before.
	cutoff := time.Date(1980, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, 100)
	cond, err := CutoffCondition(*src.Column("birth"), cutoff)
	if err != nil || cond != (Condition{Column: "birth", Op: Less, Value: "1980-04-10"}) {
		t.Fatalf("cutoff condition: %+v %v", cond, err)
	}
	before := Before{Column: "birth", Time: cutoff}
	if may, err := c.MayHoldMatching(ctx, src.ID, cond); err != nil || !may {
		t.Fatalf("MayHoldMatching before the move: %v %v", may, err)
	}

	cp, err := c.CopyMatching(ctx, src.ID, dst.ID, cond, CopyOptions{Props: map[string]string{PropJobID: "job-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Rows != 100 || cp.RowsPresent != 0 || cp.SourceSnapshotID != mustStats(t, c, src.ID).CurrentSnapshotID {
		t.Fatalf("copy: %+v", cp)
	}
	snaps := mustSnapshots(t, c, dst.ID)
	if len(snaps) != 1 || snaps[0].Properties[PropJobID] != "job-1" || snaps[0].AddedRows != 100 {
		t.Fatalf("copy snapshot: %+v", snaps)
	}
	// The copy run again (its snapshot lost, say): every row is there.
	if again, err := c.CopyMatching(ctx, src.ID, dst.ID, cond, CopyOptions{Props: map[string]string{PropJobID: "job-1"}, SkipPresent: true}); err != nil ||
		again.Rows != 0 || again.RowsPresent != 100 || again.SnapshotID != cp.SnapshotID {
		t.Fatalf("copy run again: %+v %v; want no row copied, 100 present", again, err)
	}
	if n := len(mustSnapshots(t, c, dst.ID)); n != 1 {
		t.Fatalf("the copy run again committed: %d snapshots", n)
	}
	ids, more, err := c.ValuesBefore(ctx, dst.ID, "customer_no", before, 10)
	if err != nil || len(ids) != 10 || !more {
		t.Fatalf("ValuesBefore: %v %v %v", ids, more, err)
	}
	if rep, err := c.VerifyNoneMatching(ctx, src.ID, cond); err != nil || rep.Verified || len(rep.Findings) == 0 {
		t.Fatalf("verify before the delete must find rows: %+v %v", rep, err)
	}

	// A matching row loaded after the copy was not copied: the delete
	// limited to the copy's snapshot leaves it.
	late := gen(5000, 1)
	late.Birth = ptr(time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC))
	mustWrite(t, c, src.ID, Append, reader(t, src, []customer{late}), nil)

	del, err := c.DeleteMatching(ctx, src.ID, cond, cp.SourceSnapshotID)
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
	if again, err := c.DeleteMatching(ctx, src.ID, cond, cp.SourceSnapshotID); err != nil || again.RowsDeleted != 0 || again.FilesRewritten != 0 {
		t.Fatalf("second delete: %+v %v", again, err)
	}

	if _, err := c.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	rep, err := c.VerifyNoneMatching(ctx, src.ID, cond)
	if err != nil || rep.Verified || len(rep.Findings) != 1 {
		t.Fatalf("verify must find the late row's file only: %+v %v", rep, err)
	}
	if _, err := c.DeleteMatching(ctx, src.ID, cond, cp.SourceSnapshotID); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Fatalf("delete within an expired snapshot: %v", err)
	}
	if del, err := c.DeleteMatching(ctx, src.ID, cond, 0); err != nil || del.RowsDeleted != 1 {
		t.Fatalf("delete of the late row: %+v %v", del, err)
	}
	if _, err := c.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.VerifyNoneMatching(ctx, src.ID, cond); err != nil || !rep.Verified || rep.FilesScanned == 0 {
		t.Fatalf("verify after the moves: %+v %v", rep, err)
	}
	if may, err := c.MayHoldBefore(ctx, src.ID, before); err != nil || may {
		t.Fatalf("MayHoldBefore after the moves: %v %v", may, err)
	}
	if n := len(readAll(t, c, src.ID)); n != 200 {
		t.Fatalf("source rows at the end: %d", n)
	}
}

// A TIMESTAMP cutoff, and a cutoff on a column of another type.
func TestCutoffTimestampAndBadColumn(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src := customers("lake.t")
	mustCreate(t, c, src)
	mustWrite(t, c, src.ID, Append, reader(t, src, genRange(0, 30, 1)), nil)
	// updated is epoch plus id%3 days: ids with id%3 == 0 are before.
	cond, err := CutoffCondition(*src.Column("updated"), epoch.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	del, err := c.DeleteMatching(ctx, src.ID, cond, 0)
	if err != nil || del.RowsDeleted != 10 {
		t.Fatalf("timestamp delete: %+v %v", del, err)
	}
	for id := range readAll(t, c, src.ID) {
		if id%3 == 0 {
			t.Fatalf("row %d is left", id)
		}
	}
	var fe *fault.FieldError
	if _, err := CutoffCondition(*src.Column("name"), epoch); !errors.As(err, &fe) || fe.Field != "column" {
		t.Fatalf("a STRING cutoff column: %v", err)
	}
	if _, err := c.MayHoldBefore(ctx, src.ID, Before{Column: "name", Time: epoch}); !errors.As(err, &fe) {
		t.Fatalf("a STRING cutoff column in MayHoldBefore: %v", err)
	}
}
