package erasure_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/tables"
)

const (
	accountsID  = "bank.accounts"
	separatedID = "bank_separated.accounts"
	accountRows = 100
)

// asOf is the separation time of these tests.
var asOf = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// closedAgo is how many days before asOf account i was closed; -1: open.
func closedAgo(i int) int {
	if i%10 == 5 {
		return -1
	}
	return i
}

// isBefore reports whether account i closed more than days before asOf.
func isBefore(i, days int) bool { return closedAgo(i) > days }

// retentionLake is a store and a catalog holding bank.accounts, whose
// rows are separated 30 days after closing and destroyed after 60.
type retentionLake struct {
	st      *sqlite.Store
	catalog *tables.Catalog
	runner  *erasure.Runner
}

func newRetentionLake(t *testing.T) *retentionLake {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	catalog, err := tables.Open(ctx, st.DB(), "sqlite", "file://"+filepath.Join(dir, "warehouse"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catalog.Close() })
	d := &dataset.Dataset{
		ID:    accountsID,
		Grade: 2,
		Columns: []dataset.Column{
			{Name: "customer_id", Type: dataset.TypeInt64},
			{Name: "name", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "closed", Type: dataset.TypeDate, Nullable: true},
		},
		SubjectKey: "customer_id",
		Retention:  dataset.Retention{SeparateAfterColumn: "closed", SeparateAfterDays: 30, DestroyAfterDays: 60},
	}
	svc := ingest.NewService(ingest.Deps{Datasets: st, Tables: catalog, Jobs: st, GradeLevels: 3})
	if _, err := svc.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Two loads, so that the table has files of both kinds.
	for _, part := range [][2]int{{0, 50}, {50, accountRows}} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, tables.ArrowSchema(d))
		for i := part[0]; i < part[1]; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append("customer " + strconv.Itoa(i))
			if ago := closedAgo(i); ago < 0 {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.Date32Builder).Append(arrow.Date32FromTime(asOf.AddDate(0, 0, -ago)))
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := catalog.Write(ctx, accountsID, tables.Append, rdr, nil); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
		rec.Release()
	}
	return &retentionLake{st: st, catalog: catalog, runner: &erasure.Runner{Store: st, Tables: catalog}}
}

