package eval

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// entrySize is the bytes an entry takes in memory. In a spill file an
// entry takes far less (see appendEntry).
const entrySize = 40

// maxEncodedEntry bounds an entry's encoding: three uvarints, a tag byte
// and up to 16 bytes of prefix.
const maxEncodedEntry = 3*binary.MaxVarintLen64 + 1 + 16

// entry is one row's key in a key store: the key (the value itself for
// integers, dates, timestamps, doubles, booleans and decimals, which fit
// in 128 bits; a 128-bit xxh3 hash for strings and multi-column keys), the
// row number, and up to 16 bytes of the value's text for samples.
type entry struct {
	k0, k1 uint64
	row    uint64 // low 56 bits: row number; high 8: prefix length, 0x80 if truncated
	p0, p1 uint64 // the prefix
}

func (e *entry) rowNum() int64 { return int64(e.row & (1<<56 - 1)) }

// truncated reports whether the value was longer than its prefix.
func (e *entry) truncated() bool { return e.row>>63 == 1 }

func (e *entry) prefix() string {
	n := int(e.row>>56) & 0x1f
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], e.p0)
	binary.LittleEndian.PutUint64(b[8:], e.p1)
	return string(b[:n])
}

func cmpEntry(a, b entry) int {
	if c := cmp.Compare(a.k0, b.k0); c != 0 {
		return c
	}
	return cmp.Compare(a.k1, b.k1)
}

// keyStore collects the keys of a column set to count distinct and
// duplicated values, or to look keys up, exactly in bounded memory: keys
// go into a buffer of at most budget bytes; a full buffer is sorted and
// written to a temporary file (a run); open merges the runs and the last
// buffer into one sorted stream (a cursor), which finish reads to count
// each group of equal keys and antiJoin to find the keys another store
// lacks. Memory is the buffer plus, while merging, one read buffer per
// run.
type keyStore struct {
	dir   string // created on the first spill
	tmp   string // parent of dir
	buf   []entry
	limit int
	runs  []string
	// spilled counts the bytes written to runs.
	spilled int64
	// dense holds the keys while they fit it (see denseKeys); sorted is
	// set once they did not, or a key was not an exact value.
	dense  *denseKeys
	sorted bool
}

func newKeyStore(tmpDir string, budget int64) *keyStore {
	limit := int(budget / entrySize)
	limit = max(limit, 1024)
	return &keyStore{tmp: tmpDir, limit: limit}
}

func (s *keyStore) add(k0, k1 uint64, row int64, prefix string) error {
	if s.dense != nil {
		if k1 == 0 && prefix == "" && s.dense.add(k0, row) {
			return nil
		}
		if err := s.leaveDense(); err != nil {
			return err
		}
	} else if s.buf == nil && len(s.runs) == 0 && !s.sorted && k1 == 0 && prefix == "" {
		s.dense = &denseKeys{budget: int64(s.limit) * entrySize}
		if s.dense.add(k0, row) {
			return nil
		}
		if err := s.leaveDense(); err != nil {
			return err
		}
	}
	if len(s.buf) == s.limit {
		if err := s.spill(); err != nil {
			return err
		}
	}
	switch {
	case s.buf == nil:
		s.buf = make([]entry, 0, min(s.limit, 64<<10))
	case len(s.buf) == cap(s.buf):
		// Past the first 64K keys, grow to the limit at once rather than
		// by doubling: one copy, and the pages of a fresh allocation are
		// touched only as keys fill them.
		s.buf = slices.Grow(s.buf, s.limit-len(s.buf))
	}
	n := min(len(prefix), 16)
	var b [16]byte
	copy(b[:], prefix[:n])
	tag := uint64(n)
	if len(prefix) > 16 {
		tag |= 0x80
	}
	s.buf = append(s.buf, entry{
		k0: k0, k1: k1,
		row: uint64(row) | tag<<56,
		p0:  binary.LittleEndian.Uint64(b[:8]),
		p1:  binary.LittleEndian.Uint64(b[8:]),
	})
	return nil
}

// leaveDense moves the keys of the dense store to the sorted buffer (and
// runs), which take every key from then on.
func (s *keyStore) leaveDense() error {
	d := s.dense
	s.dense, s.sorted = nil, true
	return d.each(func(v uint64, row int64) error { return s.add(v, 0, row, "") })
}

