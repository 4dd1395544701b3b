package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/korean"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// landing writes a source object into the server's landing directory and
// returns its file:// URI.
func (r *running) landing(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(r.landingDir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// watch follows a job over gRPC until it ends and returns its last state.
func (r *running) watch(t *testing.T, id string) *lakeplanev1.Job {
	t.Helper()
	return r.watchWithKey(t, id, "")
}

// watchWithKey is watch for a caller with an API key.
func (r *running) watchWithKey(t *testing.T, id, key string) *lakeplanev1.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	stream, err := lakeplanev1.NewIngestServiceClient(r.conn).WatchJob(ctx, &lakeplanev1.WatchJobRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	var last *lakeplanev1.Job
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watch %s: %v (last %v)", id, err, last)
		}
		last = msg.GetJob()
	}
	if last == nil {
		t.Fatalf("watch %s sent nothing", id)
	}
	return last
}

func customersDataset() map[string]any {
	return map[string]any{
		"id": "insure.customers",
		"columns": []map[string]any{
			{"name": "customer_id", "type": "INT64"},
			{"name": "name", "type": "STRING"},
			{"name": "premium", "type": "DECIMAL", "precision": 18, "scale": 2},
			{"name": "joined", "type": "DATE"},
			{"name": "note", "type": "STRING"},
		},
		"primaryKey": []string{"customer_id"},
	}
}

// customersCSV makes rows first..last (inclusive); premium encodes the row
// and a version, so that an upsert's winner can be told apart.
func customersCSV(first, last int, version int) string {
	var b strings.Builder
	b.WriteString("customer_id,name,premium,joined,note\n")
	for i := first; i <= last; i++ {
		fmt.Fprintf(&b, "%d,홍길동%d,%d.%02d,2024-01-%02d,\"line one, with comma\nline two\"\n", i, i, i*10+version, i%100, i%28+1)
	}
	return b.String()
}

func (r *running) ingest(t *testing.T, body map[string]any) (*lakeplanev1.Job, int, restError) {
	t.Helper()
	var out map[string]any
	code := r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", body, &out)
	if code != 200 {
		return nil, code, restError{Code: int(out["code"].(float64)), Message: fmt.Sprint(out["message"])}
	}
	return r.watch(t, out["id"].(string)), code, restError{}
}

// onEachStore runs a test against a server on the embedded store and on
// PostgreSQL (skipped when LAKEPLANE_TEST_POSTGRES_DSN is unset).
func onEachStore(t *testing.T, args []string, test func(t *testing.T, r *running)) {
	t.Run("sqlite", func(t *testing.T) { test(t, startServer(t, args...)) })
	t.Run("postgres", func(t *testing.T) {
		test(t, startServer(t, append([]string{"--store=postgres", "--postgres-dsn=" + pgtest.FreshSchema(t)}, args...)...))
	})
}

func TestIngestEndToEnd(t *testing.T) { onEachStore(t, nil, testIngestEndToEnd) }

