package main

import (
	"fmt"
	"testing"
)

// EraseSubjects through REST: the rows go, the old snapshots go, and the
// certificate says so.
func TestEraseSubjectsThroughREST(t *testing.T) {
	r := startServer(t)
	ds := customersDataset()
	ds["subjectKey"] = "customer_id"
	if code := r.do(t, "POST", "/v1/datasets", "", ds, nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	// No layout chosen: the table is bucketed 16 ways on the subject key,
	// and the dataset says so.
	var made map[string]any
	r.do(t, "GET", "/v1/datasets/insure.customers", "", nil, &made)
	if parts, _ := made["partitionBy"].([]any); len(parts) != 1 || fmt.Sprint(parts[0]) != "map[column:customer_id transform:BUCKET width:16]" {
		t.Fatalf("partitionBy of a dataset with a subject key and no layout: %v, want bucket(16, customer_id)", made["partitionBy"])
	}
	for i, part := range [][2]int{{1, 1000}, {1001, 2000}} {
		var started map[string]any
		r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, []string{"a.csv", "b.csv"}[i], []byte(customersCSV(part[0], part[1], 0)))}, &started)
		if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
			t.Fatalf("load %d: %v", i, j)
		}
	}
	var bad map[string]any
	if code := r.do(t, "POST", "/v1/erasures", "", map[string]any{"subjectIds": []string{"3"}}, &bad); code != 400 {
		t.Fatalf("an erasure without a reason: %d %v", code, bad)
	}
	var started map[string]any
	if code := r.do(t, "POST", "/v1/erasures", "", map[string]any{"subjectIds": []string{"3", "1500"}, "reason": "retention ended", "requestId": "erase-1"}, &started); code != 200 {
		t.Fatalf("erase: %d %v", code, started)
	}
	j := r.watch(t, started["id"].(string))
	cert := j.GetCertificate()
	if j.GetState().String() != "SUCCEEDED" || cert == nil || !cert.GetVerified() || cert.GetSubjectCount() != 2 || len(cert.GetDatasets()) != 1 {
		t.Fatalf("erase job: %v", j)
	}
	if d := cert.GetDatasets()[0]; d.GetDataset() != "insure.customers" || d.GetRowsDeleted() != 2 || d.GetSnapshotsExpired() < 2 || d.GetFilesRemoved() < 1 || d.GetFilesRewritten() < 1 {
		t.Fatalf("certificate: %v", d)
	}
	var got map[string]any
	r.do(t, "GET", "/v1/datasets/insure.customers", "", nil, &got)
	if got["rowCount"] != "1998" {
		t.Fatalf("rows after erasing 2 subjects: %v", got["rowCount"])
	}
	var snaps struct {
		Snapshots []map[string]any `json:"snapshots"`
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/snapshots", "", nil, &snaps)
	if len(snaps.Snapshots) != 1 {
		t.Fatalf("snapshots left after erasure: %d (time travel to before it must be impossible)", len(snaps.Snapshots))
	}

	r.do(t, "POST", "/v1/datasets/insure.customers:optimize", "", map[string]any{}, &started)
	if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
		t.Fatalf("optimize: %v", j)
	}
	r.do(t, "POST", "/v1/datasets/insure.customers:expireSnapshots", "", map[string]any{"retainLast": 1}, &started)
	if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
		t.Fatalf("expire: %v", j)
	}
	r.do(t, "GET", "/v1/datasets/insure.customers", "", nil, &got)
	if got["rowCount"] != "1998" {
		t.Fatalf("rows after optimize and expire: %v", got["rowCount"])
	}
}
