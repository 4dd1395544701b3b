package tables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
)

// openPostgres opens a catalog in a fresh schema of the test database
// (dropped when the test ends), or skips the test when there is none.
func openPostgres(t *testing.T, opts ...Option) (*Catalog, string) {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return openOn(t, db, "postgres", filepath.Join(t.TempDir(), "warehouse"), opts...)
}

// openSQLite opens a catalog on a SQLite file in a fresh directory and
// returns it with the warehouse directory.
func openSQLite(t *testing.T, opts ...Option) (*Catalog, string) {
	t.Helper()
	db, dir := sqliteDB(t)
	return openOn(t, db, "sqlite", filepath.Join(dir, "warehouse"), opts...)
}

// sqliteDB opens a SQLite file as the control plane's store opens it, in a
// fresh directory, and returns it with the directory.
func sqliteDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "lake.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func openOn(t *testing.T, db *sql.DB, dialect, dir string, opts ...Option) (*Catalog, string) {
	t.Helper()
	c, err := Open(context.Background(), db, dialect, "file://"+dir, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}

// eachBackend runs fn on a catalog on SQLite and on one on PostgreSQL.
func eachBackend(t *testing.T, fn func(t *testing.T, c *Catalog, dir string), opts ...Option) {
	t.Run("sqlite", func(t *testing.T) {
		c, dir := openSQLite(t, opts...)
		fn(t, c, dir)
	})
	t.Run("postgres", func(t *testing.T) {
		c, dir := openPostgres(t, opts...)
		fn(t, c, dir)
	})
}

// customers is a dataset with a column of every type.
func customers(id string) *dataset.Dataset {
	return &dataset.Dataset{
		ID: id,
		Columns: []dataset.Column{
			{Name: "id", Type: dataset.TypeInt64, Description: "customer id"},
			{Name: "name", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "active", Type: dataset.TypeBoolean, Nullable: true},
			{Name: "visits", Type: dataset.TypeInt32, Nullable: true},
			{Name: "score", Type: dataset.TypeDouble, Nullable: true},
			{Name: "balance", Type: dataset.TypeDecimal, Precision: 18, Scale: 2, Nullable: true},
			{Name: "birth", Type: dataset.TypeDate, Nullable: true},
			{Name: "updated", Type: dataset.TypeTimestamp},
			{Name: "customer_no", Type: dataset.TypeString, Nullable: true},
		},
		PrimaryKey:  []string{"id"},
		PartitionBy: []dataset.PartitionField{{Column: "updated", Transform: dataset.TransformDay}, {Column: "id", Transform: dataset.TransformBucket, Width: 4}},
		SubjectKey:  "customer_no",
	}
}

// customer is one row of customers; nil pointers are nulls.
type customer struct {
	ID         int64
	Name       *string
	Active     *bool
	Visits     *int32
	Score      *float64
	Balance    *string // decimal text, e.g. "12345678901234.56"
	Birth      *time.Time
	Updated    time.Time
	CustomerNo *string
}

func ptr[T any](v T) *T { return &v }

var epoch = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

// gen is a full row for id, whose visits field carries a version.
func gen(id int64, version int32) customer {
	return customer{
		ID:         id,
		Name:       ptr(fmt.Sprintf("김철수-%d", id)),
		Active:     ptr(id%2 == 0),
		Visits:     ptr(version),
		Score:      ptr(float64(id) / 4),
		Balance:    ptr(fmt.Sprintf("%d.%02d", id*1000, id%100)),
		Birth:      ptr(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(id))),
		Updated:    epoch.Add(time.Duration(id%3) * 24 * time.Hour).Add(time.Duration(id) * time.Microsecond),
		CustomerNo: ptr(fmt.Sprintf("C%06d", id)),
	}
}

func genRange(from, to int64, version int32) []customer {
	var out []customer
	for id := from; id < to; id++ {
		out = append(out, gen(id, version))
	}
	return out
}

// batch builds one record batch of rows in schema.
func batch(t *testing.T, schema *arrow.Schema, rows []customer) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for i, f := range schema.Fields() {
			fb := b.Field(i)
			switch f.Name {
			case "id":
				fb.(*array.Int64Builder).Append(r.ID)
			case "name":
				appendOr(fb, r.Name, func(v string) { fb.(*array.StringBuilder).Append(v) })
			case "active":
				appendOr(fb, r.Active, func(v bool) { fb.(*array.BooleanBuilder).Append(v) })
			case "visits":
				switch vb := fb.(type) {
				case *array.Int32Builder:
					appendOr(fb, r.Visits, func(v int32) { vb.Append(v) })
				case *array.Int64Builder:
					appendOr(fb, r.Visits, func(v int32) { vb.Append(int64(v)) })
				}
			case "score":
				appendOr(fb, r.Score, func(v float64) { fb.(*array.Float64Builder).Append(v) })
			case "balance":
				appendOr(fb, r.Balance, func(v string) {
					dt := f.Type.(*arrow.Decimal128Type)
					n, err := decimal128.FromString(v, dt.Precision, dt.Scale)
					if err != nil {
						t.Fatalf("decimal %q: %v", v, err)
					}
					fb.(*array.Decimal128Builder).Append(n)
				})
			case "birth":
				appendOr(fb, r.Birth, func(v time.Time) { fb.(*array.Date32Builder).Append(arrow.Date32FromTime(v)) })
			case "updated":
				fb.(*array.TimestampBuilder).Append(arrow.Timestamp(r.Updated.UnixMicro()))
			case "customer_no":
				appendOr(fb, r.CustomerNo, func(v string) { fb.(*array.StringBuilder).Append(v) })
			default:
				fb.AppendNull()
			}
		}
	}
	return b.NewRecordBatch()
}

