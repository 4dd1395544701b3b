package main

import (
	"database/sql"
	"testing"
)

// Every mutating call leaves an event, failed ones too; reads leave none;
// the chain verifies, and a hand edit of a stored event is named.
func TestAuditTrail(t *testing.T) {
	r := startServer(t)
	r.do(t, "POST", "/v1/datasets", "", loansJSON(), nil)
	r.do(t, "GET", "/v1/datasets/credit.loans", "", nil, nil)
	r.do(t, "POST", "/v1/datasets", "", map[string]any{"id": "Bad"}, nil)
	r.do(t, "PATCH", "/v1/datasets/credit.loans", "", map[string]any{"description": "audited"}, nil)

	var page struct {
		Events []struct {
			Sequence      string   `json:"sequence"`
			Principal     string   `json:"principal"`
			Method        string   `json:"method"`
			Resource      string   `json:"resource"`
			Outcome       string   `json:"outcome"`
			RequestDigest string   `json:"requestDigest"`
			Groups        []string `json:"groups"`
			Hash          string   `json:"hash"`
			PreviousHash  string   `json:"previousHash"`
		} `json:"events"`
	}
	if code := r.do(t, "GET", "/v1/auditEvents", "", nil, &page); code != 200 {
		t.Fatalf("list: %d", code)
	}
	want := []struct{ method, resource, outcome string }{
		{"/lakeplane.v1.IngestService/CreateDataset", "credit.loans", "OK"},
		{"/lakeplane.v1.IngestService/CreateDataset", "Bad", "INVALID_ARGUMENT"},
		{"/lakeplane.v1.IngestService/UpdateDataset", "credit.loans", "OK"},
	}
	if len(page.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(page.Events), len(want), page.Events)
	}
	for i, w := range want {
		e := page.Events[i]
		if e.Method != w.method || e.Resource != w.resource || e.Outcome != w.outcome || e.Principal != "local" || len(e.RequestDigest) != 64 {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
		if i > 0 && e.PreviousHash != page.Events[i-1].Hash {
			t.Errorf("event %d does not link to the one before", i)
		}
	}
	var filtered struct {
		Events []map[string]any `json:"events"`
	}
	r.do(t, "GET", "/v1/auditEvents?method=/lakeplane.v1.IngestService/UpdateDataset", "", nil, &filtered)
	if len(filtered.Events) != 1 {
		t.Fatalf("method filter: %v", filtered.Events)
	}

	var raw map[string]any
	r.do(t, "POST", "/v1/auditEvents:verify", "", map[string]any{}, &raw)
	if raw["valid"] != true || raw["eventsChecked"] != "3" || raw["firstBadEvent"] != "" {
		t.Fatalf("verify: %v", raw)
	}

	db := r.app.store.(interface{ DB() *sql.DB }).DB()
	_, _ = db.Exec(`DROP TRIGGER audit_events_no_update`)
	if _, err := db.Exec(`UPDATE audit_events SET outcome = 'OK' WHERE sequence = 2`); err != nil {
		t.Fatal(err)
	}
	var ids struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	r.do(t, "GET", "/v1/auditEvents", "", nil, &ids)
	r.do(t, "POST", "/v1/auditEvents:verify", "", map[string]any{}, &raw)
	if raw["valid"] != false || raw["firstBadEvent"] != ids.Events[1].ID {
		t.Fatalf("after editing event 2: %v (event 2 is %s)", raw, ids.Events[1].ID)
	}
}
