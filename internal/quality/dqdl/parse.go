package dqdl

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// condKind is what condition a rule type takes.
type condKind int

const (
	condNone     condKind = iota // no condition
	condNumber                   // numeric comparison, between, in
	condString                   // = "T" or in ["T", ...] (type names)
	condAny                      // ColumnValues: numbers, strings, dates, keywords, matches
	condDuration                 // DataFreshness: durations
	condList                     // ColumnOrder: = ["a", "b"]
)

// spec is what a rule type accepts.
type spec struct {
	minParams, maxParams int // maxParams -1: unbounded
	cond                 condKind
	condOptional         bool
	threshold            bool // "with threshold" allowed
	where                bool // "where" allowed
	paramsAre            string
}

var specs = map[string]spec{
	TypeRowCount:                {cond: condNumber, where: true},
	TypeColumnCount:             {cond: condNumber},
	TypeColumnExists:            {minParams: 1, maxParams: 1, paramsAre: "one column"},
	TypeColumnNamesMatchPattern: {minParams: 1, maxParams: 1, paramsAre: "one pattern"},
	TypeColumnDataType:          {minParams: 1, maxParams: 1, cond: condString, threshold: true, where: true, paramsAre: "one column"},
	TypeColumnOrder:             {cond: condList},
	TypeIsComplete:              {minParams: 1, maxParams: 1, where: true, paramsAre: "one column"},
	TypeCompleteness:            {minParams: 1, maxParams: 1, cond: condNumber, where: true, paramsAre: "one column"},
	TypeIsUnique:                {minParams: 1, maxParams: -1, where: true, paramsAre: "one or more columns"},
	TypeUniqueness:              {minParams: 1, maxParams: -1, cond: condNumber, where: true, paramsAre: "one or more columns"},
	TypeIsPrimaryKey:            {minParams: 1, maxParams: -1, where: true, paramsAre: "one or more columns"},
	TypeUniqueValueRatio:        {minParams: 1, maxParams: -1, cond: condNumber, where: true, paramsAre: "one or more columns"},
	TypeDistinctValuesCount:     {minParams: 1, maxParams: -1, cond: condNumber, where: true, paramsAre: "one or more columns"},
	TypeColumnValues:            {minParams: 1, maxParams: 1, cond: condAny, threshold: true, where: true, paramsAre: "one column"},
	TypeColumnLength:            {minParams: 1, maxParams: 1, cond: condNumber, threshold: true, where: true, paramsAre: "one column"},
	TypeMean:                    {minParams: 1, maxParams: 1, cond: condNumber, where: true, paramsAre: "one column"},
	TypeSum:                     {minParams: 1, maxParams: 1, cond: condNumber, where: true, paramsAre: "one column"},
	TypeStandardDeviation:       {minParams: 1, maxParams: 1, cond: condNumber, where: true, paramsAre: "one column"},
	TypeDataFreshness:           {minParams: 1, maxParams: 1, cond: condDuration, threshold: true, where: true, paramsAre: "one column"},
	TypeReferentialIntegrity:    {minParams: 2, maxParams: 2, cond: condNumber, where: true, paramsAre: `the columns ("a,b") and the reference ("dataset.{x,y}")`},
	TypeCustomSQL:               {minParams: 1, maxParams: 1, cond: condNumber, condOptional: true, threshold: true, paramsAre: "one SQL statement"},
}

