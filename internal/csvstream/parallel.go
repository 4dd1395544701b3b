package csvstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// ParallelOptions tune Decoder.DecodeParallel; the zero value is usable.
type ParallelOptions struct {
	// Workers is the number of goroutines decoding chunks at the same
	// time; runtime.GOMAXPROCS(0) when 0.
	Workers int
	// ChunkBytes is about how many bytes of the source each chunk holds
	// (a chunk ends at a record boundary); 2 MiB when 0. Tests lower it to
	// put chunk boundaries everywhere.
	ChunkBytes int
}

const defaultChunkBytes = 2 << 20

// DecodeParallel decodes the rest of the source on several goroutines and
// calls fn with every batch, in source order, on the caller's goroutine;
// the batch is released when fn returns (fn retains it to keep it). It
// returns nil at the end of the source, the first bad row as Next would
// (a *RowError, the same one sequential decoding stops at), or fn's error.
// Afterwards the decoder is done: Next returns io.EOF or that error.
//
// The source is cut into chunks at record boundaries found by a quote
// parity scan: a line break is outside every quoted field exactly when an
// even number of quotes precede it, which holds up to the first malformed
// record; that record is decoded from a true boundary, so it is reported
// exactly as sequential decoding reports it. A record too long to end
// within Options.MaxRecordBytes, and a read error, hand the rest of the
// source to one sequential scanner, which reports them as Next does.
// Batches end at chunk ends, so any batch may be shorter than
// Options.BatchRows. Memory is bounded: about Workers+2 chunks and their
// batches are in flight. Stats counts rows as batches reach fn.
//
// It needs the first bad row to stop decoding: with Options.OnBadRow set
// it returns an error before decoding anything.
func (d *Decoder) DecodeParallel(ctx context.Context, opts ParallelOptions, fn func(arrow.RecordBatch) error) error {
	if d.err != nil {
		if d.err == io.EOF {
			return nil
		}
		return d.err
	}
	if d.onBadRow != nil {
		return errors.New("csvstream: DecodeParallel stops at the first bad row; it cannot be used with Options.OnBadRow")
	}
	defer d.publish()
	err := d.decodeParallel(ctx, opts, fn)
	if err == nil {
		err = io.EOF
	}
	d.fail(err)
	if err == io.EOF {
		return nil
	}
	return err
}

// segment is a run of whole records of the source that one worker
// decodes: a chunk of bytes, or the rest of the source read sequentially.
type segment struct {
	data []byte    // whole records; nil for a rest segment
	rest io.Reader // the rest of the source, for a rest segment
	line int64     // the 1-based line the segment starts on
	out  chan decoded
}

// decoded is one batch of a segment, or the error that ended it.
type decoded struct {
	rec arrow.RecordBatch
	err error
}

func (d *Decoder) decodeParallel(ctx context.Context, opts ParallelOptions, fn func(arrow.RecordBatch) error) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := opts.ChunkBytes
	if size <= 0 {
		size = defaultChunkBytes
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	c := d.newChunker(size, workers)
	order := make(chan *segment, workers)
	work := make(chan *segment)
	chunkErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { chunkErr <- c.run(ctx, order, work) })
	for range workers {
		w := d.workerDecoder()
		wg.Go(func() {
			defer w.releaseBuilders()
			for seg := range work {
				w.decodeSegment(ctx, seg, c)
			}
		})
	}

	cur, err := d.consume(ctx, order, fn)
	if err != nil {
		cancel()
		if cur != nil {
			drainSegment(cur)
		}
		for seg := range order {
			drainSegment(seg)
		}
	}
	wg.Wait()
	if err != nil {
		return err
	}
	return <-chunkErr
}

// consume hands the batches of the segments to fn in order, counting their
// rows, until the segments end or one fails; then it returns the error and
// the segment it was reading.
func (d *Decoder) consume(ctx context.Context, order <-chan *segment, fn func(arrow.RecordBatch) error) (*segment, error) {
	for seg := range order {
		for r := range seg.out {
			if r.err != nil {
				return seg, r.err
			}
			err := ctx.Err()
			if err == nil {
				d.read += r.rec.NumRows()
				d.stats.rows.Store(d.read)
				err = fn(r.rec)
			}
			r.rec.Release()
			if err != nil {
				return seg, err
			}
		}
	}
	return nil, nil
}

