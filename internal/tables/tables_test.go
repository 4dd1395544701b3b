package tables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

func TestArrowSchema(t *testing.T) {
	s := ArrowSchema(customers("a.b"))
	want := []struct {
		name     string
		typ      string
		nullable bool
	}{
		{"id", "int64", false},
		{"name", "utf8", true},
		{"active", "bool", true},
		{"visits", "int32", true},
		{"score", "float64", true},
		{"balance", "decimal(18, 2)", true},
		{"birth", "date32", true},
		{"updated", "timestamp[us, tz=UTC]", false},
		{"customer_no", "utf8", true},
	}
	if s.NumFields() != len(want) {
		t.Fatalf("%d fields, want %d", s.NumFields(), len(want))
	}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || f.Type.String() != w.typ || f.Nullable != w.nullable {
			t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable=%v", i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
		}
	}
}

func TestOpenRefusesSQLiteWithoutBusyTimeout(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(context.Background(), db, "sqlite", "file://"+t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Open = %v, want a busy timeout error", err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want Open to have turned WAL on", mode, err)
	}
	for _, wh := range []string{"relative/dir", "file://relative", "s3://", "/abs/no/scheme"} {
		if _, err := checkWarehouse(wh); err == nil {
			t.Errorf("warehouse %q accepted", wh)
		}
	}
}

func TestCreate(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, dir string) {
		ctx := context.Background()
		d := customers("crm.customers")
		mustCreate(t, c, d)

		err := c.Create(ctx, d)
		if !errors.Is(err, ErrAlreadyExists) || !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("second Create = %v, want ErrAlreadyExists", err)
		}
		// A second table in the same (now existing) namespace.
		mustCreate(t, c, customers("crm.other"))

		tbl, err := c.load(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v := tbl.Metadata().Version(); v != 2 {
			t.Errorf("format version %d, want 2", v)
		}
		if !strings.HasPrefix(tbl.Location(), "file://"+dir+"/crm.db/customers") {
			t.Errorf("location %s, want under the warehouse", tbl.Location())
		}
		sc := tbl.Schema()
		wantTypes := []string{"long", "string", "boolean", "int", "double", "decimal(18, 2)", "date", "timestamptz", "string"}
		for i, f := range sc.Fields() {
			if f.ID != i+1 || f.Name != d.Columns[i].Name || f.Type.String() != wantTypes[i] || f.Required == d.Columns[i].Nullable {
				t.Errorf("field %d = %d %s %s required=%v", i, f.ID, f.Name, f.Type, f.Required)
			}
		}
		if f, _ := sc.FindFieldByName("id"); f.Doc != "customer id" {
			t.Errorf("id doc %q", f.Doc)
		}
		if ids := sc.IdentifierFieldIDs; len(ids) != 1 || ids[0] != 1 {
			t.Errorf("identifier fields %v, want [1]", ids)
		}
		spec := tbl.Spec()
		var got []string
		for _, f := range spec.Fields() {
			got = append(got, fmt.Sprintf("%s=%s(%d)", f.Name, f.Transform, f.SourceID()))
		}
		if want := "updated_day=day(8) id_bucket=bucket[4](1)"; strings.Join(got, " ") != want {
			t.Errorf("partition spec %q, want %q", strings.Join(got, " "), want)
		}
		props := tbl.Properties()
		for k, v := range map[string]string{
			"write.delete.mode":                          "copy-on-write",
			"write.update.mode":                          "copy-on-write",
			"write.merge.mode":                           "copy-on-write",
			"write.metadata.delete-after-commit.enabled": "true",
			"write.metadata.previous-versions-max":       "10",
			"write.parquet.compression-codec":            "zstd",
			"write.metadata.metrics.column.name":         "none",
			"write.metadata.metrics.column.customer_no":  "truncate(16)",
		} {
			if props[k] != v {
				t.Errorf("property %s = %q, want %q", k, props[k], v)
			}
		}
		if _, ok := props["write.metadata.metrics.column.id"]; ok {
			t.Error("the key column has a metrics override; it needs its bounds")
		}
		if s := mustStats(t, c, d.ID); figures(s) != ([4]int64{}) {
			t.Errorf("stats of an empty table %+v", s)
		}
		if snaps := mustSnapshots(t, c, d.ID); len(snaps) != 0 {
			t.Errorf("%d snapshots of an empty table", len(snaps))
		}
	})
}

