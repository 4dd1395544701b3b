package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

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