// ids reads the customer ids of a dataset's table, sorted (repeats kept).
func (l *retentionLake) ids(t *testing.T, id string) []int {
	t.Helper()
	var out []int
	_, err := l.catalog.Read(context.Background(), id, 0, func(rec arrow.RecordBatch) error {
		col := rec.Column(rec.Schema().FieldIndices("customer_id")[0]).(*array.Int64)
		for i := range col.Len() {
			out = append(out, int(col.Value(i)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// crashAfterCopy queues a SEPARATE job of bank.accounts by spec and runs
// it until its worker dies between the copy and the delete.
func (l *retentionLake) crashAfterCopy(t *testing.T, spec erasure.SeparateSpec) *job.Job {
	t.Helper()
	ctx := context.Background()
	body, _ := json.Marshal(spec)
	j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Separate, Dataset: accountsID, Spec: body, Principal: "steward"})
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("worker killed")
	l.runner.AfterCopy = func(context.Context, *job.Job) error { return crash }
	if _, err := l.runner.Separate(ctx, j, &jobrun.Progress{}); !errors.Is(err, crash) {
		t.Fatalf("first run: %v", err)
	}
	return j
}

// separation reads the SeparateResult of a SEPARATE job's outcome.
func separation(t *testing.T, out jobrun.Outcome) erasure.SeparateResult {
	t.Helper()
	var res erasure.SeparateResult
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatalf("separation result %s: %v", out.Result, err)
	}
	return res
}

// want lists the accounts of [0, accountRows) that keep says to keep.
func want(keep func(i int) bool) []int {
	var out []int
	for i := range accountRows {
		if keep(i) {
			out = append(out, i)
		}
	}
	return out
}

// A SEPARATE job that dies between the copy and the delete, run again,
// moves every row exactly once, and proves the source holds none.
func TestSeparateSurvivesACrashBetweenCopyAndDelete(t *testing.T) {
	ctx := context.Background()
	l := newRetentionLake(t)
	j := l.crashAfterCopy(t, erasure.SeparateSpec{AsOf: asOf})
	old := want(func(i int) bool { return isBefore(i, 30) })
	if got := l.ids(t, separatedID); !slices.Equal(got, old) {
		t.Fatalf("separated after the crash: %v, want %v", got, old)
	}
	if got := l.ids(t, accountsID); len(got) != accountRows {
		t.Fatalf("source after the crash: %d rows", len(got))
	}

	l.runner.AfterCopy = nil
	out, err := l.runner.Separate(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	res := separation(t, out)
	if !res.CopyResumed || res.RowsMoved != int64(len(old)) || !res.Certificate.Verified || len(res.Certificate.Datasets) != 1 ||
		res.TargetDataset != separatedID || res.Condition != (tables.Condition{Column: "closed", Op: tables.Less, Value: "2026-05-02"}) {
		t.Fatalf("result: %+v", res)
	}
	if dc := res.Certificate.Datasets[0]; dc.Dataset != accountsID || dc.RowsDeleted != int64(len(old)) || !dc.Verified ||
		dc.FilesRewritten == 0 || dc.SnapshotsExpired == 0 || dc.FilesScanned == 0 || res.Certificate.SubjectCount != len(old) {
		t.Fatalf("certificate: %+v", res.Certificate)
	}
	// name is nullable: it stays behind; closed is the retention column.
	if !slices.Equal(res.Columns, []string{"customer_id", "closed"}) {
		t.Fatalf("columns moved: %v", res.Columns)
	}
	if got := l.ids(t, separatedID); !slices.Equal(got, old) {
		t.Fatalf("separated after the rerun: %v, want each of %v once", got, old)
	}
	if got, w := l.ids(t, accountsID), want(func(i int) bool { return !isBefore(i, 30) }); !slices.Equal(got, w) {
		t.Fatalf("source after the rerun: %v, want %v", got, w)
	}
	sep, err := l.st.GetDataset(ctx, separatedID)
	if err != nil {
		t.Fatal(err)
	}
	if sep.Grade != 1 || sep.SubjectKey != "customer_id" || len(sep.Columns) != 2 || sep.Retention.DestroyAfterDays != 60 {
		t.Fatalf("separated dataset: %+v", sep)
	}
	snaps, err := l.catalog.Snapshots(ctx, accountsID)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("source snapshots after separation: %d %v", len(snaps), err)
	}

	// A third run (the worker died after the end) changes nothing.
	if _, err := l.runner.Separate(ctx, j, &jobrun.Progress{}); err != nil {
		t.Fatal(err)
	}
	if got := l.ids(t, separatedID); !slices.Equal(got, old) {
		t.Fatalf("separated after a third run: %v", got)
	}
}

// The sweep starts a SEPARATE job for a dataset whose rule is due, then,
// once the rows are separated, an ERASE job for those past
// destroyAfterDays; one job of each a day, however often it sweeps.
func TestRetentionSweep(t *testing.T) {
	ctx := context.Background()
	l := newRetentionLake(t)
	s := &erasure.Sweeper{Store: l.st, Tables: l.catalog, Now: func() time.Time { return asOf }}
	rep, err := s.Sweep(ctx)
	if err != nil || len(rep.Started) != 1 || rep.Started[0].Kind != job.Separate || rep.Started[0].Dataset != accountsID {
		t.Fatalf("first sweep: %+v %v", rep, err)
	}
	if again, err := s.Sweep(ctx); err != nil || len(again.Started) != 0 {
		t.Fatalf("same-day sweep: %+v %v", again, err)
	}
	if _, err := l.runner.Separate(ctx, rep.Started[0], &jobrun.Progress{}); err != nil {
		t.Fatal(err)
	}

	rep, err = s.Sweep(ctx)
	if err != nil || len(rep.Started) != 1 || rep.Started[0].Kind != job.Erase {
		t.Fatalf("sweep after the separation: %+v %v", rep, err)
	}
	var spec erasure.EraseSpec
	if err := json.Unmarshal(rep.Started[0].Spec, &spec); err != nil {
		t.Fatal(err)
	}
	expired := want(func(i int) bool { return isBefore(i, 60) })
	if len(spec.SubjectIDs) != len(expired) || !slices.Equal(spec.Datasets, []string{separatedID}) {
		t.Fatalf("erase spec: %+v, want %d subjects", spec, len(expired))
	}
	if again, err := s.Sweep(ctx); err != nil || len(again.Started) != 0 {
		t.Fatalf("same-day sweep after the separation: %+v %v", again, err)
	}
	if _, err := l.runner.Erase(ctx, rep.Started[0], &jobrun.Progress{}); err != nil {
		t.Fatal(err)
	}
	kept := want(func(i int) bool { return isBefore(i, 30) && !isBefore(i, 60) })
	if got := l.ids(t, separatedID); !slices.Equal(got, kept) {
		t.Fatalf("separated after the destroy: %v, want %v", got, kept)
	}
}

// A SEPARATE job by an explicit condition moves the rows it selects, with
// the columns that are not nullable, the keys and the condition's column,
// and proves them gone from the source, exactly once across a crash after
// the copy; a matching row loaded after the copy stays for a later
// separation without failing the proof. An existing separated dataset
// that lacks a column the separation must keep is refused before anything
// moves.
func TestSeparateByCondition(t *testing.T) {
	ctx := context.Background()
	l := newRetentionLake(t)
	cond := tables.Condition{Column: "name", Op: tables.GreaterOrEqual, Value: "customer 90"}
	j := l.crashAfterCopy(t, erasure.SeparateSpec{AsOf: asOf, Condition: &cond})
	// The rerun finds the copy; a matching row arrives before its delete.
	l.runner.AfterCopy = func(ctx context.Context, _ *job.Job) error { return l.appendAccount(ctx, 500, "customer 95 (late)") }
	out, err := l.runner.Separate(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatal(err)
	}
	res := separation(t, out)
	// "customer 90".."customer 99" sort at or after "customer 90".
	moved := want(func(i int) bool { return i >= 90 })
	if !res.CopyResumed || res.RowsMoved != int64(len(moved)) || res.Condition != cond || !slices.Equal(res.Columns, []string{"customer_id", "name", "closed"}) ||
		!res.Certificate.Verified || res.Certificate.SubjectCount != len(moved) || res.Certificate.Datasets[0].RowsDeleted != int64(len(moved)) {
		t.Fatalf("result: %+v", res)
	}
	if got := l.ids(t, separatedID); !slices.Equal(got, moved) {
		t.Fatalf("separated: %v, want each of %v once", got, moved)
	}
	if got, w := l.ids(t, accountsID), append(want(func(i int) bool { return i < 90 }), 500); !slices.Equal(got, w) {
		t.Fatalf("source: %v, want %v", got, w)
	}

	// bank.cards lacks name, which a separation by name must keep.
	other := &dataset.Dataset{
		ID: "bank.cards", Grade: 2, SubjectKey: "customer_id",
		Columns: []dataset.Column{{Name: "customer_id", Type: dataset.TypeInt64}, {Name: "closed", Type: dataset.TypeDate}},
	}
	if _, err := l.st.CreateDataset(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := l.catalog.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(erasure.SeparateSpec{AsOf: asOf, Condition: &cond, TargetDataset: "bank.cards"})
	j, _, err = l.st.CreateJob(ctx, &job.Job{Kind: job.Separate, Dataset: accountsID, Spec: spec, Principal: "steward"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.runner.Separate(ctx, j, &jobrun.Progress{})
	if !errors.Is(err, fault.ErrFailedPrecondition) || !strings.Contains(err.Error(), `"name"`) {
		t.Fatalf("into a dataset without the condition's column: %v", err)
	}
}

// appendAccount loads one account, closed on asOf, into bank.accounts.
func (l *retentionLake) appendAccount(ctx context.Context, id int64, name string) error {
	d, err := l.st.GetDataset(ctx, accountsID)
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, tables.ArrowSchema(d))
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.StringBuilder).Append(name)
	b.Field(2).(*array.Date32Builder).Append(arrow.Date32FromTime(asOf))
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		return err
	}
	defer rdr.Release()
	_, err = l.catalog.Write(ctx, accountsID, tables.Append, rdr, nil)
	return err
}

// A SEPARATE job that dies after the copy, whose copy snapshot is then
// expired from the separated dataset (another write came, then an expiry),
// run again copies no row twice: it skips the rows the separated dataset
// holds already, erases them from the source all the same, and proves
// them gone.
func TestSeparateRerunAfterTheCopySnapshotExpired(t *testing.T) {
	ctx := context.Background()
	l := newRetentionLake(t)
	j := l.crashAfterCopy(t, erasure.SeparateSpec{AsOf: asOf})
	old := want(func(i int) bool { return isBefore(i, 30) })

	// Another account reaches the separated dataset (closed on asOf, so
	// the job's condition does not select it), and every snapshot but
	// that write's is expired: the job's tagged copy snapshot with them.
	sep, err := l.st.GetDataset(ctx, separatedID)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, tables.ArrowSchema(sep))
	b.Field(0).(*array.Int64Builder).Append(1000)
	b.Field(1).(*array.Date32Builder).Append(arrow.Date32FromTime(asOf))
	rec := b.NewRecordBatch()
	b.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.catalog.Write(ctx, separatedID, tables.Append, rdr, nil); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	rec.Release()
	if ex, err := l.catalog.Expire(ctx, separatedID, time.Now().Add(time.Hour), 1); err != nil || ex.SnapshotsExpired == 0 {
		t.Fatalf("expire the separated dataset: %+v %v", ex, err)
	}
	snaps, err := l.catalog.Snapshots(ctx, separatedID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s.Properties[tables.PropJobID] == j.ID {
			t.Fatalf("snapshot %d of the copy survived the expiry", s.ID)
		}
	}
	withLate := append(slices.Clone(old), 1000)
	if got := l.ids(t, separatedID); !slices.Equal(got, withLate) {
		t.Fatalf("separated before the rerun: %v, want %v", got, withLate)
	}

	l.runner.AfterCopy = nil
	out, err := l.runner.Separate(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	res := separation(t, out)
	if res.CopyResumed || res.RowsMoved != int64(len(old)) || res.RowsFoundSeparated != int64(len(old)) || res.CopySnapshotID != 0 {
		t.Fatalf("result: %+v; want %d rows found separated already, none copied", res, len(old))
	}
	if dc := res.Certificate.Datasets[0]; !res.Certificate.Verified || dc.RowsDeleted != int64(len(old)) || !dc.Verified ||
		dc.FilesScanned == 0 || res.Certificate.SubjectCount != len(old) {
		t.Fatalf("certificate: %+v", res.Certificate)
	}
	if got := l.ids(t, separatedID); !slices.Equal(got, withLate) {
		t.Fatalf("separated after the rerun: %v, want each of %v once", got, withLate)
	}
	if got, w := l.ids(t, accountsID), want(func(i int) bool { return !isBefore(i, 30) }); !slices.Equal(got, w) {
		t.Fatalf("source after the rerun: %v, want %v", got, w)
	}
}