func TestNotFoundAndBadIDs(t *testing.T) {
	c, _ := openSQLite(t)
	ctx := context.Background()
	if _, err := c.Stats(ctx, "nope.nope"); !errors.Is(err, ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stats of a missing table = %v", err)
	}
	if err := c.Drop(ctx, "nope.nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Drop of a missing table = %v", err)
	}
	if _, err := c.Stats(ctx, "Not An ID"); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Stats of a bad id = %v, want a field error", err)
	}
	d := customers("crm.customers")
	mustCreate(t, c, d)
	if _, err := c.Write(ctx, d.ID, WriteMode(0), reader(t, d), nil); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Write in mode 0 = %v, want a field error", err)
	}
	if _, err := c.Write(ctx, d.ID, Append, reader(t, d), map[string]string{"total-records": "1"}); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Write with an Iceberg summary key = %v, want a field error", err)
	}
	if _, err := c.Preview(ctx, d.ID, 0); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Preview of 0 rows = %v, want a field error", err)
	}
}

// TestRoundTrip writes every type, nulls included, and reads it back
// exactly.
func TestRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, _ string) {
		d := customers("crm.customers")
		mustCreate(t, c, d)
		rows := []customer{
			{
				ID:         1,
				Name:       ptr("김철수 (金哲洙) — 서울특별시"),
				Active:     ptr(true),
				Visits:     ptr(int32(-2147483648)),
				Score:      ptr(3.141592653589793),
				Balance:    ptr("12345678901234.56"),
				Birth:      ptr(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)),
				Updated:    time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC),
				CustomerNo: ptr("C000001"),
			},
			{
				ID:         2,
				Balance:    ptr("-99999999999999.99"),
				Updated:    time.Date(1950, 1, 1, 0, 0, 0, 1000, time.UTC),
				CustomerNo: ptr("가나다라마바사아자차카타파하"),
			},
			{ID: 3, Updated: epoch, Balance: ptr("0.01"), Visits: ptr(int32(2147483647))},
		}
		mustWrite(t, c, d.ID, Append, reader(t, d, rows), nil)

		got := readAll(t, c, d.ID)
		if len(got) != len(rows) {
			t.Fatalf("%d rows back, want %d", len(got), len(rows))
		}
		for _, want := range rows {
			if g := got[want.ID]; fmt.Sprint(describe(g)) != fmt.Sprint(describe(want)) {
				t.Errorf("row %d:\n got %s\nwant %s", want.ID, describe(g), describe(want))
			}
		}

		rec, err := c.Preview(context.Background(), d.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		if rec.NumRows() != 2 || rec.NumCols() != int64(len(d.Columns)) {
			t.Fatalf("preview of %d rows × %d columns, want 2 × %d", rec.NumRows(), rec.NumCols(), len(d.Columns))
		}
		if !arrow.TypeEqual(rec.Schema().Field(5).Type, &arrow.Decimal128Type{Precision: 18, Scale: 2}) {
			t.Errorf("preview balance type %s", rec.Schema().Field(5).Type)
		}
	})
}

// describe prints a row with its nulls, for comparison.
func describe(r customer) string {
	s := func(p any) string {
		switch v := p.(type) {
		case *string:
			if v != nil {
				return *v
			}
		case *bool:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *int32:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *float64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.DateOnly)
			}
		}
		return "null"
	}
	return strings.Join([]string{fmt.Sprint(r.ID), s(r.Name), s(r.Active), s(r.Visits), s(r.Score), s(r.Balance), s(r.Birth),
		r.Updated.UTC().Format(time.RFC3339Nano), s(r.CustomerNo)}, "|")
}

