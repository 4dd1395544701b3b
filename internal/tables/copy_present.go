package tables

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
)

// presentSet counts the rows a table holds by a hash of their values in a
// set of columns (see rowSet), for CopyMatching to skip those that a copy
// run before put there.
type presentSet struct {
	rows   *rowSet // the columns and the hasher; its hashes stay empty
	counts map[keyHash]int
}

// presentRows reads the rows of the current snapshot of tbl that match
// cond (every row, when tbl has no column cond.Column: a row can only be
// a copy of a matching row if it matches too) and counts them by their
// values in the columns names.
func presentRows(ctx context.Context, tbl *table.Table, names []string, cond Condition) (*presentSet, error) {
	p := &presentSet{rows: newRowSet(names), counts: map[keyHash]int{}}
	if tbl.CurrentSnapshot() == nil {
		return p, nil
	}
	var pred *condPred
	if _, ok := tbl.Schema().FindFieldByName(cond.Column); ok {
		cp, err := newCondPred(tbl.Schema(), cond)
		if err != nil {
			return nil, err
		}
		pred = &cp
	}
	_, recs, err := tbl.Scan(table.WithSelectedFields(names...)).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the rows present: %w", err)
	}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("read the rows present: %w", err)
		}
		if pred != nil {
			out, err := pred.filter(ctx, rec, true)
			rec.Release()
			if err != nil {
				return nil, fmt.Errorf("read the rows present: %w", err)
			}
			rec = out
		}
		cols := p.columns(rec)
		for row := range int(rec.NumRows()) {
			h, err := p.rows.hash(cols, row)
			if err != nil {
				rec.Release()
				return nil, err
			}
			p.counts[h]++
		}
		rec.Release()
	}
	return p, nil
}

// columns returns rec's arrays of the set's columns (nil for one rec lacks).
func (p *presentSet) columns(rec arrow.RecordBatch) []arrow.Array {
	cols := make([]arrow.Array, len(p.rows.names))
	for i, n := range p.rows.names {
		if idx := rec.Schema().FieldIndices(n); len(idx) == 1 {
			cols[i] = rec.Column(idx[0])
		}
	}
	return cols
}

// drop returns rec without the rows the set still counts, taking each one
// it drops off the count, and how many it dropped. rec is released when
// another batch (or an error) is returned.
func (p *presentSet) drop(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, int64, error) {
	if len(p.counts) == 0 {
		return rec, 0, nil
	}
	cols := p.columns(rec)
	b := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer b.Release()
	var dropped int64
	for row := range int(rec.NumRows()) {
		h, err := p.rows.hash(cols, row)
		if err != nil {
			rec.Release()
			return nil, 0, err
		}
		keep := p.counts[h] == 0
		if !keep {
			p.counts[h]--
			dropped++
		}
		b.Append(keep)
	}
	if dropped == 0 {
		return rec, 0, nil
	}
	mask := b.NewBooleanArray()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
	rec.Release()
	if err != nil {
		return nil, 0, fmt.Errorf("skip the rows present: %w", err)
	}
	return out, dropped, nil
}
