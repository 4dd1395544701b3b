package main

import (
	"testing"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
)

// Uniqueness rules of a load into a table that already has rows judge the
// old rows with the new: a file that is unique in itself but repeats a key
// the table holds fails after the commit and the table goes back to the
// snapshot before it; a file of new keys passes.
func TestUniquenessAcrossOldAndNewRows(t *testing.T) {
	r := startServer(t)
	const suite = `Rules = [ IsUnique "event_id", Uniqueness "event_id" = 1.0 ]`
	if code := r.do(t, "POST", "/v1/suites", "", map[string]any{"name": "events-unique", "dqdl": suite}, nil); code != 200 {
		t.Fatalf("create suite: %d", code)
	}
	events := map[string]any{
		"id": "insure.events",
		"columns": []map[string]any{
			{"name": "event_id", "type": "INT64"},
			{"name": "kind", "type": "STRING"},
		},
		"qualitySuite": "events-unique",
	}
	if code := r.do(t, "POST", "/v1/datasets", "", events, nil); code != 200 {
		t.Fatalf("create dataset: %d", code)
	}

	// Into the empty table the rules run on the stream: one validation.
	first := r.loadInto(t, "insure.events", "first.csv", "event_id,kind\n1,a\n2,b\n3,c\n", nil)
	if first.GetState() != lakeplanev1.JobState_SUCCEEDED || len(first.GetValidations()) != 1 {
		t.Fatalf("first load: %v", first)
	}
	if v := r.validation(t, first.GetValidations()[0]); v.Outcome != "PASS" || v.RowsEvaluated != "3" {
		t.Fatalf("first load's validation: %+v", v)
	}
	snap1, _, _ := r.tableState(t, "insure.events")

	// New keys: the post-load rules see 5 distinct rows.
	second := r.loadInto(t, "insure.events", "second.csv", "event_id,kind\n4,d\n5,e\n", nil)
	if second.GetState() != lakeplanev1.JobState_SUCCEEDED || len(second.GetValidations()) != 1 {
		t.Fatalf("second load: %v", second)
	}
	post := r.validation(t, second.GetValidations()[0])
	if post.Outcome != "PASS" || post.RowsEvaluated != "5" || len(post.RuleResults) != 2 {
		t.Fatalf("second load's post-load validation: %+v", post)
	}
	if post.RuleResults[1].Observed != "1" {
		t.Fatalf("uniqueness of 5 distinct rows observed %q, want 1", post.RuleResults[1].Observed)
	}
	snap2, rows2, _ := r.tableState(t, "insure.events")
	if snap2 == snap1 || rows2 != "5" {
		t.Fatalf("after the second load: snapshot %s (first %s), %s rows", snap2, snap1, rows2)
	}

	// Unique within the file (2 and 6), but 2 is already in the table.
	third := r.loadInto(t, "insure.events", "third.csv", "event_id,kind\n2,x\n6,f\n", nil)
	if third.GetState() != lakeplanev1.JobState_FAILED || third.GetError().GetCode() != "FAILED_PRECONDITION" || len(third.GetValidations()) != 1 {
		t.Fatalf("a load repeating a key of the table: %v", third)
	}
	v := r.validation(t, third.GetValidations()[0])
	if v.Outcome != "FAIL" || v.RowsEvaluated != "7" {
		t.Fatalf("the post-load validation of the repeating load: %+v", v)
	}
	isUnique, uniqueness := v.RuleResults[0], v.RuleResults[1]
	if isUnique.Outcome != "FAIL" || isUnique.FailingRows != "2" || len(isUnique.Samples) == 0 || isUnique.Samples[0].Value != "2" {
		t.Fatalf("IsUnique over old and new rows: %+v", isUnique)
	}
	// 7 rows, of which 5 hold a value that occurs once.
	if uniqueness.Outcome != "FAIL" || uniqueness.Observed != "5/7" || uniqueness.FailingRows != "2" {
		t.Fatalf("Uniqueness over old and new rows: %+v", uniqueness)
	}
	if snap, rows, _ := r.tableState(t, "insure.events"); snap != snap2 || rows != "5" {
		t.Fatalf("after the rollback: snapshot %s (want %s), %s rows (want 5)", snap, snap2, rows)
	}
}
