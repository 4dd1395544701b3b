package csvstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestMemoryBounded streams 200,000 generated rows (about 40 MB) through a
// pipe, so that the whole file never exists at once, and checks that the
// decoder holds one batch's buffers at a time, frees them all, and keeps its
// read buffer at its first size.
func TestMemoryBounded(t *testing.T) {
	const total, batchRows = 200_000, 4096
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 32<<10)
		rng := rand.New(rand.NewPCG(3, 4))
		_, err := w.WriteString(customerHeader())
		var row []byte
		for i := 0; i < total && err == nil; i++ {
			row = customerRow(row[:0], rng, i)
			_, err = w.Write(row)
		}
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(pr, customerColumns(), Format{Header: true}, Options{BatchRows: batchRows, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	// Progress is read from another goroutine, as a job's watcher does.
	done := make(chan struct{})
	var watcher sync.WaitGroup
	defer watcher.Wait()
	defer close(done)
	watcher.Go(func() {
		var last Stats
		for {
			select {
			case <-done:
				return
			default:
			}
			s := d.Stats()
			if s.BytesRead < last.BytesRead || s.RowsRead < last.RowsRead || s.Line < last.Line {
				t.Errorf("progress went back: %+v after %+v", s, last)
				return
			}
			last = s
			runtime.Gosched()
		}
	})
	rows, peak, firstBatch := 0, 0, 0
	for {
		rec, err := d.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != batchRows && rows+int(rec.NumRows()) != total {
			t.Fatalf("batch of %d rows in the middle", rec.NumRows())
		}
		rows += int(rec.NumRows())
		held := mem.CurrentAlloc()
		if firstBatch == 0 {
			firstBatch = held
		}
		peak = max(peak, held)
		rec.Release()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Fatalf("%d bytes still allocated between batches", n)
		}
		if len(d.sc.buf) != defaultBufferBytes {
			t.Fatalf("read buffer grew to %d bytes", len(d.sc.buf))
		}
	}
	if rows != total {
		t.Fatalf("decoded %d rows, want %d", rows, total)
	}
	// A batch's buffers do not grow with the file: the largest is within a
	// small factor of the first one (string data varies by row).
	if peak > firstBatch*3/2 {
		t.Errorf("peak %d bytes held against %d for the first batch", peak, firstBatch)
	}
	if s := d.Stats(); s.RowsRead != total || s.BytesRead < int64(total)*150 {
		t.Errorf("stats %+v", s)
	}
	t.Logf("%d rows, %d bytes; at most %d bytes of Arrow buffers held at once", rows, d.Stats().BytesRead, peak)
}
