package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// readBufSize is the size of the buffer each object is read through.
const readBufSize = 256 << 10

// openText opens the object info describes for reading, decompressing it
// when its name ends in ".gz" or it starts with the gzip magic bytes.
func (s *Service) openText(ctx context.Context, info objects.Info) (io.Reader, func(), error) {
	rc, _, err := s.store.Get(ctx, info.URI, nil)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(rc, readBufSize)
	magic, _ := br.Peek(2)
	if strings.HasSuffix(info.URI, ".gz") || bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("%s: not gzip: %w", info.URI, err)
		}
		return zr, func() { zr.Close(); rc.Close() }, nil
	}
	return br, func() { rc.Close() }, nil
}

// forEachObject calls fn for every object t names, up to limit at once, and
// returns the first error (after which it calls fn no more).
func (s *Service) forEachObject(ctx context.Context, t target, limit int, fn func(ctx context.Context, info objects.Info) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for info, err := range s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			fail(err)
			break
		}
		if !t.contains(info.URI) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, info); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// CountResult holds the counts of CountLines.
type CountResult struct {
	// Lines is the number of lines (a last line without a line break
	// counts), or with csv the number of records, the headers left out.
	Lines int64
	// Bytes is the number of bytes stored (compressed, for gzip objects).
	Bytes int64
	// Objects is the number of objects counted.
	Objects int64
}

// CountLines counts the lines of every object uri names, several objects
// at once, streaming each and decompressing gzip. With csv it counts CSV
// records instead, so that a line break inside a quoted field does not
// start a record, and leaves out each object's header unless
// header is false.
func (s *Service) CountLines(ctx context.Context, uri string, csv bool, f Format) (CountResult, error) {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return CountResult{}, err
	}
	if err := f.check(); err != nil {
		return CountResult{}, err
	}
	g, err := s.guardRead(ctx, t)
	if err != nil {
		return CountResult{}, err
	}
	var lines, size, count atomic.Int64
	var mu sync.Mutex // the guard caches answers
	err = s.forEachObject(ctx, t, s.parallelism, func(ctx context.Context, info objects.Info) error {
		mu.Lock()
		err := g.object(ctx, info.URI)
		mu.Unlock()
		if err != nil {
			return err
		}
		r, closeFn, err := s.openText(ctx, info)
		if err != nil {
			return err
		}
		defer closeFn()
		var n int64
		if csv {
			n, err = countRecords(r, f.quote())
			if f.header() && n > 0 {
				n--
			}
		} else {
			n, err = countLines(r)
		}
		if err != nil {
			return fmt.Errorf("count %s: %w", info.URI, err)
		}
		lines.Add(n)
		size.Add(info.Size)
		count.Add(1)
		return nil
	})
	if err != nil {
		return CountResult{}, err
	}
	return CountResult{Lines: lines.Load(), Bytes: size.Load(), Objects: count.Load()}, nil
}

// countLines counts the line breaks of r, and a last line without one.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, readBufSize)
	var n int64
	var last byte = '\n'
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// recordCounter counts CSV records in a stream: a record ends at a line
// break outside quotes, and a line holding nothing (or only "\r") is no
// record, as encoding/csv and csvstream skip it. Quotes toggle the quoted
// state, which reads RFC 4180's doubled quotes right. The delimiter does
// not matter, and the byte-wise scan is right for CP949 and EUC-KR too,
// whose multi-byte characters never hold the bytes of '"' or '\n'.
type recordCounter struct {
	quote    byte
	inQuotes bool
	filled   bool // the current record holds something besides "\r"
	cr       bool // its only content so far is a "\r"
	records  int64
}

// write counts the records that p completes.
func (c *recordCounter) write(p []byte) {
	for len(p) > 0 {
		if c.inQuotes {
			i := bytes.IndexByte(p, c.quote)
			if i < 0 {
				return
			}
			c.inQuotes = false
			p = p[i+1:]
			continue
		}
		i := indexEither(p, '\n', c.quote)
		if i < 0 {
			c.see(p)
			return
		}
		c.see(p[:i])
		if p[i] == c.quote {
			c.filled, c.cr = true, false
			c.inQuotes = true
		} else {
			if c.filled {
				c.records++
			}
			c.filled, c.cr = false, false
		}
		p = p[i+1:]
	}
}

// see notes the unquoted bytes p of the current record.
func (c *recordCounter) see(p []byte) {
	if len(p) == 0 || c.filled {
		return
	}
	if len(p) == 1 && p[0] == '\r' && !c.cr {
		c.cr = true
		return
	}
	c.filled = true
}

// end counts a last record without a line break.
func (c *recordCounter) end() int64 {
	if c.filled || c.inQuotes {
		c.records++
		c.filled, c.inQuotes = false, false
	}
	return c.records
}

// indexEither is the index of the first a or b in p, or -1.
func indexEither(p []byte, a, b byte) int {
	i := bytes.IndexByte(p, a)
	if i < 0 {
		return bytes.IndexByte(p, b)
	}
	if j := bytes.IndexByte(p[:i], b); j >= 0 {
		return j
	}
	return i
}

