package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
)

// conditionCustomers is customersDataset with a subject key, joined
// required (not nullable) and name, premium and note nullable (optional).
func conditionCustomers() map[string]any {
	ds := customersDataset()
	ds["subjectKey"] = "customer_id"
	ds["grade"] = 3
	for _, c := range ds["columns"].([]map[string]any) {
		switch c["name"] {
		case "joined":
			c["nullable"] = false
		case "name", "premium", "note":
			c["nullable"] = true
		}
	}
	return ds
}

// separate posts a separation of insure.customers and returns the HTTP
// status and the answer.
func (r *running) separate(t *testing.T, body map[string]any) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	code := r.do(t, "POST", "/v1/datasets/insure.customers:separate", "", body, &out)
	return code, out
}

// A bad condition is refused with 400, naming the field at fault.
func TestSeparateRecordsRefusesBadConditions(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", conditionCustomers(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	tests := []struct {
		cond  map[string]any
		field string
	}{
		{map[string]any{"column": "nope", "comparison": "EQUAL", "value": "1"}, "condition.column"},
		{map[string]any{"column": "premium", "value": "1"}, "condition.comparison"},
		{map[string]any{"column": "premium", "comparison": "LESS", "value": "12,5"}, "condition.value"},
		{map[string]any{"column": "premium", "comparison": "LESS", "value": "1.005"}, "condition.value"},
		{map[string]any{"column": "customer_id", "comparison": "GREATER", "value": "ten"}, "condition.value"},
		{map[string]any{"column": "joined", "comparison": "LESS", "value": "2024-02-30"}, "condition.value"},
		{map[string]any{"column": "joined", "comparison": "LESS", "value": ""}, "condition.value"},
	}
	for _, tt := range tests {
		code, out := r.separate(t, map[string]any{"condition": tt.cond})
		if code != 400 || out["code"] != float64(3) || !strings.Contains(fmt.Sprint(out["message"]), tt.field) {
			t.Errorf("condition %v: %d %v, want 400 naming %s", tt.cond, code, out, tt.field)
		}
	}
	// Without a condition, the dataset's retention rule decides, and it
	// has none.
	if code, out := r.separate(t, map[string]any{}); code != 400 || out["code"] != float64(9) {
		t.Errorf("no condition, no retention rule: %d %v", code, out)
	}
	if code, out := r.separate(t, map[string]any{"asOf": "2024-02-14T00:00:00Z", "condition": map[string]any{"column": "premium", "comparison": "LESS", "value": "1"}}); code != 400 || !strings.Contains(fmt.Sprint(out["message"]), "asOf") {
		t.Errorf("asOf with a condition: %d %v", code, out)
	}
}

