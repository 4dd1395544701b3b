package cost

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/store"
)

// DefaultParetoThreshold is the share of cost a Pareto cut reaches when the
// request names none.
const DefaultParetoThreshold = 0.8

// Report is the cost of a period: its total, the cost of each group, the
// Pareto cut and the monthly trend.
type Report struct {
	// Total is the exact sum of every item's cost.
	Total    decimal.Decimal
	Currency string
	// Items are the groups, most costly first (ties by key).
	Items  []Item
	Pareto Pareto
	// Trend is the cost of every month from the first with usage to the
	// last, months without usage included at zero.
	Trend []Month
	// Recommendations are the ways to spend less, most saving first.
	Recommendations []Recommendation
}

// Item is the cost of one group.
type Item struct {
	Key  string
	Cost decimal.Decimal
	// Share is Cost / Total, and CumulativeShare the share of this item
	// and the ones before it; both 0 when Total is not positive.
	Share           float64
	CumulativeShare float64
	// Runs is the number of usage records in the group.
	Runs int64
}

// Pareto is the smallest set of items whose cost reaches Threshold of
// the total: the most costly items, in order, until their cumulative cost
// reaches Threshold × Total.
type Pareto struct {
	Threshold float64
	// ItemsFraction is the fraction of the items in the cut, and
	// CostFraction the fraction of the total cost they make.
	ItemsFraction float64
	CostFraction  float64
	// TopItems are the keys of the items in the cut, most costly first.
	TopItems []string
}

// Month is the cost of one calendar month.
type Month struct {
	// Month is "YYYY-MM".
	Month string
	Cost  decimal.Decimal
	// Change is the change from the month before, as a fraction of it;
	// 0 for the first month and after a month that cost nothing.
	Change float64
}

// BuildReport makes the report from the store's sums: groups as SumUsage
// returns them (most costly first) and months as SumUsageByMonth does (in
// order). threshold is the Pareto threshold, in (0, 1].
func BuildReport(currency string, groups, months []store.UsageSum, threshold float64) (*Report, error) {
	if !(threshold > 0 && threshold <= 1) {
		return nil, fmt.Errorf("pareto threshold %v is not in (0, 1]", threshold)
	}
	rep := &Report{Total: decimal.Zero, Currency: currency, Pareto: Pareto{Threshold: threshold, TopItems: []string{}}}
	for _, g := range groups {
		rep.Total = rep.Total.Add(g.Cost)
	}
	positive := rep.Total.IsPositive()
	cum := decimal.Zero
	for _, g := range groups {
		cum = cum.Add(g.Cost)
		it := Item{Key: g.Key, Cost: g.Cost, Runs: g.Records}
		if positive {
			it.Share = ratio(g.Cost, rep.Total)
			it.CumulativeShare = ratio(cum, rep.Total)
		}
		rep.Items = append(rep.Items, it)
	}
	if positive {
		// Items come most costly first, and the positive ones sum to the
		// total at least, so the cut ends among them.
		goal := decimal.NewFromFloat(threshold).Mul(rep.Total)
		cut := decimal.Zero
		for _, it := range rep.Items {
			cut = cut.Add(it.Cost)
			rep.Pareto.TopItems = append(rep.Pareto.TopItems, it.Key)
			if cut.GreaterThanOrEqual(goal) {
				break
			}
		}
		rep.Pareto.ItemsFraction = float64(len(rep.Pareto.TopItems)) / float64(len(rep.Items))
		rep.Pareto.CostFraction = ratio(cut, rep.Total)
	}
	trend, err := fillMonths(months)
	if err != nil {
		return nil, err
	}
	rep.Trend = trend
	return rep, nil
}

// ratio returns a / b as a float64, computed in decimal first.
func ratio(a, b decimal.Decimal) float64 {
	return a.DivRound(b, 18).InexactFloat64()
}

// fillMonths returns the trend of months in order, with the months
// between them that had no usage at zero, and each month's change.
func fillMonths(months []store.UsageSum) ([]Month, error) {
	var out []Month
	for _, m := range months {
		at, err := time.Parse("2006-01", m.Key)
		if err != nil {
			return nil, fmt.Errorf("month %q from the store: %w", m.Key, err)
		}
		if len(out) > 0 {
			last, _ := time.Parse("2006-01", out[len(out)-1].Month)
			if !at.After(last) {
				return nil, fmt.Errorf("months from the store out of order: %s after %s", m.Key, out[len(out)-1].Month)
			}
			for next := last.AddDate(0, 1, 0); next.Before(at); next = next.AddDate(0, 1, 0) {
				out = append(out, Month{Month: next.Format("2006-01"), Cost: decimal.Zero})
			}
		}
		out = append(out, Month{Month: m.Key, Cost: m.Cost})
	}
	for i := 1; i < len(out); i++ {
		if prev := out[i-1].Cost; !prev.IsZero() {
			out[i].Change = ratio(out[i].Cost.Sub(prev), prev.Abs())
		}
	}
	return out, nil
}
