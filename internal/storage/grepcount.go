package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lakeplane/lakeplane/internal/objects"
)

// GrepCount is how many lines of one object match a pattern.
type GrepCount struct {
	URI           string
	MatchingLines int64
	// BytesRead is the object's stored size (compressed, for gzip), all
	// of which the count read.
	BytesRead int64
}

// grepRangeSize is the size of the byte ranges a large uncompressed
// object is counted in, one range to a scanner at a time.
const grepRangeSize = 16 << 20

// GrepCounts counts, like grep -c, the lines of each object uri names that
// match the RE2 pattern, and calls send with each object's count once the
// object is done, so in no particular order (but never two sends at
// once); a send error ends the count. The checks are Grep's. GOMAXPROCS
// scanners share the work: the objects of a prefix are counted at once,
// a large uncompressed object in byte ranges aligned to line boundaries
// (each line counted in the range it starts in), a gzip object from start
// to end.
func (s *Service) GrepCounts(ctx context.Context, uri, pattern string, send func(GrepCount) error) error {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return err
	}
	g, err := newGrepper(pattern)
	if err != nil {
		return err
	}
	guard, err := s.guardRead(ctx, t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &grepCounter{s: s, send: send, cancel: cancel, rangeSize: s.grepRangeSize}
	if c.rangeSize <= 0 {
		c.rangeSize = grepRangeSize
	}
	workers := runtime.GOMAXPROCS(0)
	tasks := make(chan countTask, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { c.work(ctx, g.clone(), tasks) })
	}
	err = c.plan(ctx, t, guard, tasks)
	close(tasks)
	wg.Wait()
	if err != nil {
		c.fail(err)
	}
	if c.err != nil {
		return c.err
	}
	return ctx.Err()
}

// grepCounter is one GrepCounts call: the tasks it hands its scanners,
// and what they found.
type grepCounter struct {
	s         *Service
	rangeSize int64
	cancel    context.CancelCauseFunc
	mu        sync.Mutex // serializes send, guards err
	send      func(GrepCount) error
	err       error // the first failure
}

// objectCount adds up the counts of one object's tasks.
type objectCount struct {
	info    objects.Info
	lines   atomic.Int64
	pending atomic.Int64 // tasks not done yet
}

// countTask is a part of an object to count: a range of it, or all of it
// (decompressed when gzip) when rng is nil.
type countTask struct {
	obj *objectCount
	rng *objects.Range
}

// fail records the first failure and stops the count.
func (c *grepCounter) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		c.cancel(err)
	}
}

