package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// loadInAppends writes ids [0, appends*per) into the table in appends
// commits and returns the snapshot ids, oldest first.
func loadInAppends(t *testing.T, c *Catalog, id string, appends, per int64) []int64 {
	t.Helper()
	d := customers(id)
	var snaps []int64
	for i := range appends {
		snaps = append(snaps, mustWrite(t, c, id, Append, reader(t, d, genRange(i*per, (i+1)*per, 1)), nil))
	}
	return snaps
}

// liveFiles returns the paths of the live data files of the table of id.
func liveFiles(t *testing.T, c *Catalog, id string) map[string]bool {
	t.Helper()
	tbl, err := c.load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	files, err := liveDataFiles(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, df := range files {
		out[df.FilePath()] = true
	}
	return out
}

// rawHits returns the files under dir whose bytes hold one of needles.
func rawHits(t *testing.T, dir string, needles []string) []string {
	t.Helper()
	var hits []string
	for _, p := range filesUnder(t, dir, "") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, p+" holds "+n)
			}
		}
	}
	return hits
}

func TestDeleteWhereExpireVerifyLeaveNoTrace(t *testing.T) {
	ctx := context.Background()
	c, dir := openSQLite(t)
	const id = "crm.customers"
	mustCreate(t, c, customers(id))
	snaps := loadInAppends(t, c, id, 8, 2500)
	subjectIDs := []int64{0, 2777, 5001, 7502, 9999, 10000, 12345, 14001, 17777, 19998}
	var subjects []string
	for _, s := range subjectIDs {
		subjects = append(subjects, fmt.Sprintf("C%06d", s))
	}
	before := liveFiles(t, c, id)

	// Before the erasure, the verification finds every subject, both in
	// the data files' column and in the manifests' bounds of customer_no
	// (a subject key that is not PII keeps truncated bounds).
	rep, err := c.VerifyAbsent(ctx, id, "customer_no", subjects)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	inManifests := 0
	for _, f := range rep.Findings {
		if f.How == "column" {
			seen[f.ValueIndex] = true
		}
		if f.How == "bytes" && strings.HasSuffix(f.Path, ".avro") {
			inManifests++
		}
	}
	if inManifests == 0 {
		t.Errorf("no subject found in the manifests' bounds before the erasure: %+v", rep.Findings)
	}
	if rep.Verified || len(seen) != len(subjects) {
		t.Fatalf("before the erasure: verified=%v, subjects found in columns %d, want all %d", rep.Verified, len(seen), len(subjects))
	}

	st, err := c.DeleteWhere(ctx, id, "customer_no", subjects)
	if err != nil {
		t.Fatal(err)
	}
	if st.RowsDeleted != int64(len(subjects)) {
		t.Errorf("RowsDeleted = %d, want %d", st.RowsDeleted, len(subjects))
	}
	if st.FilesRewritten < 1 || st.FilesRewritten > int64(len(subjects)) {
		t.Errorf("FilesRewritten = %d, want 1..%d", st.FilesRewritten, len(subjects))
	}
	if st.FilesExamined >= st.FilesTotal {
		t.Errorf("the bounds pruned nothing: examined %d of %d files", st.FilesExamined, st.FilesTotal)
	}
	after := liveFiles(t, c, id)
	kept := 0
	for p := range before {
		if after[p] {
			kept++
		}
	}
	if kept != len(before)-int(st.FilesRewritten) {
		t.Errorf("%d of %d files kept, want all but the %d rewritten", kept, len(before), st.FilesRewritten)
	}

	// Deleted but not yet expired: the old files are still there.
	if rep, err := c.VerifyAbsent(ctx, id, "customer_no", subjects); err != nil || rep.Verified {
		t.Fatalf("after the delete alone: verified=%v, %v; want not verified", rep.Verified, err)
	}

	time.Sleep(2 * time.Millisecond)
	ex, err := c.Expire(ctx, id, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustSnapshots(t, c, id); len(got) != 1 || got[0].ID != st.SnapshotID {
		t.Fatalf("snapshots after the expiry: %+v, want only %d", got, st.SnapshotID)
	}
	if ex.SnapshotsExpired != int64(len(snaps)+1) || ex.DataFilesRemoved != st.FilesRewritten || ex.MetadataFilesRemoved == 0 {
		t.Errorf("expire stats %+v; want %d snapshots, %d data files, some metadata files", ex, len(snaps)+1, st.FilesRewritten)
	}
	if _, err := c.Read(ctx, id, snaps[len(snaps)-1], func(rec arrow.RecordBatch) error { return nil }); !isInvalid(err) {
		t.Errorf("time travel to a pre-erasure snapshot: %v, want invalid (no such snapshot)", err)
	}

	rep, err = c.VerifyAbsent(ctx, id, "customer_no", subjects)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verified || rep.FilesScanned == 0 || rep.DataFilesRead == 0 {
		t.Fatalf("after erase and expire: %+v", rep)
	}
	if hits := rawHits(t, dir, subjects); len(hits) > 0 {
		t.Fatalf("subjects still in files: %v", hits)
	}
	rows := readAll(t, c, id)
	if len(rows) != 20000-len(subjects) {
		t.Fatalf("%d rows, want %d", len(rows), 20000-len(subjects))
	}
	for _, s := range subjectIDs {
		if _, ok := rows[s]; ok {
			t.Errorf("row %d survived", s)
		}
	}
	for _, probe := range []int64{1, 4, 2776, 10001, 19999} {
		if r, ok := rows[probe]; !ok || *r.CustomerNo != fmt.Sprintf("C%06d", probe) {
			t.Errorf("row %d: %+v, %v", probe, r, ok)
		}
	}
}

func TestDeleteWhereNothingMatches(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	const id = "crm.customers"
	mustCreate(t, c, customers(id))
	snaps := loadInAppends(t, c, id, 2, 100)
	st, err := c.DeleteWhere(ctx, id, "id", []string{"5000", "5001"})
	if err != nil {
		t.Fatal(err)
	}
	if st.RowsDeleted != 0 || st.FilesRewritten != 0 || st.SnapshotID != snaps[1] || st.FilesExamined != 0 {
		t.Errorf("stats %+v, want nothing done on snapshot %d", st, snaps[1])
	}
	if _, err := c.DeleteWhere(ctx, id, "id", []string{"x"}); !isInvalid(err) {
		t.Errorf("a non-integer value for an integer column: %v", err)
	}
	if _, err := c.DeleteWhere(ctx, id, "nope", []string{"1"}); !isInvalid(err) {
		t.Errorf("an unknown column: %v", err)
	}
	// An integer column: ids 7 and 150 go, by their value.
	st, err = c.DeleteWhere(ctx, id, "id", []string{"7", "150", "007"})
	if err != nil {
		t.Fatal(err)
	}
	if st.RowsDeleted != 2 || len(readAll(t, c, id)) != 198 {
		t.Errorf("stats %+v", st)
	}
}

func TestExpireKeepsRowsAndRetained(t *testing.T) {
	ctx := context.Background()
	c, dir := openSQLite(t)
	const id = "crm.customers"
	mustCreate(t, c, customers(id))
	d := customers(id)
	loadInAppends(t, c, id, 3, 300)
	// An overwrite makes the first files unreachable from the newest
	// snapshots.
	mustWrite(t, c, id, Overwrite, reader(t, d, genRange(0, 600, 2)), nil)
	last := mustWrite(t, c, id, Append, reader(t, d, genRange(600, 700, 2)), nil)
	snapsBefore := mustSnapshots(t, c, id)
	dataBefore := len(filesUnder(t, dir, ".parquet"))

	// Nothing is older than an hour ago: nothing expires.
	ex, err := c.Expire(ctx, id, time.Now().Add(-time.Hour), 1)
	if err != nil || ex.SnapshotsExpired != 0 {
		t.Fatalf("expire of nothing: %+v, %v", ex, err)
	}
	time.Sleep(2 * time.Millisecond)
	ex, err = c.Expire(ctx, id, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	snaps := mustSnapshots(t, c, id)
	if len(snaps) != 2 || snaps[0].ID != last || ex.SnapshotsExpired != int64(len(snapsBefore)-2) {
		t.Fatalf("after expire: %d snapshots (newest %d), stats %+v", len(snaps), snaps[0].ID, ex)
	}
	if got := len(filesUnder(t, dir, ".parquet")); ex.DataFilesRemoved == 0 || got != dataBefore-int(ex.DataFilesRemoved) {
		t.Errorf("data files %d → %d, stats %+v", dataBefore, got, ex)
	}
	if rows := readAll(t, c, id); len(rows) != 700 {
		t.Errorf("%d rows, want 700", len(rows))
	}
	// The retained older snapshot still reads.
	var n int64
	if _, err := c.Read(ctx, id, snaps[1].ID, func(rec arrow.RecordBatch) error { n += rec.NumRows(); return nil }); err != nil || n != 600 {
		t.Errorf("read retained snapshot: %d rows, %v", n, err)
	}
	if got := filesUnder(t, dir, ".metadata.json"); len(got) != 1 {
		t.Errorf("metadata files left: %d, want only the current one", len(got))
	}
}

func TestOptimizePacksSmallFiles(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	const id = "crm.customers"
	mustCreate(t, c, customers(id))
	loadInAppends(t, c, id, 10, 200)
	want := readAll(t, c, id)
	before := mustStats(t, c, id)
	st, err := c.Optimize(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	after := mustStats(t, c, id)
	// 3 days × 4 buckets: at most 12 partitions, so at most 12 files.
	if after.FileCount > 12 || after.FileCount >= before.FileCount || st.FilesAfter != after.FileCount || st.FilesBefore != before.FileCount {
		t.Errorf("files %d → %d, stats %+v", before.FileCount, after.FileCount, st)
	}
	if after.RowCount != before.RowCount || st.Rows != before.RowCount {
		t.Errorf("rows %d → %d", before.RowCount, after.RowCount)
	}
	got := readAll(t, c, id)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k].Visits == nil || *got[k].Visits != *v.Visits || *got[k].CustomerNo != *v.CustomerNo {
			t.Fatalf("row %d changed", k)
		}
	}
	// Packed already: a second run changes nothing.
	st2, err := c.Optimize(ctx, id, 0)
	if err != nil || st2.FilesRewritten != 0 || st2.SnapshotID != st.SnapshotID {
		t.Errorf("second optimize: %+v, %v", st2, err)
	}
	assertNoDeleteFiles(t, c, id)
}

// isInvalid reports whether err is bad input (a fault.FieldError).
func isInvalid(err error) bool {
	var fe *fault.FieldError
	return errors.As(err, &fe)
}