func testIngestEndToEnd(t *testing.T, r *running) {
	ctx := context.Background()
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}

	// CP949 with quoted newlines, appended.
	encoded, err := korean.EUCKR.NewEncoder().String(customersCSV(1, 1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	uri := r.landing(t, "customers.csv", []byte(encoded))
	j, code, e := r.ingest(t, map[string]any{"sourceUri": uri, "format": map[string]any{"encoding": "CP949"}, "requestId": "load-1"})
	if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("ingest: %d %+v %v", code, e, j)
	}
	if j.GetProgress().GetRowsWritten() != 1000 || j.GetSnapshotId() == 0 || j.GetProgress().GetBytesRead() != int64(len(encoded)) {
		t.Fatalf("finished job: %v", j)
	}
	got, err := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if err != nil {
		t.Fatal(err)
	}
	if d := got.GetDataset(); d.GetRowCount() != 1000 || d.GetCurrentSnapshotId() != j.GetSnapshotId() || d.GetFileCount() < 1 || d.GetSizeBytes() <= 0 {
		t.Fatalf("dataset after load: rows %d snapshot %d files %d size %d", d.GetRowCount(), d.GetCurrentSnapshotId(), d.GetFileCount(), d.GetSizeBytes())
	}
	var preview struct {
		Columns []string    `json:"columns"`
		Rows    [][]*string `json:"rows"`
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=3", "", nil, &preview)
	if len(preview.Rows) != 3 || strings.Join(preview.Columns, ",") != "customer_id,name,premium,joined,note" {
		t.Fatalf("preview: %+v", preview)
	}
	if row := preview.Rows[0]; *row[0] != "1" || *row[1] != "홍길동1" || *row[2] != "10.01" || *row[3] != "2024-01-02" || *row[4] != "line one, with comma\nline two" {
		t.Fatalf("first row: %q %q %q %q %q", *row[0], *row[1], *row[2], *row[3], *row[4])
	}

	// The same request id: the same job, no second load.
	var again map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": uri, "format": map[string]any{"encoding": "CP949"}, "requestId": "load-1"}, &again)
	if again["id"] != j.GetId() {
		t.Fatalf("retried request got job %v, want %s", again["id"], j.GetId())
	}
	// The same object appended again without force is refused.
	if _, code, e := r.ingest(t, map[string]any{"sourceUri": uri, "format": map[string]any{"encoding": "CP949"}}); code != 400 || e.Code != int(codes.FailedPrecondition) {
		t.Fatalf("second append of one object: %d %+v", code, e)
	}

	// A bad value fails the load with its line and column; the table is untouched.
	bad := customersCSV(2001, 2010, 0)
	bad = strings.Replace(bad, "20050.05", "2005O.05", 1) // a letter O in row 2005
	badURI := r.landing(t, "bad.csv", []byte(bad))
	j, code, e = r.ingest(t, map[string]any{"sourceUri": badURI})
	if code != 200 || j.GetState() != lakeplanev1.JobState_FAILED || j.GetError().GetCode() != "INVALID_ARGUMENT" || j.GetError().GetColumn() != "premium" || j.GetError().GetRow() != 2+4*2 {
		t.Fatalf("bad load: %d %v %v", code, j, e)
	}
	after, _ := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if after.GetDataset().GetCurrentSnapshotId() != got.GetDataset().GetCurrentSnapshotId() || after.GetDataset().GetRowCount() != 1000 {
		t.Fatalf("a failed load changed the table: %v", after.GetDataset())
	}

	// UPSERT of rows 501..1500: 500 replaced, 500 new.
	upURI := r.landing(t, "upsert.csv", []byte(customersCSV(501, 1500, 1)))
	j, code, e = r.ingest(t, map[string]any{"sourceUri": upURI, "mode": "UPSERT"})
	if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("upsert: %d %+v %v", code, e, j)
	}
	after, _ = ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if after.GetDataset().GetRowCount() != 1500 {
		t.Fatalf("rows after upsert: %d, want 1500", after.GetDataset().GetRowCount())
	}
	var all struct {
		Rows [][]*string `json:"rows"`
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=1000", "", nil, &all)
	checked := 0
	for _, row := range all.Rows {
		var id, premium int
		fmt.Sscan(*row[0], &id)
		fmt.Sscanf(*row[2], "%d.", &premium)
		if id >= 501 && id <= 1000 {
			checked++
			if premium != id*10+1 {
				t.Fatalf("row %d kept premium %s after the upsert replaced it", id, *row[2])
			}
		}
	}
	if checked == 0 {
		t.Fatal("the preview showed none of the replaced rows")
	}
	snaps, err := ingest.ListSnapshots(ctx, &lakeplanev1.ListSnapshotsRequest{Id: "insure.customers"})
	if err != nil || len(snaps.GetSnapshots()) < 2 || snaps.GetSnapshots()[0].GetJobId() != j.GetId() {
		t.Fatalf("snapshots: %v %v", snaps, err)
	}
}

// A million CP949 rows with quoted newlines, from file:// and from s3://:
// the exact row count arrives, and the source never sits whole in memory.
func TestIngestMillionRows(t *testing.T) {
	if testing.Short() {
		t.Skip("a million rows: skipped with -short")
	}
	const rows = 1_000_000
	fake := objectstest.NewFakeS3(t, "landing")
	s3Args := []string{"--s3-endpoint=" + fake.URL, "--s3-region=us-east-1", "--s3-path-style"}
	onEachStore(t, s3Args, func(t *testing.T, r *running) {
		if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
			t.Fatalf("create: %d", code)
		}
		csv, err := korean.EUCKR.NewEncoder().String(customersCSV(1, rows, 0))
		if err != nil {
			t.Fatal(err)
		}
		fileURI := r.landing(t, "million.csv", []byte(csv))
		s3, err := objects.NewS3Store(t.Context(), objects.S3Options{Endpoint: fake.URL, Region: "us-east-1", PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		s3URI := "s3://landing/" + strings.ReplaceAll(t.Name(), "/", "-") + "/million.csv"
		if _, err := s3.Put(t.Context(), s3URI, strings.NewReader(csv)); err != nil {
			t.Fatal(err)
		}
		for i, uri := range []string{fileURI, s3URI} {
			start := time.Now()
			j, code, e := r.ingest(t, map[string]any{"sourceUri": uri, "format": map[string]any{"encoding": "CP949"}, "mode": "APPEND"})
			if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED || j.GetProgress().GetRowsWritten() != rows {
				t.Fatalf("load %s: %d %+v %v", uri, code, e, j)
			}
			t.Logf("%s: %d rows, %d MB in %v", uri, rows, len(csv)>>20, time.Since(start).Round(time.Millisecond))
			got, err := lakeplanev1.NewIngestServiceClient(r.conn).GetDataset(t.Context(), &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
			if err != nil || got.GetDataset().GetRowCount() != int64(rows*(i+1)) {
				t.Fatalf("row count after %s: %v %v", uri, got.GetDataset().GetRowCount(), err)
			}
		}
	})
}

// Bad rows within maxBadRows go to a rejects object with their line and
// reason; one more fails the load.
func TestIngestRejectsBadRows(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	src := customersCSV(1, 20, 0)
	src = strings.Replace(src, "30.03,", "3O.03,", 1)         // row 3: bad decimal
	src = strings.Replace(src, "2024-01-08", "2024-13-08", 1) // row 7: bad date
	uri := r.landing(t, "two-bad.csv", []byte(src))

	j, code, e := r.ingest(t, map[string]any{"sourceUri": uri, "maxBadRows": 1})
	if code != 200 || j.GetState() != lakeplanev1.JobState_FAILED || !strings.Contains(j.GetError().GetMessage(), "maxBadRows") {
		t.Fatalf("two bad rows with maxBadRows 1: %d %+v %v", code, e, j)
	}
	j, code, e = r.ingest(t, map[string]any{"sourceUri": uri, "maxBadRows": 2, "force": true})
	if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED || j.GetProgress().GetRowsWritten() != 18 || j.GetProgress().GetRowsRejected() != 2 {
		t.Fatalf("two bad rows with maxBadRows 2: %d %+v %v", code, e, j)
	}
	rejects, err := os.ReadFile(filepath.Join(r.dataDir, "rejects", "insure.customers", j.GetId()+".csv"))
	if err != nil {
		t.Fatalf("rejects object: %v", err)
	}
	text := string(rejects)
	if !strings.HasPrefix(text, "line,column,value,reason,fields\n") || !strings.Contains(text, `6,premium,3O.03,"is not a decimal(18,2)"`) || !strings.Contains(text, "14,joined,2024-13-08,") {
		t.Fatalf("rejects object:\n%s", text)
	}
}

// Two servers on one PostgreSQL database share the queue: every job runs
// exactly once.
func TestTwoServersShareTheQueue(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	shared := t.TempDir()
	landing := filepath.Join(shared, "landing")
	if err := os.MkdirAll(landing, 0o750); err != nil {
		t.Fatal(err)
	}
	args := []string{"--store=postgres", "--postgres-dsn=" + dsn, "--warehouse=file://" + filepath.Join(shared, "warehouse"), "--allowed-source-dirs=" + landing}
	a := startServer(t, args...)
	b := startServer(t, args...)
	if code := a.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	const loads, rowsEach = 8, 500
	var ids []string
	for i := 0; i < loads; i++ {
		path := filepath.Join(landing, fmt.Sprintf("part-%d.csv", i))
		if err := os.WriteFile(path, []byte(customersCSV(i*rowsEach+1, (i+1)*rowsEach, 0)), 0o600); err != nil {
			t.Fatal(err)
		}
		via := []*running{a, b}[i%2]
		var out map[string]any
		if code := via.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": "file://" + path}, &out); code != 200 {
			t.Fatalf("start load %d: %d %v", i, code, out)
		}
		ids = append(ids, out["id"].(string))
	}
	for _, id := range ids {
		j := a.watch(t, id)
		if j.GetState() != lakeplanev1.JobState_SUCCEEDED || j.GetProgress().GetRowsWritten() != rowsEach {
			t.Fatalf("job %s: %v", id, j)
		}
	}
	got, err := lakeplanev1.NewIngestServiceClient(b.conn).GetDataset(t.Context(), &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if err != nil || got.GetDataset().GetRowCount() != loads*rowsEach {
		t.Fatalf("rows after %d loads through two servers: %d %v", loads, got.GetDataset().GetRowCount(), err)
	}
	snaps, err := lakeplanev1.NewIngestServiceClient(b.conn).ListSnapshots(t.Context(), &lakeplanev1.ListSnapshotsRequest{Id: "insure.customers"})
	if err != nil || len(snaps.GetSnapshots()) != loads {
		t.Fatalf("%d snapshots for %d loads: %v", len(snaps.GetSnapshots()), loads, err)
	}
}

// CancelJob stops a running load within about a second, and the table
// stays as it was.
func TestCancelRunningIngest(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	// CP949 decodes slowly enough that the load is still running when
	// the cancel arrives.
	big, err := korean.EUCKR.NewEncoder().String(customersCSV(1, 2_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	uri := r.landing(t, "big.csv", []byte(big))
	var started map[string]any
	if code := r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "", map[string]any{"sourceUri": uri, "format": map[string]any{"encoding": "CP949"}}, &started); code != 200 {
		t.Fatalf("start: %d %v", code, started)
	}
	id := started["id"].(string)
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := ingest.GetJob(t.Context(), &lakeplanev1.GetJobRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if j.GetJob().GetState() == lakeplanev1.JobState_RUNNING {
			break
		}
		if j.GetJob().GetState() != lakeplanev1.JobState_QUEUED || time.Now().After(deadline) {
			t.Fatalf("job never ran: %v", j.GetJob())
		}
		time.Sleep(5 * time.Millisecond)
	}
	asked := time.Now()
	if code := r.do(t, "POST", "/v1/jobs/"+id+":cancel", "", map[string]any{}, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	j := r.watch(t, id)
	if j.GetState() != lakeplanev1.JobState_CANCELLED {
		t.Fatalf("after cancel: %v", j)
	}
	if took := j.GetEndTime().AsTime().Sub(asked); took > 1500*time.Millisecond {
		t.Fatalf("cancel took %v", took)
	}
	got, _ := ingest.GetDataset(t.Context(), &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if got.GetDataset().GetRowCount() != 0 || got.GetDataset().GetCurrentSnapshotId() != 0 {
		t.Fatalf("a cancelled load changed the table: %v", got.GetDataset())
	}
}

// UPSERT with dedupe LAST over REST: a file that holds keys more than once
// fails without it, and with it the last row of each key wins.
func TestIngestUpsertDedupeLast(t *testing.T) { onEachStore(t, nil, testIngestUpsertDedupeLast) }

func testIngestUpsertDedupeLast(t *testing.T, r *running) {
	ctx := context.Background()
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	j, code, e := r.ingest(t, map[string]any{"sourceUri": r.landing(t, "base.csv", []byte(customersCSV(1, 100, 0)))})
	if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("append: %d %+v %v", code, e, j)
	}
	base := j.GetSnapshotId()

	// Rows 51..150 (version 1), then 91..120 again (version 2), then
	// 51..60 a third time (version 3): three occurrences at most, spread
	// over the file.
	dup := customersCSV(51, 150, 1)
	for _, part := range []string{customersCSV(91, 120, 2), customersCSV(51, 60, 3)} {
		dup += part[strings.IndexByte(part, '\n')+1:] // without its header
	}
	uri := r.landing(t, "dup.csv", []byte(dup))

	j, code, e = r.ingest(t, map[string]any{"sourceUri": uri, "mode": "UPSERT"})
	if code != 200 || j.GetState() != lakeplanev1.JobState_FAILED || j.GetError().GetColumn() != "customer_id" ||
		!strings.Contains(j.GetError().GetMessage(), "more than once") {
		t.Fatalf("upsert of duplicate keys without dedupe: %d %+v %v", code, e, j)
	}
	got, _ := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if got.GetDataset().GetCurrentSnapshotId() != base || got.GetDataset().GetRowCount() != 100 {
		t.Fatalf("a refused upsert changed the table: %v", got.GetDataset())
	}
	if _, code, e := r.ingest(t, map[string]any{"sourceUri": uri, "dedupe": "LAST"}); code != 400 || e.Code != int(codes.InvalidArgument) {
		t.Fatalf("dedupe LAST on APPEND: %d %+v, want 400 INVALID_ARGUMENT", code, e)
	}

	j, code, e = r.ingest(t, map[string]any{"sourceUri": uri, "mode": "UPSERT", "dedupe": "LAST"})
	if code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("upsert with dedupe LAST: %d %+v %v", code, e, j)
	}
	got, _ = ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if got.GetDataset().GetRowCount() != 150 || got.GetDataset().GetCurrentSnapshotId() != j.GetSnapshotId() {
		t.Fatalf("after upsert with dedupe LAST: rows %d, want 150 (%v)", got.GetDataset().GetRowCount(), got.GetDataset())
	}
	var all struct {
		Rows [][]*string `json:"rows"`
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=1000", "", nil, &all)
	seen := map[int]bool{}
	for _, row := range all.Rows {
		var id, premium int
		fmt.Sscan(*row[0], &id)
		fmt.Sscanf(*row[2], "%d.", &premium)
		if seen[id] {
			t.Fatalf("row %d is in the table twice", id)
		}
		seen[id] = true
		version := 0
		switch {
		case id >= 51 && id <= 60:
			version = 3
		case id >= 91 && id <= 120:
			version = 2
		case id > 50:
			version = 1
		}
		if premium != id*10+version {
			t.Errorf("row %d: premium %s, want version %d (%d)", id, *row[2], version, id*10+version)
		}
	}
	if len(seen) != 150 {
		t.Fatalf("preview showed %d rows, want 150", len(seen))
	}
}

// A load whose worker died after writing data files it never committed:
// the job is claimed again, the orphan files (older than the claim) are
// removed before the load runs again, and the load lands once.
func TestIngestReclaimRemovesOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := startServer(t, "--data-dir="+dir)
	if code := r.do(t, "POST", "/v1/datasets", "", customersDataset(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	if j, code, e := r.ingest(t, map[string]any{"sourceUri": r.landing(t, "base.csv", []byte(customersCSV(1, 100, 0)))}); code != 200 || j.GetState() != lakeplanev1.JobState_SUCCEEDED {
		t.Fatalf("append: %d %+v %v", code, e, j)
	}
	uri := r.landing(t, "more.csv", []byte(customersCSV(101, 200, 0)))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	// The crash: a worker claims the load under a lease that runs out,
	// and leaves data files behind that no snapshot references.
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(ingest.IngestSpec{SourceURI: uri, Format: ingest.Format{Header: true}, Mode: ingest.ModeAppend})
	if err != nil {
		t.Fatal(err)
	}
	queued, _, err := st.CreateJob(ctx, &job.Job{Kind: job.Ingest, Dataset: "insure.customers", Spec: spec, Principal: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if claimed, err := st.ClaimJob(ctx, "dead-worker", time.Millisecond); err != nil || claimed.ID != queued.ID || claimed.Attempt != 1 {
		t.Fatalf("claim as the dying worker: %v %v", claimed, err)
	}
	st.Close()
	var committed []string
	filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			committed = append(committed, p)
		}
		return err
	})
	if len(committed) == 0 {
		t.Fatal("no data files in the warehouse")
	}
	body, err := os.ReadFile(committed[0])
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(filepath.Dir(committed[0]), "00000-0-crashed.parquet")
	young := filepath.Join(filepath.Dir(committed[0]), "00000-0-young.parquet")
	for _, f := range []string{orphan, young} {
		if err := os.WriteFile(f, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-time.Minute)
	if err := os.Chtimes(orphan, then, then); err != nil {
		t.Fatal(err)
	}

	r = startServer(t, "--data-dir="+dir)
	j := r.watch(t, queued.ID)
	if j.GetState() != lakeplanev1.JobState_SUCCEEDED || j.GetProgress().GetRowsWritten() != 100 {
		t.Fatalf("reclaimed load: %v", j)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the orphan of the dead attempt is still there: %v", err)
	}
	// A file younger than the guard may be a running writer's: it stays.
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young unreferenced file was removed: %v", err)
	}
	for _, f := range committed {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("committed file %s: %v", f, err)
		}
	}
	got, err := lakeplanev1.NewIngestServiceClient(r.conn).GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "insure.customers"})
	if err != nil || got.GetDataset().GetRowCount() != 200 {
		t.Fatalf("rows after the reclaimed load: %d %v", got.GetDataset().GetRowCount(), err)
	}
}
