// Package suite holds the stored forms of quality suites and validation
// results, as plain values the store keeps.
package suite

import (
	"encoding/json"
	"time"
)

// Suite is a named set of DQDL rules, kept as canonical DQDL text.
type Suite struct {
	Name        string
	DQDL        string
	Description string
	Etag        string
	CreateTime  time.Time
	UpdateTime  time.Time
}

// Outcome is the verdict of a validation.
type Outcome string

// The outcomes of a validation.
const (
	Pass  Outcome = "PASS"
	Fail  Outcome = "FAIL"
	Error Outcome = "ERROR"
)

// Validation is the recorded result of running a suite on a target.
type Validation struct {
	ID            string
	Suite         string
	Target        string // the object URI, or "dataset@snapshot"
	Dataset       string
	JobID         string
	Outcome       Outcome
	RowsEvaluated int64
	// RuleResults are the per-rule results, as JSON of the evaluator's
	// results (opaque to the store).
	RuleResults json.RawMessage
	StartTime   time.Time
	EndTime     time.Time
}