func TestAppendOverwriteUpsert(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, _ string) {
		d := customers("crm.customers")
		mustCreate(t, c, d)

		s1 := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 60, 1), genRange(60, 100, 1)), map[string]string{"lakeplane.job-id": "job-1"})
		s2 := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(100, 200, 1)), map[string]string{"lakeplane.job-id": "job-2"})
		st := mustStats(t, c, d.ID)
		if st.RowCount != 200 || st.CurrentSnapshotID != s2 || st.FileCount < 2 || st.SizeBytes <= 0 {
			t.Fatalf("stats after two appends %+v (snapshot %d)", st, s2)
		}
		snaps := mustSnapshots(t, c, d.ID)
		if len(snaps) != 2 || snaps[0].ID != s2 || snaps[1].ID != s1 || snaps[0].ParentID != s1 || snaps[1].ParentID != 0 {
			t.Fatalf("snapshots %+v, want [%d %d] newest first", snaps, s2, s1)
		}
		for i, job := range []string{"job-2", "job-1"} {
			s := snaps[i]
			if s.Operation != "append" || s.AddedRows != 100 || s.Properties["lakeplane.job-id"] != job ||
				s.Properties[PropWriteMode] != "append" || s.Properties[PropWriteID] == "" || s.Time.IsZero() {
				t.Errorf("snapshot %d: %+v", i, s)
			}
		}

		s3 := mustWrite(t, c, d.ID, Overwrite, reader(t, d, genRange(1000, 1050, 2)), map[string]string{"lakeplane.job-id": "job-3"})
		got := readAll(t, c, d.ID)
		if len(got) != 50 || got[1000].ID != 1000 || *got[1049].Visits != 2 {
			t.Fatalf("after overwrite %d rows", len(got))
		}
		snaps = mustSnapshots(t, c, d.ID)
		if snaps[0].ID != s3 || snaps[0].Operation != "overwrite" || snaps[0].DeletedRows != 200 || snaps[0].AddedRows != 50 {
			t.Errorf("overwrite snapshot %+v", snaps[0])
		}

		// Upsert 40 keys: 1025..1049 exist, 1050..1064 are new.
		s4 := mustWrite(t, c, d.ID, Upsert, reader(t, d, genRange(1025, 1045, 3), genRange(1045, 1065, 3)), map[string]string{"lakeplane.job-id": "job-4"})
		got = readAll(t, c, d.ID)
		if len(got) != 65 {
			t.Fatalf("after upsert %d rows, want 65", len(got))
		}
		for id := int64(1000); id < 1065; id++ {
			want := int32(2)
			if id >= 1025 {
				want = 3
			}
			if r, ok := got[id]; !ok || *r.Visits != want || describe(r) != describe(gen(id, want)) {
				t.Errorf("id %d: %s, want version %d", id, describe(r), want)
			}
		}
		if st := mustStats(t, c, d.ID); st.RowCount != 65 || st.CurrentSnapshotID != s4 {
			t.Errorf("stats after upsert %+v", st)
		}
		if s := mustSnapshots(t, c, d.ID)[0]; s.Properties[PropWriteMode] != "upsert" || s.AddedRows < 40 {
			t.Errorf("upsert snapshot %+v", s)
		}

		// Nothing to write: no snapshot.
		if snap := mustWrite(t, c, d.ID, Append, reader(t, d), nil); snap != s4 {
			t.Errorf("empty append returned %d, want the current %d", snap, s4)
		}
		if snap := mustWrite(t, c, d.ID, Upsert, reader(t, d, nil), nil); snap != s4 {
			t.Errorf("empty upsert returned %d, want the current %d", snap, s4)
		}
		if n := len(mustSnapshots(t, c, d.ID)); n != 4 {
			t.Errorf("%d snapshots, want 4", n)
		}
		assertNoDeleteFiles(t, c, d.ID)
	})
}

