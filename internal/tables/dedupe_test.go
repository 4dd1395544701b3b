package tables

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

func TestUpsertDedupeLast(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, dir string) {
		ctx := context.Background()
		d := customers("crm.customers")
		mustCreate(t, c, d)
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 10, 1)), nil)
		// Keys 1, 2, 1, 3, 2 in one batch: the rows of 1 and 2 that win
		// are the later ones (versions 12 and 14).
		input := func() []customer {
			return []customer{gen(1, 10), gen(2, 11), gen(1, 12), gen(3, 13), gen(2, 14)}
		}

		_, err := c.Write(ctx, d.ID, Upsert, reader(t, d, input()), nil)
		if !errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("Upsert of keys 1,2,1,3,2 = %v, want ErrDuplicateKey", err)
		}
		if n := len(mustSnapshots(t, c, d.ID)); n != 1 {
			t.Fatalf("%d snapshots after the refused upsert, want 1", n)
		}

		mustWrite(t, c, d.ID, UpsertDedupeLast, reader(t, d, input()), nil)
		got := readAll(t, c, d.ID)
		if len(got) != 10 {
			t.Fatalf("%d rows, want 10", len(got))
		}
		for id, want := range map[int64]int32{0: 1, 1: 12, 2: 14, 3: 13, 4: 1, 9: 1} {
			if v := got[id].Visits; v == nil || *v != want {
				t.Errorf("row %d: visits %v, want %d", id, v, want)
			}
		}
		if s := mustSnapshots(t, c, d.ID)[0]; s.Properties[PropWriteMode] != "upsert" {
			t.Errorf("write mode %q, want upsert", s.Properties[PropWriteMode])
		}
		assertNoDeleteFiles(t, c, d.ID)
		// The files that held the earlier rows were replaced before the
		// commit and removed: nothing is left unreferenced.
		if n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("RemoveOrphans after the upsert = %d, %v; want 0 files", n, err)
		}
	})
}

// TestUpsertDedupeLastAcrossFilesAndPartitions spreads the occurrences of
// a key over batches, files and partitions (the later row has another day),
// and repeats a row identically: one row per key remains, the last.
func TestUpsertDedupeLastAcrossFilesAndPartitions(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t, WithTargetFileSize(4<<10))
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 100, 1)), nil)

	moved := gen(7, 30)
	moved.Updated = moved.Updated.AddDate(0, 0, 3) // another day partition
	batches := [][]customer{
		genRange(0, 50, 2),
		genRange(40, 120, 3), // 40..49 again
		{gen(5, 4), gen(5, 4)},
		genRange(110, 130, 5), // 110..119 again
		{moved},
		{gen(5, 4)},
	}
	mustWrite(t, c, d.ID, UpsertDedupeLast, reader(t, d, batches...), nil)
	got := readAll(t, c, d.ID) // fails on a key present twice
	if len(got) != 130 {
		t.Fatalf("%d rows, want 130", len(got))
	}
	want := func(id int64) int32 {
		switch {
		case id == 5:
			return 4
		case id == 7:
			return 30
		case id >= 110:
			return 5
		case id >= 40:
			return 3
		}
		return 2
	}
	for id, r := range got {
		if r.Visits == nil || *r.Visits != want(id) {
			t.Errorf("row %d: visits %v, want %d", id, r.Visits, want(id))
		}
	}
	if !got[7].Updated.Equal(moved.Updated) {
		t.Errorf("row 7 updated %v, want %v (the last row's)", got[7].Updated, moved.Updated)
	}
	if n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("RemoveOrphans after the upsert = %d, %v; want 0 files", n, err)
	}
	if live := mustStats(t, c, d.ID); live.RowCount != 130 {
		t.Errorf("stats row count %d, want 130", live.RowCount)
	}
}

// TestUpsertDedupeLastStringKey deduplicates on a composite key with a
// string column, whose values are read back from the files as written.
func TestUpsertDedupeLastStringKey(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.bykey")
	d.Columns[8].Nullable = false
	d.PrimaryKey = []string{"customer_no", "id"}
	d.PartitionBy = []dataset.PartitionField{{Column: "customer_no", Transform: dataset.TransformBucket, Width: 3}}
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, UpsertDedupeLast, reader(t, d, genRange(0, 20, 1), genRange(10, 30, 2), genRange(15, 16, 3)), nil)
	got := readAll(t, c, d.ID)
	if len(got) != 30 {
		t.Fatalf("%d rows, want 30", len(got))
	}
	for id, r := range got {
		want := int32(1)
		switch {
		case id == 15:
			want = 3
		case id >= 10:
			want = 2
		}
		if *r.Visits != want {
			t.Errorf("row %d: visits %d, want %d", id, *r.Visits, want)
		}
	}
}
