package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
)

var qualityTests = []conformanceTest{
	{"SuiteLifecycle", testSuiteLifecycle},
	{"ValidationsRecordedAndListed", testValidations},
}

func testSuiteLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	created, err := s.CreateSuite(ctx, &suite.Suite{Name: "loans-basic", DQDL: `Rules = [ RowCount > 0 ]`, Description: "기본"})
	if err != nil || created.Etag == "" || created.CreateTime.IsZero() {
		t.Fatalf("CreateSuite: %+v %v", created, err)
	}
	if _, err := s.CreateSuite(ctx, &suite.Suite{Name: "loans-basic", DQDL: "x"}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second CreateSuite: %v", err)
	}
	got, err := s.GetSuite(ctx, "loans-basic")
	if err != nil || got.DQDL != created.DQDL || got.Description != "기본" || !got.CreateTime.Equal(created.CreateTime) {
		t.Fatalf("GetSuite: %+v %v", got, err)
	}
	stale := *got
	next := *got
	next.DQDL = `Rules = [ RowCount > 1 ]`
	updated, err := s.UpdateSuite(ctx, &next)
	if err != nil || updated.Etag == got.Etag || updated.DQDL != next.DQDL {
		t.Fatalf("UpdateSuite: %+v %v", updated, err)
	}
	if _, err := s.UpdateSuite(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateSuite with a stale etag: %v", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.CreateSuite(ctx, &suite.Suite{Name: fmt.Sprintf("s%d", i), DQDL: "Rules = [ RowCount > 0 ]"}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	token := ""
	for {
		page, err := s.ListSuites(ctx, 2, token)
		if err != nil {
			t.Fatalf("ListSuites: %v", err)
		}
		for _, x := range page.Items {
			names = append(names, x.Name)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if fmt.Sprint(names) != "[loans-basic s0 s1 s2]" {
		t.Fatalf("suites listed: %v", names)
	}
	if err := s.DeleteSuite(ctx, "loans-basic", got.Etag); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("DeleteSuite with a stale etag: %v", err)
	}
	if err := s.DeleteSuite(ctx, "loans-basic", ""); err != nil {
		t.Fatalf("DeleteSuite: %v", err)
	}
	if _, err := s.GetSuite(ctx, "loans-basic"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSuite after delete: %v", err)
	}
	if err := s.DeleteSuite(ctx, "loans-basic", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteSuite: %v", err)
	}
}

func testValidations(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	results := json.RawMessage(`[{"rule":"RowCount > 0","outcome":"PASS"}]`)
	var ids []string
	for i, o := range []suite.Outcome{suite.Pass, suite.Fail, suite.Pass, suite.Error} {
		v, err := s.CreateValidation(ctx, &suite.Validation{Suite: "basic", Target: "file:///x.csv", Dataset: []string{"a.b", "a.c"}[i%2],
			JobID: "job", Outcome: o, RowsEvaluated: int64(10 * i), RuleResults: results,
			StartTime: base.Add(time.Duration(i) * time.Minute), EndTime: base.Add(time.Duration(i)*time.Minute + time.Second)})
		if err != nil {
			t.Fatalf("CreateValidation: %v", err)
		}
		ids = append(ids, v.ID)
	}
	got, err := s.GetValidation(ctx, ids[1])
	if err != nil || got.Outcome != suite.Fail || got.RowsEvaluated != 10 || got.Dataset != "a.c" || string(got.RuleResults) != string(results) || !got.StartTime.Equal(base.Add(time.Minute)) {
		t.Fatalf("GetValidation: %+v %v", got, err)
	}
	list := func(opts store.ListValidationsOptions) []string {
		t.Helper()
		var out []string
		opts.PageSize = 1
		for {
			page, err := s.ListValidations(ctx, opts)
			if err != nil {
				t.Fatalf("ListValidations(%+v): %v", opts, err)
			}
			for _, v := range page.Items {
				out = append(out, v.ID)
			}
			if opts.PageToken = page.NextPageToken; opts.PageToken == "" {
				return out
			}
		}
	}
	if got := list(store.ListValidationsOptions{}); fmt.Sprint(got) != fmt.Sprint([]string{ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("newest first: %v", got)
	}
	if got := list(store.ListValidationsOptions{Dataset: "a.b", Outcome: suite.Pass}); fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[0]}) {
		t.Fatalf("a.b passes: %v", got)
	}
	if got := list(store.ListValidationsOptions{Start: base.Add(time.Minute), End: base.Add(3 * time.Minute)}); fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[1]}) {
		t.Fatalf("time window: %v", got)
	}
	if _, err := s.GetValidation(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetValidation of nothing: %v", err)
	}
}
