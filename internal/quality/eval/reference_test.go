package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

// funcRefs is a ReferenceLookup that streams whatever keys it is given,
// whatever the dataset and columns.
type funcRefs func(add func(key []string) error) error

func (f funcRefs) ReferenceKeys(_ context.Context, _ string, _ []string, add func(key []string) error) error {
	return f(add)
}

// listRefs streams the keys of a list.
func listRefs(keys ...[]string) funcRefs {
	return func(add func([]string) error) error {
		for _, k := range keys {
			if err := add(k); err != nil {
				return err
			}
		}
		return nil
	}
}

// The large referential integrity case: riRows checked rows (see
// riBatches) whose keys are among the first riRefKeys keys of riRefs.
const (
	riRefKeys = 200_000
	riRows    = 50_000
)

// riRefs streams n keys, "r0000000" to "r%07d" of n-1, in a scattered
// order (n must be prime to 7), every 1000th twice.
func riRefs(n int) funcRefs {
	return func(add func([]string) error) error {
		key := make([]string, 1)
		for j := range n {
			v := j * 7 % n
			key[0] = fmt.Sprintf("r%07d", v)
			if err := add(key); err != nil {
				return err
			}
			if v%1000 == 0 {
				if err := add(key); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// riBatches yields batches of (id, ref) for rows 1..riRows: the key of
// row i is null when i%1000 == 500 (50 rows), "x%07d" of i, which the
// reference lacks, when i%400 == 0 and i <= 49200 (123 rows: 400, 800,
// ..., 49200), and else a referenced key, scattered over the first
// riRefKeys.
func riBatches(batchRows int, yield func(arrow.RecordBatch)) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ref", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	refs := b.Field(1).(*array.StringBuilder)
	for i := 1; i <= riRows; i++ {
		ids.Append(int64(i))
		switch {
		case i%1000 == 500:
			refs.AppendNull()
		case i%400 == 0 && i <= 49_200:
			refs.Append(fmt.Sprintf("x%07d", i))
		default:
			refs.Append(fmt.Sprintf("r%07d", i*7919%riRefKeys))
		}
		if ids.Len() == batchRows || i == riRows {
			rec := b.NewRecordBatch()
			yield(rec)
			rec.Release()
		}
	}
}

// newRIEvaluator makes an evaluator of the large case's rules on the
// schema of riBatches and feeds it every batch.
func newRIEvaluator(t testing.TB, rules string, opts Options) *Evaluator {
	t.Helper()
	rs, err := dqdl.Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ev *Evaluator
	riBatches(4096, func(rec arrow.RecordBatch) {
		if ev == nil {
			if ev, err = New(ctx, rs, rec.Schema(), opts); err != nil {
				t.Fatal(err)
			}
		}
		if err := ev.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
	})
	return ev
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("spill files left behind: %v (%v)", entries, err)
	}
}

// TestReferentialIntegritySpills checks a reference of 200,000 keys and
// 50,000 checked rows against a 64 KiB budget, which makes both key stores
// spill many sorted runs: the failing rows, the ratio, the message and the
// first 20 missing rows are exact, and no spill file is left. The two
// rules refer to the same keys, which are read once, into one store.
func TestReferentialIntegritySpills(t *testing.T) {
	dir := t.TempDir()
	reads, refs := 0, riRefs(riRefKeys)
	ev := newRIEvaluator(t, `Rules = [
		ReferentialIntegrity "ref" "ref.keys.ref" = 1.0,
		ReferentialIntegrity "ref" "ref.keys.ref" > 0.99 where "id > 40000"
	]`, Options{TempDir: dir, MemoryBudget: 64 << 10, References: funcRefs(func(add func([]string) error) error {
		reads++
		return refs(add)
	})})
	if reads != 1 || ev.refs[0].refs != ev.refs[1].refs {
		t.Errorf("the reference was read %d times, into %d stores; want once, into one", reads, len(ev.referenced))
	}
	for i, l := range ev.refs {
		// 200,200 reference keys and 49,950 (or 9,990) checked keys, 1024
		// to a run.
		if len(l.refs.runs) < 190 || len(l.rows.runs) < 9 {
			t.Errorf("rule %d spilled %d reference runs and %d runs of rows", i, len(l.refs.runs), len(l.rows.runs))
		}
	}
	res := ev.Finish(context.Background())

	var samples []string
	for row := 400; row <= 8000; row += 400 {
		samples = append(samples, fmt.Sprintf("%d:x%07d", row, row))
	}
	var whereSamples []string
	for row := 40_400; row <= 48_000; row += 400 {
		whereSamples = append(whereSamples, fmt.Sprintf("%d:x%07d", row, row))
	}
	for i, w := range []struct {
		outcome  Outcome
		observed string
		failing  int64
		samples  string
		message  string
	}{
		// 49,950 rows with a key, 123 of them missing.
		{Fail, "16609/16650", 123, strings.Join(samples, " "), "123 of 49950 rows refer to no row of the reference"},
		// Rows 40001-50000: 9,990 with a key, 23 missing (40400..49200).
		{Pass, "9967/9990", 23, strings.Join(whereSamples, " "), "23 of 9990 rows refer to no row of the reference"},
	} {
		r := res[i]
		if r.Outcome != w.outcome || r.Observed != w.observed || r.FailingRows != w.failing || samplesText(r.Samples) != w.samples || r.Message != w.message {
			t.Errorf("%s: got %v %q failing %d samples %q (%s)\nwant %v %q failing %d samples %q (%s)",
				r.Rule, r.Outcome, r.Observed, r.FailingRows, samplesText(r.Samples), r.Message,
				w.outcome, w.observed, w.failing, w.samples, w.message)
		}
	}
	assertEmptyDir(t, dir)
}

// cancelAfter is a context whose Err is nil for its first left calls and
// context.Canceled after.
type cancelAfter struct {
	context.Context
	left int
}

func (c *cancelAfter) Err() error {
	if c.left <= 0 {
		return context.Canceled
	}
	c.left--
	return nil
}

// TestReferentialIntegrityCancelledMerge cancels the merge after it has
// begun (the first checks of ctx pass; the reference cursor checks again
// every 65,536 keys): the rule is ERROR with the context's error and the
// spill files are removed.
func TestReferentialIntegrityCancelledMerge(t *testing.T) {
	dir := t.TempDir()
	ev := newRIEvaluator(t, `Rules = [ ReferentialIntegrity "ref" "ref.keys.ref" = 1.0 ]`,
		Options{TempDir: dir, MemoryBudget: 64 << 10, References: riRefs(riRefKeys)})
	ctx := &cancelAfter{Context: context.Background(), left: 2}
	r := ev.Finish(ctx)[0]
	if r.Outcome != Error || r.Message != context.Canceled.Error() || ctx.left != 0 {
		t.Errorf("cancelled merge: %v %q (%d checks of ctx left), want ERROR %q", r.Outcome, r.Message, ctx.left, context.Canceled)
	}
	assertEmptyDir(t, dir)
}

// TestReferentialIntegrityFailedLookup checks that a lookup that fails
// after some keys have spilled makes the rule ERROR with its error, and
// removes what spilled at once.
func TestReferentialIntegrityFailedLookup(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	refs := funcRefs(func(add func([]string) error) error {
		for i := range 10_000 {
			if err := add([]string{fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return boom
	})
	rs, err := dqdl.Parse(`Rules = [ ReferentialIntegrity "code" "ref.codes.code" = 1.0, IsComplete "id" ]`)
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "code", Type: arrow.BinaryTypes.String}}, nil)
	ev, err := New(context.Background(), rs, schema, Options{TempDir: dir, MemoryBudget: 64 << 10, References: refs})
	if err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, dir)
	res := ev.Finish(context.Background())
	if r := res[0]; r.Outcome != Error || r.Message != `looking up ref.codes["code"]: boom` {
		t.Errorf("failed lookup: %v %q", r.Outcome, r.Message)
	}
	if res[1].Outcome != Pass {
		t.Errorf("the other rule: %+v", res[1])
	}
}

// TestReferentialIntegrityKeys checks multi-column keys (which the
// reference must hold value for value: "Lee" "B" is neither "Le" "eB" nor
// "LeeB" ""), a where clause, masking and the samples of keys longer than
// the 16 bytes an entry keeps.
func TestReferentialIntegrityKeys(t *testing.T) {
	refs := listRefs(
		[]string{"Kim", "A"}, []string{"Le", "eB"}, []string{"LeeB", ""}, []string{"Parkson", "C"},
		[]string{"Jung", "A"}, []string{"Kim", "A"}, // a repeat
	)
	masked := func(c string) bool { return c == "name" }
	for _, tc := range []struct {
		rule     string
		opts     Options
		outcome  Outcome
		observed string
		failing  int64
		samples  string
	}{
		{`ReferentialIntegrity "name,code" "ref.people.{name,code}" = 1.0`, Options{}, Fail, "0.75", 1, "2:Lee, B"},
		{`ReferentialIntegrity "name,code" "ref.people.{name,code}" = 1.0`, Options{Masked: masked}, Fail, "0.75", 1, "2:L****B"},
		{`ReferentialIntegrity "name, code" "ref.people.{name, code}" >= 0.5 where "id > 1"`, Options{}, Pass, "2/3", 1, "2:Lee, B"},
		{`ReferentialIntegrity "name,code" "ref.people.{name,code}" = 1.0 where "id <> 2"`, Options{}, Pass, "1", 0, ""},
		{`ReferentialIntegrity "code,name" "ref.people.{code,name}" = 1.0`, Options{}, Fail, "0", 4, "1:A, Kim 2:B, Lee 3:C, Parkson 5:A, Jung"},
	} {
		tc.opts.References = refs
		r := validate(t, "Rules = [ "+tc.rule+" ]", testCSV, testCols, 2, tc.opts)[0]
		if r.Outcome != tc.outcome || r.Observed != tc.observed || r.FailingRows != tc.failing || samplesText(r.Samples) != tc.samples {
			t.Errorf("%s: got %v %q failing %d samples %q (%s)\nwant %v %q failing %d samples %q",
				tc.rule, r.Outcome, r.Observed, r.FailingRows, samplesText(r.Samples), r.Message, tc.outcome, tc.observed, tc.failing, tc.samples)
		}
	}

	// Samples keep 16 bytes of a key's text, cut back to whole characters.
	cols := []csvstream.Column{{Name: "a", Type: arrow.BinaryTypes.String}, {Name: "b", Type: arrow.BinaryTypes.String}}
	csv := "a,b\nParkson-Lee,Kim-Choi\n가나다라마바,x\n가나다,라\n"
	for _, tc := range []struct {
		rule, samples string
		opts          Options
	}{
		{`ReferentialIntegrity "a,b" "ref.long.{a,b}" = 1.0`, "1:Parkson-Lee, Kim… 2:가나다라마… 3:가나다, 라", Options{}},
		{`ReferentialIntegrity "a" "ref.long.a" = 1.0`, "2:가나다라마… 3:가나다", Options{}},
		{`ReferentialIntegrity "a" "ref.long.a" = 1.0`, "2:가****… 3:***", Options{Masked: func(string) bool { return true }}},
	} {
		tc.opts.References = listRefs([]string{"Parkson-Lee"})
		if strings.Contains(tc.rule, "{a,b}") {
			tc.opts.References = listRefs([]string{"Parkson-Lee", "Kim"})
		}
		r := validate(t, "Rules = [ "+tc.rule+" ]", csv, cols, 2, tc.opts)[0]
		if samplesText(r.Samples) != tc.samples {
			t.Errorf("%s: samples %q, want %q", tc.rule, samplesText(r.Samples), tc.samples)
		}
	}
}