// TestUpsertRewritesOnlyFilesThatHoldKeys checks the pruning by key bounds:
// files whose key range cannot hold an incoming key are not rewritten.
func TestUpsertRewritesOnlyFilesThatHoldKeys(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	d.PartitionBy = nil
	mustCreate(t, c, d)
	for i := range int64(4) {
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(i*100, i*100+100, 1)), nil)
	}
	// Keys 210..219 lie in the third file only; 5000 in none.
	upd := append(genRange(210, 220, 2), gen(5000, 2))
	mustWrite(t, c, d.ID, Upsert, reader(t, d, upd), nil)
	s := mustSnapshots(t, c, d.ID)[0]
	if s.Operation != "overwrite" || s.Properties["deleted-data-files"] != "1" || s.DeletedRows != 100 || s.AddedRows != 100+1 {
		t.Errorf("upsert snapshot %+v: want one file of 100 rows replaced by 90 kept + 11 new", s)
	}
	got := readAll(t, c, d.ID)
	if len(got) != 401 || *got[215].Visits != 2 || *got[209].Visits != 1 || *got[5000].Visits != 2 {
		t.Errorf("after upsert: %d rows", len(got))
	}

	// A file whose bounds admit a key it does not hold is read, not
	// rewritten: after this overwrite one file holds ids 0-9 and 20-29, so
	// its bounds [0, 29] admit 15, which it does not hold.
	mustWrite(t, c, d.ID, Overwrite, reader(t, d, genRange(0, 10, 1), genRange(20, 30, 1)), nil)
	before := len(mustSnapshots(t, c, d.ID))
	mustWrite(t, c, d.ID, Upsert, reader(t, d, []customer{gen(15, 5)}), nil)
	s = mustSnapshots(t, c, d.ID)[0]
	if len(mustSnapshots(t, c, d.ID)) != before+1 || s.Properties["deleted-data-files"] != "" || s.Operation != "append" {
		t.Errorf("upsert of an absent key inside a file's bounds: %+v, want a plain append", s)
	}
	if got := readAll(t, c, d.ID); len(got) != 21 {
		t.Errorf("%d rows, want 21", len(got))
	}
}

func TestUpsertDuplicateKey(t *testing.T) {
	c, dir := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 10, 1)), nil)
	before := filesUnder(t, dir, ".parquet")

	_, err := c.Write(context.Background(), d.ID, Upsert, reader(t, d, genRange(5, 20, 2), genRange(30, 40, 2), []customer{gen(17, 3)}), nil)
	if !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("Write = %v, want ErrDuplicateKey", err)
	}
	fe := fault.FieldErrors(err)
	if len(fe) != 1 || fe[0].Column != "id" || !strings.Contains(err.Error(), "id=17") || !strings.Contains(err.Error(), d.ID) {
		t.Errorf("error %q (field errors %v) does not name the key", err, fe)
	}
	if n := len(mustSnapshots(t, c, d.ID)); n != 1 {
		t.Errorf("%d snapshots, want 1", n)
	}
	if got := readAll(t, c, d.ID); len(got) != 10 || *got[5].Visits != 1 {
		t.Errorf("table changed: %d rows", len(got))
	}
	if after := filesUnder(t, dir, ".parquet"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("data files left behind:\n%s", strings.Join(after, "\n"))
	}

	// A PII key is named, its value is not shown.
	p := customers("crm.pii")
	p.Columns[8].PII, p.Columns[8].Nullable = true, false
	p.PrimaryKey = []string{"customer_no"}
	mustCreate(t, c, p)
	_, err = c.Write(context.Background(), p.ID, Upsert, reader(t, p, genRange(5, 20, 2), []customer{gen(17, 3)}), nil)
	if !errors.Is(err, ErrDuplicateKey) || strings.Contains(err.Error(), "C000017") || !strings.Contains(err.Error(), "customer_no=(PII") {
		t.Errorf("duplicate PII key: %v", err)
	}
}

func TestUpsertNeedsPrimaryKey(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.nokey")
	d.PrimaryKey = nil
	mustCreate(t, c, d)
	_, err := c.Write(context.Background(), d.ID, Upsert, reader(t, d, genRange(0, 3, 1)), nil)
	if !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("upsert without a key = %v", err)
	}
}

// failingReader streams batches and then fails, or cancels a context.
type failingReader struct {
	array.RecordReader
	after  int // batches before the failure
	n      int
	err    error
	cancel context.CancelFunc
}

func (r *failingReader) Next() bool {
	if r.n == r.after {
		if r.cancel != nil {
			r.cancel()
			return r.RecordReader.Next()
		}
		r.err = errors.New("source broke: connection reset")
		return false
	}
	r.n++
	return r.RecordReader.Next()
}

func (r *failingReader) Err() error { return r.err }

