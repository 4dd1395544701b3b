package quality

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/quality/eval"
)

// tableReferences is the eval.ReferenceLookup of the service: it streams
// the keys of the current snapshot of the referenced dataset's table
// (tables.Read) to the evaluator, which keeps them in bounded memory
// (spilling to disk), so a referenced table of any size can be read.
type tableReferences struct {
	store  Store
	tables Tables
}

// ReferenceKeys calls add with the values of columns of every row of the
// current snapshot of dataset's table. Rows where one of the columns is
// null are left out: a null refers to nothing, and nothing refers to it.
func (t *tableReferences) ReferenceKeys(ctx context.Context, dataset string, columns []string, add func(key []string) error) error {
	if t.tables == nil {
		return errors.New("this service reads no tables")
	}
	d, err := t.store.GetDataset(ctx, dataset)
	if err != nil {
		return fmt.Errorf("referenced dataset %s: %w", dataset, err)
	}
	for _, c := range columns {
		if d.Column(c) == nil {
			return fmt.Errorf("referenced dataset %s has no column %q", dataset, c)
		}
	}
	idx := make([]int, len(columns))
	key := make([]string, len(columns))
	snap, err := t.tables.Read(ctx, d.ID, 0, func(rec arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		for j, c := range columns {
			found := rec.Schema().FieldIndices(c)
			if len(found) != 1 {
				return fmt.Errorf("the table has no column %q", c)
			}
			idx[j] = found[0]
		}
	row:
		for i := range int(rec.NumRows()) {
			for j, c := range idx {
				a := rec.Column(c)
				if a.IsNull(i) {
					continue row
				}
				key[j] = eval.ValueText(a, i)
			}
			if err := add(key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read referenced dataset %s (snapshot %d): %w", dataset, snap, err)
	}
	return nil
}
