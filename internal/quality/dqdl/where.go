package dqdl

import (
	"fmt"
	"strings"
)

// Where is a parsed where clause: a predicate on one column, in the small
// SQL subset lakeplane evaluates itself: comparisons (= != <> > >= < <=)
// with a number or a 'string', [NOT] IN (...), [NOT] BETWEEN x AND y,
// IS [NOT] NULL, combined with AND, OR, NOT and parentheses. Anything else
// (functions, arithmetic, a second column, subqueries) is refused with the
// reason.
type Where struct {
	// Column is the column the predicate reads.
	Column string
	// Expr is the predicate.
	Expr *WhereExpr
}

// WhereOp is a where-clause node's kind.
type WhereOp int

// The kinds of where-clause nodes.
const (
	// WhereTest is a leaf: Column's value against Cond.
	WhereTest WhereOp = iota + 1
	WhereAnd
	WhereOr
	WhereNot
)

// WhereExpr is a node of a where clause.
type WhereExpr struct {
	Op    WhereOp
	Parts []*WhereExpr // the operands of And and Or; the one of Not
	// Cond is a leaf's test, in DQDL terms: "x IS NULL" is = NULL,
	// "x IS NOT NULL" is != NULL, "x <> 5" is != 5.
	Cond *Condition
}

type wtok struct {
	kind byte // 'i' identifier, 'n' number, 's' string, 'p' punctuation, 0 end
	text string
	pos  int
}

// ParseWhere parses a where clause's text.
func ParseWhere(s string) (*Where, error) {
	toks, err := lexWhere(s)
	if err != nil {
		return nil, err
	}
	wp := &whereParser{toks: toks}
	e, err := wp.or()
	if err != nil {
		return nil, err
	}
	if t := wp.peek(); t.kind != 0 {
		return nil, fmt.Errorf("unexpected %q at character %d", t.text, t.pos+1)
	}
	if wp.column == "" {
		return nil, fmt.Errorf("the predicate names no column")
	}
	return &Where{Column: wp.column, Expr: e}, nil
}

func lexWhere(s string) ([]wtok, error) {
	var out []wtok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])) {
				j++
			}
			out = append(out, wtok{'i', s[i:j], i})
			i = j
		case c == '`' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unclosed %c at character %d", c, i+1)
			}
			if j == 0 {
				return nil, fmt.Errorf("empty column name at character %d", i+1)
			}
			out = append(out, wtok{'q', s[i+1 : i+1+j], i})
			i += j + 2
		case isDigit(c) || (c == '-' || c == '.') && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			num := s[i:j]
			if strings.Count(num, ".") > 1 || strings.HasSuffix(num, ".") {
				return nil, fmt.Errorf("%q at character %d is not a number", num, i+1)
			}
			if strings.HasPrefix(num, ".") {
				num = "0" + num
			} else if strings.HasPrefix(num, "-.") {
				num = "-0" + num[1:]
			}
			out = append(out, wtok{'n', num, i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unclosed string starting at character %d", i+1)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, wtok{'s', b.String(), i})
			i = j + 1
		default:
			matched := false
			for _, p := range []string{"<>", "!=", ">=", "<=", "=", ">", "<", "(", ")", ","} {
				if strings.HasPrefix(s[i:], p) {
					out = append(out, wtok{'p', p, i})
					i += len(p)
					matched = true
					break
				}
			}
			if !matched {
				return nil, fmt.Errorf("%q at character %d is not supported (comparisons, IN, BETWEEN, IS NULL, AND, OR and NOT on one column are)", string(c), i+1)
			}
		}
	}
	return out, nil
}

type whereParser struct {
	toks   []wtok
	i      int
	column string
}

func (w *whereParser) peek() wtok {
	if w.i < len(w.toks) {
		return w.toks[w.i]
	}
	return wtok{}
}

func (w *whereParser) word(s string) bool {
	t := w.peek()
	return t.kind == 'i' && strings.EqualFold(t.text, s)
}

func (w *whereParser) punct(s string) bool {
	t := w.peek()
	return t.kind == 'p' && t.text == s
}

func (w *whereParser) errExpected(what string) error {
	t := w.peek()
	if t.kind == 0 {
		return fmt.Errorf("expected %s, found the end of the clause", what)
	}
	return fmt.Errorf("expected %s at character %d, found %q", what, t.pos+1, t.text)
}

func (w *whereParser) or() (*WhereExpr, error) {
	return w.chain("OR", WhereOr, w.and)
}

func (w *whereParser) and() (*WhereExpr, error) {
	return w.chain("AND", WhereAnd, w.not)
}