// drainSegment releases what a segment still holds once decoding is
// cancelled, until its worker closes it.
func drainSegment(seg *segment) {
	for r := range seg.out {
		if r.rec != nil {
			r.rec.Release()
		}
	}
}

// workerDecoder returns a decoder for one worker: d's columns and format
// with builders and a scanner of its own.
func (d *Decoder) workerDecoder() *Decoder {
	w := &Decoder{
		schema:          d.schema,
		cols:            slices.Clone(d.cols),
		nfields:         d.nfields,
		fieldPII:        d.fieldPII,
		anyPII:          d.anyPII,
		batchRows:       d.batchRows,
		notUTF8:         d.notUTF8,
		header:          d.header,
		mem:             d.mem,
		emptyStringNull: d.emptyStringNull,
		nullTokens:      d.nullTokens,
		projected:       d.projected,
		sc:              d.sc.sibling(),
	}
	w.newBuilders()
	return w
}

// decodeSegment decodes seg into its out channel, which it closes, and
// gives seg's chunk back to c.
func (w *Decoder) decodeSegment(ctx context.Context, seg *segment, c *chunker) {
	defer close(seg.out)
	defer c.recycle(seg.data)
	if seg.rest != nil {
		w.sc.readFrom(seg.rest, seg.line, defaultBufferBytes)
	} else {
		// Checking the whole chunk at once is cheaper than field by
		// field, unless most fields are skipped.
		w.sc.scanBytes(seg.data, seg.line, !w.projected)
	}
	for {
		rec, err := w.decodeBatch(ctx)
		if err == io.EOF {
			return
		}
		if err != nil {
			// Drop the rows of the unfinished batch: the builders are
			// reused for the next segment.
			w.discardRows()
			select {
			case seg.out <- decoded{err: err}:
			case <-ctx.Done():
			}
			return
		}
		select {
		case seg.out <- decoded{rec: rec}:
		case <-ctx.Done():
			rec.Release()
			return
		}
	}
}

// scanBytes makes the scanner read data, whole records ending the source
// or at a record boundary, starting on line. With checkUTF8 it checks the
// whole of data is UTF-8 so that fields need not be checked one by one.
func (s *scanner) scanBytes(data []byte, line int64, checkUTF8 bool) {
	s.r, s.buf, s.start, s.end, s.eof, s.line = nil, data, 0, len(data), true, line
	s.validUTF8 = checkUTF8 && utf8.Valid(data)
}

// readFrom makes the scanner read r to its end, starting on line.
func (s *scanner) readFrom(r io.Reader, line int64, size int) {
	size = max(min(size, s.maxBuf), 4)
	s.r, s.buf, s.start, s.end, s.eof, s.line = r, make([]byte, size), 0, 0, false, line
	s.validUTF8 = false
}

// chunker cuts the source into segments of whole records.
type chunker struct {
	src       io.Reader
	eof       bool
	bom       bool // a byte order mark may still start the source
	quote     byte
	size      int
	maxRecord int
	pending   []byte // bytes read and not yet in a segment; they start a record
	line      int64  // the line pending starts on
	outCap    int
	free      chan []byte // chunks decoded, for reuse
}

// newChunker takes over what d's scanner has buffered and the rest of its
// source.
func (d *Decoder) newChunker(size, workers int) *chunker {
	sc := d.sc
	c := &chunker{
		src: sc.r, eof: sc.eof, bom: !sc.bomDone, quote: sc.quote,
		size: size, maxRecord: sc.maxBuf, line: sc.line, outCap: 2,
		free: make(chan []byte, workers+2),
	}
	c.pending = append(c.newBuffer(len(sc.buf[sc.start:sc.end])), sc.buf[sc.start:sc.end]...)
	sc.buf, sc.start, sc.end, sc.eof = nil, 0, 0, true
	return c
}

// newBuffer returns an empty buffer for a chunk that starts with n bytes
// already read.
func (c *chunker) newBuffer(n int) []byte {
	select {
	case b := <-c.free:
		if cap(b) >= n+c.size {
			return b[:0]
		}
	default:
	}
	// Room for a partial record of up to 64 KiB before the chunk, so that
	// recycled buffers fit the next chunk whatever its first record's
	// length: a fresh buffer costs zeroing and page faults.
	return make([]byte, 0, max(n, 64<<10)+c.size)
}

