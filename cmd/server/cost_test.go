package main

import (
	"testing"
	"time"
)

// Every job that ends is priced into the cost records.
func TestJobsArePriced(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	var started map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, "c.csv", []byte(customersCSV(1, 2000, 0)))}, &started)
	if j := r.watch(t, started["id"].(string)); j.GetState().String() != "SUCCEEDED" {
		t.Fatalf("load: %v", j)
	}
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var report struct {
		Total    string `json:"total"`
		Currency string `json:"currency"`
		Items    []struct {
			Key  string `json:"key"`
			Cost string `json:"cost"`
			Runs string `json:"runs"`
		} `json:"items"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code := r.do(t, "GET", "/v1/costReport?groupBy=source&startTime="+from+"&endTime="+to, "", nil, &report); code != 200 {
			t.Fatalf("report: %d %+v", code, report)
		}
		if len(report.Items) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(report.Items) != 1 || report.Items[0].Key != "LAKEPLANE_JOB" || report.Items[0].Runs != "1" || report.Currency != "USD" || report.Total == "" {
		t.Fatalf("cost report after one job: %+v", report)
	}
	// The local admin has no groups: its work counts under its name.
	r.do(t, "GET", "/v1/costReport?groupBy=team&startTime="+from+"&endTime="+to, "", nil, &report)
	if len(report.Items) != 1 || report.Items[0].Key != "local" {
		t.Fatalf("cost by team: %+v", report.Items)
	}
}