func TestFailedWriteLeavesTableAsItWas(t *testing.T) {
	// A small target size makes the writer finish files before the
	// failure, so that their removal is tested too.
	c, dir := openSQLite(t, WithTargetFileSize(4<<10))
	d := customers("crm.customers")
	d.PartitionBy = []dataset.PartitionField{{Column: "id", Transform: dataset.TransformBucket, Width: 2}}
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 100, 1)), nil)
	before := filesUnder(t, dir, ".parquet")
	stats := mustStats(t, c, d.ID)

	many := make([][]customer, 40)
	for i := range many {
		many[i] = genRange(int64(1000+i*50), int64(1050+i*50), 2)
	}
	for _, mode := range []WriteMode{Append, Overwrite, Upsert} {
		for _, cancel := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cancel=%v", mode, cancel), func(t *testing.T) {
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				rdr := &failingReader{RecordReader: reader(t, d, many...), after: 25}
				if cancel {
					rdr.cancel = stop
				}
				_, err := c.Write(ctx, d.ID, mode, rdr, nil)
				switch {
				case err == nil:
					t.Fatal("Write succeeded")
				case cancel && !errors.Is(err, context.Canceled):
					t.Errorf("Write = %v, want context.Canceled", err)
				case !cancel && !strings.Contains(err.Error(), "connection reset"):
					t.Errorf("Write = %v, want the reader's error", err)
				}
				if got := mustStats(t, c, d.ID); figures(got) != figures(stats) {
					t.Errorf("stats %+v, want %+v", got, stats)
				}
				if n := len(mustSnapshots(t, c, d.ID)); n != 1 {
					t.Errorf("%d snapshots, want 1", n)
				}
				if after := filesUnder(t, dir, ".parquet"); strings.Join(after, "\n") != strings.Join(before, "\n") {
					t.Errorf("%d data files, want the %d of before:\n%s", len(after), len(before), strings.Join(after, "\n"))
				}
			})
		}
	}
	if got := readAll(t, c, d.ID); len(got) != 100 {
		t.Errorf("%d rows, want 100", len(got))
	}
}

func TestConcurrentAppends(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, _ string) {
		d := customers("crm.customers")
		mustCreate(t, c, d)
		const writers, rows = 8, 50
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			rdr := reader(t, d, genRange(int64(i*rows), int64(i*rows+rows), 1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.Write(context.Background(), d.ID, Append, rdr, map[string]string{"lakeplane.job-id": fmt.Sprint("job-", i)})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		got := readAll(t, c, d.ID)
		if len(got) != writers*rows {
			t.Errorf("%d rows, want %d", len(got), writers*rows)
		}
		if st := mustStats(t, c, d.ID); st.RowCount != writers*rows {
			t.Errorf("stats %+v", st)
		}
		jobs := map[string]bool{}
		for _, s := range mustSnapshots(t, c, d.ID) {
			jobs[s.Properties["lakeplane.job-id"]] = true
		}
		if len(jobs) != writers {
			t.Errorf("snapshots of %d jobs, want %d", len(jobs), writers)
		}
	})
}

// TestConcurrentUpserts races upserts of overlapping keys: whichever
// commits last wins each key, and no key is ever lost or doubled.
func TestConcurrentUpserts(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 100, 0)), nil)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		rdr := reader(t, d, genRange(int64(i*10), int64(i*10+40), int32(i+1)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Write(context.Background(), d.ID, Upsert, rdr, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upsert %d: %v", i, err)
		}
	}
	got := readAll(t, c, d.ID) // fails on a doubled key
	if len(got) != 100 {
		t.Errorf("%d rows, want 100", len(got))
	}
	for id := int64(0); id < 100; id++ {
		if v := *got[id].Visits; (id >= 70 && v != 0) || (id < 70 && v == 0) {
			t.Errorf("id %d has version %d", id, v)
		}
	}
	assertNoDeleteFiles(t, c, d.ID)
}

