package main

import (
	"strings"
	"testing"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
)

const customersSuite = `Rules = [
    ColumnOrder = ["customer_id", "name", "premium", "joined", "note"],
    IsComplete "customer_id",
    IsUnique "customer_id",
    ColumnValues "premium" between 0 and 100000,
    RowCount > 0
]`

type validationJSON struct {
	ID            string `json:"id"`
	Suite         string `json:"suite"`
	Outcome       string `json:"outcome"`
	RowsEvaluated string `json:"rowsEvaluated"`
	JobID         string `json:"jobId"`
	RuleResults   []struct {
		Rule        string `json:"rule"`
		Outcome     string `json:"outcome"`
		Observed    string `json:"observed"`
		FailingRows string `json:"failingRows"`
		Samples     []struct {
			Row   string `json:"row"`
			Value string `json:"value"`
		} `json:"samples"`
	} `json:"ruleResults"`
}

// Suites gate every load: a file that breaks a rule fails before the commit
// with the result linked; a good one loads with its result linked.
func TestQualityGatesIngest(t *testing.T) {
	r := startServer(t)
	var suite map[string]any
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "customers-basic", "dqdl": customersSuite}, &suite); code != 200 {
		t.Fatalf("create suite: %d %v", code, suite)
	}
	if rules, _ := suite["rules"].([]any); len(rules) != 5 {
		t.Fatalf("suite's structured rules: %v", suite["rules"])
	}
	var bad map[string]any
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "broken", "dqdl": "Rules = [ RowCount >"}, &bad); code != 400 || !strings.Contains(bad["message"].(string), "line 1") {
		t.Fatalf("a suite with a syntax error: %d %v", code, bad)
	}
	ds := customersDataset()
	ds["qualitySuite"] = "customers-basic"
	if code := r.do(t, "POST", "/v1/datasets", "", ds, nil); code != 200 {
		t.Fatalf("create dataset: %d", code)
	}

	// Row 7's premium (7000.07) is fine; make row 9's far too large.
	src := strings.Replace(customersCSV(1, 10, 0), "90.09,", "900000.09,", 1)
	var started map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, "bad.csv", []byte(src))}, &started)
	j := r.watch(t, started["id"].(string))
	if j.GetState() != lakeplanev1.JobState_FAILED || j.GetError().GetCode() != "FAILED_PRECONDITION" || len(j.GetValidations()) != 1 {
		t.Fatalf("a load breaking the suite: %v", j)
	}
	var v validationJSON
	r.do(t, "GET", "/v1/validations/"+j.GetValidations()[0], "", nil, &v)
	if v.Outcome != "FAIL" || v.JobID != j.GetId() || v.RowsEvaluated != "10" {
		t.Fatalf("gate's validation: %+v", v)
	}
	var failed bool
	for _, rr := range v.RuleResults {
		if strings.HasPrefix(rr.Rule, "ColumnValues") {
			failed = rr.Outcome == "FAIL" && rr.FailingRows == "1" && len(rr.Samples) == 1 && rr.Samples[0].Row == "9" && rr.Samples[0].Value == "900000.09"
		}
	}
	if !failed {
		t.Fatalf("the range rule's result: %+v", v.RuleResults)
	}
	var d map[string]any
	r.do(t, "GET", "/v1/datasets/insure.customers", "", nil, &d)
	if d["currentSnapshotId"] != "0" {
		t.Fatalf("a gated-out load committed: %v", d["currentSnapshotId"])
	}

	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, "good.csv", []byte(customersCSV(1, 10, 0)))}, &started)
	if j := r.watch(t, started["id"].(string)); j.GetState() != lakeplanev1.JobState_SUCCEEDED || len(j.GetValidations()) != 1 {
		t.Fatalf("a good load: %v", j)
	}

	// A wrong column order fails ColumnOrder when validated on its own.
	reordered := "name,customer_id,premium,joined,note\n홍길동,1,10.01,2024-01-02,x\n"
	if code := r.do(t, "POST", "/v1/suites/customers-basic:validateObject", "", map[string]any{"sourceUri": r.landing(t, "order.csv", []byte(reordered)), "dataset": "insure.customers"}, &v); code != 200 || v.Outcome != "FAIL" {
		t.Fatalf("validate a reordered object: %d %+v", code, v)
	}
	if v.RuleResults[0].Outcome != "FAIL" || !strings.Contains(v.RuleResults[0].Observed, "name") {
		t.Fatalf("ColumnOrder result: %+v", v.RuleResults[0])
	}
	// The loaded table passes the suite's table rules.
	if code := r.do(t, "POST", "/v1/suites/customers-basic:validateDataset", "", map[string]any{"dataset": "insure.customers"}, &v); code != 200 || v.RowsEvaluated != "10" || v.Outcome != "PASS" {
		t.Fatalf("validate the dataset: %d %+v", code, v)
	}

	var list struct {
		Validations []validationJSON `json:"validations"`
	}
	r.do(t, "GET", "/v1/validations?dataset=insure.customers&outcome=FAIL", "", nil, &list)
	if len(list.Validations) != 2 {
		t.Fatalf("failed validations of the dataset: %d", len(list.Validations))
	}
}
