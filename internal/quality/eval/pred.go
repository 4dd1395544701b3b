package eval

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

// pred is a compiled per-value condition.
type pred interface {
	// scan calls fail(i) for every row i of a that sel selects (every row
	// when sel is nil) whose value does not satisfy the condition.
	scan(a arrow.Array, sel []bool, fail func(int)) error
}

// nullPasses reports whether a null value satisfies c: only when c tests
// for NULL (= NULL, in [..., NULL]); every other condition fails a null,
// negated or not.
func nullPasses(c *dqdl.Condition) bool {
	switch c.Op {
	case dqdl.OpEq:
		return c.Values[0].Kind == dqdl.Null
	case dqdl.OpIn:
		return c.Mentions(dqdl.Null) != c.Not
	}
	return false
}

// ratCond is a condition whose operands are numbers in a column's domain.
type ratCond struct {
	op       dqdl.Op // never OpNe: that is OpEq with neg
	neg      bool
	vals     []*big.Rat
	nullPass bool
}

func newRatCond(c *dqdl.Condition, t arrow.DataType, now time.Time) (*ratCond, error) {
	rc := &ratCond{op: c.Op, neg: c.Not, nullPass: nullPasses(c)}
	if rc.op == dqdl.OpNe {
		rc.op, rc.neg = dqdl.OpEq, !rc.neg
	}
	for _, v := range c.Values {
		r, ok, err := constant(v, t, now)
		if err != nil {
			return nil, err
		}
		if ok {
			rc.vals = append(rc.vals, r)
		} else if rc.op != dqdl.OpEq && rc.op != dqdl.OpIn {
			return nil, fmt.Errorf("%s cannot be compared with %s", v, c)
		}
	}
	return rc, nil
}

// test evaluates the condition on x, given cmp(v) = sign(x - v).
func (rc *ratCond) test(cmp func(*big.Rat) int) bool {
	var ok bool
	switch rc.op {
	case dqdl.OpEq:
		ok = len(rc.vals) == 1 && cmp(rc.vals[0]) == 0
	case dqdl.OpGt:
		ok = cmp(rc.vals[0]) > 0
	case dqdl.OpGe:
		ok = cmp(rc.vals[0]) >= 0
	case dqdl.OpLt:
		ok = cmp(rc.vals[0]) < 0
	case dqdl.OpLe:
		ok = cmp(rc.vals[0]) <= 0
	case dqdl.OpBetween:
		ok = cmp(rc.vals[0]) >= 0 && cmp(rc.vals[1]) <= 0
	case dqdl.OpIn:
		for _, v := range rc.vals {
			if cmp(v) == 0 {
				ok = true
				break
			}
		}
	}
	return ok != rc.neg
}

// testRat evaluates the condition on x.
func (rc *ratCond) testRat(x *big.Rat) bool {
	return rc.test(func(v *big.Rat) int { return x.Cmp(v) })
}

// intPred is a condition on integers (int32, int64, dates in days,
// timestamps in microseconds, decimals of up to 18 digits unscaled): the
// value is in [lo, hi] or in set, negated by neg. Fractional constants
// become integer bounds exactly (x > 2.5 is x >= 3).
type intPred struct {
	lo, hi   int64
	empty    bool
	set      []int64
	neg      bool
	nullPass bool
}

func floorRat(r *big.Rat) *big.Int {
	q := new(big.Int)
	m := new(big.Int)
	q.DivMod(r.Num(), r.Denom(), m) // Euclidean: floor for a positive denominator
	return q
}

func ceilRat(r *big.Rat) *big.Int {
	f := floorRat(r)
	if !r.IsInt() {
		f.Add(f, big.NewInt(1))
	}
	return f
}

func newIntPred(rc *ratCond) *intPred {
	p := &intPred{neg: rc.neg, nullPass: rc.nullPass}
	var lo, hi *big.Int // nil: unbounded
	switch rc.op {
	case dqdl.OpEq:
		if len(rc.vals) == 1 && rc.vals[0].IsInt() {
			lo, hi = rc.vals[0].Num(), rc.vals[0].Num()
		} else {
			p.empty = true
		}
	case dqdl.OpGt:
		lo = new(big.Int).Add(floorRat(rc.vals[0]), big.NewInt(1))
	case dqdl.OpGe:
		lo = ceilRat(rc.vals[0])
	case dqdl.OpLt:
		hi = new(big.Int).Sub(ceilRat(rc.vals[0]), big.NewInt(1))
	case dqdl.OpLe:
		hi = floorRat(rc.vals[0])
	case dqdl.OpBetween:
		lo, hi = ceilRat(rc.vals[0]), floorRat(rc.vals[1])
	case dqdl.OpIn:
		p.empty = true
		for _, v := range rc.vals {
			if v.IsInt() && v.Num().IsInt64() {
				p.set = append(p.set, v.Num().Int64())
			}
		}
	}
	if p.empty {
		return p
	}
	p.lo, p.hi = math.MinInt64, math.MaxInt64
	if lo != nil {
		switch {
		case lo.IsInt64():
			p.lo = lo.Int64()
		case lo.Sign() > 0:
			p.empty = true
		}
	}
	if hi != nil {
		switch {
		case hi.IsInt64():
			p.hi = hi.Int64()
		case hi.Sign() < 0:
			p.empty = true
		}
	}
	if p.lo > p.hi {
		p.empty = true
	}
	return p
}