// countRecords counts the CSV records of r.
func countRecords(r io.Reader, quote byte) (int64, error) {
	c := recordCounter{quote: quote}
	buf := make([]byte, readBufSize)
	for {
		k, err := r.Read(buf)
		c.write(buf[:k])
		if err == io.EOF {
			return c.end(), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Match is one line that matched a Grep.
type Match struct {
	URI  string
	Line int64 // 1-based
	Text string
}

// Limits of Grep.
const (
	// DefaultMaxMatches is the number of matches a Grep stops at when the
	// request sets none.
	DefaultMaxMatches = 1000
	// maxMatchesLimit caps what a request may ask for.
	maxMatchesLimit = 1_000_000
	// grepBatch is the number of matches sent at once.
	grepBatch = 100
	// grepChunk is the buffer a Grep searches at a time; a longer line is
	// searched in pieces.
	grepChunk = 1 << 20
	// maxMatchText is the most of a matching line a Match carries.
	maxMatchText = 8 << 10
)

// Grep searches the objects uri names, one after another in key order, for
// lines matching the RE2 pattern, and calls send with batches of matches
// as it finds them, until maxMatches (DefaultMaxMatches when 0) or the
// end. gzip objects are decompressed. A send error ends the search.
func (s *Service) Grep(ctx context.Context, uri, pattern string, maxMatches int64, send func([]Match) error) error {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return err
	}
	if maxMatches < 0 || maxMatches > maxMatchesLimit {
		return fault.Invalid("maxMatches", "%d is outside 0..%d", maxMatches, maxMatchesLimit)
	}
	if maxMatches == 0 {
		maxMatches = DefaultMaxMatches
	}
	g, err := newGrepper(pattern)
	if err != nil {
		return err
	}
	guard, err := s.guardRead(ctx, t)
	if err != nil {
		return err
	}
	var batch []Match
	var found int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := send(batch)
		batch = nil
		return err
	}
	errStop := fmt.Errorf("enough matches")
	for info, err := range s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			return err
		}
		if !t.contains(info.URI) {
			continue
		}
		if err := guard.object(ctx, info.URI); err != nil {
			return err
		}
		r, closeFn, err := s.openText(ctx, info)
		if err != nil {
			return err
		}
		err = g.search(ctx, r, func(line int64, text []byte) error {
			batch = append(batch, Match{URI: info.URI, Line: line, Text: matchText(text)})
			found++
			if len(batch) == grepBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			if found == maxMatches {
				return errStop
			}
			return nil
		})
		closeFn()
		if err == errStop {
			break
		}
		if err != nil {
			return fmt.Errorf("grep %s: %w", info.URI, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return flush()
}

// matchText is the text a Match carries for a line: valid UTF-8 (proto
// strings must be), without the "\r" of a CRLF line, cut at maxMatchText.
func matchText(line []byte) string {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > maxMatchText {
		cut := maxMatchText
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut]
	}
	if utf8.Valid(line) {
		return string(line)
	}
	return strings.ToValidUTF8(string(line), "\uFFFD")
}

// grepper finds the lines of a stream that match a pattern. A pattern
// without empty-width assertions goes through a lineDFA, line by line.
// Any other is searched a whole buffer at once in multi-line mode to find
// candidates fast, and each candidate's line confirmed with the pattern as
// given, so that a match across a line break never counts.
type grepper struct {
	line   *regexp.Regexp // the pattern, matched against one line
	chunk  *regexp.Regexp // finds the candidates in a buffer
	dollar bool           // the pattern may anchor at a line's end
	dfa    *lineDFA       // decides each line alone, when the pattern allows
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
	g := &grepper{line: line, dollar: strings.Contains(pattern, "$"), dfa: newLineDFA(pattern)}
	if strings.Contains(pattern, `\A`) || strings.Contains(pattern, `\z`) {
		// Text anchors mean line anchors here, which multi-line mode
		// cannot say: make every line a candidate.
		g.chunk = everyLine
	} else if g.chunk, err = regexp.Compile("(?m:" + pattern + ")"); err != nil {
		g.chunk = everyLine
	}
	return g, nil
}

// search calls emit with the line number and text of every matching line
// of r, until r ends or emit returns an error.
func (g *grepper) search(ctx context.Context, r io.Reader, emit func(line int64, text []byte) error) error {
	buf := make([]byte, grepChunk)
	n := 0
	lineNo := int64(1) // the line number of buf[0]
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
		end := n
		if !eof {
			if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
				end = i + 1
			}
		}
		next, err := g.searchRegion(buf[:end], lineNo, emit)
		if err != nil {
			return err
		}
		lineNo = next
		copy(buf, buf[end:n])
		n -= end
		if eof && n == 0 {
			return nil
		}
	}
}