// spill sorts the buffer and writes it as a run.
func (s *keyStore) spill() error {
	if s.dir == "" {
		dir, err := os.MkdirTemp(s.tmp, "lakeplane-quality-*")
		if err != nil {
			return fmt.Errorf("quality: spill directory: %w", err)
		}
		s.dir = dir
	}
	slices.SortFunc(s.buf, cmpEntry)
	path := filepath.Join(s.dir, fmt.Sprintf("run-%06d", len(s.runs)))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("quality: spill: %w", err)
	}
	s.runs = append(s.runs, path)
	out := make([]byte, 0, 256<<10)
	var prev entry
	for i := range s.buf {
		if len(out) > cap(out)-maxEncodedEntry {
			if _, err := f.Write(out); err != nil {
				f.Close()
				return fmt.Errorf("quality: spill %s: %w", path, err)
			}
			s.spilled += int64(len(out))
			out = out[:0]
		}
		out = appendEntry(out, &prev, &s.buf[i])
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return fmt.Errorf("quality: spill %s: %w", path, err)
	}
	s.spilled += int64(len(out))
	if err := f.Close(); err != nil {
		return fmt.Errorf("quality: spill %s: %w", path, err)
	}
	// Grow the buffer to the limit once spilling starts: the data is large.
	if cap(s.buf) < s.limit {
		s.buf = make([]entry, 0, s.limit)
	} else {
		s.buf = s.buf[:0]
	}
	return nil
}

// appendEntry encodes e, which sorts at or after prev, and makes it prev:
// the distance of k0 from prev's (0 for repeats, 1 for consecutive
// integers), k1 (less prev's when k0 is equal), the row number, a tag
// byte with the prefix length (and the truncated flag) and the prefix.
// Value keys of dense integers take about seven bytes instead of 40.
func appendEntry(b []byte, prev, e *entry) []byte {
	k1 := e.k1
	if e.k0 == prev.k0 {
		k1 -= prev.k1
	}
	b = binary.AppendUvarint(b, e.k0-prev.k0)
	b = binary.AppendUvarint(b, k1)
	b = binary.AppendUvarint(b, e.row&(1<<56-1))
	tag := byte(e.row >> 56)
	b = append(b, tag)
	n := int(tag & 0x1f)
	var p [16]byte
	binary.LittleEndian.PutUint64(p[:8], e.p0)
	binary.LittleEndian.PutUint64(p[8:], e.p1)
	*prev = *e
	return append(b, p[:n]...)
}

// decodeEntry decodes the entry at the start of b that follows prev, into
// prev, and returns the bytes it took; 0 when b is malformed or too short.
func decodeEntry(b []byte, prev *entry) int {
	d0, n0 := binary.Uvarint(b)
	if n0 <= 0 {
		return 0
	}
	k1, n1 := binary.Uvarint(b[n0:])
	if n1 <= 0 {
		return 0
	}
	row, n2 := binary.Uvarint(b[n0+n1:])
	at := n0 + n1 + n2
	if n2 <= 0 || at >= len(b) {
		return 0
	}
	tag := b[at]
	n := int(tag & 0x1f)
	at++
	if n > 16 || at+n > len(b) {
		return 0
	}
	var p [16]byte
	copy(p[:], b[at:at+n])
	if d0 == 0 {
		k1 += prev.k1
	}
	*prev = entry{
		k0: prev.k0 + d0, k1: k1,
		row: row | uint64(tag)<<56,
		p0:  binary.LittleEndian.Uint64(p[:8]),
		p1:  binary.LittleEndian.Uint64(p[8:]),
	}
	return at + n
}

// close removes the spill files.
func (s *keyStore) close() error {
	s.buf, s.dense = nil, nil
	if s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir, s.runs = "", nil
	return err
}

// keyStats is what the merge counts.
type keyStats struct {
	keys     int64 // entries (rows with a complete key)
	distinct int64 // distinct keys
	singles  int64 // keys that occur exactly once
	dupRows  int64 // rows whose key occurs more than once
	samples  []entry
}

// run is one sorted source of entries in the merge.
type run struct {
	cur  entry
	mem  []entry // the in-memory run
	r    io.Reader
	buf  []byte // read from r, buf[at:] not yet decoded
	at   int
	eof  bool
	done bool
}

