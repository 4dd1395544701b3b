package tables

import (
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

// genReader makes batches of customers rows as it is read, so that the
// input itself takes no memory.
type genReader struct {
	schema  *arrow.Schema
	batches int
	rows    int
	n       int
	cur     arrow.RecordBatch
	refs    atomic.Int64
}

func (g *genReader) Schema() *arrow.Schema          { return g.schema }
func (g *genReader) RecordBatch() arrow.RecordBatch { return g.cur }
func (g *genReader) Record() arrow.RecordBatch      { return g.cur }
func (g *genReader) Err() error                     { return nil }
func (g *genReader) Retain()                        { g.refs.Add(1) }
func (g *genReader) Release() {
	if g.refs.Add(-1) <= 0 && g.cur != nil {
		g.cur.Release()
		g.cur = nil
	}
}

func (g *genReader) Next() bool {
	if g.cur != nil {
		g.cur.Release()
		g.cur = nil
	}
	if g.n == g.batches {
		return false
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, g.schema)
	defer b.Release()
	var buf []byte
	for r := range g.rows {
		id := int64(g.n*g.rows + r)
		b.Field(0).(*array.Int64Builder).Append(id)
		buf = strconv.AppendInt(append(buf[:0], "고객-"...), id*7919, 36)
		b.Field(1).(*array.StringBuilder).BinaryBuilder.Append(buf)
		b.Field(2).(*array.BooleanBuilder).Append(id%3 == 0)
		b.Field(3).(*array.Int32Builder).Append(int32(id % 1000))
		b.Field(4).(*array.Float64Builder).Append(float64(id) * 1.5)
		b.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(id * 101))
		b.Field(6).(*array.Date32Builder).Append(arrow.Date32(id % 20000))
		b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000000000 + id*1000))
		buf = strconv.AppendInt(append(buf[:0], 'C'), id, 10)
		b.Field(8).(*array.StringBuilder).BinaryBuilder.Append(buf)
	}
	g.cur = b.NewRecordBatch()
	g.n++
	return true
}

// peakLiveHeap runs fn and returns the most live heap seen meanwhile (as
// of each garbage collection, sampled every 10 ms).
func peakLiveHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load()
}

// TestWriteMemoryIsBounded streams 4 times more rows into a second table
// and checks that the writer's live heap does not grow with them: the
// records are written as they come, never gathered.
func TestWriteMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2.5M rows")
	}
	c, _ := openSQLite(t)
	peaks := map[int]uint64{}
	for _, batches := range []int{50, 200} {
		d := customers("mem.t" + strconv.Itoa(batches))
		d.PartitionBy = []dataset.PartitionField{{Column: "id", Transform: dataset.TransformBucket, Width: 2}}
		mustCreate(t, c, d)
		g := &genReader{schema: ArrowSchema(d), batches: batches, rows: 10000}
		peaks[batches] = peakLiveHeap(func() {
			mustWrite(t, c, d.ID, Append, g, nil)
		})
		if st := mustStats(t, c, d.ID); st.RowCount != int64(batches*10000) {
			t.Fatalf("%d rows, want %d", st.RowCount, batches*10000)
		}
	}
	t.Logf("peak live heap: %d MB for 0.5M rows, %d MB for 2M rows", peaks[50]>>20, peaks[200]>>20)
	// 1.5M more rows are ~150 MB of Arrow data; allow a fraction of that.
	if peaks[200] > peaks[50]+40<<20 {
		t.Errorf("live heap grew from %d MB to %d MB with 4× the rows", peaks[50]>>20, peaks[200]>>20)
	}
}
