package tables

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

// TestSubjectKeyBuckets checks the default layout of a dataset with a
// subject key: bucketed on it when the catalog says so and the dataset
// names no partitioning; the dataset's own partitioning otherwise.
func TestSubjectKeyBuckets(t *testing.T) {
	ctx := context.Background()
	specOf := func(t *testing.T, c *Catalog, d *dataset.Dataset) string {
		t.Helper()
		mustCreate(t, c, d)
		tbl, err := c.load(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tbl.Spec().String()
	}
	c, _ := openSQLite(t, WithSubjectKeyBuckets(4))
	d := customers("crm.plain")
	d.PartitionBy = nil
	if got := specOf(t, c, d); !strings.Contains(got, "customer_no_bucket") || !strings.Contains(got, "bucket[4]") {
		t.Errorf("no layout given: spec %s, want bucket[4] of customer_no", got)
	}
	if got := specOf(t, c, customers("crm.own")); strings.Contains(got, "customer_no") || !strings.Contains(got, "updated_day") {
		t.Errorf("own layout: spec %s, want the dataset's", got)
	}
	// Stats tells the layout the table has, as the dataset's fields.
	if st := mustStats(t, c, d.ID); !slices.Equal(st.PartitionBy, []dataset.PartitionField{{Column: "customer_no", Transform: dataset.TransformBucket, Width: 4}}) {
		t.Errorf("stats of the default layout: partitionBy %+v, want bucket(4, customer_no)", st.PartitionBy)
	}
	if st, own := mustStats(t, c, "crm.own"), customers("crm.own").PartitionBy; !slices.Equal(st.PartitionBy, own) {
		t.Errorf("stats of the own layout: partitionBy %+v, want %+v", st.PartitionBy, own)
	}
	noKey := customers("crm.nokey")
	noKey.PartitionBy, noKey.SubjectKey = nil, ""
	if got := specOf(t, c, noKey); strings.Contains(got, "bucket") {
		t.Errorf("no subject key: spec %s, want unpartitioned", got)
	}
	if st := mustStats(t, c, noKey.ID); len(st.PartitionBy) != 0 {
		t.Errorf("stats of an unpartitioned table: partitionBy %+v", st.PartitionBy)
	}
	scored := customers("crm.scored")
	scored.PartitionBy, scored.SubjectKey = nil, "score"
	if got := specOf(t, c, scored); strings.Contains(got, "bucket") {
		t.Errorf("a double subject key: spec %s, want unpartitioned (no bucket of a double)", got)
	}

	// Written and erased like any table: one subject's delete rewrites the
	// files of its bucket only.
	for i := range int64(2) {
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(i*200, (i+1)*200, 1)), nil)
	}
	del, err := c.DeleteWhere(ctx, d.ID, "customer_no", []string{"C000042"})
	if err != nil || del.RowsDeleted != 1 || del.FilesRewritten != 1 || del.FilesTotal != 8 {
		t.Errorf("delete of one subject: %+v, %v; want 1 of 8 files rewritten", del, err)
	}

	plain, _ := openSQLite(t)
	if got := specOf(t, plain, d); strings.Contains(got, "bucket") {
		t.Errorf("without the option: spec %s, want unpartitioned", got)
	}
}