func (r *run) next() error {
	if r.r == nil {
		if len(r.mem) == 0 {
			r.done = true
			return nil
		}
		r.cur, r.mem = r.mem[0], r.mem[1:]
		return nil
	}
	if len(r.buf)-r.at < maxEncodedEntry && !r.eof {
		if err := r.fill(); err != nil {
			return err
		}
	}
	if r.at == len(r.buf) {
		r.done = true
		return nil
	}
	n := decodeEntry(r.buf[r.at:], &r.cur)
	if n == 0 {
		return errors.New("a spill file is corrupt")
	}
	r.at += n
	return nil
}

// fill moves the undecoded bytes to the front of the buffer and reads
// until it is full or the file ends.
func (r *run) fill() error {
	left := copy(r.buf[:cap(r.buf)], r.buf[r.at:])
	n, err := io.ReadFull(r.r, r.buf[left:cap(r.buf)])
	r.buf, r.at = r.buf[:left+n], 0
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		r.eof = true
	default:
		return err
	}
	return nil
}

// runHeap orders the runs by their current entries, smallest first. It is
// kept by hand rather than through container/heap: the merge moves every
// entry through it, and the interface calls cost more than the compares.
type runHeap []*run

// init orders the whole heap.
func (h runHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// down moves the run at i down to its place.
func (h runHeap) down(i int) {
	for {
		m := 2*i + 1
		if m >= len(h) {
			return
		}
		if r := m + 1; r < len(h) && cmpEntry(h[r].cur, h[m].cur) < 0 {
			m = r
		}
		if cmpEntry(h[m].cur, h[i].cur) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// popRoot removes the smallest run.
func (h *runHeap) popRoot() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
}

// cursor reads the entries of a key store in key order: a k-way merge of
// its runs and its sorted buffer through a runHeap. It holds one read
// buffer per run.
type cursor struct {
	h     runHeap
	files []*os.File
	n     int // entries read, to check ctx now and then
}

// mergeReadBuffer is the read buffer of each run in a merge.
const mergeReadBuffer = 64 << 10

// ctxCheckEvery is how many entries a cursor reads between checks of ctx.
const ctxCheckEvery = 1 << 16

// open sorts the buffer (after moving the keys of a dense store to it) and
// returns a cursor at the first entry. The caller closes the cursor, then
// the store.
func (s *keyStore) open() (*cursor, error) {
	if s.dense != nil {
		if err := s.leaveDense(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(s.buf, cmpEntry)
	c := &cursor{h: make(runHeap, 0, len(s.runs)+1)}
	for _, path := range s.runs {
		f, err := os.Open(path)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("quality: merge: %w", err)
		}
		c.files = append(c.files, f)
		if err := c.push(&run{r: f, buf: make([]byte, 0, mergeReadBuffer)}); err != nil {
			c.close()
			return nil, fmt.Errorf("quality: merge %s: %w", path, err)
		}
	}
	if err := c.push(&run{mem: s.buf}); err != nil {
		c.close()
		return nil, err
	}
	c.h.init()
	return c, nil
}

// push reads the first entry of r and adds r to the heap unless it is
// empty; the heap is ordered by init afterwards.
func (c *cursor) push(r *run) error {
	if err := r.next(); err != nil {
		return err
	}
	if !r.done {
		c.h = append(c.h, r)
	}
	return nil
}

// next returns the smallest entry not read yet, and false after the last.
// It fails when a run cannot be read or ctx is done.
func (c *cursor) next(ctx context.Context) (entry, bool, error) {
	if len(c.h) == 0 {
		return entry{}, false, nil
	}
	if c.n%ctxCheckEvery == 0 {
		if err := ctx.Err(); err != nil {
			return entry{}, false, err
		}
	}
	c.n++
	r := c.h[0]
	e := r.cur
	if err := r.next(); err != nil {
		return entry{}, false, fmt.Errorf("quality: merge: %w", err)
	}
	if r.done {
		c.h.popRoot()
	} else {
		c.h.down(0)
	}
	return e, true, nil
}

// close closes the runs' files.
func (c *cursor) close() {
	for _, f := range c.files {
		f.Close()
	}
	c.files, c.h = nil, nil
}

// sampleHeap keeps the entries with the smallest row numbers: a max-heap
// by row number of at most max entries.
type sampleHeap struct {
	max     int
	entries []entry
}

func (h *sampleHeap) Len() int           { return len(h.entries) }
func (h *sampleHeap) Less(i, j int) bool { return h.entries[i].rowNum() > h.entries[j].rowNum() }
func (h *sampleHeap) Swap(i, j int)      { h.entries[i], h.entries[j] = h.entries[j], h.entries[i] }
func (h *sampleHeap) Push(x any)         { h.entries = append(h.entries, x.(entry)) }
func (h *sampleHeap) Pop() any {
	x := h.entries[len(h.entries)-1]
	h.entries = h.entries[:len(h.entries)-1]
	return x
}

// keep adds e if it is among the max smallest row numbers seen.
func (h *sampleHeap) keep(e entry) {
	switch {
	case h.max <= 0:
	case len(h.entries) < h.max:
		heap.Push(h, e)
	case e.rowNum() < h.entries[0].rowNum():
		h.entries[0] = e
		heap.Fix(h, 0)
	}
}

// sorted returns the entries kept, by row number.
func (h *sampleHeap) sorted() []entry {
	out := slices.Clone(h.entries)
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.rowNum(), b.rowNum()) })
	return out
}