// plan lists the objects of t, checks each with guard, and hands out its
// tasks, until the listing ends or ctx is done.
func (c *grepCounter) plan(ctx context.Context, t target, guard *readGuard, tasks chan<- countTask) error {
	for info, err := range c.s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			return err
		}
		if !t.contains(info.URI) {
			continue
		}
		if err := guard.object(ctx, info.URI); err != nil {
			return err
		}
		rngs, err := c.ranges(ctx, info)
		if err != nil {
			return err
		}
		obj := &objectCount{info: info}
		obj.pending.Store(int64(len(rngs)))
		for _, r := range rngs {
			select {
			case tasks <- countTask{obj: obj, rng: r}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// ranges splits the object info into byte ranges when it is large and not
// gzip; otherwise its one task reads it all (a nil range).
func (c *grepCounter) ranges(ctx context.Context, info objects.Info) ([]*objects.Range, error) {
	if info.Size <= c.rangeSize || strings.HasSuffix(info.URI, ".gz") {
		return []*objects.Range{nil}, nil
	}
	gz, err := c.gzipMagic(ctx, info.URI)
	if err != nil || gz {
		return []*objects.Range{nil}, err
	}
	var out []*objects.Range
	for off := int64(0); off < info.Size; off += c.rangeSize {
		out = append(out, &objects.Range{Offset: off, Length: min(c.rangeSize, info.Size-off)})
	}
	return out, nil
}

// gzipMagic reports whether the object uri starts with the gzip magic
// bytes.
func (c *grepCounter) gzipMagic(ctx context.Context, uri string) (bool, error) {
	rc, _, err := c.s.store.Get(ctx, uri, &objects.Range{Length: 2})
	if err != nil {
		return false, err
	}
	defer rc.Close()
	var magic [2]byte
	if _, err := io.ReadFull(rc, magic[:]); err != nil {
		return false, fmt.Errorf("read the start of %s: %w", uri, err)
	}
	return magic == [2]byte{0x1f, 0x8b}, nil
}

// work counts tasks with g until they run out, or the count fails.
func (c *grepCounter) work(ctx context.Context, g *grepper, tasks <-chan countTask) {
	buf := make([]byte, grepChunk)
	for task := range tasks {
		if ctx.Err() != nil {
			continue // drain, so that plan is not left waiting
		}
		n, err := c.countTask(ctx, g, buf, task)
		if err != nil {
			c.fail(fmt.Errorf("grep %s: %w", task.obj.info.URI, err))
			continue
		}
		task.obj.lines.Add(n)
		if task.obj.pending.Add(-1) == 0 {
			c.deliver(task.obj)
		}
	}
}

// countTask counts the matching lines of one task.
func (c *grepCounter) countTask(ctx context.Context, g *grepper, buf []byte, task countTask) (int64, error) {
	var r io.Reader
	if task.rng == nil {
		text, closeText, err := c.s.openText(ctx, task.obj.info)
		if err != nil {
			return 0, err
		}
		defer closeText()
		r = text
	} else {
		lr := newLineRange(ctx, c.s.store, task.obj.info, *task.rng)
		defer lr.Close()
		r = lr
	}
	return g.count(ctx, r, buf)
}

// deliver sends the count of a finished object.
func (c *grepCounter) deliver(obj *objectCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	err := c.send(GrepCount{URI: obj.info.URI, MatchingLines: obj.lines.Load(), BytesRead: obj.info.Size})
	if err != nil {
		c.err = err
		c.cancel(err)
	}
}

// lineRange reads the lines that start in a byte range of an object: from
// the first line start at or after the range's offset (the byte before
// tells) through the end of the line holding the range's last byte. So
// the ranges of an object, side by side, give each line exactly once.
type lineRange struct {
	src  *pieceReader
	pos  int64 // the offset of the next byte src gives
	end  int64 // the range's end: lines starting before it are the range's
	skip bool  // still passing over the line begun before the range
	done bool
	err  error // from src, returned after the bytes read with it
}

// newLineRange returns the lineRange of rng in the object info; Close
// releases it.
func newLineRange(ctx context.Context, store objects.Store, info objects.Info, rng objects.Range) *lineRange {
	from := max(rng.Offset-1, 0)
	end := rng.Offset + rng.Length
	// Read the range in one piece, and what follows of the last line in
	// smaller ones.
	src := &pieceReader{ctx: ctx, store: store, uri: info.URI, off: from, size: info.Size, next: end - from + lineTail}
	return &lineRange{src: src, pos: from, end: end, skip: rng.Offset > 0}
}

// lineTail is how much more than its range a lineRange reads at first,
// for the last line.
const lineTail = 64 << 10

// Read implements io.Reader.
func (l *lineRange) Read(p []byte) (int, error) {
	for !l.done {
		if l.err != nil {
			return 0, l.err
		}
		n, err := l.src.Read(p)
		data := p[:n]
		if l.skip {
			data = l.passOver(data)
		}
		data = l.cut(data)
		if err == io.EOF {
			l.done = true
		} else if err != nil {
			l.err = err
		}
		if len(data) > 0 {
			return copy(p, data), nil
		}
	}
	return 0, io.EOF
}

// passOver drops the bytes of data (which start at l.pos) up to and
// including the first "\n", and returns the rest.
func (l *lineRange) passOver(data []byte) []byte {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		l.pos += int64(len(data))
		return nil
	}
	l.pos += int64(i + 1)
	l.skip = false
	if l.pos >= l.end {
		l.done = true // no line starts in the range
		return nil
	}
	return data[i+1:]
}

// cut returns the bytes of data (which start at l.pos) that belong to the
// range's lines: once past the range's last byte, up to the "\n" ending
// its line.
func (l *lineRange) cut(data []byte) []byte {
	if l.done || len(data) == 0 {
		return nil
	}
	from := max(l.end-1-l.pos, 0) // the range's last byte, or 0 when past it
	if from < int64(len(data)) {
		if i := bytes.IndexByte(data[from:], '\n'); i >= 0 {
			data = data[:from+int64(i)+1]
			l.done = true
		}
	}
	l.pos += int64(len(data))
	return data
}

// Close implements io.Closer.
func (l *lineRange) Close() error { return l.src.Close() }

// pieceReader reads an object from an offset to its end in ranged Gets,
// each piece twice as long as the one before, so that a reader that stops
// early has not asked the store for much more than it read.
type pieceReader struct {
	ctx   context.Context
	store objects.Store
	uri   string
	off   int64 // the offset of the next byte
	size  int64 // the object's size
	next  int64 // the length of the next piece
	body  io.ReadCloser
	got   int64 // bytes read from body
}

// Read implements io.Reader.
func (r *pieceReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if r.off >= r.size {
				return 0, io.EOF
			}
			body, _, err := r.store.Get(r.ctx, r.uri, &objects.Range{Offset: r.off, Length: r.next})
			if err != nil {
				return 0, err
			}
			r.body, r.next, r.got = body, 2*r.next, 0
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		r.got += int64(n)
		if err == io.EOF {
			r.body.Close()
			r.body = nil
			err = nil
			if r.got == 0 && r.off < r.size {
				return 0, fmt.Errorf("%s ended at byte %d of %d: %w", r.uri, r.off, r.size, io.ErrUnexpectedEOF)
			}
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

// Close implements io.Closer.
func (r *pieceReader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