// TestRemovedRowsStayRemoved is the guard against apache/iceberg-go#2042:
// a row that one operation replaced or removed never comes back after any
// later append, upsert or overwrite, and no snapshot ever has a delete file.
func TestRemovedRowsStayRemoved(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	want := map[int64]int32{} // id -> version the table must hold
	check := func(step string) {
		t.Helper()
		got := readAll(t, c, d.ID)
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, want %d", step, len(got), len(want))
		}
		for id, v := range want {
			if r, ok := got[id]; !ok || *r.Visits != v {
				t.Errorf("%s: id %d = %v, want version %d", step, id, r.Visits, v)
			}
		}
		assertNoDeleteFiles(t, c, d.ID)
	}
	put := func(mode WriteMode, from, to int64, v int32) {
		t.Helper()
		if mode == Overwrite {
			clear(want)
		}
		for id := from; id < to; id++ {
			want[id] = v
		}
		mustWrite(t, c, d.ID, mode, reader(t, d, genRange(from, to, v)), nil)
	}
	for _, step := range []struct {
		name     string
		mode     WriteMode
		from, to int64
		version  int32
	}{
		{"append", Append, 0, 20, 1},
		{"upsert replacing half", Upsert, 0, 10, 2},
		{"append after upsert", Append, 20, 30, 3},
		{"second upsert", Upsert, 5, 25, 4},
		{"overwrite", Overwrite, 100, 110, 5},
		{"append after overwrite", Append, 110, 115, 6},
		{"upsert after overwrite", Upsert, 100, 103, 7},
		{"second overwrite", Overwrite, 200, 202, 8},
		{"final upsert", Upsert, 200, 205, 9},
	} {
		put(step.mode, step.from, step.to, step.version)
		check(step.name)
	}
}

func TestEvolve(t *testing.T) {
	c, _ := openSQLite(t)
	ctx := context.Background()
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 10, 1)), nil)

	e := d.Clone()
	e.Columns[3].Type = dataset.TypeInt64 // visits: INT32 -> INT64
	e.Columns[5].Precision = 20           // balance: DECIMAL(18,2) -> (20,2)
	e.Columns[7].Nullable = true          // updated: required -> optional
	e.Columns[1].PII = false              // name: no longer PII
	e.Columns[8].PII = true               // customer_no: PII now
	e.Columns = append(e.Columns, dataset.Column{Name: "segment", Type: dataset.TypeString, Nullable: true, Description: "new"})
	if err := c.Evolve(ctx, e); err != nil {
		t.Fatalf("Evolve: %v", err)
	}
	tbl, err := c.load(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	sc := tbl.Schema()
	for name, want := range map[string]string{"visits": "optional long", "balance": "optional decimal(20, 2)", "updated": "optional timestamptz", "segment": "optional string"} {
		f, ok := sc.FindFieldByName(name)
		if !ok || fmt.Sprintf("%s %s", map[bool]string{true: "required", false: "optional"}[f.Required], f.Type) != want {
			t.Errorf("field %s = %+v, want %s", name, f, want)
		}
	}
	if f, _ := sc.FindFieldByName("segment"); f.ID != 10 || f.Doc != "new" {
		t.Errorf("segment is field %d (%q), want 10", f.ID, f.Doc)
	}
	props := tbl.Properties()
	if _, ok := props["write.metadata.metrics.column.name"]; ok {
		t.Error("metrics override of name kept after it stopped being PII")
	}
	if props["write.metadata.metrics.column.customer_no"] != "none" {
		t.Errorf("customer_no metrics %q, want none", props["write.metadata.metrics.column.customer_no"])
	}
	if err := c.Evolve(ctx, e); err != nil {
		t.Errorf("Evolve to the same columns: %v", err)
	}
	if n := len(tbl.Metadata().Schemas()); n != 2 {
		t.Errorf("%d schemas, want 2", n)
	}

	// Old rows read the new column as null; new rows carry it.
	schema := ArrowSchema(e)
	rec := batch(t, schema, genRange(10, 12, 2))
	segment := rec.Schema().FieldIndices("segment")[0]
	if rec.Column(segment).NullN() != 2 {
		t.Fatal("test rows should have null segments")
	}
	rdr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	rec.Release()
	mustWrite(t, c, d.ID, Upsert, rdr, nil)
	rows := previewAll(t, c, d.ID)
	if rows.NumRows() != 12 {
		t.Fatalf("%d rows, want 12", rows.NumRows())
	}
	col := rows.Column(rows.Schema().FieldIndices("segment")[0])
	if col.NullN() != 12 {
		t.Errorf("segment has %d nulls of 12", col.NullN())
	}
	if got := rows.Schema().Field(3).Type; got.ID() != arrow.INT64 {
		t.Errorf("visits read as %s, want int64", got)
	}
	rows.Release()

	for name, bad := range map[string]func(*dataset.Dataset){
		"drop":     func(x *dataset.Dataset) { x.Columns = x.Columns[:len(x.Columns)-1] },
		"rename":   func(x *dataset.Dataset) { x.Columns[2].Name = "enabled" },
		"retype":   func(x *dataset.Dataset) { x.Columns[1].Type = dataset.TypeInt64 },
		"narrow":   func(x *dataset.Dataset) { x.Columns[5].Precision = 10 },
		"rescale":  func(x *dataset.Dataset) { x.Columns[5].Scale = 3 },
		"required": func(x *dataset.Dataset) { x.Columns[2].Nullable = false },
		"new required": func(x *dataset.Dataset) {
			x.Columns = append(x.Columns, dataset.Column{Name: "z", Type: dataset.TypeString})
		},
		"key": func(x *dataset.Dataset) { x.PrimaryKey = []string{"id", "customer_no"} },
		"decimal→int64": func(x *dataset.Dataset) {
			x.Columns[5] = dataset.Column{Name: "balance", Type: dataset.TypeInt64, Nullable: true}
		},
	} {
		x := e.Clone()
		bad(x)
		if err := c.Evolve(ctx, x); !errors.Is(err, fault.ErrFailedPrecondition) {
			t.Errorf("%s: Evolve = %v, want a failed precondition", name, err)
		}
	}
}

