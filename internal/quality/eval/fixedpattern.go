package eval

import (
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// fixedPattern matches a whole value against a regular expression that is
// a fixed sequence of character classes, such as `\d{6}-\d{7}` or
// `[A-Z]{2}\d{4}`: one class per character of a match, tested in one pass
// without regexp's machine. compileFixed says which expressions qualify;
// for those, match agrees with regexp's MatchString of the anchored
// expression, invalid UTF-8 included (a bad byte reads as U+FFFD, one byte
// wide, as regexp reads it).
type fixedPattern struct {
	classes []runeClass
}

// runeClass is a set of runes: a bitmap below utf8.RuneSelf and sorted
// inclusive ranges above it.
type runeClass struct {
	ascii  [2]uint64
	ranges []rune // lo, hi pairs, all >= utf8.RuneSelf
}

// maxFixedClasses bounds the length of a fixed pattern.
const maxFixedClasses = 256

// compileFixed returns the fixed pattern of expr (parsed as regexp.Compile
// parses it), or false when expr is anything else: repetitions of varying
// count, alternations of strings, anchors inside the value.
func compileFixed(expr string) (*fixedPattern, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false
	}
	b := fixedBuilder{}
	if !b.add(re.Simplify()) || len(b.classes) > maxFixedClasses {
		return nil, false
	}
	return &fixedPattern{classes: b.classes}, true
}

// fixedBuilder flattens a simplified expression into classes.
type fixedBuilder struct {
	classes []runeClass
	ended   bool // past an end-of-text anchor
}

func (b *fixedBuilder) add(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return true
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !b.add(sub) {
				return false
			}
		}
		return true
	case syntax.OpCapture:
		return b.add(re.Sub[0])
	case syntax.OpBeginText:
		return len(b.classes) == 0
	case syntax.OpEndText:
		b.ended = true
		return true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			runes := []rune{r}
			if re.Flags&syntax.FoldCase != 0 {
				runes = foldOrbit(r)
			}
			if !b.push(classOfRunes(runes)) {
				return false
			}
		}
		return true
	case syntax.OpCharClass:
		return b.push(classOf(re.Rune))
	case syntax.OpAnyCharNotNL:
		return b.push(classOf([]rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}))
	case syntax.OpAnyChar:
		return b.push(classOf([]rune{0, utf8.MaxRune}))
	}
	return false
}

// push appends a class unless the expression already ended the value.
func (b *fixedBuilder) push(c runeClass) bool {
	if b.ended || len(b.classes) == maxFixedClasses {
		return false
	}
	b.classes = append(b.classes, c)
	return true
}

// classOf builds a class from syntax's sorted lo, hi pairs.
func classOf(pairs []rune) runeClass {
	var c runeClass
	for i := 0; i+1 < len(pairs); i += 2 {
		lo, hi := pairs[i], pairs[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			c.ascii[r/64] |= 1 << (r % 64)
		}
		if hi >= utf8.RuneSelf {
			c.ranges = append(c.ranges, max(lo, utf8.RuneSelf), hi)
		}
	}
	return c
}

// foldOrbit returns r and the runes it equals under simple case folding,
// as regexp compares a case-folded literal.
func foldOrbit(r rune) []rune {
	out := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		out = append(out, f)
	}
	return out
}

// classOfRunes builds a class of single runes.
func classOfRunes(runes []rune) runeClass {
	slices.Sort(runes)
	pairs := make([]rune, 0, 2*len(runes))
	for _, r := range runes {
		pairs = append(pairs, r, r)
	}
	return classOf(pairs)
}

func (c *runeClass) contains(r rune) bool {
	if r < utf8.RuneSelf {
		return c.ascii[r/64]&(1<<(r%64)) != 0
	}
	for i := 0; i < len(c.ranges); i += 2 {
		if r < c.ranges[i] {
			return false
		}
		if r <= c.ranges[i+1] {
			return true
		}
	}
	return false
}

// match reports whether the whole of s matches the pattern.
func (p *fixedPattern) match(s string) bool {
	if len(s) < len(p.classes) {
		return false // every class takes at least one byte
	}
	i := 0
	for k := range p.classes {
		if i >= len(s) {
			return false
		}
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if !p.classes[k].contains(r) {
			return false
		}
		i += w
	}
	return i == len(s)
}
