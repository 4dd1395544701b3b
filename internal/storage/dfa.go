package storage

import (
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// lineDFA decides whether a line holds a match of a pattern without
// empty-width assertions (no ^, $, \A, \z, \b, \B), for which that
// depends on the line's runes alone. It is a lazily built DFA over the
// pattern's compiled program: a state is the set of instructions alive
// after some runes, the start re-added at each step for an unanchored
// search. Its transitions are cached in one flat table of 256 entries a
// state, so that a line is scanned at one table lookup per byte and only
// up to its first match. Runes are decoded as package regexp does (an
// invalid byte is utf8.RuneError), so the answers are regexp's; when no
// instruction can match a non-ASCII rune, every byte of one leads back to
// the start state, as the rune does, and the table answers those bytes
// too. A lineDFA is not safe for concurrent use.
type lineDFA struct {
	prog      *syntax.Prog
	asciiOnly bool // no instruction matches a rune >= utf8.RuneSelf
	states    []*dfaState
	index     map[string]int32 // state by its instructions' key
	start     int32
	// trans holds, at row(s)+b, what byte b does in state s: a row (the
	// next state's), or one of the t* markers.
	trans []int32
	// scratch for building a state
	seen []bool
	pcs  []uint32
	key  []byte
}

// Markers in lineDFA.trans; a row is always positive.
const (
	tUnknown = 0  // not computed yet
	tMatch   = -1 // the byte completes a match
	tEnd     = -2 // "\n": the line ends
	tSlow    = -3 // "\r", or a byte of a non-ASCII rune the table cannot answer
)

// dfaState is one state of a lineDFA.
type dfaState struct {
	pcs   []uint32       // the alive instructions, sorted
	match bool           // a match has ended
	other map[rune]int32 // the next state of runes the table leaves out
}

// maxDFAStates bounds a lineDFA's cache (a KiB of table a state); past it
// the cache starts anew.
const maxDFAStates = 4096

// newLineDFA returns a lineDFA for pattern, or nil when the pattern holds
// an empty-width assertion (or does not compile).
func newLineDFA(pattern string) *lineDFA {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	for _, inst := range prog.Inst {
		if inst.Op == syntax.InstEmptyWidth {
			return nil
		}
	}
	d := &lineDFA{prog: prog, asciiOnly: asciiOnly(prog), seen: make([]bool, len(prog.Inst))}
	d.reset()
	return d
}

// asciiOnly reports whether no instruction of prog can match a rune of
// utf8.RuneSelf or more (utf8.RuneError, which an invalid byte decodes to,
// among them).
func asciiOnly(prog *syntax.Prog) bool {
	for i := range prog.Inst {
		inst := &prog.Inst[i]
		switch inst.Op {
		case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			return false
		case syntax.InstRune1:
			if inst.Rune[0] >= utf8.RuneSelf {
				return false
			}
		case syntax.InstRune:
			if !asciiRunes(inst) {
				return false
			}
		}
	}
	return true
}

// asciiRunes reports whether the InstRune inst matches ASCII runes only.
func asciiRunes(inst *syntax.Inst) bool {
	if len(inst.Rune) == 1 {
		r := inst.Rune[0]
		if syntax.Flags(inst.Arg)&syntax.FoldCase == 0 {
			return r < utf8.RuneSelf
		}
		// Case folding: "k" matches the Kelvin sign too.
		for f := unicode.SimpleFold(r); ; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				return false
			}
			if f == r {
				return true
			}
		}
	}
	for i := 1; i < len(inst.Rune); i += 2 {
		if inst.Rune[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// row is where state id's entries start in d.trans.
func row(id int32) int32 { return (id + 1) << 8 }

// stateOf is the state whose entries start at row r.
func stateOf(r int32) int32 { return r>>8 - 1 }

// reset empties the cache, leaving the start state.
func (d *lineDFA) reset() {
	d.states = d.states[:0]
	d.index = make(map[string]int32)
	d.trans = d.trans[:0]
	d.trans = append(d.trans, make([]int32, 256)...) // row 0 is no state's
	d.pcs = d.pcs[:0]
	d.add(uint32(d.prog.Start))
	d.start = d.intern()
}

// add adds pc and the instructions it reaches without a rune to d.pcs.
func (d *lineDFA) add(pc uint32) {
	if d.seen[pc] {
		return
	}
	d.seen[pc] = true
	inst := &d.prog.Inst[pc]
	switch inst.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		d.add(inst.Out)
		d.add(inst.Arg)
	case syntax.InstCapture, syntax.InstNop:
		d.add(inst.Out)
	case syntax.InstFail:
	default: // runes, match
		d.pcs = append(d.pcs, pc)
	}
}

// intern returns the state of the instructions in d.pcs, making it (and
// its row of the table) when new, and clears the scratch.
func (d *lineDFA) intern() int32 {
	// add marks the instructions it passes through too; clear them all.
	clear(d.seen)
	slices.Sort(d.pcs)
	d.key = d.key[:0]
	for _, pc := range d.pcs {
		d.key = append(d.key, byte(pc), byte(pc>>8), byte(pc>>16), byte(pc>>24))
	}
	if id, ok := d.index[string(d.key)]; ok {
		d.pcs = d.pcs[:0]
		return id
	}
	st := &dfaState{pcs: slices.Clone(d.pcs)}
	for _, pc := range st.pcs {
		st.match = st.match || d.prog.Inst[pc].Op == syntax.InstMatch
	}
	id := int32(len(d.states))
	d.states = append(d.states, st)
	d.index[string(d.key)] = id
	d.pcs = d.pcs[:0]
	d.trans = append(d.trans, make([]int32, 256)...)
	r := d.trans[row(id) : row(id)+256]
	r['\n'], r['\r'] = tEnd, tSlow
	if !d.asciiOnly {
		for b := utf8.RuneSelf; b < 256; b++ {
			r[b] = tSlow
		}
	}
	return id
}

// entry is what the table holds for a step into state id.
func (d *lineDFA) entry(id int32) int32 {
	if d.states[id].match {
		return tMatch
	}
	return row(id)
}

// step returns the state after rune r in state from, and whether from is
// still valid (the cache was not started anew).
func (d *lineDFA) step(from int32, r rune) (int32, bool) {
	st := d.states[from]
	for _, pc := range st.pcs {
		inst := &d.prog.Inst[pc]
		var ok bool
		switch inst.Op {
		case syntax.InstRune1:
			ok = r == inst.Rune[0]
		case syntax.InstRune:
			ok = inst.MatchRune(r)
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		}
		if ok {
			d.add(inst.Out)
		}
	}
	d.add(uint32(d.prog.Start)) // unanchored: a match may start at the next rune
	if len(d.states) >= maxDFAStates {
		pcs := slices.Clone(d.pcs)
		clear(d.seen)
		d.reset()
		d.pcs = append(d.pcs[:0], pcs...)
		return d.intern(), false
	}
	return d.intern(), true
}

// byteStep returns the table entry for byte b (one the table answers) in
// the state at row cur, computing and caching it when unknown.
func (d *lineDFA) byteStep(cur int32, b byte) int32 {
	if t := d.trans[cur+int32(b)]; t != tUnknown {
		return t
	}
	var to int32
	valid := true
	if b >= utf8.RuneSelf {
		to = d.start // asciiOnly: no instruction takes the rune
	} else {
		to, valid = d.step(stateOf(cur), rune(b))
	}
	t := d.entry(to)
	if valid {
		d.trans[cur+int32(b)] = t
	}
	return t
}

// runeStep returns the table entry for rune r in the state at row cur,
// for a rune the table leaves out, caching it in the state.
func (d *lineDFA) runeStep(cur int32, r rune) int32 {
	from := stateOf(cur)
	st := d.states[from]
	if to, ok := st.other[r]; ok {
		return d.entry(to)
	}
	to, valid := d.step(from, r)
	if valid {
		if st.other == nil {
			st.other = make(map[rune]int32)
		}
		st.other[r] = to
	}
	return d.entry(to)
}

// matchLine scans line from its start up to its end (a "\n", or a "\r"
// before one or at the end of p) and returns whether it holds a match and
// where the scan stopped: at the line's end, or past the match; and, when
// it stopped at the end of p, the row of the state it was in, with which
// resume goes on with the rest of the line.
func (d *lineDFA) matchLine(p []byte) (bool, int, int32) {
	if d.states[d.start].match {
		return true, 0, 0
	}
	return d.resume(p, row(d.start))
}

// resume is matchLine from the state at row cur.
func (d *lineDFA) resume(p []byte, cur int32) (bool, int, int32) {
	trans := d.trans
	for i := 0; i < len(p); i++ {
		t := trans[cur+int32(p[i])]
		if t > 0 {
			cur = t
			continue
		}
		switch t {
		case tMatch:
			return true, i + 1, 0
		case tEnd:
			return false, i, 0
		case tUnknown:
			t = d.byteStep(cur, p[i])
		case tSlow:
			if p[i] == '\r' {
				if i+1 == len(p) || p[i+1] == '\n' {
					return false, i, cur
				}
				t = d.runeStep(cur, '\r')
			} else {
				r, size := utf8.DecodeRune(p[i:])
				t = d.runeStep(cur, r)
				i += size - 1
			}
		}
		if t == tMatch {
			return true, i + 1, 0
		}
		cur, trans = t, d.trans // the table may have grown or started anew
	}
	return false, len(p), cur
}

// neededByte returns an ASCII byte every match of pattern holds, the
// rarest by a rough guess, or -1 when there is none: a line without it
// cannot match, and a fast search for it skips such lines unread. When
// every match holds the byte within its first lead+1 bytes, it returns
// lead too, else -1.
func neededByte(pattern string) (need, lead int) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return -1, -1
	}
	re = re.Simplify()
	need = -1
	for b, ok := range needed(re) {
		if ok && (need < 0 || byteRank(byte(b)) < byteRank(byte(need))) {
			need = b
		}
	}
	if need < 0 {
		return -1, -1
	}
	if lead, ok := leadOf(re, byte(need)); ok {
		return need, lead
	}
	return need, -1
}

