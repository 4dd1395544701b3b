package cost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/lakeplane/lakeplane/internal/objects"
)

// The read-ahead cache of an objectReader: small reads (a Parquet footer,
// page headers) are served from up to readCacheBlocks aligned blocks of
// readBlockBytes, each fetched whole with one ranged Get; reads of a block
// or more go straight to the store.
const (
	readBlockBytes  = 128 << 10
	readCacheBlocks = 8
)

// objectReader reads an object at random through range Gets, for formats
// that need random access (Parquet): it implements io.ReaderAt and
// io.Seeker (which Parquet readers use to find the size) without holding
// more of the object than its cache. It reads with the context it was made
// with, since io.ReaderAt takes none. It is safe for concurrent use.
//
// Every Get checks the object's ETag against the first one: an object
// written again during the read fails it instead of mixing two versions.
type objectReader struct {
	ctx   context.Context
	store objects.Store
	uri   string
	size  int64
	etag  string
	block int64 // read-ahead block size; readBlockBytes but in tests

	mu     sync.Mutex
	pos    int64         // the io.Seeker position
	blocks []cachedBlock // most recently used last
	gets   int           // Gets made, for tests
	failed error         // the first error of the store, see failure
}

// cachedBlock is one block of an objectReader's cache.
type cachedBlock struct {
	off  int64
	data []byte
}

// newObjectReader returns a reader of the object at uri whose size and
// ETag are info's, or, when info is nil, those a Head returns.
func newObjectReader(ctx context.Context, store objects.Store, uri string, info *objects.Info) (*objectReader, error) {
	if info == nil {
		i, err := store.Head(ctx, uri)
		if err != nil {
			return nil, err
		}
		info = &i
	}
	return &objectReader{ctx: ctx, store: store, uri: uri, size: info.Size, etag: info.ETag, block: readBlockBytes}, nil
}

// Size returns the object's size in bytes.
func (o *objectReader) Size() int64 { return o.size }

// failure returns the first error the store returned, or nil: it tells a
// reader's caller whether a failed parse was the file's fault or the
// store's.
func (o *objectReader) failure() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

// Seek implements io.Seeker.
func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.pos
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("seek %s: bad whence %d", o.uri, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek %s: negative position %d", o.uri, offset)
	}
	o.pos = offset
	return offset, nil
}

// Read implements io.Reader, from the Seek position.
func (o *objectReader) Read(p []byte) (int, error) {
	o.mu.Lock()
	pos := o.pos
	o.mu.Unlock()
	n, err := o.ReadAt(p, pos)
	o.mu.Lock()
	o.pos = pos + int64(n)
	o.mu.Unlock()
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// ReadAt implements io.ReaderAt.
func (o *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", o.uri, off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := p
	if rest := o.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int
	if int64(len(want)) >= o.block {
		if err := o.get(want, off); err != nil {
			return 0, err
		}
		n = len(want)
	} else {
		for n < len(want) {
			at := off + int64(n)
			b, err := o.cached(at - at%o.block)
			if err != nil {
				return n, err
			}
			n += copy(want[n:], b.data[at-b.off:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// cached returns the block at off (a multiple of o.block), from the cache
// or fetched into it, evicting the least recently used block. o.mu is held.
func (o *objectReader) cached(off int64) (cachedBlock, error) {
	for i, b := range o.blocks {
		if b.off == off {
			o.blocks = append(slices.Delete(o.blocks, i, i+1), b)
			return b, nil
		}
	}
	b := cachedBlock{off: off, data: make([]byte, min(o.block, o.size-off))}
	if len(o.blocks) >= readCacheBlocks {
		// Reuse the evicted block's memory when it fits.
		if old := o.blocks[0]; cap(old.data) >= len(b.data) {
			b.data = old.data[:len(b.data)]
		}
		o.blocks = append(o.blocks[:0], o.blocks[1:]...)
	}
	if err := o.get(b.data, off); err != nil {
		return cachedBlock{}, err
	}
	o.blocks = append(o.blocks, b)
	return b, nil
}

// get fills p with the bytes at off, all of them inside the object, with
// one range Get. o.mu is held.
func (o *objectReader) get(p []byte, off int64) error {
	if o.failed != nil {
		return o.failed
	}
	err := o.fetch(p, off)
	if err != nil {
		o.failed = err
	}
	return err
}

// fetch is get without the bookkeeping.
func (o *objectReader) fetch(p []byte, off int64) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	o.gets++
	body, info, err := o.store.Get(o.ctx, o.uri, &objects.Range{Offset: off, Length: int64(len(p))})
	if err != nil {
		return err
	}
	defer body.Close()
	if info.Size != o.size || (o.etag != "" && info.ETag != "" && info.ETag != o.etag) {
		return fmt.Errorf("read %s: the object changed during the import", o.uri)
	}
	if _, err := io.ReadFull(body, p); err != nil {
		return fmt.Errorf("read %s at %d: %w", o.uri, off, err)
	}
	return nil
}
