package cost

import (
	"encoding/base64"
	"encoding/json"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Page sizes of ListRecommendations.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageSize returns the page size a request asks for: the default when 0,
// at most maxPageSize.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, fault.Invalid("pageSize", "%d is negative", n)
	case n == 0:
		return defaultPageSize, nil
	}
	return min(int(n), maxPageSize), nil
}

// recommendationCursor is what a page token holds: the sort key of the
// last recommendation of the page it follows.
type recommendationCursor struct {
	V        int    `json:"v"`
	Saving   string `json:"s"`
	Kind     Kind   `json:"k"`
	Resource string `json:"r"`
}

// pageRecommendations returns the page of recs (sorted as Recommend sorts
// them) after the one token names, and the token of the next page ("" on
// the last). Recommendations are computed afresh for every page, so a
// token continues after its recommendation's place in the order, whether
// or not it is still there.
func pageRecommendations(recs []Recommendation, token string, size int) ([]Recommendation, string, error) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		var c recommendationCursor
		if err == nil {
			err = json.Unmarshal(raw, &c)
		}
		var saving decimal.Decimal
		if err == nil {
			saving, err = decimal.NewFromString(c.Saving)
		}
		if err != nil || c.V != 1 {
			return nil, "", fault.Invalid("pageToken", "%q is not a page token of ListRecommendations", token)
		}
		last := Recommendation{Kind: c.Kind, Resource: c.Resource, MonthlySaving: saving}
		for start < len(recs) && compareRecommendations(recs[start], last) <= 0 {
			start++
		}
	}
	end := min(start+size, len(recs))
	page := recs[start:end]
	if end == len(recs) {
		return page, "", nil
	}
	last := recs[end-1]
	raw, _ := json.Marshal(recommendationCursor{V: 1, Saving: last.MonthlySaving.String(), Kind: last.Kind, Resource: last.Resource})
	return page, base64.RawURLEncoding.EncodeToString(raw), nil
}