func (p *intPred) test(x int64) bool {
	ok := !p.empty && x >= p.lo && x <= p.hi
	if !ok {
		for _, s := range p.set {
			if s == x {
				ok = true
				break
			}
		}
	}
	return ok != p.neg
}

func scanInts[T ~int32 | ~int64](p *intPred, a arrow.Array, vs []T, sel []bool, fail func(int)) {
	nulls := a.NullN() > 0
	for i, v := range vs {
		if sel != nil && !sel[i] {
			continue
		}
		if nulls && a.IsNull(i) {
			if !p.nullPass {
				fail(i)
			}
			continue
		}
		if !p.test(int64(v)) {
			fail(i)
		}
	}
}

func (p *intPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	switch a := a.(type) {
	case *array.Int64:
		scanInts(p, a, a.Int64Values(), sel, fail)
	case *array.Int32:
		scanInts(p, a, a.Int32Values(), sel, fail)
	case *array.Date32:
		scanInts(p, a, a.Date32Values(), sel, fail)
	case *array.Timestamp:
		scanInts(p, a, a.TimestampValues(), sel, fail)
	case *array.Decimal128:
		vs := a.Values()
		eachValue(a, sel, p.nullPass, fail, func(i int) bool { return p.test(int64(vs[i].LowBits())) })
	default:
		return fmt.Errorf("unexpected %s column", a.DataType())
	}
	return nil
}

// eachValue calls test(i) for every row of a that sel selects (all when
// sel is nil) and is not null, and fail(i) for each where test is false; a
// null fails unless nullPass.
func eachValue(a arrow.Array, sel []bool, nullPass bool, fail func(int), test func(int) bool) {
	nulls := a.NullN() > 0
	for i := range a.Len() {
		if sel != nil && !sel[i] {
			continue
		}
		if nulls && a.IsNull(i) {
			if !nullPass {
				fail(i)
			}
			continue
		}
		if !test(i) {
			fail(i)
		}
	}
}

// lengthPred applies an intPred to the length in characters of strings.
type lengthPred struct{ p *intPred }

func (l lengthPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	s, ok := a.(*array.String)
	if !ok {
		return fmt.Errorf("ColumnLength needs a STRING column, not %s", typeName(a.DataType()))
	}
	eachValue(s, sel, l.p.nullPass, fail, func(i int) bool {
		return l.p.test(int64(utf8.RuneCountInString(s.Value(i))))
	})
	return nil
}

// ratPred tests each value as an exact rational: DOUBLE columns and
// decimals of more than 18 digits.
type ratPred struct{ rc *ratCond }

func (p ratPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	x := new(big.Rat)
	switch a := a.(type) {
	case *array.Float64:
		eachValue(a, sel, p.rc.nullPass, fail, func(i int) bool {
			v := a.Value(i)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
			return p.rc.testRat(x.SetFloat64(v))
		})
	case *array.Decimal128:
		eachValue(a, sel, p.rc.nullPass, fail, func(i int) bool {
			return p.rc.testRat(x.SetInt(a.Value(i).BigInt()))
		})
	default:
		return fmt.Errorf("unexpected %s column", a.DataType())
	}
	return nil
}

// strPred is a condition on text: equality and lists (with EMPTY and
// WHITESPACES_ONLY), byte-wise ordering, a regular expression matching the
// whole value, or, when every operand is a number, numeric comparison of
// values read as numbers (a value that is not a number fails).
type strPred struct {
	op       dqdl.Op // never OpNe
	neg      bool
	vals     []dqdl.Value
	re       *regexp.Regexp
	fixed    *fixedPattern // re, when it is a fixed sequence of classes
	num      *ratCond
	nullPass bool
}

func newStrPred(c *dqdl.Condition) (*strPred, error) {
	p := &strPred{op: c.Op, neg: c.Not, vals: c.Values, nullPass: nullPasses(c)}
	if p.op == dqdl.OpNe {
		p.op, p.neg = dqdl.OpEq, !p.neg
	}
	if c.Op == dqdl.OpMatches {
		expr := `^(?:` + c.Values[0].Text + `)$`
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, err
		}
		p.re = re
		p.fixed, _ = compileFixed(expr)
		return p, nil
	}
	numeric := false
	for _, v := range c.Values {
		switch v.Kind {
		case dqdl.Number:
			numeric = true
		case dqdl.String:
			numeric = false
			goto done
		case dqdl.Now, dqdl.Duration:
			return nil, fmt.Errorf("%s needs a DATE or TIMESTAMP column", v)
		}
	}
done:
	if numeric {
		rc, err := newRatCond(c, arrow.BinaryTypes.String, time.Time{})
		if err != nil {
			return nil, err
		}
		p.num = rc
	}
	return p, nil
}

