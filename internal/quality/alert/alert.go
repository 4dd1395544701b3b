// Package alert tells someone when a validation fails: each FAIL or ERROR
// result becomes an Alert, a summary without sample values, sent to every
// configured Sink (a signed webhook here; Amazon SNS later) by a Dispatcher
// that delivers in the background, retries with exponential backoff and
// records every delivery, and the alerts it gave up on as dead letters, in
// the store.
package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
)

// Alert is what a sink is told of a validation that did not pass. It holds
// measurements (observed, expected, failing row counts) but never sample
// values, so that no value of a masked column leaves lakeplane.
type Alert struct {
	ValidationID  string        `json:"validationId"`
	Suite         string        `json:"suite"`
	Target        string        `json:"target"`
	Dataset       string        `json:"dataset,omitempty"`
	JobID         string        `json:"jobId,omitempty"`
	Outcome       suite.Outcome `json:"outcome"`
	RowsEvaluated int64         `json:"rowsEvaluated"`
	StartTime     time.Time     `json:"startTime"`
	EndTime       time.Time     `json:"endTime"`
	// FailingRules are the rules that did not pass, in suite order.
	FailingRules []FailingRule `json:"failingRules"`
}

// FailingRule is one rule that failed or could not be evaluated.
type FailingRule struct {
	Rule        string `json:"rule"`
	Outcome     string `json:"outcome"`
	Observed    string `json:"observed,omitempty"`
	Expected    string `json:"expected,omitempty"`
	FailingRows int64  `json:"failingRows"`
	Message     string `json:"message,omitempty"`
}

// Sink is somewhere alerts are sent. Implementations are safe for
// concurrent use.
type Sink interface {
	// Name is the sink's configured name, unique among the sinks.
	Name() string
	// Send delivers one alert, whose JSON encoding is body, once: the
	// Dispatcher retries. It honours ctx's deadline.
	Send(ctx context.Context, a *Alert, body []byte) error
}

// FromValidation summarises a recorded validation result as an Alert.
func FromValidation(v *suite.Validation) (*Alert, error) {
	var results []eval.Result
	if len(v.RuleResults) > 0 {
		if err := json.Unmarshal(v.RuleResults, &results); err != nil {
			return nil, fmt.Errorf("validation %s: stored results: %w", v.ID, err)
		}
	}
	a := &Alert{
		ValidationID: v.ID, Suite: v.Suite, Target: v.Target, Dataset: v.Dataset, JobID: v.JobID,
		Outcome: v.Outcome, RowsEvaluated: v.RowsEvaluated, StartTime: v.StartTime, EndTime: v.EndTime,
		FailingRules: []FailingRule{},
	}
	for _, r := range results {
		if r.Outcome == eval.Pass {
			continue
		}
		a.FailingRules = append(a.FailingRules, FailingRule{
			Rule: r.Rule, Outcome: r.Outcome.String(), Observed: r.Observed, Expected: r.Expected,
			FailingRows: r.FailingRows, Message: r.Message,
		})
	}
	return a, nil
}
