package erasure_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/tables"
)

const (
	datasetID = "bench.customers"
	loads     = 4
	perLoad   = 50000
	totalRows = loads * perLoad
)

// lake is a store, a catalog, a landing zone and a rejects directory under
// one temporary directory.
type lake struct {
	dir     string
	st      *sqlite.Store
	catalog *tables.Catalog
	files   *objects.FileStore
	loader  *ingest.Loader
	runner  *erasure.Runner
}

func newLake(t testing.TB) *lake {
	t.Helper()
	return newLakeOn(t, "")
}

// newLakeOn is newLake with its tables under warehouse (empty: a
// directory of the lake's), with the catalog options opts.
func newLakeOn(t testing.TB, warehouse string, opts ...tables.Option) *lake {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if warehouse == "" {
		warehouse = "file://" + filepath.Join(dir, "warehouse")
	}
	for _, sub := range []string{"landing", "rejects"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	catalog, err := tables.Open(ctx, st.DB(), "sqlite", warehouse, append(opts, tables.WithSubjectKeyBuckets(subjectBuckets()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catalog.Close() })
	files, err := objects.NewFileStore([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.NewService(ingest.Deps{Datasets: st, Tables: catalog, Jobs: st, Sources: files, GradeLevels: 3})
	// No layout given: the table is bucketed on the subject key (16
	// buckets), so that an erasure rewrites one file per load and bucket
	// holding a subject.
	d := benchdata.Customers(datasetID)
	if _, err := svc.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	rejects := "file://" + filepath.Join(dir, "rejects")
	return &lake{
		dir: dir, st: st, catalog: catalog, files: files,
		loader: &ingest.Loader{Datasets: st, Sources: files, Rejects: files, RejectsDir: rejects, Tables: catalog},
		runner: &erasure.Runner{Store: st, Tables: catalog, Objects: files, RejectsDir: rejects, Audit: st},
	}
}

// subjectBuckets is the catalog's default bucketing of subject keys:
// tables.DefaultSubjectBuckets, or LAKEPLANE_BENCH_BUCKETS (0: none, to
// measure an unpartitioned table).
func subjectBuckets() int {
	n := tables.DefaultSubjectBuckets
	if v := os.Getenv("LAKEPLANE_BENCH_BUCKETS"); v != "" {
		if m, err := strconv.Atoi(v); err == nil {
			n = m
		}
	}
	return n
}

// row is what a test keeps of one generated row: its customer id, its
// registration number (the subject key) and, for a row also sent rejected,
// its fields.
type row struct {
	id, rrn string
	fields  []string
}

// load writes rows [from, to) as a landing-zone CSV, with a rejected copy
// of each row in bad (its birth date broken), and loads it through the
// INGEST executor as a queued job. It returns the rows.
func (l *lake) load(t testing.TB, name string, from, to int, bad map[int]bool) []row {
	t.Helper()
	ctx := context.Background()
	rng := benchdata.NewRand()
	var (
		buf  = []byte(benchdata.Header())
		line []byte
		rows []row
	)
	for i := 0; i < to; i++ {
		line = benchdata.AppendRow(line[:0], rng, i)
		if i < from {
			continue
		}
		buf = append(buf, line...)
		rec, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{id: rec[0], rrn: rec[2]})
		if bad[i] {
			rows[len(rows)-1].fields = slices.Clone(rec)
			rec[3] = "1990-13-45"
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			_ = w.Write(rec)
			w.Flush()
			buf = append(buf, b.Bytes()...)
		}
	}
	src := filepath.Join(l.dir, "landing", name)
	if err := os.WriteFile(src, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(ingest.IngestSpec{SourceURI: "file://" + src, Format: ingest.Format{Header: true}, Mode: ingest.ModeAppend, MaxBadRows: 100})
	j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Ingest, Dataset: datasetID, Spec: spec, Principal: "loader"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.loader.Run(ctx, j, &jobrun.Progress{}); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return rows
}

// filesUnder lists the files under dir whose path ends in suffix.
func filesUnder(t testing.TB, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
	return out
}

// readTable reads every row of the current snapshot: customer_id → rrn.
func (l *lake) readTable(t *testing.T) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	_, err := l.catalog.Read(context.Background(), datasetID, 0, func(rec arrow.RecordBatch) error {
		ids := rec.Column(rec.Schema().FieldIndices("customer_id")[0]).(*array.Int64)
		rrns := rec.Column(rec.Schema().FieldIndices("rrn")[0]).(*array.String)
		for i := range ids.Len() {
			out[ids.Value(i)] = rrns.Value(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEraseSubjectsLeavesNoTraceAndProvesIt(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	subjectRows := []int{7, 23456, 49999, 50000, 77777, 101010, 123456, 150001, 175000, 199999}
	bad := map[int]bool{23456: true, 150001: true, 3: true} // 3 is not a subject: its reject stays
	var all []row
	for k := range loads {
		all = append(all, l.load(t, fmt.Sprintf("part-%d.csv", k), k*perLoad, (k+1)*perLoad, bad)...)
	}
	if len(all) != totalRows {
		t.Fatalf("generated %d rows", len(all))
	}
	var subjects, subjectIDs []string
	for _, i := range subjectRows {
		subjects = append(subjects, all[i].rrn)
		subjectIDs = append(subjectIDs, all[i].id)
	}
	isSubject := map[string]bool{}
	for _, s := range subjects {
		isSubject[s] = true
	}
	wantDeleted := 0
	for _, r := range all {
		if isSubject[r.rrn] {
			wantDeleted++
		}
	}
	before := l.readTable(t)
	if len(before) != totalRows {
		t.Fatalf("loaded %d rows, want %d", len(before), totalRows)
	}
	snapsBefore, err := l.catalog.Snapshots(ctx, datasetID)
	if err != nil {
		t.Fatal(err)
	}
	warehouse := filepath.Join(l.dir, "warehouse")
	dataBefore := filesUnder(t, warehouse, ".parquet")
	rejectsBefore := filesUnder(t, filepath.Join(l.dir, "rejects"), ".csv")

	if len(dataBefore) < 8 || len(rejectsBefore) == 0 {
		t.Fatalf("%d data files, %d rejects files: the test needs several of each", len(dataBefore), len(rejectsBefore))
	}

	// An untyped object's validation keeps samples in clear: two of the
	// subjects' numbers, and one of another customer's, which stays.
	samples, _ := json.Marshal([]map[string]any{{
		"Rule": `ColumnValues "rrn" matches "[0-9]{6}-[1-4][0-9]{6}"`, "FailingRows": 3,
		"Samples": []map[string]any{{"Row": 1, "Value": subjects[0]}, {"Row": 2, "Value": all[3].rrn}, {"Row": 3, "Value": subjects[5]}},
	}})
	validation, err := l.st.CreateValidation(ctx, &suite.Validation{Suite: "rrn-format", Target: "file:///landing/part-0.csv", Outcome: suite.Fail, RuleResults: samples})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(erasure.EraseSpec{SubjectIDs: subjects, Reason: "retention period ended (신용정보법 제20조의2)"})
	j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: spec, Principal: "dpo@example.kr"})
	if err != nil {
		t.Fatal(err)
	}
	// As SQLite's automatic checkpoints do in time: the spec, ids and all,
	// reaches the database file itself, not only its write-ahead log.
	if err := l.st.PurgeRemnants(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := l.runner.Erase(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	t.Logf("erased %d subjects (%d rows) from %d rows in %v", len(subjects), wantDeleted, totalRows, time.Since(start))

	// The certificate, field names as in the proto's JSON.
	var raw map[string]any
	if err := json.Unmarshal(out.Result, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"subjectCount", "datasets", "verified", "verifyTime", "digest"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("certificate has no %q: %s", k, out.Result)
		}
	}
	var cert erasure.Certificate
	if err := json.Unmarshal(out.Result, &cert); err != nil {
		t.Fatal(err)
	}
	if cert.SubjectCount != len(subjects) || !cert.Verified || len(cert.Datasets) != 1 || cert.VerifyTime.IsZero() {
		t.Fatalf("certificate: %s", out.Result)
	}
	if d, err := cert.ComputeDigest(); err != nil || d != cert.Digest {
		t.Errorf("digest %s, recomputed %s (%v)", cert.Digest, d, err)
	}
	dc := cert.Datasets[0]
	dataAfter := filesUnder(t, warehouse, ".parquet")
	gone := 0
	for _, p := range dataBefore {
		if !slices.Contains(dataAfter, p) {
			gone++
		}
	}
	if dc.Dataset != datasetID || dc.RowsDeleted != int64(wantDeleted) || !dc.Verified ||
		dc.FilesRewritten != int64(gone) || dc.SnapshotsExpired != int64(len(snapsBefore)+1) || dc.FilesRemoved < int64(gone) {
		t.Errorf("dataset certificate %+v; want %d rows deleted, %d files rewritten, %d snapshots expired (the loads and the delete)", dc, wantDeleted, gone, len(snapsBefore)+1)
	}
	// Only the files that held a subject were rewritten.
	if gone == 0 || gone > len(subjects) || gone >= len(dataBefore) {
		t.Errorf("%d of %d data files rewritten for %d subjects", gone, len(dataBefore), len(subjects))
	}
	t.Logf("data files: %d before, %d rewritten; certificate %+v", len(dataBefore), gone, dc)

	// Nowhere under the lake (warehouse, rejects, the store's database
	// file and its write-ahead log, which held the ids in the job's spec
	// until it was redacted) do the subjects' registration numbers remain;
	// only the landing zone's sources, listed for review, hold them.
	dbFiles := 0
	for _, p := range filesUnder(t, l.dir, "") {
		if strings.HasPrefix(p, filepath.Join(l.dir, "landing")) {
			continue
		}
		if strings.HasPrefix(p, filepath.Join(l.dir, "lakeplane.db")) {
			dbFiles++
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range subjects {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s still holds subject %d", p, i)
			}
		}
	}
	if dbFiles == 0 {
		t.Error("the store's database files were not searched")
	}
	// Every file of the table, decoded, holds neither the numbers nor the
	// customer ids of those rows.
	if rep, err := l.catalog.VerifyAbsent(ctx, datasetID, "customer_id", subjectIDs); err != nil || !rep.Verified {
		t.Errorf("customer ids: %+v, %v", rep, err)
	}
	after := l.readTable(t)
	if len(after) != totalRows-wantDeleted {
		t.Fatalf("%d rows left, want %d", len(after), totalRows-wantDeleted)
	}
	for id, rrn := range before {
		got, ok := after[id]
		switch {
		case isSubject[rrn] && ok:
			t.Fatalf("row %d of a subject survived", id)
		case !isSubject[rrn] && (!ok || got != rrn):
			t.Fatalf("row %d: %q, %v; want %q", id, got, ok, rrn)
		}
	}
	// No time travel to before the erasure.
	for _, s := range snapsBefore {
		if _, err := l.catalog.Read(ctx, datasetID, s.ID, func(arrow.RecordBatch) error { return nil }); err == nil {
			t.Errorf("snapshot %d of before the erasure still reads", s.ID)
		}
	}
	// The loader masks the subject key in rejects, and tags each rejected
	// record in the file's index with a keyed hash of it: the subjects'
	// rejected rows go, with their tags, and no value of theirs remains in
	// the rejects; the other rejected row stays, with its tag.
	var rejected int
	for _, p := range filesUnder(t, filepath.Join(l.dir, "rejects"), ".csv") {
		b, _ := os.ReadFile(p)
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		rejected += len(recs) - 1
		for _, rec := range recs[1:] {
			if rec[0] != "6" || !strings.Contains(rec[4], all[3].id) || strings.Contains(rec[4], all[3].rrn) {
				t.Errorf("%s: rejected record %q is not row 3's (line 6) with its number masked", p, rec)
			}
		}
	}
	if rejected != 1 || cert.RejectsRowsRemoved != 2 {
		t.Errorf("%d rejected rows left, %d removed; want 1 and 2", rejected, cert.RejectsRowsRemoved)
	}
	indexed := 0
	for _, p := range filesUnder(t, filepath.Join(l.dir, "rejects"), "") {
		b, _ := os.ReadFile(p)
		if strings.HasSuffix(p, ".subjects") {
			indexed += bytes.Count(b, []byte("\n")) - 1
		}
		for _, i := range subjectRows {
			for _, f := range all[i].fields {
				// Every value of a subject's rejected row that the kept
				// row does not share and that is long enough not to turn
				// up by chance (not its flags or small codes).
				if len(f) >= 6 && !slices.Contains(all[3].fields, f) && bytes.Contains(b, []byte(f)) {
					t.Errorf("%s still holds %q of subject row %d", p, f, i)
				}
			}
			if all[i].fields != nil && bytes.Contains(b, []byte(all[i].id)) {
				t.Errorf("%s still holds the customer id of subject row %d", p, i)
			}
		}
	}
	if indexed != 1 {
		t.Errorf("the rejects indexes tag %d records, want 1 (row 3's)", indexed)
	}
	kept, err := l.st.GetValidation(ctx, validation.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SamplesRemoved != 2 || !bytes.Contains(kept.RuleResults, []byte(all[3].rrn)) || !bytes.Contains(kept.RuleResults, []byte(`"FailingRows":3`)) {
		t.Errorf("%d samples removed, validation kept as %s; want 2, and the other customer's sample", cert.SamplesRemoved, kept.RuleResults)
	}
	if len(cert.SourcesToReview) != loads {
		t.Errorf("sources to review: %v", cert.SourcesToReview)
	}

	// The store keeps the certificate with salted hashes of the ids only.
	rec, err := l.st.GetErasureByJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := hex.DecodeString(rec.Salt)
	if err != nil || len(salt) < 16 {
		t.Fatalf("salt %q", rec.Salt)
	}
	if len(rec.SubjectHashes) != len(subjects) || !slices.Contains(rec.SubjectHashes, erasure.SubjectHash(salt, subjects[3])) ||
		rec.Digest != cert.Digest || rec.Principal != "dpo@example.kr" || !strings.Contains(rec.Reason, "retention") ||
		!bytes.Equal(rec.Certificate, out.Result) {
		t.Errorf("stored erasure %+v", rec)
	}
	// The job's spec, as the store keeps it, holds the ids no more.
	stored, err := l.st.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range subjects {
		if bytes.Contains(stored.Spec, []byte(s)) {
			t.Errorf("the job's spec still holds subject %d", i)
		}
	}
	var redacted erasure.RedactedEraseSpec
	if err := json.Unmarshal(stored.Spec, &redacted); err != nil || redacted.SubjectCount != len(subjects) || !slices.Equal(redacted.SubjectHashes, rec.SubjectHashes) && len(redacted.SubjectHashes) != len(subjects) {
		t.Errorf("redacted spec %s, %v", stored.Spec, err)
	}
	// A rerun of the job (a worker died after recording) returns the same
	// certificate.
	again, err := l.runner.Erase(ctx, stored, &jobrun.Progress{})
	if err != nil || !bytes.Equal(again.Result, out.Result) {
		t.Errorf("rerun: %s, %v", again.Result, err)
	}
}

func TestExpireAndOptimizeJobsKeepRows(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	for k := range 6 {
		l.load(t, fmt.Sprintf("small-%d.csv", k), k*2000, (k+1)*2000, nil)
	}
	rows := len(l.readTable(t))
	statsBefore, err := l.catalog.Stats(ctx, datasetID)
	if err != nil {
		t.Fatal(err)
	}

	opt, err := l.runner.Optimize(ctx, &job.Job{ID: "o1", Kind: job.Optimize, Dataset: datasetID, Spec: []byte(`{}`)}, &jobrun.Progress{})
	if err != nil {
		t.Fatal(err)
	}
	var or erasure.OptimizeResult
	if err := json.Unmarshal(opt.Result, &or); err != nil {
		t.Fatal(err)
	}
	stats, err := l.catalog.Stats(ctx, datasetID)
	if err != nil {
		t.Fatal(err)
	}
	// 16 buckets: one packed file each.
	if stats.FileCount != 16 || statsBefore.FileCount != 96 || stats.RowCount != int64(rows) || or.FilesAfter != 16 || or.Rows != int64(rows) || opt.SnapshotID != stats.CurrentSnapshotID {
		t.Errorf("optimize: files %d → %d, rows %d → %d, result %+v", statsBefore.FileCount, stats.FileCount, rows, stats.RowCount, or)
	}

	spec, _ := json.Marshal(erasure.ExpireSpec{RetainLast: 1})
	time.Sleep(2 * time.Millisecond)
	exp, err := l.runner.Expire(ctx, &job.Job{ID: "e1", Kind: job.Expire, Dataset: datasetID, Spec: spec}, &jobrun.Progress{})
	if err != nil {
		t.Fatal(err)
	}
	var er erasure.ExpireResult
	if err := json.Unmarshal(exp.Result, &er); err != nil {
		t.Fatal(err)
	}
	snaps, err := l.catalog.Snapshots(ctx, datasetID)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || er.SnapshotsExpired != 6 || er.DataFilesRemoved != 96 || len(l.readTable(t)) != rows {
		t.Errorf("expire: %d snapshots left, result %+v", len(snaps), er)
	}
	if got := len(filesUnder(t, filepath.Join(l.dir, "warehouse"), ".parquet")); got != 16 {
		t.Errorf("%d data files left, want only the 16 packed ones", got)
	}
}

// BenchmarkErase100Subjects erases 100 subjects from a table of
// LAKEPLANE_BENCH_ROWS rows (default 1,000,000; the figure is
// 10,000,000), loaded in ten appends, and reports the time and the bytes
// rewritten against the table's size.
func BenchmarkErase100Subjects(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("LAKEPLANE_BENCH_ROWS"); v != "" {
		if _, err := fmt.Sscan(v, &rows); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		l := newLake(b)
		var all []row
		for k := range 10 {
			all = append(all, l.load(b, fmt.Sprintf("part-%d.csv", k), k*rows/10, (k+1)*rows/10, nil)...)
		}
		var subjects []string
		for i := range 100 {
			subjects = append(subjects, all[(i*len(all)/100+i*7919)%len(all)].rrn) // spread over every load
		}
		st, err := l.catalog.Stats(ctx, datasetID)
		if err != nil {
			b.Fatal(err)
		}
		spec, _ := json.Marshal(erasure.EraseSpec{SubjectIDs: subjects, Reason: "bench"})
		j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: spec})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out, err := l.runner.Erase(ctx, j, &jobrun.Progress{})
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		var cert erasure.Certificate
		if err := json.Unmarshal(out.Result, &cert); err != nil || !cert.Verified {
			b.Fatalf("certificate %s, %v", out.Result, err)
		}
		dc := cert.Datasets[0]
		b.ReportMetric(float64(dc.BytesRewritten)/float64(st.SizeBytes)*100, "%rewritten")
		b.Logf("%d rows, %d files, %d bytes: erased %d rows of 100 subjects in %v, rewrote %d files, %d bytes (%.1f%% of the table); %d snapshots expired, %d files removed, %d files verified",
			st.RowCount, st.FileCount, st.SizeBytes, dc.RowsDeleted, elapsed, dc.FilesRewritten, dc.BytesRewritten,
			float64(dc.BytesRewritten)/float64(st.SizeBytes)*100, dc.SnapshotsExpired, dc.FilesRemoved, dc.FilesScanned)
		b.StartTimer()
	}
}
