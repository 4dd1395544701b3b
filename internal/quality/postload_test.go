package quality

import (
	"context"
	"errors"
	"strings"
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

func TestReferenceSetReadsKeysUpToTheLimit(t *testing.T) {
	d := &dataset.Dataset{ID: "ref.codes", Columns: []dataset.Column{{Name: "code", Type: dataset.TypeString, Nullable: true}}}
	s := func(v string) *string { return &v }
	tbl := refTables{schema: tables.ArrowSchema(d), codes: []*string{s("A"), nil, s("B"), s("A"), s("")}}
	refs := &tableReferences{store: refStore{d: d}, tables: tbl, limit: 5}
	set, err := refs.ReferenceSet(context.Background(), "ref.codes", []string{"code"})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"A": true, "B": true, "": true, "NULL": false, "C": false} {
		if got := set.Contains([]string{key}); got != want {
			t.Errorf("Contains(%q) = %v, want %v", key, got, want)
		}
	}
	refs.limit = 4
	if _, err := refs.ReferenceSet(context.Background(), "ref.codes", []string{"code"}); err == nil || !strings.Contains(err.Error(), "more than 4 rows") {
		t.Fatalf("a reference over the row limit: %v", err)
	}
	if _, err := refs.ReferenceSet(context.Background(), "ref.codes", []string{"nope"}); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Fatalf("a reference to a missing column: %v", err)
	}
	if _, err := refs.ReferenceSet(context.Background(), "ref.other", []string{"code"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a reference to a missing dataset: %v", err)
	}
}

func TestKeySetTellsMultiColumnKeysApart(t *testing.T) {
	set := keySet{}
	set.add([]string{"a:b", "c"})
	if set.Contains([]string{"a", "b:c"}) || !set.Contains([]string{"a:b", "c"}) {
		t.Fatal("two different keys encode alike")
	}
}
