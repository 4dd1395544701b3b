package dqdl

import (
	"strconv"
	"strings"
)

// String prints rs as canonical DQDL: one rule a line, four spaces in.
func (rs *Ruleset) String() string {
	if len(rs.Rules) == 0 {
		return "Rules = [ ]"
	}
	var b strings.Builder
	b.WriteString("Rules = [\n")
	for i, r := range rs.Rules {
		b.WriteString("    ")
		b.WriteString(r.String())
		if i < len(rs.Rules)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]")
	return b.String()
}

// String prints r as canonical DQDL: a leaf as
// Type "param" ... condition [where "..."] [with threshold condition], a
// composite as (part) and (part) ....
func (r *Rule) String() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

func (r *Rule) write(b *strings.Builder) {
	if !r.IsLeaf() {
		join := " and "
		if r.Composite == Or {
			join = " or "
		}
		for i, p := range r.Parts {
			if i > 0 {
				b.WriteString(join)
			}
			b.WriteByte('(')
			p.write(b)
			b.WriteByte(')')
		}
		return
	}
	b.WriteString(r.Type)
	for _, p := range r.Params {
		b.WriteByte(' ')
		b.WriteString(quote(p))
	}
	if r.Cond != nil {
		b.WriteByte(' ')
		b.WriteString(r.Cond.String())
	}
	if r.Where != "" {
		b.WriteString(" where ")
		b.WriteString(quote(r.Where))
	}
	if r.Threshold != nil {
		b.WriteString(" with threshold ")
		b.WriteString(r.Threshold.String())
	}
}

// String prints c as DQDL, e.g. "between 1 and 10" or "not in [\"A\", NULL]".
func (c *Condition) String() string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	if c.Not {
		b.WriteString("not ")
	}
	switch c.Op {
	case OpBetween:
		b.WriteString("between ")
		b.WriteString(formatValue(c.Values[0]))
		b.WriteString(" and ")
		b.WriteString(formatValue(c.Values[1]))
	case OpIn:
		b.WriteString("in ")
		writeList(&b, c.Values)
	case OpMatches:
		b.WriteString("matches ")
		b.WriteString(formatValue(c.Values[0]))
	default:
		b.WriteString(opText(c.Op))
		b.WriteByte(' ')
		if len(c.Values) == 1 {
			b.WriteString(formatValue(c.Values[0]))
		} else {
			writeList(&b, c.Values)
		}
	}
	return b.String()
}

func writeList(b *strings.Builder, vs []Value) {
	b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(formatValue(v))
	}
	b.WriteByte(']')
}

func opText(op Op) string {
	switch op {
	case OpEq:
		return "="
	case OpNe:
		return "!="
	case OpGt:
		return ">"
	case OpGe:
		return ">="
	case OpLt:
		return "<"
	case OpLe:
		return "<="
	case OpBetween:
		return "between"
	case OpIn:
		return "in"
	case OpMatches:
		return "matches"
	}
	return "?"
}

// String prints v as DQDL.
func (v Value) String() string { return formatValue(v) }

func formatValue(v Value) string {
	switch v.Kind {
	case Number:
		return v.Text
	case String:
		return quote(v.Text)
	case Null:
		return "NULL"
	case Empty:
		return "EMPTY"
	case WhitespacesOnly:
		return "WHITESPACES_ONLY"
	case Now:
		if v.Sign == 0 {
			return "now()"
		}
		return "(now() " + string(v.Sign) + " " + strconv.FormatInt(v.Amount, 10) + " " + v.Unit + ")"
	case Duration:
		return strconv.FormatInt(v.Amount, 10) + " " + v.Unit
	}
	return "?"
}
