package storage

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// grepper finds the lines of a stream that match a pattern. A pattern
// without empty-width assertions goes through a lineDFA, line by line.
// Any other is searched a whole buffer at once in multi-line mode to find
// candidates fast, and each candidate's line confirmed with the pattern as
// given, so that a match across a line break never counts. Either way a
// line without the pattern's needed byte (see neededByte) is skipped
// unread. A grepper is not safe for concurrent use; clone gives another.
type grepper struct {
	pattern string
	line    *regexp.Regexp // the pattern, matched against one line
	chunk   *regexp.Regexp // finds the candidates in a buffer
	dollar  bool           // the pattern may anchor at a line's end
	dfa     *lineDFA       // decides each line alone, when the pattern allows
	need    int            // a byte every matching line holds, or -1
	// lead is the most bytes a match holds before its first need byte,
	// when known and the DFA decides by bytes (runes are ASCII), else -1:
	// the DFA may start that far before the line's first need byte.
	lead int
	cont lineCarry // where the last region left off
}

// everyLine makes every line a candidate.
var everyLine = regexp.MustCompile(`(?m)^`)

// newGrepper compiles pattern, or returns a fault.Invalid naming it.
func newGrepper(pattern string) (*grepper, error) {
	if pattern == "" {
		return nil, fault.Invalid("pattern", "is required")
	}
	line, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fault.Invalid("pattern", "%q is not an RE2 pattern: %v", pattern, err)
	}
	g := &grepper{
		pattern: pattern,
		line:    line,
		dollar:  strings.Contains(pattern, "$"),
		dfa:     newLineDFA(pattern),
	}
	g.need, g.lead = neededByte(pattern)
	if g.dfa == nil || !g.dfa.asciiOnly {
		g.lead = -1
	}
	if strings.Contains(pattern, `\A`) || strings.Contains(pattern, `\z`) {
		// Text anchors mean line anchors here, which multi-line mode
		// cannot say: make every line a candidate.
		g.chunk = everyLine
	} else if g.chunk, err = regexp.Compile("(?m:" + pattern + ")"); err != nil {
		g.chunk = everyLine
	}
	return g, nil
}

// clone returns a grepper for the same pattern with a DFA of its own, for
// another goroutine.
func (g *grepper) clone() *grepper {
	c := *g
	if g.dfa != nil {
		c.dfa = newLineDFA(g.pattern)
	}
	return &c
}

// scanRegions reads r through buf and calls fn with regions of whole
// lines, the last line of r perhaps without its "\n", until r ends or fn
// fails; it checks ctx before each. A line longer than half of buf comes
// in pieces, each but the last partial, and cut neither inside a rune nor
// after a "\r" (which a "\n" in the next piece may make a line end).
func scanRegions(ctx context.Context, r io.Reader, buf []byte, fn func(region []byte, partial bool) error) error {
	n := 0
	eof := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		for !eof && n < len(buf) {
			k, err := r.Read(buf[n:])
			n += k
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return err
			}
			if k == 0 && err == nil {
				continue
			}
			if bytes.IndexByte(buf[n-k:n], '\n') >= 0 && n > len(buf)/2 {
				break
			}
		}
		end, partial := n, false
		if !eof {
			if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
				end = i + 1
			} else {
				end, partial = pieceEnd(buf[:n]), true
			}
		}
		if err := fn(buf[:end], partial); err != nil {
			return err
		}
		copy(buf, buf[end:n])
		n -= end
		if eof && n == 0 {
			return nil
		}
	}
}

// pieceEnd is where to cut p, a piece of a line: before an incomplete rune
// at its end, and before a "\r" at its end; len(p) when that leaves
// nothing.
func pieceEnd(p []byte) int {
	end := len(p)
	i := end - 1
	for i > 0 && end-i < utf8.UTFMax && !utf8.RuneStart(p[i]) {
		i--
	}
	if i >= 0 && !utf8.FullRune(p[i:end]) {
		end = i
	}
	if end > 0 && p[end-1] == '\r' {
		end--
	}
	if end == 0 {
		return len(p)
	}
	return end
}

// search calls emit with the line number and text of every matching line
// of r, reading r through buf, until r ends or emit returns an error. The
// text of a line longer than half of buf is the piece the match ended in.
func (g *grepper) search(ctx context.Context, r io.Reader, buf []byte, emit func(line int64, text []byte) error) error {
	g.cont = lineCarry{}
	lineNo := int64(1) // the line number of the region's first line
	return scanRegions(ctx, r, buf, func(region []byte, partial bool) error {
		next, err := g.searchRegion(region, partial, lineNo, emit)
		lineNo = next
		return err
	})
}

// count returns the number of lines of r that match, reading r through buf.
func (g *grepper) count(ctx context.Context, r io.Reader, buf []byte) (int64, error) {
	g.cont = lineCarry{}
	var n int64
	err := scanRegions(ctx, r, buf, func(region []byte, partial bool) error {
		k, _ := g.eachMatch(region, partial, nil)
		n += k
		return nil
	})
	return n, err
}

