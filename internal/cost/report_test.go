package cost

import (
	"reflect"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/store"
)

// sums builds store sums from "key", "cost" pairs, with one record each.
func sums(kv ...string) []store.UsageSum {
	var out []store.UsageSum
	for i := 0; i < len(kv); i += 2 {
		out = append(out, store.UsageSum{Key: kv[i], Cost: decimal.RequireFromString(kv[i+1]), Records: 1})
	}
	return out
}

// longTail is a known distribution: 10 items, total 100.
var longTail = sums("a", "40", "b", "25", "c", "15", "d", "8", "e", "5", "f", "3", "g", "2", "h", "1", "i", "0.6", "j", "0.4")

func TestParetoCut(t *testing.T) {
	for _, tc := range []struct {
		threshold     float64
		top           []string
		costFraction  float64
		itemsFraction float64
	}{
		{0.8, []string{"a", "b", "c"}, 0.8, 0.3},       // reaches 80 exactly
		{0.65, []string{"a", "b"}, 0.65, 0.2},          // exactly 65
		{0.6500001, []string{"a", "b", "c"}, 0.8, 0.3}, // just above
		{0.3, []string{"a"}, 0.4, 0.1},
		{0.99, []string{"a", "b", "c", "d", "e", "f", "g", "h"}, 0.99, 0.8},
		{1, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, 1, 1},
	} {
		rep, err := BuildReport("USD", longTail, nil, tc.threshold)
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Pareto
		if !reflect.DeepEqual(p.TopItems, tc.top) || p.CostFraction != tc.costFraction || p.ItemsFraction != tc.itemsFraction {
			t.Errorf("threshold %v: cut %v (items %v, cost %v); want %v (items %v, cost %v)",
				tc.threshold, p.TopItems, p.ItemsFraction, p.CostFraction, tc.top, tc.itemsFraction, tc.costFraction)
		}
	}
}

func TestReportItems(t *testing.T) {
	rep, err := BuildReport("USD", longTail, nil, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.String() != "100" || len(rep.Items) != 10 {
		t.Fatalf("total %s with %d items", rep.Total, len(rep.Items))
	}
	wantShare := []float64{0.4, 0.25, 0.15, 0.08, 0.05, 0.03, 0.02, 0.01, 0.006, 0.004}
	wantCum := []float64{0.4, 0.65, 0.8, 0.88, 0.93, 0.96, 0.98, 0.99, 0.996, 1}
	for i, it := range rep.Items {
		if it.Share != wantShare[i] || it.CumulativeShare != wantCum[i] || it.Runs != 1 {
			t.Errorf("item %s: share %v, cumulative %v, runs %d; want %v, %v, 1", it.Key, it.Share, it.CumulativeShare, it.Runs, wantShare[i], wantCum[i])
		}
	}
}

func TestReportCreditsAndEmpty(t *testing.T) {
	// A credit lowers the total: 10 + 5 - 5 = 10, so "a" alone is 100%.
	rep, err := BuildReport("USD", sums("a", "10", "b", "5", "credit", "-5"), nil, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.String() != "10" || !reflect.DeepEqual(rep.Pareto.TopItems, []string{"a"}) || rep.Pareto.CostFraction != 1 {
		t.Errorf("report %+v", rep)
	}
	if rep.Items[2].Share != -0.5 || rep.Items[2].CumulativeShare != 1 {
		t.Errorf("credit item %+v", rep.Items[2])
	}
	for _, groups := range [][]store.UsageSum{nil, sums("a", "0"), sums("a", "1", "b", "-2")} {
		rep, err := BuildReport("USD", groups, nil, 0.8)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Pareto.TopItems) != 0 || rep.Pareto.ItemsFraction != 0 {
			t.Errorf("%v: cut %+v, want empty", groups, rep.Pareto)
		}
	}
	for _, bad := range []float64{0, -0.1, 1.01} {
		if _, err := BuildReport("USD", longTail, nil, bad); err == nil {
			t.Errorf("threshold %v accepted", bad)
		}
	}
}

func TestTrend(t *testing.T) {
	months := []store.UsageSum{
		{Key: "2025-11", Cost: decimal.RequireFromString("100")},
		{Key: "2025-12", Cost: decimal.RequireFromString("150")},
		{Key: "2026-03", Cost: decimal.RequireFromString("30")},
		{Key: "2026-04", Cost: decimal.RequireFromString("15")},
	}
	rep, err := BuildReport("USD", nil, months, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var changes []float64
	for _, m := range rep.Trend {
		got = append(got, m.Month+"="+m.Cost.String())
		changes = append(changes, m.Change)
	}
	assertStrings(t, "trend", got, "2025-11=100", "2025-12=150", "2026-01=0", "2026-02=0", "2026-03=30", "2026-04=15")
	if !reflect.DeepEqual(changes, []float64{0, 0.5, -1, 0, 0, -0.5}) {
		t.Errorf("changes %v", changes)
	}
	if _, err := BuildReport("USD", nil, []store.UsageSum{{Key: "2026-02"}, {Key: "2026-01"}}, 0.8); err == nil {
		t.Error("months out of order accepted")
	}
}