func appendOr[T any](b array.Builder, v *T, app func(T)) {
	if v == nil {
		b.AppendNull()
		return
	}
	app(*v)
}

// reader streams batches of rows in d's schema.
func reader(t *testing.T, d *dataset.Dataset, batches ...[]customer) array.RecordReader {
	t.Helper()
	schema := ArrowSchema(d)
	recs := make([]arrow.RecordBatch, len(batches))
	for i, rows := range batches {
		recs[i] = batch(t, schema, rows)
	}
	rdr, err := array.NewRecordReader(schema, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	t.Cleanup(rdr.Release)
	return rdr
}

// readAll reads every row of the table of id, by primary key.
func readAll(t *testing.T, c *Catalog, id string) map[int64]customer {
	t.Helper()
	tbl, err := c.load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]customer{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range decode(t, rec) {
			if _, dup := out[r.ID]; dup {
				t.Fatalf("id %d is in the table twice", r.ID)
			}
			out[r.ID] = r
		}
		rec.Release()
	}
	return out
}

// decode turns a batch of the customers table back into rows.
func decode(t *testing.T, rec arrow.RecordBatch) []customer {
	t.Helper()
	rows := make([]customer, rec.NumRows())
	for i, f := range rec.Schema().Fields() {
		col := rec.Column(i)
		for j := range rows {
			if col.IsNull(j) {
				continue
			}
			r := &rows[j]
			switch a := col.(type) {
			case *array.Int64:
				switch f.Name {
				case "id":
					r.ID = a.Value(j)
				case "visits":
					r.Visits = ptr(int32(a.Value(j)))
				}
			case *array.Int32:
				r.Visits = ptr(a.Value(j))
			case *array.String:
				if f.Name == "name" {
					r.Name = ptr(a.Value(j))
				} else if f.Name == "customer_no" {
					r.CustomerNo = ptr(a.Value(j))
				}
			case *array.Boolean:
				r.Active = ptr(a.Value(j))
			case *array.Float64:
				r.Score = ptr(a.Value(j))
			case *array.Decimal128:
				r.Balance = ptr(a.Value(j).ToString(a.DataType().(*arrow.Decimal128Type).Scale))
			case *array.Date32:
				r.Birth = ptr(a.Value(j).ToTime())
			case *array.Timestamp:
				r.Updated = a.Value(j).ToTime(a.DataType().(*arrow.TimestampType).Unit)
			}
		}
	}
	return rows
}

// filesUnder lists the files under dir whose name ends in suffix.
func filesUnder(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// mustCreate creates d's table.
func mustCreate(t *testing.T, c *Catalog, d *dataset.Dataset) {
	t.Helper()
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

// mustWrite writes and returns the snapshot id.
func mustWrite(t *testing.T, c *Catalog, id string, mode WriteMode, rdr array.RecordReader, props map[string]string) int64 {
	t.Helper()
	snap, err := c.Write(context.Background(), id, mode, rdr, props)
	if err != nil {
		t.Fatalf("Write %s: %v", mode, err)
	}
	return snap
}

func mustStats(t *testing.T, c *Catalog, id string) Stats {
	t.Helper()
	s, err := c.Stats(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// figures are the snapshot figures of st (all but its partitioning), as a
// comparable value.
func figures(st Stats) [4]int64 {
	return [4]int64{st.CurrentSnapshotID, st.RowCount, st.FileCount, st.SizeBytes}
}

func mustSnapshots(t *testing.T, c *Catalog, id string) []Snapshot {
	t.Helper()
	s, err := c.Snapshots(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNoDeleteFiles checks that no snapshot of the table has ever had a
// delete file: every manifest of every snapshot holds data files only.
func assertNoDeleteFiles(t *testing.T, c *Catalog, id string) {
	t.Helper()
	tbl, err := c.load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tbl.Metadata().Snapshots() {
		if n := summaryInt(&s, "total-delete-files"); n != 0 {
			t.Errorf("snapshot %d: total-delete-files = %d", s.SnapshotID, n)
		}
		manifests, err := s.Manifests(fsys)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range manifests {
			if m.ManifestContent() != iceberg.ManifestContentData {
				t.Errorf("snapshot %d: manifest %s holds delete files", s.SnapshotID, m.FilePath())
			}
			for e, err := range m.Entries(fsys, false) {
				if err != nil {
					t.Fatal(err)
				}
				if e.DataFile().ContentType() != iceberg.EntryContentData {
					t.Errorf("snapshot %d: %s is a delete file", s.SnapshotID, e.DataFile().FilePath())
				}
			}
		}
	}
}