// previewAll reads the whole (small) table through Preview.
func previewAll(t *testing.T, c *Catalog, id string) arrow.RecordBatch {
	t.Helper()
	rec, err := c.Preview(context.Background(), id, MaxPreviewRows)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestPreviewStopsAtLimit(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	empty, err := c.Preview(context.Background(), d.ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if empty.NumRows() != 0 || empty.NumCols() != int64(len(d.Columns)) {
		t.Errorf("preview of an empty table: %d rows × %d columns", empty.NumRows(), empty.NumCols())
	}
	empty.Release()
	for i := range int64(3) {
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(i*1000, i*1000+1000, 1)), nil)
	}
	for _, n := range []int{1, 7, 1500, 3000} {
		rec, err := c.Preview(context.Background(), d.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(n, 3000); rec.NumRows() != int64(want) {
			t.Errorf("Preview(%d) = %d rows", n, rec.NumRows())
		}
		rec.Release()
	}
}

func TestDrop(t *testing.T) {
	c, dir := openSQLite(t)
	ctx := context.Background()
	keep, purge := customers("crm.keep"), customers("crm.purge")
	for _, d := range []*dataset.Dataset{keep, purge} {
		mustCreate(t, c, d)
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 20, 1)), nil)
		mustWrite(t, c, d.ID, Upsert, reader(t, d, genRange(10, 30, 2)), nil)
	}
	if err := c.Drop(ctx, keep.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Drop(ctx, purge.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dataset.Dataset{keep, purge} {
		if _, err := c.Stats(ctx, d.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stats of dropped %s = %v", d.ID, err)
		}
	}
	if left := filesUnder(t, filepath.Join(dir, "crm.db", "purge"), ""); len(left) != 0 {
		t.Errorf("purge left %d files: %v", len(left), left)
	}
	if left := filesUnder(t, filepath.Join(dir, "crm.db", "keep"), ".parquet"); len(left) == 0 {
		t.Error("drop without purge removed the data files")
	}
	// The id can be used again.
	mustCreate(t, c, purge)
	if st := mustStats(t, c, purge.ID); st.RowCount != 0 {
		t.Errorf("re-created table has %d rows", st.RowCount)
	}
}

func TestWriteRefusesTableWithDeleteFiles(t *testing.T) {
	err := checkNoDeleteFiles(&table.Snapshot{Summary: &table.Summary{Properties: iceberg.Properties{"total-delete-files": "3"}}})
	if !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("checkNoDeleteFiles = %v", err)
	}
	if err := checkNoDeleteFiles(nil); err != nil {
		t.Errorf("checkNoDeleteFiles(no snapshot) = %v", err)
	}
}