// recycle gives a decoded chunk back for reuse.
func (c *chunker) recycle(b []byte) {
	if cap(b) == 0 {
		return
	}
	select {
	case c.free <- b[:0]:
	default:
	}
}

// run sends the segments, in source order, to order (for the consumer)
// and to work (for a worker), and closes both at the end. It returns what
// stopped it early: ctx's error.
func (c *chunker) run(ctx context.Context, order, work chan<- *segment) error {
	defer close(work)
	defer close(order)
	for {
		seg, last, err := c.next(ctx)
		if err != nil {
			return err
		}
		if seg == nil {
			return nil
		}
		seg.out = make(chan decoded, c.outCap)
		select {
		case order <- seg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- seg:
		case <-ctx.Done():
			close(seg.out) // no worker will
			return ctx.Err()
		}
		if last {
			return nil
		}
	}
}

// next returns the next segment and whether it is the last, or nil at the
// end of the source.
func (c *chunker) next(ctx context.Context) (seg *segment, last bool, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if c.eof {
			if len(c.pending) == 0 {
				return nil, true, nil
			}
			return c.cut(len(c.pending)), true, nil
		}
		if len(c.pending) >= c.size {
			if n := lastBoundary(c.pending, c.quote); n > 0 {
				return c.cut(n), false, nil
			}
		}
		if len(c.pending) > c.maxRecord+c.size {
			// No record boundary where the first record should have
			// ended: let one scanner read on and report it as Next does.
			return c.restSegment(nil), true, nil
		}
		if err := c.read(); err != nil {
			return c.restSegment(err), true, nil
		}
	}
}

// read appends up to one chunk's worth of the source to pending.
func (c *chunker) read() error {
	if cap(c.pending)-len(c.pending) < c.size {
		grown := make([]byte, len(c.pending), len(c.pending)+c.size)
		copy(grown, c.pending)
		c.recycle(c.pending)
		c.pending = grown
	}
	start := len(c.pending)
	want := c.size
	if c.bom {
		want = max(want, len(utf8BOM)) // as the scanner's first fill
	}
	if cap(c.pending)-start < want {
		c.pending = slices.Grow(c.pending, want)
	}
	n, err := io.ReadFull(c.src, c.pending[start:start+want])
	c.pending = c.pending[:start+n]
	if c.bom && len(c.pending) > 0 {
		// As the scanner's first fill: a BOM starts the source only.
		c.bom = false
		if bytes.HasPrefix(c.pending, utf8BOM) {
			c.pending = c.pending[:copy(c.pending, c.pending[len(utf8BOM):])]
		}
	}
	switch err {
	case nil:
		return nil
	case io.EOF, io.ErrUnexpectedEOF:
		c.eof = true
		return nil
	}
	return err
}

// lastBoundary returns the end of the last record that ends in data, which
// starts a record: just after the last '\n' that an even number of quote
// bytes precede; 0 when there is none.
func lastBoundary(data []byte, quote byte) int {
	quotes := bytes.Count(data, []byte{quote})
	end := len(data)
	for {
		i := bytes.LastIndexByte(data[:end], '\n')
		if i < 0 {
			return 0
		}
		quotes -= bytes.Count(data[i:end], []byte{quote})
		if quotes%2 == 0 {
			return i + 1
		}
		end = i
	}
}

// cut makes pending[:n] a chunk segment and keeps the rest pending.
func (c *chunker) cut(n int) *segment {
	seg := &segment{data: c.pending[:n], line: c.line}
	c.line += int64(bytes.Count(seg.data, newline))
	tail := c.pending[n:]
	c.pending = append(c.newBuffer(len(tail)), tail...)
	return seg
}

// restSegment hands pending and the rest of the source (or readErr after
// pending) to one sequential scanner.
func (c *chunker) restSegment(readErr error) *segment {
	var tail io.Reader = errReader{readErr}
	if readErr == nil {
		tail = c.src
	}
	rest := io.MultiReader(bytes.NewReader(c.pending), tail)
	seg := &segment{rest: rest, line: c.line}
	c.pending = nil
	return seg
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
