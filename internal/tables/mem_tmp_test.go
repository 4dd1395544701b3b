package tables

import (
	"runtime/metrics"
	"os"
	"runtime/pprof"
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/lakeplane/lakeplane/internal/dataset"
)

type genReader struct {
	array.RecordReader
	t      *testing.T
	schema *arrow.Schema
	n, max int
	rows   int
	cur    arrow.RecordBatch
	version int32
}

func (g *genReader) Schema() *arrow.Schema { return g.schema }
func (g *genReader) Next() bool {
	if g.cur != nil {
		g.cur.Release()
		g.cur = nil
	}
	if g.n >= g.max {
		return false
	}
	g.cur = batch(g.t, g.schema, genRange(int64(g.n*g.rows), int64(g.n*g.rows+g.rows), g.version))
	g.n++
	return true
}
func (g *genReader) RecordBatch() arrow.RecordBatch { return g.cur }
func (g *genReader) Err() error                     { return nil }
func (g *genReader) Release()                       {}
func (g *genReader) Retain()                        {}

func TestMemTmp(t *testing.T) {
	for _, maxBatches := range []int{150, 600} {
	for _, part := range []bool{false, true} {
		c, dir := openSQLite(t, WithTargetFileSize(64<<20))
		d := customers(fmt.Sprintf("crm.m%v", part))
		if !part {
			d.PartitionBy = nil
		} else {
			d.PartitionBy = []dataset.PartitionField{{Column: "updated", Transform: dataset.TransformDay}}
		}
		mustCreate(t, c, d)
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				smp := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
				metrics.Read(smp)
				live := smp[0].Value.Uint64()
				if live > peak.Load() {
					peak.Store(live)
					if ms.HeapInuse > 80<<20 {
						f, _ := os.Create(fmt.Sprintf("/tmp/heap-%v.pprof", part))
						pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
		}()
		start := time.Now()
		g := &genReader{t: t, schema: ArrowSchema(d), max: maxBatches, rows: 10000, version: 1}
		if _, err := c.Write(context.Background(), d.ID, Append, g, nil); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("batches %d partitioned %v: append live peak %d MB in %v", maxBatches, part, peak.Load()>>20, el)
		runtime.GC()
		peak.Store(0)
		if true { close(stop); continue }
		g2 := &genReader{t: t, schema: ArrowSchema(d), max: 100, rows: 10000, version: 2}
		start2 := time.Now()
		if _, err := c.Write(context.Background(), d.ID, Upsert, g2, nil); err != nil {
			t.Fatal(err)
		}
		close(stop)
		st := mustStats(t, c, d.ID)
		t.Logf("partitioned=%v rows=%d files=%d size=%dMB append %v upsert %v peak heap %d MB, parquet files %d", part, st.RowCount, st.FileCount, st.SizeBytes>>20, el, time.Since(start2), peak.Load()>>20, len(filesUnder(t, dir, ".parquet")))
		s := mustSnapshots(t, c, d.ID)[0]
		t.Logf("upsert snapshot %v", s.Properties)
	}
}
}