func TestIsConflict(t *testing.T) {
	for _, tc := range []struct {
		err               error
		conflict, transit bool
	}{
		{fmt.Errorf("x: %w", errors.New("requirement failed: branch \"main\" has changed: expected id 1, found 2")), true, false},
		{errors.New("database is locked (5) (SQLITE_BUSY)"), false, true},
		{errors.New("disk full"), false, false},
	} {
		if isConflict(tc.err) != tc.conflict || isTransient(tc.err) != tc.transit {
			t.Errorf("%v: conflict=%v transient=%v", tc.err, isConflict(tc.err), isTransient(tc.err))
		}
	}
	for attempt := 1; attempt < 30; attempt++ {
		if b := backoff(attempt); b < 12*time.Millisecond || b > 2*time.Second {
			t.Errorf("backoff(%d) = %v", attempt, b)
		}
	}
}

// TestRequiredColumnsRefuseNulls: iceberg-go would store a null of a
// required column as a zero value; Write refuses it instead.
func TestRequiredColumnsRefuseNulls(t *testing.T) {
	c, dir := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	schema := ArrowSchema(d)
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, schema.Field(7).Type.(*arrow.TimestampType))
	tb.AppendValues([]arrow.Timestamp{1, 2, 3}, nil)
	tb.AppendNull() // row 4 of the batch, 14 of the input
	tb.Append(5)
	fixed := withColumn(t, batch(t, schema, genRange(10, 15, 1)), 7, tb)
	defer fixed.Release()
	first := batch(t, schema, genRange(0, 10, 1))
	defer first.Release()
	for _, mode := range []WriteMode{Append, Overwrite, Upsert} {
		rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{first, fixed})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Write(context.Background(), d.ID, mode, rdr, nil)
		fe := fault.FieldErrors(err)
		if len(fe) != 1 || fe[0].Column != "updated" || fe[0].Row != 14 {
			t.Errorf("%s with a null in a required column = %v", mode, err)
		}
	}

	noUpdated := arrow.NewSchema(schema.Fields()[:7], nil)
	rec := batch(t, noUpdated, genRange(0, 3, 1))
	rdr, _ := array.NewRecordReader(noUpdated, []arrow.RecordBatch{rec})
	rec.Release()
	if _, err := c.Write(context.Background(), d.ID, Append, rdr, nil); len(fault.FieldErrors(err)) != 1 || !strings.Contains(err.Error(), "updated") {
		t.Errorf("append without a required column = %v", err)
	}
	if n := len(mustSnapshots(t, c, d.ID)); n != 0 {
		t.Errorf("%d snapshots, want none", n)
	}
	if files := filesUnder(t, dir, ".parquet"); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// TestDecimalBeyondPrecisionRefused: iceberg-go would store it wrapped
// around; Write refuses it.
func TestDecimalBeyondPrecisionRefused(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	schema := ArrowSchema(d)
	db := array.NewDecimal128Builder(memory.DefaultAllocator, schema.Field(5).Type.(*arrow.Decimal128Type))
	db.Append(decimal128.FromI64(100))
	db.AppendNull()
	db.Append(decimal128.FromI64(1e18).Mul(decimal128.FromI64(1000))) // 22 digits in DECIMAL(18,2)
	rec := withColumn(t, batch(t, schema, genRange(0, 3, 1)), 5, db)
	rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write(context.Background(), d.ID, Append, rdr, nil)
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Column != "balance" || fe[0].Row != 3 {
		t.Errorf("Write = %v, want a field error on row 3's balance", err)
	}
	if n := len(mustSnapshots(t, c, d.ID)); n != 0 {
		t.Errorf("%d snapshots", n)
	}
}

// withColumn returns rec with column i replaced by what b built; rec and b
// are released.
func withColumn(t *testing.T, rec arrow.RecordBatch, i int, b array.Builder) arrow.RecordBatch {
	t.Helper()
	defer rec.Release()
	defer b.Release()
	a := b.NewArray()
	defer a.Release()
	if a.Len() != int(rec.NumRows()) {
		t.Fatalf("column of %d rows for a batch of %d", a.Len(), rec.NumRows())
	}
	cols := slices.Clone(rec.Columns())
	cols[i] = a
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
}