// searchRegion searches region, whose first line has the number lineNo,
// and returns the number of the line after it (the same when region ends
// in a partial line).
func (g *grepper) searchRegion(region []byte, partial bool, lineNo int64, emit func(int64, []byte) error) (int64, error) {
	cur := 0 // the start of line lineNo
	_, err := g.eachMatch(region, partial, func(start, end int) error {
		lineNo += int64(bytes.Count(region[cur:start], []byte{'\n'}))
		cur = start
		return emit(lineNo, region[start:end])
	})
	if err != nil {
		return 0, err
	}
	return lineNo + int64(bytes.Count(region[cur:], []byte{'\n'})), nil
}

// lineCarry is where a partial region left its last line, for the next
// region, which goes on with it.
type lineCarry struct {
	open    bool  // the next region starts inside a line
	matched bool  // that line matched already
	row     int32 // or else the DFA's state in it (0 when not known)
}

// eachMatch returns the number of matching lines of region and calls fn,
// unless nil, with the start and end (before its "\n") of each, in order,
// until fn fails. A line that goes on from the region before, or into the
// next (partial), counts once, in the region where it first matched.
func (g *grepper) eachMatch(region []byte, partial bool, fn func(start, end int) error) (int64, error) {
	if g.dfa == nil {
		return g.eachRegexpMatch(region, partial, fn)
	}
	carry := g.cont
	g.cont = lineCarry{}
	var n int64
	start := 0 // where the line starts, or a point before it in the line
	for start < len(region) {
		from := start // where the DFA starts
		first := start == 0 && carry.open
		var ok bool
		var at int
		var stop int32
		switch {
		case first && carry.matched:
			ok, at = true, 0
		case first:
			ok, at, stop = g.dfa.resume(region, carry.row)
		default:
			if g.need >= 0 {
				i := bytes.IndexByte(region[start:], byte(g.need))
				if i < 0 {
					g.carryTail(region, start, partial)
					return n, nil
				}
				start, from = g.skipTo(region, start, start+i)
			}
			ok, at, stop = g.dfa.matchLine(region[from:])
		}
		at += from
		end := len(region)
		if i := bytes.IndexByte(region[at:], '\n'); i >= 0 {
			end = at + i
		}
		if end == len(region) && partial {
			g.cont = lineCarry{open: true, matched: ok, row: stop}
		}
		if ok && !(first && carry.matched) {
			n++
			if fn != nil {
				start += bytes.LastIndexByte(region[start:from], '\n') + 1
				if err := fn(start, end); err != nil {
					return n, err
				}
			}
		}
		start = end + 1
	}
	return n, nil
}

// skipTo returns, for the needed byte at i in the line at or after start,
// where the DFA may start: the line's start, or lead bytes before i when
// that is later; and the line's start when known by then, else a point
// of the line before the DFA's start (start as given).
func (g *grepper) skipTo(region []byte, start, i int) (lineStart, from int) {
	lo := start
	if g.lead >= 0 {
		lo = max(start, i-g.lead)
	}
	if k := bytes.LastIndexByte(region[lo:i], '\n'); k >= 0 {
		return lo + k + 1, lo + k + 1
	}
	if lo == start {
		return start, start
	}
	// The line starts in [start, lo]; the DFA starts at lo.
	return start, lo
}

// carryTail notes, when region is partial, the DFA's state at its end,
// where a match may have begun, in a last line (starting at or after
// start) without the needed byte.
func (g *grepper) carryTail(region []byte, start int, partial bool) {
	if !partial {
		return
	}
	from := start + bytes.LastIndexByte(region[start:], '\n') + 1
	if g.lead >= 0 {
		from = max(from, len(region)-g.lead)
	}
	_, _, stop := g.dfa.matchLine(region[from:])
	g.cont = lineCarry{open: true, row: stop}
}

// eachRegexpMatch is eachMatch for a pattern the DFA cannot decide: the
// multi-line pattern finds each candidate, and the pattern as given
// decides the candidate's line; the pieces of a long line are decided
// one by one.
func (g *grepper) eachRegexpMatch(region []byte, partial bool, fn func(start, end int) error) (int64, error) {
	skipFirst := g.cont.open && g.cont.matched
	last := bytes.LastIndexByte(region, '\n') + 1 // the last line's start
	g.cont = lineCarry{open: partial, matched: partial && skipFirst && last == 0}
	chunk := g.chunk
	if g.dollar && bytes.IndexByte(region, '\r') >= 0 {
		// Multi-line "$" matches before "\n" only, not before the "\r"
		// of a CRLF line, where a line's own match ends.
		chunk = everyLine
	}
	var n int64
	pos := 0
	for pos <= len(region) {
		loc := chunk.FindIndex(region[pos:])
		if loc == nil {
			return n, nil
		}
		at := pos + loc[0]
		start := bytes.LastIndexByte(region[:at], '\n') + 1
		if start == len(region) {
			return n, nil // the empty rest after the last line break
		}
		end := len(region)
		if i := bytes.IndexByte(region[at:], '\n'); i >= 0 {
			end = at + i
		}
		if !(start == 0 && skipFirst) && g.line.Match(bytes.TrimSuffix(region[start:end], []byte{'\r'})) {
			if partial && start == last {
				g.cont.matched = true
			}
			n++
			if fn != nil {
				if err := fn(start, end); err != nil {
					return n, err
				}
			}
		}
		pos = end + 1
	}
	return n, nil
}