// searchRegion searches region, whose first line has the number lineNo,
// and returns the number of the line after it.
func (g *grepper) searchRegion(region []byte, lineNo int64, emit func(int64, []byte) error) (int64, error) {
	if g.dfa != nil {
		return g.dfa.searchRegion(region, lineNo, emit)
	}
	chunk := g.chunk
	if g.dollar && bytes.IndexByte(region, '\r') >= 0 {
		// Multi-line "$" matches before "\n" only, not before the "\r"
		// of a CRLF line, where a line's own match ends.
		chunk = everyLine
	}
	pos, cur := 0, 0
	for pos <= len(region) {
		loc := chunk.FindIndex(region[pos:])
		if loc == nil {
			break
		}
		at := pos + loc[0]
		start := bytes.LastIndexByte(region[:at], '\n') + 1
		end := len(region)
		if i := bytes.IndexByte(region[at:], '\n'); i >= 0 {
			end = at + i
		}
		if start == len(region) {
			break // the empty rest after the last line break
		}
		lineNo += int64(bytes.Count(region[cur:start], []byte{'\n'}))
		cur = start
		if g.line.Match(bytes.TrimSuffix(region[start:end], []byte{'\r'})) {
			if err := emit(lineNo, region[start:end]); err != nil {
				return 0, err
			}
		}
		pos = end + 1
	}
	return lineNo + int64(bytes.Count(region[cur:], []byte{'\n'})), nil
}

// lineDFA decides whether a line holds a match of a pattern without
// empty-width assertions (no ^, $, \A, \z, \b, \B), for which that
// depends on the line's runes alone. It is a lazily built DFA over the
// pattern's compiled program: a state is the set of instructions alive
// after some runes, the start re-added at each step for an unanchored
// search, and its transitions for ASCII bytes are cached in a table, so
// that a line is scanned at a table lookup per byte and only up to its
// first match. Runes are decoded as package regexp does (an invalid byte
// is utf8.RuneError), so the answers are regexp's. A lineDFA is not safe
// for concurrent use.
type lineDFA struct {
	prog   *syntax.Prog
	states []*dfaState
	index  map[string]int32 // state by its instructions' key
	start  int32
	// scratch for building a state
	seen []bool
	pcs  []uint32
	key  []byte
}

// dfaState is one state of a lineDFA.
type dfaState struct {
	pcs   []uint32 // the alive instructions, sorted
	match bool     // a match has ended
	// ascii holds the next state + 1 for each ASCII byte, 0 until known.
	ascii [utf8.RuneSelf]int32
	other map[rune]int32 // the next state of other runes
}

// maxDFAStates bounds a lineDFA's cache; past it the cache starts anew.
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
	d := &lineDFA{prog: prog, seen: make([]bool, len(prog.Inst))}
	d.reset()
	return d
}

// reset empties the cache, leaving the start state.
func (d *lineDFA) reset() {
	d.states = d.states[:0]
	d.index = make(map[string]int32)
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

// intern returns the state of the instructions in d.pcs, making it when
// new, and clears the scratch.
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
	return id
}

// step returns the state after rune r in state from, caching it.
func (d *lineDFA) step(from int32, r rune) int32 {
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
		return d.intern() // not cached in st, which is gone
	}
	to := d.intern()
	if r < utf8.RuneSelf {
		st.ascii[r] = to + 1
	} else {
		if st.other == nil {
			st.other = make(map[rune]int32)
		}
		st.other[r] = to
	}
	return to
}

// matchLine scans line from its start up to its end (a "\n", or a "\r"
// before one or at the end of p) and returns whether it holds a match and
// where the scan stopped: at the line's end, or past the match.
func (d *lineDFA) matchLine(p []byte) (bool, int) {
	cur := d.start
	st := d.states[cur]
	if st.match {
		return true, 0
	}
	i := 0
	for i < len(p) {
		c := p[i]
		var next int32
		if c < utf8.RuneSelf {
			if c == '\n' || c == '\r' && (i+1 == len(p) || p[i+1] == '\n') {
				return false, i
			}
			next = st.ascii[c] - 1
			if next < 0 {
				next = d.step(cur, rune(c))
			}
			i++
		} else {
			r, size := utf8.DecodeRune(p[i:])
			var ok bool
			if next, ok = st.other[r]; !ok {
				next = d.step(cur, r)
			}
			i += size
		}
		cur, st = next, d.states[next]
		if st.match {
			return true, i
		}
	}
	return false, i
}

// searchRegion is grepper.searchRegion for a pattern the DFA decides.
func (d *lineDFA) searchRegion(region []byte, lineNo int64, emit func(int64, []byte) error) (int64, error) {
	start := 0
	for start < len(region) {
		ok, at := d.matchLine(region[start:])
		at += start
		end := len(region)
		if i := bytes.IndexByte(region[at:], '\n'); i >= 0 {
			end = at + i
		}
		if ok {
			if err := emit(lineNo, region[start:end]); err != nil {
				return 0, err
			}
		}
		if end == len(region) {
			return lineNo, nil // a last line without a line break
		}
		lineNo++
		start = end + 1
	}
	return lineNo, nil
}