func (w *whereParser) chain(word string, op WhereOp, sub func() (*WhereExpr, error)) (*WhereExpr, error) {
	first, err := sub()
	if err != nil {
		return nil, err
	}
	if !w.word(word) {
		return first, nil
	}
	e := &WhereExpr{Op: op, Parts: []*WhereExpr{first}}
	for w.word(word) {
		w.i++
		p, err := sub()
		if err != nil {
			return nil, err
		}
		e.Parts = append(e.Parts, p)
	}
	return e, nil
}

func (w *whereParser) not() (*WhereExpr, error) {
	if w.word("NOT") {
		w.i++
		p, err := w.not()
		if err != nil {
			return nil, err
		}
		return &WhereExpr{Op: WhereNot, Parts: []*WhereExpr{p}}, nil
	}
	if w.punct("(") {
		w.i++
		e, err := w.or()
		if err != nil {
			return nil, err
		}
		if !w.punct(")") {
			return nil, w.errExpected(`")"`)
		}
		w.i++
		return e, nil
	}
	return w.test()
}

func (w *whereParser) test() (*WhereExpr, error) {
	t := w.peek()
	if t.kind != 'i' && t.kind != 'q' {
		return nil, w.errExpected("a column name")
	}
	if t.kind == 'i' {
		for _, kw := range []string{"AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "SELECT", "TRUE", "FALSE"} {
			if strings.EqualFold(t.text, kw) {
				return nil, w.errExpected("a column name")
			}
		}
	}
	if w.column == "" {
		w.column = t.text
	} else if w.column != t.text {
		return nil, fmt.Errorf("the clause reads columns %q and %q: lakeplane evaluates where clauses on one column", w.column, t.text)
	}
	w.i++
	if w.punct("(") {
		return nil, fmt.Errorf("function %s(...) is not supported", t.text)
	}
	c := &Condition{}
	switch {
	case w.word("IS"):
		w.i++
		c.Op = OpEq
		if w.word("NOT") {
			w.i++
			c.Op = OpNe
		}
		if !w.word("NULL") {
			return nil, w.errExpected("NULL after IS")
		}
		w.i++
		c.Values = []Value{{Kind: Null}}
	case w.word("NOT") || w.word("IN") || w.word("BETWEEN"):
		if w.word("NOT") {
			c.Not = true
			w.i++
		}
		switch {
		case w.word("IN"):
			w.i++
			c.Op = OpIn
			if !w.punct("(") {
				return nil, w.errExpected(`"(" after IN`)
			}
			w.i++
			for {
				v, err := w.literal()
				if err != nil {
					return nil, err
				}
				c.Values = append(c.Values, v)
				if w.punct(",") {
					w.i++
					continue
				}
				if !w.punct(")") {
					return nil, w.errExpected(`"," or ")" in the IN list`)
				}
				w.i++
				break
			}
		case w.word("BETWEEN"):
			w.i++
			c.Op = OpBetween
			lo, err := w.literal()
			if err != nil {
				return nil, err
			}
			if !w.word("AND") {
				return nil, w.errExpected("AND in BETWEEN ... AND ...")
			}
			w.i++
			hi, err := w.literal()
			if err != nil {
				return nil, err
			}
			if (lo.Kind == Number) != (hi.Kind == Number) {
				return nil, fmt.Errorf("BETWEEN needs two numbers or two strings")
			}
			c.Values = []Value{lo, hi}
		default:
			return nil, w.errExpected("IN or BETWEEN after NOT")
		}
	case w.peek().kind == 'p':
		op, ok := compareOps[w.peek().text]
		if !ok {
			return nil, w.errExpected("a comparison")
		}
		c.Op = op
		w.i++
		v, err := w.literal()
		if err != nil {
			return nil, err
		}
		c.Values = []Value{v}
	default:
		return nil, w.errExpected("a comparison, IN, BETWEEN or IS [NOT] NULL")
	}
	return &WhereExpr{Op: WhereTest, Cond: c}, nil
}

func (w *whereParser) literal() (Value, error) {
	t := w.peek()
	switch t.kind {
	case 'n':
		w.i++
		return Value{Kind: Number, Text: t.text}, nil
	case 's':
		w.i++
		return Value{Kind: String, Text: t.text}, nil
	case 'i', 'q':
		if w.i+1 < len(w.toks) && w.toks[w.i+1].text == "(" {
			return Value{}, fmt.Errorf("function %s(...) is not supported", t.text)
		}
		if t.kind == 'i' && strings.EqualFold(t.text, "NULL") {
			return Value{}, fmt.Errorf("compare with NULL using IS NULL or IS NOT NULL")
		}
		return Value{}, fmt.Errorf("%q at character %d: a comparison is with a number or a 'string', not another column", t.text, t.pos+1)
	}
	return Value{}, w.errExpected("a number or a 'string'")
}
