package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/quality/alert"
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
	Target        string `json:"target"`
	Dataset       string `json:"dataset"`
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
	// Two validations: the stream rules, and RowCount (post-load: the
	// whole table's) on the new snapshot.
	if j := r.watch(t, started["id"].(string)); j.GetState() != lakeplanev1.JobState_SUCCEEDED || len(j.GetValidations()) != 2 {
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

// hookCall is one request a test webhook receiver saw.
type hookCall struct {
	body      []byte
	signature string
	timestamp string
}

// A load breaking its suite alerts every configured webhook: the live one
// gets a signed summary without sample values, the one that is down gets
// its tries and ends a dead letter, and both deliveries show on the
// validation over REST.
func TestFailedValidationAlertsWebhooks(t *testing.T) {
	calls := make(chan hookCall, 10)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- hookCall{body, r.Header.Get(alert.SignatureHeader), r.Header.Get(alert.TimestampHeader)}
	}))
	defer live.Close()
	var downHits atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer down.Close()
	t.Setenv("LAKEPLANE_TEST_HOOK_SECRET", "hook-secret-1")
	t.Setenv("LAKEPLANE_TEST_DOWN_SECRET", "hook-secret-2")
	cfgFile := filepath.Join(t.TempDir(), "lakeplane.yaml")
	cfg := fmt.Sprintf(`alertAttempts: 3
alertBackoff: 10ms
alertMaxBackoff: 20ms
alertWebhooks:
  - {name: oncall, url: %q, secretEnv: LAKEPLANE_TEST_HOOK_SECRET}
  - {name: broken, url: %q, secretEnv: LAKEPLANE_TEST_DOWN_SECRET}
`, live.URL+"/hook", down.URL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, "--config="+cfgFile)

	suiteText := `Rules = [ ColumnLength "name" <= 4, RowCount > 0 ]`
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "short-names", "dqdl": suiteText}, nil); code != 200 {
		t.Fatalf("create suite: %d", code)
	}
	ds := customersDataset()
	ds["qualitySuite"] = "short-names"
	ds["columns"].([]map[string]any)[1]["pii"] = true
	if code := r.do(t, "POST", "/v1/datasets", "", ds, nil); code != 200 {
		t.Fatalf("create dataset: %d", code)
	}
	// Names 홍길동1..홍길동9 fit in 4 characters; 홍길동10..12 do not.
	var started map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": r.landing(t, "long.csv", []byte(customersCSV(1, 12, 0)))}, &started)
	j := r.watch(t, started["id"].(string))
	if j.GetState() != lakeplanev1.JobState_FAILED || len(j.GetValidations()) != 1 {
		t.Fatalf("a load breaking the suite: %v", j)
	}
	id := j.GetValidations()[0]

	var call hookCall
	select {
	case call = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook got no alert")
	}
	if err := alert.Verify([]byte("hook-secret-1"), call.timestamp, call.body, call.signature, time.Minute, time.Now()); err != nil {
		t.Fatalf("alert signature: %v", err)
	}
	if strings.Contains(string(call.body), "홍길동") {
		t.Fatalf("the alert shows a masked value: %s", call.body)
	}
	var a alert.Alert
	if err := json.Unmarshal(call.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.ValidationID != id || a.JobID != j.GetId() || a.Outcome != "FAIL" || a.RowsEvaluated != 12 || a.Dataset != "insure.customers" ||
		len(a.FailingRules) != 1 || a.FailingRules[0].FailingRows != 3 || a.FailingRules[0].Expected == "" {
		t.Fatalf("alert: %+v", a)
	}

	type alertJSON struct {
		Sink      string `json:"sink"`
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError"`
		Time      string `json:"time"`
	}
	var v struct {
		validationJSON
		Alerts []alertJSON `json:"alerts"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.do(t, "GET", "/v1/validations/"+id, "", nil, &v)
		if len(v.Alerts) == 2 && v.Alerts[0].State == "DEAD_LETTER" && v.Alerts[1].State == "DELIVERED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the validation's alerts: %+v", v.Alerts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b := v.Alerts[0]; b.Sink != "broken" || b.Attempts != 3 || !strings.Contains(b.LastError, "500") || b.Time == "" {
		t.Fatalf("the down webhook's delivery: %+v", b)
	}
	if o := v.Alerts[1]; o.Sink != "oncall" || o.Attempts != 1 || o.LastError != "" {
		t.Fatalf("the live webhook's delivery: %+v", o)
	}
	if n := downHits.Load(); n != 3 {
		t.Fatalf("the down webhook got %d tries, want 3", n)
	}
	var list struct {
		Validations []struct {
			ID     string      `json:"id"`
			Alerts []alertJSON `json:"alerts"`
		} `json:"validations"`
	}
	r.do(t, "GET", "/v1/validations?dataset=insure.customers", "", nil, &list)
	if len(list.Validations) != 1 || list.Validations[0].ID != id || len(list.Validations[0].Alerts) != 2 {
		t.Fatalf("listed validations: %+v", list.Validations)
	}

	// ValidateObject alerts too; a passing validation does not.
	if code := r.do(t, "POST", "/v1/suites/short-names:validateObject", "", map[string]any{"sourceUri": r.landing(t, "again.csv", []byte(customersCSV(8, 11, 0))), "dataset": "insure.customers"}, &v); code != 200 || v.Outcome != "FAIL" {
		t.Fatalf("validate an object: %d %+v", code, v)
	}
	select {
	case call = <-calls:
		var again alert.Alert
		if err := json.Unmarshal(call.body, &again); err != nil || again.ValidationID != v.ID || again.JobID != "" {
			t.Fatalf("ValidateObject's alert: %+v %v", again, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ValidateObject's failure alerted no one")
	}
	if code := r.do(t, "POST", "/v1/suites/short-names:validateObject", "", map[string]any{"sourceUri": r.landing(t, "fine.csv", []byte(customersCSV(1, 5, 0))), "dataset": "insure.customers"}, &v); code != 200 || v.Outcome != "PASS" {
		t.Fatalf("validate a good object: %d %+v", code, v)
	}
	select {
	case call = <-calls:
		t.Fatalf("a PASS alerted: %s", call.body)
	case <-time.After(200 * time.Millisecond):
	}
}

// loadInto queues a load of content into dataset id and waits for its end.
func (r *running) loadInto(t *testing.T, id, name, content string, extra map[string]any) *lakeplanev1.Job {
	t.Helper()
	body := map[string]any{"sourceUri": r.landing(t, name, []byte(content))}
	for k, v := range extra {
		body[k] = v
	}
	var started map[string]any
	if code := r.do(t, "POST", "/v1/datasets/"+id+":ingest", "", body, &started); code != 200 {
		t.Fatalf("ingest %s into %s: %d %v", name, id, code, started)
	}
	return r.watch(t, started["id"].(string))
}

// validation reads a recorded validation over REST.
func (r *running) validation(t *testing.T, id string) validationJSON {
	t.Helper()
	var v validationJSON
	if code := r.do(t, "GET", "/v1/validations/"+id, "", nil, &v); code != 200 {
		t.Fatalf("get validation %s: %d", id, code)
	}
	return v
}

// tableState is a dataset's current snapshot and row count, as REST shows
// them.
func (r *running) tableState(t *testing.T, id string) (snapshot, rows string, d map[string]any) {
	t.Helper()
	if code := r.do(t, "GET", "/v1/datasets/"+id, "", nil, &d); code != 200 {
		t.Fatalf("get dataset %s: %d", id, code)
	}
	snapshot, _ = d["currentSnapshotId"].(string)
	rows, _ = d["rowCount"].(string)
	return snapshot, rows, d
}

// A post-load rule (RowCount of the whole table) that a second load breaks
// rolls the table back to the snapshot before it, by default, and fails
// the job with both validations linked; with the policy KEEP the job
// succeeds in a QUALITY_WARNING phase, the failed validation linked, and
// the table keeps the load.
func TestPostLoadRulesRollBackOrKeep(t *testing.T) {
	r := startServer(t)
	const sizeSuite = `Rules = [ IsComplete "customer_id", RowCount < 15 ]`
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "customers-size", "dqdl": sizeSuite}, nil); code != 200 {
		t.Fatalf("create suite: %d", code)
	}
	for _, tc := range []struct {
		id, policy string
	}{{"insure.customers", ""}, {"insure.customers_kept", "KEEP"}} {
		ds := customersDataset()
		ds["id"], ds["qualitySuite"] = tc.id, "customers-size"
		if tc.policy != "" {
			ds["qualityFailurePolicy"] = tc.policy
		}
		var created map[string]any
		if code := r.do(t, "POST", "/v1/datasets", "", ds, &created); code != 200 {
			t.Fatalf("create dataset %s: %d %v", tc.id, code, created)
		}
		if tc.policy != "" && created["qualityFailurePolicy"] != tc.policy {
			t.Fatalf("dataset %s's policy: %v", tc.id, created["qualityFailurePolicy"])
		}

		first := r.loadInto(t, tc.id, tc.id+"-1.csv", customersCSV(1, 10, 0), nil)
		if first.GetState() != lakeplanev1.JobState_SUCCEEDED || len(first.GetValidations()) != 2 {
			t.Fatalf("%s: first load: %v", tc.id, first)
		}
		if post := r.validation(t, first.GetValidations()[1]); post.Outcome != "PASS" || post.RuleResults[0].Observed != "10" {
			t.Fatalf("%s: first load's post-load validation: %+v", tc.id, post)
		}
		snap1, rows1, _ := r.tableState(t, tc.id)
		if snap1 == "0" || snap1 == "" || rows1 != "10" || fmt.Sprint(first.GetSnapshotId()) != snap1 {
			t.Fatalf("%s: after the first load: snapshot %s, %s rows (job's snapshot %d)", tc.id, snap1, rows1, first.GetSnapshotId())
		}

		second := r.loadInto(t, tc.id, tc.id+"-2.csv", customersCSV(11, 20, 0), nil)
		if len(second.GetValidations()) != 2 {
			t.Fatalf("%s: second load's validations: %v", tc.id, second)
		}
		stream, post := r.validation(t, second.GetValidations()[0]), r.validation(t, second.GetValidations()[1])
		if stream.Outcome != "PASS" || stream.RowsEvaluated != "10" || len(stream.RuleResults) != 1 {
			t.Fatalf("%s: second load's stream validation: %+v", tc.id, stream)
		}
		if post.Outcome != "FAIL" || post.JobID != second.GetId() || len(post.RuleResults) != 1 ||
			post.RuleResults[0].Outcome != "FAIL" || post.RuleResults[0].Observed != "20" {
			t.Fatalf("%s: second load's post-load validation: %+v", tc.id, post)
		}
		snap, rows, _ := r.tableState(t, tc.id)
		switch tc.policy {
		case "":
			if second.GetState() != lakeplanev1.JobState_FAILED || second.GetError().GetCode() != "FAILED_PRECONDITION" ||
				!strings.Contains(second.GetError().GetMessage(), "rolled back to snapshot "+snap1) || second.GetSnapshotId() != 0 {
				t.Fatalf("%s: a load breaking a post-load rule: %v", tc.id, second)
			}
			if snap != snap1 || rows != "10" {
				t.Fatalf("%s: after the rollback: snapshot %s (want %s), %s rows (want 10)", tc.id, snap, snap1, rows)
			}
			// The table accepts the next load that keeps it within the rule.
			if third := r.loadInto(t, tc.id, tc.id+"-3.csv", customersCSV(11, 12, 0), nil); third.GetState() != lakeplanev1.JobState_SUCCEEDED {
				t.Fatalf("%s: a load within the rule after the rollback: %v", tc.id, third)
			}
			if _, rows, _ := r.tableState(t, tc.id); rows != "12" {
				t.Fatalf("%s: rows after the third load: %s", tc.id, rows)
			}
		case "KEEP":
			if second.GetState() != lakeplanev1.JobState_SUCCEEDED || !strings.HasPrefix(second.GetPhase(), "QUALITY_WARNING: ") ||
				!strings.Contains(second.GetPhase(), post.ID) || fmt.Sprint(second.GetSnapshotId()) != snap {
				t.Fatalf("%s: a kept load breaking a post-load rule: %v", tc.id, second)
			}
			if snap == snap1 || rows != "20" {
				t.Fatalf("%s: after the kept load: snapshot %s, %s rows (want 20)", tc.id, snap, rows)
			}
		}
	}
}

// A ReferentialIntegrity rule against another dataset runs on the new
// snapshot: it passes when every customer id of the policies is a
// customer, and otherwise fails, with the missing key sampled, and the
// load is rolled back.
func TestPostLoadReferentialIntegrity(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create customers: %d", code)
	}
	if j := r.loadInto(t, "insure.customers", "customers.csv", customersCSV(1, 10, 0), nil); j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("load customers: %v", j)
	}
	const refSuite = `Rules = [ ReferentialIntegrity "customer_id" "insure.customers.customer_id" = 1.0 ]`
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "policies-ref", "dqdl": refSuite}, nil); code != 200 {
		t.Fatalf("create suite: %d", code)
	}
	policies := map[string]any{
		"id": "insure.policies",
		"columns": []map[string]any{
			{"name": "policy_id", "type": "INT64"},
			{"name": "customer_id", "type": "INT64", "nullable": true},
		},
		"primaryKey":   []string{"policy_id"},
		"qualitySuite": "policies-ref",
	}
	if code := r.do(t, "POST", "/v1/datasets", "", policies, nil); code != 200 {
		t.Fatalf("create policies: %d", code)
	}

	// A null customer refers to nothing and is not counted.
	good := r.loadInto(t, "insure.policies", "good.csv", "policy_id,customer_id\n1,1\n2,10\n3,\n4,5\n", nil)
	if good.GetState() != lakeplanev1.JobState_SUCCEEDED || len(good.GetValidations()) != 1 {
		t.Fatalf("policies of known customers: %v", good)
	}
	if v := r.validation(t, good.GetValidations()[0]); v.Outcome != "PASS" || v.RuleResults[0].Observed != "1" || v.RowsEvaluated != "4" {
		t.Fatalf("the reference rule on good rows: %+v", v)
	}
	snap1, _, _ := r.tableState(t, "insure.policies")

	bad := r.loadInto(t, "insure.policies", "bad.csv", "policy_id,customer_id\n5,2\n6,99\n", nil)
	if bad.GetState() != lakeplanev1.JobState_FAILED || bad.GetError().GetCode() != "FAILED_PRECONDITION" || len(bad.GetValidations()) != 1 {
		t.Fatalf("a policy of an unknown customer: %v", bad)
	}
	v := r.validation(t, bad.GetValidations()[0])
	rr := v.RuleResults[0]
	if v.Outcome != "FAIL" || rr.Observed != "0.8" || rr.FailingRows != "1" || len(rr.Samples) != 1 || rr.Samples[0].Value != "99" {
		t.Fatalf("the reference rule on a bad row: %+v", v)
	}
	if snap, rows, _ := r.tableState(t, "insure.policies"); snap != snap1 || rows != "4" {
		t.Fatalf("policies after the rollback: snapshot %s (want %s), %s rows", snap, snap1, rows)
	}
}

// An object validated without a dataset, before any exists: its columns
// are typed by discovering its schema (a DECIMAL premium, a DATE joined),
// the suite passes with the exact observed values or fails with the
// failing rows sampled, and the result names the object. A rule that needs
// a dataset is refused, and so is a bad sourceUri.
func TestValidateObjectWithoutDataset(t *testing.T) {
	r := startServer(t)
	const landingSuite = `Rules = [
    ColumnOrder = ["customer_id", "name", "premium", "joined", "note"],
    ColumnDataType "premium" = "DECIMAL",
    RowCount = 10,
    IsPrimaryKey "customer_id",
    ColumnValues "premium" between 0 and 200,
    Sum "premium" = 550.55,
    Mean "premium" = 55.055,
    ColumnValues "joined" <= "2024-01-11"
]`
	for name, text := range map[string]string{
		"landing-check": landingSuite,
		"premium-cap":   `Rules = [ ColumnValues "premium" <= 50, RowCount > 0 ]`,
		"landing-refs":  `Rules = [ ReferentialIntegrity "customer_id" "insure.customers.customer_id" = 1.0 ]`,
	} {
		if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": name, "dqdl": text}, nil); code != 200 {
			t.Fatalf("create suite %s: %d", name, code)
		}
	}
	uri := r.landing(t, "new-customers.csv", []byte(customersCSV(1, 10, 0)))

	var v validationJSON
	if code := r.do(t, "POST", "/v1/suites/landing-check:validateObject", "", map[string]any{"sourceUri": uri}, &v); code != 200 {
		t.Fatalf("validate without a dataset: %d %+v", code, v)
	}
	if v.Outcome != "PASS" || v.RowsEvaluated != "10" || v.Target != uri || v.Dataset != "" || v.Suite != "landing-check" || v.ID == "" {
		t.Fatalf("validation without a dataset: %+v", v)
	}
	observed := []string{`["customer_id", "name", "premium", "joined", "note"]`, "DECIMAL(5,2)", "10", "completeness 1, uniqueness 1", "1", "550.55", "55.055", "1"}
	if len(v.RuleResults) != len(observed) {
		t.Fatalf("rule results: %+v", v.RuleResults)
	}
	for i, rr := range v.RuleResults {
		if rr.Outcome != "PASS" || rr.Observed != observed[i] || (rr.FailingRows != "" && rr.FailingRows != "0") || len(rr.Samples) != 0 {
			t.Errorf("rule %d: %+v, want PASS observing %q", i+1, rr, observed[i])
		}
	}

	// Premiums 50.05 (row 5) to 100.10 (row 10) break the cap.
	if code := r.do(t, "POST", "/v1/suites/premium-cap:validateObject", "", map[string]any{"sourceUri": uri}, &v); code != 200 || v.Outcome != "FAIL" || v.Target != uri {
		t.Fatalf("validate against the cap: %d %+v", code, v)
	}
	capRule := v.RuleResults[0]
	var samples []string
	for _, s := range capRule.Samples {
		samples = append(samples, s.Row+"="+s.Value)
	}
	if capRule.Outcome != "FAIL" || capRule.Observed != "0.4" || capRule.FailingRows != "6" ||
		strings.Join(samples, " ") != "5=50.05 6=60.06 7=70.07 8=80.08 9=90.09 10=100.10" || v.RuleResults[1].Outcome != "PASS" {
		t.Fatalf("the cap's result: %+v", v.RuleResults)
	}
	var list struct {
		Validations []validationJSON `json:"validations"`
	}
	r.do(t, "GET", "/v1/validations?suite=premium-cap&outcome=FAIL", "", nil, &list)
	if len(list.Validations) != 1 || list.Validations[0].ID != v.ID || list.Validations[0].Target != uri {
		t.Fatalf("listed failures: %+v", list.Validations)
	}

	for _, tc := range []struct {
		suite, uri string
		code       int
		says       []string
	}{
		{"landing-refs", uri, 400, []string{"dataset", `ReferentialIntegrity "customer_id" "insure.customers.customer_id" = 1.0`}},
		{"landing-check", "ftp://landing/new-customers.csv", 400, []string{"sourceUri", "ftp://landing/new-customers.csv"}},
		{"landing-check", uri + ".missing", 404, []string{uri + ".missing"}},
		{"landing-check", r.landing(t, "empty.csv", nil), 400, []string{"sourceUri", "holds no CSV objects"}},
	} {
		var e restError
		code := r.do(t, "POST", "/v1/suites/"+tc.suite+":validateObject", "", map[string]any{"sourceUri": tc.uri}, &e)
		for _, s := range tc.says {
			if code != tc.code || !strings.Contains(e.Message, s) {
				t.Errorf("suite %s on %s: %d %q, want %d saying %q", tc.suite, tc.uri, code, e.Message, tc.code, s)
			}
		}
	}
}