// closeError is the error of removing a store's spill files, for the
// deferred close of finish and antiJoin: err unless it is already set.
func closeError(s *keyStore, err *error) {
	if cerr := s.close(); *err == nil && cerr != nil {
		*err = fmt.Errorf("quality: removing spill files: %w", cerr)
	}
}

// finish merges the runs and the buffer and counts the groups of equal
// keys, keeping the maxSamples duplicated rows with the smallest row
// numbers. It removes the spill files.
func (s *keyStore) finish(ctx context.Context, maxSamples int) (st keyStats, err error) {
	defer closeError(s, &err)
	if s.dense != nil {
		return s.dense.stats(maxSamples), nil
	}
	c, err := s.open()
	if err != nil {
		return st, err
	}
	defer c.close()
	samples := &sampleHeap{max: maxSamples}
	var (
		prev    entry
		first   entry // the group's first entry, counted once the group turns out to repeat
		group   int64
		started bool
	)
	closeGroup := func() {
		st.distinct++
		if group == 1 {
			st.singles++
		} else {
			st.dupRows += group
		}
	}
	for {
		e, ok, err := c.next(ctx)
		if err != nil {
			return st, err
		}
		if !ok {
			break
		}
		st.keys++
		if started && cmpEntry(e, prev) == 0 {
			if group == 1 {
				samples.keep(first)
			}
			group++
			samples.keep(e)
		} else {
			if started {
				closeGroup()
			}
			started, group, first = true, 1, e
		}
		prev = e
	}
	if started {
		closeGroup()
	}
	st.samples = samples.sorted()
	return st, nil
}

// antiJoin merges the keys of rows with those of refs, both in key order,
// and returns how many entries rows holds, how many of them have a key
// refs lacks, and the maxSamples of those with the smallest row numbers.
// It removes the spill files of rows; refs, which other rules may share,
// is left to its owner.
func antiJoin(ctx context.Context, refs, rows *keyStore, maxSamples int) (checked, missing int64, samples []entry, err error) {
	defer closeError(rows, &err)
	refCur, err := refs.open()
	if err != nil {
		return 0, 0, nil, err
	}
	defer refCur.close()
	rowCur, err := rows.open()
	if err != nil {
		return 0, 0, nil, err
	}
	defer rowCur.close()
	kept := &sampleHeap{max: maxSamples}
	ref, more, err := refCur.next(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	for {
		e, ok, err := rowCur.next(ctx)
		if err != nil {
			return 0, 0, nil, err
		}
		if !ok {
			break
		}
		checked++
		// Skip the referenced keys below e (repeats included).
		for more && cmpEntry(ref, e) < 0 {
			if ref, more, err = refCur.next(ctx); err != nil {
				return 0, 0, nil, err
			}
		}
		if !more || cmpEntry(ref, e) != 0 {
			missing++
			kept.keep(e)
		}
	}
	return checked, missing, kept.sorted(), nil
}
