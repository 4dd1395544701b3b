package dqdl

import (
	"errors"
	"fmt"
	"strings"
)

// StructuredRule is a rule in the structured form of the API, field for
// field the lakeplane.v1.Rule message:
//
//   - Columns are the columns the rule names, in order. ColumnOrder's list
//     is its Columns (Expression empty); ReferentialIntegrity's own columns
//     are Columns and the referred ones ReferenceDataset and
//     ReferenceColumns.
//   - Expression is the condition in DQDL ("> 0.95", "in [\"A\"]"). The
//     pattern of ColumnNamesMatchPattern is written matches "..." and the
//     SQL of CustomSql leads its expression as a quoted string.
//   - Threshold is the "with threshold" condition, Where the where clause's
//     predicate (unquoted).
//   - A composite rule has All (and) or Any (or) instead of a Type.
//   - Text is output only: the rule as DQDL.
type StructuredRule struct {
	Type             string
	Columns          []string
	Expression       string
	Threshold        string
	Where            string
	All              []StructuredRule
	Any              []StructuredRule
	Text             string
	ReferenceDataset string
	ReferenceColumns []string
}

// ToStructured returns rs's rules in structured form.
func ToStructured(rs *Ruleset) []StructuredRule {
	out := make([]StructuredRule, len(rs.Rules))
	for i, r := range rs.Rules {
		out[i] = r.Structured()
	}
	return out
}

// Structured returns r in structured form.
func (r *Rule) Structured() StructuredRule {
	s := StructuredRule{Text: r.String()}
	if !r.IsLeaf() {
		parts := make([]StructuredRule, len(r.Parts))
		for i, p := range r.Parts {
			parts[i] = p.Structured()
		}
		if r.Composite == And {
			s.All = parts
		} else {
			s.Any = parts
		}
		return s
	}
	s.Type, s.Where = r.Type, r.Where
	s.Expression = r.Cond.String()
	s.Threshold = r.Threshold.String()
	switch r.Type {
	case TypeColumnOrder:
		s.Expression = ""
		for _, v := range r.Cond.Values {
			s.Columns = append(s.Columns, v.Text)
		}
	case TypeColumnNamesMatchPattern:
		s.Expression = "matches " + quote(r.Params[0])
	case TypeCustomSQL:
		s.Expression = strings.TrimSpace(quote(r.Params[0]) + " " + s.Expression)
	case TypeReferentialIntegrity:
		s.Columns, s.ReferenceDataset, s.ReferenceColumns, _ = SplitReference(r.Params[0], r.Params[1])
	default:
		s.Columns = append([]string(nil), r.Params...)
	}
	return s
}

// FromStructured reads structured rules back into a Ruleset. Text is
// ignored. An error names the rule (by its index path, e.g. "rules[3].all[1]").
func FromStructured(rules []StructuredRule) (*Ruleset, error) {
	rs := &Ruleset{}
	var errs []error
	for i, s := range rules {
		r, err := s.rule(fmt.Sprintf("rules[%d]", i))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs.Rules = append(rs.Rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

func (s StructuredRule) rule(path string) (*Rule, error) {
	switch {
	case len(s.All) > 0 || len(s.Any) > 0:
		if s.Type != "" || len(s.All) > 0 && len(s.Any) > 0 {
			return nil, fmt.Errorf("%s: a rule is a type, all or any, only one of them", path)
		}
		r := &Rule{Composite: And}
		parts, field := s.All, "all"
		if len(s.Any) > 0 {
			r.Composite, parts, field = Or, s.Any, "any"
		}
		if len(parts) < 2 {
			return nil, fmt.Errorf("%s.%s: a composite rule joins two rules or more", path, field)
		}
		for i, p := range parts {
			pr, err := p.rule(fmt.Sprintf("%s.%s[%d]", path, field, i))
			if err != nil {
				return nil, err
			}
			r.Parts = append(r.Parts, pr)
		}
		return r, nil
	case s.Type == "":
		return nil, fmt.Errorf("%s: the rule has no type", path)
	}
	var b strings.Builder
	b.WriteString(s.Type)
	switch s.Type {
	case TypeColumnOrder:
		if s.Expression != "" {
			return nil, fmt.Errorf("%s: ColumnOrder lists its columns in columns, without an expression", path)
		}
		b.WriteString(" = [")
		for i, c := range s.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(c))
		}
		b.WriteString("]")
	case TypeColumnNamesMatchPattern:
		c, err := ParseCondition(s.Expression)
		if err != nil || c.Op != OpMatches || c.Not {
			return nil, fmt.Errorf("%s: ColumnNamesMatchPattern's expression is matches \"pattern\"", path)
		}
		b.WriteString(" " + quote(c.Values[0].Text))
	case TypeReferentialIntegrity:
		if s.ReferenceDataset == "" || len(s.ReferenceColumns) == 0 {
			return nil, fmt.Errorf("%s: ReferentialIntegrity needs reference_dataset and reference_columns", path)
		}
		ref := s.ReferenceDataset + "." + s.ReferenceColumns[0]
		if len(s.ReferenceColumns) > 1 {
			ref = s.ReferenceDataset + ".{" + strings.Join(s.ReferenceColumns, ",") + "}"
		}
		b.WriteString(" " + quote(strings.Join(s.Columns, ",")) + " " + quote(ref))
		b.WriteString(" " + s.Expression)
	default:
		for _, c := range s.Columns {
			b.WriteString(" " + quote(c))
		}
		b.WriteString(" " + s.Expression)
	}
	if s.Where != "" {
		b.WriteString(" where " + quote(s.Where))
	}
	if s.Threshold != "" {
		b.WriteString(" with threshold " + s.Threshold)
	}
	r, err := ParseRule(b.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !r.IsLeaf() {
		return nil, fmt.Errorf("%s: a structured rule's fields make one rule; use all or any to combine rules", path)
	}
	return r, nil
}