func isWhitespaceOnly(s string) bool {
	return s != "" && strings.TrimFunc(s, unicode.IsSpace) == ""
}

func equalsOperand(s string, v dqdl.Value) bool {
	switch v.Kind {
	case dqdl.String, dqdl.Number:
		return s == v.Text
	case dqdl.Empty:
		return s == ""
	case dqdl.WhitespacesOnly:
		return isWhitespaceOnly(s)
	}
	return false
}

func (p *strPred) test(s string) bool {
	if p.fixed != nil {
		return p.fixed.match(s) != p.neg
	}
	if p.re != nil {
		return p.re.MatchString(s) != p.neg
	}
	if p.num != nil {
		x, ok := parseNumber(s)
		if !ok {
			// A keyword may still match the text.
			if p.op == dqdl.OpEq || p.op == dqdl.OpIn {
				for _, v := range p.vals {
					if v.Kind != dqdl.Number && equalsOperand(s, v) {
						return !p.neg
					}
				}
			}
			return false
		}
		return p.num.testRat(x)
	}
	var ok bool
	switch p.op {
	case dqdl.OpEq:
		ok = equalsOperand(s, p.vals[0])
	case dqdl.OpIn:
		for _, v := range p.vals {
			if equalsOperand(s, v) {
				ok = true
				break
			}
		}
	case dqdl.OpGt:
		ok = s > p.vals[0].Text
	case dqdl.OpGe:
		ok = s >= p.vals[0].Text
	case dqdl.OpLt:
		ok = s < p.vals[0].Text
	case dqdl.OpLe:
		ok = s <= p.vals[0].Text
	case dqdl.OpBetween:
		ok = s >= p.vals[0].Text && s <= p.vals[1].Text
	}
	return ok != p.neg
}

func (p *strPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	if s, ok := a.(*array.String); ok {
		eachValue(a, sel, p.nullPass, fail, func(i int) bool { return p.test(s.Value(i)) })
		return nil
	}
	eachValue(a, sel, p.nullPass, fail, func(i int) bool { return p.test(text(a, i)) })
	return nil
}

// nullPred fails null values (IsComplete, Completeness).
type nullPred struct{}

func (nullPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	if a.NullN() == 0 {
		return nil
	}
	for i := range a.Len() {
		if (sel == nil || sel[i]) && a.IsNull(i) {
			fail(i)
		}
	}
	return nil
}

// castPred fails STRING values that cannot be read as any of the types
// (ColumnDataType on an untyped column); nulls pass.
type castPred struct{ types []string }

func (p castPred) scan(a arrow.Array, sel []bool, fail func(int)) error {
	for i := range a.Len() {
		if sel != nil && !sel[i] || a.IsNull(i) {
			continue
		}
		v := text(a, i)
		ok := false
		for _, t := range p.types {
			if castable(t, v) {
				ok = true
				break
			}
		}
		if !ok {
			fail(i)
		}
	}
	return nil
}

// compilePred compiles c for a column of type t.
func compilePred(c *dqdl.Condition, t arrow.DataType, now time.Time) (pred, error) {
	if c.Op == dqdl.OpMatches {
		return newStrPred(c)
	}
	switch t := t.(type) {
	case *arrow.StringType:
		return newStrPred(c)
	case *arrow.Int32Type, *arrow.Int64Type, *arrow.Date32Type, *arrow.TimestampType:
		rc, err := newRatCond(c, t, now)
		if err != nil {
			return nil, err
		}
		return newIntPred(rc), nil
	case *arrow.Decimal128Type:
		rc, err := newRatCond(c, t, now)
		if err != nil {
			return nil, err
		}
		if t.Precision <= 18 {
			return newIntPred(rc), nil
		}
		return ratPred{rc}, nil
	case *arrow.Float64Type:
		rc, err := newRatCond(c, t, now)
		if err != nil {
			return nil, err
		}
		return ratPred{rc}, nil
	}
	return newStrPred(c)
}

// freshnessCond turns DataFreshness's condition on the age of a value
// (now - value) into one on the value itself: age <= 24 hours is
// value >= (now() - 24 hours).
func freshnessCond(c *dqdl.Condition) *dqdl.Condition {
	ago := func(v dqdl.Value) dqdl.Value {
		return dqdl.Value{Kind: dqdl.Now, Sign: '-', Amount: v.Amount, Unit: v.Unit}
	}
	out := &dqdl.Condition{Not: c.Not}
	switch c.Op {
	case dqdl.OpGt:
		out.Op = dqdl.OpLt
	case dqdl.OpGe:
		out.Op = dqdl.OpLe
	case dqdl.OpLt:
		out.Op = dqdl.OpGt
	case dqdl.OpLe:
		out.Op = dqdl.OpGe
	case dqdl.OpBetween:
		out.Op = dqdl.OpBetween
		out.Values = []dqdl.Value{ago(c.Values[1]), ago(c.Values[0])}
		return out
	}
	out.Values = []dqdl.Value{ago(c.Values[0])}
	return out
}
