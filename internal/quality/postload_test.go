package quality

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

func TestSplitSuite(t *testing.T) {
	rs, err := dqdl.Parse(`Rules = [
    ColumnOrder = ["id", "code"],
    RowCount > 0,
    IsUnique "id",
    IsComplete "code",
    ReferentialIntegrity "code" "ref.codes.code" = 1.0,
    (IsPrimaryKey "id") and (ColumnLength "code" <= 3),
    Uniqueness "code" > 0.5,
    DistinctValuesCount "code" > 1
]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		intoRows     bool
		stream, post []int // rule indexes
	}{
		{false, []int{0, 2, 3, 5, 6, 7}, []int{1, 4}},
		{true, []int{0, 3, 7}, []int{1, 2, 4, 5, 6}},
	} {
		stream, post := SplitSuite(rs, tc.intoRows)
		check := func(what string, got *dqdl.Ruleset, want []int) {
			t.Helper()
			if len(got.Rules) != len(want) {
				t.Fatalf("intoRows=%v: %s rules: %s", tc.intoRows, what, got)
			}
			for i, w := range want {
				if got.Rules[i] != rs.Rules[w] {
					t.Fatalf("intoRows=%v: %s rule %d is %s, want %s", tc.intoRows, what, i, got.Rules[i], rs.Rules[w])
				}
			}
		}
		check("stream", stream, tc.stream)
		check("post-load", post, tc.post)
	}
}

// refStore is the one dataset a reference lookup asks the store for.
type refStore struct {
	store.Quality
	d *dataset.Dataset
}

func (s refStore) GetDataset(_ context.Context, id string) (*dataset.Dataset, error) {
	if id != s.d.ID {
		return nil, store.ErrNotFound
	}
	return s.d, nil
}

// refTables serves the rows of one table, in batches of two rows.
type refTables struct {
	schema *arrow.Schema
	codes  []*string
}

func (r refTables) Read(ctx context.Context, _ string, _ int64, fn func(arrow.RecordBatch) error) (int64, error) {
	for i := 0; i < len(r.codes); i += 2 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, r.schema)
		for _, c := range r.codes[i:min(i+2, len(r.codes))] {
			if c == nil {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(*c)
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		err := fn(rec)
		rec.Release()
		if err != nil {
			return 7, err
		}
	}
	return 7, nil
}

func (refTables) SnapshotRowCount(context.Context, string, int64) (int64, int64, error) {
	return 0, 0, errors.New("not used")
}

// TestReferenceKeysStreamsTheTable checks the service's reference lookup:
// every key of the table reaches add, in table order (repeats included),
// rows with a null are
// left out, and a missing column, a missing dataset, a failing add and a
// cancelled context are errors.
func TestReferenceKeysStreamsTheTable(t *testing.T) {
	d := &dataset.Dataset{ID: "ref.codes", Columns: []dataset.Column{{Name: "code", Type: dataset.TypeString, Nullable: true}}}
	s := func(v string) *string { return &v }
	tbl := refTables{schema: tables.ArrowSchema(d), codes: []*string{s("A"), nil, s("B"), s("A"), s("")}}
	refs := &tableReferences{store: refStore{d: d}, tables: tbl}
	ctx := context.Background()
	var got []string
	err := refs.ReferenceKeys(ctx, "ref.codes", []string{"code"}, func(key []string) error {
		if len(key) != 1 {
			t.Fatalf("key %q has %d values, want 1", key, len(key))
		}
		got = append(got, key[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "A", ""}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = refs.ReferenceKeys(ctx, "ref.codes", []string{"code"}, func([]string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("an add that fails: %v after %d calls, want %v after 1", err, calls, stop)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := refs.ReferenceKeys(cctx, "ref.codes", []string{"code"}, func([]string) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled read: %v", err)
	}
	noKeys := func([]string) error { t.Error("a key of a failed lookup"); return nil }
	if err := refs.ReferenceKeys(ctx, "ref.codes", []string{"nope"}, noKeys); err == nil || err.Error() != `referenced dataset ref.codes has no column "nope"` {
		t.Errorf("a reference to a missing column: %v", err)
	}
	if err := refs.ReferenceKeys(ctx, "ref.other", []string{"code"}, noKeys); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a reference to a missing dataset: %v", err)
	}
}
