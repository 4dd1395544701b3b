package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
)

// retentionCustomers is customersDataset with a subject key and a rule:
// separated 30 days after joining.
func retentionCustomers() map[string]any {
	ds := customersDataset()
	ds["subjectKey"] = "customer_id"
	ds["grade"] = 3
	ds["retention"] = map[string]any{"separateAfterColumn": "joined", "separateAfterDays": 30}
	return ds
}

// tableIDs reads the customer ids of a dataset's table, sorted.
func (r *running) tableIDs(t *testing.T, id string) []int64 {
	t.Helper()
	var out []int64
	_, err := r.app.tables.Read(context.Background(), id, 0, func(rec arrow.RecordBatch) error {
		col := rec.Column(rec.Schema().FieldIndices("customer_id")[0]).(*array.Int64)
		for i := range col.Len() {
			out = append(out, col.Value(i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// SeparateRecords through REST: the old rows move, once, into a grade-1
// separated dataset; the source keeps the rest and no snapshot from before.
func TestSeparateRecordsThroughREST(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", retentionCustomers(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	for i, part := range [][2]int{{1, 200}, {201, 300}} {
		var started map[string]any
		r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, []string{"a.csv", "b.csv"}[i], []byte(customersCSV(part[0], part[1], 0)))}, &started)
		if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
			t.Fatalf("load %d: %v", i, j)
		}
	}
	// customersCSV's row i joined on 2024-01-(i%28+1); the cutoff is
	// 2024-01-15, 30 days before asOf: rows with i%28 < 14 are older.
	var old, rest []int64
	for i := int64(1); i <= 300; i++ {
		if i%28 < 14 {
			old = append(old, i)
		} else {
			rest = append(rest, i)
		}
	}

	var bad map[string]any
	if code := r.do(t, "POST", "/v1/datasets/insure.customers:separate", "", map[string]any{"targetDataset": "insure.customers"}, &bad); code != 400 {
		t.Fatalf("separating into itself: %d %v", code, bad)
	}
	var started map[string]any
	body := map[string]any{"asOf": "2024-02-14T00:00:00Z", "requestId": "separate-1"}
	if code := r.do(t, "POST", "/v1/datasets/insure.customers:separate", "", body, &started); code != 200 {
		t.Fatalf("separate: %d %v", code, started)
	}
	j := r.watch(t, started["id"].(string))
	if j.GetState().String() != "SUCCEEDED" || j.GetKind().String() != "SEPARATE" || j.GetProgress().GetRowsWritten() != int64(len(old)) {
		t.Fatalf("separate job: %v", j)
	}
	var again map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:separate", "", body, &again)
	if again["id"] != started["id"] {
		t.Fatalf("a retried request id started another job: %v", again)
	}

	var sep map[string]any
	if code := r.do(t, "GET", "/v1/datasets/insure_separated.customers", "", nil, &sep); code != 200 {
		t.Fatalf("separated dataset: %d %v", code, sep)
	}
	// Only the required columns move: the key and the retention column;
	// name, premium and note are nullable, so optional, and stay behind.
	var columns []string
	for _, c := range sep["columns"].([]any) {
		columns = append(columns, c.(map[string]any)["name"].(string))
	}
	if sep["grade"] != float64(1) || sep["subjectKey"] != "customer_id" || !slices.Equal(columns, []string{"customer_id", "joined"}) {
		t.Fatalf("separated dataset: %v", sep)
	}
	if got := r.tableIDs(t, "insure_separated.customers"); !slices.Equal(got, old) {
		t.Fatalf("separated rows: %d, want the %d old ones, once", len(got), len(old))
	}
	if got := r.tableIDs(t, "insure.customers"); !slices.Equal(got, rest) {
		t.Fatalf("source rows: %d, want %d", len(got), len(rest))
	}
	var snaps struct {
		Snapshots []map[string]any `json:"snapshots"`
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/snapshots", "", nil, &snaps)
	if len(snaps.Snapshots) != 1 {
		t.Fatalf("source snapshots after separation: %d (the pre-separation ones must be gone)", len(snaps.Snapshots))
	}
}

// With --retention-sweep-interval set, the server starts a SEPARATE job
// for a dataset whose rule is due, once a day.
func TestRetentionSweepStartsJobs(t *testing.T) {
	r := startServer(t, "--retention-sweep-interval=50ms")
	if code := r.do(t, "POST", "/v1/datasets", "", retentionCustomers(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	var started map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, "a.csv", []byte(customersCSV(1, 50, 0)))}, &started)
	if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
		t.Fatalf("load: %v", j)
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		page, err := r.app.store.ListJobs(ctx, store.ListJobsOptions{Kind: job.Separate, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 1 {
			t.Fatalf("%d SEPARATE jobs on one day", len(page.Items))
		}
		if len(page.Items) == 1 && page.Items[0].State.Done() {
			if j := page.Items[0]; j.State != job.Succeeded || j.Principal != "retention-sweep" {
				t.Fatalf("swept job: %+v", j)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SEPARATE job ended within 30s: %v", page.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every row joined in 2024: all moved, and later sweeps start nothing.
	time.Sleep(200 * time.Millisecond)
	if got := r.tableIDs(t, "insure_separated.customers"); len(got) != 50 {
		t.Fatalf("separated rows: %d", len(got))
	}
	page, err := r.app.store.ListJobs(ctx, store.ListJobsOptions{Kind: job.Separate, PageSize: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("SEPARATE jobs after more sweeps: %d %v", len(page.Items), err)
	}
}