// maxLead bounds the leads neededByte reports.
const maxLead = 1 << 10

// leadOf returns the most bytes a match of re can hold before its first b
// (which every match holds), counting a rune as one byte, as it is when
// the pattern matches ASCII runes only.
func leadOf(re *syntax.Regexp, b byte) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return 0, false
		}
		i := slices.Index(re.Rune, rune(b))
		return i, i >= 0
	case syntax.OpCharClass:
		ok := len(re.Rune) == 2 && re.Rune[0] == rune(b) && re.Rune[1] == rune(b)
		return 0, ok
	case syntax.OpCapture, syntax.OpPlus:
		return leadOf(re.Sub[0], b)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return leadOf(re.Sub[0], b)
		}
	case syntax.OpConcat:
		before := 0
		for _, sub := range re.Sub {
			if n, ok := leadOf(sub, b); ok {
				return before + n, before+n <= maxLead
			}
			n, ok := maxRunes(sub)
			if !ok {
				return 0, false
			}
			before += n
		}
	case syntax.OpAlternate:
		most := 0
		for _, sub := range re.Sub {
			n, ok := leadOf(sub, b)
			if !ok {
				return 0, false
			}
			most = max(most, n)
		}
		return most, true
	}
	return 0, false
}

// maxRunes returns the most runes a match of re can hold, when bounded
// (by maxLead).
func maxRunes(re *syntax.Regexp) (int, bool) {
	n, ok := 0, true
	switch re.Op {
	case syntax.OpLiteral:
		n = len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		n = 1
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	case syntax.OpCapture, syntax.OpQuest:
		n, ok = maxRunes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return 0, false
		}
		n, ok = maxRunes(re.Sub[0])
		n *= re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		for _, sub := range re.Sub {
			k, subOK := maxRunes(sub)
			if re.Op == syntax.OpConcat {
				n += k
			} else {
				n = max(n, k)
			}
			ok = ok && subOK && n <= maxLead
		}
	default: // star, plus, no match
		return 0, false
	}
	return n, ok && n <= maxLead
}

