package quality

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/quality/eval"
)

// DefaultReferenceRowLimit is the most rows of a referenced dataset that a
// ReferentialIntegrity rule reads into memory, unless
// WithReferenceRowLimit says otherwise: its distinct keys are kept in a
// set, some 50 to 100 bytes per key of a short one-column key.
const DefaultReferenceRowLimit = 1_000_000

// errTooManyReferenceRows stops the read of a referenced table that has
// more rows than the limit.
var errTooManyReferenceRows = errors.New("too many rows")

// tableReferences is the eval.ReferenceLookup of the service: it reads the
// current snapshot of the referenced dataset's table (tables.Read) into a
// set of its keys, up to limit rows; a larger table makes the rule ERROR
// rather than read without bound.
type tableReferences struct {
	store  Store
	tables Tables
	limit  int64
}

// ReferenceSet reads the distinct values of columns of the current
// snapshot of dataset's table. Rows where one of the columns is null are
// left out: a null refers to nothing, and nothing refers to it.
func (t *tableReferences) ReferenceSet(ctx context.Context, dataset string, columns []string) (eval.ReferenceSet, error) {
	if t.tables == nil {
		return nil, errors.New("this service reads no tables")
	}
	d, err := t.store.GetDataset(ctx, dataset)
	if err != nil {
		return nil, fmt.Errorf("referenced dataset %s: %w", dataset, err)
	}
	for _, c := range columns {
		if d.Column(c) == nil {
			return nil, fmt.Errorf("referenced dataset %s has no column %q", dataset, c)
		}
	}
	set := keySet{}
	var rows int64
	idx := make([]int, len(columns))
	key := make([]string, len(columns))
	snap, err := t.tables.Read(ctx, d.ID, 0, func(rec arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		rows += rec.NumRows()
		if rows > t.limit {
			return errTooManyReferenceRows
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
			set.add(key)
		}
		return nil
	})
	switch {
	case errors.Is(err, errTooManyReferenceRows):
		return nil, fmt.Errorf("referenced dataset %s has more than %d rows, the most a ReferentialIntegrity rule reads", dataset, t.limit)
	case err != nil:
		return nil, fmt.Errorf("read referenced dataset %s (snapshot %d): %w", dataset, snap, err)
	}
	return set, nil
}

// keySet is a set of keys of one or more values, each value stored with
// its length so that no two different keys encode alike.
type keySet map[string]struct{}

func (s keySet) add(key []string) { s[encodeKey(key)] = struct{}{} }

// Contains reports whether the set holds key.
func (s keySet) Contains(key []string) bool {
	_, ok := s[encodeKey(key)]
	return ok
}

func encodeKey(key []string) string {
	if len(key) == 1 {
		return key[0]
	}
	var b strings.Builder
	for _, v := range key {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}
