// Package dqdl reads and writes rule suites in AWS Glue's Data Quality
// Definition Language (DQDL): Rules = [ rule, rule, ... ].
//
// Parse accepts the rule types lakeplane can evaluate (RowCount,
// ColumnCount, ColumnExists, ColumnNamesMatchPattern, ColumnDataType,
// IsComplete, Completeness, IsUnique, Uniqueness, IsPrimaryKey,
// UniqueValueRatio, DistinctValuesCount, ColumnValues, ColumnLength, Mean,
// Sum, StandardDeviation, DataFreshness, ReferentialIntegrity), CustomSql
// (parsed so that Check can refuse it with a reason), and lakeplane's own
// ColumnOrder = ["a", "b", ...]. Conditions follow the DQDL grammar
// (awslabs/dqdl): = != > >= < <=, between a and b, in [...], matches
// "regex", not, the NULL, EMPTY and WHITESPACES_ONLY keywords, dates,
// now() ± a duration, durations (DataFreshness), "with threshold", "where"
// clauses on one column, and composite rules joined by and / or.
//
// (*Ruleset).String prints canonical DQDL; ToStructured and FromStructured
// convert to and from the structured form the API exposes (StructuredRule,
// a mirror of lakeplane.v1.Rule), and parse → structured → print gives text
// that parses to the same rules.
package dqdl

import "slices"

// Rule types. ColumnOrder is lakeplane's own; the others are DQDL's.
const (
	TypeRowCount                = "RowCount"
	TypeColumnCount             = "ColumnCount"
	TypeColumnExists            = "ColumnExists"
	TypeColumnNamesMatchPattern = "ColumnNamesMatchPattern"
	TypeColumnDataType          = "ColumnDataType"
	TypeColumnOrder             = "ColumnOrder"
	TypeIsComplete              = "IsComplete"
	TypeCompleteness            = "Completeness"
	TypeIsUnique                = "IsUnique"
	TypeUniqueness              = "Uniqueness"
	TypeIsPrimaryKey            = "IsPrimaryKey"
	TypeUniqueValueRatio        = "UniqueValueRatio"
	TypeDistinctValuesCount     = "DistinctValuesCount"
	TypeColumnValues            = "ColumnValues"
	TypeColumnLength            = "ColumnLength"
	TypeMean                    = "Mean"
	TypeSum                     = "Sum"
	TypeStandardDeviation       = "StandardDeviation"
	TypeDataFreshness           = "DataFreshness"
	TypeReferentialIntegrity    = "ReferentialIntegrity"
	TypeCustomSQL               = "CustomSql"
)

// Ruleset is a parsed suite: the rules in the order written.
type Ruleset struct {
	Rules []*Rule
}

// Composite says how a composite rule combines its parts.
type Composite int

// The ways rules combine. A leaf rule is None.
const (
	None Composite = iota
	// And passes when every part passes.
	And
	// Or passes when at least one part passes.
	Or
)

// Rule is one rule: a leaf (Type set) or a composite (Composite set, with
// Parts).
type Rule struct {
	// Type is the rule type, e.g. "ColumnValues"; empty for a composite.
	Type string
	// Params are the rule's quoted parameters in order: column names, or
	// the pattern of ColumnNamesMatchPattern, the SQL of CustomSql, the
	// "dataset.column" reference of ReferentialIntegrity.
	Params []string
	// Cond is the rule's condition, nil when it has none (IsComplete).
	Cond *Condition
	// Where is the where clause's predicate as written, "" when none.
	Where string
	// Threshold is the "with threshold" condition, nil when none.
	Threshold *Condition

	// Composite and Parts describe a composite rule.
	Composite Composite
	Parts     []*Rule
}

// Op is a condition's operator.
type Op int

// The operators of a condition.
const (
	OpEq Op = iota + 1
	OpNe
	OpGt
	OpGe
	OpLt
	OpLe
	OpBetween
	OpIn
	OpMatches
)

// compareOps are the comparison operators by their text ("<>" only in
// where clauses).
var compareOps = map[string]Op{"=": OpEq, "!=": OpNe, "<>": OpNe, ">": OpGt, ">=": OpGe, "<": OpLt, "<=": OpLe}

// Condition is a constraint such as "> 0.95", "between 1 and 10",
// "not in [\"A\", NULL]" or "matches \"^[0-9]+$\"".
type Condition struct {
	Op Op
	// Not negates between, in and matches ("not in [...]").
	Not bool
	// Values are the operands: one for a comparison, two for between, the
	// list for in (and ColumnOrder's "=" list), the pattern for matches.
	Values []Value
}

// Kind is the kind of a Value.
type Kind int

// The kinds of values a condition holds.
const (
	// Number is a decimal literal such as 42, -1.5 or 0.95 (Text).
	Number Kind = iota + 1
	// String is a quoted string (Text, unquoted), which may be a date.
	String
	// Null is the NULL keyword.
	Null
	// Empty is the EMPTY keyword: the empty string.
	Empty
	// WhitespacesOnly is the WHITESPACES_ONLY keyword.
	WhitespacesOnly
	// Now is now(), optionally plus or minus a duration (Sign, Amount,
	// Unit), written (now() - 3 days).
	Now
	// Duration is an amount of time: Amount and Unit ("days", "hours" or
	// "minutes").
	Duration
)

// Value is one operand of a condition.
type Value struct {
	Kind Kind
	// Text is the literal of a Number and the content of a String.
	Text string
	// Sign is '+' or '-' for now() with a duration, 0 for a bare now().
	Sign byte
	// Amount and Unit are a Duration's, or now()'s offset.
	Amount int64
	Unit   string
}

// IsLeaf reports whether r is a leaf rule rather than a composite.
func (r *Rule) IsLeaf() bool { return r.Composite == None }

// Leaves returns r's leaf rules, depth first.
func (r *Rule) Leaves() []*Rule {
	if r.IsLeaf() {
		return []*Rule{r}
	}
	var out []*Rule
	for _, p := range r.Parts {
		out = append(out, p.Leaves()...)
	}
	return out
}

// Equal reports whether r and o are the same rule.
func (r *Rule) Equal(o *Rule) bool {
	if r == nil || o == nil {
		return r == o
	}
	if r.Type != o.Type || r.Composite != o.Composite || r.Where != o.Where ||
		!slices.Equal(r.Params, o.Params) || !r.Cond.Equal(o.Cond) || !r.Threshold.Equal(o.Threshold) ||
		len(r.Parts) != len(o.Parts) {
		return false
	}
	for i := range r.Parts {
		if !r.Parts[i].Equal(o.Parts[i]) {
			return false
		}
	}
	return true
}

// Equal reports whether c and o are the same condition.
func (c *Condition) Equal(o *Condition) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Op == o.Op && c.Not == o.Not && slices.Equal(c.Values, o.Values)
}

// Equal reports whether rs and o hold the same rules in the same order.
func (rs *Ruleset) Equal(o *Ruleset) bool {
	if len(rs.Rules) != len(o.Rules) {
		return false
	}
	for i := range rs.Rules {
		if !rs.Rules[i].Equal(o.Rules[i]) {
			return false
		}
	}
	return true
}

// mentions reports whether c has an operand of kind k.
func (c *Condition) mentions(k Kind) bool {
	if c == nil {
		return false
	}
	for _, v := range c.Values {
		if v.Kind == k {
			return true
		}
	}
	return false
}

// Mentions reports whether c has an operand of kind k (e.g. Null, so that
// null values are compared rather than failing).
func (c *Condition) Mentions(k Kind) bool { return c.mentions(k) }