// RuleTypes returns the rule types Parse accepts, sorted.
func RuleTypes() []string {
	out := make([]string, 0, len(specs))
	for t := range specs {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

type parser struct {
	lx   *lexer
	tok  token
	peek *token
}

func (p *parser) next() error {
	if p.peek != nil {
		p.tok, p.peek = *p.peek, nil
		return nil
	}
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) lookahead() (token, error) {
	if p.peek == nil {
		t, err := p.lx.next()
		if err != nil {
			return token{}, err
		}
		p.peek = &t
	}
	return *p.peek, nil
}

func (p *parser) fail(expected string) error {
	return &SyntaxError{Line: p.tok.line, Column: p.tok.col, Expected: expected, Found: p.tok.describe()}
}

func (p *parser) failAt(t token, format string, args ...any) error {
	return &SyntaxError{Line: t.line, Column: t.col, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }

// isWord reports whether the current token is the keyword w, in lower or
// upper case.
func (p *parser) isWord(w string) bool {
	return p.tok.kind == tIdent && (p.tok.text == w || p.tok.text == strings.ToUpper(w))
}

func (p *parser) expectPunct(s, expected string) error {
	if !p.isPunct(s) {
		return p.fail(expected)
	}
	return p.next()
}

// Parse reads a suite: Rules = [ rule, rule, ... ]. A syntax error is a
// *SyntaxError naming the line, the column and what was expected.
func Parse(text string) (*Ruleset, error) {
	p := &parser{lx: newLexer(text)}
	if err := p.next(); err != nil {
		return nil, err
	}
	if !(p.tok.kind == tIdent && p.tok.text == "Rules") {
		return nil, p.fail(`"Rules"`)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expectPunct("=", `"=" after Rules`); err != nil {
		return nil, err
	}
	if err := p.expectPunct("[", `"[" opening the list of rules`); err != nil {
		return nil, err
	}
	rs := &Ruleset{}
	if p.isPunct("]") {
		if err := p.next(); err != nil {
			return nil, err
		}
	} else {
		for {
			r, err := p.topRule()
			if err != nil {
				return nil, err
			}
			rs.Rules = append(rs.Rules, r)
			if p.isPunct(",") {
				if err := p.next(); err != nil {
					return nil, err
				}
				continue
			}
			if err := p.expectPunct("]", `"," or "]" after a rule`); err != nil {
				return nil, err
			}
			break
		}
	}
	if p.tok.kind != tEOF {
		return nil, p.fail("end of input after the closing \"]\"")
	}
	return rs, nil
}

// ParseRule reads one rule, leaf or composite, without the Rules = [ ]
// around it.
func ParseRule(text string) (*Rule, error) {
	p := &parser{lx: newLexer(text)}
	if err := p.next(); err != nil {
		return nil, err
	}
	r, err := p.topRule()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.fail("end of the rule")
	}
	return r, nil
}

// ParseCondition reads a condition on its own, such as "> 0.95" or
// "in [\"A\", \"B\"]", as the structured form's expression and threshold
// hold it.
func ParseCondition(text string) (*Condition, error) {
	p := &parser{lx: newLexer(text)}
	if err := p.next(); err != nil {
		return nil, err
	}
	c, err := p.condition(condAny)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.fail("end of the condition")
	}
	return c, nil
}

// topRule reads a leaf rule or parenthesised rules joined by and / or.
func (p *parser) topRule() (*Rule, error) {
	if !p.isPunct("(") {
		return p.leafRule()
	}
	first, err := p.parenRule()
	if err != nil {
		return nil, err
	}
	if !p.isWord("and") && !p.isWord("or") {
		return first, nil
	}
	op := And
	if p.isWord("or") {
		op = Or
	}
	r := &Rule{Composite: op, Parts: []*Rule{first}}
	for p.isWord("and") || p.isWord("or") {
		this := And
		if p.isWord("or") {
			this = Or
		}
		if this != op {
			return nil, p.failAt(p.tok, "and and or cannot be mixed at one level: put parentheses around the rules joined by %q", p.tok.text)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if !p.isPunct("(") {
			return nil, p.fail(`"(" opening a rule joined by ` + strings.ToLower([]string{"", "and", "or"}[op]))
		}
		part, err := p.parenRule()
		if err != nil {
			return nil, err
		}
		r.Parts = append(r.Parts, part)
	}
	return r, nil
}

func (p *parser) parenRule() (*Rule, error) {
	if err := p.next(); err != nil { // "("
		return nil, err
	}
	r, err := p.topRule()
	if err != nil {
		return nil, err
	}
	if err := p.expectPunct(")", `")" closing the rule`); err != nil {
		return nil, err
	}
	return r, nil
}

// leafRule reads RuleType param* condition? (where "...")? (with threshold
// condition)?.
func (p *parser) leafRule() (*Rule, error) {
	if p.tok.kind != tIdent {
		return nil, p.fail("a rule type such as IsComplete or ColumnValues")
	}
	start := p.tok
	sp, ok := specs[p.tok.text]
	if !ok {
		for _, t := range RuleTypes() {
			if strings.EqualFold(t, p.tok.text) {
				return nil, p.failAt(start, "unknown rule type %q (rule types are case-sensitive: did you mean %s?)", p.tok.text, t)
			}
		}
		return nil, p.failAt(start, "unknown rule type %q; known types: %s", p.tok.text, strings.Join(RuleTypes(), ", "))
	}
	r := &Rule{Type: p.tok.text}
	if err := p.next(); err != nil {
		return nil, err
	}
	for p.tok.kind == tString {
		r.Params = append(r.Params, p.tok.text)
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if n := len(r.Params); n < sp.minParams || sp.maxParams >= 0 && n > sp.maxParams {
		if sp.maxParams == 0 {
			return nil, p.failAt(start, "%s takes no parameter, not %d", r.Type, n)
		}
		return nil, p.failAt(start, "%s takes %s, not %d parameter(s)", r.Type, sp.paramsAre, n)
	}
	for i, prm := range r.Params {
		if prm == "" {
			return nil, p.failAt(start, "%s: parameter %d is empty", r.Type, i+1)
		}
	}
	if err := checkParams(r); err != nil {
		return nil, p.failAt(start, "%s", err)
	}
	if sp.cond != condNone && p.startsCondition() {
		c, err := p.condition(sp.cond)
		if err != nil {
			return nil, err
		}
		r.Cond = c
	} else if sp.cond != condNone && !sp.condOptional {
		return nil, p.fail(conditionExpected(r.Type, sp.cond))
	}
	for p.isWord("where") || p.isWord("with") {
		if p.isWord("where") {
			wt := p.tok
			if r.Where != "" {
				return nil, p.failAt(wt, "%s has two where clauses", r.Type)
			}
			if !sp.where {
				return nil, p.failAt(wt, "%s does not take a where clause", r.Type)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tString {
				return nil, p.fail(`the where clause as a quoted string, e.g. where "amount > 0"`)
			}
			if _, err := ParseWhere(p.tok.text); err != nil {
				return nil, p.failAt(p.tok, "where clause: %s", err)
			}
			if strings.TrimSpace(p.tok.text) == "" {
				return nil, p.failAt(p.tok, "the where clause is empty")
			}
			r.Where = p.tok.text
			if err := p.next(); err != nil {
				return nil, err
			}
			continue
		}
		wt := p.tok
		if err := p.next(); err != nil {
			return nil, err
		}
		if !p.isWord("threshold") {
			return nil, p.fail(`"threshold" after "with" (tags are not supported)`)
		}
		if r.Threshold != nil {
			return nil, p.failAt(wt, "%s has two thresholds", r.Type)
		}
		if !sp.threshold {
			return nil, p.failAt(wt, "%s does not take a threshold", r.Type)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		c, err := p.condition(condNumber)
		if err != nil {
			return nil, err
		}
		r.Threshold = c
	}
	return r, nil
}

func conditionExpected(typ string, k condKind) string {
	switch k {
	case condList:
		return typ + `'s column list, e.g. = ["id", "name"]`
	case condDuration:
		return typ + `'s condition, e.g. <= 24 hours`
	case condString:
		return typ + `'s condition, e.g. = "INTEGER"`
	}
	return typ + `'s condition, e.g. > 0, between 1 and 10, in [...]`
}

// checkParams checks the parameters of rule types that give them a syntax.
func checkParams(r *Rule) error {
	switch r.Type {
	case TypeColumnNamesMatchPattern:
		if _, err := regexp.Compile(r.Params[0]); err != nil {
			return fmt.Errorf("the pattern %q is not a regular expression: %v", r.Params[0], err)
		}
	case TypeReferentialIntegrity:
		_, _, _, err := SplitReference(r.Params[0], r.Params[1])
		return err
	}
	return nil
}

// SplitReference splits ReferentialIntegrity's parameters: the columns
// ("a" or "a,b") and the reference ("dataset.x" or "dataset.{x,y}", the
// dataset being everything before the last dot, or before ".{").
func SplitReference(cols, ref string) (columns []string, dataset string, refColumns []string, err error) {
	columns = splitList(cols)
	if i := strings.Index(ref, ".{"); i >= 0 && strings.HasSuffix(ref, "}") {
		dataset, refColumns = ref[:i], splitList(ref[i+2:len(ref)-1])
	} else if i := strings.LastIndexByte(ref, '.'); i >= 0 {
		dataset, refColumns = ref[:i], []string{ref[i+1:]}
	}
	switch {
	case dataset == "" || len(refColumns) == 0:
		return nil, "", nil, fmt.Errorf("the reference %q is not dataset.column or dataset.{column,...}", ref)
	case len(columns) != len(refColumns):
		return nil, "", nil, fmt.Errorf("%d column(s) %q refer to %d reference column(s) %q", len(columns), cols, len(refColumns), ref)
	}
	for _, c := range append(slices.Clone(columns), refColumns...) {
		if c == "" {
			return nil, "", nil, fmt.Errorf("an empty column name in %q %q", cols, ref)
		}
	}
	return columns, dataset, refColumns, nil
}

func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// startsCondition reports whether the current token can begin a condition.
func (p *parser) startsCondition() bool {
	if p.tok.kind == tPunct {
		switch p.tok.text {
		case "=", "!=", "!", ">", ">=", "<", "<=":
			return true
		}
	}
	return p.isWord("between") || p.isWord("in") || p.isWord("not") || p.isWord("matches")
}

// condition reads: [not] (between v and v | in [v, ...] | matches "re") or
// (= | != | ! = | > | >= | < | <=) v.
func (p *parser) condition(k condKind) (*Condition, error) {
	start := p.tok
	c := &Condition{}
	if p.isWord("not") {
		c.Not = true
		if err := p.next(); err != nil {
			return nil, err
		}
		if !p.isWord("between") && !p.isWord("in") && !p.isWord("matches") {
			return nil, p.fail(`"between", "in" or "matches" after "not"`)
		}
	}
	switch {
	case p.isWord("between"):
		c.Op = OpBetween
		if err := p.next(); err != nil {
			return nil, err
		}
		lo, err := p.operand(k)
		if err != nil {
			return nil, err
		}
		if !p.isWord("and") {
			return nil, p.fail(`"and" in between ... and ...`)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		hi, err := p.operand(k)
		if err != nil {
			return nil, err
		}
		c.Values = []Value{lo, hi}
	case p.isWord("in"):
		c.Op = OpIn
		if err := p.next(); err != nil {
			return nil, err
		}
		vs, err := p.list(k)
		if err != nil {
			return nil, err
		}
		c.Values = vs
	case p.isWord("matches"):
		c.Op = OpMatches
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.fail(`a quoted regular expression after "matches"`)
		}
		if _, err := regexp.Compile(p.tok.text); err != nil {
			return nil, p.failAt(p.tok, "%q is not a regular expression: %v", p.tok.text, err)
		}
		c.Values = []Value{{Kind: String, Text: p.tok.text}}
		if err := p.next(); err != nil {
			return nil, err
		}
	case p.tok.kind == tPunct:
		if p.tok.text == "!" {
			if err := p.next(); err != nil {
				return nil, err
			}
			if !p.isPunct("=") {
				return nil, p.fail(`"=" after "!"`)
			}
			p.tok.text = "!="
		}
		op, ok := compareOps[p.tok.text]
		if !ok || p.tok.text == "<>" {
			return nil, p.fail("a condition: = != > >= < <=, between, in, matches or not")
		}
		c.Op = op
		if err := p.next(); err != nil {
			return nil, err
		}
		if k == condList && c.Op == OpEq && p.isPunct("[") {
			vs, err := p.list(k)
			if err != nil {
				return nil, err
			}
			c.Values = vs
			break
		}
		v, err := p.operand(k)
		if err != nil {
			return nil, err
		}
		c.Values = []Value{v}
	default:
		return nil, p.fail("a condition: = != > >= < <=, between, in, matches or not")
	}
	if err := checkCondition(c, k); err != nil {
		return nil, p.failAt(start, "%s", err)
	}
	return c, nil
}

// checkCondition checks that c suits a rule taking conditions of kind k.
func checkCondition(c *Condition, k condKind) error {
	allow := func(kinds ...Kind) error {
		for _, v := range c.Values {
			if !slices.Contains(kinds, v.Kind) {
				return fmt.Errorf("%s is not allowed in this condition", formatValue(v))
			}
		}
		return nil
	}
	ordered := c.Op == OpGt || c.Op == OpGe || c.Op == OpLt || c.Op == OpLe || c.Op == OpBetween
	switch k {
	case condNumber:
		if c.Op == OpMatches {
			return fmt.Errorf("matches needs a text column rule such as ColumnValues")
		}
		return allow(Number)
	case condString:
		if c.Op != OpEq && c.Op != OpIn {
			return fmt.Errorf(`a type is checked with = "TYPE" or in ["TYPE", ...]`)
		}
		return allow(String)
	case condDuration:
		if c.Op == OpMatches || c.Op == OpIn || c.Op == OpEq || c.Op == OpNe {
			return fmt.Errorf("a freshness is checked with > >= < <= or between and a duration such as 24 hours")
		}
		return allow(Duration)
	case condList:
		if c.Op != OpEq || len(c.Values) == 0 {
			return fmt.Errorf(`the column order is written = ["a", "b", ...]`)
		}
		return allow(String)
	case condAny:
		if c.Op == OpMatches {
			return nil
		}
		if err := allow(Number, String, Null, Empty, WhitespacesOnly, Now); err != nil {
			return err
		}
		if ordered {
			for _, v := range c.Values {
				if v.Kind == Null || v.Kind == Empty || v.Kind == WhitespacesOnly {
					return fmt.Errorf("%s cannot be compared with %s", formatValue(v), opText(c.Op))
				}
			}
		}
		if c.Op == OpBetween && (c.Values[0].Kind == Number) != (c.Values[1].Kind == Number) {
			return fmt.Errorf("between needs two numbers, or two dates")
		}
	}
	return nil
}

// list reads [v, v, ...].
func (p *parser) list(k condKind) ([]Value, error) {
	if !p.isPunct("[") {
		return nil, p.fail(`"[" opening a list`)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	var vs []Value
	for {
		v, err := p.operand(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		if p.isPunct(",") {
			if err := p.next(); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.expectPunct("]", `"," or "]" in a list`); err != nil {
			return nil, err
		}
		return vs, nil
	}
}

// operand reads a number, a string, a keyword, now() with an optional
// offset, or a duration.
func (p *parser) operand(k condKind) (Value, error) {
	switch {
	case p.tok.kind == tNumber:
		num := p.tok.text
		if err := p.next(); err != nil {
			return Value{}, err
		}
		if p.tok.kind == tIdent && isUnit(p.tok.text) {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				return Value{}, p.failAt(p.tok, "a duration is a whole number of %s, not %s", p.tok.text, num)
			}
			v := Value{Kind: Duration, Amount: n, Unit: p.tok.text}
			return v, p.next()
		}
		if k == condDuration {
			return Value{}, p.fail(`"days", "hours" or "minutes" after the number`)
		}
		return Value{Kind: Number, Text: num}, nil
	case p.tok.kind == tString && k != condNumber && k != condDuration:
		v := Value{Kind: String, Text: p.tok.text}
		return v, p.next()
	case p.tok.kind == tIdent:
		switch p.tok.text {
		case "NULL":
			return Value{Kind: Null}, p.next()
		case "EMPTY":
			return Value{Kind: Empty}, p.next()
		case "WHITESPACES_ONLY":
			return Value{Kind: WhitespacesOnly}, p.next()
		case "now":
			if err := p.nowCall(); err != nil {
				return Value{}, err
			}
			return Value{Kind: Now}, nil
		}
	case p.isPunct("("):
		if la, err := p.lookahead(); err == nil && la.kind == tIdent && la.text == "now" {
			if err := p.next(); err != nil {
				return Value{}, err
			}
			if err := p.nowCall(); err != nil {
				return Value{}, err
			}
			v := Value{Kind: Now}
			var amount string
			switch {
			case p.isPunct("+") || p.isPunct("-"):
				v.Sign = p.tok.text[0]
				if err := p.next(); err != nil {
					return Value{}, err
				}
				if p.tok.kind != tNumber || strings.HasPrefix(p.tok.text, "-") {
					return Value{}, p.fail("a whole number of days, hours or minutes")
				}
				amount = p.tok.text
			case p.tok.kind == tNumber && strings.HasPrefix(p.tok.text, "-"):
				v.Sign, amount = '-', p.tok.text[1:]
			default:
				return Value{}, p.fail(`"+" or "-" and a duration after now()`)
			}
			n, err := strconv.ParseInt(amount, 10, 64)
			if err != nil {
				return Value{}, p.fail("a whole number of days, hours or minutes")
			}
			if err := p.next(); err != nil {
				return Value{}, err
			}
			if p.tok.kind != tIdent || !isUnit(p.tok.text) {
				return Value{}, p.fail(`"days", "hours" or "minutes"`)
			}
			v.Amount, v.Unit = n, p.tok.text
			if err := p.next(); err != nil {
				return Value{}, err
			}
			return v, p.expectPunct(")", `")" closing (now() ...)`)
		}
	}
	switch k {
	case condDuration:
		return Value{}, p.fail("a duration such as 24 hours")
	case condNumber:
		return Value{}, p.fail("a number")
	case condString, condList:
		return Value{}, p.fail("a quoted string")
	}
	return Value{}, p.fail("a number, a quoted string, NULL, EMPTY, WHITESPACES_ONLY or now()")
}

func (p *parser) nowCall() error {
	if err := p.next(); err != nil { // now
		return err
	}
	if err := p.expectPunct("(", `"()" after now`); err != nil {
		return err
	}
	return p.expectPunct(")", `")" after now(`)
}

func isUnit(s string) bool { return s == "days" || s == "hours" || s == "minutes" }
