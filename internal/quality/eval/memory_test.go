package eval

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

// keyBatches yields batches of (id, key) for rows 1..n: id i and key
// "k%07d" of i, then two extra rows: id 17 with key "k0000042" (a duplicate
// of each), and id n+1 with key "fresh" (new values).
func keyBatches(t testing.TB, n, batchRows int, yield func(arrow.RecordBatch)) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "key", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	keys := b.Field(1).(*array.StringBuilder)
	emit := func() {
		rec := b.NewRecordBatch()
		yield(rec)
		rec.Release()
	}
	for i := 1; i <= n+2; i++ {
		switch {
		case i <= n:
			ids.Append(int64(i))
			keys.Append(fmt.Sprintf("k%07d", i))
		case i == n+1:
			ids.Append(17)
			keys.Append("k0000042")
		default:
			ids.Append(int64(n + 1))
			keys.Append("fresh")
		}
		if ids.Len() == batchRows {
			emit()
		}
	}
	if ids.Len() > 0 {
		emit()
	}
}

// TestUniquenessSpills checks 2 million distinct keys (integers, and
// strings through 128-bit hashes) against a 1 MiB budget, which forces
// hundreds of sorted runs to disk: the counts and the duplicate rows are
// exact, and the spill files are gone afterwards.
func TestUniquenessSpills(t *testing.T) {
	if testing.Short() {
		t.Skip("2 million keys")
	}
	const n = 2_000_000
	rs, err := dqdl.Parse(`Rules = [
		IsUnique "id",
		IsUnique "key",
		DistinctValuesCount "key" = 2000001,
		Uniqueness "id" = 0.999999,
		UniqueValueRatio "id" > 0.99,
		IsPrimaryKey "id" "key"
	]`)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	var ev *Evaluator
	var spilledFiles int
	keyBatches(t, n, 8192, func(rec arrow.RecordBatch) {
		if ev == nil {
			ev, err = New(ctx, rs, rec.Schema(), Options{TempDir: dir, MemoryBudget: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := ev.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
	})
	for _, k := range ev.keys {
		spilledFiles += len(k.store.runs)
		if k.store.limit*entrySize > 1<<20 {
			t.Errorf("a key store buffers %d bytes", k.store.limit*entrySize)
		}
	}
	if spilledFiles < 100 {
		t.Errorf("only %d runs spilled", spilledFiles)
	}
	res := ev.Finish(ctx)
	want := []struct {
		outcome  Outcome
		observed string
		failing  int64
		samples  string
	}{
		{Fail, "1000000/1000001", 2, "17:17 2000001:17"},
		{Fail, "1000000/1000001", 2, "42:k0000042 2000001:k0000042"},
		{Pass, "2000001", 0, ""},
		{Fail, "1000000/1000001", 2, "17:17 2000001:17"},
		{Pass, "2000000/2000001", 0, ""},
		{Pass, "completeness 1, uniqueness 1", 0, ""},
	}
	for i, w := range want {
		r := res[i]
		if r.Outcome != w.outcome || r.Observed != w.observed || r.FailingRows != w.failing || samplesText(r.Samples) != w.samples {
			t.Errorf("%s: got %v %q failing %d samples %q (%s), want %v %q failing %d samples %q",
				r.Rule, r.Outcome, r.Observed, r.FailingRows, samplesText(r.Samples), r.Message, w.outcome, w.observed, w.failing, w.samples)
		}
	}
	assertEmptyDir(t, dir)
}

// TestCloseRemovesSpills checks that an evaluation abandoned before Finish
// leaves no file once closed.
func TestCloseRemovesSpills(t *testing.T) {
	rs, err := dqdl.Parse(`Rules = [ IsUnique "key" ]`)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	var ev *Evaluator
	keyBatches(t, 100_000, 4096, func(rec arrow.RecordBatch) {
		if ev == nil {
			if ev, err = New(ctx, rs, rec.Schema(), Options{TempDir: dir, MemoryBudget: 64 << 10}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ev.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
	})
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		t.Fatal("nothing spilled")
	}
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, dir)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ev.Add(cctx, nil); err == nil {
		t.Error("Add with a cancelled context succeeded")
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// heapProbe is a context that measures the live heap each time the merge
// checks it (every ctxCheckEvery entries of a store), keeping the most.
type heapProbe struct {
	context.Context
	base, peak int64
	checks     int
}

func (p *heapProbe) Err() error {
	p.checks++
	p.peak = max(p.peak, liveHeap()-p.base)
	return nil
}

// TestReferentialIntegrityMemory checks a reference of a million keys
// against a 4 MiB budget shared with a uniqueness rule: the key stores'
// buffers add up to at most the budget; the live heap while the reference
// is read and the rows are added stays within the budget and a small
// constant, and while the stores are merged within that and one read
// buffer per run; the result is exact.
func TestReferentialIntegrityMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a million reference keys")
	}
	const (
		budget = 4 << 20
		slack  = 256 << 10
	)
	dir := t.TempDir()
	base := liveHeap()
	ev := newRIEvaluator(t, `Rules = [ ReferentialIntegrity "ref" "ref.keys.ref" = 1.0, IsUnique "id" ]`,
		Options{TempDir: dir, MemoryBudget: budget, References: riRefs(1_000_003)})
	loaded := liveHeap() - base
	var buffers, runs int
	for _, k := range ev.keys {
		buffers += k.store.limit * entrySize
	}
	for _, l := range ev.refs {
		buffers += (l.refs.limit + l.rows.limit) * entrySize
		runs += len(l.refs.runs) + len(l.rows.runs)
	}
	if buffers > budget {
		t.Errorf("the key stores buffer %d bytes, over the budget of %d", buffers, budget)
	}
	if loaded > budget+slack {
		t.Errorf("%d bytes live after the reference and the rows, over %d", loaded, budget+slack)
	}
	probe := &heapProbe{Context: context.Background(), base: base}
	r := ev.Finish(probe)[0]
	if bound := int64(budget + runs*mergeReadBuffer + slack); probe.peak > bound || probe.checks < 10 {
		t.Errorf("%d bytes live during the merge of %d runs (%d checks), over %d", probe.peak, runs, probe.checks, bound)
	}
	if r.Outcome != Fail || r.FailingRows != 123 || r.Observed != "16609/16650" {
		t.Errorf("%s: %v %q failing %d (%s)", r.Rule, r.Outcome, r.Observed, r.FailingRows, r.Message)
	}
	t.Logf("live heap: %d KiB loaded, %d KiB at most while merging %d runs", loaded>>10, probe.peak>>10, runs)
	assertEmptyDir(t, dir)
}
