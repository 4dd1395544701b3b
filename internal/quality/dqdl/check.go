package dqdl

import (
	"errors"
	"fmt"
)

// TargetKind is what a suite runs on, which decides the rules it can hold.
type TargetKind int

// The targets a suite runs on.
const (
	// TargetObject is a CSV object validated on its own: every column is
	// a STRING and there is no dataset to look references up in.
	TargetObject TargetKind = iota + 1
	// TargetDatasetObject is a CSV object validated for a dataset (the
	// ingest gate, or ValidateObject with a dataset): typed columns, and
	// referenced datasets' keys can be looked up.
	TargetDatasetObject
	// TargetDataset is a snapshot of a dataset's table.
	TargetDataset
)

// String names the target.
func (t TargetKind) String() string {
	switch t {
	case TargetObject:
		return "an object without a dataset"
	case TargetDatasetObject:
		return "an object validated for a dataset"
	case TargetDataset:
		return "a dataset snapshot"
	}
	return fmt.Sprintf("TargetKind(%d)", int(t))
}

// RuleError is a rule that cannot run on a target, with the reason.
type RuleError struct {
	// Index is the rule's position in the suite (0-based).
	Index int
	// Rule is the leaf rule refused, as DQDL.
	Rule   string
	Reason string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %d (%s): %s", e.Index+1, e.Rule, e.Reason)
}

// Check returns an error (a *RuleError per refused rule, joined) for every
// rule of rs that cannot be evaluated on target, so that a suite is refused
// when it is saved rather than passed silently when it runs:
//
//   - CustomSql always: lakeplane has no SQL engine;
//   - ReferentialIntegrity on an object without a dataset: the referenced
//     keys are looked up only for dataset targets;
//   - Mean, Sum and StandardDeviation (numeric) and DataFreshness (a DATE
//     or TIMESTAMP column) on an object without a dataset, whose columns
//     are all STRING.
func Check(rs *Ruleset, target TargetKind) error {
	if target < TargetObject || target > TargetDataset {
		return fmt.Errorf("dqdl: unknown target %d", int(target))
	}
	var errs []error
	for i, r := range rs.Rules {
		for _, leaf := range r.Leaves() {
			if reason := refuse(leaf, target); reason != "" {
				errs = append(errs, &RuleError{Index: i, Rule: leaf.String(), Reason: reason})
			}
		}
	}
	return errors.Join(errs...)
}

func refuse(r *Rule, target TargetKind) string {
	switch r.Type {
	case TypeCustomSQL:
		return "lakeplane has no SQL engine to run CustomSql; express the check with ColumnValues, RowCount or another rule type"
	case TypeReferentialIntegrity:
		if target == TargetObject {
			return "ReferentialIntegrity needs a dataset target (an object validated for a dataset, or a dataset snapshot) to look the referenced keys up"
		}
	case TypeMean, TypeSum, TypeStandardDeviation:
		if target == TargetObject {
			return r.Type + " needs a numeric column, and an object validated without a dataset has only STRING columns; validate it for a dataset"
		}
	case TypeDataFreshness:
		if target == TargetObject {
			return "DataFreshness needs a DATE or TIMESTAMP column, and an object validated without a dataset has only STRING columns; validate it for a dataset"
		}
	}
	return ""
}