// SeparateRecords by an explicit condition through REST: the rows it
// selects move into a grade-1 separated dataset with the required columns
// only (the primary key, joined, which is not nullable, and the condition's
// column premium; name and note stay behind), the source keeps
// the others, and the job shows the separation and its certificate.
func TestSeparateRecordsByCondition(t *testing.T) {
	onEachStore(t, nil, func(t *testing.T, r *running) {
		if code := r.do(t, "POST", "/v1/datasets", "", conditionCustomers(), nil); code != 200 {
			t.Fatalf("create: %d", code)
		}
		for i, part := range [][2]int{{1, 200}, {201, 300}} {
			var started map[string]any
			r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, []string{"a.csv", "b.csv"}[i], []byte(customersCSV(part[0], part[1], 0)))}, &started)
			if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
				t.Fatalf("load %d: %v", i, j)
			}
		}
		// customersCSV's row i has premium i*10 + (i%100)/100: rows 250..
		// have 2500.50 or more.
		var moved, rest []int64
		for i := int64(1); i <= 300; i++ {
			if i >= 250 {
				moved = append(moved, i)
			} else {
				rest = append(rest, i)
			}
		}
		code, started := r.separate(t, map[string]any{
			"requestId": "separate-premium",
			"condition": map[string]any{"column": "premium", "comparison": "GREATER_OR_EQUAL", "value": "2500.5"},
		})
		if code != 200 {
			t.Fatalf("separate: %d %v", code, started)
		}
		j := r.watch(t, started["id"].(string))
		if j.GetState().String() != "SUCCEEDED" || j.GetKind().String() != "SEPARATE" || j.GetProgress().GetRowsWritten() != int64(len(moved)) {
			t.Fatalf("separate job: %v", j)
		}
		sep := j.GetSeparation()
		wantCond := &lakeplanev1.RowCondition{Column: "premium", Comparison: lakeplanev1.Comparison_GREATER_OR_EQUAL, Value: "2500.50"}
		if sep.GetTargetDataset() != "insure_separated.customers" || !proto.Equal(sep.GetCondition(), wantCond) ||
			sep.GetRowsMoved() != int64(len(moved)) || sep.GetCopySnapshotId() == 0 ||
			!slices.Equal(sep.GetColumns(), []string{"customer_id", "premium", "joined"}) {
			t.Fatalf("separation: %v", sep)
		}
		cert := sep.GetCertificate()
		if !cert.GetVerified() || cert.GetVerifyTime() == nil || cert.GetSubjectCount() != int64(len(moved)) || len(cert.GetDatasets()) != 1 {
			t.Fatalf("certificate: %v", cert)
		}
		if ds := cert.GetDatasets()[0]; ds.GetDataset() != "insure.customers" || ds.GetRowsDeleted() != int64(len(moved)) ||
			ds.GetFilesRewritten() == 0 || ds.GetSnapshotsExpired() == 0 || ds.GetFilesRemoved() == 0 {
			t.Fatalf("certificate of the source: %v", ds)
		}

		// The same through GET /v1/jobs/{id}, as a portal reads it.
		var got map[string]any
		r.do(t, "GET", "/v1/jobs/"+j.GetId(), "", nil, &got)
		rs, _ := got["separation"].(map[string]any)
		if rs["rowsMoved"] != fmt.Sprint(len(moved)) || rs["condition"].(map[string]any)["comparison"] != "GREATER_OR_EQUAL" {
			t.Fatalf("GET job: %v", got)
		}

		var target map[string]any
		if code := r.do(t, "GET", "/v1/datasets/insure_separated.customers", "", nil, &target); code != 200 {
			t.Fatalf("separated dataset: %d %v", code, target)
		}
		var cols []string
		for _, c := range target["columns"].([]any) {
			cols = append(cols, c.(map[string]any)["name"].(string))
		}
		if target["grade"] != float64(1) || target["subjectKey"] != "customer_id" || !slices.Equal(cols, sep.GetColumns()) {
			t.Fatalf("separated dataset: %v", target)
		}
		if got := r.tableIDs(t, "insure_separated.customers"); !slices.Equal(got, moved) {
			t.Fatalf("separated rows: %v, want %v", got, moved)
		}
		if got := r.tableIDs(t, "insure.customers"); !slices.Equal(got, rest) {
			t.Fatalf("source rows: %d, want %d", len(got), len(rest))
		}
		// The source's other rows are whole: names and notes stayed.
		var rows struct {
			Columns []string `json:"columns"`
			Rows    [][]any  `json:"rows"`
		}
		r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=1000", "", nil, &rows)
		if len(rows.Rows) != len(rest) || !slices.Contains(rows.Columns, "note") {
			t.Fatalf("source preview: %d rows, columns %v", len(rows.Rows), rows.Columns)
		}
		for _, row := range rows.Rows {
			name := fmt.Sprint(row[slices.Index(rows.Columns, "name")])
			if !strings.HasPrefix(name, "홍길동") || row[slices.Index(rows.Columns, "note")] == nil {
				t.Fatalf("source row changed: %v", row)
			}
		}
	})
}