// byteSet is a set of ASCII bytes.
type byteSet [utf8.RuneSelf]bool

// needed returns the ASCII bytes every match of re holds.
func needed(re *syntax.Regexp) byteSet {
	var s byteSet
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return s // the other case would do, or a Unicode fold
		}
		for _, r := range re.Rune {
			if r < utf8.RuneSelf {
				s[r] = true
			}
		}
	case syntax.OpCharClass:
		if len(re.Rune) == 2 && re.Rune[0] == re.Rune[1] && re.Rune[0] < utf8.RuneSelf {
			s[re.Rune[0]] = true
		}
	case syntax.OpCapture:
		return needed(re.Sub[0])
	case syntax.OpPlus:
		return needed(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return needed(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			for b, ok := range needed(sub) {
				s[b] = s[b] || ok
			}
		}
	case syntax.OpAlternate:
		for i, sub := range re.Sub {
			n := needed(sub)
			for b := range s {
				s[b] = n[b] && (i == 0 || s[b])
			}
		}
	}
	return s
}

// byteRank guesses how common b is in text and CSV: lower is rarer.
func byteRank(b byte) int {
	switch {
	case b == ' ' || b == ',' || b == '\t' || b == '"':
		return 5
	case 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return 4
	case 'A' <= b && b <= 'Z':
		return 3
	case b == '.' || b == '-' || b == '_' || b == ':' || b == '/' || b == ';':
		return 2
	case b < ' ' || b == 0x7f:
		return 0
	default:
		return 1
	}
}
